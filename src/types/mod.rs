//! The `embedding` (f32) and `halfembedding` (f16) SQL types.
//!
//! Every C-level function here is declared with `sql = false`: the SQL objects (types,
//! functions, operators, casts, operator classes, aggregates, comments) are written by
//! hand in `sql/types.sql`, like pgvector's, so that each has exactly the properties and
//! documentation we want. Each file defines its functions once, generically, and a macro
//! instantiates them for both element types.

pub mod aggregates;
pub mod casts;
pub mod detoast;
pub mod distance;
pub mod functions;
pub mod io;
pub mod varlena;

pub use varlena::{DistanceArg, VectorArray, VectorIn, VectorOut};

/// Fail with a clear message unless the two operands have the same dimensions.
pub(crate) fn check_same_dims<E: codevec_vector::Element>(a: &[E], b: &[E]) {
    use crate::error::OrRaise;
    codevec_vector::math::same_dims(a, b).or_raise()
}
