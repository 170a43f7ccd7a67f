//! The ordered scan, written once: `ORDER BY v <op> q` as a stream of `(row, lower bound)`,
//! over any [`ListSource`] — the in-memory lists of [`crate::index::IvfIndex`] and the
//! Postgres pages of the extension's `src/index/scan.rs` run this same code.
//!
//! ## How it keeps the order and the recall
//!
//! Every candidate of a probed list gets a **key**: the estimator's lower bound
//! `est − ε₀·σ` ([`crate::quant::rabitq`]: `σ = err·‖q − c‖`), in the estimator's rank
//! units (compared with lower bounds after [`Metric::rank_to_distance`]). The scan
//! reranks candidates in key order (their `f16` copies give rigorous lower bounds `lb`,
//! [`crate::bound`]) and returns a reranked row only when its `lb` is at most the
//! **frontier**, the smallest key still waiting. So a row comes out only once every
//! candidate that could plausibly be closer has been reranked: the stream is in order and
//! nothing in the probed lists is skipped, unless an estimate falls outside its bound
//! (≈ 5 % of estimates at ε₀ = 1.9, and only a problem when such a row is *also* closer
//! than the rows around it).
//!
//! Which lists: the `nprobe` nearest at first; as the consumer takes more rows (a filter
//! rejecting most of them, a cursor), more lists, in centroid order: after `taken` rows,
//! `nprobe + ⌈(lists − nprobe)·min(1, (taken − rerank/10)·LIST_GROWTH / rows)⌉` (up to
//! `max_lists`), so that a query that needs the 100 nearest of 50k rows for its 10 matches
//! looks in about a third more lists than one that needs 10, and one that reads 1,000 rows
//! in all of them. Lists not
//! probed yet are not bounded (no useful bound exists in high dimension: every Voronoi
//! bisector is within reach of the query), so a row of a list probed late can be closer
//! than one already returned:
//!
//! * [`OrderMode::Strict`] leaves such a row out (its `lb` is below the largest `lb`
//!   returned), so the output is always sorted — as pgvector's `strict_order`;
//! * [`OrderMode::Relaxed`] returns it anyway (every row of the probed lists exactly once,
//!   nearly sorted; re-sort above);
//! * [`OrderMode::FirstBatch`] returns the first `rerank` candidates' rows, sorted, and
//!   stops.
//!
//! Batch 1 keeps only the `rerank` smallest keys of the first lists (a threshold
//! reservoir, like a plain top-k search), and it certifies rows up to the worst key it kept;
//! a scan that goes past that scans those lists again for the next window of keys, twice as
//! wide each time (so a deep scan costs a few passes, not a pool of every candidate).
//!
//! Memory: the candidates of the probed lists that wait for their rerank (24 B each); past
//! `max_pending` the scan probes no further list.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};

use crate::bound::BoundQuery;
use crate::metric::Metric;
use crate::model::QueryState;
use crate::quant::rabitq::EPS0;
use crate::quant::scan::{CandidateSink, BLOCK, FACTOR_BLOCK};
use crate::topk::{Reservoir, Scored};

/// A candidate waiting for its rerank: key (estimator lower bound, in rank units), row id
/// (a heap TID on pages), locator of its `f16` copy.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// Estimator lower bound of the rank distance (probabilistic; orders reranks only).
    pub key: f32,
    /// Row id (heap TID).
    pub id: u64,
    /// Where the `f16` copy is.
    pub loc: u64,
}
impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key.total_cmp(&o.key).then(self.id.cmp(&o.id))
    }
}

/// Receives the keyed candidates of a list scan.
pub trait KeySink {
    /// Candidates with a key (in rank units) above this may be dropped.
    fn threshold(&self) -> f32;
    /// A candidate with key `key` (rank units), row id `id`, locator `loc`.
    fn push(&mut self, key: f32, id: u64, loc: u64);
}

/// Where the lists are stored.
pub trait ListSource {
    /// Passes every entry of list `list` whose key may be below `sink.threshold()` to
    /// `sink` (with [`scan_keys`] on each run of code blocks); returns the number of
    /// entries of the list.
    fn scan_list<K: KeySink>(
        &mut self,
        qs: &QueryState,
        list: usize,
        confidence: f32,
        sink: &mut K,
    ) -> usize;
    /// Calls `emit(lb, id)` with the rigorous lower bound of every candidate (in any order;
    /// `cands` may be reordered, e.g. by locator).
    fn rerank(
        &mut self,
        bq: &BoundQuery<'_>,
        cands: &mut [Candidate],
        emit: &mut dyn FnMut(f32, u64),
    );
    /// Called before each unit of work (a list probe, a rerank): the place to check for
    /// query cancellation.
    fn checkpoint(&mut self) {}
}

/// What the scan does with rows it finds late (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderMode {
    /// Always sorted: a row found after a farther one was returned is left out.
    Strict,
    /// Every row of the probed lists once, nearly sorted.
    Relaxed,
    /// The first `rerank` candidates' rows, sorted, then the end.
    FirstBatch,
}

/// Parameters of one scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanParams {
    /// Lists probed before the first row.
    pub nprobe: usize,
    /// Candidates reranked before the first row.
    pub rerank: usize,
    /// Most lists probed in all.
    pub max_lists: usize,
    /// What to do with rows found late.
    pub mode: OrderMode,
    /// Most candidates held waiting for their rerank before the scan stops probing lists.
    pub max_pending: usize,
    /// Multiplier of `σ` in the keys (default [`EPS0`]).
    pub confidence: f32,
}

impl ScanParams {
    /// Defaults for everything but the list counts.
    pub fn new(nprobe: usize, rerank: usize, max_lists: usize, mode: OrderMode) -> Self {
        ScanParams {
            nprobe: nprobe.max(1),
            rerank: rerank.max(1),
            max_lists,
            mode,
            max_pending: usize::MAX,
            confidence: EPS0,
        }
    }
}

/// `ε·‖q − c‖` of list `list` (the factor of a vector's `err` in its key), in rank units.
#[inline]
fn sigma_scale(qs: &QueryState, list: usize, confidence: f32) -> f32 {
    let r = qs.ranks[list];
    let qc2 = match qs.metric() {
        Metric::L2 => r,
        // unit query and centroid: ‖q − c‖² = 2 − 2q·c
        Metric::Cosine => 2.0 + 2.0 * r,
        // unit centroid: ‖q − c‖² = ‖q‖² + 1 − 2q·c
        Metric::InnerProduct => qs.query_norm2() + 1.0 + 2.0 * r,
    };
    confidence * qc2.max(0.0).sqrt()
}

/// Index of vector `i`'s `err` factor in a factor-block array ([`crate::quant::scan`]).
#[inline(always)]
fn err_index(i: usize) -> usize {
    (i / BLOCK) * FACTOR_BLOCK + 3 * BLOCK + i % BLOCK
}

struct Keyed<'a, K: KeySink, F: FnMut(usize) -> (u64, u64)> {
    sink: &'a mut K,
    factors: &'a [f32],
    scale: f32,
    /// `scale ×` the largest `err` of the run: no estimate above `threshold + this` can
    /// have a key below `threshold`.
    slack: f32,
    ids: F,
}

impl<K: KeySink, F: FnMut(usize) -> (u64, u64)> CandidateSink for Keyed<'_, K, F> {
    #[inline(always)]
    fn threshold(&self) -> f32 {
        self.sink.threshold() + self.slack
    }
    #[inline(always)]
    fn push(&mut self, i: usize, est: f32) {
        let key = est - self.scale * self.factors[err_index(i)];
        if key <= self.sink.threshold() {
            let (id, loc) = (self.ids)(i);
            self.sink.push(key, id, loc);
        }
    }
}

/// Scans the first `n` vectors of a run of code blocks of list `list` (`codes`/`factors`
/// in the layout of [`crate::quant::scan`]) and passes each whose key (`est − ε·σ`, rank
/// units) is at most `sink.threshold()` to `sink`; `ids(i)` gives the row id and locator
/// of vector `i` of the run.
#[allow(clippy::too_many_arguments)]
pub fn scan_keys<K: KeySink>(
    qs: &QueryState,
    list: usize,
    codes: &[u64],
    n: usize,
    factors: &[f32],
    confidence: f32,
    ids: impl FnMut(usize) -> (u64, u64),
    sink: &mut K,
) {
    let scale = sigma_scale(qs, list, confidence);
    // the `err` lanes of the run's factor blocks (padding lanes hold 0 or, on pages
    // compacted before they were cleared, an old entry's err: a larger slack only lets more
    // candidates through to the exact key test)
    let max_err = factors[..n.div_ceil(BLOCK) * FACTOR_BLOCK]
        .chunks_exact(FACTOR_BLOCK)
        .flat_map(|b| &b[3 * BLOCK..])
        .fold(0.0f32, |m, &e| if e > m { e } else { m });
    let slack = scale * max_err;
    let mut k = Keyed {
        sink,
        factors,
        scale,
        slack: if slack.is_finite() {
            slack
        } else {
            f32::INFINITY
        },
        ids,
    };
    qs.scan_run(list, codes, n, factors, &mut k);
}

/// Keeps the `cap` smallest keys above a window's lower end: keys below `lo` were taken by
/// an earlier window, and so were the ids in `seen` (for keys equal to `lo`).
struct BestSink<'a> {
    res: Reservoir,
    arena: Vec<(u64, u64)>,
    lo: f32,
    seen: &'a HashSet<u64>,
}

impl KeySink for BestSink<'_> {
    #[inline(always)]
    fn threshold(&self) -> f32 {
        self.res.threshold()
    }
    #[inline(always)]
    fn push(&mut self, key: f32, id: u64, loc: u64) {
        if key <= self.res.threshold()
            && (key > self.lo || (key == self.lo && !self.seen.contains(&id)))
        {
            self.res.push(key, self.arena.len() as u64);
            self.arena.push((id, loc));
        }
    }
}

/// Keeps every candidate (lists probed after the first ones).
struct AllSink<'a> {
    out: &'a mut Vec<Candidate>,
}

impl KeySink for AllSink<'_> {
    #[inline(always)]
    fn threshold(&self) -> f32 {
        f32::INFINITY
    }
    #[inline(always)]
    fn push(&mut self, key: f32, id: u64, loc: u64) {
        self.out.push(Candidate { key, id, loc });
    }
}

/// How fast a deep scan probes more lists (see [`OrderedScan`]): on the real 50k set
/// (224 lists, 75 probed first) a 10 % filter's LIMIT 10 returns ≈ 100 rows and so probes
/// ≈ 22 more lists, and a 1 % filter's (≈ 1,000 rows) all of them.
pub const LIST_GROWTH: f64 = 75.0;

/// One ordered scan (see the module docs). Call [`OrderedScan::next`] with the same
/// source and query state each time.
#[derive(Debug)]
pub struct OrderedScan {
    p: ScanParams,
    /// Lists in probe order.
    order: Vec<(u32, f32)>,
    next_list: usize,
    /// Most lists this scan may probe (lowered when `pending` outgrows `max_pending`).
    limit: usize,
    /// The lists probed first (`nprobe`, at most `limit`), scanned again by each window.
    first: usize,
    started: bool,
    /// The first `nprobe` lists are taken in windows of keys: batch 1 the `rerank`
    /// smallest, each later window (another scan of those lists) the next `rerank·2ⁱ`.
    /// Every candidate of those lists not taken yet has a key ≥ `window_cut` (rank units);
    /// `seen` holds the ids taken; `windows_done` once a window was not full.
    window_cut: f32,
    windows_done: bool,
    windows: u32,
    seen: HashSet<u64>,
    /// Candidates waiting for their rerank, keys in rank units (smallest first).
    pending: BinaryHeap<Reverse<Candidate>>,
    /// Reranked rows not returned yet, `(lower bound, id)`, smallest first.
    ready: BinaryHeap<Reverse<Scored>>,
    taken: usize,
    /// Entries of the lists probed so far.
    rows_probed: usize,
    last_bound: f32,
    dropped: usize,
    reranked: usize,
    buf: Vec<Candidate>,
    /// Entries of the first lists at the first window (caps later windows).
    first_rows: usize,
    /// Set when memory for the scan could not be reserved: the scan then ends, and the
    /// caller must raise it (an allocation failure is an error, never an abort).
    failed: Option<&'static str>,
}

impl OrderedScan {
    /// A scan of the lists of `qs` (prepared for the query) with `p`.
    pub fn new(qs: &QueryState, p: ScanParams) -> Self {
        let mut order = vec![];
        qs.probe_order(usize::MAX, &mut order);
        let limit = p.max_lists.min(order.len());
        OrderedScan {
            p,
            order,
            next_list: 0,
            limit,
            first: p.nprobe.min(limit),
            started: false,
            window_cut: f32::INFINITY,
            windows_done: true,
            windows: 0,
            seen: HashSet::new(),
            pending: BinaryHeap::new(),
            ready: BinaryHeap::new(),
            taken: 0,
            rows_probed: 0,
            last_bound: f32::NEG_INFINITY,
            dropped: 0,
            reranked: 0,
            buf: vec![],
            first_rows: 0,
            failed: None,
        }
    }

    /// What memory could not be reserved, when the scan ended for that reason.
    pub fn failed(&self) -> Option<&'static str> {
        self.failed
    }

    /// Lists probed so far.
    pub fn lists_probed(&self) -> usize {
        self.next_list
    }
    /// Rows left out by [`OrderMode::Strict`] (found after a row farther away was returned).
    pub fn dropped(&self) -> usize {
        self.dropped
    }
    /// Candidates reranked so far.
    pub fn reranked(&self) -> usize {
        self.reranked
    }

    /// Lists the scan should have probed by now: the first `nprobe`, then, once it has
    /// returned more than `rerank/10` rows, a share of the other lists that grows with the
    /// rows returned — all of them once it has returned 1/[`LIST_GROWTH`] of the rows
    /// (estimated from the lists probed so far).
    fn lists_target(&self) -> usize {
        let k0 = self.p.rerank / 10;
        if self.taken <= k0 || self.next_list == 0 {
            return self.first;
        }
        let rows = self.rows_probed as f64 * self.order.len() as f64 / self.next_list as f64;
        let share = ((self.taken - k0) as f64 * LIST_GROWTH / rows.max(1.0)).min(1.0);
        let t = self.first + ((self.limit - self.first) as f64 * share).ceil() as usize;
        t.min(self.limit)
    }

    /// Smallest key still waiting, as a distance; `-inf` when nothing waits but a list may
    /// still be probed, `+inf` when nothing is left.
    fn frontier(&self, metric: Metric) -> f32 {
        let mut w = self.pending.peek().map_or(f32::INFINITY, |c| c.0.key);
        if !self.windows_done {
            w = w.min(self.window_cut);
        }
        if w == f32::INFINITY {
            if self.next_list < self.limit {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            }
        } else {
            metric.rank_to_distance(w)
        }
    }

    fn rerank<S: ListSource>(&mut self, src: &mut S, qs: &QueryState, mut cands: Vec<Candidate>) {
        let bq = qs.bound_query();
        self.reranked += cands.len();
        let ready = &mut self.ready;
        src.rerank(&bq, &mut cands, &mut |lb, id| {
            ready.push(Reverse(Scored(lb, id)))
        });
        self.buf = cands;
        self.buf.clear();
    }

    /// Scans the first lists for the next window of keys; returns it and the number of
    /// entries of those lists.
    fn window<S: ListSource>(&mut self, src: &mut S, qs: &QueryState) -> (Vec<Candidate>, usize) {
        let mut cap = self.p.rerank.saturating_mul(1 << self.windows.min(20));
        if self.windows > 0 {
            // a window as large as the first lists takes all of them: never reserve more
            cap = cap.min(self.first_rows.max(self.p.rerank) + 1);
        }
        let lo = if self.windows == 0 {
            f32::NEG_INFINITY
        } else {
            self.window_cut
        };
        self.windows += 1;
        let mut best = BestSink {
            res: Reservoir::default(),
            arena: vec![],
            lo,
            seen: &self.seen,
        };
        if best.res.try_reset(cap).is_err() {
            self.failed = Some("ivf scan: a window of candidates");
            self.windows_done = true;
            return (vec![], 0);
        }
        let mut rows = 0;
        for j in 0..self.first {
            src.checkpoint();
            rows += src.scan_list(qs, self.order[j].0 as usize, self.p.confidence, &mut best);
        }
        if self.windows == 1 {
            self.first_rows = rows;
        }
        let mut kept = vec![];
        best.res.drain_sorted(&mut kept);
        let batch: Vec<Candidate> = kept
            .iter()
            .map(|&(key, a)| {
                let (id, loc) = best.arena[a as usize];
                Candidate { key, id, loc }
            })
            .collect();
        // a full window left candidates out, all with keys >= the worst it kept
        self.windows_done = batch.len() < cap;
        self.window_cut = batch.last().map_or(f32::INFINITY, |c| c.key);
        if !self.windows_done {
            if self.seen.try_reserve(batch.len()).is_err() {
                self.failed = Some("ivf scan: ids of the rows already reranked");
                return (vec![], rows);
            }
            self.seen.extend(batch.iter().map(|c| c.id));
        }
        (batch, rows)
    }

    fn start<S: ListSource>(&mut self, src: &mut S, qs: &QueryState) {
        self.started = true;
        self.next_list = self.first;
        let (batch, rows) = self.window(src, qs);
        self.rows_probed = rows;
        if self.p.mode == OrderMode::FirstBatch {
            self.windows_done = true;
            self.limit = self.next_list;
        }
        src.checkpoint();
        self.rerank(src, qs, batch);
    }

    fn push_pending(&mut self, mut v: Vec<Candidate>) {
        if self.pending.try_reserve(v.len()).is_err() {
            self.failed = Some("ivf scan: candidates waiting for their rerank");
            return;
        }
        self.pending.extend(v.drain(..).map(Reverse));
        self.buf = v;
        if self.pending.len() + self.seen.len() > self.p.max_pending {
            self.limit = self.next_list;
        }
    }

    fn probe_next<S: ListSource>(&mut self, src: &mut S, qs: &QueryState) {
        src.checkpoint();
        let l = self.order[self.next_list].0 as usize;
        self.next_list += 1;
        let mut v = std::mem::take(&mut self.buf);
        self.rows_probed += src.scan_list(qs, l, self.p.confidence, &mut AllSink { out: &mut v });
        self.push_pending(v);
    }

    fn rerank_next<S: ListSource>(&mut self, src: &mut S, qs: &QueryState) {
        let chunk = (self.p.rerank / 4).max(16).min(self.pending.len());
        let mut batch = std::mem::take(&mut self.buf);
        batch.extend((0..chunk).filter_map(|_| self.pending.pop().map(|r| r.0)));
        src.checkpoint();
        self.rerank(src, qs, batch);
    }

    /// The next `(id, lower bound)`, or `None` at the end.
    pub fn next<S: ListSource>(&mut self, src: &mut S, qs: &QueryState) -> Option<(u64, f32)> {
        if !self.started {
            self.start(src, qs);
        }
        loop {
            if self.failed.is_some() {
                return None;
            }
            if self.p.mode != OrderMode::FirstBatch {
                let target = self.lists_target();
                while self.next_list < target {
                    self.probe_next(src, qs);
                }
            }
            if let Some(&Reverse(Scored(lb, id))) = self.ready.peek() {
                if self.p.mode == OrderMode::FirstBatch || lb <= self.frontier(qs.metric()) {
                    self.ready.pop();
                    if self.p.mode == OrderMode::Strict && lb < self.last_bound {
                        self.dropped += 1;
                        continue;
                    }
                    self.last_bound = self.last_bound.max(lb);
                    self.taken += 1;
                    return Some((id, lb));
                }
            }
            if self.p.mode == OrderMode::FirstBatch {
                return None;
            }
            let waiting = self.pending.peek().map(|c| c.0.key);
            if !self.windows_done && waiting.is_none_or(|k| k > self.window_cut) {
                let (w, _) = self.window(src, qs);
                self.push_pending(w);
            } else if waiting.is_some() {
                self.rerank_next(src, qs);
            } else if self.next_list < self.limit {
                self.probe_next(src, qs);
            } else if self.ready.is_empty() {
                return None;
            }
        }
    }
}
