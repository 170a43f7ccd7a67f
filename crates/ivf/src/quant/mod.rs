//! Compact codes for ranking candidates inside a list: RaBitQ-style 1-bit
//! codes of the rotated residual `R(x − c)`, with an unbiased inner-product
//! estimator and a per-vector error bound.
//!
//! * [`rotation`] – the seeded orthogonal transform `R`.
//! * [`rabitq`] – encoding (`code` + [`rabitq::CodeFactors`]) and the estimator.
//! * [`query`] – the per-query preprocessed form (4-bit bit-planes).
//! * [`scan`] – the block layout and the popcount batch kernels.

pub mod query;
pub mod rabitq;
pub mod rotation;
pub mod scan;
