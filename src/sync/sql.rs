//! SQL functions of sync implemented in Rust; the rest is `sql/sync.sql`.

use pgrx::prelude::*;

#[pg_schema]
mod codevec {
    use pgrx::prelude::*;

    use crate::encoder::text::TextArg;
    use crate::sync::shared::{self, SHARED};

    /// SHA-256 of a text: the key under which `codevec.enable_sync` queues a row and finds it
    /// again (through a partial index on this expression).
    #[pg_extern(immutable, strict, parallel_safe, cost = 10)]
    fn text_digest(text: TextArg) -> Vec<u8> {
        // SAFETY: a non-null text datum (the function is strict).
        unsafe { crate::sync::digest::digest_text(text.0) }.to_vec()
    }

    /// Wake the sync launcher for this database when this transaction commits (no-op
    /// without preloading).
    #[pg_extern(volatile, parallel_unsafe)]
    fn sync_wake() {
        shared::wake_at_commit();
    }

    /// Record the queue entries the current batch holds (shown as `in_progress`); a no-op
    /// outside a sync worker.
    #[pg_extern(volatile, parallel_unsafe)]
    fn sync_report_claim(tbl: pg_sys::Oid, entries: i32) {
        crate::sync::worker::report_claim(tbl.to_u32(), entries);
    }

    /// The sync workers running now (empty without `shared_preload_libraries = 'codevec'`).
    #[allow(clippy::type_complexity)]
    #[pg_extern(volatile, parallel_unsafe)]
    fn sync_workers() -> TableIterator<
        'static,
        (
            name!(pid, i32),
            name!(datid, pg_sys::Oid),
            name!(relid, pg_sys::Oid),
            name!(rows, i32),
        ),
    > {
        let mut rows = vec![];
        if shared::available() {
            let s = SHARED.share();
            for w in s.workers.iter().filter(|w| w.pid != 0) {
                rows.push((
                    w.pid,
                    pg_sys::Oid::from(w.database),
                    pg_sys::Oid::from(w.relid),
                    w.rows,
                ));
            }
        }
        TableIterator::new(rows)
    }
}

extension_sql_file!(
    "../../sql/sync.sql",
    name = "sync_sql",
    requires = [
        "types",
        "encoder_sql",
        codevec::sync_wake,
        codevec::sync_report_claim,
        codevec::sync_workers,
        codevec::text_digest
    ]
);
