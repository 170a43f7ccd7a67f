//! Distance metrics and their exact implementation.
//!
//! Every distance is "smaller is closer":
//!
//! * [`Metric::L2`]: Euclidean distance `‖a − b‖` (with the square root).
//! * [`Metric::Cosine`]: `1 − a·b / (‖a‖‖b‖)`, clamped to `[0, 2]`.
//!   **Zero vectors:** if either vector has norm 0 the cosine similarity is
//!   defined as 0, so the distance is exactly `1.0` (never NaN).
//! * [`Metric::InnerProduct`]: `−a·b` (negative dot product, like pgvector's `<#>`).
//!
//! [`Metric::distance_f64`] is **the** exact distance: it is computed by
//! `codevec-distance`, the crate behind the SQL operators, so the index's
//! recheck and this crate agree bit for bit, on every SIMD level. Those
//! kernels accumulate in `f32` (relative error ≤ `(dim + 8)·2⁻²³` of
//! `Σ|aᵢbᵢ|` resp. of the squared distance) and recompute in `f64` whenever
//! an `f32` sum overflowed or is small enough for underflow to matter, so the
//! result is right for every finite input (huge norms such as 2e19 and tiny
//! ones such as 1e-20 included). The lower bounds of [`crate::bound`] include
//! a margin for the `f32` rounding (see there).

use codevec_distance as cd;

/// The distance function of an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Euclidean distance.
    L2,
    /// `1 − cosine similarity`; 1.0 when either vector is zero.
    Cosine,
    /// Negative inner product.
    InnerProduct,
}

impl Metric {
    /// An estimator's "rank distance" (see [`crate::quant::rabitq`]: the squared distance
    /// for L2, `-q·x` on unit vectors for cosine, `-q·x` for inner product) as the distance
    /// the SQL operator reports, so that estimates compare with lower bounds and exact
    /// distances. Monotone; a negative squared estimate counts as 0.
    #[inline]
    pub fn rank_to_distance(self, rank: f32) -> f32 {
        match self {
            Metric::L2 => rank.max(0.0).sqrt(),
            Metric::Cosine => 1.0 + rank,
            Metric::InnerProduct => rank,
        }
    }

    /// True for the metrics that use spherical k-means (normalised centroids).
    #[inline]
    pub fn is_spherical(self) -> bool {
        !matches!(self, Metric::L2)
    }

    /// The exact distance between two `f32` vectors: what the SQL operator
    /// (`codevec-distance`) returns for them.
    ///
    /// Panics if the lengths differ.
    #[inline]
    pub fn distance_f64(self, a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len(), "dimension mismatch");
        match self {
            Metric::L2 => cd::l2_distance(a, b),
            Metric::InnerProduct => cd::negative_inner_product(a, b),
            Metric::Cosine => cd::cosine_distance(a, b),
        }
    }

    /// [`Metric::distance_f64`] at an explicit SIMD level (for tests; panics if
    /// the CPU cannot run `level`). The result is the same on every level.
    pub fn distance_at(self, level: crate::simd::SimdLevel, a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len(), "dimension mismatch");
        match self {
            Metric::L2 => cd::l2_distance_at(level, a, b),
            Metric::InnerProduct => cd::negative_inner_product_at(level, a, b),
            Metric::Cosine => cd::cosine_distance_at(level, a, b),
        }
    }

    /// The `f64` reference loop of `codevec-distance` (every term exact, `f64`
    /// sums): for tests of the kernels and of the bounds.
    pub fn distance_reference(self, a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len(), "dimension mismatch");
        match self {
            Metric::L2 => cd::scalar::l2_squared(a, b).sqrt(),
            Metric::InnerProduct => -cd::scalar::dot(a, b),
            Metric::Cosine => cd::scalar::cosine_distance(a, b),
        }
    }

    /// Exact distance rounded to `f32`.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        self.distance_f64(a, b) as f32
    }

    /// The same as [`Metric::distance`] (kept for callers of the former
    /// SimSIMD-based fast path): the exact kernels are the fast ones.
    #[inline]
    pub fn distance_fast(self, a: &[f32], b: &[f32]) -> f32 {
        self.distance(a, b)
    }
}

/// `1 − ab/(na·nb)` clamped to `[0, 2]`, and `1.0` if a norm is zero.
#[inline]
pub fn cosine_from_parts(ab: f64, na: f64, nb: f64) -> f64 {
    let den = na * nb;
    if den.is_nan() || den <= 0.0 {
        return 1.0;
    }
    (1.0 - ab / den).clamp(0.0, 2.0)
}

/// Dot product accumulated in `f64`.
#[inline]
pub fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Euclidean norm accumulated in `f64`.
#[inline]
pub fn norm_f64(a: &[f32]) -> f64 {
    a.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()
}

/// SIMD dot product (`codevec-distance`, exact for every finite input), as `f32`.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dimension mismatch");
    cd::inner_product(a, b) as f32
}

/// SIMD squared Euclidean distance (`codevec-distance`), as `f32`.
#[inline]
pub fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dimension mismatch");
    cd::l2_squared(a, b) as f32
}

/// Normalises `v` in place to unit length (computed in `f64`); a zero vector stays zero.
/// Returns the original norm.
pub fn normalize_in_place(v: &mut [f32]) -> f64 {
    let n = norm_f64(v);
    if n > 0.0 && n.is_finite() {
        let inv = 1.0 / n;
        for x in v.iter_mut() {
            *x = (*x as f64 * inv) as f32;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    #[test]
    fn rank_to_distance_matches_the_operators() {
        use super::Metric;
        let (a, b) = ([3.0f32, 0.0], [0.0f32, 4.0]);
        let l2sq = 25.0f32;
        assert_eq!(
            Metric::L2.rank_to_distance(l2sq),
            Metric::L2.distance(&a, &b)
        );
        assert_eq!(Metric::L2.rank_to_distance(-1e-6), 0.0);
        // unit vectors: cosine rank -q·x, distance 1 - cos
        let (u, v) = ([0.6f32, 0.8], [1.0f32, 0.0]);
        let r = -(0.6f32);
        assert!(
            (Metric::Cosine.rank_to_distance(r) - Metric::Cosine.distance(&u, &v)).abs() < 1e-6
        );
        assert_eq!(
            Metric::InnerProduct.rank_to_distance(-0.6),
            Metric::InnerProduct.distance(&u, &v)
        );
    }

    use super::*;

    #[test]
    fn basic_values() {
        let a = [1.0f32, 0.0, 0.0];
        let b = [0.0f32, 2.0, 0.0];
        assert!((Metric::L2.distance(&a, &b) - 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(Metric::InnerProduct.distance(&a, &b), 0.0);
        assert!((Metric::Cosine.distance(&a, &b) - 1.0).abs() < 1e-7);
        assert_eq!(Metric::Cosine.distance(&a, &a), 0.0);
        let c = [-3.0f32, 0.0, 0.0];
        assert!((Metric::Cosine.distance(&a, &c) - 2.0).abs() < 1e-7);
        assert_eq!(Metric::InnerProduct.distance(&a, &c), 3.0);
    }

    #[test]
    fn zero_vector_cosine_is_one() {
        let z = [0.0f32; 4];
        let a = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(Metric::Cosine.distance(&z, &a), 1.0);
        assert_eq!(Metric::Cosine.distance(&a, &z), 1.0);
        assert_eq!(Metric::Cosine.distance(&z, &z), 1.0);
        assert_eq!(Metric::Cosine.distance_fast(&z, &a), 1.0);
    }

    #[test]
    fn fast_matches_reference() {
        let mut r = crate::rng::Rng::new(5);
        for dim in [1usize, 3, 16, 17, 384, 1000] {
            let a: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
            let b: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
            for m in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                let e = m.distance_reference(&a, &b);
                let f = m.distance_fast(&a, &b) as f64;
                assert!(
                    (e - f).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{m:?} {dim} {e} {f}"
                );
            }
        }
    }
}
