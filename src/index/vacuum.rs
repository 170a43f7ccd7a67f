//! `ambulkdelete` / `amvacuumcleanup`: the glue around `codevec_ivf::pages::vacuum` (dead
//! TIDs removed by compacting each code page in place, list counts fixed, the dead rows'
//! `f16` slots freed and their vector pages recorded in the index's free space map, where
//! inserts find them).

use codevec_ivf::pages::vacuum::{bulk_delete, count_entries};
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::store::{ok, BufferStore, Pause};
use super::tid_unpack;

/// `ambulkdelete`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    cb_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: info is valid for the call; stats is ours to allocate when NULL.
    unsafe {
        let stats = if stats.is_null() {
            PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
        } else {
            stats
        };
        let cb = callback.expect("bulk delete callback");
        let store = BufferStore::main((*info).index, Pause::Vacuum);
        let mut tid = pg_sys::ItemPointerData::default();
        let mut is_dead = |t: u64| {
            tid_unpack(t, &mut tid);
            // The callback is a Postgres function pointer: an ERROR in it must not longjmp
            // over the crate's frames (their buffers, guards and vectors).
            pg_sys::ffi::pg_guard_ffi_boundary(
                // Guarded: the raw `extern "C-unwind"` callback runs inside
                // pg_guard_ffi_boundary, which turns an ERROR into a Rust panic.
                #[allow(ffi_unwind_calls)]
                || cb(&mut tid, cb_state),
            )
        };
        let st = ok(bulk_delete(&store, &mut is_dead));
        if st.slots_freed > 0 {
            // make the vector pages with freed slots findable by inserts now
            pg_sys::IndexFreeSpaceMapVacuum((*info).index);
        }
        // Every pass counts the live entries anew: one VACUUM calls bulkdelete once per
        // round of dead TIDs (maintenance_work_mem), with the same stats struct.
        (*stats).num_index_tuples = st.live as f64;
        (*stats).tuples_removed += st.removed as f64;
        stats
    }
}

/// `amvacuumcleanup`: page and tuple counts (counting the entries when bulkdelete did not run).
#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: info is valid for the call.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        let index = (*info).index;
        let stats = if stats.is_null() {
            let s = PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg();
            let store = BufferStore::main(index, Pause::Vacuum);
            (*s).num_index_tuples = ok(count_entries(&store)) as f64;
            s
        } else {
            stats
        };
        (*stats).num_pages =
            pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        stats
    }
}
