//! In-memory reference IVF index: the executable specification of the
//! page-based index, and the thing the benchmarks measure.
//!
//! **Build:** seeded training sample → [`mod@crate::kmeans`] → every vector to
//! its nearest centroid ([`mod@crate::assign`]) → per vector a 1-bit code with
//! its [`CodeFactors`] and an `f16` copy with its [`F16Factors`]
//! ([`IvfModel::encode_into`]).
//!
//! **Search** ([`IvfIndex::search`]): rank centroids, take the `nprobe`
//! nearest lists, estimate every vector of those lists from its code (batch
//! popcount kernel), keep the `rerank` best estimates, compute for each the
//! `f16` lower bound ([`crate::bound`]) and return the `k` smallest lower
//! bounds, ascending (ties by id).
//!
//! **Ordered scan** ([`IvfIndex::iter`]) — for filtered queries and cursors without
//! LIMIT: the crate's [`crate::ordered::OrderedScan`] over these in-memory lists (the pgrx
//! layer runs the same scan over its pages). It yields `(id, lower_bound)`; every value is a
//! rigorous lower bound of the exact distance (never NaN); see [`crate::ordered`] for the
//! order guarantees of each [`OrderMode`].

use crate::assign::nearest_ranks;
use crate::bound::F16Factors;
use crate::defaults;
use crate::kmeans::{self, KMeansConfig, KMeansError, Progress};
use crate::metric::{normalize_in_place, Metric};
use crate::model::{IvfModel, QueryState};
use crate::quant::rabitq::CodeFactors;
use crate::quant::scan::{self, CandidateSink, BLOCK};
use crate::rng::Rng;
// a candidate: estimate (or bound), payload
use crate::bound::BoundQuery;
use crate::ordered::{
    scan_keys, Candidate, KeySink, ListSource, OrderMode, OrderedScan, ScanParams,
};
use crate::topk::{Reservoir, TopK};
use half::f16;
use rayon::prelude::*;
use std::ops::ControlFlow;

/// Build parameters.
#[derive(Clone, Debug)]
pub struct BuildConfig {
    /// Distance metric.
    pub metric: Metric,
    /// Number of lists; `None` = [`defaults::lists_for_rows`].
    pub lists: Option<usize>,
    /// Training sample size; `None` = [`defaults::training_sample`].
    pub training_sample: Option<usize>,
    /// Maximum Lloyd iterations.
    pub kmeans_iters: usize,
    /// Seed for sampling, k-means and the rotation.
    pub seed: u64,
    /// Threads: `None` = rayon's global pool.
    pub threads: Option<usize>,
}

impl BuildConfig {
    /// Defaults for `metric`.
    pub fn new(metric: Metric) -> Self {
        BuildConfig {
            metric,
            lists: None,
            training_sample: None,
            kmeans_iters: defaults::KMEANS_ITERS,
            seed: defaults::SEED,
            threads: None,
        }
    }
}

/// Progress of a build, reported on the calling thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BuildProgress {
    /// k-means progress.
    KMeans(Progress),
    /// All vectors assigned to lists.
    Assigned {
        /// Rows assigned.
        rows: usize,
    },
    /// Lists encoded so far.
    Encoded {
        /// Lists finished.
        lists_done: usize,
        /// Total lists.
        lists: usize,
    },
}

/// Build failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The hook asked to stop.
    Cancelled,
    /// Bad input.
    InvalidInput(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Cancelled => write!(f, "index build cancelled"),
            BuildError::InvalidInput(s) => write!(f, "invalid input: {s}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<KMeansError> for BuildError {
    fn from(e: KMeansError) -> Self {
        match e {
            KMeansError::Cancelled => BuildError::Cancelled,
            KMeansError::InvalidInput(s) => BuildError::InvalidInput(s),
        }
    }
}

/// Search parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchParams {
    /// Results wanted.
    pub k: usize,
    /// Lists probed (first batch of the iterator).
    pub nprobe: usize,
    /// Candidates reranked with the `f16` copy (per batch for the iterator).
    pub rerank: usize,
}

/// Approximate peak memory of [`IvfIndex::build`] for `rows` vectors of
/// dimension `dim` with `lists` lists (default training sample), excluding
/// the caller's input. Sum of: the training-sample copy, the k-means working
/// set ([`kmeans::kmeans_memory_bytes`]), the assignment (16 B per row) and
/// the in-memory index itself (`64 + 2·dim + 16` B per row at `dim` ≤ 384).
/// A page-based build that writes lists out as it goes needs only the first
/// three terms.
pub fn build_memory_bytes(rows: usize, dim: usize, lists: usize) -> usize {
    let sample = defaults::training_sample(lists, rows);
    let words = scan::words_for_dim(dim);
    let per_row_index = words * 8 + 16 + 2 * dim + 8 + 8;
    sample * dim * 4
        + kmeans::kmeans_memory_bytes(sample, dim, lists)
        + rows * 16
        + rows * per_row_index
}

/// One inverted list, structure-of-arrays.
#[derive(Clone, Debug, Default)]
pub struct InvList {
    /// Row ids.
    pub ids: Vec<u64>,
    /// Codes in the block layout of [`crate::quant::scan`] (zero-padded to whole blocks).
    pub codes: Vec<u64>,
    /// Factor blocks ([`scan::FACTOR_BLOCK`] `f32` per code block).
    pub factors: Vec<f32>,
    /// `f16` copies, `len × dim`.
    pub vecs: Vec<f16>,
    /// Factors of the `f16` copies.
    pub f16f: Vec<F16Factors>,
}

impl InvList {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// Estimator factors of vector `i`.
    pub fn code_factors(&self, i: usize) -> CodeFactors {
        scan::read_factors(&self.factors, i)
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        words: usize,
        dim: usize,
        id: u64,
        code: &[u64],
        cf: CodeFactors,
        v16: &[f16],
        ff: F16Factors,
    ) {
        let i = self.ids.len();
        if i.is_multiple_of(BLOCK) {
            self.codes.resize(self.codes.len() + BLOCK * words, 0);
            self.factors
                .resize(self.factors.len() + scan::FACTOR_BLOCK, 0.0);
        }
        scan::write_code(&mut self.codes, words, i, code);
        scan::write_factors(&mut self.factors, i, &cf);
        self.ids.push(id);
        debug_assert_eq!(v16.len(), dim);
        self.vecs.extend_from_slice(v16);
        self.f16f.push(ff);
    }
}

/// Byte counts of an index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexBytes {
    /// 1-bit codes + factor blocks (whole blocks of 8; 16 B factors per vector).
    pub codes: usize,
    /// `f16` copies + 8 B factors per vector.
    pub f16: usize,
    /// 8 B ids.
    pub ids: usize,
    /// Centroids, centre (f32).
    pub centroids: usize,
}

impl IndexBytes {
    /// Sum.
    pub fn total(&self) -> usize {
        self.codes + self.f16 + self.ids + self.centroids
    }
}

/// The in-memory IVF index.
#[derive(Clone, Debug)]
pub struct IvfIndex {
    model: IvfModel,
    lists: Vec<InvList>,
    len: usize,
}

/// Reusable per-thread buffers for [`IvfIndex::search_with`].
#[derive(Clone, Debug, Default)]
pub struct SearchScratch {
    state: QueryState,
    probe: Vec<(u32, f32)>,
    topk: Reservoir,
    cands: Vec<(f32, u64)>,
}

impl SearchScratch {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }
}

#[inline]
fn payload(list: usize, pos: usize) -> u64 {
    ((list as u64) << 32) | pos as u64
}

#[inline]
fn unpayload(p: u64) -> (usize, usize) {
    ((p >> 32) as usize, (p & 0xFFFF_FFFF) as usize)
}

fn run_par<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

impl IvfIndex {
    /// Builds an index over `data` (`n × dim`, row-major). Ids are `0..n`
    /// unless `ids` is given. The hook runs on the calling thread only.
    pub fn build(
        data: &[f32],
        dim: usize,
        ids: Option<&[u64]>,
        cfg: &BuildConfig,
        hook: &dyn Fn(BuildProgress) -> ControlFlow<()>,
    ) -> Result<IvfIndex, BuildError> {
        if dim == 0 || data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(BuildError::InvalidInput(
                "data must be a non-empty n × dim array".into(),
            ));
        }
        let n = data.len() / dim;
        if let Some(ids) = ids {
            if ids.len() != n {
                return Err(BuildError::InvalidInput(format!(
                    "{} ids for {n} vectors",
                    ids.len()
                )));
            }
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(BuildError::InvalidInput("non-finite value in data".into()));
        }
        let metric = cfg.metric;
        let lists = cfg
            .lists
            .unwrap_or_else(|| defaults::lists_for_rows(n))
            .clamp(1, n);
        let sample_n = cfg
            .training_sample
            .unwrap_or_else(|| defaults::training_sample(lists, n))
            .clamp(lists.min(n), n);
        let pool = match cfg.threads {
            Some(t) => Some(
                crate::pool::worker_pool(t, "codevec-ivf-build")
                    .map_err(BuildError::InvalidInput)?,
            ),
            None => None,
        };
        let pool = pool.as_ref();

        // training sample in index space
        let mut rng = Rng::stream(cfg.seed, 0x5A3F1E);
        let mut idx = rng.sample_indices(n, sample_n);
        idx.sort_unstable();
        let mut sample = Vec::with_capacity(sample_n * dim);
        for &i in &idx {
            let start = sample.len();
            sample.extend_from_slice(&data[i * dim..(i + 1) * dim]);
            if metric == Metric::Cosine {
                normalize_in_place(&mut sample[start..]);
            }
        }
        let mut center = vec![0.0f64; dim];
        for row in sample.chunks_exact(dim) {
            for (c, &v) in center.iter_mut().zip(row) {
                *c += v as f64;
            }
        }
        let center: Vec<f32> = center
            .iter()
            .map(|&c| (c / sample_n as f64) as f32)
            .collect();

        let mut kc = KMeansConfig::new(lists, metric.is_spherical());
        kc.max_iters = cfg.kmeans_iters;
        kc.seed = cfg.seed;
        kc.threads = cfg.threads;
        let km = kmeans::kmeans(&sample, dim, &kc, &|p| hook(BuildProgress::KMeans(p)))?;
        drop(sample);
        let model = IvfModel::new(metric, dim, km.centroids, center, cfg.seed);
        let nl = model.nlists();

        let assignment = run_par(pool, || {
            nearest_ranks(data, dim, model.transposed_centroids(), metric)
        });
        if hook(BuildProgress::Assigned { rows: n }).is_break() {
            return Err(BuildError::Cancelled);
        }
        let mut members: Vec<Vec<usize>> = vec![vec![]; nl];
        for (i, &(l, _)) in assignment.iter().enumerate() {
            members[l as usize].push(i);
        }
        drop(assignment);

        let words = model.code_words();
        let mut out_lists: Vec<InvList> = Vec::with_capacity(nl);
        let chunk = 16;
        for start in (0..nl).step_by(chunk) {
            let end = (start + chunk).min(nl);
            let model_ref = &model;
            let members_ref = &members;
            let built: Vec<InvList> = run_par(pool, || {
                (start..end)
                    .into_par_iter()
                    .map(|l| {
                        let mem = &members_ref[l];
                        let mut list = InvList::default();
                        let mut code = vec![0u64; words];
                        let mut v16 = vec![f16::ZERO; dim];
                        for &i in mem {
                            let x = &data[i * dim..(i + 1) * dim];
                            let (cf, ff) = model_ref.encode_into(l, x, &mut code, &mut v16);
                            let id = ids.map_or(i as u64, |ids| ids[i]);
                            list.push(words, dim, id, &code, cf, &v16, ff);
                        }
                        list
                    })
                    .collect()
            });
            out_lists.extend(built);
            if hook(BuildProgress::Encoded {
                lists_done: end,
                lists: nl,
            })
            .is_break()
            {
                return Err(BuildError::Cancelled);
            }
        }
        Ok(IvfIndex {
            model,
            lists: out_lists,
            len: n,
        })
    }

    /// Builds with default parameters and no hook.
    pub fn build_default(data: &[f32], dim: usize, metric: Metric) -> Result<IvfIndex, BuildError> {
        Self::build(data, dim, None, &BuildConfig::new(metric), &|_| {
            ControlFlow::Continue(())
        })
    }

    /// Appends one vector (the `aminsert` path): nearest list, encode, push.
    pub fn insert(&mut self, id: u64, x: &[f32]) {
        assert_eq!(x.len(), self.model.dim());
        assert!(x.iter().all(|v| v.is_finite()), "non-finite vector");
        let l = self.model.assign(x) as usize;
        let e = self.model.encode(l, x);
        let (w, d) = (self.model.code_words(), self.model.dim());
        self.lists[l].push(w, d, id, &e.code, e.factors, &e.vec16, e.f16_factors);
        self.len += 1;
    }

    /// Trained model.
    pub fn model(&self) -> &IvfModel {
        &self.model
    }
    /// Lists.
    pub fn lists(&self) -> &[InvList] {
        &self.lists
    }
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Dimension.
    pub fn dim(&self) -> usize {
        self.model.dim()
    }
    /// Metric.
    pub fn metric(&self) -> Metric {
        self.model.metric()
    }

    /// Storage accounting.
    pub fn bytes(&self) -> IndexBytes {
        let mut b = IndexBytes::default();
        for l in &self.lists {
            b.codes += l.codes.len() * 8 + l.factors.len() * 4;
            b.f16 += l.vecs.len() * 2 + l.len() * 8;
            b.ids += l.len() * 8;
        }
        b.centroids = (self.model.centroids().len() + self.model.dim()) * 4;
        b
    }

    /// Default search parameters for `k` results on this index.
    pub fn default_params(&self, k: usize) -> SearchParams {
        SearchParams {
            k,
            nprobe: defaults::nprobe_for_lists(self.model.nlists()),
            rerank: defaults::rerank_for_k(k),
        }
    }

    /// Top-`k` `(id, lower_bound)` ascending. See the module docs.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Vec<(u64, f32)> {
        let mut s = SearchScratch::new();
        let mut out = vec![];
        self.search_with(query, params, &mut s, &mut out);
        out
    }

    /// [`IvfIndex::search`] with caller-provided buffers.
    pub fn search_with(
        &self,
        query: &[f32],
        params: &SearchParams,
        s: &mut SearchScratch,
        out: &mut Vec<(u64, f32)>,
    ) {
        out.clear();
        self.model.prepare_query(query, &mut s.state);
        s.state.probe_order(params.nprobe.max(1), &mut s.probe);
        s.topk.reset(params.rerank.max(params.k));
        for &(l, _) in &s.probe {
            let l = l as usize;
            let list = &self.lists[l];
            let n = list.len();
            if n == 0 {
                continue;
            }
            let mut sink = ReservoirSink {
                res: &mut s.topk,
                list: l,
            };
            s.state
                .scan_run(l, &list.codes, n, &list.factors, &mut sink);
        }
        s.topk.drain_sorted(&mut s.cands);
        let bq = s.state.bound_query();
        let cands = &s.cands;
        self.rerank(
            &bq,
            cands.len(),
            |j| cands[j].1,
            |id, lb| out.push((id, lb)),
        );
        out.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out.truncate(params.k);
    }

    /// Computes the lower bound of the `n` candidates whose payloads `payload(j)` gives
    /// (prefetching the `f16` copies a few candidates ahead) and reports `(id, lb)`.
    fn rerank(
        &self,
        bq: &crate::bound::BoundQuery<'_>,
        n: usize,
        payload: impl Fn(usize) -> u64,
        mut emit: impl FnMut(u64, f32),
    ) {
        const AHEAD: usize = 6;
        let dim = self.model.dim();
        let fetch = |p: u64| {
            let (l, i) = unpayload(p);
            crate::simd::prefetch(self.lists[l].vecs[i * dim..].as_ptr(), dim * 2);
        };
        for j in 0..n.min(AHEAD) {
            fetch(payload(j));
        }
        for j in 0..n {
            if j + AHEAD < n {
                fetch(payload(j + AHEAD));
            }
            let (l, i) = unpayload(payload(j));
            let list = &self.lists[l];
            emit(
                list.ids[i],
                bq.lower_bound(&list.vecs[i * dim..(i + 1) * dim], list.f16f[i]),
            );
        }
    }

    /// Exact brute-force top-`k` `(id, distance)` (reference; [`Metric::distance_fast`]).
    pub fn exact_search(
        data: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
    ) -> Vec<(u64, f32)> {
        let mut t = TopK::new(k);
        for (i, x) in data.chunks_exact(dim).enumerate() {
            let d = metric.distance_fast(query, x);
            if d < t.threshold() {
                t.push(d, i as u64);
            }
        }
        let mut v = vec![];
        t.drain_sorted(&mut v);
        v.into_iter().map(|(d, i)| (i, d)).collect()
    }

    /// Exact brute-force top-`k` among the ids accepted by `keep` (reference for filtered search).
    pub fn exact_search_filtered(
        data: &[f32],
        dim: usize,
        metric: Metric,
        query: &[f32],
        k: usize,
        keep: impl Fn(u64) -> bool,
    ) -> Vec<(u64, f32)> {
        let mut t = TopK::new(k);
        for (i, x) in data.chunks_exact(dim).enumerate() {
            if keep(i as u64) {
                let d = metric.distance_fast(query, x);
                if d < t.threshold() {
                    t.push(d, i as u64);
                }
            }
        }
        let mut v = vec![];
        t.drain_sorted(&mut v);
        v.into_iter().map(|(d, i)| (i, d)).collect()
    }

    /// Ordered streaming scan ([`crate::ordered`]) of `query` with `params.nprobe` and
    /// `params.rerank` over all lists, in `mode`. `params.k` is ignored.
    pub fn iter(&self, query: &[f32], params: &SearchParams, mode: OrderMode) -> IvfIter<'_> {
        self.iter_with(
            query,
            ScanParams::new(params.nprobe, params.rerank, self.lists.len(), mode),
        )
    }

    /// [`IvfIndex::iter`] with every parameter of the ordered scan.
    pub fn iter_with(&self, query: &[f32], p: ScanParams) -> IvfIter<'_> {
        let mut state = QueryState::new();
        self.model.prepare_query(query, &mut state);
        IvfIter {
            scan: OrderedScan::new(&state, p),
            src: MemSource { index: self },
            state,
        }
    }
}

struct ReservoirSink<'a> {
    res: &'a mut Reservoir,
    list: usize,
}

impl CandidateSink for ReservoirSink<'_> {
    #[inline(always)]
    fn threshold(&self) -> f32 {
        self.res.threshold()
    }
    #[inline(always)]
    fn push(&mut self, i: usize, est: f32) {
        self.res.push(est, payload(self.list, i));
    }
}

/// The in-memory lists as a [`ListSource`] (locator = list and position).
struct MemSource<'a> {
    index: &'a IvfIndex,
}

impl ListSource for MemSource<'_> {
    fn scan_list<K: KeySink>(
        &mut self,
        qs: &QueryState,
        list: usize,
        confidence: f32,
        sink: &mut K,
    ) -> usize {
        let l = &self.index.lists[list];
        if l.is_empty() {
            return 0;
        }
        scan_keys(
            qs,
            list,
            &l.codes,
            l.len(),
            &l.factors,
            confidence,
            |i| (l.ids[i], payload(list, i)),
            sink,
        );
        l.len()
    }

    fn rerank(
        &mut self,
        bq: &BoundQuery<'_>,
        cands: &mut [Candidate],
        emit: &mut dyn FnMut(f32, u64),
    ) {
        self.index
            .rerank(bq, cands.len(), |j| cands[j].loc, |id, lb| emit(lb, id));
    }
}

/// Ordered streaming scan over an [`IvfIndex`]: yields `(id, lower_bound)`.
pub struct IvfIter<'a> {
    scan: OrderedScan,
    src: MemSource<'a>,
    state: QueryState,
}

impl IvfIter<'_> {
    /// Lists probed so far.
    pub fn lists_probed(&self) -> usize {
        self.scan.lists_probed()
    }
    /// Rows left out in strict order (see [`OrderedScan::dropped`]).
    pub fn dropped(&self) -> usize {
        self.scan.dropped()
    }
    /// Candidates reranked so far.
    pub fn reranked(&self) -> usize {
        self.scan.reranked()
    }
}

impl Iterator for IvfIter<'_> {
    type Item = (u64, f32);

    fn next(&mut self) -> Option<(u64, f32)> {
        self.scan.next(&mut self.src, &self.state)
    }
}
