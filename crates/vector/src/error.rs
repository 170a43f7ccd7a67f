//! The one error type of this crate; the SQL layer maps each variant to an SQLSTATE.

use std::fmt;

/// Why a vector value was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorError {
    /// Text input that is not `[x, y, ...]` (SQLSTATE 22P02).
    Syntax {
        type_name: &'static str,
        input: String,
        detail: String,
    },
    /// A number too large for the element type (22003).
    OutOfRange {
        type_name: &'static str,
        value: String,
    },
    /// NaN or infinity (22000).
    NotFinite {
        type_name: &'static str,
        what: &'static str,
    },
    /// `[]` or a zero-length array (22000).
    Empty { type_name: &'static str },
    /// More than [`crate::MAX_DIM`] elements (54000).
    TooManyDims {
        type_name: &'static str,
        dims: usize,
    },
    /// Binary input that does not decode (22P03).
    Binary {
        type_name: &'static str,
        detail: String,
    },
    /// Two operands with different dimension counts (22000).
    DimMismatch {
        type_name: &'static str,
        left: usize,
        right: usize,
    },
    /// Arithmetic overflow in an element-wise operation (22003).
    Overflow {
        type_name: &'static str,
        op: &'static str,
    },
    /// Bad sub-vector bounds and the like (2202E array_subscript_error or 22023).
    InvalidArgument { detail: String },
    /// An aggregate transition state (`double precision[]`: count, then one sum per
    /// dimension) that no aggregate produces, e.g. passed by hand to
    /// `embedding_avg_final` (22023 invalid_parameter_value suggested).
    InvalidState {
        type_name: &'static str,
        detail: String,
    },
}

impl VectorError {
    /// A suggestion for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            VectorError::Syntax { .. } => {
                Some("Write vectors as a bracketed, comma-separated list of numbers, e.g. '[1,2.5,-3]'.".into())
            }
            VectorError::DimMismatch { .. } => {
                Some("Both operands must have the same number of dimensions; check the column's type modifier, e.g. embedding(384).".into())
            }
            VectorError::TooManyDims { .. } => {
                Some(format!("Reduce the dimensions to at most {}.", crate::MAX_DIM))
            }
            VectorError::InvalidState { .. } => Some(
                "The state is {count, sum_1, ..., sum_n}: count a positive integer, at least one finite sum.".into(),
            ),
            VectorError::OutOfRange { type_name, .. } if *type_name == "halfembedding" => {
                Some("halfembedding elements must lie within ±65504; use embedding for larger values.".into())
            }
            _ => None,
        }
    }
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VectorError::Syntax {
                type_name, input, ..
            } => {
                write!(f, "invalid input syntax for type {type_name}: \"{input}\"")
            }
            VectorError::OutOfRange { type_name, value } => {
                write!(f, "\"{value}\" is out of range for type {type_name}")
            }
            VectorError::NotFinite { type_name, what } => {
                write!(f, "{what} not allowed in {type_name}")
            }
            VectorError::Empty { type_name } => {
                write!(f, "{type_name} must have at least 1 dimension")
            }
            VectorError::TooManyDims { type_name, dims } => write!(
                f,
                "{type_name} cannot have more than {} dimensions (got {dims})",
                crate::MAX_DIM
            ),
            VectorError::Binary { type_name, detail } => {
                write!(f, "invalid binary data for type {type_name}: {detail}")
            }
            VectorError::DimMismatch {
                type_name,
                left,
                right,
            } => {
                write!(f, "different {type_name} dimensions {left} and {right}")
            }
            VectorError::Overflow { type_name, op } => {
                write!(
                    f,
                    "value out of range for type {type_name}: overflow in {op}"
                )
            }
            VectorError::InvalidArgument { detail } => write!(f, "{detail}"),
            VectorError::InvalidState { type_name, detail } => {
                write!(f, "invalid {type_name} aggregate state: {detail}")
            }
        }
    }
}

impl std::error::Error for VectorError {}
