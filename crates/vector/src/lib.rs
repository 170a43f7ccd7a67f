//! Vector values as codevec stores them, without Postgres.
//!
//! - [`element`]: the two element types, `f32` (`embedding`) and IEEE binary16
//!   (`halfembedding`), with checked conversions.
//! - [`text`]: pgvector's text format `[1,2.5,-3]`: whitespace-tolerant input, shortest
//!   exact round-trip output.
//! - [`binary`]: the send/receive wire format (`int16 dim, int16 0, elements`, big-endian).
//! - [`math`]: element-wise arithmetic, normalisation, sub-vectors, comparison.
//!
//! Every failure is a [`VectorError`] that the SQL layer maps to an SQLSTATE.

pub mod binary;
pub mod element;
pub mod error;
pub mod math;
pub mod text;

pub use element::Element;
pub use error::VectorError;

/// Most dimensions an `embedding` or `halfembedding` may have (as pgvector).
pub const MAX_DIM: usize = 16_000;

/// Check a dimension count against [`MAX_DIM`] and emptiness.
pub fn check_dims(type_name: &'static str, dims: usize) -> Result<(), VectorError> {
    if dims == 0 {
        return Err(VectorError::Empty { type_name });
    }
    if dims > MAX_DIM {
        return Err(VectorError::TooManyDims { type_name, dims });
    }
    Ok(())
}
