//! The loaded catalog, swapped atomically on reload, and a bounded cache of rendered pages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::StatusCode;
use ruleatlas_catalog::Index;

/// A rendered response kept for the life of one snapshot.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
}

/// At most this many rendered pages per snapshot...
const CACHE_ENTRIES: usize = 2048;
/// ...and at most this many bytes.
const CACHE_BYTES: usize = 96 * 1024 * 1024;

struct Entry {
    page: Rendered,
    last_used: AtomicU64,
}

/// A bounded map of rendered pages; when full, the least recently used quarter is dropped.
#[derive(Default)]
pub struct PageCache {
    map: RwLock<HashMap<String, Entry>>,
    bytes: Mutex<usize>,
    clock: AtomicU64,
}

impl PageCache {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The cached page for `key`, if any.
    pub fn get(&self, key: &str) -> Option<Rendered> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let e = map.get(key)?;
        e.last_used.store(self.tick(), Ordering::Relaxed);
        Some(e.page.clone())
    }

    /// Stores a page, evicting old ones when the cache is full.
    pub fn put(&self, key: String, page: Rendered) {
        let size = page.body.len() + key.len();
        if size > CACHE_BYTES / 8 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_ENTRIES || *bytes + size > CACHE_BYTES {
            let mut ages: Vec<(u64, String)> = map
                .iter()
                .map(|(k, e)| (e.last_used.load(Ordering::Relaxed), k.clone()))
                .collect();
            ages.sort_unstable();
            for (_, k) in ages.into_iter().take(map.len() / 4 + 1) {
                if let Some(e) = map.remove(&k) {
                    *bytes = bytes.saturating_sub(e.page.body.len() + k.len());
                }
            }
        }
        let entry = Entry {
            page,
            last_used: AtomicU64::new(self.tick()),
        };
        if let Some(old) = map.insert(key.clone(), entry) {
            *bytes = bytes.saturating_sub(old.page.body.len() + key.len());
        }
        *bytes += size;
    }

    /// Number of cached pages.
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One loaded catalog: the index and the pages rendered from it.
pub struct Snapshot {
    pub index: Index,
    pub cache: PageCache,
    /// Increases with every swap.
    pub generation: u64,
}

struct Shared {
    current: RwLock<Arc<Snapshot>>,
    catalog: Option<PathBuf>,
    generation: AtomicU64,
    /// One reload at a time.
    reloading: Mutex<()>,
}

/// What the handlers share: the current snapshot, swapped atomically.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

/// The outcome of a successful reload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadInfo {
    pub rules: usize,
    pub generation: u64,
    pub seconds: f64,
}

fn warm(index: &Index) {
    // Corpus reach is computed on first use; do it before the index answers requests.
    let _ = index.reach(false);
}

impl AppState {
    /// A state serving `index`, with no file to reload from.
    #[must_use]
    pub fn from_index(index: Index) -> AppState {
        AppState::new(index, None)
    }

    fn new(index: Index, catalog: Option<PathBuf>) -> AppState {
        warm(&index);
        let snap = Snapshot {
            index,
            cache: PageCache::default(),
            generation: 1,
        };
        AppState {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(snap)),
                catalog,
                generation: AtomicU64::new(1),
                reloading: Mutex::new(()),
            }),
        }
    }

    /// Opens the catalog at `path` (read-only, loaded into memory); reloads read it again.
    ///
    /// # Errors
    /// The catalog cannot be opened.
    pub fn open(path: &Path) -> Result<AppState, String> {
        let index = Index::open(path).map_err(|e| e.to_string())?;
        Ok(AppState::new(index, Some(path.to_path_buf())))
    }

    /// The snapshot requests read from; it stays valid while a reload swaps in another.
    #[must_use]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The catalog file reloads read, if any.
    #[must_use]
    pub fn catalog_path(&self) -> Option<&Path> {
        self.shared.catalog.as_deref()
    }

    /// Replaces the index atomically; requests in flight finish on the old one.
    pub fn swap(&self, index: Index) -> u64 {
        warm(&index);
        let generation = self.shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let snap = Arc::new(Snapshot {
            index,
            cache: PageCache::default(),
            generation,
        });
        *self
            .shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = snap;
        generation
    }

    /// Loads the catalog file again and swaps it in (blocking). On failure the current index
    /// stays.
    ///
    /// # Errors
    /// No catalog path, or the file cannot be opened as a catalog.
    pub fn reload(&self) -> Result<ReloadInfo, String> {
        let _one = self
            .shared
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let path = self
            .shared
            .catalog
            .as_deref()
            .ok_or("this server was not started from a catalog file")?;
        let started = Instant::now();
        let index =
            Index::open(path).map_err(|e| format!("reload of {} failed: {e}", path.display()))?;
        let rules = index.rules.len();
        let generation = self.swap(index);
        Ok(ReloadInfo {
            rules,
            generation,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// [`AppState::reload`] on a blocking thread.
    ///
    /// # Errors
    /// As [`AppState::reload`].
    pub async fn reload_async(&self) -> Result<ReloadInfo, String> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.reload())
            .await
            .map_err(|e| format!("reload task failed: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_stays_bounded() {
        let c = PageCache::default();
        for i in 0..(CACHE_ENTRIES + 100) {
            c.put(
                format!("k{i}"),
                Rendered {
                    status: StatusCode::OK,
                    content_type: "text/plain",
                    body: Bytes::from_static(b"x"),
                },
            );
        }
        assert!(c.len() <= CACHE_ENTRIES);
        assert!(c.get(&format!("k{}", CACHE_ENTRIES + 99)).is_some());
    }
}
