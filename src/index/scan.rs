//! The ordered scan: `ORDER BY col <op> $q` → heap TIDs by ascending lower bound.
//!
//! The algorithm is the crate's [`codevec_ivf::ordered::OrderedScan`] (the in-memory index
//! runs the same code): candidates of the probed lists are reranked in the order of their
//! estimator lower bounds, and a row is returned only when no candidate still waiting
//! could plausibly be closer; as the executor keeps asking (filters, cursors) the scan
//! widens its key windows and probes more lists. This file is the glue: the lists are
//! chains of code pages, the `f16` copies live on vector pages, and each TID is returned with
//! `xs_orderbyvals` = its rigorous lower bound and `xs_recheckorderby = true`, so the
//! executor's reorder queue recomputes the exact distance from the heap row.
//! `codevec.iterative_scan` picks [`OrderMode`]: strict (always sorted), relaxed, off.

use codevec_ivf::ordered::{Candidate, OrderMode, OrderedScan, ScanParams};
use codevec_ivf::pages::source::PagedLists;
use codevec_ivf::{defaults, QueryState};
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::meta::{self, MetaData};
use super::store::{self, BufferStore, Pause};
use super::{dims_mismatch, read_vector, tid_unpack, Elem};
use crate::gucs;

/// Per-scan state (boxed in `scan->opaque`).
struct ScanState {
    meta: MetaData,
    heads: Vec<u32>,
    qs: QueryState,
    scan: Option<OrderedScan>,
    qbuf: Vec<f32>,
    /// The index's pages (kept for the scan: it caches the relation's size).
    store: Option<BufferStore>,
}

impl ScanState {
    fn new() -> Self {
        ScanState {
            meta: MetaData::untrained(codevec_ivf::Metric::L2, Elem::F32 as u32, 0, -1),
            heads: vec![],
            qs: QueryState::new(),
            scan: None,
            qbuf: vec![],
            store: None,
        }
    }
}

/// Cell in the scan's memory context: frees the state when the context goes away (also on
/// errors, when `amendscan` is not called).
struct Holder(*mut ScanState);

unsafe extern "C-unwind" fn free_state(arg: *mut std::ffi::c_void) {
    // SAFETY: arg is the Holder registered in ambeginscan; the state is freed at most once.
    unsafe {
        let h = &mut *(arg as *mut Holder);
        if !h.0.is_null() {
            drop(Box::from_raw(h.0));
            h.0 = std::ptr::null_mut();
        }
    }
}

/// `ambeginscan`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: standard scan descriptor; order-by value arrays allocated for the executor.
    unsafe {
        let scan = pg_sys::RelationGetIndexScan(index, nkeys, norderbys);
        let n = norderbys.max(1) as usize;
        (*scan).xs_orderbyvals =
            pg_sys::palloc0(std::mem::size_of::<pg_sys::Datum>() * n) as *mut pg_sys::Datum;
        (*scan).xs_orderbynulls = pg_sys::palloc0(std::mem::size_of::<bool>() * n) as *mut bool;
        let holder = pg_sys::palloc0(std::mem::size_of::<Holder>()) as *mut Holder;
        (*holder).0 = Box::into_raw(Box::new(ScanState::new()));
        let cb = pg_sys::palloc0(std::mem::size_of::<pg_sys::MemoryContextCallback>())
            as *mut pg_sys::MemoryContextCallback;
        (*cb).func = Some(free_state);
        (*cb).arg = holder as *mut std::ffi::c_void;
        pg_sys::MemoryContextRegisterResetCallback(pg_sys::CurrentMemoryContext, cb);
        (*scan).opaque = holder as *mut std::ffi::c_void;
        scan
    }
}

unsafe fn state<'a>(scan: pg_sys::IndexScanDesc) -> &'a mut ScanState {
    // SAFETY: opaque is the Holder of a live state (freed only in amendscan / context reset).
    unsafe { &mut *(*((*scan).opaque as *mut Holder)).0 }
}

/// `amrescan`: read the metapage and directory, prepare the query.
#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    _keys: pg_sys::ScanKey,
    _nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: scan is live; orderbys has norderbys keys.
    unsafe {
        let index = (*scan).indexRelation;
        let st = state(scan);
        if !orderbys.is_null() && norderbys > 0 {
            std::ptr::copy(orderbys, (*scan).orderByData, norderbys as usize);
        }
        st.scan = None;
        if (*scan).numberOfOrderBys == 0 {
            crate::error::raise(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "an ivf index scan needs ORDER BY column <op> value",
                None,
                None,
            );
        }
        let key = &*(*scan).orderByData;
        count_index_scan(index);
        let m = meta::read_meta(index);
        st.meta = m;
        // NULL query: no rows (a NULL distance sorts last and is never "near").
        if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 || m.lists == 0 {
            return;
        }
        read_vector(key.sk_argument, Elem::from_u32(m.elem), &mut st.qbuf);
        if st.qbuf.len() != m.dims as usize {
            dims_mismatch("query vector", st.qbuf.len(), m.dims as usize);
        }
        let model = meta::model(index, &m);
        model.prepare_query(&st.qbuf, &mut st.qs);
        let bs = st.store.insert(BufferStore::main(index, Pause::Interrupts));
        let dir = store::ok(codevec_ivf::pages::read::read_directory(bs, &m));
        st.heads = dir.iter().map(|e| e.head).collect();
        let rows: usize = dir.iter().map(|e| e.count as usize).sum();
        drop(dir);
        let lists = m.lists as usize;
        let probes = gucs::IVF_PROBES.get();
        let nprobe = if probes > 0 {
            probes as usize
        } else {
            defaults::nprobe_for(lists, rows, m.build_rows as usize)
        }
        .clamp(1, lists);
        let rr = gucs::IVF_RERANK.get();
        let rerank = if rr > 0 {
            rr as usize
        } else {
            defaults::rerank_for_k(10)
        };
        let mp = gucs::IVF_MAX_PROBES.get();
        let max_lists = if mp > 0 {
            (mp as usize).min(lists)
        } else {
            lists
        };
        let mode = match gucs::ITERATIVE_SCAN.get() {
            gucs::IterativeScan::StrictOrder => OrderMode::Strict,
            gucs::IterativeScan::RelaxedOrder => OrderMode::Relaxed,
            gucs::IterativeScan::Off => OrderMode::FirstBatch,
        };
        let mut p = ScanParams::new(nprobe.min(max_lists), rerank, max_lists, mode);
        // The candidates waiting for their rerank are bounded by work_mem (like a sort):
        // past it the scan probes no further list and only drains what it holds.
        let budget = pg_sys::work_mem.max(64) as usize * 1024;
        p.max_pending = budget / std::mem::size_of::<Candidate>();
        st.scan = Some(OrderedScan::new(&st.qs, p));
    }
}

/// `pgstat_count_index_scan(rel)` (a macro in C): `pg_stat_*_indexes.idx_scan`.
unsafe fn count_index_scan(index: pg_sys::Relation) {
    // SAFETY: index is an open relation; pgstat_assoc_relation attaches its stats entry
    // when statistics are enabled for it, as pgstat_should_count_relation does.
    unsafe {
        if (*index).pgstat_info.is_null() && (*index).pgstat_enabled {
            pg_sys::pgstat_assoc_relation(index);
        }
        if !(*index).pgstat_info.is_null() {
            (*(*index).pgstat_info).t_counts.t_numscans += 1;
        }
    }
}

/// `amgettuple`: the next TID with its lower bound.
#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(
    scan: pg_sys::IndexScanDesc,
    _dir: pg_sys::ScanDirection::Type,
) -> bool {
    // SAFETY: scan is live and was rescanned.
    unsafe {
        let st = state(scan);
        let Some(os) = st.scan.as_mut() else {
            return false;
        };
        let bs = st.store.as_ref().expect("rescanned with a trained index");
        let mut src = PagedLists::new(bs, &st.heads, st.meta.dims as usize);
        let next = os.next(&mut src, &st.qs);
        // a corrupt page stopped its list: raise it before using anything of this step
        if let Some(e) = src.error() {
            store::raise(e);
        }
        if let Some(what) = os.failed() {
            store::raise(codevec_ivf::pages::store::StoreError::OutOfMemory(
                what.into(),
            ));
        }
        let Some((tid, lb)) = next else {
            st.scan = None;
            return false;
        };
        tid_unpack(tid, &mut (*scan).xs_heaptid);
        *(*scan).xs_orderbyvals = pg_sys::Datum::from((lb as f64).to_bits());
        *(*scan).xs_orderbynulls = false;
        // Further ORDER BY expressions (ORDER BY v <#> a, v <#> b): -Infinity is a lower
        // bound of any distance, so the executor's recheck computes them and its reorder
        // queue sorts ties of the first one correctly.
        for i in 1..(*scan).numberOfOrderBys as usize {
            *(*scan).xs_orderbyvals.add(i) = pg_sys::Datum::from(f64::NEG_INFINITY.to_bits());
            *(*scan).xs_orderbynulls.add(i) = false;
        }
        (*scan).xs_recheckorderby = true;
        (*scan).xs_recheck = false;
        true
    }
}

/// `amendscan`: free the state now (the context callback then finds nothing to free).
#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // SAFETY: opaque is our Holder.
    unsafe { free_state((*scan).opaque) };
}
