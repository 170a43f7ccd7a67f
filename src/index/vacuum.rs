//! `ambulkdelete` / `amvacuumcleanup`: remove dead TIDs from the code pages (compacting each
//! page in place under its exclusive lock, one page at a time) and fix the list counts.
//! The `f16` slots of removed entries stay allocated until REINDEX (see docs/ivf.md).

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::meta::{self};
use super::page::{self, kind, CodeLayout, CodePage, Wal, INVALID_BLOCK};
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
        let index = (*info).index;
        let cb = callback.expect("bulk delete callback");
        // Every pass counts the live entries anew: one VACUUM calls bulkdelete once per
        // round of dead TIDs (maintenance_work_mem), with the same stats struct.
        (*stats).num_index_tuples = 0.0;
        let m = meta::read_meta(index);
        if m.lists == 0 {
            return stats;
        }
        let lay = CodeLayout::new(m.dims as usize);
        let dir = meta::read_directory(index, &m);
        let mut tid = pg_sys::ItemPointerData::default();
        for (l, e) in dir.iter().enumerate() {
            let mut removed = 0u32;
            let mut blk = e.head;
            while blk != INVALID_BLOCK {
                pg_sys::vacuum_delay_point();
                let b = page::lock_buffer(index, blk, true);
                let p = page::buffer_page(b);
                let sp = page::check_page(p, kind::CODE, blk, lay.capacity());
                let n = sp.count as usize;
                // which entries are dead?
                let view = CodePage::new(p, lay);
                let mut dead = vec![false; n];
                let mut ndead = 0;
                for (i, d) in dead.iter_mut().enumerate() {
                    tid_unpack(view.tid(i), &mut tid);
                    // The callback is a Postgres function pointer: an ERROR in it must not
                    // longjmp over this frame (`dead` would leak; formally UB).
                    if pg_sys::ffi::pg_guard_ffi_boundary(
                        // Guarded: the raw `extern "C-unwind"` callback runs inside
                        // pg_guard_ffi_boundary, which turns an ERROR into a Rust panic.
                        #[allow(ffi_unwind_calls)]
                        || cb(&mut tid, cb_state),
                    ) {
                        *d = true;
                        ndead += 1;
                    }
                }
                if ndead > 0 {
                    let mut wal = Wal::start(index);
                    let wp = wal.register(b, false);
                    let mut cp = CodePage::new(wp, lay);
                    let mut w = 0;
                    for (i, &d) in dead.iter().enumerate() {
                        if !d {
                            if w != i {
                                cp.move_entry(i, w);
                            }
                            w += 1;
                        }
                    }
                    (*page::special(wp)).count = w as u16;
                    wal.finish();
                    removed += ndead as u32;
                    (*stats).tuples_removed += ndead as f64;
                }
                (*stats).num_index_tuples += (n - ndead) as f64;
                page::release(b);
                blk = sp.next;
            }
            if removed > 0 {
                // fix the list's count (lock order: no code page is held here)
                let (dblk, di) = meta::dir_location(&m, l);
                let db = page::lock_buffer(index, dblk, true);
                let mut wal = Wal::start(index);
                let dp = wal.register(db, false);
                let de = meta::dir_entry(dp, di);
                (*de).count = (*de).count.saturating_sub(removed);
                wal.finish();
                page::release(db);
            }
        }
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
            let m = meta::read_meta(index);
            if m.lists > 0 {
                let n: u64 = meta::read_directory(index, &m)
                    .iter()
                    .map(|e| e.count as u64)
                    .sum();
                (*s).num_index_tuples = n as f64;
            }
            s
        } else {
            stats
        };
        (*stats).num_pages =
            pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        stats
    }
}
