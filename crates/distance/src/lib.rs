//! Distance kernels for codevec.
//!
//! Every kernel works on `f32` and on IEEE half precision (`half::f16`) slices of equal
//! length and returns `f64`. L2, cosine and inner product dispatch at run time to
//! simsimd's SIMD kernels (AVX2 / AVX-512 / NEON / SVE, whatever the CPU has); L1, which
//! simsimd lacks, has kernels of our own in [`l1`]. `f16` inputs are widened inside the
//! SIMD registers a block at a time, never into a temporary `f32` vector.
//!
//! [`scalar`] holds plain-loop references used by the tests and the benchmarks.
//!
//! Conventions shared with the SQL layer:
//! - `cosine_distance` is `1 - cos(a, b)`, clamped to `[0, 2]`; when either operand is
//!   the zero vector the angle is undefined and the distance is defined as `1.0` (the
//!   distance of two orthogonal vectors): never NaN, so ordering and indexes stay total.
//! - `negative_inner_product` is `-(a · b)`, so that smaller is closer for every metric.

pub mod l1;
pub mod scalar;

use half::f16;
use simsimd::SpatialSimilarity;

/// An element type the kernels accept: `f32` or `half::f16`.
pub trait Element: Copy + Send + Sync + 'static {
    /// Squared Euclidean distance.
    fn l2_squared(a: &[Self], b: &[Self]) -> f64;
    /// Dot product.
    fn dot(a: &[Self], b: &[Self]) -> f64;
    /// Raw simsimd cosine distance (both-zero gives 0, one zero gives 1).
    fn cosine_raw(a: &[Self], b: &[Self]) -> f64;
    /// Sum of absolute differences.
    fn l1(a: &[Self], b: &[Self]) -> f64;
    /// Widen to f32.
    fn to_f32(self) -> f32;
}

impl Element for f32 {
    #[inline]
    fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
        <f32 as SpatialSimilarity>::l2sq(a, b).expect("operands have equal length")
    }
    #[inline]
    fn dot(a: &[f32], b: &[f32]) -> f64 {
        <f32 as SpatialSimilarity>::dot(a, b).expect("operands have equal length")
    }
    #[inline]
    fn cosine_raw(a: &[f32], b: &[f32]) -> f64 {
        <f32 as SpatialSimilarity>::cos(a, b).expect("operands have equal length")
    }
    #[inline]
    fn l1(a: &[f32], b: &[f32]) -> f64 {
        l1::l1_f32(a, b)
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
}

// simsimd's Sapphire Rapids kernels for f16 (AVX512-FP16) accumulate in f16, which loses
// about three decimal digits over a few hundred dimensions. We ask simsimd's own kernel
// table for the best f16 kernel with that one capability masked out: on such CPUs that is
// its Haswell kernel (F16C widening in registers, f32 FMA accumulation).
mod f16_table {
    use std::sync::OnceLock;

    type Kernel = unsafe extern "C" fn(*const u16, *const u16, usize, *mut f64);

    extern "C" {
        fn simsimd_capabilities() -> u32;
        fn simsimd_find_kernel_punned(
            kind: u32,
            datatype: u32,
            supported: u32,
            allowed: u32,
            kernel: *mut Option<Kernel>,
            capability: *mut u32,
        );
    }

    const METRIC_DOT: u32 = b'i' as u32;
    const METRIC_COS: u32 = b'c' as u32;
    const METRIC_L2SQ: u32 = b'e' as u32;
    const DATATYPE_F16: u32 = 1 << 12;
    const CAP_ANY: u32 = 0x7FFF_FFFF;
    const CAP_SAPPHIRE: u32 = 1 << 14;

    /// The dot, cosine and squared-L2 kernels, resolved once per process.
    pub struct Table {
        pub dot: Kernel,
        pub cos: Kernel,
        pub l2sq: Kernel,
        pub capability: u32,
    }

    fn find(kind: u32) -> (Kernel, u32) {
        let mut k: Option<Kernel> = None;
        let mut cap = 0u32;
        // SAFETY: simsimd_find_kernel_punned only reads its integer arguments and writes
        // one function pointer and one capability through the two valid out-pointers.
        unsafe {
            let supported = simsimd_capabilities();
            simsimd_find_kernel_punned(
                kind,
                DATATYPE_F16,
                supported,
                CAP_ANY & !CAP_SAPPHIRE,
                &mut k,
                &mut cap,
            );
        }
        (k.expect("simsimd always has a serial f16 kernel"), cap)
    }

    pub fn table() -> &'static Table {
        static T: OnceLock<Table> = OnceLock::new();
        T.get_or_init(|| {
            let (dot, _) = find(METRIC_DOT);
            let (cos, _) = find(METRIC_COS);
            let (l2sq, capability) = find(METRIC_L2SQ);
            Table {
                dot,
                cos,
                l2sq,
                capability,
            }
        })
    }

    /// Run a kernel on two equal-length f16 slices.
    #[inline]
    pub fn call(k: Kernel, a: &[half::f16], b: &[half::f16]) -> f64 {
        assert_eq!(a.len(), b.len(), "operands have equal length");
        let mut d = 0.0f64;
        // SAFETY: both pointers address `a.len()` valid binary16 values (half::f16 is
        // repr(transparent) over u16); simsimd's kernels read exactly n elements of each
        // and write one f64; the table only holds kernels the CPU supports.
        unsafe { k(a.as_ptr().cast(), b.as_ptr().cast(), a.len(), &mut d) };
        d
    }

    /// Name of the capability the f16 kernels were compiled for.
    pub fn name() -> &'static str {
        match table().capability {
            c if c == 1 << 10 => "haswell",
            c if c == 1 << 11 => "skylake",
            c if c == 1 << 12 => "ice",
            c if c == 1 << 13 => "genoa",
            1 => "serial",
            _ => "other",
        }
    }
}

impl Element for f16 {
    #[inline]
    fn l2_squared(a: &[f16], b: &[f16]) -> f64 {
        f16_table::call(f16_table::table().l2sq, a, b)
    }
    #[inline]
    fn dot(a: &[f16], b: &[f16]) -> f64 {
        f16_table::call(f16_table::table().dot, a, b)
    }
    #[inline]
    fn cosine_raw(a: &[f16], b: &[f16]) -> f64 {
        f16_table::call(f16_table::table().cos, a, b)
    }
    #[inline]
    fn l1(a: &[f16], b: &[f16]) -> f64 {
        l1::l1_f16(a, b)
    }
    #[inline]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

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
    let d = E::cosine_raw(a, b);
    // simsimd reports 0 for two zero vectors; our convention is 1 (see the crate docs).
    if d == 0.0 && is_zero(a) {
        return 1.0;
    }
    d.clamp(0.0, 2.0)
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

/// Which kernels serve f16 inputs.
fn f16_backend() -> String {
    format!("{} (f32 accumulation)", f16_table::name())
}

/// True when every element is zero (either sign).
#[inline]
pub fn is_zero<E: Element>(a: &[E]) -> bool {
    a.iter().all(|x| x.to_f32() == 0.0)
}

/// The SIMD back-ends in use, e.g. `"simsimd: haswell,skylake,ice,genoa (dynamic dispatch); l1: avx512f"`.
pub fn simd_info() -> String {
    use simsimd::capabilities as c;
    let caps = [
        ("haswell", c::uses_haswell()),
        ("skylake", c::uses_skylake()),
        ("ice", c::uses_ice()),
        ("genoa", c::uses_genoa()),
        ("sapphire", c::uses_sapphire()),
        ("turin", c::uses_turin()),
        ("sierra", c::uses_sierra()),
        ("neon", c::uses_neon()),
        ("sve", c::uses_sve()),
    ];
    let on: Vec<&str> = caps.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    format!(
        "simsimd: {}{}; f16: {}; l1: {}",
        if on.is_empty() {
            "serial".to_string()
        } else {
            on.join(",")
        },
        if c::uses_dynamic_dispatch() {
            " (dynamic dispatch)"
        } else {
            ""
        },
        f16_backend(),
        l1::backend()
    )
}

#[cfg(test)]
mod tests;
