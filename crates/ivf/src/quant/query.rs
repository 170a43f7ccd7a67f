//! Per-query preprocessing for the 1-bit code estimator.
//!
//! The rotated, centred query `q' = R(q − μ)` is scalar-quantised once per
//! query to [`QUERY_BITS`] bits per coordinate, `q̃ᵢ = v_l + Δ·uᵢ` with
//! `uᵢ ∈ [0, 15]` (round to nearest, deterministic), and stored as four
//! bit-planes so that `⟨x_b, u⟩ = Σⱼ 2ʲ·popcount(x_b ∧ planeⱼ)`.
//! Because the centroid enters the estimator only through per-vector
//! constants folded in at encode time (see [`super::rabitq`]), the same
//! planes serve every list: the per-list work is a few scalars.

/// Bits per query coordinate.
pub const QUERY_BITS: usize = 4;

/// A quantised rotated query.
#[derive(Clone, Debug, Default)]
pub struct QuantizedQuery {
    /// `QUERY_BITS × words` bit-planes; plane `j` word `w` at `j*words + w`.
    pub planes: Vec<u64>,
    /// Code words per vector (`⌈dim/64⌉`).
    pub words: usize,
    /// Lowest quantisation level `v_l`.
    pub vl: f32,
    /// Quantisation step `Δ`.
    pub delta: f32,
    /// `Σᵢ q̃ᵢ` over the real coordinates.
    pub sum: f32,
}

impl QuantizedQuery {
    /// Quantises the rotated query `qrot` (length `dim`).
    pub fn new(qrot: &[f32]) -> Self {
        let mut q = QuantizedQuery::default();
        q.reset(qrot);
        q
    }

    /// Re-quantises into the existing buffers (no allocation after the first use).
    pub fn reset(&mut self, qrot: &[f32]) {
        let dim = qrot.len();
        let words = dim.div_ceil(64);
        self.words = words;
        self.planes.clear();
        self.planes.resize(QUERY_BITS * words, 0);
        // 8 independent lanes so the min/max reduction vectorises
        let (mut lo8, mut hi8) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
        let mut chunks = qrot.chunks_exact(8);
        for c in &mut chunks {
            for l in 0..8 {
                lo8[l] = if c[l] < lo8[l] { c[l] } else { lo8[l] };
                hi8[l] = if c[l] > hi8[l] { c[l] } else { hi8[l] };
            }
        }
        for &v in chunks.remainder() {
            lo8[0] = if v < lo8[0] { v } else { lo8[0] };
            hi8[0] = if v > hi8[0] { v } else { hi8[0] };
        }
        let lo = lo8.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        let hi = hi8.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        if dim == 0 || !lo.is_finite() || !hi.is_finite() {
            self.vl = 0.0;
            self.delta = 0.0;
            self.sum = 0.0;
            return;
        }
        let levels = ((1u32 << QUERY_BITS) - 1) as f32;
        let delta = (hi - lo) / levels;
        let inv = if delta > 0.0 { 1.0 / delta } else { 0.0 };
        let mut usum: u64 = 0;
        let mut u: [u8; 64];
        for (w, chunk) in qrot.chunks(64).enumerate() {
            u = [0u8; 64];
            for (ui, &v) in u.iter_mut().zip(chunk) {
                // v − lo ≥ 0, so truncation after +0.5 rounds to nearest
                *ui = (((v - lo) * inv + 0.5) as u32).min(levels as u32) as u8;
            }
            let mut p = [0u64; QUERY_BITS];
            for &ui in &u[..chunk.len()] {
                usum += ui as u64;
            }
            // 8 levels at a time: gather bit j of 8 bytes into one byte
            // (multiply-shift "movemask"); unused tail bytes are zero.
            for (g, bytes) in u.chunks_exact(8).enumerate() {
                let x = u64::from_le_bytes(bytes.try_into().unwrap());
                for (j, pj) in p.iter_mut().enumerate() {
                    let bits = ((x >> j) & 0x0101_0101_0101_0101)
                        .wrapping_mul(0x0102_0408_1020_4080)
                        >> 56;
                    *pj |= bits << (8 * g);
                }
            }
            for (j, &pj) in p.iter().enumerate() {
                self.planes[j * words + w] = pj;
            }
        }
        self.vl = lo;
        self.delta = delta;
        self.sum = (lo as f64 * dim as f64 + delta as f64 * usum as f64) as f32;
    }

    /// Estimator constants for a list whose rank term is `base`.
    #[inline]
    pub fn consts(&self, base: f32) -> super::scan::EstimateConsts {
        super::scan::EstimateConsts {
            base,
            two_delta: 2.0 * self.delta,
            two_vl: 2.0 * self.vl,
            sum: self.sum,
        }
    }

    /// `⟨2x_b − 1, q̃⟩` from the kernel outputs `dot = ⟨x_b, u⟩` and `pop = |x_b|`.
    #[inline(always)]
    pub fn signed_ip(&self, dot: u32, pop: u32) -> f32 {
        2.0 * (self.delta * dot as f32 + self.vl * pop as f32) - self.sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn planes_reconstruct_query() {
        let mut r = Rng::new(2);
        let dim = 130;
        let q: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
        let qq = QuantizedQuery::new(&q);
        for (i, &v) in q.iter().enumerate() {
            let mut u = 0u64;
            for j in 0..QUERY_BITS {
                u |= ((qq.planes[j * qq.words + i / 64] >> (i % 64)) & 1) << j;
            }
            let rec = qq.vl + qq.delta * u as f32;
            assert!((rec - v).abs() <= qq.delta * 0.5 + 1e-6, "{i}: {rec} {v}");
        }
        // signed_ip with an all-ones code equals the reconstructed sum
        let dot: u32 = (0..dim)
            .map(|i| {
                let mut u = 0u32;
                for j in 0..QUERY_BITS {
                    u |= (((qq.planes[j * qq.words + i / 64] >> (i % 64)) & 1) as u32) << j;
                }
                u
            })
            .sum();
        let s = qq.signed_ip(dot, dim as u32);
        assert!((s - qq.sum).abs() < 1e-3, "{s} {}", qq.sum);
    }
}
