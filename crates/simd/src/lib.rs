//! The SIMD level every codevec kernel family dispatches on: distance operators
//! (`codevec-distance`), the ivf index (`codevec-ivf`) and the encoder
//! (`codevec-encoder`).
//!
//! The level is detected once per process and cached. The environment variable
//! `CODEVEC_SIMD` caps it for every family at once (`scalar`, `avx2`, `avx512`; read at the
//! first call, so set it in the server's environment), which lets a test run on an
//! AVX-512 machine exercise exactly what an AVX2-only machine runs:
//! `CODEVEC_SIMD=avx2 make test`. An unknown value is ignored (no cap).
//!
//! Beside the level, [`has_vnni`] and [`has_avx_vnni`] report the integer dot-product
//! extensions the encoder's int8 path can use; both honour the cap (no VNNI under
//! `CODEVEC_SIMD=avx2`, no AVX-VNNI under `scalar`).

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction-set level used by a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// Portable Rust, no special instructions: what every target (aarch64 included) runs.
    Scalar = 1,
    /// x86-64 AVX2 + FMA + F16C + POPCNT (Haswell, AMD Zen and later).
    Avx2 = 2,
    /// x86-64 AVX-512 F/DQ/VL/BW + VPOPCNTDQ (plus everything of `Avx2`): Ice Lake,
    /// Sapphire Rapids, AMD Zen 4 and later.
    Avx512 = 3,
}

impl SimdLevel {
    /// Lower-case name, as `CODEVEC_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// Parses a `CODEVEC_SIMD` value.
    pub fn parse(s: &str) -> Option<SimdLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "portable" | "none" => Some(SimdLevel::Scalar),
            "avx2" => Some(SimdLevel::Avx2),
            "avx512" | "avx-512" => Some(SimdLevel::Avx512),
            _ => None,
        }
    }
}

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
        && is_x86_feature_detected!("avx512bw")
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

static HW: AtomicU8 = AtomicU8::new(0);
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// What the CPU can run, ignoring `CODEVEC_SIMD` (cached).
#[inline]
pub fn hardware() -> SimdLevel {
    let v = HW.load(Ordering::Relaxed);
    if v != 0 {
        return from_u8(v);
    }
    let l = hardware_level();
    HW.store(l as u8, Ordering::Relaxed);
    l
}

/// The cap `CODEVEC_SIMD` asks for, if it names a level.
pub fn cap() -> Option<SimdLevel> {
    std::env::var("CODEVEC_SIMD")
        .ok()
        .and_then(|s| SimdLevel::parse(&s))
}

/// The level the dispatching kernels use: the hardware level capped by `CODEVEC_SIMD`.
#[inline]
pub fn level() -> SimdLevel {
    let v = LEVEL.load(Ordering::Relaxed);
    if v != 0 {
        return from_u8(v);
    }
    let l = match cap() {
        Some(c) => hardware().min(c),
        None => hardware(),
    };
    LEVEL.store(l as u8, Ordering::Relaxed);
    l
}

/// Every level this process may run, lowest first: those the CPU has, up to the
/// `CODEVEC_SIMD` cap (tests compare the kernels of each level with each other).
pub fn available_levels() -> Vec<SimdLevel> {
    let top = level();
    [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|&l| l <= top)
        .collect()
}

/// Whether `l` can run on this CPU.
#[inline]
pub fn supported(l: SimdLevel) -> bool {
    l <= hardware()
}

/// AVX-512 VNNI (`vpdpbusd` on zmm) is usable: the level is [`SimdLevel::Avx512`] and the
/// CPU has `avx512vnni`.
pub fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        level() == SimdLevel::Avx512 && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX-VNNI (the VEX-encoded `vpdpbusd` on ymm, Alder Lake / Zen 5) is usable: the level
/// is at least [`SimdLevel::Avx2`] and the CPU has `avxvnni`.
pub fn has_avx_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        level() >= SimdLevel::Avx2 && is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One line for `codevec.simd_info()` and test logs, e.g. `"avx2 (cpu: avx512, capped by
/// CODEVEC_SIMD=avx2)"`.
pub fn describe() -> String {
    let (l, hw) = (level(), hardware());
    if l == hw {
        l.name().to_string()
    } else {
        format!(
            "{} (cpu: {}, capped by CODEVEC_SIMD={})",
            l.name(),
            hw.name(),
            std::env::var("CODEVEC_SIMD").unwrap_or_default()
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_capped() {
        let lv = available_levels();
        assert_eq!(lv[0], SimdLevel::Scalar);
        assert!(lv.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(*lv.last().unwrap(), level());
        assert!(level() <= hardware());
        if let Some(c) = cap() {
            assert!(level() <= c);
        }
        eprintln!("simd level: {}", describe());
    }

    #[test]
    fn parse_round_trips() {
        for l in [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512] {
            assert_eq!(SimdLevel::parse(l.name()), Some(l));
        }
        assert_eq!(SimdLevel::parse("AVX2 "), Some(SimdLevel::Avx2));
        assert_eq!(SimdLevel::parse("sse9"), None);
    }

    #[test]
    fn vnni_implies_level() {
        if has_vnni() {
            assert_eq!(level(), SimdLevel::Avx512);
        }
        if has_avx_vnni() {
            assert!(level() >= SimdLevel::Avx2);
        }
    }
}
