//! Runtime CPU feature detection for the kernels written in this crate
//! ([`crate::f16dot`], [`crate::quant::scan`]): the workspace-wide level of
//! `codevec-simd`, so that `CODEVEC_SIMD=scalar` (or `avx2`) caps these kernels together
//! with the distance operators and the encoder.

pub use codevec_simd::{available_levels, level, prefetch, supported, SimdLevel};
