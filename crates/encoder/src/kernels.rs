//! Which kernels an encoder runs: the SIMD level of the f32 and element-wise kernels (from
//! `codevec-simd`, so `CODEVEC_SIMD=avx2|scalar` caps the encoder like every other kernel
//! family) and the int8 product kernel.
//!
//! Every [`Kernels`] value can run on this CPU: the constructors check it, so the kernels may
//! rely on it for the safety of their `target_feature` calls.

pub use codevec_simd::SimdLevel;

/// The integer product kernel of the `int8` precision. All four compute the same i32 sums
/// (exactly, no saturation) over the same quantised operands; only the f32 epilogue (scales,
/// bias, GELU) may round differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Int8Kernel {
    /// Portable Rust (any target).
    Scalar,
    /// AVX2: bytes widened to i16 and multiplied with `vpmaddwd` (exact; not `vpmaddubsw`,
    /// which saturates).
    Avx2,
    /// AVX-VNNI: the VEX-encoded `vpdpbusd` on ymm (Alder Lake, Zen 5, Sapphire Rapids).
    AvxVnni,
    /// AVX512-VNNI: `vpdpbusd` on zmm (Ice Lake, Zen 4 and later).
    Avx512Vnni,
}

impl Int8Kernel {
    /// Lowest SIMD level the kernel belongs to.
    pub fn level(self) -> SimdLevel {
        match self {
            Int8Kernel::Scalar => SimdLevel::Scalar,
            Int8Kernel::Avx2 | Int8Kernel::AvxVnni => SimdLevel::Avx2,
            Int8Kernel::Avx512Vnni => SimdLevel::Avx512,
        }
    }

    /// Whether the CPU has the instructions (ignoring `CODEVEC_SIMD`).
    pub fn cpu_has(self) -> bool {
        if !codevec_simd::supported(self.level()) {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Int8Kernel::Scalar | Int8Kernel::Avx2 => true,
                Int8Kernel::AvxVnni => std::arch::is_x86_feature_detected!("avxvnni"),
                Int8Kernel::Avx512Vnni => std::arch::is_x86_feature_detected!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Int8Kernel::Scalar
        }
    }

    /// Short name, e.g. `"avx512-vnni"`.
    pub fn name(self) -> &'static str {
        match self {
            Int8Kernel::Scalar => "portable",
            Int8Kernel::Avx2 => "avx2-madd",
            Int8Kernel::AvxVnni => "avx-vnni",
            Int8Kernel::Avx512Vnni => "avx512-vnni",
        }
    }
}

/// The kernels one encoder runs (see the module doc): always runnable on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Kernels {
    level: SimdLevel,
    int8: Int8Kernel,
}

impl Kernels {
    /// What this process runs by default: `codevec_simd::level()` (the CPU, capped by
    /// `CODEVEC_SIMD`) with the best int8 kernel of that level.
    pub fn detect() -> Kernels {
        Kernels::for_level(codevec_simd::level()).expect("codevec_simd::level() is supported")
    }

    /// `level` with its best int8 kernel, or `None` if the CPU cannot run `level`.
    pub fn for_level(level: SimdLevel) -> Option<Kernels> {
        if !codevec_simd::supported(level) {
            return None;
        }
        let int8 = [
            Int8Kernel::Avx512Vnni,
            Int8Kernel::AvxVnni,
            Int8Kernel::Avx2,
            Int8Kernel::Scalar,
        ]
        .into_iter()
        .find(|k| k.level() <= level && k.cpu_has())
        .unwrap_or(Int8Kernel::Scalar);
        Some(Kernels { level, int8 })
    }

    /// The same level with another int8 kernel, or `None` if the kernel is above the level
    /// or the CPU lacks it.
    pub fn with_int8(self, int8: Int8Kernel) -> Option<Kernels> {
        (int8.level() <= self.level && int8.cpu_has()).then_some(Kernels { int8, ..self })
    }

    /// Every combination a test should cover, lowest first: each level of
    /// `codevec_simd::available_levels()` with its best int8 kernel, plus every other int8
    /// kernel the CPU has at its own level (e.g. the AVX2 `vpmaddwd` kernel on a CPU whose
    /// best AVX2-level kernel is AVX-VNNI).
    pub fn available() -> Vec<Kernels> {
        let levels = codevec_simd::available_levels();
        let mut out: Vec<Kernels> = levels
            .iter()
            .filter_map(|&l| Kernels::for_level(l))
            .collect();
        for k in [
            Int8Kernel::Scalar,
            Int8Kernel::Avx2,
            Int8Kernel::AvxVnni,
            Int8Kernel::Avx512Vnni,
        ] {
            if out.iter().any(|x| x.int8 == k) || !levels.contains(&k.level()) {
                continue;
            }
            if let Some(x) = Kernels::for_level(k.level()).and_then(|x| x.with_int8(k)) {
                out.push(x);
            }
        }
        out.sort_by_key(|x| (x.level, x.int8 as u8));
        out
    }

    /// SIMD level of the f32 and element-wise kernels.
    pub fn level(self) -> SimdLevel {
        self.level
    }

    /// The int8 product kernel.
    pub fn int8(self) -> Int8Kernel {
        self.int8
    }
}

impl std::fmt::Display for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (int8: {})", self.level.name(), self.int8.name())
    }
}
