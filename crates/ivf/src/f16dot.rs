//! Mixed-precision kernels: an `f32` query against an `f16` stored vector,
//! converted to `f32` and accumulated in `f32` (never in `f16`).
//!
//! SimSIMD's own `f16` kernels are not used here on purpose: on CPUs with
//! AVX-512 FP16 they accumulate in half precision, whose error would make the
//! rerank lower bound loose (or, with a too-small margin, wrong).
//!
//! **Error bound.** For every level the computed value `ŝ` satisfies
//! `|ŝ − s| ≤ kernel_rel_error(n) · Σ|tᵢ|`, where `tᵢ` are the exact terms
//! (`qᵢ·xᵢ` for the dot product, `(qᵢ − xᵢ)²` for the squared distance) and
//! `kernel_rel_error(n) = (n + 8)·2⁻²³`: each term passes through at most
//! `⌈n/16⌉ + 8` roundings of relative size `2⁻²⁴` (FMA chains per lane, the
//! horizontal reduction, the scalar tail), so `2(n + 8)·2⁻²⁴` is a safe
//! over-estimate. [`crate::bound`] relies on this.

use crate::simd::{self, SimdLevel};
use half::f16;

/// Relative error bound of the kernels in this module for length `n`.
#[inline]
pub fn kernel_rel_error(n: usize) -> f64 {
    (n as f64 + 8.0) * f64::powi(2.0, -23)
}

/// `Σ qᵢ·xᵢ` with runtime dispatch.
#[inline]
pub fn dot_f32_f16(q: &[f32], x: &[f16]) -> f32 {
    dot_f32_f16_at(simd::level(), q, x)
}

/// `Σ (qᵢ − xᵢ)²` with runtime dispatch.
#[inline]
pub fn l2sq_f32_f16(q: &[f32], x: &[f16]) -> f32 {
    l2sq_f32_f16_at(simd::level(), q, x)
}

/// Dot product at an explicit level. Panics if the level is not supported
/// by this CPU or if the lengths differ.
pub fn dot_f32_f16_at(level: SimdLevel, q: &[f32], x: &[f16]) -> f32 {
    assert_eq!(q.len(), x.len(), "dimension mismatch");
    assert!(simd::supported(level), "SIMD level {level:?} not supported");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported(level)` checked above that the CPU has AVX-512F
        // (and the AVX2 group), which is all `x86::dot_avx512` enables; the
        // slices have equal length, which is the function's only other precondition.
        SimdLevel::Avx512 => unsafe { x86::dot_avx512(q, x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported(level)` guarantees AVX2, FMA and F16C; lengths are equal.
        SimdLevel::Avx2 => unsafe { x86::dot_avx2(q, x) },
        _ => dot_scalar(q, x),
    }
}

/// Squared distance at an explicit level. Panics if the level is not
/// supported by this CPU or if the lengths differ.
pub fn l2sq_f32_f16_at(level: SimdLevel, q: &[f32], x: &[f16]) -> f32 {
    assert_eq!(q.len(), x.len(), "dimension mismatch");
    assert!(simd::supported(level), "SIMD level {level:?} not supported");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported(level)` guarantees AVX-512F; lengths are equal.
        SimdLevel::Avx512 => unsafe { x86::l2sq_avx512(q, x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported(level)` guarantees AVX2, FMA and F16C; lengths are equal.
        SimdLevel::Avx2 => unsafe { x86::l2sq_avx2(q, x) },
        _ => l2sq_scalar(q, x),
    }
}

/// Portable version (four independent `f32` accumulators).
#[allow(clippy::needless_range_loop)]
pub fn dot_scalar(q: &[f32], x: &[f16]) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = q.len() / 4;
    for c in 0..chunks {
        for l in 0..4 {
            let i = c * 4 + l;
            acc[l] += q[i] * x[i].to_f32();
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in chunks * 4..q.len() {
        s += q[i] * x[i].to_f32();
    }
    s
}

/// Portable version (four independent `f32` accumulators).
#[allow(clippy::needless_range_loop)]
pub fn l2sq_scalar(q: &[f32], x: &[f16]) -> f32 {
    let mut acc = [0.0f32; 4];
    let chunks = q.len() / 4;
    for c in 0..chunks {
        for l in 0..4 {
            let i = c * 4 + l;
            let d = q[i] - x[i].to_f32();
            acc[l] += d * d;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in chunks * 4..q.len() {
        let d = q[i] - x[i].to_f32();
        s += d * d;
    }
    s
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use half::f16;
    use std::arch::x86_64::*;

    /// # Safety
    /// CPU must support AVX-512F; `q.len() == x.len()`.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub unsafe fn dot_avx512(q: &[f32], x: &[f16]) -> f32 {
        let n = q.len();
        let qp = q.as_ptr();
        let xp = x.as_ptr() as *const u16;
        let mut a0 = _mm512_setzero_ps();
        let mut a1 = _mm512_setzero_ps();
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: i + 32 <= n, so elements i..i+32 of both slices are in bounds;
            // unaligned loads are used.
            let (x0, x1, q0, q1) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(xp.add(i) as *const __m256i)),
                    _mm512_cvtph_ps(_mm256_loadu_si256(xp.add(i + 16) as *const __m256i)),
                    _mm512_loadu_ps(qp.add(i)),
                    _mm512_loadu_ps(qp.add(i + 16)),
                )
            };
            a0 = _mm512_fmadd_ps(q0, x0, a0);
            a1 = _mm512_fmadd_ps(q1, x1, a1);
            i += 32;
        }
        if i + 16 <= n {
            // SAFETY: i + 16 <= n keeps the 16-element loads in bounds.
            let (x0, q0) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(xp.add(i) as *const __m256i)),
                    _mm512_loadu_ps(qp.add(i)),
                )
            };
            a0 = _mm512_fmadd_ps(q0, x0, a0);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        while i < n {
            s += q[i] * x[i].to_f32();
            i += 1;
        }
        s
    }

    /// # Safety
    /// CPU must support AVX-512F; `q.len() == x.len()`.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub unsafe fn l2sq_avx512(q: &[f32], x: &[f16]) -> f32 {
        let n = q.len();
        let qp = q.as_ptr();
        let xp = x.as_ptr() as *const u16;
        let mut a0 = _mm512_setzero_ps();
        let mut a1 = _mm512_setzero_ps();
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: i + 32 <= n, so elements i..i+32 of both slices are in bounds.
            let (x0, x1, q0, q1) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(xp.add(i) as *const __m256i)),
                    _mm512_cvtph_ps(_mm256_loadu_si256(xp.add(i + 16) as *const __m256i)),
                    _mm512_loadu_ps(qp.add(i)),
                    _mm512_loadu_ps(qp.add(i + 16)),
                )
            };
            let d0 = _mm512_sub_ps(q0, x0);
            let d1 = _mm512_sub_ps(q1, x1);
            a0 = _mm512_fmadd_ps(d0, d0, a0);
            a1 = _mm512_fmadd_ps(d1, d1, a1);
            i += 32;
        }
        if i + 16 <= n {
            // SAFETY: i + 16 <= n keeps the 16-element loads in bounds.
            let (x0, q0) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(xp.add(i) as *const __m256i)),
                    _mm512_loadu_ps(qp.add(i)),
                )
            };
            let d0 = _mm512_sub_ps(q0, x0);
            a0 = _mm512_fmadd_ps(d0, d0, a0);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        while i < n {
            let d = q[i] - x[i].to_f32();
            s += d * d;
            i += 1;
        }
        s
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn hsum256(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
        _mm_cvtss_f32(s)
    }

    /// # Safety
    /// CPU must support AVX2, FMA and F16C; `q.len() == x.len()`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_avx2(q: &[f32], x: &[f16]) -> f32 {
        let n = q.len();
        let qp = q.as_ptr();
        let xp = x.as_ptr() as *const u16;
        let mut a0 = _mm256_setzero_ps();
        let mut a1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, so elements i..i+16 of both slices are in bounds.
            let (x0, x1, q0, q1) = unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(xp.add(i) as *const __m128i)),
                    _mm256_cvtph_ps(_mm_loadu_si128(xp.add(i + 8) as *const __m128i)),
                    _mm256_loadu_ps(qp.add(i)),
                    _mm256_loadu_ps(qp.add(i + 8)),
                )
            };
            a0 = _mm256_fmadd_ps(q0, x0, a0);
            a1 = _mm256_fmadd_ps(q1, x1, a1);
            i += 16;
        }
        if i + 8 <= n {
            // SAFETY: i + 8 <= n keeps the 8-element loads in bounds.
            let (x0, q0) = unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(xp.add(i) as *const __m128i)),
                    _mm256_loadu_ps(qp.add(i)),
                )
            };
            a0 = _mm256_fmadd_ps(q0, x0, a0);
            i += 8;
        }
        let mut s = hsum256(_mm256_add_ps(a0, a1));
        while i < n {
            s += q[i] * x[i].to_f32();
            i += 1;
        }
        s
    }

    /// # Safety
    /// CPU must support AVX2, FMA and F16C; `q.len() == x.len()`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn l2sq_avx2(q: &[f32], x: &[f16]) -> f32 {
        let n = q.len();
        let qp = q.as_ptr();
        let xp = x.as_ptr() as *const u16;
        let mut a0 = _mm256_setzero_ps();
        let mut a1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, so elements i..i+16 of both slices are in bounds.
            let (x0, x1, q0, q1) = unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(xp.add(i) as *const __m128i)),
                    _mm256_cvtph_ps(_mm_loadu_si128(xp.add(i + 8) as *const __m128i)),
                    _mm256_loadu_ps(qp.add(i)),
                    _mm256_loadu_ps(qp.add(i + 8)),
                )
            };
            let d0 = _mm256_sub_ps(q0, x0);
            let d1 = _mm256_sub_ps(q1, x1);
            a0 = _mm256_fmadd_ps(d0, d0, a0);
            a1 = _mm256_fmadd_ps(d1, d1, a1);
            i += 16;
        }
        if i + 8 <= n {
            // SAFETY: i + 8 <= n keeps the 8-element loads in bounds.
            let (x0, q0) = unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(xp.add(i) as *const __m128i)),
                    _mm256_loadu_ps(qp.add(i)),
                )
            };
            let d0 = _mm256_sub_ps(q0, x0);
            a0 = _mm256_fmadd_ps(d0, d0, a0);
            i += 8;
        }
        let mut s = hsum256(_mm256_add_ps(a0, a1));
        while i < n {
            let d = q[i] - x[i].to_f32();
            s += d * d;
            i += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn reference(q: &[f32], x: &[f16]) -> (f64, f64, f64, f64) {
        let (mut dot, mut dabs, mut l2) = (0.0f64, 0.0f64, 0.0f64);
        for (&a, &b) in q.iter().zip(x) {
            let (a, b) = (a as f64, b.to_f64());
            dot += a * b;
            dabs += (a * b).abs();
            l2 += (a - b) * (a - b);
        }
        (dot, dabs, l2, l2)
    }

    #[test]
    fn kernels_match_scalar_reference_all_lengths() {
        let mut r = Rng::new(11);
        for n in 1..=1024usize {
            let q: Vec<f32> = (0..n).map(|_| r.normal() as f32).collect();
            let x: Vec<f16> = (0..n).map(|_| f16::from_f64(r.normal())).collect();
            let (dot, dabs, l2, l2abs) = reference(&q, &x);
            let tol = kernel_rel_error(n);
            for level in simd::available_levels() {
                let d = dot_f32_f16_at(level, &q, &x) as f64;
                assert!(
                    (d - dot).abs() <= tol * dabs,
                    "dot {level:?} n={n}: {d} vs {dot}"
                );
                let l = l2sq_f32_f16_at(level, &q, &x) as f64;
                assert!(
                    (l - l2).abs() <= tol * l2abs,
                    "l2sq {level:?} n={n}: {l} vs {l2}"
                );
            }
        }
    }

    #[test]
    fn dispatch_uses_best_level() {
        let q = vec![1.0f32; 100];
        let x = vec![f16::from_f32(2.0); 100];
        assert_eq!(dot_f32_f16(&q, &x), 200.0);
        assert_eq!(l2sq_f32_f16(&q, &x), 100.0);
    }
}
