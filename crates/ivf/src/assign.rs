//! Assigning vectors to lists and ranking lists for a query.
//!
//! Centroids are `k × dim` row-major. For [`Metric::Cosine`] and
//! [`Metric::InnerProduct`] they are expected to be unit length (spherical
//! k-means); the nearest list is then the one with the largest dot product,
//! which for cosine equals the smallest cosine distance.
//!
//! The heavy lifting is done by the transposed-centroid kernels of
//! [`crate::matvec`]; the *rank* of a centroid is `‖q‖² + ‖c‖² − 2q·c`
//! (squared L2, clamped at 0) for L2 and `−q·c` otherwise (smaller is nearer).

use crate::matvec::{TransposedCentroids, MULTI};
use crate::metric::{dot_f32, l2sq_f32, Metric};
use rayon::prelude::*;

/// Rank of a centroid from `q·c`, `‖q‖²` and `‖c‖²`.
#[inline(always)]
pub fn rank_from_dot(metric: Metric, qn2: f32, dot: f32, cn2: f32) -> f32 {
    match metric {
        Metric::L2 => (qn2 + cn2 - 2.0 * dot).max(0.0),
        Metric::Cosine | Metric::InnerProduct => -dot,
    }
}

/// Ranks of all centroids for (index-space) query `q` into `out` (resized to `k`).
pub fn centroid_ranks(
    metric: Metric,
    q: &[f32],
    centroids: &TransposedCentroids,
    out: &mut Vec<f32>,
) {
    out.resize(centroids.k(), 0.0);
    centroids.dots(q, out);
    let qn2 = if metric == Metric::L2 {
        dot_f32(q, q)
    } else {
        0.0
    };
    for (r, &cn2) in out.iter_mut().zip(&centroids.norms2) {
        *r = rank_from_dot(metric, qn2, *r, cn2);
    }
}

/// Nearest centroid by rank for each of the `n × dim` points (ties: lower
/// index), with the rank value. Parallel over chunks of points.
pub fn nearest_ranks(
    points: &[f32],
    dim: usize,
    centroids: &TransposedCentroids,
    metric: Metric,
) -> Vec<(u32, f32)> {
    assert!(dim > 0 && points.len().is_multiple_of(dim));
    let k = centroids.k();
    assert!(k > 0, "no centroids");
    const CHUNK: usize = 64;
    let mut out = vec![(0u32, 0f32); points.len() / dim];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, res)| {
        let base = ci * CHUNK;
        let mut bufs = vec![vec![0f32; k]; MULTI];
        let mut p = 0;
        while p < res.len() {
            let m = (res.len() - p).min(MULTI);
            let pt = |j: usize| {
                let i = base + p + j.min(m - 1);
                &points[i * dim..(i + 1) * dim]
            };
            {
                let [b0, b1, b2, b3] = &mut bufs[..] else {
                    unreachable!()
                };
                centroids.dots_multi([pt(0), pt(1), pt(2), pt(3)], [b0, b1, b2, b3]);
            }
            for j in 0..m {
                let x = pt(j);
                let qn2 = if metric == Metric::L2 {
                    dot_f32(x, x)
                } else {
                    0.0
                };
                let mut best = (0u32, f32::INFINITY);
                for (c, (&d, &cn2)) in bufs[j].iter().zip(&centroids.norms2).enumerate() {
                    let r = rank_from_dot(metric, qn2, d, cn2);
                    if r < best.1 {
                        best = (c as u32, r);
                    }
                }
                res[p + j] = best;
            }
            p += m;
        }
    });
    out
}

/// For each vector (`n × dim`, row-major) its nearest list and the metric
/// distance to that centroid (Euclidean for L2, `−dot` for inner product,
/// `1 − cos` for cosine). Runs in parallel (rayon); ties go to the lower list.
pub fn assign(vectors: &[f32], dim: usize, centroids: &[f32], metric: Metric) -> Vec<(u32, f32)> {
    assert!(dim > 0 && vectors.len().is_multiple_of(dim) && centroids.len().is_multiple_of(dim));
    assert!(!centroids.is_empty(), "no centroids");
    let t = TransposedCentroids::new(centroids, dim);
    let mut res = nearest_ranks(vectors, dim, &t, metric);
    res.par_iter_mut().enumerate().for_each(|(i, r)| {
        let x = &vectors[i * dim..(i + 1) * dim];
        let c = &centroids[r.0 as usize * dim..(r.0 as usize + 1) * dim];
        r.1 = match metric {
            Metric::L2 => l2sq_f32(x, c).max(0.0).sqrt(),
            Metric::InnerProduct => -dot_f32(x, c),
            Metric::Cosine => Metric::Cosine.distance_fast(x, c),
        };
    });
    res
}

/// The `nprobe` lists nearest to `query`, nearest first (ties: lower id first).
pub fn nearest_lists(query: &[f32], centroids: &[f32], metric: Metric, nprobe: usize) -> Vec<u32> {
    let t = TransposedCentroids::new(centroids, query.len());
    let mut ranks = Vec::new();
    centroid_ranks(metric, query, &t, &mut ranks);
    let mut order = Vec::new();
    select_lists(&ranks, nprobe, &mut order);
    order.into_iter().map(|(l, _)| l).collect()
}

/// Writes the `nprobe` smallest `(list, rank)` pairs to `out`, sorted ascending.
pub fn select_lists(ranks: &[f32], nprobe: usize, out: &mut Vec<(u32, f32)>) {
    out.clear();
    out.extend(ranks.iter().enumerate().map(|(i, &r)| (i as u32, r)));
    let cmp = |a: &(u32, f32), b: &(u32, f32)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
    let p = nprobe.min(out.len());
    if p == 0 {
        out.clear();
        return;
    }
    if p < out.len() {
        out.select_nth_unstable_by(p - 1, cmp);
        out.truncate(p);
    }
    out.sort_unstable_by(cmp);
}

/// Squared L2 between two vectors via `codevec-distance` (re-exported for callers that rank by hand).
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    l2sq_f32(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn assign_and_probe_order() {
        let dim = 2;
        let cents = vec![0.0f32, 0.0, 10.0, 0.0, 0.0, 10.0];
        let xs = vec![1.0f32, 1.0, 9.0, 1.0, 1.0, 8.0];
        let a = assign(&xs, dim, &cents, Metric::L2);
        assert_eq!(a.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!((a[0].1 - 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(
            nearest_lists(&[6.0, 1.0], &cents, Metric::L2, 3),
            vec![1, 0, 2]
        );
        assert_eq!(nearest_lists(&[6.0, 1.0], &cents, Metric::L2, 1), vec![1]);
        assert_eq!(nearest_lists(&[6.0, 1.0], &cents, Metric::L2, 10).len(), 3);
        let unit = vec![1.0f32, 0.0, 0.0, 1.0];
        assert_eq!(
            nearest_lists(&[0.2, 0.9], &unit, Metric::Cosine, 2),
            vec![1, 0]
        );
        let a = assign(&[3.0, 0.1], 2, &unit, Metric::InnerProduct);
        assert_eq!(a[0].0, 0);
        assert_eq!(a[0].1, -3.0);
    }

    #[test]
    fn assign_matches_brute_force() {
        let mut r = Rng::new(8);
        let (dim, k, n) = (37, 23, 301);
        let cents: Vec<f32> = (0..k * dim).map(|_| r.normal() as f32).collect();
        let xs: Vec<f32> = (0..n * dim).map(|_| r.normal() as f32).collect();
        for metric in [Metric::L2, Metric::InnerProduct] {
            let a = assign(&xs, dim, &cents, metric);
            for i in 0..n {
                let x = &xs[i * dim..(i + 1) * dim];
                let d: Vec<f64> = cents
                    .chunks_exact(dim)
                    .map(|c| metric.distance_f64(x, c))
                    .collect();
                let best = d.iter().cloned().fold(f64::INFINITY, f64::min);
                // the chosen list is optimal up to the f16 rounding of the
                // transposed centroids (2^-11 of Σ|x_i c_i|, about 0.02 here)
                let tol = if metric == Metric::L2 {
                    0.05 / best.max(1.0)
                } else {
                    0.05
                };
                assert!(
                    d[a[i].0 as usize] <= best + tol,
                    "{metric:?} {i}: {} vs {best}",
                    d[a[i].0 as usize]
                );
                assert!((a[i].1 as f64 - d[a[i].0 as usize]).abs() < 1e-3 * (1.0 + best.abs()));
            }
        }
    }
}
