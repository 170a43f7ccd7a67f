//! Shared helpers for the integration tests.
#![allow(dead_code)]

use codevec_ivf::metric::normalize_in_place;
use codevec_ivf::rng::Rng;
use codevec_ivf::Metric;

/// `n` points around `k` Gaussian centres in `dim` dimensions (row-major),
/// with the generating cluster of each point.
pub fn blobs(
    n: usize,
    dim: usize,
    k: usize,
    spread: f64,
    seed: u64,
) -> (Vec<f32>, Vec<usize>, Vec<f32>) {
    let mut r = Rng::new(seed);
    let centres: Vec<f32> = (0..k * dim).map(|_| r.normal() as f32).collect();
    let mut data = Vec::with_capacity(n * dim);
    let mut label = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        label.push(c);
        for j in 0..dim {
            data.push(centres[c * dim + j] + (spread * r.normal()) as f32);
        }
    }
    (data, label, centres)
}

/// Normalises every row in place.
pub fn normalize_rows(data: &mut [f32], dim: usize) {
    for row in data.chunks_exact_mut(dim) {
        normalize_in_place(row);
    }
}

/// Exact top-k ids by the reference metric.
pub fn exact_topk(data: &[f32], dim: usize, metric: Metric, q: &[f32], k: usize) -> Vec<u64> {
    let mut d: Vec<(f64, u64)> = data
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, x)| (metric.distance_f64(q, x), i as u64))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.truncate(k);
    d.into_iter().map(|x| x.1).collect()
}

/// Mean recall@k.
pub fn recall(results: &[Vec<u64>], truth: &[Vec<u64>], k: usize) -> f64 {
    let mut hit = 0;
    for (r, t) in results.iter().zip(truth) {
        hit += r.iter().take(k).filter(|id| t[..k].contains(id)).count();
    }
    hit as f64 / (k * results.len()) as f64
}
