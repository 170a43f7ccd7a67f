//! Batch dot products of one or a few points against *all* centroids, with
//! the centroids stored transposed in blocks of 16 ("`[block][dim][16]`").
//!
//! Pairwise kernels (SimSIMD) would reduce each centroid separately with a
//! horizontal sum and a single latency-bound accumulator; here every FMA
//! produces 16 useful lanes, there is no horizontal reduction, and with
//! [`MULTI`] points per call each centroid load feeds several FMAs. This is
//! the hot loop of k-means, of bulk assignment and of ranking lists per query.
//!
//! The transposed copy is stored in **`f16`** (half the memory traffic; the
//! kernels convert to `f32` and accumulate in `f32`). The result is the dot
//! product with the `f16`-rounded centroid: relative error ≤ `2⁻¹¹` of
//! `Σ|qᵢcᵢ|` on top of the `f32` accumulation error. That is irrelevant for
//! what these values are used for (choosing lists, the `base` term of
//! estimates that are anyway only used for ranking); nothing that must be
//! exact or a bound depends on them.

use crate::simd::{self, SimdLevel};
use half::f16;

/// Centroids per block (lanes).
pub const LANES: usize = 16;
/// Points handled per call of the multi-point kernel.
pub const MULTI: usize = 4;

/// Centroids in the transposed block layout, plus their squared norms.
#[derive(Clone, Debug, Default)]
pub struct TransposedCentroids {
    k: usize,
    dim: usize,
    /// `blocks × dim × LANES` `f16`; padding lanes are zero.
    data: Vec<f16>,
    /// `‖c‖²` per centroid (`f32`, computed in `f64`).
    pub norms2: Vec<f32>,
}

impl TransposedCentroids {
    /// Transposes `k × dim` row-major centroids.
    pub fn new(centroids: &[f32], dim: usize) -> Self {
        let mut t = TransposedCentroids::default();
        t.reset(centroids, dim);
        t
    }

    /// Re-fills from new centroids, reusing the allocation.
    pub fn reset(&mut self, centroids: &[f32], dim: usize) {
        assert!(dim > 0 && centroids.len().is_multiple_of(dim));
        let k = centroids.len() / dim;
        let blocks = k.div_ceil(LANES);
        self.k = k;
        self.dim = dim;
        self.data.clear();
        self.data.resize(blocks * dim * LANES, f16::ZERO);
        self.norms2.clear();
        for (c, row) in centroids.chunks_exact(dim).enumerate() {
            let (b, lane) = (c / LANES, c % LANES);
            for (i, &v) in row.iter().enumerate() {
                self.data[(b * dim + i) * LANES + lane] = f16::from_f32(v);
            }
            self.norms2
                .push(row.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32);
        }
    }

    /// Number of centroids.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `out[c] = q·c` for all centroids (`out.len() >= k`).
    #[inline]
    pub fn dots(&self, q: &[f32], out: &mut [f32]) {
        self.dots_at(simd::level(), q, out)
    }

    /// [`TransposedCentroids::dots`] at an explicit level.
    pub fn dots_at(&self, level: SimdLevel, q: &[f32], out: &mut [f32]) {
        assert_eq!(q.len(), self.dim);
        assert!(out.len() >= self.k);
        let mut tmp = [0f32; LANES];
        let blocks = self.k.div_ceil(LANES);
        for b in 0..blocks {
            let blk = &self.data[b * self.dim * LANES..(b + 1) * self.dim * LANES];
            block_dots(level, blk, [q], [&mut tmp]);
            let n = (self.k - b * LANES).min(LANES);
            out[b * LANES..b * LANES + n].copy_from_slice(&tmp[..n]);
        }
    }

    /// `outs[p][c] = qs[p]·c` for [`MULTI`] points at once.
    pub fn dots_multi(&self, qs: [&[f32]; MULTI], outs: [&mut [f32]; MULTI]) {
        self.dots_multi_at(simd::level(), qs, outs)
    }

    /// [`TransposedCentroids::dots_multi`] at an explicit level.
    pub fn dots_multi_at(&self, level: SimdLevel, qs: [&[f32]; MULTI], outs: [&mut [f32]; MULTI]) {
        for p in 0..MULTI {
            assert_eq!(qs[p].len(), self.dim);
            assert!(outs[p].len() >= self.k);
        }
        let mut tmp = [[0f32; LANES]; MULTI];
        let blocks = self.k.div_ceil(LANES);
        for b in 0..blocks {
            let blk = &self.data[b * self.dim * LANES..(b + 1) * self.dim * LANES];
            {
                let [t0, t1, t2, t3] = &mut tmp;
                block_dots(level, blk, qs, [t0, t1, t2, t3]);
            }
            let n = (self.k - b * LANES).min(LANES);
            for p in 0..MULTI {
                outs[p][b * LANES..b * LANES + n].copy_from_slice(&tmp[p][..n]);
            }
        }
    }
}

/// Dot products of `P` points with the 16 centroids of one block.
fn block_dots<const P: usize>(
    level: SimdLevel,
    blk: &[f16],
    qs: [&[f32]; P],
    outs: [&mut [f32; LANES]; P],
) {
    let dim = qs[0].len();
    assert_eq!(blk.len(), dim * LANES);
    assert!(qs.iter().all(|q| q.len() == dim));
    assert!(simd::supported(level), "SIMD level {level:?} not supported");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported` guarantees AVX-512F; the asserts above give
        // `blk.len() == dim * 16` and every query of length `dim`.
        SimdLevel::Avx512 => unsafe { x86::block_dots_avx512(blk, qs, outs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported` guarantees AVX2, FMA and F16C; same length preconditions.
        SimdLevel::Avx2 => unsafe { x86::block_dots_avx2(blk, qs, outs) },
        _ => block_dots_scalar(blk, qs, outs),
    }
}

/// Portable version.
#[allow(clippy::needless_range_loop)]
fn block_dots_scalar<const P: usize>(blk: &[f16], qs: [&[f32]; P], outs: [&mut [f32; LANES]; P]) {
    let dim = qs[0].len();
    for (p, out) in outs.into_iter().enumerate() {
        let mut acc = [0f32; LANES];
        for i in 0..dim {
            let qv = qs[p][i];
            let row = &blk[i * LANES..(i + 1) * LANES];
            for l in 0..LANES {
                acc[l] += qv * row[l].to_f32();
            }
        }
        *out = acc;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::LANES;
    use half::f16;
    use std::arch::x86_64::*;

    /// # Safety
    /// AVX-512F available; `blk.len() == dim * 16`, every `qs[p].len() == dim`.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub unsafe fn block_dots_avx512<const P: usize>(
        blk: &[f16],
        qs: [&[f32]; P],
        outs: [&mut [f32; LANES]; P],
    ) {
        let dim = qs[0].len();
        let bp = blk.as_ptr() as *const u16;
        let mut acc = [_mm512_setzero_ps(); P];
        let mut acc2 = [_mm512_setzero_ps(); P];
        let mut i = 0;
        while i + 2 <= dim {
            // SAFETY: (i + 1) * 16 + 16 <= dim * 16 = blk.len(); 16 f16 = 32 bytes per load.
            let (c0, c1) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(bp.add(i * LANES) as *const __m256i)),
                    _mm512_cvtph_ps(_mm256_loadu_si256(bp.add((i + 1) * LANES) as *const __m256i)),
                )
            };
            for p in 0..P {
                acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(qs[p][i]), c0, acc[p]);
                acc2[p] = _mm512_fmadd_ps(_mm512_set1_ps(qs[p][i + 1]), c1, acc2[p]);
            }
            i += 2;
        }
        if i < dim {
            // SAFETY: i < dim, so i * 16 + 16 <= blk.len().
            let c0 =
                unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(bp.add(i * LANES) as *const __m256i)) };
            for p in 0..P {
                acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(qs[p][i]), c0, acc[p]);
            }
        }
        for (p, out) in outs.into_iter().enumerate() {
            // SAFETY: `out` is exactly 16 f32.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), _mm512_add_ps(acc[p], acc2[p])) };
        }
    }

    /// # Safety
    /// AVX2, FMA and F16C available; `blk.len() == dim * 16`, every `qs[p].len() == dim`.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn block_dots_avx2<const P: usize>(
        blk: &[f16],
        qs: [&[f32]; P],
        outs: [&mut [f32; LANES]; P],
    ) {
        let dim = qs[0].len();
        let bp = blk.as_ptr() as *const u16;
        let mut lo = [_mm256_setzero_ps(); P];
        let mut hi = [_mm256_setzero_ps(); P];
        for i in 0..dim {
            // SAFETY: i < dim, so i * 16 + 16 <= blk.len(); each load reads 8 f16 = 16 bytes.
            let (c0, c1) = unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(bp.add(i * LANES) as *const __m128i)),
                    _mm256_cvtph_ps(_mm_loadu_si128(bp.add(i * LANES + 8) as *const __m128i)),
                )
            };
            for p in 0..P {
                let qv = _mm256_set1_ps(qs[p][i]);
                lo[p] = _mm256_fmadd_ps(qv, c0, lo[p]);
                hi[p] = _mm256_fmadd_ps(qv, c1, hi[p]);
            }
        }
        for (p, out) in outs.into_iter().enumerate() {
            // SAFETY: `out` is exactly 16 f32; the two stores cover [0, 8) and [8, 16).
            unsafe {
                _mm256_storeu_ps(out.as_mut_ptr(), lo[p]);
                _mm256_storeu_ps(out.as_mut_ptr().add(8), hi[p]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn matches_scalar_reference_for_dims_1_to_1024() {
        let mut r = Rng::new(3);
        for dim in 1..=1024usize {
            if dim > 70 && dim % 53 != 0 && dim != 1024 && dim != 384 {
                continue;
            }
            let k = 1 + r.below(40) as usize;
            let cents: Vec<f32> = (0..k * dim).map(|_| r.normal() as f32).collect();
            let t = TransposedCentroids::new(&cents, dim);
            let qs: Vec<Vec<f32>> = (0..MULTI)
                .map(|_| (0..dim).map(|_| r.normal() as f32).collect())
                .collect();
            for level in simd::available_levels() {
                let mut out = vec![0f32; k];
                t.dots_at(level, &qs[0], &mut out);
                let mut m: Vec<Vec<f32>> = vec![vec![0f32; k]; MULTI];
                {
                    let [a, b, c, d] = &mut m[..] else {
                        unreachable!()
                    };
                    t.dots_multi_at(level, [&qs[0], &qs[1], &qs[2], &qs[3]], [a, b, c, d]);
                }
                for c in 0..k {
                    let row = &cents[c * dim..(c + 1) * dim];
                    for p in 0..MULTI {
                        // reference: dot with the f16-rounded centroid, in f64
                        let exact: f64 = row
                            .iter()
                            .zip(&qs[p])
                            .map(|(&a, &b)| f16::from_f32(a).to_f64() * b as f64)
                            .sum();
                        let abs: f64 = row
                            .iter()
                            .zip(&qs[p])
                            .map(|(&a, &b)| (f16::from_f32(a).to_f64() * b as f64).abs())
                            .sum();
                        let tol = crate::f16dot::kernel_rel_error(dim) * abs;
                        assert!(
                            (m[p][c] as f64 - exact).abs() <= tol,
                            "{level:?} dim {dim} c {c}"
                        );
                        if p == 0 {
                            assert!(
                                (out[c] as f64 - exact).abs() <= tol,
                                "{level:?} dim {dim} c {c}"
                            );
                        }
                    }
                }
            }
            let n2: f64 = cents[..dim].iter().map(|&v| v as f64 * v as f64).sum();
            assert!((t.norms2[0] as f64 - n2).abs() <= 1e-6 * n2);
        }
    }
}
