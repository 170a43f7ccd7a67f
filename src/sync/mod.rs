//! Embeddings kept in sync with their text: triggers and a durable queue (`sql/sync.sql`),
//! drained by background workers (`launcher`, `worker`) or by `CALL codevec.sync()`.
//! See docs/sync.md.

pub mod digest;
pub mod launcher;
pub mod shared;
pub mod sql;
pub mod worker;

/// Called from `_PG_init`: with `shared_preload_libraries = 'codevec'`, reserve the shared
/// state and register the launcher. Without preloading, sync runs only through
/// `CALL codevec.sync()`.
pub fn init() {
    // SAFETY: a plain read of a postmaster global during library load.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        shared::init();
        launcher::register();
    }
}
