//! Distance kernels for codevec.
//!
//! Every kernel works on `f32` and on IEEE half precision (`half::f16`) slices of equal
//! length and returns `f64`. All of them are codevec's own ([`kernels`]): they dispatch
//! on the workspace-wide SIMD level of `codevec-simd` (AVX-512, AVX2 + FMA + F16C, or the
//! portable scalar level, capped by `CODEVEC_SIMD`), accumulate in `f32` in one fixed lane
//! layout and reduction order, and so give **bit-identical results on every level and
//! every CPU**. `f16` inputs are widened inside the SIMD registers a block at a time, never
//! into a temporary `f32` vector.
//!
//! **Exact for every finite input.** The `f32` sums are right to `f32` rounding
//! (relative error of order `n·2⁻²⁴` of `Σ|terms|`) unless something overflowed or
//! underflowed, and both are visible in the result:
//! - *Overflow* (a square or product above `f32::MAX`, e.g. elements ≳ 1.8e19) gives
//!   `±inf` or NaN: IEEE addition, subtraction, FMA and `abs` never turn an infinity back
//!   into a finite number, so a finite `f32` result means no partial sum overflowed.
//! - *Underflow*: products below `2⁻¹²⁶` lose relative precision, but each FMA rounding
//!   adds at most `2⁻¹⁵⁰` absolute error, so at most `(n + 64)·2⁻¹⁵⁰ < 1.2·10⁻⁴¹` for
//!   `n ≤ 16 000`. Against a quantity of at least [`TINY`] = `1e-30` that is below
//!   `1.2·10⁻¹¹` relative, far under the `f32` rounding itself.
//!
//! So a call falls back to an `f64` loop ([`exact`]; `f64` holds the product of any two
//! finite `f32`s exactly, and their sum of up to 16 000 terms with relative error
//! `≤ n·2⁻⁵³`) when the `f32` result is not finite, or when the quantity it is judged
//! against is below [`TINY`]: `|a·b|` for the dot product, `Σ(aᵢ − bᵢ)²` for L2, `a·a` or
//! `b·b` for cosine. L1 needs only the overflow check: differences that land in the
//! subnormal range are exact. No upper threshold is needed, since overflow shows itself.
//! `f16` inputs never overflow or underflow in `f32` (their products are exact `f32`
//! numbers in `[2⁻⁴⁸, 2³²]`), so for them the fallback only runs for exact zeros.
//! The fallback decision depends only on the (bit-identical) `f32` results, so it is the
//! same on every level too.
//!
//! [`scalar`] holds plain-loop references used by the tests and the benchmarks.
//!
//! Conventions shared with the SQL layer:
//! - `cosine_distance` is `1 - ab / sqrt(aa·bb)` computed in `f64`, clamped to `[0, 2]`;
//!   when either operand is the zero vector the angle is undefined and the distance is
//!   defined as `1.0` (the distance of two orthogonal vectors): never NaN for finite
//!   inputs, so ordering and indexes stay total. Exactly opposite vectors (`b = -a`) are at
//!   distance exactly `2` and equal vectors at exactly `0`: their sums are negations resp.
//!   copies of each other, computed in the same order.
//! - `negative_inner_product` is `-(a · b)`, so that smaller is closer for every metric.

pub mod exact;
pub mod heap_prefetch;
pub mod kernels;
pub mod scalar;

pub use codevec_simd::SimdLevel;
use half::f16;

/// Smallest `|a·b|`, `Σ(aᵢ − bᵢ)²`, `a·a` or `b·b` trusted from the `f32` kernels (see the
/// crate docs); below it the call is recomputed in `f64`.
pub const TINY: f32 = 1e-30;

/// An element type the kernels accept: `f32` or `half::f16`.
pub trait Element: Copy + Send + Sync + 'static {
    /// Widen to f32 (exact).
    fn to_f32(self) -> f32;
    /// Squared Euclidean distance at `level`.
    fn l2_squared_at(level: SimdLevel, a: &[Self], b: &[Self]) -> f64;
    /// Dot product at `level`.
    fn dot_at(level: SimdLevel, a: &[Self], b: &[Self]) -> f64;
    /// Cosine distance at `level`, with the crate's zero-vector convention.
    fn cosine_at(level: SimdLevel, a: &[Self], b: &[Self]) -> f64;
    /// Sum of absolute differences at `level`.
    fn l1_at(level: SimdLevel, a: &[Self], b: &[Self]) -> f64;

    /// Squared Euclidean distance.
    #[inline]
    fn l2_squared(a: &[Self], b: &[Self]) -> f64 {
        Self::l2_squared_at(codevec_simd::level(), a, b)
    }
    /// Dot product.
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f64 {
        Self::dot_at(codevec_simd::level(), a, b)
    }
    /// Cosine distance (`1.0` when either operand is zero), in `[0, 2]`.
    #[inline]
    fn cosine_raw(a: &[Self], b: &[Self]) -> f64 {
        Self::cosine_at(codevec_simd::level(), a, b)
    }
    /// Sum of absolute differences.
    #[inline]
    fn l1(a: &[Self], b: &[Self]) -> f64 {
        Self::l1_at(codevec_simd::level(), a, b)
    }
}

#[inline]
fn checked_dot<E: Element>(r: f32, a: &[E], b: &[E]) -> f64 {
    if r.is_finite() && r.abs() >= TINY {
        r as f64
    } else {
        exact::dot(a, b)
    }
}

#[inline]
fn checked_l2sq<E: Element>(r: f32, a: &[E], b: &[E]) -> f64 {
    if r.is_finite() && r >= TINY {
        r as f64
    } else {
        exact::l2_squared(a, b)
    }
}

#[inline]
fn checked_l1<E: Element>(r: f32, a: &[E], b: &[E]) -> f64 {
    if r.is_finite() {
        r as f64
    } else {
        exact::l1(a, b)
    }
}

#[inline]
fn checked_cos<E: Element>((ab, aa, bb): (f32, f32, f32), a: &[E], b: &[E]) -> f64 {
    let (ab, aa, bb) =
        if ab.is_finite() && aa.is_finite() && bb.is_finite() && aa >= TINY && bb >= TINY {
            (ab as f64, aa as f64, bb as f64)
        } else {
            exact::cos_parts(a, b)
        };
    cosine_from_sums(ab, aa, bb)
}

/// `1 - ab / sqrt(aa·bb)` clamped to `[0, 2]`; `1.0` when `aa` or `bb` is zero (a zero
/// vector). With `aa`, `bb` widened from `f32`, `aa·bb` is exact in `f64`.
#[inline]
pub fn cosine_from_sums(ab: f64, aa: f64, bb: f64) -> f64 {
    if aa == 0.0 || bb == 0.0 {
        return 1.0;
    }
    (1.0 - ab / (aa * bb).sqrt()).clamp(0.0, 2.0)
}

macro_rules! impl_element {
    ($E:ty, $to_f32:expr, $dot:ident, $l2sq:ident, $l1:ident, $cos:ident) => {
        impl Element for $E {
            #[inline]
            fn to_f32(self) -> f32 {
                $to_f32(self)
            }
            #[inline]
            fn l2_squared_at(level: SimdLevel, a: &[$E], b: &[$E]) -> f64 {
                checked_l2sq(kernels::$l2sq(level, a, b), a, b)
            }
            #[inline]
            fn dot_at(level: SimdLevel, a: &[$E], b: &[$E]) -> f64 {
                checked_dot(kernels::$dot(level, a, b), a, b)
            }
            #[inline]
            fn cosine_at(level: SimdLevel, a: &[$E], b: &[$E]) -> f64 {
                checked_cos(kernels::$cos(level, a, b), a, b)
            }
            #[inline]
            fn l1_at(level: SimdLevel, a: &[$E], b: &[$E]) -> f64 {
                checked_l1(kernels::$l1(level, a, b), a, b)
            }
        }
    };
}

impl_element!(f32, |x: f32| x, dot_f32, l2sq_f32, l1_f32, cos_f32);
impl_element!(f16, f16::to_f32, dot_f16, l2sq_f16, l1_f16, cos_f16);

/// Euclidean distance.
#[inline]
pub fn l2_distance<E: Element>(a: &[E], b: &[E]) -> f64 {
    E::l2_squared(a, b).sqrt()
}

/// Squared Euclidean distance.
#[inline]
pub fn l2_squared<E: Element>(a: &[E], b: &[E]) -> f64 {
    E::l2_squared(a, b)
}

/// Dot product.
#[inline]
pub fn inner_product<E: Element>(a: &[E], b: &[E]) -> f64 {
    E::dot(a, b)
}

/// Negative dot product (the `<#>` operator): smaller is closer.
#[inline]
pub fn negative_inner_product<E: Element>(a: &[E], b: &[E]) -> f64 {
    -E::dot(a, b)
}

/// Cosine distance `1 - cos`, in `[0, 2]`; `1.0` when either operand is the zero vector.
#[inline]
pub fn cosine_distance<E: Element>(a: &[E], b: &[E]) -> f64 {
    E::cosine_raw(a, b)
}

/// L1 (Manhattan, taxicab) distance.
#[inline]
pub fn l1_distance<E: Element>(a: &[E], b: &[E]) -> f64 {
    E::l1(a, b)
}

/// Euclidean norm.
#[inline]
pub fn l2_norm<E: Element>(a: &[E]) -> f64 {
    E::dot(a, a).sqrt()
}

/// [`l2_distance`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn l2_distance_at<E: Element>(level: SimdLevel, a: &[E], b: &[E]) -> f64 {
    E::l2_squared_at(level, a, b).sqrt()
}

/// [`l2_squared`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn l2_squared_at<E: Element>(level: SimdLevel, a: &[E], b: &[E]) -> f64 {
    E::l2_squared_at(level, a, b)
}

/// [`inner_product`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn inner_product_at<E: Element>(level: SimdLevel, a: &[E], b: &[E]) -> f64 {
    E::dot_at(level, a, b)
}

/// [`negative_inner_product`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn negative_inner_product_at<E: Element>(level: SimdLevel, a: &[E], b: &[E]) -> f64 {
    -E::dot_at(level, a, b)
}

/// [`cosine_distance`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn cosine_distance_at<E: Element>(level: SimdLevel, a: &[E], b: &[E]) -> f64 {
    E::cosine_at(level, a, b)
}

/// [`l1_distance`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn l1_distance_at<E: Element>(level: SimdLevel, a: &[E], b: &[E]) -> f64 {
    E::l1_at(level, a, b)
}

/// [`l2_norm`] at an explicit level (panics if the CPU cannot run it).
#[inline]
pub fn l2_norm_at<E: Element>(level: SimdLevel, a: &[E]) -> f64 {
    E::dot_at(level, a, a).sqrt()
}

/// True when every element is zero (either sign).
#[inline]
pub fn is_zero<E: Element>(a: &[E]) -> bool {
    a.iter().all(|x| x.to_f32() == 0.0)
}

/// The SIMD level the kernels use, e.g. `"codevec-simd: avx512; f32 accumulation in 16
/// lanes × 4, bit-identical on every level; f64 recheck of overflow/underflow"`, or
/// `"codevec-simd: avx2 (cpu: avx512, capped by CODEVEC_SIMD=avx2); …"`.
pub fn simd_info() -> String {
    format!(
        "codevec-simd: {}; f32 accumulation in {} lanes × {}, bit-identical on every level; f64 recheck of overflow/underflow",
        codevec_simd::describe(),
        kernels::LANES,
        kernels::ACC
    )
}

#[cfg(test)]
mod tests;
