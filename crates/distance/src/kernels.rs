//! The `f32`-accumulating kernels, with one fixed summation order for every SIMD level.
//!
//! **Lane layout.** Every kernel sums in 16 `f32` lanes times `A` accumulators
//! (`A` = [`ACC`] for dot, squared L2 and L1, [`ACC_COS`] for each of the three sums of
//! the fused cosine pass). Element `i` goes to lane `i % 16` of accumulator
//! `(i / 16) % A`; a last partial block of 16 is padded with zeros (which add exactly
//! nothing). Dot and squared L2 update a lane with one fused multiply-add
//! (`acc = x·y + acc`, resp. `d = x − y; acc = d·d + acc`), L1 with `acc = acc + |x − y|`.
//! At the end the `A` accumulators are added pairwise (`(a0 + a1) + (a2 + a3)`), then
//! the 16 lanes by halves: `s8[i] = v[i] + v[i+8]`, `s4[i] = s8[i] + s8[i+4]`,
//! `s2[i] = s4[i] + s4[i+2]`, `s2[0] + s2[1]`.
//!
//! The AVX-512 level holds one accumulator in one `zmm` register, the AVX2 level in two
//! `ymm` registers (lanes 0–7 and 8–15), the scalar level in a `[f32; 16]` emulating the
//! same lanes with [`fma_f32`] where the SIMD levels use FMA. Every operation is an
//! IEEE-754 correctly rounded one on the same operands in the same order, so the three
//! levels return **bit-identical** results (the tests check exactly that), and so does
//! any other CPU running the scalar level: on aarch64 `fma_f32` is one `fmadd`, on
//! baseline x86-64 an exact inline emulation ([`soft_fma`]), elsewhere `f32::mul_add`
//! (correctly rounded, possibly a libm call).
//!
//! `f16` inputs are widened to `f32` (exactly) in registers: `vcvtph2ps` on AVX-512 and
//! F16C, `half`'s slice conversion (a block of 16 at a time) on the scalar level.
//!
//! These raw sums can overflow or underflow for extreme inputs; [`crate`] checks them and
//! recomputes in `f64` where needed.

use codevec_simd::SimdLevel;
use half::f16;

/// Lanes per accumulator.
pub const LANES: usize = 16;
/// Accumulators of the dot, squared-L2 and L1 kernels (64 elements per iteration).
pub const ACC: usize = 4;
/// Accumulators per sum of the fused cosine kernel (32 elements per iteration: 3 × 2
/// accumulators = 6 `zmm` or 12 `ymm` registers, which leaves room for the operands
/// on AVX2's 16 `ymm` registers).
pub const ACC_COS: usize = 2;

/// One instruction-set level: a zero-sized token whose existence proves that the CPU
/// supports the instructions its methods use (only the entry points of this module, which
/// are compiled for and entered only at that level, create one).
pub(crate) trait Isa: Copy {
    /// 16 `f32` lanes.
    type V: Copy;
    fn zero(self) -> Self::V;
    fn load_f32(self, x: &[f32; LANES]) -> Self::V;
    fn load_f16(self, x: &[f16; LANES]) -> Self::V;
    /// The `x.len() < 16` elements of `x` in lanes `0..x.len()`, zeros above.
    #[inline(always)]
    fn load_part_f32(self, x: &[f32]) -> Self::V {
        let mut t = [0.0f32; LANES];
        t[..x.len()].copy_from_slice(x);
        self.load_f32(&t)
    }
    /// The `x.len() < 16` elements of `x` in lanes `0..x.len()`, zeros above.
    #[inline(always)]
    fn load_part_f16(self, x: &[f16]) -> Self::V {
        let mut t = [f16::ZERO; LANES];
        t[..x.len()].copy_from_slice(x);
        self.load_f16(&t)
    }
    /// `a·b + c` with one rounding.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// Clears the sign bit.
    fn abs(self, a: Self::V) -> Self::V;
    /// The fixed 16-lane reduction tree of the module docs.
    fn hsum(self, a: Self::V) -> f32;
}

/// An element type the kernels read.
pub(crate) trait Src: Copy + 'static {
    fn load<I: Isa>(isa: I, x: &[Self; LANES]) -> I::V;
    /// `x.len() < 16` elements, zero-padded.
    fn load_part<I: Isa>(isa: I, x: &[Self]) -> I::V;
}

impl Src for f32 {
    #[inline(always)]
    fn load<I: Isa>(isa: I, x: &[f32; LANES]) -> I::V {
        isa.load_f32(x)
    }
    #[inline(always)]
    fn load_part<I: Isa>(isa: I, x: &[f32]) -> I::V {
        isa.load_part_f32(x)
    }
}

impl Src for f16 {
    #[inline(always)]
    fn load<I: Isa>(isa: I, x: &[f16; LANES]) -> I::V {
        isa.load_f16(x)
    }
    #[inline(always)]
    fn load_part<I: Isa>(isa: I, x: &[f16]) -> I::V {
        isa.load_part_f16(x)
    }
}

/// `a·b + c` with one rounding, as the FMA instructions of the SIMD levels compute it.
///
/// aarch64 (and any build with the `fma` target feature) has it in hardware
/// (`f32::mul_add` is one instruction). Baseline x86-64 has not, and `f32::mul_add` would be
/// a libm call per element, so there [`soft_fma`] computes the same correctly rounded value
/// inline; other targets use `f32::mul_add` (correctly rounded in any case).
#[inline(always)]
pub fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "fma")))]
    {
        soft_fma(a, b, c)
    }
    #[cfg(not(all(target_arch = "x86_64", not(target_feature = "fma"))))]
    {
        a.mul_add(b, c)
    }
}

/// Correctly rounded `a·b + c` for `f32` without an FMA instruction.
///
/// `a·b` is exact in `f64` (24 + 24 significant bits; exponents in `[-298, 256]`), and
/// so is the error of `s = a·b + c` (TwoSum; no `f64` overflow or underflow is possible
/// for finite `f32` operands). Rounding `s` *to odd* (if inexact and `s` is even, step one
/// `f64` ulp towards the exact value) and then to nearest `f32` gives the correctly
/// rounded result, as 53 ≥ 24 + 2 (Boldo & Melquiond, "Emulation of FMA and correctly
/// rounded sums: proved algorithms using rounding to odd", 2008). Non-finite operands
/// give `s as f32` (an infinity or NaN, as FMA gives, up to the NaN payload).
#[inline(always)]
pub fn soft_fma(a: f32, b: f32, c: f32) -> f32 {
    let p = a as f64 * b as f64;
    let c = c as f64;
    let s = p + c;
    let bb = s - p;
    let err = (p - (s - bb)) + (c - bb);
    let bits = s.to_bits();
    // Branch-free (so that the 16 lanes vectorise): step when inexact and even, away
    // from zero if err has the sign of s. A non-finite s has a NaN err: no step.
    let step = (err.abs() > 0.0) & (bits & 1 == 0);
    let away = (err > 0.0) == (s > 0.0);
    let delta = match (step, away) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => u64::MAX,
    };
    f64::from_bits(bits.wrapping_add(delta)) as f32
}

/// The portable level: 16 lanes emulated in an array.
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl Isa for Scalar {
    type V = [f32; LANES];
    #[inline(always)]
    fn zero(self) -> [f32; LANES] {
        [0.0; LANES]
    }
    #[inline(always)]
    fn load_f32(self, x: &[f32; LANES]) -> [f32; LANES] {
        *x
    }
    #[inline(always)]
    fn load_f16(self, x: &[f16; LANES]) -> [f32; LANES] {
        // one call per block (half uses F16C / FP16 instructions where the CPU has them,
        // else its portable code); the widening is exact either way
        use half::slice::HalfFloatSliceExt;
        let mut out = [0.0f32; LANES];
        x.convert_to_f32_slice(&mut out);
        out
    }
    #[inline(always)]
    fn fma(self, a: [f32; LANES], b: [f32; LANES], c: [f32; LANES]) -> [f32; LANES] {
        std::array::from_fn(|i| fma_f32(a[i], b[i], c[i]))
    }
    #[inline(always)]
    fn add(self, a: [f32; LANES], b: [f32; LANES]) -> [f32; LANES] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(self, a: [f32; LANES], b: [f32; LANES]) -> [f32; LANES] {
        std::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn abs(self, a: [f32; LANES]) -> [f32; LANES] {
        a.map(f32::abs)
    }
    #[inline(always)]
    fn hsum(self, v: [f32; LANES]) -> f32 {
        let s8: [f32; 8] = std::array::from_fn(|i| v[i] + v[i + 8]);
        let s4: [f32; 4] = std::array::from_fn(|i| s8[i] + s8[i + 4]);
        let s2: [f32; 2] = std::array::from_fn(|i| s4[i] + s4[i + 2]);
        s2[0] + s2[1]
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Isa, LANES};
    use half::f16;
    use std::arch::x86_64::*;

    /// AVX-512F/BW/VL (+ AVX2, FMA, F16C) token: one accumulator in one `zmm`.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        /// # Safety
        /// The CPU must support AVX-512F, AVX-512BW, AVX-512VL, AVX2, FMA and F16C.
        #[inline(always)]
        pub(crate) unsafe fn new() -> Self {
            Avx512(())
        }
    }

    /// AVX2 + FMA + F16C token: one accumulator in two `ymm` (lanes 0–7, 8–15).
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        /// # Safety
        /// The CPU must support AVX2, FMA and F16C.
        #[inline(always)]
        pub(crate) unsafe fn new() -> Self {
            Avx2(())
        }
    }

    /// `s8[i] + s8[i+4]`, then `+ [i+2]`, then lane 0 + lane 1 (the end of the tree).
    ///
    /// # Safety
    /// The CPU must support AVX.
    #[inline(always)]
    unsafe fn hsum8(s8: __m256) -> f32 {
        // SAFETY: AVX is implied by both tokens that call this (the caller's contract).
        unsafe {
            let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<0b01>(s2, s2));
            _mm_cvtss_f32(s1)
        }
    }

    // SAFETY (every block in this impl): an `Avx512` exists only where the CPU supports
    // AVX-512F/BW/VL, AVX2, FMA and F16C (see `Avx512::new`); the loads read exactly the 16
    // elements (64 resp. 32 bytes) of the array reference they are given.
    impl Isa for Avx512 {
        type V = __m512;
        #[inline(always)]
        fn zero(self) -> __m512 {
            // SAFETY: see the impl.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn load_f32(self, x: &[f32; LANES]) -> __m512 {
            // SAFETY: see the impl (64 bytes from a `&[f32; 16]`).
            unsafe { _mm512_loadu_ps(x.as_ptr()) }
        }
        #[inline(always)]
        fn load_f16(self, x: &[f16; LANES]) -> __m512 {
            // SAFETY: see the impl (32 bytes from a `&[f16; 16]`; f16 is 2 bytes).
            unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(x.as_ptr().cast())) }
        }
        #[inline(always)]
        fn load_part_f32(self, x: &[f32]) -> __m512 {
            debug_assert!(x.len() < LANES);
            let mask = ((1u32 << x.len()) - 1) as __mmask16;
            // SAFETY: see the impl; the masked load touches only lanes `0..x.len()`,
            // which lie in `x` (masked-off lanes are neither read nor faulted on).
            unsafe { _mm512_maskz_loadu_ps(mask, x.as_ptr()) }
        }
        #[inline(always)]
        fn load_part_f16(self, x: &[f16]) -> __m512 {
            debug_assert!(x.len() < LANES);
            let mask = ((1u32 << x.len()) - 1) as __mmask16;
            // SAFETY: see the impl (AVX-512BW/VL for the 16-bit masked load); only the
            // `x.len()` lanes inside `x` are read, the others are zero.
            unsafe { _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, x.as_ptr().cast())) }
        }
        #[inline(always)]
        fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: see the impl.
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: see the impl.
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: see the impl.
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        fn abs(self, a: __m512) -> __m512 {
            // SAFETY: see the impl.
            unsafe { _mm512_abs_ps(a) }
        }
        #[inline(always)]
        fn hsum(self, v: __m512) -> f32 {
            // SAFETY: see the impl; AVX-512F implies AVX for `hsum8`.
            unsafe {
                let lo = _mm512_castps512_ps256(v);
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                hsum8(_mm256_add_ps(lo, hi))
            }
        }
    }

    // SAFETY (every block in this impl): an `Avx2` exists only where the CPU supports AVX2,
    // FMA and F16C (see `Avx2::new`); the loads read exactly the 16 elements of the array
    // reference they are given, in two halves of 8.
    impl Isa for Avx2 {
        type V = (__m256, __m256);
        #[inline(always)]
        fn zero(self) -> (__m256, __m256) {
            // SAFETY: see the impl.
            unsafe { (_mm256_setzero_ps(), _mm256_setzero_ps()) }
        }
        #[inline(always)]
        fn load_f32(self, x: &[f32; LANES]) -> (__m256, __m256) {
            let p = x.as_ptr();
            // SAFETY: see the impl (bytes 0..32 and 32..64 of a `&[f32; 16]`).
            unsafe { (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))) }
        }
        #[inline(always)]
        fn load_f16(self, x: &[f16; LANES]) -> (__m256, __m256) {
            let p = x.as_ptr();
            // SAFETY: see the impl (bytes 0..16 and 16..32 of a `&[f16; 16]`).
            unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(p.cast())),
                    _mm256_cvtph_ps(_mm_loadu_si128(p.add(8).cast())),
                )
            }
        }
        #[inline(always)]
        fn fma(
            self,
            a: (__m256, __m256),
            b: (__m256, __m256),
            c: (__m256, __m256),
        ) -> (__m256, __m256) {
            // SAFETY: see the impl.
            unsafe {
                (
                    _mm256_fmadd_ps(a.0, b.0, c.0),
                    _mm256_fmadd_ps(a.1, b.1, c.1),
                )
            }
        }
        #[inline(always)]
        fn add(self, a: (__m256, __m256), b: (__m256, __m256)) -> (__m256, __m256) {
            // SAFETY: see the impl.
            unsafe { (_mm256_add_ps(a.0, b.0), _mm256_add_ps(a.1, b.1)) }
        }
        #[inline(always)]
        fn sub(self, a: (__m256, __m256), b: (__m256, __m256)) -> (__m256, __m256) {
            // SAFETY: see the impl.
            unsafe { (_mm256_sub_ps(a.0, b.0), _mm256_sub_ps(a.1, b.1)) }
        }
        #[inline(always)]
        fn abs(self, a: (__m256, __m256)) -> (__m256, __m256) {
            // SAFETY: see the impl.
            unsafe {
                let sign = _mm256_set1_ps(-0.0);
                (_mm256_andnot_ps(sign, a.0), _mm256_andnot_ps(sign, a.1))
            }
        }
        #[inline(always)]
        fn hsum(self, v: (__m256, __m256)) -> f32 {
            // SAFETY: see the impl; AVX2 implies AVX for `hsum8`.
            unsafe { hsum8(_mm256_add_ps(v.0, v.1)) }
        }
    }
}

/// Runs `$body` once per block of 16 elements of `$a` and `$b` (equal lengths), with
/// `$k` the index of the accumulator the block belongs to (`block % $A`) and `$x`, `$y`
/// the loaded lanes; a last partial block is zero-padded.
macro_rules! for_blocks {
    ($isa:ident, $E:ty, $a:ident, $b:ident, $A:expr, |$k:ident, $x:ident, $y:ident| $body:block) => {{
        const STEP: usize = LANES * $A;
        let n = $a.len();
        let main = n - n % STEP;
        let (am, at) = $a.split_at(main);
        let (bm, bt) = $b.split_at(main);
        for (ca, cb) in am.chunks_exact(STEP).zip(bm.chunks_exact(STEP)) {
            for $k in 0..$A {
                let ra: &[$E; LANES] = ca[$k * LANES..($k + 1) * LANES].try_into().unwrap();
                let rb: &[$E; LANES] = cb[$k * LANES..($k + 1) * LANES].try_into().unwrap();
                let ($x, $y) = (<$E as Src>::load($isa, ra), <$E as Src>::load($isa, rb));
                $body
            }
        }
        // The < STEP remaining elements: blocks of 16 into accumulators 0, 1, ... (the
        // index stays a constant after unrolling, so the accumulators stay in registers),
        // the last one partial and zero-padded.
        let (mut ra, mut rb) = (at, bt);
        for $k in 0..$A {
            if ra.is_empty() {
                break;
            }
            let m = ra.len().min(LANES);
            let ($x, $y) = if m == LANES {
                let fa: &[$E; LANES] = ra[..LANES].try_into().unwrap();
                let fb: &[$E; LANES] = rb[..LANES].try_into().unwrap();
                (<$E as Src>::load($isa, fa), <$E as Src>::load($isa, fb))
            } else {
                (<$E as Src>::load_part($isa, ra), <$E as Src>::load_part($isa, rb))
            };
            $body
            ra = &ra[m..];
            rb = &rb[m..];
        }
    }};
}

/// Pairwise sum of the accumulators: `(a0 + a1) + (a2 + a3)` for four.
#[inline(always)]
fn tree<I: Isa, const A: usize>(isa: I, mut acc: [I::V; A]) -> I::V {
    const { assert!(A.is_power_of_two()) };
    let mut w = A;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] = isa.add(acc[2 * i], acc[2 * i + 1]);
        }
    }
    acc[0]
}

#[inline(always)]
fn dot<I: Isa, E: Src>(isa: I, a: &[E], b: &[E]) -> f32 {
    let mut acc = [isa.zero(); ACC];
    for_blocks!(isa, E, a, b, ACC, |k, x, y| {
        acc[k] = isa.fma(x, y, acc[k]);
    });
    isa.hsum(tree(isa, acc))
}

#[inline(always)]
fn l2sq<I: Isa, E: Src>(isa: I, a: &[E], b: &[E]) -> f32 {
    let mut acc = [isa.zero(); ACC];
    for_blocks!(isa, E, a, b, ACC, |k, x, y| {
        let d = isa.sub(x, y);
        acc[k] = isa.fma(d, d, acc[k]);
    });
    isa.hsum(tree(isa, acc))
}

#[inline(always)]
fn l1<I: Isa, E: Src>(isa: I, a: &[E], b: &[E]) -> f32 {
    let mut acc = [isa.zero(); ACC];
    for_blocks!(isa, E, a, b, ACC, |k, x, y| {
        acc[k] = isa.add(acc[k], isa.abs(isa.sub(x, y)));
    });
    isa.hsum(tree(isa, acc))
}

/// `(a·b, a·a, b·b)` in one pass.
#[inline(always)]
fn cos<I: Isa, E: Src>(isa: I, a: &[E], b: &[E]) -> (f32, f32, f32) {
    let mut ab = [isa.zero(); ACC_COS];
    let mut aa = [isa.zero(); ACC_COS];
    let mut bb = [isa.zero(); ACC_COS];
    for_blocks!(isa, E, a, b, ACC_COS, |k, x, y| {
        ab[k] = isa.fma(x, y, ab[k]);
        aa[k] = isa.fma(x, x, aa[k]);
        bb[k] = isa.fma(y, y, bb[k]);
    });
    (
        isa.hsum(tree(isa, ab)),
        isa.hsum(tree(isa, aa)),
        isa.hsum(tree(isa, bb)),
    )
}

/// Defines `$name(level, a, b)`: the generic kernel `$kernel` at `level`, with one entry
/// point per x86-64 level compiled for that level's instructions.
macro_rules! entry {
    ($(#[$m:meta])* $name:ident, $kernel:ident, $E:ty, $R:ty) => {
        $(#[$m])*
        /// Panics if the lengths differ or the CPU cannot run `level`.
        #[inline]
        pub fn $name(level: SimdLevel, a: &[$E], b: &[$E]) -> $R {
            assert_eq!(a.len(), b.len(), "operands have equal length");
            assert!(
                codevec_simd::supported(level),
                "SIMD level {level:?} not supported by this CPU"
            );
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
                fn at_avx512(a: &[$E], b: &[$E]) -> $R {
                    // SAFETY: this function is compiled for AVX-512F/BW/VL, AVX2, FMA and
                    // F16C and is only called after `supported(Avx512)` confirmed them.
                    let isa = unsafe { x86::Avx512::new() };
                    $kernel(isa, a, b)
                }
                #[target_feature(enable = "avx2,fma,f16c")]
                fn at_avx2(a: &[$E], b: &[$E]) -> $R {
                    // SAFETY: this function is compiled for AVX2, FMA and F16C and is only
                    // called after `supported(Avx2)` (or a higher level) confirmed them.
                    let isa = unsafe { x86::Avx2::new() };
                    $kernel(isa, a, b)
                }
                match level {
                    // SAFETY: `supported(level)` was asserted above: the CPU has
                    // AVX-512F/BW/VL, AVX2, FMA and F16C (codevec-simd's Avx512 level).
                    SimdLevel::Avx512 => return unsafe { at_avx512(a, b) },
                    // SAFETY: as above, the CPU has AVX2, FMA and F16C.
                    SimdLevel::Avx2 => return unsafe { at_avx2(a, b) },
                    SimdLevel::Scalar => {}
                }
            }
            $kernel(Scalar, a, b)
        }
    };
}

entry!(
    /// Raw `f32`-accumulated `Σ aᵢbᵢ`.
    dot_f32, dot, f32, f32
);
entry!(
    /// Raw `f32`-accumulated `Σ aᵢbᵢ` of `f16` inputs.
    dot_f16, dot, f16, f32
);
entry!(
    /// Raw `f32`-accumulated `Σ (aᵢ − bᵢ)²`.
    l2sq_f32, l2sq, f32, f32
);
entry!(
    /// Raw `f32`-accumulated `Σ (aᵢ − bᵢ)²` of `f16` inputs.
    l2sq_f16, l2sq, f16, f32
);
entry!(
    /// Raw `f32`-accumulated `Σ |aᵢ − bᵢ|`.
    l1_f32, l1, f32, f32
);
entry!(
    /// Raw `f32`-accumulated `Σ |aᵢ − bᵢ|` of `f16` inputs.
    l1_f16, l1, f16, f32
);
entry!(
    /// Raw `f32`-accumulated `(a·b, a·a, b·b)` in one pass.
    cos_f32, cos, f32, (f32, f32, f32)
);
entry!(
    /// Raw `f32`-accumulated `(a·b, a·a, b·b)` of `f16` inputs in one pass.
    cos_f16, cos, f16, (f32, f32, f32)
);
