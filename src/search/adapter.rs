//! The query adapter in SQL: applying a stored adapter to a query embedding, and training
//! one on the backend (rayon workers for the products, the backend thread for progress
//! NOTICEs and interrupts). Storage, versions and activation are `sql/search.sql`.

use pgrx::prelude::*;

#[pg_schema]
mod codevec {
    use std::cell::RefCell;
    use std::time::Instant;

    use codevec_adapter::{train, Adapter, AdapterError, TrainOptions, TrainingSet};
    use pgrx::prelude::*;

    use crate::encoder::model;
    use crate::error::raise;
    use crate::types::{VectorIn, VectorOut};

    thread_local! {
        /// The last adapter decoded by this backend, with its bytes: a search applies the
        /// same stored adapter again and again, and decoding checks 591 kB.
        static LAST: RefCell<Option<(Vec<u8>, Adapter)>> = const { RefCell::new(None) };
    }

    fn adapter_error(e: AdapterError) -> ! {
        let code = match e {
            AdapterError::Cancelled => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
            _ => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        };
        raise(code, format!("codevec adapter: {e}"), None, None)
    }

    /// `q' = normalize(W q + b)` for an adapter blob made by `codevec.train_adapter`.
    #[pg_extern(immutable, strict, parallel_safe, cost = 100, sql = false)]
    fn apply_adapter(query: VectorIn<'_, f32>, adapter: &[u8]) -> VectorOut<f32> {
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            if last.as_ref().is_none_or(|(b, _)| b.as_slice() != adapter) {
                let a = Adapter::from_bytes(adapter).unwrap_or_else(|e| adapter_error(e));
                *last = Some((adapter.to_vec(), a));
            }
            let a = &last.as_ref().expect("just set").1;
            let v = a
                .apply(query.as_slice())
                .unwrap_or_else(|e| adapter_error(e));
            VectorOut::new(&v)
        })
    }

    /// Train an adapter: `documents` is a 2-D `real[]` (one embedding per row),
    /// `queries` the pairs' questions (embedded here at `precision`), `doc_ids` each
    /// pair's document (1-based row of `documents`). Returns the blob with the gate's
    /// decision; storing it is the caller's (`codevec.train_adapter`).
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    #[pg_extern(volatile, strict, parallel_unsafe, sql = false)]
    fn adapter_train(
        documents: Array<'_, f32>,
        queries: Vec<Option<String>>,
        doc_ids: Vec<Option<i32>>,
        precision: &str,
        epochs: i32,
        seed: i64,
        min_gain: f64,
    ) -> TableIterator<
        'static,
        (
            name!(adapter, Vec<u8>),
            name!(accepted, bool),
            name!(collapsed, bool),
            name!(train_pairs, i32),
            name!(heldout_pairs, i32),
            name!(plain_mrr, f64),
            name!(adapted_mrr, f64),
            name!(gain_stderr, f64),
            name!(seconds, f64),
        ),
    > {
        let t0 = Instant::now();
        let dims = 384usize;
        if queries.len() != doc_ids.len() {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!(
                    "{} queries but {} document ids",
                    queries.len(),
                    doc_ids.len()
                ),
                None,
                None,
            );
        }
        let mut docs: Vec<f32> = Vec::new();
        if docs.try_reserve_exact(documents.len()).is_err() {
            raise(
                PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
                "out of memory for the documents' embeddings",
                None,
                None,
            );
        }
        for x in documents.iter() {
            docs.push(x.unwrap_or(0.0));
        }
        if !docs.len().is_multiple_of(dims) || docs.is_empty() {
            raise(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                format!("documents hold {} numbers, not rows of {dims}", docs.len()),
                None,
                None,
            );
        }
        let n_docs = docs.len() / dims;
        let mut texts: Vec<&str> = Vec::with_capacity(queries.len());
        let mut ids: Vec<u32> = Vec::with_capacity(queries.len());
        for (q, d) in queries.iter().zip(&doc_ids) {
            let (Some(q), Some(d)) = (q, d) else { continue };
            if *d < 1 || *d as usize > n_docs {
                raise(
                    PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                    format!("document id {d} is outside 1..{n_docs}"),
                    None,
                    None,
                );
            }
            texts.push(q.as_str());
            ids.push((*d - 1) as u32);
        }
        let enc = model::encoder_with(model::parse_precision(precision));
        let mut qv: Vec<f32> = Vec::with_capacity(texts.len() * dims);
        for (i, chunk) in texts.chunks(256).enumerate() {
            for v in crate::encoder::encode(&enc, chunk) {
                qv.extend_from_slice(&v);
            }
            if i % 8 == 7 {
                pgrx::notice!(
                    "codevec.train_adapter: embedded {} of {} questions",
                    ((i + 1) * 256).min(texts.len()),
                    texts.len()
                );
            }
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let opts = TrainOptions {
            epochs: epochs.clamp(1, 10_000) as usize,
            seed: seed as u64,
            threads,
            min_gain,
            ..TrainOptions::default()
        };
        let set = TrainingSet {
            dims,
            documents: &docs,
            queries: &qv,
            doc_ids: &ids,
        };
        let trained = train(
            &set,
            &opts,
            &mut crate::interrupts::cancel_pending,
            &mut |p| {
                if p.epoch % 10 == 0 || p.epoch == p.epochs {
                    match p.heldout_mrr {
                        Some(m) => pgrx::notice!(
                            "codevec.train_adapter: epoch {}/{}, loss {:.4}, held-out MRR@10 {:.4} (without the adapter {:.4})",
                            p.epoch, p.epochs, p.loss, m, p.plain_mrr
                        ),
                        None => pgrx::notice!(
                            "codevec.train_adapter: epoch {}/{}, loss {:.4}",
                            p.epoch, p.epochs, p.loss
                        ),
                    }
                }
            },
        );
        let trained = match trained {
            Ok(t) => t,
            Err(AdapterError::Cancelled) => {
                // SAFETY: on the backend thread; raises the pending cancel or termination.
                unsafe { pg_sys::ProcessInterrupts() };
                adapter_error(AdapterError::Cancelled)
            }
            Err(e) => adapter_error(e),
        };
        let g = &trained.gate;
        TableIterator::once((
            trained.adapter.to_bytes(),
            g.accepted,
            g.collapsed,
            trained.train_pairs as i32,
            g.heldout_pairs as i32,
            g.plain.mrr10,
            g.adapted.mrr10,
            g.gain_stderr,
            t0.elapsed().as_secs_f64(),
        ))
    }
}
