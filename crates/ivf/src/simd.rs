//! Runtime CPU feature detection for the kernels written in this crate
//! ([`crate::f16dot`], [`crate::quant::scan`]).
//!
//! The level is detected once and cached. Setting the environment variable
//! `CODEVEC_SIMD=scalar` (or `avx2`) before the first kernel call caps the
//! level, which lets CI exercise the fallback paths on a modern CPU.

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction-set level used by a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable Rust, no special instructions.
    Scalar = 1,
    /// x86-64 AVX2 + FMA + F16C + POPCNT.
    Avx2 = 2,
    /// x86-64 AVX-512F/DQ/VL + AVX-512VPOPCNTDQ (plus everything of `Avx2`).
    Avx512 = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(0);

#[cfg(target_arch = "x86_64")]
fn hardware_level() -> SimdLevel {
    let avx2 = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("popcnt");
    let avx512 = avx2
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vpopcntdq");
    if avx512 {
        SimdLevel::Avx512
    } else if avx2 {
        SimdLevel::Avx2
    } else {
        SimdLevel::Scalar
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn hardware_level() -> SimdLevel {
    SimdLevel::Scalar
}

fn from_u8(v: u8) -> SimdLevel {
    match v {
        3 => SimdLevel::Avx512,
        2 => SimdLevel::Avx2,
        _ => SimdLevel::Scalar,
    }
}

/// The level the dispatching kernels use (hardware level, capped by `CODEVEC_SIMD`).
#[inline]
pub fn level() -> SimdLevel {
    let v = LEVEL.load(Ordering::Relaxed);
    if v != 0 {
        return from_u8(v);
    }
    let hw = hardware_level();
    let cap = match std::env::var("CODEVEC_SIMD").ok().as_deref() {
        Some("scalar") => SimdLevel::Scalar,
        Some("avx2") => SimdLevel::Avx2,
        _ => SimdLevel::Avx512,
    };
    let l = hw.min(cap);
    LEVEL.store(l as u8, Ordering::Relaxed);
    l
}

/// All levels this CPU can run (for tests comparing kernels with each other).
pub fn available_levels() -> Vec<SimdLevel> {
    let hw = hardware_level();
    [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|&l| l <= hw)
        .collect()
}

static HW: AtomicU8 = AtomicU8::new(0);

/// Whether `l` can run on this CPU (cached).
#[inline]
pub fn supported(l: SimdLevel) -> bool {
    let mut v = HW.load(Ordering::Relaxed);
    if v == 0 {
        v = hardware_level() as u8;
        HW.store(v, Ordering::Relaxed);
    }
    l as u8 <= v
}

/// Hints the CPU to fetch `bytes` bytes starting at `ptr` into the cache.
/// Never faults (prefetches of any address are harmless); a no-op off x86-64.
#[inline(always)]
pub fn prefetch<T>(ptr: *const T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = ptr as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: PREFETCHT0 (SSE, baseline on x86-64) is only a hint: it does
            // not dereference architecturally and cannot fault; `wrapping_add`
            // avoids pointer-arithmetic UB for any offset.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (ptr, bytes);
    }
}
