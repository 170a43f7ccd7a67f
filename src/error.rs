//! Raising Postgres errors with an SQLSTATE, a detail and a hint.

use codevec_vector::VectorError;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// Raise `ERROR` with `code`, `message`, and optional detail and hint. Never returns.
#[track_caller]
pub fn raise(
    code: PgSqlErrorCode,
    message: impl Into<String>,
    detail: Option<String>,
    hint: Option<&str>,
) -> ! {
    let mut r = pgrx::pg_sys::panic::ErrorReport::new(code, message.into(), "codevec");
    if let Some(d) = detail {
        r = r.set_detail(d);
    }
    if let Some(h) = hint {
        r = r.set_hint(h);
    }
    r.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Raise `ERROR` 22023 (invalid_parameter_value) with `msg`. Never returns.
#[track_caller]
pub fn invalid(msg: String) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        msg,
        None,
        None,
    )
}

/// The SQLSTATE for a vector error.
pub fn sqlstate(e: &VectorError) -> PgSqlErrorCode {
    match e {
        VectorError::Syntax { .. } => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        VectorError::OutOfRange { .. } | VectorError::Overflow { .. } => {
            PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE
        }
        VectorError::NotFinite { .. }
        | VectorError::Empty { .. }
        | VectorError::DimMismatch { .. } => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        VectorError::TooManyDims { .. } => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        VectorError::Binary { .. } => PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
        VectorError::InvalidArgument { .. } | VectorError::InvalidState { .. } => {
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE
        }
    }
}

/// Raise a vector error as `ERROR`.
#[track_caller]
pub fn vector_error(e: VectorError) -> ! {
    let detail = match &e {
        VectorError::Syntax { detail, .. } => Some(detail.clone()),
        _ => None,
    };
    let hint = e.hint();
    raise(sqlstate(&e), e.to_string(), detail, hint.as_deref())
}

/// Unwrap a vector result or raise its error.
pub trait OrRaise<T> {
    /// The value, or `ERROR`.
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, VectorError> {
    #[track_caller]
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| vector_error(e))
    }
}
