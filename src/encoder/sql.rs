//! SQL functions of the encoder (schema `codevec`).

use pgrx::prelude::*;

#[pg_schema]
mod codevec {
    use codevec_encoder::Encoder;
    use pgrx::prelude::*;

    use crate::encoder::text::{model_text, TextArg};
    use crate::encoder::{encode, encode_one, model};
    use crate::types::{VectorArray, VectorOut};

    // COST: one text takes about 1-5 ms, several thousand times a built-in operator
    // (cpu_operator_cost units), so the planner evaluates `embed($1)` of a generic plan once
    // per scan instead of choosing a plan that calls it per row.

    /// The all-MiniLM-L6-v2 embedding of a text: 384 dimensions, unit length. Input longer
    /// than 256 word pieces is truncated exactly like the reference implementation.
    #[pg_extern(immutable, strict, parallel_safe, cost = 10000)]
    fn embed(text: TextArg) -> VectorOut<f32> {
        let enc = model::encoder();
        // SAFETY: a non-null text datum (the function is strict).
        let s = unsafe { model_text(&enc, text.0) };
        VectorOut::new(&encode_one(&enc, &s))
    }

    /// `embed(text)` at a chosen precision: 'f32' (the same as `embed(text)`) or 'int8'
    /// (dense layers as 8-bit integer products: about twice as fast, cosine >= 0.995).
    #[pg_extern(immutable, strict, parallel_safe, cost = 10000, name = "embed")]
    fn embed_precision(text: TextArg, precision: &str) -> VectorOut<f32> {
        let enc = model::encoder_with(model::parse_precision(precision));
        // SAFETY: a non-null text datum (the function is strict).
        let s = unsafe { model_text(&enc, text.0) };
        VectorOut::new(&encode_one(&enc, &s))
    }

    /// Embeddings of many texts at once (faster than one call per text); NULL elements give
    /// NULL embeddings. The result has the same length and order as the input.
    #[pg_extern(immutable, strict, parallel_safe, cost = 100000)]
    fn embed_batch(texts: Array<'_, TextArg>) -> VectorArray<f32> {
        embed_many(&model::encoder(), texts)
    }

    /// `embed_batch(text[])` at a chosen precision ('f32' or 'int8').
    #[pg_extern(immutable, strict, parallel_safe, cost = 100000, name = "embed_batch")]
    fn embed_batch_precision(texts: Array<'_, TextArg>, precision: &str) -> VectorArray<f32> {
        embed_many(
            &model::encoder_with(model::parse_precision(precision)),
            texts,
        )
    }

    fn embed_many(enc: &Encoder, texts: Array<'_, TextArg>) -> VectorArray<f32> {
        let owned: Vec<Option<String>> = texts
            .iter()
            // SAFETY: elements of a text[] are text datums; NULLs are None.
            .map(|d| d.map(|d| unsafe { model_text(enc, d.0) }))
            .collect();
        let present: Vec<&str> = owned.iter().flatten().map(String::as_str).collect();
        let mut vecs = encode(enc, &present).into_iter();
        VectorArray(
            owned
                .iter()
                .map(|t| {
                    t.as_ref()
                        .map(|_| VectorOut::new(&vecs.next().expect("one per text")))
                })
                .collect(),
        )
    }

    /// Number of word pieces the model sees for a text (after truncation, with [CLS] and [SEP]).
    #[pg_extern(immutable, strict, parallel_safe, cost = 1000)]
    fn token_count(text: TextArg) -> i32 {
        let enc = model::encoder();
        // SAFETY: a non-null text datum.
        let s = unsafe { model_text(&enc, text.0) };
        enc.token_count(&s) as i32
    }

    /// The encoder this backend uses for a precision, loading it if needed.
    // pgrx derives the SQL result columns from the `name!` entries in this signature, so
    // the TableIterator type cannot be moved into a type alias.
    #[allow(clippy::type_complexity)]
    #[pg_extern(volatile, parallel_safe)]
    fn encoder_info(
        precision: default!(&str, "'f32'"),
    ) -> TableIterator<
        'static,
        (
            name!(model, String),
            name!(dims, i32),
            name!(max_tokens, i32),
            name!(precision, String),
            name!(threads, i32),
            name!(batch_size, i32),
            name!(simd, String),
            name!(gemm, String),
            name!(model_dir, String),
            name!(load_ms, f64),
            name!(resident_mb, f64),
            name!(weights, String),
            name!(weights_file, Option<String>),
            name!(texts_embedded, i64),
            name!(memo_hits, i64),
        ),
    > {
        let row = model::with_loaded(model::parse_precision(precision), |l| {
            let i = l.encoder.info();
            (
                i.model.to_string(),
                i.dims as i32,
                i.max_tokens as i32,
                i.precision.to_string(),
                i.threads as i32,
                i.max_batch as i32,
                i.simd.to_string(),
                i.gemm_kernel.to_string(),
                l.dir.display().to_string(),
                l.load_time.as_secs_f64() * 1000.0,
                model::resident_bytes() as f64 / (1024.0 * 1024.0),
                i.weights_source.name().to_string(),
                i.weights_file.as_ref().map(|p| p.display().to_string()),
                crate::encoder::COUNTS[0].load(std::sync::atomic::Ordering::Relaxed) as i64,
                crate::encoder::COUNTS[1].load(std::sync::atomic::Ordering::Relaxed) as i64,
            )
        });
        TableIterator::once(row)
    }
}

extension_sql_file!(
    "../../sql/encoder.sql",
    name = "encoder_sql",
    requires = [
        codevec::embed,
        codevec::embed_precision,
        codevec::embed_batch,
        codevec::embed_batch_precision,
        codevec::token_count,
        codevec::encoder_info
    ]
);
