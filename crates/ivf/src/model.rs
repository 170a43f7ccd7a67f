//! The trained, immutable part of an IVF index ([`IvfModel`]) and the
//! per-query state ([`QueryState`]). Both the in-memory reference index
//! ([`crate::index`]) and a page-based implementation use exactly these
//! entry points: `encode` for every inserted vector, `prepare_query` once per
//! scan, `estimate_block_run` per run of code blocks, `lower_bound` per
//! reranked candidate.
//!
//! What must be persisted to rebuild an `IvfModel`: `metric`, `dim`, `seed`
//! (it determines the rotation), the `lists × dim` centroids and the `dim`
//! centre, all as `f32`.

use crate::assign::{centroid_ranks, rank_from_dot, select_lists};
use crate::bound::{encode_f16, BoundQuery, F16Factors};
use crate::matvec::TransposedCentroids;
use crate::metric::{normalize_in_place, Metric};
use crate::quant::query::QuantizedQuery;
use crate::quant::rabitq::{CodeFactors, ListEncoder};
use crate::quant::rotation::Rotation;
use crate::quant::scan::{self, scan_filter, CandidateSink};
use half::f16;

/// Trained quantities of an index.
#[derive(Clone, Debug)]
pub struct IvfModel {
    metric: Metric,
    dim: usize,
    seed: u64,
    centroids: Vec<f32>,
    /// Transposed copy for the batch kernels (derived).
    tcentroids: TransposedCentroids,
    center: Vec<f32>,
    rotation: Rotation,
    /// `R(c − μ)` per list (derived).
    rot_centroids: Vec<f32>,
}

/// Everything stored for one vector in a list entry.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedVector {
    /// 1-bit code, `⌈dim/64⌉` words.
    pub code: Vec<u64>,
    /// Estimator factors.
    pub factors: CodeFactors,
    /// `f16` copy (of the unit vector for cosine).
    pub vec16: Vec<f16>,
    /// Factors of the `f16` copy.
    pub f16_factors: F16Factors,
}

impl IvfModel {
    /// Assembles a model. `centroids` is `lists × dim` (unit rows for the
    /// spherical metrics), `center` has `dim` values.
    pub fn new(
        metric: Metric,
        dim: usize,
        centroids: Vec<f32>,
        center: Vec<f32>,
        seed: u64,
    ) -> Self {
        assert!(dim > 0 && !centroids.is_empty() && centroids.len().is_multiple_of(dim));
        assert_eq!(center.len(), dim);
        let rotation = Rotation::new(dim, seed);
        let mut rot_centroids = Vec::with_capacity(centroids.len());
        for c in centroids.chunks_exact(dim) {
            let diff: Vec<f32> = c.iter().zip(&center).map(|(&a, &b)| a - b).collect();
            rot_centroids.extend(rotation.apply(&diff));
        }
        let tcentroids = TransposedCentroids::new(&centroids, dim);
        IvfModel {
            metric,
            dim,
            seed,
            centroids,
            tcentroids,
            center,
            rotation,
            rot_centroids,
        }
    }

    /// Metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }
    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Rotation seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Number of lists.
    pub fn nlists(&self) -> usize {
        self.centroids.len() / self.dim
    }
    /// `u64` words per code.
    pub fn code_words(&self) -> usize {
        scan::words_for_dim(self.dim)
    }
    /// All centroids, `lists × dim`.
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }
    /// Centroid of list `l`.
    pub fn centroid(&self, l: usize) -> &[f32] {
        &self.centroids[l * self.dim..(l + 1) * self.dim]
    }
    /// Centroids in the transposed kernel layout.
    pub fn transposed_centroids(&self) -> &TransposedCentroids {
        &self.tcentroids
    }
    /// Global centre `μ`.
    pub fn center(&self) -> &[f32] {
        &self.center
    }

    /// Copies `x` into index space (unit length for cosine) into `out`.
    pub fn to_index_space(&self, x: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(x);
        if self.metric == Metric::Cosine {
            normalize_in_place(out);
        }
    }

    /// Nearest list of `x`.
    pub fn assign(&self, x: &[f32]) -> u32 {
        assert_eq!(x.len(), self.dim);
        // argmin is invariant under the cosine normalisation of x
        let mut dots = vec![0f32; self.nlists()];
        self.tcentroids.dots(x, &mut dots);
        let qn2 = if self.metric == Metric::L2 {
            crate::metric::dot_f32(x, x)
        } else {
            0.0
        };
        let mut best = (0u32, f32::INFINITY);
        for (j, (&d, &cn2)) in dots.iter().zip(&self.tcentroids.norms2).enumerate() {
            let r = rank_from_dot(self.metric, qn2, d, cn2);
            if r < best.1 {
                best = (j as u32, r);
            }
        }
        best.0
    }

    /// Encodes `x` (original vector) for list `list` into caller buffers
    /// (`code`: `code_words()` words, `vec16`: `dim` halves).
    pub fn encode_into(
        &self,
        list: usize,
        x: &[f32],
        code: &mut [u64],
        vec16: &mut [f16],
    ) -> (CodeFactors, F16Factors) {
        assert_eq!(x.len(), self.dim);
        let mut xi = Vec::with_capacity(self.dim);
        self.to_index_space(x, &mut xi);
        let enc = ListEncoder::with_rotated_centroid(
            self.metric,
            &self.rotation,
            self.centroid(list),
            &self.rot_centroids[list * self.dim..(list + 1) * self.dim],
        );
        let cf = enc.encode(&xi, code);
        let ff = encode_f16(self.metric, x, vec16);
        (cf, ff)
    }

    /// Encodes `x` for list `list`.
    pub fn encode(&self, list: usize, x: &[f32]) -> EncodedVector {
        let mut code = vec![0u64; self.code_words()];
        let mut vec16 = vec![f16::ZERO; self.dim];
        let (factors, f16_factors) = self.encode_into(list, x, &mut code, &mut vec16);
        EncodedVector {
            code,
            factors,
            vec16,
            f16_factors,
        }
    }

    /// Prepares `state` for query `q`: ranks all lists and quantises the
    /// rotated query. Reuses the buffers of `state`.
    pub fn prepare_query(&self, q: &[f32], state: &mut QueryState) {
        assert_eq!(q.len(), self.dim, "query dimension");
        state.query.clear();
        state.query.extend_from_slice(q);
        self.to_index_space(q, &mut state.qi);
        centroid_ranks(self.metric, &state.qi, &self.tcentroids, &mut state.ranks);
        state.qrot.clear();
        state
            .qrot
            .extend(state.qi.iter().zip(&self.center).map(|(&a, &b)| a - b));
        self.rotation.apply_in_place(&mut state.qrot);
        state.qq.reset(&state.qrot);
        state.metric = self.metric;
        state.qn2 = crate::metric::dot_f32(&state.qi, &state.qi);
    }
}

/// Per-query state (reusable across queries to avoid allocation).
#[derive(Clone, Debug)]
pub struct QueryState {
    metric: Metric,
    /// The original query (what the recheck sees).
    pub query: Vec<f32>,
    /// Query in index space.
    pub qi: Vec<f32>,
    /// Rank value of every list (`‖q − c‖²` for L2, `−q·c` otherwise).
    pub ranks: Vec<f32>,
    /// `R(qi − μ)`.
    pub qrot: Vec<f32>,
    /// Quantised `qrot`.
    pub qq: QuantizedQuery,
    /// `‖qi‖²`.
    qn2: f32,
    dot: Vec<u32>,
    pop: Vec<u32>,
}

impl Default for QueryState {
    fn default() -> Self {
        QueryState {
            metric: Metric::L2,
            query: vec![],
            qi: vec![],
            ranks: vec![],
            qrot: vec![],
            qq: QuantizedQuery::default(),
            qn2: 0.0,
            dot: vec![],
            pop: vec![],
        }
    }
}

impl QueryState {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metric of the model that prepared this state.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// `‖q‖²` of the query in index space.
    pub fn query_norm2(&self) -> f32 {
        self.qn2
    }

    /// The `nprobe` nearest lists `(list, rank)`, nearest first.
    pub fn probe_order(&self, nprobe: usize, out: &mut Vec<(u32, f32)>) {
        select_lists(&self.ranks, nprobe, out);
    }

    /// Estimated rank distances for a run of whole code blocks of list
    /// `list` into `out` (unfused reference path): `blocks`/`fblocks` in the
    /// layout of [`crate::quant::scan`], `out.len() ≤ 8 × blocks` (padding
    /// lanes are ignored). Rank distances are squared L2 for L2 and `−q·x`
    /// (cosine: on unit vectors) otherwise.
    pub fn estimate_block_run(
        &mut self,
        list: usize,
        blocks: &[u64],
        fblocks: &[f32],
        out: &mut [f32],
    ) {
        let words = self.qq.words;
        let nlanes = blocks.len() / words;
        assert!(out.len() <= nlanes);
        if self.dot.len() < nlanes {
            self.dot.resize(nlanes, 0);
            self.pop.resize(nlanes, 0);
        }
        scan::scan(
            blocks,
            words,
            &self.qq.planes,
            &mut self.dot[..nlanes],
            &mut self.pop[..nlanes],
        );
        let c = self.qq.consts(self.ranks[list]);
        for (i, o) in out.iter_mut().enumerate() {
            let f = scan::read_factors(fblocks, i);
            *o = c.apply(self.dot[i], self.pop[i], f.add, f.scale);
        }
    }

    /// Fused scan of the first `n` vectors of a run of whole code blocks of
    /// list `list` (see [`crate::quant::scan::scan_filter`]): every vector
    /// whose estimated rank distance is `<= sink.threshold()` is passed to
    /// `sink.push(position_in_run, estimate)`.
    pub fn scan_run<S: CandidateSink>(
        &self,
        list: usize,
        blocks: &[u64],
        n: usize,
        fblocks: &[f32],
        sink: &mut S,
    ) {
        let c = self.qq.consts(self.ranks[list]);
        scan_filter(blocks, self.qq.words, &self.qq.planes, n, fblocks, &c, sink);
    }

    /// Lower-bound evaluator for the rerank stage.
    pub fn bound_query(&self) -> BoundQuery<'_> {
        BoundQuery::new(self.metric, &self.query)
    }
}
