//! The bundled encoder in SQL: `codevec.embed`, `codevec.embed_batch`,
//! `codevec.encoder_info`, and the `codevec.embed_table` procedure (sql/encoder.sql).
//!
//! The model is loaded lazily, once per backend, and cached until the settings it depends
//! on change. Encoding runs on the backend thread (or the encoder's own signal-blocked
//! pool); the backend thread polls Postgres' interrupt flags between layers and raises the
//! cancel after the encoder returns, so worker threads never touch Postgres.

mod model;
mod sql;
pub(crate) mod text;
