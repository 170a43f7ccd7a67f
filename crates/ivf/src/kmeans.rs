//! k-means training of the IVF centroids.
//!
//! * **Init:** k-means++ (D² sampling) on a seeded subsample of at most
//!   [`KMeansConfig::init_sample`] points.
//! * **Lloyd iterations:** at most [`KMeansConfig::max_iters`]; stops early
//!   once fewer than `tol · n` points change their cluster.
//! * **Spherical variant** ([`KMeansConfig::spherical`], used for cosine and
//!   inner product): points are assigned by the largest dot product and each
//!   centroid is the *normalised* mean of its points (unit length). For
//!   cosine the caller passes normalised points.
//! * **Parallelism:** the assignment step is split over points with rayon;
//!   the centroid update is a sequential `f64` accumulation in point order,
//!   so the result is bit-identical for a given seed whatever the number of
//!   threads.
//! * **Empty clusters** are re-seeded with the point currently farthest from
//!   its centroid (distinct points, farthest first), then the iteration goes on.
//! * **n ≤ k:** the result has exactly `n` centroids, the points themselves
//!   ([`KMeansResult::k`] tells). If the data has fewer than `k` *distinct*
//!   points, some centroids are duplicates (their lists simply stay empty).
//! * **Cancellation / progress:** the `hook` is called on the *calling
//!   thread only* (between k-means++ steps and between iterations, never from
//!   a rayon worker); returning `ControlFlow::Break(())` aborts with
//!   [`KMeansError::Cancelled`]. It is `&dyn Fn` (not `Sync`), so it cannot be
//!   moved into worker closures.

use crate::assign::nearest_ranks;
use crate::matvec::TransposedCentroids;
use crate::metric::{l2sq_f32, Metric};
use crate::rng::Rng;
use rayon::prelude::*;
use std::ops::ControlFlow;

/// k-means parameters.
#[derive(Clone, Debug)]
pub struct KMeansConfig {
    /// Number of centroids requested.
    pub k: usize,
    /// Maximum number of Lloyd iterations.
    pub max_iters: usize,
    /// Early stop when fewer than `tol · n` points change cluster in an iteration.
    pub tol: f64,
    /// Seed of all random choices.
    pub seed: u64,
    /// Spherical k-means (unit centroids, dot-product assignment).
    pub spherical: bool,
    /// Maximum points used by k-means++ initialisation.
    pub init_sample: usize,
    /// Worker threads: `None` = rayon's global pool, `Some(t)` = a private pool of `t` threads.
    pub threads: Option<usize>,
}

impl KMeansConfig {
    /// Defaults for `k` clusters: 10 iterations, tol 0.5 %, seed 0x5EED,
    /// k-means++ on at most `max(16·k, 4096)` points.
    pub fn new(k: usize, spherical: bool) -> Self {
        KMeansConfig {
            k,
            max_iters: 10,
            tol: 0.005,
            seed: 0x5EED,
            spherical,
            init_sample: (16 * k).max(4096),
            threads: None,
        }
    }
}

/// Progress report passed to the hook.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// k-means++ has chosen `done` of `total` initial centroids.
    Init {
        /// Centroids chosen.
        done: usize,
        /// Centroids wanted.
        total: usize,
    },
    /// Lloyd iteration `iter` (1-based) finished.
    Iteration {
        /// Iteration number (1-based).
        iter: usize,
        /// Configured maximum.
        max_iters: usize,
        /// Points that changed cluster.
        changed: usize,
        /// Total assignment cost.
        inertia: f64,
    },
}

/// Trained centroids.
#[derive(Clone, Debug)]
pub struct KMeansResult {
    /// `k × dim` centroids, row-major.
    pub centroids: Vec<f32>,
    /// Dimension.
    pub dim: usize,
    /// Lloyd iterations run.
    pub iterations: usize,
    /// Sum over points of the assignment cost (squared distance, or `1 − dot` when spherical).
    pub inertia: f64,
}

impl KMeansResult {
    /// Number of centroids (≤ requested `k`, `< k` only when `n < k`).
    pub fn k(&self) -> usize {
        self.centroids.len() / self.dim.max(1)
    }

    /// Centroid `i`.
    pub fn centroid(&self, i: usize) -> &[f32] {
        &self.centroids[i * self.dim..(i + 1) * self.dim]
    }
}

/// Why k-means failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KMeansError {
    /// The hook returned `Break`.
    Cancelled,
    /// Bad arguments (empty data, zero dimension, ragged data, k = 0, non-finite values).
    InvalidInput(String),
}

impl std::fmt::Display for KMeansError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KMeansError::Cancelled => write!(f, "k-means cancelled"),
            KMeansError::InvalidInput(s) => write!(f, "invalid k-means input: {s}"),
        }
    }
}

impl std::error::Error for KMeansError {}

/// Approximate peak memory of [`kmeans`] in bytes for `n` points of
/// dimension `dim` and `k` centroids, *excluding* the caller's `n × dim`
/// input slice: centroids (×2), `f64` sums, per-point assignment and
/// distance, and the k-means++ working set.
pub fn kmeans_memory_bytes(n: usize, dim: usize, k: usize) -> usize {
    let k = k.min(n.max(1));
    let centroids = 2 * k * dim * 4;
    let sums = k * dim * 8 + k * 8;
    let per_point = n * (4 + 4 + 1) + n * 16; // assignment, distance, flags, reseed order
    let init = n.min((16 * k).max(4096)) * (4 + 8 + 8);
    centroids + sums + per_point + init + 4096
}

/// A no-op hook.
pub fn no_hook(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn run_par<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

fn normalize(v: &mut [f32]) {
    crate::metric::normalize_in_place(v);
}

/// Trains centroids on `data` (`n × dim`, row-major).
pub fn kmeans(
    data: &[f32],
    dim: usize,
    cfg: &KMeansConfig,
    hook: &dyn Fn(Progress) -> ControlFlow<()>,
) -> Result<KMeansResult, KMeansError> {
    if dim == 0 {
        return Err(KMeansError::InvalidInput("dim = 0".into()));
    }
    if data.is_empty() || !data.len().is_multiple_of(dim) {
        return Err(KMeansError::InvalidInput(format!(
            "data length {} is not a positive multiple of dim {dim}",
            data.len()
        )));
    }
    if cfg.k == 0 {
        return Err(KMeansError::InvalidInput("k = 0".into()));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(KMeansError::InvalidInput("non-finite value in data".into()));
    }
    let n = data.len() / dim;
    let sph = cfg.spherical;
    let point = |i: usize| &data[i * dim..(i + 1) * dim];

    if n <= cfg.k {
        let mut centroids = data.to_vec();
        if sph {
            centroids.chunks_exact_mut(dim).for_each(normalize);
        }
        return Ok(KMeansResult {
            centroids,
            dim,
            iterations: 0,
            inertia: 0.0,
        });
    }
    let k = cfg.k;
    let pool = match cfg.threads {
        Some(t) => {
            Some(crate::pool::worker_pool(t, "codevec-kmeans").map_err(KMeansError::InvalidInput)?)
        }
        None => None,
    };
    let pool = pool.as_ref();
    let mut rng = Rng::stream(cfg.seed, 0xC1A5);

    // ---- k-means++ on a subsample ----
    let m = n.min(cfg.init_sample.max(k));
    let mut sample = rng.sample_indices(n, m);
    sample.sort_unstable();
    let sp = |i: usize| point(sample[i]);
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.below(m as u64) as usize;
    centroids.extend_from_slice(sp(first));
    if sph {
        normalize(&mut centroids[..dim]);
    }
    // "distance" for D² sampling: squared L2 (for spherical: to the unit centroid)
    let mut d2: Vec<f32> = run_par(pool, || {
        (0..m)
            .into_par_iter()
            .map(|i| l2sq_f32(sp(i), &centroids[..dim]))
            .collect()
    });
    for c in 1..k {
        let total: f64 = d2.iter().map(|&v| v as f64).sum();
        let pick = if total > 0.0 {
            let target = rng.next_f64() * total;
            let mut acc = 0.0f64;
            let mut idx = m - 1;
            for (i, &v) in d2.iter().enumerate() {
                acc += v as f64;
                if acc > target && v > 0.0 {
                    idx = i;
                    break;
                }
            }
            idx
        } else {
            rng.below(m as u64) as usize
        };
        let start = centroids.len();
        centroids.extend_from_slice(sp(pick));
        if sph {
            normalize(&mut centroids[start..]);
        }
        let newc = &centroids[start..];
        run_par(pool, || {
            d2.par_iter_mut().enumerate().for_each(|(i, v)| {
                let d = l2sq_f32(sp(i), newc);
                if d < *v {
                    *v = d;
                }
            })
        });
        if (c % 16 == 0 || c + 1 == k)
            && hook(Progress::Init {
                done: c + 1,
                total: k,
            })
            .is_break()
        {
            return Err(KMeansError::Cancelled);
        }
    }
    drop(d2);

    // ---- Lloyd iterations ----
    let mut assign: Vec<(u32, f32)> = vec![(u32::MAX, 0.0); n];
    let mut tc = TransposedCentroids::default();
    let rank_metric = if sph {
        Metric::InnerProduct
    } else {
        Metric::L2
    };
    let mut iterations = 0;
    let mut inertia = 0.0;
    for iter in 1..=cfg.max_iters.max(1) {
        tc.reset(&centroids, dim);
        let tcr = &tc;
        let new_assign: Vec<(u32, f32)> =
            run_par(pool, || nearest_ranks(data, dim, tcr, rank_metric));
        let changed = new_assign
            .iter()
            .zip(&assign)
            .filter(|(a, b)| a.0 != b.0)
            .count();
        assign = new_assign;
        inertia = assign
            .iter()
            .map(|&(_, d)| if sph { 1.0 + d as f64 } else { d as f64 })
            .sum();
        iterations = iter;

        // update (sequential f64: deterministic)
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (i, &(c, _)) in assign.iter().enumerate() {
            let c = c as usize;
            counts[c] += 1;
            for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(point(i)) {
                *s += v as f64;
            }
        }
        // re-seed empty clusters with the farthest points
        let empties: Vec<usize> = (0..k).filter(|&c| counts[c] == 0).collect();
        let mut reseeded = vec![];
        if !empties.is_empty() {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| assign[b].1.total_cmp(&assign[a].1).then(a.cmp(&b)));
            let mut it = order
                .into_iter()
                .filter(|&i| counts[assign[i].0 as usize] > 1);
            for &c in &empties {
                if let Some(i) = it.next() {
                    reseeded.push((c, i));
                }
            }
        }
        for c in 0..k {
            let dst = &mut centroids[c * dim..(c + 1) * dim];
            if counts[c] > 0 {
                let inv = 1.0 / counts[c] as f64;
                for (d, &s) in dst.iter_mut().zip(&sums[c * dim..(c + 1) * dim]) {
                    *d = (s * inv) as f32;
                }
                if sph {
                    normalize(dst);
                }
            }
        }
        for &(c, i) in &reseeded {
            let dst = &mut centroids[c * dim..(c + 1) * dim];
            dst.copy_from_slice(point(i));
            if sph {
                normalize(dst);
            }
        }
        if hook(Progress::Iteration {
            iter,
            max_iters: cfg.max_iters,
            changed,
            inertia,
        })
        .is_break()
        {
            return Err(KMeansError::Cancelled);
        }
        if reseeded.is_empty() && (changed as f64) < cfg.tol * n as f64 {
            break;
        }
    }
    Ok(KMeansResult {
        centroids,
        dim,
        iterations,
        inertia,
    })
}
