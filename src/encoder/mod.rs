//! The bundled encoder in SQL: `codevec.embed`, `codevec.embed_batch`,
//! `codevec.encoder_info`, and the `codevec.embed_table` procedure (sql/encoder.sql).
//!
//! The model is loaded lazily, once per backend, and cached until the settings it depends
//! on change. Encoding runs on the backend thread (or the encoder's own signal-blocked
//! pool); the backend thread polls Postgres' interrupt flags between layers and raises the
//! cancel after the encoder returns, so worker threads never touch Postgres.

pub(crate) mod model;
mod sql;
pub(crate) mod text;

use codevec_encoder::{Encoder, EncoderError};
use pgrx::prelude::*;

use crate::error::raise;

/// Encode texts, honouring statement_timeout and cancel requests.
pub(crate) fn encode(enc: &Encoder, texts: &[&str]) -> Vec<Vec<f32>> {
    match enc.embed_batch_interruptible(texts, &mut crate::interrupts::cancel_pending) {
        Ok(v) => v,
        Err(EncoderError::Cancelled) => {
            // SAFETY: called on the backend thread; raises the pending cancel/terminate.
            unsafe { pg_sys::ProcessInterrupts() };
            raise(
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                "canceling statement due to user request",
                None,
                None,
            )
        }
        Err(e) => raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("codevec encoder: {e}"),
            None,
            None,
        ),
    }
}
