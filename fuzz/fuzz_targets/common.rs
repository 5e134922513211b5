//! Shared by the fuzz targets.

/// The stack of the loader's worker threads (rayon's default, the Rust default of 2 MiB):
/// every target parses on a thread this size, so a recursion that would overflow a real
/// build's worker overflows here too (libFuzzer reports the abort as a crash).
pub const WORKER_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a fresh thread with [`WORKER_STACK`]; a panic is passed on.
pub fn on_worker_stack(f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, f)
            .expect("spawn fuzz worker");
        if let Err(e) = h.join() {
            std::panic::resume_unwind(e);
        }
    });
}
