//! `amcostestimate`: an ivf scan only serves `ORDER BY col <op> value`; its start-up cost is
//! reading the probed fraction of the index (`probes / lists` of its pages and entries),
//! after which rows stream cheaply — so `ORDER BY … LIMIT k` and cursors prefer it, while a
//! path without ORDER BY is never taken.

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::meta;
use crate::gucs;
use codevec_ivf::defaults;

/// `amcostestimate`.
#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: planner-provided pointers, valid for the call.
    unsafe {
        if (*path).indexorderbys.is_null() {
            // never used without ORDER BY (there are no searchable quals)
            *startup = f64::MAX;
            *total = f64::MAX;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let info = (*path).indexinfo;
        let index = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as i32);
        let m = meta::read_meta(index);
        pg_sys::index_close(index, pg_sys::NoLock as i32);
        let lists = (m.lists as usize).max(1);
        let probes = gucs::IVF_PROBES.get();
        let probes = if probes > 0 {
            probes as usize
        } else {
            defaults::nprobe_for(
                lists,
                (*info).tuples.max(0.0) as usize,
                m.build_rows as usize,
            )
        }
        .clamp(1, lists);
        let ratio = probes as f64 / lists as f64;
        let mut costs = pg_sys::GenericCosts {
            numIndexTuples: ((*info).tuples * ratio).max(1.0),
            ..Default::default()
        };
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        // every probed code page is read before the first row comes out
        *startup = costs.indexTotalCost;
        *total = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        *pages = costs.numIndexPages;
    }
}
