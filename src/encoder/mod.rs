//! The bundled encoder in SQL: `codevec.embed`, `codevec.embed_batch`,
//! `codevec.encoder_info`, and the `codevec.embed_table` procedure (sql/encoder.sql).
//!
//! The model is loaded lazily, once per backend, and cached until the settings it depends
//! on change. Encoding runs on the backend thread (or the encoder's own signal-blocked
//! pool); the backend thread polls Postgres' interrupt flags between layers and raises the
//! cancel after the encoder returns, so worker threads never touch Postgres.

mod memo;
pub(crate) mod model;
mod sql;
pub(crate) mod text;

use codevec_encoder::{Encoder, EncoderError};
use pgrx::prelude::*;

use crate::error::raise;

/// The embedding of one text (remembered per backend: see [`memo`]).
pub(crate) fn encode_one(enc: &std::sync::Arc<Encoder>, text: &str) -> Vec<f32> {
    memo::embed_one(enc, text, || {
        encode(enc, &[text]).pop().expect("one embedding per text")
    })
}

/// Texts this backend ran through the model, and embeddings it answered from the memo.
pub(crate) static COUNTS: [std::sync::atomic::AtomicU64; 2] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

/// Encode texts, honouring statement_timeout and cancel requests.
pub(crate) fn encode(enc: &Encoder, texts: &[&str]) -> Vec<Vec<f32>> {
    COUNTS[0].fetch_add(texts.len() as u64, std::sync::atomic::Ordering::Relaxed);
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
