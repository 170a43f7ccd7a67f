//! RaBitQ-style 1-bit encoding of residuals and its distance estimator.
//!
//! Notation (all in "index space": for [`Metric::Cosine`] vectors are first
//! normalised to unit length, which turns cosine into inner product):
//! data vector `x`, its list centroid `c`, residual `r = x − c`, a global
//! centre `μ` (mean of the training sample) and the orthogonal rotation `R`.
//!
//! * code `x_b ∈ {0,1}^D`, `x_bᵢ = [ (R r)ᵢ > 0 ]`; the quantised unit vector
//!   is `ō = R⁻¹(2x_b − 1)/√D`.
//! * `⟨ō, o⟩ = Σ|(Rr)ᵢ| / (√D‖r‖)` with `o = r/‖r‖` (≈ 0.8 in high dimension).
//! * RaBitQ's estimator `⟨o, v⟩ ≈ ⟨ō, v⟩/⟨ō, o⟩` is unbiased for any `v`;
//!   its error behaves like a centred variable with standard deviation
//!   `σ = ‖v‖·√(1 − ⟨ō,o⟩²)/(⟨ō,o⟩·√(D − 1))`. RaBitQ's bound is `ε₀·σ`
//!   with ε₀ = [`EPS0`] = 1.9 (the paper's default; on the real 384-d data
//!   ≈ 95 % of estimates fall inside it, ≈ 99.5 % inside `3σ`). It is a
//!   *probabilistic* bound, so it is only ever used for ranking, never for
//!   the distances the index reports.
//! * Applied to `v = q − c`: `⟨r, q − c⟩ ≈ K·⟨2x_b − 1, R(q − c)⟩` with
//!   `K = ‖r‖·‖Rr‖/Σ|(Rr)ᵢ|`, and `R(q − c) = R(q − μ) − R(c − μ)`. The term
//!   `C = ⟨2x_b − 1, R(c − μ)⟩` is a per-vector constant, so it is folded into
//!   the stored factors and *one* quantised query `R(q − μ)` serves all lists.
//!
//! Estimated "rank distance" of a vector (smaller is closer):
//!
//! * L2 (squared distance): `‖q−x‖² = ‖q−c‖² + ‖r‖² − 2⟨r, q−c⟩`
//! * inner product / cosine: `−⟨q, x⟩ = −⟨q, c⟩ − ⟨c, r⟩ − ⟨r, q−c⟩`
//!   (for cosine `1 − cos = 1 + that`, on normalised vectors).
//!
//! Both have the form `est = base(list) + add + scale·Ŝ` where
//! `base = ‖q−c‖²` resp. `−⟨q,c⟩` (the value already computed when ranking
//! centroids), `Ŝ = ⟨2x_b − 1, q̃⟩` from the popcount kernel, and per vector
//! `add`, `scale` are the stored [`CodeFactors`]. The error's `σ` is
//! `err · ‖q − c‖`.
//!
//! **Design note (global query quantisation).** Quantising `R(q − μ)` once
//! per query instead of `R(q − c)` per list saves the per-list
//! quantisation, but adds a rounding error proportional to `‖q − μ‖` rather
//! than `‖q − c‖`. For normalised embeddings (codevec's case: cosine on
//! unit vectors) the two are of the same size and the effect is not
//! measurable (7-bit query planes gave the same error on the real data as
//! 4-bit ones). For L2 data whose clusters lie far from the global mean
//! relative to their radius, estimates get noisier; the `f16` rerank keeps
//! results exact-bounded, only a larger rerank depth may be needed.

use super::rotation::Rotation;
use crate::metric::Metric;

/// Confidence multiplier of the RaBitQ error bound.
pub const EPS0: f32 = 1.9;

/// Per-vector factors stored next to the code (4 × `f32` in the factor block).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CodeFactors {
    /// `popcount(code)` (stored so the scan kernel need not recount it).
    pub pop: u32,
    /// Additive constant of the estimate.
    pub add: f32,
    /// Multiplier of `Ŝ = ⟨2x_b − 1, q̃⟩` (sign of the metric folded in).
    pub scale: f32,
    /// Error-bound factor: half-width = `EPS0 · err · ‖q − c‖`.
    pub err: f32,
}

/// Multiplier `m` in `est = base + rest + m·⟨r, q−c⟩` for a metric.
#[inline]
fn ip_multiplier(metric: Metric) -> f64 {
    match metric {
        Metric::L2 => -2.0,
        Metric::Cosine | Metric::InnerProduct => -1.0,
    }
}

/// Encoder for one list (centroid).
#[derive(Clone, Debug)]
pub struct ListEncoder<'a> {
    metric: Metric,
    rotation: &'a Rotation,
    centroid: &'a [f32],
    /// `R(c − μ)`.
    rot_centroid: std::borrow::Cow<'a, [f32]>,
}

impl<'a> ListEncoder<'a> {
    /// Prepares encoding against `centroid` with global centre `center` (both
    /// in index space, length `rotation.dim()`).
    pub fn new(
        metric: Metric,
        rotation: &'a Rotation,
        center: &[f32],
        centroid: &'a [f32],
    ) -> Self {
        assert_eq!(center.len(), rotation.dim());
        assert_eq!(centroid.len(), rotation.dim());
        let diff: Vec<f32> = centroid.iter().zip(center).map(|(&c, &m)| c - m).collect();
        let rot_centroid = std::borrow::Cow::Owned(rotation.apply(&diff));
        ListEncoder {
            metric,
            rotation,
            centroid,
            rot_centroid,
        }
    }

    /// Like [`ListEncoder::new`] with `R(c − μ)` already computed.
    pub fn with_rotated_centroid(
        metric: Metric,
        rotation: &'a Rotation,
        centroid: &'a [f32],
        rot_centroid: &'a [f32],
    ) -> Self {
        assert_eq!(centroid.len(), rotation.dim());
        assert_eq!(rot_centroid.len(), rotation.dim());
        ListEncoder {
            metric,
            rotation,
            centroid,
            rot_centroid: std::borrow::Cow::Borrowed(rot_centroid),
        }
    }

    /// Encodes index-space vector `x`; writes `⌈D/64⌉` words to `code`.
    pub fn encode(&self, x: &[f32], code: &mut [u64]) -> CodeFactors {
        let d = self.rotation.dim();
        assert_eq!(x.len(), d);
        let words = d.div_ceil(64);
        assert_eq!(code.len(), words);
        let mut r: Vec<f32> = x.iter().zip(self.centroid).map(|(&a, &c)| a - c).collect();
        let r_norm2: f64 = x
            .iter()
            .zip(self.centroid)
            .map(|(&a, &c)| {
                let t = a as f64 - c as f64;
                t * t
            })
            .sum();
        let c_dot_r: f64 = x
            .iter()
            .zip(self.centroid)
            .map(|(&a, &c)| c as f64 * (a as f64 - c as f64))
            .sum();
        self.rotation.apply_in_place(&mut r);
        code.iter_mut().for_each(|w| *w = 0);
        let (mut abs_sum, mut rr2, mut cterm) = (0.0f64, 0.0f64, 0.0f64);
        for (i, &v) in r.iter().enumerate() {
            let v64 = v as f64;
            abs_sum += v64.abs();
            rr2 += v64 * v64;
            let rc = self.rot_centroid[i] as f64;
            if v > 0.0 {
                code[i / 64] |= 1u64 << (i % 64);
                cterm += rc;
            } else {
                cterm -= rc;
            }
        }
        let m = ip_multiplier(self.metric);
        let r_norm = r_norm2.sqrt();
        let (k, err) = if abs_sum > 0.0 && rr2 > 0.0 {
            let rr = rr2.sqrt();
            let o_dot = (abs_sum / ((d as f64).sqrt() * rr)).min(1.0);
            let k = r_norm * rr / abs_sum;
            let err = if d > 1 {
                r_norm * (1.0 - o_dot * o_dot).max(0.0).sqrt() / o_dot / ((d - 1) as f64).sqrt()
            } else {
                0.0
            };
            (k, err)
        } else {
            (0.0, 0.0)
        };
        let add = match self.metric {
            Metric::L2 => r_norm2,
            Metric::Cosine | Metric::InnerProduct => -c_dot_r,
        } - m * k * cterm;
        let pop = code.iter().map(|w| w.count_ones()).sum();
        CodeFactors {
            pop,
            add: add as f32,
            scale: (m * k) as f32,
            err: (err * m.abs()) as f32,
        }
    }
}

/// Turns kernel outputs into estimated rank distances:
/// `out[i] = base + add[i] + scale[i]·(2(Δ·dot[i] + v_l·pop[i]) − Σq̃)`.
#[inline]
pub fn estimate(
    qq: &super::query::QuantizedQuery,
    base: f32,
    dot: &[u32],
    pop: &[u32],
    factors_add: &[f32],
    factors_scale: &[f32],
    out: &mut [f32],
) {
    let n = out.len();
    let (dot, pop, add, scale) = (&dot[..n], &pop[..n], &factors_add[..n], &factors_scale[..n]);
    let c = qq.consts(base);
    for i in 0..n {
        out[i] = c.apply(dot[i], pop[i], add[i], scale[i]);
    }
}

/// Converts a rank distance to an (approximate) metric distance.
#[inline]
pub fn rank_to_distance(metric: Metric, rank: f32) -> f32 {
    match metric {
        Metric::L2 => rank.max(0.0).sqrt(),
        Metric::InnerProduct => rank,
        Metric::Cosine => (1.0 + rank).clamp(0.0, 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::QuantizedQuery;
    use super::super::scan;
    use super::*;
    use crate::metric::{dot_f64, normalize_in_place};
    use crate::rng::Rng;

    /// Estimated rank distances of `xs` (single list) for query `q`.
    fn run(
        metric: Metric,
        dim: usize,
        xs: &[Vec<f32>],
        c: &[f32],
        mu: &[f32],
        q: &[f32],
    ) -> (Vec<f32>, Vec<CodeFactors>) {
        let rot = Rotation::new(dim, 77);
        let enc = ListEncoder::new(metric, &rot, mu, c);
        let words = scan::words_for_dim(dim);
        let mut blocks = vec![0u64; scan::blocks_len(xs.len(), words)];
        let mut code = vec![0u64; words];
        let mut fs = vec![];
        for (i, x) in xs.iter().enumerate() {
            fs.push(enc.encode(x, &mut code));
            scan::write_code(&mut blocks, words, i, &code);
        }
        let qm: Vec<f32> = q.iter().zip(mu).map(|(&a, &b)| a - b).collect();
        let qq = QuantizedQuery::new(&rot.apply(&qm));
        let nv = blocks.len() / words;
        let (mut dot, mut pop) = (vec![0u32; nv], vec![0u32; nv]);
        scan::scan(&blocks, words, &qq.planes, &mut dot, &mut pop);
        let base = match metric {
            Metric::L2 => q
                .iter()
                .zip(c)
                .map(|(&a, &b)| (a - b) * (a - b))
                .sum::<f32>(),
            _ => -(dot_f64(q, c) as f32),
        };
        let add: Vec<f32> = fs.iter().map(|f| f.add).collect();
        let scale: Vec<f32> = fs.iter().map(|f| f.scale).collect();
        let mut out = vec![0f32; xs.len()];
        estimate(&qq, base, &dot, &pop, &add, &scale, &mut out);
        (out, fs)
    }

    #[test]
    fn estimator_error_within_bound_and_unbiased() {
        let dim = 256;
        let mut rng = Rng::new(123);
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let mut c: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
            if metric.is_spherical() {
                normalize_in_place(&mut c);
            }
            // global centre near the cluster, as for normalised embeddings
            // (see the design note in the module docs)
            let spread = if metric.is_spherical() { 0.02 } else { 0.08 };
            let mu: Vec<f32> = c
                .iter()
                .map(|&v| v + (spread * rng.normal()) as f32)
                .collect();
            let mut xs = vec![];
            for _ in 0..2000 {
                let mut x: Vec<f32> = c.iter().map(|&v| v + 0.08 * rng.normal() as f32).collect();
                if metric == Metric::Cosine {
                    normalize_in_place(&mut x);
                }
                xs.push(x);
            }
            let mut q: Vec<f32> = c.iter().map(|&v| v + 0.08 * rng.normal() as f32).collect();
            if metric == Metric::Cosine {
                normalize_in_place(&mut q);
            }
            let (est, fs) = run(metric, dim, &xs, &c, &mu, &q);
            let qc = q
                .iter()
                .zip(&c)
                .map(|(&a, &b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            let (mut outside, mut outside3, mut bias, mut scale_sum) =
                (0usize, 0usize, 0.0f64, 0.0f64);
            for (i, x) in xs.iter().enumerate() {
                let exact = match metric {
                    Metric::L2 => x
                        .iter()
                        .zip(&q)
                        .map(|(&a, &b)| ((a - b) as f64).powi(2))
                        .sum::<f64>(),
                    _ => -dot_f64(x, &q),
                };
                let e = est[i] as f64 - exact;
                let sigma = fs[i].err as f64 * qc;
                let half = EPS0 as f64 * sigma;
                if e.abs() > half + 1e-5 {
                    outside += 1;
                }
                if e.abs() > 3.0 * sigma + 1e-5 {
                    outside3 += 1;
                }
                bias += e;
                scale_sum += half;
            }
            assert!(
                outside * 100 <= xs.len() * 8,
                "{metric:?}: {outside} outside EPS0·σ"
            );
            assert!(
                outside3 * 100 <= xs.len(),
                "{metric:?}: {outside3} outside 3σ"
            );
            let mean_bias = bias / xs.len() as f64;
            let mean_half = scale_sum / xs.len() as f64;
            assert!(
                mean_bias.abs() < 0.2 * mean_half,
                "{metric:?}: bias {mean_bias} vs half-width {mean_half}"
            );
        }
    }

    #[test]
    fn vector_equal_to_centroid_is_exact() {
        let dim = 64;
        let c: Vec<f32> = (0..dim).map(|i| i as f32 * 0.01).collect();
        let mu = vec![0.0f32; dim];
        let q: Vec<f32> = (0..dim).map(|i| 0.5 - i as f32 * 0.003).collect();
        let (est, fs) = run(Metric::L2, dim, std::slice::from_ref(&c), &c, &mu, &q);
        let exact: f32 = q.iter().zip(&c).map(|(&a, &b)| (a - b) * (a - b)).sum();
        assert_eq!(fs[0].scale, 0.0);
        assert!((est[0] - exact).abs() < 1e-5);
    }
}
