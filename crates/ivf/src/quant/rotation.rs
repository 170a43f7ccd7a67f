//! Random orthogonal transform used before 1-bit quantization.
//!
//! RaBitQ's error guarantee needs the data to be seen in a random
//! orthonormal basis. A dense random matrix costs `dim²` per query; instead
//! we use a structured "FHT–Kac" rotation (as in the RaBitQ library): each of
//! [`ROUNDS`] rounds flips signs with a seeded random ±1 pattern, applies a
//! normalised Walsh–Hadamard transform to a power-of-two block (alternately
//! the leading and the trailing `2^⌊log₂ dim⌋` coordinates) and, when `dim`
//! is not a power of two, a Givens (Kac) butterfly that mixes the two halves.
//! Every step is orthogonal, so the whole map is orthogonal: norms and inner
//! products are preserved (up to `f32` rounding). Cost `O(dim log dim)`,
//! memory `ROUNDS·dim` bits.

use crate::rng::Rng;
use crate::simd::{self, SimdLevel};

/// Number of sign-flip + Hadamard rounds.
pub const ROUNDS: usize = 4;

/// A seeded orthogonal transform of `R^dim`.
#[derive(Clone, Debug)]
pub struct Rotation {
    dim: usize,
    block: usize,
    /// `ROUNDS × dim` random signs (±1.0).
    signs: Vec<f32>,
}

impl Rotation {
    /// Builds the rotation for `dim` (≥ 1) from a seed.
    pub fn new(dim: usize, seed: u64) -> Self {
        assert!(dim >= 1, "dim must be positive");
        let block = if dim.is_power_of_two() {
            dim
        } else {
            dim.next_power_of_two() / 2
        };
        let mut rng = Rng::stream(seed, 0x5A7A_7105);
        let signs = (0..ROUNDS * dim)
            .map(|_| if rng.next_u64() & 1 == 1 { -1.0 } else { 1.0 })
            .collect();
        Rotation { dim, block, signs }
    }

    /// Dimension.
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Applies the rotation in place (`x.len() == dim`).
    pub fn apply_in_place(&self, x: &mut [f32]) {
        assert_eq!(x.len(), self.dim);
        match simd::level() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `simd::level()` only reports Avx2/Avx512 when the CPU has
            // AVX2 and FMA, the features enabled on `apply_avx2`.
            SimdLevel::Avx2 | SimdLevel::Avx512 => unsafe { self.apply_avx2(x) },
            _ => self.apply_generic(x),
        }
    }

    /// Same code compiled for AVX2 (bit-identical results: no FMA contraction).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn apply_avx2(&self, x: &mut [f32]) {
        self.apply_generic(x)
    }

    #[inline(always)]
    fn apply_generic(&self, x: &mut [f32]) {
        let d = self.dim;
        let b = self.block;
        let half = d / 2;
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let scale = 1.0 / (b as f32).sqrt();
        for r in 0..ROUNDS {
            for (v, &g) in x.iter_mut().zip(&self.signs[r * d..(r + 1) * d]) {
                *v *= g;
            }
            let blk = if r % 2 == 0 {
                &mut x[..b]
            } else {
                &mut x[d - b..]
            };
            fwht(blk);
            for v in blk.iter_mut() {
                *v *= scale;
            }
            if b != d {
                let (lo, hi) = x.split_at_mut(half);
                // For odd d the middle coordinate hi[half] is left alone here;
                // it is covered by both Hadamard blocks.
                for (a, c) in lo.iter_mut().zip(hi.iter_mut()) {
                    let (u, w) = (*a, *c);
                    *a = (u + w) * s;
                    *c = (u - w) * s;
                }
            }
        }
    }

    /// Returns the rotated copy of `x`.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let mut v = x.to_vec();
        self.apply_in_place(&mut v);
        v
    }
}

/// Unnormalised in-place fast Walsh–Hadamard transform (`x.len()` a power of two).
/// The first three butterfly levels run as one radix-8 step per 8 values
/// (no short inner loops); the remaining levels are long, vectorisable loops.
#[inline(always)]
fn fwht(x: &mut [f32]) {
    let n = x.len();
    debug_assert!(n.is_power_of_two());
    let mut h = 1;
    if n >= 8 {
        for c in x.chunks_exact_mut(8) {
            let (a0, a1, a2, a3) = (c[0] + c[1], c[0] - c[1], c[2] + c[3], c[2] - c[3]);
            let (a4, a5, a6, a7) = (c[4] + c[5], c[4] - c[5], c[6] + c[7], c[6] - c[7]);
            let (b0, b1, b2, b3) = (a0 + a2, a1 + a3, a0 - a2, a1 - a3);
            let (b4, b5, b6, b7) = (a4 + a6, a5 + a7, a4 - a6, a5 - a7);
            c[0] = b0 + b4;
            c[1] = b1 + b5;
            c[2] = b2 + b6;
            c[3] = b3 + b7;
            c[4] = b0 - b4;
            c[5] = b1 - b5;
            c[6] = b2 - b6;
            c[7] = b3 - b7;
        }
        h = 8;
    }
    while h < n {
        for blk in x.chunks_exact_mut(2 * h) {
            let (a, b) = blk.split_at_mut(h);
            for (u, w) in a.iter_mut().zip(b.iter_mut()) {
                let (p, q) = (*u, *w);
                *u = p + q;
                *w = p - q;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{dot_f64, norm_f64};

    #[test]
    fn preserves_norms_and_inner_products() {
        let mut rng = Rng::new(9);
        for dim in [1usize, 2, 3, 5, 64, 100, 383, 384, 768, 1000, 1536] {
            let rot = Rotation::new(dim, 42);
            let x: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
            let y: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
            let rx = rot.apply(&x);
            let ry = rot.apply(&y);
            let (nx, nrx) = (norm_f64(&x), norm_f64(&rx));
            assert!((nx - nrx).abs() < 1e-5 * nx, "dim {dim}: {nx} {nrx}");
            let (ip, rip) = (dot_f64(&x, &y), dot_f64(&rx, &ry));
            assert!(
                (ip - rip).abs() < 1e-5 * nx * norm_f64(&y),
                "dim {dim}: {ip} {rip}"
            );
        }
    }

    #[test]
    fn fwht_matches_definition() {
        for n in [1usize, 2, 4, 8, 16, 64, 256] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut y = x.clone();
            fwht(&mut y);
            for (k, &yk) in y.iter().enumerate() {
                // H[k][i] = (-1)^popcount(k & i)
                let e: f32 = x
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| if (k & i).count_ones() % 2 == 0 { v } else { -v })
                    .sum();
                assert!((yk - e).abs() < 1e-4, "n {n} k {k}: {yk} vs {e}");
            }
        }
    }

    #[test]
    fn spreads_a_basis_vector() {
        let dim = 384;
        let rot = Rotation::new(dim, 1);
        let mut e = vec![0.0f32; dim];
        e[7] = 1.0;
        let r = rot.apply(&e);
        let max = r.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // a well-mixed unit vector has no dominant coordinate
        assert!(max < 0.35, "max coordinate {max}");
    }
}
