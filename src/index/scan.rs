//! The ordered scan: `ORDER BY col <op> $q` → heap TIDs by ascending lower bound.
//!
//! Batch 1 probes the `codevec.probes` nearest lists with the batch estimator and reranks
//! the `codevec.rerank` best estimates by the crate's rigorous `f16` lower bound. Each TID is
//! returned with `xs_orderbyvals` = that lower bound and `xs_recheckorderby = true`, so the
//! executor's reorder queue recomputes the exact distance from the heap row. Later batches
//! (when the executor keeps asking: filters, cursors) pool the rest of the probed lists,
//! then probe one more list per batch, up to `codevec.max_probes` lists — the crate's
//! `IvfIter`, on pages. Inside a batch the order is exact; across batches it is relaxed.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::rc::Rc;

use codevec_ivf::quant::scan::CandidateSink;
use codevec_ivf::topk::{Reservoir, Scored};
use codevec_ivf::{defaults, IvfModel, QueryState};
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::meta::{self, MetaData};
use super::page::{self, kind, loc_unpack, CodeLayout, CodePage, VecLayout, INVALID_BLOCK};
use super::{dims_mismatch, read_vector, tid_unpack};
use crate::gucs;

/// A candidate: estimate, heap TID, vector locator.
#[derive(Clone, Copy, Debug)]
struct Cand(f32, u64, u64);
impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// Per-scan state (boxed in `scan->opaque`).
struct ScanState {
    meta: MetaData,
    model: Option<Rc<IvfModel>>,
    heads: Vec<u32>,
    qs: QueryState,
    order: Vec<(u32, f32)>,
    nprobe: usize,
    rerank: usize,
    max_lists: usize,
    next_list: usize,
    pooled: bool,
    first: HashSet<u64>,
    pending: BinaryHeap<Reverse<Cand>>,
    /// Reranked rows not returned yet, `(lower bound, heap TID)`, smallest first.
    ready: BinaryHeap<Reverse<Scored>>,
    /// After batch 1 and before the rest of the first lists is pooled: the worst estimate
    /// batch 1 kept, as a distance, when its reservoir was full (every candidate it did not
    /// keep estimates at least that); see [`ScanState::frontier`].
    first_worst: Option<f32>,
    batches: usize,
    /// Largest lower bound returned so far (strict order: later batches return nothing below).
    last_bound: f32,
    /// `codevec.iterative_scan` as it was at rescan.
    mode: gucs::IterativeScan,
    /// No (more) rows: empty index, NULL query.
    finished: bool,
    qbuf: Vec<f32>,
}

impl ScanState {
    fn new() -> Self {
        ScanState {
            meta: MetaData::untrained(codevec_ivf::Metric::L2, super::Elem::F32, 0, -1),
            model: None,
            heads: vec![],
            qs: QueryState::new(),
            order: vec![],
            nprobe: 1,
            rerank: 1,
            max_lists: 0,
            next_list: 0,
            pooled: false,
            first: HashSet::new(),
            pending: BinaryHeap::new(),
            ready: BinaryHeap::new(),
            first_worst: None,
            batches: 0,
            last_bound: f32::NEG_INFINITY,
            mode: gucs::IterativeScan::StrictOrder,
            finished: true,
            qbuf: vec![],
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
        st.finished = true;
        st.ready.clear();
        st.first_worst = None;
        st.pending.clear();
        st.first.clear();
        st.batches = 0;
        st.last_bound = f32::NEG_INFINITY;
        st.mode = gucs::ITERATIVE_SCAN.get();
        st.pooled = false;
        st.next_list = 0;
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
        read_vector(key.sk_argument, m.elem(), &mut st.qbuf);
        if st.qbuf.len() != m.dims as usize {
            dims_mismatch("query vector", st.qbuf.len(), m.dims as usize);
        }
        let model = meta::model(index, &m);
        model.prepare_query(&st.qbuf, &mut st.qs);
        st.qs.probe_order(usize::MAX, &mut st.order);
        st.heads = meta::read_directory(index, &m)
            .iter()
            .map(|e| e.head)
            .collect();
        let lists = m.lists as usize;
        let probes = gucs::IVF_PROBES.get();
        st.nprobe = if probes > 0 {
            probes as usize
        } else {
            defaults::nprobe_for_lists(lists)
        }
        .clamp(1, lists);
        let rr = gucs::IVF_RERANK.get();
        st.rerank = if rr > 0 {
            rr as usize
        } else {
            defaults::rerank_for_k(10)
        };
        let mp = gucs::IVF_MAX_PROBES.get();
        st.max_lists = if mp > 0 {
            (mp as usize).min(lists)
        } else {
            lists
        };
        st.nprobe = st.nprobe.min(st.max_lists);
        st.model = Some(model);
        st.finished = false;
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

/// A refused allocation for `n` scan candidates: ERROR 53200 instead of the abort a failed
/// Rust allocation would be (it restarts the cluster).
fn candidates_oom(n: usize) -> ! {
    crate::error::raise(
        PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
        format!("out of memory holding {n} ivf scan candidates"),
        None,
        Some("Lower work_mem or codevec.max_probes."),
    )
}

/// Walks the code-page chain starting at `head`, calling `f(page view, entries)` with each
/// page share-locked (one lock at a time).
unsafe fn for_each_code_page(
    index: pg_sys::Relation,
    head: u32,
    lay: CodeLayout,
    mut f: impl FnMut(&CodePage, usize),
) {
    let mut blk = head;
    while blk != INVALID_BLOCK {
        // SAFETY: chain blocks exist; share lock while reading.
        unsafe {
            let b = page::lock_buffer(index, blk, false);
            let p = page::buffer_page(b);
            let sp = page::check_page(p, kind::CODE, blk, lay.capacity());
            let n = sp.count as usize;
            if n > 0 {
                let cp = CodePage::new(p, lay);
                f(&cp, n);
            }
            page::release(b);
            blk = sp.next;
        }
    }
}

struct ReservoirSink<'a> {
    res: &'a mut Reservoir,
    arena: &'a mut Vec<(u64, u64)>,
    page: &'a CodePage,
}

impl CandidateSink for ReservoirSink<'_> {
    #[inline(always)]
    fn threshold(&self) -> f32 {
        self.res.threshold()
    }
    #[inline(always)]
    fn push(&mut self, i: usize, est: f32) {
        if est <= self.res.threshold() {
            self.res.push(est, self.arena.len() as u64);
            self.arena.push((self.page.tid(i), self.page.loc(i)));
        }
    }
}

struct CollectSink<'a> {
    out: &'a mut Vec<Cand>,
    page: &'a CodePage,
}

impl CandidateSink for CollectSink<'_> {
    #[inline(always)]
    fn threshold(&self) -> f32 {
        f32::INFINITY
    }
    #[inline(always)]
    fn push(&mut self, i: usize, est: f32) {
        self.out.push(Cand(est, self.page.tid(i), self.page.loc(i)));
    }
}

impl ScanState {
    /// Estimates every entry of list `l` into `out`.
    unsafe fn collect_list(&self, index: pg_sys::Relation, l: usize, out: &mut Vec<Cand>) {
        let lay = CodeLayout::new(self.meta.dims as usize);
        let qs = &self.qs;
        // SAFETY: index open; see for_each_code_page.
        unsafe {
            for_each_code_page(index, self.heads[l], lay, |cp, n| {
                if out.try_reserve(n).is_err() {
                    candidates_oom(out.len() + n);
                }
                let mut sink = CollectSink { out, page: cp };
                qs.scan_run(l, cp.codes(n), n, cp.factors(n), &mut sink);
            })
        };
    }

    /// Reranks `cands` by lower bound into `ready` (reading each vector page once).
    unsafe fn rerank(&mut self, index: pg_sys::Relation, cands: &mut [Cand]) {
        let vl = VecLayout::new(self.meta.dims as usize);
        cands.sort_unstable_by_key(|c| c.2);
        let bq = self.qs.bound_query();
        let strict = self.mode == gucs::IterativeScan::StrictOrder;
        let last = self.last_bound;
        let mut i = 0;
        while i < cands.len() {
            let (blk, _) = loc_unpack(cands[i].2);
            // SAFETY: vector pages exist; share lock while reading.
            unsafe {
                let b = page::lock_buffer(index, blk, false);
                let p = page::buffer_page(b);
                page::check_kind(p, kind::VEC, blk);
                while i < cands.len() && loc_unpack(cands[i].2).0 == blk {
                    let (_, slot) = loc_unpack(cands[i].2);
                    let (f, v) = vl.read(p, slot);
                    let lb = bq.lower_bound(v, f);
                    // Rows already returned have exact distances up to `last_bound`; a row
                    // whose lower bound is below it might be closer than one of them, so
                    // strict order leaves it out (as pgvector's hnsw strict_order does).
                    if !strict || lb >= last {
                        self.ready.push(Reverse(Scored(lb, cands[i].1)));
                    }
                    i += 1;
                }
                page::release(b);
            }
        }
    }

    /// An estimate as the operator's distance (L2 estimates are squared distances).
    fn est_to_dist(&self, est: f32) -> f32 {
        self.meta.metric().rank_to_distance(est)
    }

    /// The smallest estimate waiting in `pending`, as a distance; when nothing waits but lists are left
    /// to probe, `-inf` (nothing may be returned before the next list is probed: it can
    /// hold closer rows); `+inf` when every list is probed.
    fn pending_min(&self) -> f32 {
        match self.pending.peek() {
            Some(r) => self.est_to_dist(r.0 .0),
            None if self.next_list < self.max_lists.min(self.order.len()) => f32::NEG_INFINITY,
            None => f32::INFINITY,
        }
    }

    /// Smallest distance a candidate of the probed lists still waiting for its rerank may
    /// have, judged by its estimate (`-inf` while the next list must be probed first, `+inf`
    /// when nothing is left). Strict order returns a reranked row only once its lower bound
    /// is at most this, so that a row is not returned ahead of closer rows still waiting.
    fn frontier(&self) -> f32 {
        match self.first_worst {
            Some(d) if !self.pooled => d,
            _ => self.pending_min(),
        }
    }

    /// Starts the next batch; false when every reachable entry was returned.
    unsafe fn refill(&mut self, index: pg_sys::Relation) -> bool {
        let lay = CodeLayout::new(self.meta.dims as usize);
        if self.batches == 0 {
            let first = self.nprobe.min(self.order.len());
            let mut res = Reservoir::default();
            res.reset(self.rerank);
            let mut arena: Vec<(u64, u64)> = Vec::new();
            for j in 0..first {
                let l = self.order[j].0 as usize;
                let qs = &self.qs;
                // SAFETY: index open.
                unsafe {
                    for_each_code_page(index, self.heads[l], lay, |cp, n| {
                        let mut sink = ReservoirSink {
                            res: &mut res,
                            arena: &mut arena,
                            page: cp,
                        };
                        qs.scan_run(l, cp.codes(n), n, cp.factors(n), &mut sink);
                    })
                };
            }
            let mut out = vec![];
            res.drain_sorted(&mut out);
            let mut batch: Vec<Cand> = out
                .iter()
                .map(|&(e, a)| {
                    let (tid, loc) = arena[a as usize];
                    Cand(e, tid, loc)
                })
                .collect();
            self.first.extend(batch.iter().map(|c| c.1));
            self.next_list = first;
            // candidates the reservoir did not keep all have estimates >= the worst kept
            self.first_worst = (batch.len() >= self.rerank).then(|| {
                self.est_to_dist(batch.iter().map(|c| c.0).fold(f32::NEG_INFINITY, f32::max))
            });
            self.batches = 1;
            // SAFETY: index open.
            unsafe { self.rerank(index, &mut batch) };
            return true;
        }
        if self.mode == gucs::IterativeScan::Off {
            return false;
        }
        if !self.pooled {
            // the rest of the first lists, minus what batch 1 returned
            self.pooled = true;
            let first = self.nprobe.min(self.order.len());
            let mut rest = vec![];
            for j in 0..first {
                let l = self.order[j].0 as usize;
                // SAFETY: index open.
                unsafe { self.collect_list(index, l, &mut rest) };
            }
            rest.retain(|c| !self.first.contains(&c.1));
            self.first = HashSet::new();
            self.pending.extend(rest.into_iter().map(Reverse));
            return true;
        }
        // The candidates waiting for a batch are bounded by work_mem (like a sort): past it
        // the scan probes no further list and only drains what it holds.
        // SAFETY: reading an integer GUC (kB).
        let budget = unsafe { pg_sys::work_mem }.max(64) as usize * 1024;
        if self.pending.len() * std::mem::size_of::<Cand>() > budget {
            self.max_lists = self.next_list;
        }
        if self.pending.is_empty() {
            // every candidate of the probed lists is reranked: probe the next list
            if self.next_list >= self.max_lists.min(self.order.len()) {
                return false;
            }
            let l = self.order[self.next_list].0 as usize;
            self.next_list += 1;
            let mut v = vec![];
            // SAFETY: index open.
            unsafe { self.collect_list(index, l, &mut v) };
            if self.pending.try_reserve(v.len()).is_err() {
                candidates_oom(self.pending.len() + v.len());
            }
            self.pending.extend(v.into_iter().map(Reverse));
            return true;
        }
        let take = self.rerank.min(self.pending.len());
        let mut batch: Vec<Cand> = (0..take)
            .filter_map(|_| self.pending.pop().map(|r| r.0))
            .collect();
        self.batches += 1;
        // SAFETY: index open.
        unsafe { self.rerank(index, &mut batch) };
        true
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
        if st.finished {
            return false;
        }
        let index = (*scan).indexRelation;
        loop {
            // Strict order returns the best reranked row only when no candidate of the probed
            // lists still waiting for its rerank has a smaller estimate; relaxed order and
            // `off` return reranked rows as they come.
            let strict = st.mode == gucs::IterativeScan::StrictOrder;
            let emit = match st.ready.peek() {
                Some(Reverse(r)) => !strict || r.0 <= st.frontier(),
                None => false,
            };
            if emit {
                let Reverse(Scored(lb, tid)) = st.ready.pop().expect("peeked");
                tid_unpack(tid, &mut (*scan).xs_heaptid);
                st.last_bound = st.last_bound.max(lb);
                *(*scan).xs_orderbyvals = pg_sys::Datum::from((lb as f64).to_bits());
                *(*scan).xs_orderbynulls = false;
                // Further ORDER BY expressions (ORDER BY v <#> a, v <#> b): -Infinity is a
                // lower bound of any distance, so the executor's recheck computes them and
                // its reorder queue sorts ties of the first one correctly.
                for i in 1..(*scan).numberOfOrderBys as usize {
                    *(*scan).xs_orderbyvals.add(i) =
                        pg_sys::Datum::from(f64::NEG_INFINITY.to_bits());
                    *(*scan).xs_orderbynulls.add(i) = false;
                }
                (*scan).xs_recheckorderby = true;
                (*scan).xs_recheck = false;
                return true;
            }
            pg_sys::check_for_interrupts!();
            // false: nothing left to rerank or probe, so the frontier is +inf and what is
            // reranked drains
            if !st.refill(index) && st.ready.is_empty() {
                st.finished = true;
                return false;
            }
        }
    }
}

/// `amendscan`: free the state now (the context callback then finds nothing to free).
#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // SAFETY: opaque is our Holder.
    unsafe { free_state((*scan).opaque) };
}
