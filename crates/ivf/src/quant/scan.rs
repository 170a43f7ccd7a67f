//! Block layout of 1-bit codes and the batch popcount kernels.
//!
//! **Layout.** A list's codes are stored in blocks of [`BLOCK`] = 8 vectors.
//! Inside a block the `words = ⌈dim/64⌉` little-endian `u64` words are
//! interleaved word-major: `block[w * 8 + lane]` is word `w` of vector
//! `lane`. One AVX-512 load then fetches word `w` of all 8 vectors, so the
//! kernel needs `words × (1 + QUERY_BITS)` VPOPCNTQ per 8 vectors. Bit `i`
//! of a code (bit `i % 64` of word `i / 64`) is the sign bit of rotated
//! coordinate `i`; padding bits (`i ≥ dim`) and padding lanes are zero.
//! A block is `words × 64` bytes (384 B for `dim = 384`).
//!
//! Next to each code block lives a **factor block** of [`FACTOR_BLOCK`] =
//! 32 `f32`: `[add × 8][scale × 8][pop × 8][err × 8]` (see
//! [`super::rabitq::CodeFactors`]; `pop = popcount(code)` is stored so the
//! kernel need not recount it). Code block + factor block = 64 B per vector
//! for `dim = 384`.
//!
//! The kernels compute for every vector `dot = ⟨x_b, u⟩ = Σⱼ 2ʲ·popcount(x_b ∧ planeⱼ)`
//! and `pop = popcount(x_b)`; [`super::query::QuantizedQuery::signed_ip`]
//! turns them into `⟨2x_b − 1, q̃⟩`.

use super::query::QUERY_BITS;
use crate::simd::{self, SimdLevel};

/// Vectors per code block.
pub const BLOCK: usize = 8;

/// `f32` per factor block (4 factors × 8 lanes).
pub const FACTOR_BLOCK: usize = 4 * BLOCK;

/// Writes the factors of vector `index` into a factor-block array.
#[inline]
pub fn write_factors(fblocks: &mut [f32], index: usize, f: &super::rabitq::CodeFactors) {
    let base = (index / BLOCK) * FACTOR_BLOCK;
    let lane = index % BLOCK;
    fblocks[base + lane] = f.add;
    fblocks[base + BLOCK + lane] = f.scale;
    fblocks[base + 2 * BLOCK + lane] = f.pop as f32;
    fblocks[base + 3 * BLOCK + lane] = f.err;
}

/// Reads the factors of vector `index` from a factor-block array.
#[inline]
pub fn read_factors(fblocks: &[f32], index: usize) -> super::rabitq::CodeFactors {
    let base = (index / BLOCK) * FACTOR_BLOCK;
    let lane = index % BLOCK;
    super::rabitq::CodeFactors {
        add: fblocks[base + lane],
        scale: fblocks[base + BLOCK + lane],
        pop: fblocks[base + 2 * BLOCK + lane] as u32,
        err: fblocks[base + 3 * BLOCK + lane],
    }
}

/// `u64` words per code for `dim` dimensions.
#[inline]
pub fn words_for_dim(dim: usize) -> usize {
    dim.div_ceil(64)
}

/// `u64`s needed to store `n` codes (rounded up to whole blocks).
#[inline]
pub fn blocks_len(n: usize, words: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK * words
}

/// Writes `code` (`words` words) as vector `index` into a block array.
#[inline]
pub fn write_code(blocks: &mut [u64], words: usize, index: usize, code: &[u64]) {
    debug_assert_eq!(code.len(), words);
    let base = (index / BLOCK) * BLOCK * words;
    let lane = index % BLOCK;
    for (w, &c) in code.iter().enumerate() {
        blocks[base + w * BLOCK + lane] = c;
    }
}

/// Reads vector `index` back out of a block array.
pub fn read_code(blocks: &[u64], words: usize, index: usize) -> Vec<u64> {
    let base = (index / BLOCK) * BLOCK * words;
    let lane = index % BLOCK;
    (0..words)
        .map(|w| blocks[base + w * BLOCK + lane])
        .collect()
}

/// Runs the batch kernel over whole blocks with runtime dispatch.
/// `blocks.len()` must be a multiple of `words * BLOCK`; `dot` and `pop`
/// receive one value per lane (`blocks.len() / words` values).
#[inline]
pub fn scan(blocks: &[u64], words: usize, planes: &[u64], dot: &mut [u32], pop: &mut [u32]) {
    scan_at(simd::level(), blocks, words, planes, dot, pop)
}

/// [`scan`] at an explicit level (panics if unsupported by this CPU).
pub fn scan_at(
    level: SimdLevel,
    blocks: &[u64],
    words: usize,
    planes: &[u64],
    dot: &mut [u32],
    pop: &mut [u32],
) {
    assert!(words > 0);
    assert_eq!(blocks.len() % (words * BLOCK), 0, "partial block");
    let nvec = blocks.len() / words;
    assert!(dot.len() >= nvec && pop.len() >= nvec, "output too short");
    assert_eq!(planes.len(), QUERY_BITS * words, "plane length");
    assert!(simd::supported(level), "SIMD level {level:?} not supported");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported` guarantees AVX-512F and AVX-512VPOPCNTDQ; the
        // asserts above establish the length preconditions of the kernel.
        SimdLevel::Avx512 => unsafe { x86::scan_avx512(blocks, words, planes, dot, pop) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported` guarantees POPCNT (part of the Avx2 level);
        // the kernel only indexes slices (bounds-checked).
        SimdLevel::Avx2 => unsafe { x86::scan_popcnt(blocks, words, planes, dot, pop) },
        _ => scan_scalar(blocks, words, planes, dot, pop),
    }
}

/// Portable kernel (also the reference in tests).
pub fn scan_scalar(blocks: &[u64], words: usize, planes: &[u64], dot: &mut [u32], pop: &mut [u32]) {
    scan_generic(blocks, words, planes, dot, pop)
}

#[inline(always)]
fn scan_generic(blocks: &[u64], words: usize, planes: &[u64], dot: &mut [u32], pop: &mut [u32]) {
    let nblocks = blocks.len() / (words * BLOCK);
    for b in 0..nblocks {
        let blk = &blocks[b * words * BLOCK..(b + 1) * words * BLOCK];
        for lane in 0..BLOCK {
            let (mut s, mut p) = (0u32, 0u32);
            for w in 0..words {
                let c = blk[w * BLOCK + lane];
                p += c.count_ones();
                for j in 0..QUERY_BITS {
                    s += (c & planes[j * words + w]).count_ones() << j;
                }
            }
            dot[b * BLOCK + lane] = s;
            pop[b * BLOCK + lane] = p;
        }
    }
}

/// Receives candidates from [`scan_filter`].
pub trait CandidateSink {
    /// Candidates with an estimate above this value may be dropped by the kernel.
    fn threshold(&self) -> f32;
    /// Candidate at position `i` of the run with estimated rank distance `est`.
    fn push(&mut self, i: usize, est: f32);
}

/// Per-(query, list) constants of the estimator:
/// `est = base + add + scale·(two_delta·dot + two_vl·pop − sum)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EstimateConsts {
    /// List term (`‖q − c‖²` or `−q·c`).
    pub base: f32,
    /// `2Δ` of the quantised query.
    pub two_delta: f32,
    /// `2·v_l` of the quantised query.
    pub two_vl: f32,
    /// `Σ q̃`.
    pub sum: f32,
}

impl EstimateConsts {
    /// The estimate from the kernel outputs and a vector's factors
    /// (the exact operation order all kernels use).
    #[inline(always)]
    pub fn apply(&self, dot: u32, pop: u32, add: f32, scale: f32) -> f32 {
        let s = self.two_delta * dot as f32 + self.two_vl * pop as f32 - self.sum;
        self.base + add + scale * s
    }
}

/// Fused scan: popcount kernel, estimator and threshold filter over the
/// first `n` vectors of a run of whole blocks (`blocks`: code blocks,
/// `fblocks`: the matching factor blocks). Calls `sink.push(i, est)`
/// for every vector with `est <= sink.threshold()` (re-reading the
/// threshold after each block with pushes), in increasing `i`.
/// Estimates are bit-identical on every level.
#[inline]
pub fn scan_filter<S: CandidateSink>(
    blocks: &[u64],
    words: usize,
    planes: &[u64],
    n: usize,
    fblocks: &[f32],
    c: &EstimateConsts,
    sink: &mut S,
) {
    scan_filter_at(simd::level(), blocks, words, planes, n, fblocks, c, sink)
}

/// [`scan_filter`] at an explicit level (panics if unsupported).
#[allow(clippy::too_many_arguments)]
pub fn scan_filter_at<S: CandidateSink>(
    level: SimdLevel,
    blocks: &[u64],
    words: usize,
    planes: &[u64],
    n: usize,
    fblocks: &[f32],
    c: &EstimateConsts,
    sink: &mut S,
) {
    assert!(words > 0);
    assert!(
        blocks.len() >= n.div_ceil(BLOCK) * BLOCK * words,
        "blocks too short"
    );
    assert!(
        fblocks.len() >= n.div_ceil(BLOCK) * FACTOR_BLOCK,
        "factor blocks too short"
    );
    assert_eq!(planes.len(), QUERY_BITS * words, "plane length");
    assert!(simd::supported(level), "SIMD level {level:?} not supported");
    let blocks = &blocks[..n.div_ceil(BLOCK) * BLOCK * words];
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported` guarantees AVX-512F/DQ/VL and VPOPCNTDQ; the asserts
        // above establish the length preconditions documented on the kernel.
        SimdLevel::Avx512 => unsafe {
            x86::scan_filter_avx512(blocks, words, planes, n, fblocks, c, sink)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `supported` guarantees AVX2 (and POPCNT, FMA, F16C of the Avx2 level); the
        // asserts above establish the length preconditions documented on the kernel.
        SimdLevel::Avx2 => unsafe {
            x86::scan_filter_avx2(blocks, words, planes, n, fblocks, c, sink)
        },
        _ => {
            let mut dot = [0u32; BLOCK];
            let mut pop = [0u32; BLOCK];
            let nb = n.div_ceil(BLOCK);
            for b in 0..nb {
                let blk = &blocks[b * words * BLOCK..(b + 1) * words * BLOCK];
                scan_at(level, blk, words, planes, &mut dot, &mut pop);
                let m = (n - b * BLOCK).min(BLOCK);
                let mut thr = sink.threshold();
                let fb = &fblocks[b * FACTOR_BLOCK..(b + 1) * FACTOR_BLOCK];
                for l in 0..m {
                    let i = b * BLOCK + l;
                    let e = c.apply(dot[l], pop[l], fb[l], fb[BLOCK + l]);
                    if e <= thr {
                        sink.push(i, e);
                        thr = sink.threshold();
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{scan_generic, CandidateSink, EstimateConsts, BLOCK, FACTOR_BLOCK, QUERY_BITS};

    // the AVX-512 kernels are written for four query bit-planes
    const _: () = assert!(QUERY_BITS == 4);
    use std::arch::x86_64::*;

    /// # Safety
    /// CPU must support AVX-512F/DQ/VL and AVX-512VPOPCNTDQ;
    /// `blocks.len() == n.div_ceil(8) * 8 * words`, `planes.len() == 4 * words`,
    /// `fblocks.len() >= n.div_ceil(8) * 32`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512vpopcntdq,avx2,popcnt")]
    pub unsafe fn scan_filter_avx512<S: CandidateSink>(
        blocks: &[u64],
        words: usize,
        planes: &[u64],
        n: usize,
        fblocks: &[f32],
        c: &EstimateConsts,
        sink: &mut S,
    ) {
        let nblocks = n.div_ceil(BLOCK);
        let fp = fblocks.as_ptr();
        let bp = blocks.as_ptr();
        let k = EstimateVecs::new(c);
        let mut thr = sink.threshold();
        for b in 0..nblocks {
            let mut a0 = _mm512_setzero_si512();
            let mut a1 = _mm512_setzero_si512();
            let mut a2 = _mm512_setzero_si512();
            let mut a3 = _mm512_setzero_si512();
            for w in 0..words {
                // SAFETY: (b * words + w) * 8 + 8 <= nblocks * words * 8 = blocks.len().
                let cw = unsafe { _mm512_loadu_si512(bp.add((b * words + w) * BLOCK) as *const _) };
                let p = |j: usize| _mm512_set1_epi64(planes[j * words + w] as i64);
                a0 = _mm512_add_epi64(a0, _mm512_popcnt_epi64(_mm512_and_si512(cw, p(0))));
                a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(_mm512_and_si512(cw, p(1))));
                a2 = _mm512_add_epi64(a2, _mm512_popcnt_epi64(_mm512_and_si512(cw, p(2))));
                a3 = _mm512_add_epi64(a3, _mm512_popcnt_epi64(_mm512_and_si512(cw, p(3))));
            }
            // dot = a0 + 2·a1 + 4·a2 + 8·a3
            let dot = _mm512_add_epi64(
                _mm512_add_epi64(a0, _mm512_slli_epi64::<1>(a1)),
                _mm512_add_epi64(_mm512_slli_epi64::<2>(a2), _mm512_slli_epi64::<3>(a3)),
            );
            // small non-negative integers: exact in f32
            let dotf = _mm512_cvtepi64_ps(dot);
            let valid = (n - b * BLOCK).min(BLOCK);
            let mask: __mmask8 = if valid == BLOCK {
                0xFF
            } else {
                ((1u32 << valid) - 1) as __mmask8
            };
            // SAFETY: (b + 1) * 32 <= nblocks * 32 <= fblocks.len() (the caller's contract).
            let est = unsafe { block_estimates(fp.add(b * FACTOR_BLOCK), dotf, &k) };
            let hit = _mm256_mask_cmp_ps_mask::<_CMP_LE_OQ>(mask, est, _mm256_set1_ps(thr));
            push_hits(hit as u32, est, b * BLOCK, &mut thr, sink);
        }
    }

    /// [`EstimateConsts`] broadcast to 8 lanes.
    struct EstimateVecs {
        base: __m256,
        two_delta: __m256,
        two_vl: __m256,
        sum: __m256,
    }

    impl EstimateVecs {
        #[inline]
        #[target_feature(enable = "avx2")]
        fn new(c: &EstimateConsts) -> Self {
            EstimateVecs {
                base: _mm256_set1_ps(c.base),
                two_delta: _mm256_set1_ps(c.two_delta),
                two_vl: _mm256_set1_ps(c.two_vl),
                sum: _mm256_set1_ps(c.sum),
            }
        }
    }

    /// The estimates of one block's 8 vectors from their dot products (small non-negative
    /// integers, exact in f32) and the block's factors at `f`, in the operation order of
    /// [`EstimateConsts::apply`] with no FMA, so bit-identical on every level. Shared by the
    /// AVX-512 and AVX2 kernels.
    ///
    /// # Safety
    /// `f` must point to a factor block ([`FACTOR_BLOCK`] readable `f32`).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn block_estimates(f: *const f32, dotf: __m256, k: &EstimateVecs) -> __m256 {
        // SAFETY: the block holds add, scale and pop (8 f32 each) at 0, 8 and 16.
        let (addv, scalev, popf) = unsafe {
            (
                _mm256_loadu_ps(f),
                _mm256_loadu_ps(f.add(BLOCK)),
                _mm256_loadu_ps(f.add(2 * BLOCK)),
            )
        };
        let s = _mm256_sub_ps(
            _mm256_add_ps(
                _mm256_mul_ps(k.two_delta, dotf),
                _mm256_mul_ps(k.two_vl, popf),
            ),
            k.sum,
        );
        _mm256_add_ps(_mm256_add_ps(k.base, addv), _mm256_mul_ps(scalev, s))
    }

    /// Pushes the vectors of the block starting at index `o` whose bit is set in `hit`, in
    /// order, each only if its estimate is still within the threshold (re-read after every
    /// push).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn push_hits<S: CandidateSink>(hit: u32, est: __m256, o: usize, thr: &mut f32, sink: &mut S) {
        if hit == 0 {
            return;
        }
        let mut e = [0f32; BLOCK];
        // SAFETY: `e` holds exactly 8 f32.
        unsafe { _mm256_storeu_ps(e.as_mut_ptr(), est) };
        let mut m = hit;
        while m != 0 {
            let l = m.trailing_zeros() as usize;
            m &= m - 1;
            if e[l] <= *thr {
                sink.push(o + l, e[l]);
                *thr = sink.threshold();
            }
        }
    }

    /// The words a byte-wise popcount accumulator can take before it may overflow: each
    /// word adds at most 8 to a byte.
    const AVX2_FLUSH_WORDS: usize = 31;

    /// Per-byte popcounts of `x`: two nibble lookups with `vpshufb` (Muła's method).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn popcnt_bytes(x: __m256i, lut: __m256i, low: __m256i) -> __m256i {
        let lo = _mm256_and_si256(x, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), low);
        _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
    }

    /// The low 32 bits of the four `u64` lanes of `a` then of `b`, as eight `i32`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pack_lo32(a: __m256i, b: __m256i) -> __m256i {
        // [a0 a1 a2 a3] [b0 b1 b2 b3] (u64) -> [a0 a1 a2 a3 b0 b1 b2 b3] (u32)
        let idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        let a = _mm256_permutevar8x32_epi32(a, idx);
        let b = _mm256_permutevar8x32_epi32(b, idx);
        _mm256_blend_epi32::<0b1111_0000>(a, b)
    }

    /// The fused scan of [`scan_filter_avx512`] at AVX2 width: the four plane popcounts of
    /// a block's 8 vectors with byte-wise `vpshufb` counts summed by `vpsadbw` (one 64-bit
    /// lane per vector, so no transposition), then the estimate and the threshold test for
    /// the 8 vectors at once, in the operation order of [`EstimateConsts::apply`]: the
    /// integer sums are exact and the float steps the same, so the estimates are
    /// bit-identical to every other level.
    ///
    /// # Safety
    /// CPU must support AVX2; `blocks.len() == n.div_ceil(8) * 8 * words`,
    /// `planes.len() == 4 * words`, `fblocks.len() >= n.div_ceil(8) * 32`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub unsafe fn scan_filter_avx2<S: CandidateSink>(
        blocks: &[u64],
        words: usize,
        planes: &[u64],
        n: usize,
        fblocks: &[f32],
        c: &EstimateConsts,
        sink: &mut S,
    ) {
        let nblocks = n.div_ceil(BLOCK);
        let fp = fblocks.as_ptr();
        let bp = blocks.as_ptr();
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let zero = _mm256_setzero_si256();
        let k = EstimateVecs::new(c);
        let mut thr = sink.threshold();
        for b in 0..nblocks {
            // per plane j, the popcount sums of lanes 0-3 (lo) and 4-7 (hi) as u64
            let mut tot = [zero; 2 * QUERY_BITS];
            let mut w0 = 0;
            while w0 < words {
                let w1 = (w0 + AVX2_FLUSH_WORDS).min(words);
                let mut acc = [zero; 2 * QUERY_BITS];
                for w in w0..w1 {
                    // SAFETY: (b * words + w) * 8 + 8 <= nblocks * words * 8 = blocks.len(),
                    // so both 32-byte unaligned loads lie inside `blocks`.
                    let (lo, hi) = unsafe {
                        let p = bp.add((b * words + w) * BLOCK);
                        (
                            _mm256_loadu_si256(p as *const __m256i),
                            _mm256_loadu_si256(p.add(4) as *const __m256i),
                        )
                    };
                    for j in 0..QUERY_BITS {
                        let pj = _mm256_set1_epi64x(planes[j * words + w] as i64);
                        let cl = popcnt_bytes(_mm256_and_si256(lo, pj), lut, low);
                        let ch = popcnt_bytes(_mm256_and_si256(hi, pj), lut, low);
                        acc[2 * j] = _mm256_add_epi8(acc[2 * j], cl);
                        acc[2 * j + 1] = _mm256_add_epi8(acc[2 * j + 1], ch);
                    }
                }
                for k in 0..2 * QUERY_BITS {
                    tot[k] = _mm256_add_epi64(tot[k], _mm256_sad_epu8(acc[k], zero));
                }
                w0 = w1;
            }
            // dot = Σ_j 2^j · count_j, per half
            let half = |h: usize| {
                _mm256_add_epi64(
                    _mm256_add_epi64(tot[h], _mm256_slli_epi64::<1>(tot[2 + h])),
                    _mm256_add_epi64(
                        _mm256_slli_epi64::<2>(tot[4 + h]),
                        _mm256_slli_epi64::<3>(tot[6 + h]),
                    ),
                )
            };
            let dot = pack_lo32(half(0), half(1));
            // small non-negative integers: exact in f32
            let dotf = _mm256_cvtepi32_ps(dot);
            let valid = (n - b * BLOCK).min(BLOCK);
            // SAFETY: (b + 1) * 32 <= nblocks * 32 <= fblocks.len() (the caller's contract).
            let est = unsafe { block_estimates(fp.add(b * FACTOR_BLOCK), dotf, &k) };
            let le = _mm256_cmp_ps::<_CMP_LE_OQ>(est, _mm256_set1_ps(thr));
            let hit = (_mm256_movemask_ps(le) as u32) & ((1u32 << valid) - 1);
            push_hits(hit, est, b * BLOCK, &mut thr, sink);
        }
    }

    /// Scalar loop compiled with the POPCNT instruction.
    ///
    /// # Safety
    /// CPU must support POPCNT.
    #[target_feature(enable = "popcnt")]
    pub unsafe fn scan_popcnt(
        blocks: &[u64],
        words: usize,
        planes: &[u64],
        dot: &mut [u32],
        pop: &mut [u32],
    ) {
        scan_generic(blocks, words, planes, dot, pop)
    }

    /// # Safety
    /// CPU must support AVX-512F and AVX-512VPOPCNTDQ; `blocks.len()` is a
    /// multiple of `words * BLOCK`, `planes.len() == 4 * words`, and `dot`,
    /// `pop` hold at least `blocks.len() / words` values.
    #[target_feature(enable = "avx512f,avx512vpopcntdq,avx2,popcnt")]
    pub unsafe fn scan_avx512(
        blocks: &[u64],
        words: usize,
        planes: &[u64],
        dot: &mut [u32],
        pop: &mut [u32],
    ) {
        let nblocks = blocks.len() / (words * BLOCK);
        let bp = blocks.as_ptr();
        for b in 0..nblocks {
            let mut a0 = _mm512_setzero_si512();
            let mut a1 = _mm512_setzero_si512();
            let mut a2 = _mm512_setzero_si512();
            let mut a3 = _mm512_setzero_si512();
            let mut ap = _mm512_setzero_si512();
            for w in 0..words {
                // SAFETY: (b * words + w) * BLOCK + 8 <= nblocks * words * BLOCK = blocks.len(),
                // so the 8 u64 (64 bytes) loaded are inside `blocks`; unaligned load.
                let c = unsafe { _mm512_loadu_si512(bp.add((b * words + w) * BLOCK) as *const _) };
                ap = _mm512_add_epi64(ap, _mm512_popcnt_epi64(c));
                let p = |j: usize| _mm512_set1_epi64(planes[j * words + w] as i64);
                a0 = _mm512_add_epi64(a0, _mm512_popcnt_epi64(_mm512_and_si512(c, p(0))));
                a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(_mm512_and_si512(c, p(1))));
                a2 = _mm512_add_epi64(a2, _mm512_popcnt_epi64(_mm512_and_si512(c, p(2))));
                a3 = _mm512_add_epi64(a3, _mm512_popcnt_epi64(_mm512_and_si512(c, p(3))));
            }
            let s = _mm512_add_epi64(
                _mm512_add_epi64(a0, _mm512_slli_epi64::<1>(a1)),
                _mm512_add_epi64(_mm512_slli_epi64::<2>(a2), _mm512_slli_epi64::<3>(a3)),
            );
            let s32 = _mm512_cvtepi64_epi32(s);
            let p32 = _mm512_cvtepi64_epi32(ap);
            let o = b * BLOCK;
            let d = &mut dot[o..o + BLOCK];
            let p = &mut pop[o..o + BLOCK];
            // SAFETY: `d` and `p` are exactly 8 u32 = 32 bytes long; unaligned stores.
            unsafe {
                _mm256_storeu_si256(d.as_mut_ptr() as *mut __m256i, s32);
                _mm256_storeu_si256(p.as_mut_ptr() as *mut __m256i, p32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn kernels_match_scalar_for_all_dims() {
        let mut r = Rng::new(4);
        for dim in 1..=1024usize {
            // keep the test fast: every dim up to 130, then a stride
            if dim > 130 && dim % 37 != 0 && dim != 1024 && dim != 384 {
                continue;
            }
            let words = words_for_dim(dim);
            let n = 1 + (r.below(20) as usize);
            let mut blocks = vec![0u64; blocks_len(n, words)];
            let mask_last = if dim % 64 == 0 {
                u64::MAX
            } else {
                (1u64 << (dim % 64)) - 1
            };
            for i in 0..n {
                let mut code: Vec<u64> = (0..words).map(|_| r.next_u64()).collect();
                *code.last_mut().unwrap() &= mask_last;
                write_code(&mut blocks, words, i, &code);
                assert_eq!(read_code(&blocks, words, i), code);
            }
            let mut planes: Vec<u64> = (0..QUERY_BITS * words).map(|_| r.next_u64()).collect();
            for j in 0..QUERY_BITS {
                planes[j * words + words - 1] &= mask_last;
            }
            let nv = blocks.len() / words;
            let (mut d0, mut p0) = (vec![0u32; nv], vec![0u32; nv]);
            scan_scalar(&blocks, words, &planes, &mut d0, &mut p0);
            // independent bit-by-bit reference
            for i in 0..n {
                let code = read_code(&blocks, words, i);
                let (mut s, mut p) = (0u32, 0u32);
                for bit in 0..dim {
                    if (code[bit / 64] >> (bit % 64)) & 1 == 1 {
                        p += 1;
                        for j in 0..QUERY_BITS {
                            s += (((planes[j * words + bit / 64] >> (bit % 64)) & 1) as u32) << j;
                        }
                    }
                }
                assert_eq!((d0[i], p0[i]), (s, p), "dim {dim} vec {i}");
            }
            for level in crate::simd::available_levels() {
                let (mut d1, mut p1) = (vec![0u32; nv], vec![0u32; nv]);
                scan_at(level, &blocks, words, &planes, &mut d1, &mut p1);
                assert_eq!(d0, d1, "{level:?} dim {dim}");
                assert_eq!(p0, p1, "{level:?} dim {dim}");
            }
        }
    }

    struct Collect {
        thr: f32,
        got: Vec<(usize, f32)>,
    }

    impl CandidateSink for Collect {
        fn threshold(&self) -> f32 {
            self.thr
        }
        fn push(&mut self, i: usize, est: f32) {
            self.got.push((i, est));
        }
    }

    #[test]
    fn fused_scan_filter_counts_all_ones_codes_and_planes_exactly() {
        // Every bit set in codes and planes: the most a byte counter can gain per word (8),
        // so a kernel that summed more than 31 words in bytes would overflow at 4000 dims.
        for dim in [384usize, 2048, 4000, 16000] {
            let words = words_for_dim(dim);
            let n = 9;
            let mask_last = if dim % 64 == 0 {
                u64::MAX
            } else {
                (1u64 << (dim % 64)) - 1
            };
            let mut code = vec![u64::MAX; words];
            *code.last_mut().unwrap() = mask_last;
            let mut blocks = vec![0u64; blocks_len(n, words)];
            let mut fblocks = vec![0f32; n.div_ceil(BLOCK) * FACTOR_BLOCK];
            let f = crate::quant::rabitq::CodeFactors {
                pop: dim as u32,
                add: 0.0,
                scale: 1.0,
                err: 0.0,
            };
            for i in 0..n {
                write_code(&mut blocks, words, i, &code);
                write_factors(&mut fblocks, i, &f);
            }
            let planes: Vec<u64> = (0..QUERY_BITS).flat_map(|_| code.clone()).collect();
            let c = EstimateConsts {
                base: 0.0,
                two_delta: 1.0,
                two_vl: 0.0,
                sum: 0.0,
            };
            // dot = Σ_j 2^j · dim = 15 · dim
            let want: Vec<(usize, f32)> = (0..n).map(|i| (i, 15.0 * dim as f32)).collect();
            for level in crate::simd::available_levels() {
                let mut sink = Collect {
                    thr: f32::INFINITY,
                    got: vec![],
                };
                scan_filter_at(level, &blocks, words, &planes, n, &fblocks, &c, &mut sink);
                assert_eq!(sink.got, want, "{level:?} dim {dim}");
            }
        }
    }

    #[test]
    fn fused_scan_filter_matches_unfused_on_every_level() {
        let mut r = Rng::new(21);
        // 2100 and 4000 dimensions (33 and 63 words) pass the AVX2 kernel's byte-counter flush
        for dim in [1usize, 7, 63, 64, 65, 130, 384, 1000, 1024, 2100, 4000] {
            let words = words_for_dim(dim);
            for n in [1usize, 7, 8, 9, 30, 64] {
                let mut blocks = vec![0u64; blocks_len(n, words)];
                let mut fblocks = vec![0f32; n.div_ceil(BLOCK) * FACTOR_BLOCK];
                let mask_last = if dim % 64 == 0 {
                    u64::MAX
                } else {
                    (1u64 << (dim % 64)) - 1
                };
                for i in 0..n {
                    let mut code: Vec<u64> = (0..words).map(|_| r.next_u64()).collect();
                    *code.last_mut().unwrap() &= mask_last;
                    write_code(&mut blocks, words, i, &code);
                    let f = crate::quant::rabitq::CodeFactors {
                        pop: code.iter().map(|w| w.count_ones()).sum(),
                        add: r.normal() as f32,
                        scale: (0.1 * r.normal()) as f32,
                        err: r.next_f64() as f32,
                    };
                    write_factors(&mut fblocks, i, &f);
                    assert_eq!(read_factors(&fblocks, i), f);
                }
                let q: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
                let qq = super::super::query::QuantizedQuery::new(&q);
                let c = qq.consts(0.25);
                // unfused reference estimates
                let nv = blocks.len() / words;
                let (mut dot, mut pop) = (vec![0u32; nv], vec![0u32; nv]);
                scan_scalar(&blocks, words, &qq.planes, &mut dot, &mut pop);
                let reference: Vec<f32> = (0..n)
                    .map(|i| {
                        let f = read_factors(&fblocks, i);
                        c.apply(dot[i], pop[i], f.add, f.scale)
                    })
                    .collect();
                let mut sorted = reference.clone();
                sorted.sort_by(f32::total_cmp);
                for thr in [f32::INFINITY, sorted[n / 2]] {
                    let expect: Vec<(usize, f32)> = reference
                        .iter()
                        .enumerate()
                        .filter(|(_, &e)| e <= thr)
                        .map(|(i, &e)| (i, e))
                        .collect();
                    for level in crate::simd::available_levels() {
                        let mut sink = Collect { thr, got: vec![] };
                        scan_filter_at(
                            level, &blocks, words, &qq.planes, n, &fblocks, &c, &mut sink,
                        );
                        assert_eq!(sink.got, expect, "{level:?} dim {dim} n {n}");
                    }
                }
            }
        }
    }
}
