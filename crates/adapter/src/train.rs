//! Training: a seeded held-out split by document, minibatch Adam on the symmetric InfoNCE
//! loss ([`crate::loss`]), and the gate ([`crate::gate`]) on the held-out pairs.

use std::collections::BTreeSet;

use crate::adam::Adam;
use crate::adapter::{check_dims, unit_query};
use crate::gate::{gold_ranks, mean_pairwise_cosine, paired_gain, GateReport, RankMetrics};
use crate::linalg::{norm, Exec};
use crate::loss::{loss_and_grads, Grads, Scratch};
use crate::rng::SplitMix64;
use crate::{Adapter, AdapterError, COLLAPSE_SPREAD, MAX_BATCH, MIN_PAIRS};

/// `τ` is kept within these bounds (`log τ` is clamped after every step).
const TAU_MIN: f64 = 0.01;
const TAU_MAX: f64 = 1.0;

/// What to train on. Row-major `f32` matrices of `dims` columns.
#[derive(Clone, Copy, Debug)]
pub struct TrainingSet<'a> {
    /// Embedding dimensions (384 for all-MiniLM-L6-v2).
    pub dims: usize,
    /// Every candidate document (e.g. the whole table's embedding column): the paired
    /// documents and any others. Held-out queries are ranked against all of them. Zero rows
    /// are allowed (they score 0, as `<=>` treats them).
    pub documents: &'a [f32],
    /// One query embedding per pair.
    pub queries: &'a [f32],
    /// Each pair's document: a row number into `documents`. Several pairs may share one.
    pub doc_ids: &'a [u32],
}

/// Hyper-parameters; [`Default`] gives the values tuned on python-dev (crate README).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// Passes over the training pairs.
    pub epochs: usize,
    /// Pairs per step (in-batch negatives: a larger batch is a harder task), 2 ..= [`MAX_BATCH`].
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// `λ` of the regulariser `λ (‖W − I‖²_F + ‖b‖²)`.
    pub regularization: f64,
    /// Initial softmax temperature `τ`.
    pub temperature: f64,
    /// Learn `τ` (as `log τ`, clamped to `[0.01, 1]`) or keep it fixed.
    pub learn_temperature: bool,
    /// Share of the distinct documents whose pairs are held out for the gate, in (0, 0.5].
    pub holdout_fraction: f64,
    /// Seeds the split and the epoch shuffles.
    pub seed: u64,
    /// Worker threads (1 = the calling thread only). Results do not depend on it.
    pub threads: usize,
    /// Measure held-out MRR for the progress callback every this many epochs (0 = only at
    /// the end, for the gate). Each measurement ranks the held-out queries against every
    /// document once.
    pub eval_every: usize,
    /// The gate's margin: accept only when the held-out MRR@10 gain exceeds this …
    pub min_gain: f64,
    /// … and exceeds `gate_z` standard errors of the per-query differences.
    pub gate_z: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 40,
            batch_size: 256,
            learning_rate: 1e-3,
            regularization: 1e-2,
            temperature: 0.05,
            learn_temperature: true,
            holdout_fraction: 0.2,
            seed: 20_241_201,
            threads: 1,
            eval_every: 10,
            min_gain: 0.0,
            gate_z: 1.0,
        }
    }
}

/// Reported after each epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// 1-based.
    pub epoch: usize,
    /// Of this many.
    pub epochs: usize,
    /// Mean training loss of the epoch's steps (regulariser included).
    pub loss: f64,
    /// Current `τ`.
    pub temperature: f64,
    /// Held-out MRR@10 with the adapter as it stands, when measured this epoch.
    pub heldout_mrr: Option<f64>,
    /// Held-out MRR@10 without an adapter.
    pub plain_mrr: f64,
}

/// A trained adapter with what the gate decided. Use the adapter only if
/// `gate.accepted`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// The adapter after the last epoch.
    pub adapter: Adapter,
    /// Held-out evaluation and decision.
    pub gate: GateReport,
    /// Pairs trained on.
    pub train_pairs: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Final `τ`.
    pub temperature: f64,
    /// Mean loss of the last epoch.
    pub final_loss: f64,
}

fn check_options(o: &TrainOptions) -> Result<(), AdapterError> {
    let bad = |name, allowed| Err(AdapterError::InvalidOption { name, allowed });
    if o.epochs == 0 || o.epochs > 10_000 {
        return bad("epochs", "between 1 and 10000");
    }
    if o.batch_size < 2 || o.batch_size > MAX_BATCH {
        return bad("batch_size", "between 2 and 4096");
    }
    if !(o.learning_rate > 0.0 && o.learning_rate <= 1.0) {
        return bad("learning_rate", "in (0, 1]");
    }
    if !(o.regularization >= 0.0 && o.regularization.is_finite()) {
        return bad("regularization", "finite and >= 0");
    }
    if !(o.temperature >= TAU_MIN && o.temperature <= TAU_MAX) {
        return bad("temperature", "in [0.01, 1]");
    }
    if !(o.holdout_fraction > 0.0 && o.holdout_fraction <= 0.5) {
        return bad("holdout_fraction", "in (0, 0.5]");
    }
    if o.threads > 1024 {
        return bad("threads", "at most 1024");
    }
    if !(o.min_gain.is_finite() && o.gate_z.is_finite() && o.gate_z >= 0.0) {
        return bad("min_gain / gate_z", "finite (gate_z >= 0)");
    }
    Ok(())
}

/// Inverse norms of the rows (0 for a zero row), after checking lengths and finiteness.
fn inverse_norms(
    what: &'static str,
    rows: &[f32],
    dims: usize,
    allow_zero: bool,
) -> Result<Vec<f64>, AdapterError> {
    if !rows.len().is_multiple_of(dims) {
        return Err(AdapterError::DimensionMismatch {
            what,
            expected: rows.len() / dims * dims + dims,
            got: rows.len(),
        });
    }
    rows.chunks_exact(dims)
        .enumerate()
        .map(|(row, r)| {
            if r.iter().any(|x| !x.is_finite()) {
                return Err(AdapterError::NonFinite { what, row });
            }
            let n = norm(r);
            if n == 0.0 {
                return if allow_zero {
                    Ok(0.0)
                } else {
                    Err(AdapterError::ZeroVector { what, row })
                };
            }
            Ok(1.0 / n)
        })
        .collect()
}

/// Copies row `i` of `rows` scaled by `inv` into `out`.
fn scaled_row(rows: &[f32], dims: usize, i: usize, inv: f64, out: &mut Vec<f32>) {
    out.extend(
        rows[i * dims..(i + 1) * dims]
            .iter()
            .map(|&x| (x as f64 * inv) as f32),
    );
}

/// Trains an adapter on `set` and gates it on a held-out 20 % (by document) of the pairs.
///
/// `should_stop` is polled before every step (return `true` to cancel: the result is
/// [`AdapterError::Cancelled`]); `progress` is called after every epoch. Memory beyond the
/// inputs: about `(6·batch + 4·dims) · dims + 4·batch²` floats plus the held-out queries
/// (`0.2 · pairs · dims`) and one number per document and pair; nothing is copied whole.
pub fn train(
    set: &TrainingSet<'_>,
    opts: &TrainOptions,
    should_stop: &mut dyn FnMut() -> bool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Trained, AdapterError> {
    check_options(opts)?;
    let d = set.dims;
    check_dims(d)?;
    let n_pairs = set.doc_ids.len();
    if set.queries.len() != n_pairs * d {
        return Err(AdapterError::DimensionMismatch {
            what: "queries (pairs × dims)",
            expected: n_pairs * d,
            got: set.queries.len(),
        });
    }
    let doc_inv = inverse_norms("documents", set.documents, d, true)?;
    let q_inv = inverse_norms("queries", set.queries, d, false)?;
    let n_docs = doc_inv.len();
    if let Some((pair, &doc)) = set
        .doc_ids
        .iter()
        .enumerate()
        .find(|(_, &g)| g as usize >= n_docs)
    {
        return Err(AdapterError::DocumentOutOfRange { pair, doc, n_docs });
    }
    let distinct: Vec<u32> = set
        .doc_ids
        .iter()
        .copied()
        .collect::<BTreeSet<u32>>()
        .into_iter()
        .collect();
    if n_pairs < MIN_PAIRS || distinct.len() < MIN_PAIRS {
        return Err(AdapterError::TooFewPairs {
            pairs: n_pairs,
            distinct_docs: distinct.len(),
            need: MIN_PAIRS,
        });
    }

    // the split: a seeded share of the distinct documents, all their pairs held out
    let mut rng = SplitMix64::new(opts.seed);
    let mut order = distinct.clone();
    rng.shuffle(&mut order);
    let n_held_docs = ((distinct.len() as f64 * opts.holdout_fraction).round() as usize)
        .clamp(1, distinct.len() - 2);
    let held_docs: BTreeSet<u32> = order[..n_held_docs].iter().copied().collect();
    let (held, mut train_idx): (Vec<usize>, Vec<usize>) =
        (0..n_pairs).partition(|&i| held_docs.contains(&set.doc_ids[i]));

    let exec = Exec::new(opts.threads)?;
    let mut held_q = Vec::with_capacity(held.len() * d);
    for &i in &held {
        scaled_row(set.queries, d, i, q_inv[i], &mut held_q);
    }
    let held_gold: Vec<u32> = held.iter().map(|&i| set.doc_ids[i]).collect();
    let plain_ranks = gold_ranks(&exec, d, &held_q, &held_gold, set.documents, &doc_inv);
    let plain = RankMetrics::from_ranks(&plain_ranks);

    let mut adapter = Adapter::identity(d)?;
    let mut log_tau = opts.temperature.ln();
    let mut adam_w = Adam::new(d * d);
    let mut adam_b = Adam::new(d);
    let mut adam_t = Adam::new(1);
    let mut grads = Grads::new(d);
    let mut scratch = Scratch::default();
    let bsz = opts.batch_size.min(train_idx.len());
    let mut batch_q = Vec::with_capacity(bsz * d);
    let mut batch_d = Vec::with_capacity(bsz * d);
    let mut batch_ids = Vec::with_capacity(bsz);
    let mut adapted_q = vec![0.0f32; held_q.len()];
    let mut steps = 0usize;
    let mut final_loss = f64::NAN;

    for epoch in 1..=opts.epochs {
        rng.shuffle(&mut train_idx);
        let (mut loss_sum, mut n_steps) = (0.0, 0usize);
        for chunk in train_idx.chunks(bsz) {
            if chunk.len() < 2 {
                continue; // one pair has no negatives
            }
            if should_stop() {
                return Err(AdapterError::Cancelled);
            }
            batch_q.clear();
            batch_d.clear();
            batch_ids.clear();
            for &i in chunk {
                let g = set.doc_ids[i];
                scaled_row(set.queries, d, i, q_inv[i], &mut batch_q);
                scaled_row(
                    set.documents,
                    d,
                    g as usize,
                    doc_inv[g as usize],
                    &mut batch_d,
                );
                batch_ids.push(g);
            }
            let loss = loss_and_grads(
                &exec,
                &adapter,
                log_tau,
                opts.regularization,
                &batch_q,
                &batch_d,
                &batch_ids,
                &mut scratch,
                &mut grads,
            );
            if !loss.is_finite() {
                return Err(AdapterError::Diverged { epoch });
            }
            let (w, b) = adapter.parts_mut();
            adam_w.step(w, &grads.w, opts.learning_rate);
            adam_b.step(b, &grads.b, opts.learning_rate);
            if opts.learn_temperature {
                adam_t.step_scalar(&mut log_tau, grads.log_tau, opts.learning_rate);
                log_tau = log_tau.clamp(TAU_MIN.ln(), TAU_MAX.ln());
            }
            loss_sum += loss;
            n_steps += 1;
            steps += 1;
        }
        final_loss = loss_sum / n_steps.max(1) as f64;
        if adapter
            .matrix()
            .iter()
            .chain(adapter.bias())
            .any(|x| !x.is_finite())
        {
            return Err(AdapterError::Diverged { epoch });
        }
        let heldout_mrr =
            if opts.eval_every > 0 && epoch.is_multiple_of(opts.eval_every) && epoch != opts.epochs
            {
                adapter.forward_rows(&exec, &held_q, &mut adapted_q);
                Some(
                    RankMetrics::from_ranks(&gold_ranks(
                        &exec,
                        d,
                        &adapted_q,
                        &held_gold,
                        set.documents,
                        &doc_inv,
                    ))
                    .mrr10,
                )
            } else {
                None
            };
        let last = epoch == opts.epochs;
        if !last {
            progress(&Progress {
                epoch,
                epochs: opts.epochs,
                loss: final_loss,
                temperature: log_tau.exp(),
                heldout_mrr,
                plain_mrr: plain.mrr10,
            });
        }
    }

    // the gate
    adapter.forward_rows(&exec, &held_q, &mut adapted_q);
    let adapted_ranks = gold_ranks(&exec, d, &adapted_q, &held_gold, set.documents, &doc_inv);
    let adapted = RankMetrics::from_ranks(&adapted_ranks);
    progress(&Progress {
        epoch: opts.epochs,
        epochs: opts.epochs,
        loss: final_loss,
        temperature: log_tau.exp(),
        heldout_mrr: Some(adapted.mrr10),
        plain_mrr: plain.mrr10,
    });
    let (gain, gain_stderr) = paired_gain(&plain_ranks, &adapted_ranks);
    let plain_mean_cosine = mean_pairwise_cosine(d, &held_q);
    let adapted_mean_cosine = mean_pairwise_cosine(d, &adapted_q);
    let collapsed = is_collapsed(plain_mean_cosine, adapted_mean_cosine);
    let accepted = !collapsed && gain > opts.min_gain && gain > opts.gate_z * gain_stderr;
    Ok(Trained {
        adapter,
        gate: GateReport {
            heldout_pairs: held.len(),
            candidates: n_docs,
            plain,
            adapted,
            gain,
            gain_stderr,
            plain_mean_cosine,
            adapted_mean_cosine,
            collapsed,
            accepted,
        },
        train_pairs: train_idx.len(),
        steps,
        temperature: log_tau.exp(),
        final_loss,
    })
}

/// The queries' spread `1 − mean pairwise cosine` shrank below [`COLLAPSE_SPREAD`] of what
/// it was without the adapter.
pub(crate) fn is_collapsed(plain_mean_cosine: f64, adapted_mean_cosine: f64) -> bool {
    let plain_spread = (1.0 - plain_mean_cosine).max(1e-12);
    (1.0 - adapted_mean_cosine) / plain_spread < COLLAPSE_SPREAD
}

/// Ranking metrics of `queries` (one per row, any length) against every row of `documents`,
/// the relevant document of query `i` being `doc_ids[i]`; through `adapter` when given.
/// The same measurement the gate makes, for offline evaluation and for re-checking a
/// stored adapter against new pairs.
pub fn evaluate(
    adapter: Option<&Adapter>,
    dims: usize,
    documents: &[f32],
    queries: &[f32],
    doc_ids: &[u32],
    threads: usize,
) -> Result<RankMetrics, AdapterError> {
    check_dims(dims)?;
    if let Some(a) = adapter {
        if a.dims() != dims {
            return Err(AdapterError::DimensionMismatch {
                what: "adapter dimensions",
                expected: dims,
                got: a.dims(),
            });
        }
    }
    if queries.len() != doc_ids.len() * dims {
        return Err(AdapterError::DimensionMismatch {
            what: "queries (pairs × dims)",
            expected: doc_ids.len() * dims,
            got: queries.len(),
        });
    }
    let doc_inv = inverse_norms("documents", documents, dims, true)?;
    if let Some((pair, &doc)) = doc_ids
        .iter()
        .enumerate()
        .find(|(_, &g)| g as usize >= doc_inv.len())
    {
        return Err(AdapterError::DocumentOutOfRange {
            pair,
            doc,
            n_docs: doc_inv.len(),
        });
    }
    let mut unit = Vec::with_capacity(queries.len());
    for (row, q) in queries.chunks_exact(dims).enumerate() {
        unit.extend(unit_query(q, dims, "queries", row)?);
    }
    let exec = Exec::new(threads)?;
    if let Some(a) = adapter {
        let mut out = vec![0.0; unit.len()];
        a.forward_rows(&exec, &unit, &mut out);
        unit = out;
    }
    Ok(RankMetrics::from_ranks(&gold_ranks(
        &exec, dims, &unit, doc_ids, documents, &doc_inv,
    )))
}
