//! The `f16` rerank stage and its **rigorous lower bound** of the exact distance.
//!
//! Each indexed vector keeps an `f16` copy `x̂` plus two `f32` factors
//! ([`F16Factors`]): `norm = ‖x‖` (rounded up) and `eps = ‖x − x̂‖` (rounded
//! up; computed exactly in `f64` at encode time). For [`Metric::Cosine`] the
//! stored copy is of the unit vector `u = x/‖x‖` and `eps = ‖u − û‖`.
//!
//! Derivation (`q` the `f32` query, `s̃` a kernel result, `γ_k` =
//! [`kernel_rel_error`]`(dim)` the kernel's relative error w.r.t. `Σ|terms|`,
//! `γ_r` = [`recheck_rel_error`]`(dim)` the allowance for the *recheck*
//! computing the exact distance in `f32`):
//!
//! * **L2**: `‖q − x‖ ≥ ‖q − x̂‖ − ‖x − x̂‖` (triangle inequality) and
//!   `‖q − x̂‖² ≥ s̃/(1 + γ_k)` (all terms positive), so
//!   `lb = (√(s̃/(1+γ_k)) − eps)·(1 − γ_r)`, clamped at 0.
//! * **Inner product**: `−q·x = −q·x̂ − q·(x − x̂) ≥ −q·x̂ − ‖q‖·eps`
//!   (Cauchy–Schwarz) and `|s̃ − q·x̂| ≤ γ_k‖q‖‖x̂‖ ≤ γ_k‖q‖(norm + eps)`, so
//!   `lb = −s̃ − ‖q‖·(eps + (γ_k + γ_r)(norm + eps))`.
//! * **Cosine**: `cos(q,x) = q·u/‖q‖ ≤ q·û/‖q‖ + eps` and
//!   `|s̃ − q·û| ≤ γ_k‖q‖(1 + eps)`, so
//!   `lb = 1 − s̃/‖q‖ − eps − γ_k(1 + eps) − 3γ_r`, clamped to `[0, 2]`.
//!   If `‖q‖ = 0` or `x = 0` the exact distance is 1 by definition and `lb = 1`.
//!
//! All final arithmetic is in `f64` with a further `10⁻¹²` relative slack, and
//! the result is rounded *down* to `f32`. If the `f16` copy overflowed
//! (`|xᵢ| > 65504`, `eps = ∞`) or a kernel result is not finite, the bound
//! falls back to the trivial one from the norms (`|‖q‖ − ‖x‖|` for L2,
//! `−‖q‖‖x‖` for inner product, 0 for cosine) — still valid, only loose.
//!
//! **Extreme norms.** `γ_k` is a *relative* error bound, which underflow
//! breaks: an `f32` product or sum below `2⁻¹²⁶` is rounded with an absolute
//! error of up to `2⁻¹⁵⁰`. The bounds therefore also subtract
//! [`underflow_abs_error`]`(dim)` from the kernel result (L2, inner product).
//! For cosine the query is first scaled by an exact power of two to a norm in
//! `[½, 2]` when `‖q‖` lies outside `[2⁻⁶⁴, 2⁶⁴]` (cosine does not depend on the
//! query's scale), so neither underflow nor overflow can occur in the kernel.
//! The recheck (the operator, `codevec-distance`) is right for every finite
//! input, tiny and huge norms included: it recomputes in `f64` where its `f32`
//! sums overflow or underflow (so it reports the true cosine of a row of norm
//! 2e19 or of a query of norm 1e-20, not 1.0 or 0), and `γ_r` covers what is
//! left of its rounding.
//!
//! Typical tightness for unit vectors of dimension 384: `eps ≈ 1.4·10⁻⁴`,
//! `γ ≈ 4.7·10⁻⁵`, so the gap to the exact distance is ≈ 2–4·10⁻⁴.
//! Inputs must be finite.

use crate::f16dot::{self, kernel_rel_error};
use crate::metric::{norm_f64, Metric};
use half::f16;

/// Per-vector factors of the `f16` copy (8 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct F16Factors {
    /// `‖x‖` of the original vector, rounded up (0 iff `x = 0`).
    pub norm: f32,
    /// `‖x − x̂‖` (cosine: `‖x/‖x‖ − û‖`), rounded up; `+∞` if the copy overflowed.
    pub eps: f32,
}

/// Relative error allowed for the recheck's own exact-distance computation:
/// any `f32`-accumulating dot product / squared distance of length `dim`
/// (sequential, pairwise or SIMD, with or without FMA) stays within it.
#[inline]
pub fn recheck_rel_error(dim: usize) -> f64 {
    (dim as f64 + 8.0) * f64::powi(2.0, -23)
}

const SLACK: f64 = 1e-12;

/// Absolute error that underflow can add to an `f32`-accumulated dot product or
/// squared distance of length `dim` (each of at most `dim + 8` roundings loses
/// at most `2⁻¹⁵⁰` when its result is subnormal); counted twice to be safe.
#[inline]
pub fn underflow_abs_error(dim: usize) -> f64 {
    (dim as f64 + 8.0) * f64::powi(2.0, -149)
}

/// Smallest `f32` not above `x`.
#[inline]
pub fn f32_round_down(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) > x {
        f.next_down()
    } else {
        f
    }
}

/// Largest `f32` not below `x`.
#[inline]
pub fn f32_round_up(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) < x {
        f.next_up()
    } else {
        f
    }
}

/// Writes the `f16` copy of `x` (length `x.len()`) into `out` and returns its factors.
pub fn encode_f16(metric: Metric, x: &[f32], out: &mut [f16]) -> F16Factors {
    assert_eq!(x.len(), out.len());
    let n = norm_f64(x);
    let norm = f32_round_up(n);
    let mut err2 = 0.0f64;
    let mut overflow = false;
    match metric {
        Metric::Cosine => {
            if n == 0.0 {
                out.iter_mut().for_each(|v| *v = f16::ZERO);
                return F16Factors {
                    norm: 0.0,
                    eps: 0.0,
                };
            }
            for (o, &v) in out.iter_mut().zip(x) {
                let u = v as f64 / n;
                let h = f16::from_f64(u);
                *o = h;
                let e = u - h.to_f64();
                err2 += e * e;
            }
        }
        Metric::L2 | Metric::InnerProduct => {
            for (o, &v) in out.iter_mut().zip(x) {
                let h = f16::from_f32(v);
                *o = h;
                if !h.is_finite() {
                    overflow = true;
                }
                let e = v as f64 - h.to_f64();
                err2 += e * e;
            }
        }
    }
    let eps = if overflow || !err2.is_finite() {
        f32::INFINITY
    } else {
        f32_round_up(err2.sqrt() * (1.0 + SLACK))
    };
    F16Factors { norm, eps }
}

/// A query prepared for many lower-bound evaluations.
#[derive(Clone, Debug)]
pub struct BoundQuery<'a> {
    metric: Metric,
    q: &'a [f32],
    qnorm: f64,
    gk: f64,
    gr: f64,
    eu: f64,
    /// Cosine only, when `‖q‖` is outside `[2⁻⁶⁴, 2⁶⁴]`: `q·2ᵏ` with norm in
    /// `[½, 2]`, and that norm.
    scaled: Option<(Vec<f32>, f64)>,
}

impl<'a> BoundQuery<'a> {
    /// Prepares `q` (the query exactly as the recheck will see it).
    pub fn new(metric: Metric, q: &'a [f32]) -> Self {
        let dim = q.len();
        let qnorm = norm_f64(q);
        let scaled = if metric == Metric::Cosine
            && qnorm > 0.0
            && !(f64::powi(2.0, -64)..=f64::powi(2.0, 64)).contains(&qnorm)
        {
            // q·2ᵏ is exact except for elements pushed below the subnormal range,
            // which lose at most 2⁻¹⁵⁰ each: negligible against the scaled norm ≥ ½
            // (covered by SLACK).
            let k = -(qnorm.log2().round() as i32);
            let f = f64::powi(2.0, k);
            let v: Vec<f32> = q.iter().map(|&x| (x as f64 * f) as f32).collect();
            let n = norm_f64(&v);
            Some((v, n))
        } else {
            None
        };
        BoundQuery {
            metric,
            q,
            qnorm,
            gk: kernel_rel_error(dim),
            gr: recheck_rel_error(dim),
            eu: underflow_abs_error(dim),
            scaled,
        }
    }

    /// The query norm (`f64`).
    #[inline]
    pub fn query_norm(&self) -> f64 {
        self.qnorm
    }

    /// Lower bound of `metric.distance(q, x)` from the `f16` copy of `x`.
    #[inline]
    pub fn lower_bound(&self, x16: &[f16], f: F16Factors) -> f32 {
        debug_assert_eq!(x16.len(), self.q.len());
        let (gk, gr) = (self.gk, self.gr);
        let eps = f.eps as f64;
        let norm = f.norm as f64;
        let qn = self.qnorm;
        let lb = match self.metric {
            Metric::L2 => {
                let s = if eps.is_finite() {
                    f16dot::l2sq_f32_f16(self.q, x16) as f64
                } else {
                    f64::NAN
                };
                if s.is_finite() {
                    let s = (s - self.eu).max(0.0);
                    let d = (s / (1.0 + gk)).sqrt() * (1.0 - SLACK);
                    ((d - eps * (1.0 + SLACK)) * (1.0 - gr)).max(0.0)
                } else {
                    // ‖x‖ is known only up to one f32 ulp (rounded up): use [norm(1−2⁻²³), norm];
                    // a norm rounded up to +∞ was above f32::MAX.
                    let lo = if norm.is_finite() {
                        norm * (1.0 - f64::powi(2.0, -23))
                    } else {
                        f32::MAX as f64
                    };
                    let gap = if qn >= norm {
                        qn - norm
                    } else {
                        (lo - qn).max(0.0)
                    };
                    (gap * (1.0 - gr) * (1.0 - SLACK)).max(0.0)
                }
            }
            Metric::InnerProduct => {
                if qn == 0.0 {
                    // −q·x = 0 exactly
                    return 0.0;
                }
                let s = if eps.is_finite() {
                    f16dot::dot_f32_f16(self.q, x16) as f64
                } else {
                    f64::NAN
                };
                if s.is_finite() {
                    -s - self.eu - qn * (eps + (gk + gr + SLACK) * (norm + eps)) * (1.0 + SLACK)
                } else {
                    -qn * norm * (1.0 + gr) * (1.0 + SLACK)
                }
            }
            Metric::Cosine => {
                if qn == 0.0 || norm == 0.0 {
                    return 1.0;
                }
                let (q, qn) = match &self.scaled {
                    Some((v, n)) => (&v[..], *n),
                    None => (self.q, qn),
                };
                let s = f16dot::dot_f32_f16(q, x16) as f64;
                if s.is_finite() && eps.is_finite() {
                    let cos_hi = (s + self.eu) / qn + eps + gk * (1.0 + eps) + 3.0 * gr + SLACK;
                    (1.0 - cos_hi).clamp(0.0, 2.0)
                } else {
                    0.0
                }
            }
        };
        f32_round_down(lb)
    }
}

/// One-shot form: lower bound of `metric.distance(query, x)` given the
/// `f16` copy of `x` and its factors. Provably `≤` the exact distance
/// (and `≤` any `f32`-accumulating recomputation of it).
pub fn lower_bound(metric: Metric, query: &[f32], x16: &[f16], factors: F16Factors) -> f32 {
    BoundQuery::new(metric, query).lower_bound(x16, factors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn check(metric: Metric, q: &[f32], x: &[f32]) -> f64 {
        let mut h = vec![f16::ZERO; x.len()];
        let f = encode_f16(metric, x, &mut h);
        let lb = lower_bound(metric, q, &h, f) as f64;
        assert!(!lb.is_nan(), "{metric:?}: NaN bound");
        // the operator (codevec-distance) at every SIMD level, and the f64 reference
        let exact = metric.distance_f64(q, x);
        for level in crate::simd::available_levels() {
            let d = metric.distance_at(level, q, x);
            assert_eq!(d.to_bits(), exact.to_bits(), "{metric:?} {level:?}");
        }
        let reference = metric.distance_reference(q, x);
        let fast = metric.distance_fast(q, x) as f64;
        assert!(lb <= exact, "{metric:?}: lb {lb} > exact {exact}");
        assert!(
            lb <= reference,
            "{metric:?}: lb {lb} > f64 reference {reference}"
        );
        assert!(lb <= fast, "{metric:?}: lb {lb} > f32 recheck {fast}");
        exact - lb
    }

    #[test]
    fn lower_bound_property_random() {
        let mut r = Rng::new(99);
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            let mut max_gap = 0.0f64;
            for t in 0..3000 {
                let dim = 1 + r.below(520) as usize;
                let scale = [1.0, 0.05, 30.0, 1e-3][t % 4];
                let q: Vec<f32> = (0..dim).map(|_| (r.normal() * scale) as f32).collect();
                let x: Vec<f32> = if t % 7 == 0 {
                    // near-duplicate of the query
                    q.iter()
                        .map(|&v| v + (r.normal() * 1e-4 * scale) as f32)
                        .collect()
                } else {
                    (0..dim).map(|_| (r.normal() * scale) as f32).collect()
                };
                let gap = check(metric, &q, &x);
                if scale == 1.0 && dim >= 64 {
                    // relative to the vector scale: unit-ish vectors have norm ≈ √dim
                    max_gap = max_gap.max(gap / (dim as f64));
                }
            }
            assert!(max_gap < 1e-3, "{metric:?}: gap {max_gap}");
        }
    }

    #[test]
    fn lower_bound_tight_for_unit_vectors() {
        let mut r = Rng::new(5);
        let dim = 384;
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            let mut worst = 0.0f64;
            for _ in 0..2000 {
                let mut q: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
                let mut x: Vec<f32> = q.iter().map(|&v| v + r.normal() as f32).collect();
                crate::metric::normalize_in_place(&mut q);
                crate::metric::normalize_in_place(&mut x);
                worst = worst.max(check(metric, &q, &x));
            }
            assert!(worst < 1e-3, "{metric:?}: worst gap {worst}");
        }
    }

    #[test]
    fn edge_cases() {
        let z = vec![0.0f32; 16];
        let a: Vec<f32> = (0..16).map(|i| i as f32 - 7.5).collect();
        for m in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            check(m, &z, &a);
            check(m, &a, &z);
            check(m, &z, &z);
            check(m, &a, &a);
        }
        // cosine with a zero vector: exactly 1
        let mut h = vec![f16::ZERO; 16];
        let f = encode_f16(Metric::Cosine, &z, &mut h);
        assert_eq!(lower_bound(Metric::Cosine, &a, &h, f), 1.0);
        // overflow of the f16 copy: trivial but valid bounds
        let big: Vec<f32> = (0..16).map(|i| if i == 3 { 1e6 } else { 1.0 }).collect();
        let f = encode_f16(Metric::L2, &big, &mut h);
        assert!(f.eps.is_infinite());
        for m in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            let g = check(m, &a, &big);
            assert!(g.is_finite());
        }
        // tiny and subnormal-range vectors
        let tiny: Vec<f32> = (0..16).map(|i| (i as f32 - 8.0) * 1e-7).collect();
        for m in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            check(m, &a, &tiny);
            check(m, &tiny, &a);
            check(m, &tiny, &tiny);
        }
    }

    /// Reliability review #4: a row of norm 2e19 and tiny-norm queries (and the
    /// other way round): every bound stays at or below the operator's distance.
    #[test]
    fn extreme_norms_keep_bounds_below_the_operator() {
        let rows: Vec<Vec<f32>> = vec![
            vec![2e19, 1.0],
            vec![2e19, 0.0],
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![-1.0, 0.1],
            vec![1e-20, 1e-20],
            vec![1e-20, -2e-20],
            vec![3e38, -3e38],
            vec![1e-45, 0.0],
        ];
        let queries: Vec<Vec<f32>> = vec![
            vec![-1.0, 0.0],
            vec![-1e-20, 0.0],
            vec![1e-20, 1e-20],
            vec![1e-41, -1e-42],
            vec![2e19, 1.0],
            vec![-3e38, 1.0],
            vec![0.0, 0.0],
        ];
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            for x in &rows {
                for q in &queries {
                    check(metric, q, x);
                }
            }
        }
        // the review's repro: the cosine of [2e19,1] and [-1,0] is ~2, and so is the bound
        let x = [2e19f32, 1.0];
        let mut h = [f16::ZERO; 2];
        let f = encode_f16(Metric::Cosine, &x, &mut h);
        for q in [[-1.0f32, 0.0], [-1e-20, 0.0], [-1e-44, 0.0]] {
            let lb = lower_bound(Metric::Cosine, &q, &h, f) as f64;
            let d = Metric::Cosine.distance_f64(&q, &x);
            assert!(d > 1.999 && lb > 1.99 && lb <= d, "{q:?}: lb {lb}, d {d}");
        }
        // longer vectors: one huge element in the row, a tiny query
        let mut r = Rng::new(7);
        for dim in [16usize, 384] {
            let mut x: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
            x[3] = 2e19;
            for scale in [1e-20, 1e-30, 1e-40, 1.0, 1e19] {
                let q: Vec<f32> = (0..dim).map(|_| (r.normal() * scale) as f32).collect();
                for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                    check(metric, &q, &x);
                    check(metric, &x, &q);
                }
            }
        }
    }

    #[test]
    fn tiny_scales_random() {
        let mut r = Rng::new(11);
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            for t in 0..600 {
                let dim = 1 + r.below(100) as usize;
                let sq = [1e-20, 1e-30, 1e-39, 1e-43, 1e19, 1.0][t % 6];
                let sx = [1e-20, 1.0, 1e-39, 1e19, 1e-4][t % 5];
                let q: Vec<f32> = (0..dim).map(|_| (r.normal() * sq) as f32).collect();
                let x: Vec<f32> = (0..dim).map(|_| (r.normal() * sx) as f32).collect();
                check(metric, &q, &x);
            }
        }
    }

    #[test]
    fn rounding_helpers() {
        let x = 0.1f64;
        assert!((f32_round_down(x) as f64) <= x);
        assert!((f32_round_up(x) as f64) >= x);
        assert_eq!(f32_round_down(0.5), 0.5);
    }
}
