//! `ruleatlas serve`: the catalog as server-rendered pages and a JSON API.
//!
//! The catalog is loaded once into an in-memory [`ruleatlas_catalog::Index`]; requests never
//! touch disk. Pages are rendered by askama templates (auto-escaped: every string comes from
//! untrusted rule files) and kept in a bounded per-snapshot cache, so a popular guide page is
//! rendered once. A reload (SIGHUP, or `POST /-/reload` from loopback) opens the catalog file
//! again on a blocking thread and swaps the new index in atomically; requests in flight finish
//! on the old one, and a failed reload keeps it.
//!
//! Routes: `/`, `/techniques/{id}`, `/rules/{vendor}/{id}`, `/fields`, `/fields/{field}`,
//! `/search?q=`, and under `/api/` the same objects as the CLI's `--json`: `techniques`,
//! `techniques/{id}`, `rules/{vendor}/{id}`, `fields`, `fields/{field}`, `search`, `stats`.
//! Assets are embedded: `/static/style.css`, `/static/sort.js`.

mod api;
mod handlers;
pub mod highlight;
pub mod pages;
mod state;
pub mod util;

use std::net::SocketAddr;
use std::path::Path;

use axum::Router;
use axum::routing::{get, post};

pub use state::{AppState, PageCache, ReloadInfo, Rendered, Snapshot};

/// The application: every route, the security headers and the 404 fallback.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(handlers::overview))
        .route("/techniques", get(handlers::techniques_redirect))
        .route("/techniques/{id}", get(handlers::technique))
        .route("/rules/{vendor}/{id}", get(handlers::rule))
        .route("/fields", get(handlers::fields))
        .route("/fields/{*field}", get(handlers::field))
        .route("/search", get(handlers::search))
        .route("/api/techniques", get(api::techniques))
        .route("/api/techniques/{id}", get(api::technique))
        .route("/api/rules/{vendor}/{id}", get(api::rule))
        .route("/api/fields", get(api::fields))
        .route("/api/fields/{*field}", get(api::field))
        .route("/api/search", get(api::search))
        .route("/api/stats", get(api::stats))
        .route("/static/style.css", get(handlers::style))
        .route("/static/sort.js", get(handlers::script))
        .route("/favicon.ico", get(handlers::favicon))
        .route("/-/health", get(handlers::health))
        .route("/-/reload", post(handlers::reload))
        .fallback(handlers::not_found)
        .layer(axum::middleware::map_response(handlers::security_headers))
        .with_state(state)
}

/// Serves `catalog` on `addr` until Ctrl-C or SIGTERM (blocking). `ready` is called once with
/// the URL when the server listens. SIGHUP reloads the catalog from the same path.
///
/// # Errors
/// The catalog cannot be opened, the address cannot be bound, or the server fails.
pub fn serve(catalog: &Path, addr: &str, ready: Option<&dyn Fn(&str)>) -> Result<(), String> {
    let state = AppState::open(catalog)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let url = format!("http://{local}/");
        if let Some(ready) = ready {
            ready(&url);
        }
        spawn_reload_on_hangup(state.clone());
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))
    })
}

#[cfg(unix)]
fn spawn_reload_on_hangup(state: AppState) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            eprintln!("ruleatlas serve: cannot listen for SIGHUP; use POST /-/reload");
            return;
        };
        while hup.recv().await.is_some() {
            log_reload("SIGHUP", &state.reload_async().await);
        }
    });
}

#[cfg(not(unix))]
fn spawn_reload_on_hangup(_state: AppState) {}

pub(crate) fn log_reload(why: &str, r: &Result<ReloadInfo, String>) {
    match r {
        Ok(i) => eprintln!(
            "ruleatlas serve: {why}: reloaded the catalog: {} rules in {:.2}s (generation {})",
            i.rules, i.seconds, i.generation
        ),
        Err(e) => eprintln!("ruleatlas serve: {why}: {e}; still serving the previous catalog"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
