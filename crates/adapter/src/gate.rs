//! Ranking metrics and the acceptance gate: held-out queries ranked against every
//! document given, with and without the adapter.

use crate::linalg::{dot, Exec};

/// Queries ranked together per task (documents are streamed once per block of queries).
const QUERY_BLOCK: usize = 16;
/// Documents per streamed block (384 dims × 256 × 4 B = 384 KiB, about an L2 cache).
const DOC_BLOCK: usize = 256;

/// MRR@10, Recall@1 and Recall@10 over a set of queries with one relevant document each.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RankMetrics {
    /// Mean reciprocal rank, 0 beyond rank 10.
    pub mrr10: f64,
    /// Share of queries whose document came first.
    pub recall1: f64,
    /// Share of queries whose document is in the first 10.
    pub recall10: f64,
    /// Queries measured.
    pub queries: usize,
}

impl RankMetrics {
    /// From 0-based ranks of the relevant document.
    pub fn from_ranks(ranks: &[usize]) -> RankMetrics {
        let n = ranks.len().max(1) as f64;
        RankMetrics {
            mrr10: ranks.iter().map(|&r| reciprocal_rank10(r)).sum::<f64>() / n,
            recall1: ranks.iter().filter(|&&r| r == 0).count() as f64 / n,
            recall10: ranks.iter().filter(|&&r| r < 10).count() as f64 / n,
            queries: ranks.len(),
        }
    }
}

/// `1 / (rank + 1)` within the first 10, else 0.
pub(crate) fn reciprocal_rank10(rank: usize) -> f64 {
    if rank < 10 {
        1.0 / (rank as f64 + 1.0)
    } else {
        0.0
    }
}

/// What the gate measured and decided.
#[derive(Clone, Debug, PartialEq)]
pub struct GateReport {
    /// Held-out pairs (never trained on).
    pub heldout_pairs: usize,
    /// Documents each held-out query was ranked against.
    pub candidates: usize,
    /// Held-out ranking without the adapter.
    pub plain: RankMetrics,
    /// Held-out ranking with it.
    pub adapted: RankMetrics,
    /// `adapted.mrr10 − plain.mrr10`.
    pub gain: f64,
    /// Standard error of `gain` (of the mean of the per-query reciprocal-rank differences).
    pub gain_stderr: f64,
    /// Mean pairwise cosine of the held-out queries without the adapter.
    pub plain_mean_cosine: f64,
    /// The same after the adapter.
    pub adapted_mean_cosine: f64,
    /// The adapter squeezed the queries together ([`crate::COLLAPSE_SPREAD`]).
    pub collapsed: bool,
    /// Activate it: not collapsed, `gain > min_gain` and `gain > gate_z · gain_stderr`.
    pub accepted: bool,
}

/// 0-based rank of each query's relevant document among all `docs` (by cosine: dot with
/// the unit query times the document's inverse norm; ties by ascending document id).
/// `queries` are unit rows.
pub(crate) fn gold_ranks(
    exec: &Exec,
    dims: usize,
    queries: &[f32],
    gold: &[u32],
    docs: &[f32],
    doc_inv_norm: &[f64],
) -> Vec<usize> {
    let n_docs = doc_inv_norm.len();
    let blocks = gold.len().div_ceil(QUERY_BLOCK);
    let per_block: Vec<Vec<usize>> = exec.map(blocks, |blk| {
        let lo = blk * QUERY_BLOCK;
        let hi = (lo + QUERY_BLOCK).min(gold.len());
        let qs: Vec<&[f32]> = (lo..hi)
            .map(|i| &queries[i * dims..(i + 1) * dims])
            .collect();
        let score =
            |q: &[f32], j: usize| dot(q, &docs[j * dims..(j + 1) * dims]) as f64 * doc_inv_norm[j];
        let gold_score: Vec<f64> = (lo..hi)
            .map(|i| score(qs[i - lo], gold[i] as usize))
            .collect();
        let mut rank = vec![0usize; hi - lo];
        let mut start = 0;
        while start < n_docs {
            let end = (start + DOC_BLOCK).min(n_docs);
            for (k, q) in qs.iter().enumerate() {
                let g = gold[lo + k] as usize;
                let gs = gold_score[k];
                for j in start..end {
                    if j == g {
                        continue;
                    }
                    let s = score(q, j);
                    if s > gs || (s == gs && j < g) {
                        rank[k] += 1;
                    }
                }
            }
            start = end;
        }
        rank
    });
    per_block.into_iter().flatten().collect()
}

/// Mean cosine over all pairs `i ≠ j` of unit rows: `(‖Σ a_i‖² − n) / (n (n − 1))`.
pub(crate) fn mean_pairwise_cosine(dims: usize, rows: &[f32]) -> f64 {
    let n = rows.len() / dims;
    if n < 2 {
        return 0.0;
    }
    let mut sum = vec![0.0f64; dims];
    let mut self_dots = 0.0f64;
    for r in rows.chunks_exact(dims) {
        for (s, &x) in sum.iter_mut().zip(r) {
            *s += x as f64;
        }
        self_dots += r.iter().map(|&x| x as f64 * x as f64).sum::<f64>();
    }
    let total: f64 = sum.iter().map(|s| s * s).sum();
    (total - self_dots) / (n as f64 * (n as f64 - 1.0))
}

/// Mean and standard error of the per-query differences of reciprocal rank @10.
pub(crate) fn paired_gain(plain: &[usize], adapted: &[usize]) -> (f64, f64) {
    let n = plain.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let diffs: Vec<f64> = plain
        .iter()
        .zip(adapted)
        .map(|(&p, &a)| reciprocal_rank10(a) - reciprocal_rank10(p))
        .collect();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n as f64 - 1.0);
    (mean, (var / n as f64).sqrt())
}
