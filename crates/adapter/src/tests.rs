//! Unit tests of the whole crate (no model, no data files).

use crate::adapter::normalize_in_place;
use crate::linalg::Exec;
use crate::loss::{loss_and_grads, Grads, Scratch};
use crate::rng::SplitMix64;
use crate::train::is_collapsed;
use crate::*;

fn unit_rows(rng: &mut SplitMix64, n: usize, d: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
    for r in v.chunks_exact_mut(d) {
        normalize_in_place(r);
    }
    v
}

/// `n` documents and `n` queries `normalize(M d_i + σ ε)` with a hidden mixing `M`: the
/// plain ranking is mediocre and a linear adapter can undo most of `M`.
fn synthetic(seed: u64, n: usize, d: usize, noise: f64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = SplitMix64::new(seed);
    let docs = unit_rows(&mut rng, n, d);
    let m: Vec<f64> = (0..d * d)
        .map(|i| if i / d == i % d { 1.0 } else { 0.0 } + 0.35 * rng.normal())
        .collect();
    let mut queries = Vec::with_capacity(n * d);
    for doc in docs.chunks_exact(d) {
        let mut q: Vec<f32> = (0..d)
            .map(|k| {
                let s: f64 = (0..d).map(|l| m[k * d + l] * doc[l] as f64).sum();
                (s + noise * rng.normal()) as f32
            })
            .collect();
        normalize_in_place(&mut q);
        queries.extend(q);
    }
    (docs, queries)
}

fn never() -> impl FnMut() -> bool {
    || false
}

fn quiet() -> impl FnMut(&Progress) {
    |_| {}
}

/// The loss of `loss.rs`'s formula, written again naively in f64.
#[allow(clippy::too_many_arguments)]
fn reference_loss(
    d: usize,
    w: &[f64],
    b: &[f64],
    log_tau: f64,
    lambda: f64,
    q: &[f32],
    docs: &[f32],
    ids: &[u32],
) -> f64 {
    let n = ids.len();
    let tau = log_tau.exp();
    let a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let u: Vec<f64> = (0..d)
                .map(|k| {
                    (0..d)
                        .map(|l| w[k * d + l] * q[i * d + l] as f64)
                        .sum::<f64>()
                        + b[k]
                })
                .collect();
            let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            u.iter().map(|x| x / nu).collect()
        })
        .collect();
    let z = |i: usize, j: usize| {
        (0..d)
            .map(|l| a[i][l] * docs[j * d + l] as f64)
            .sum::<f64>()
            / tau
    };
    let keep = |i: usize, j: usize| i == j || ids[i] != ids[j];
    let mut loss = 0.0;
    for i in 0..n {
        let lse = (0..n)
            .filter(|&j| keep(i, j))
            .map(|j| z(i, j).exp())
            .sum::<f64>()
            .ln();
        loss += lse - z(i, i);
        let lse = (0..n)
            .filter(|&k| keep(k, i))
            .map(|k| z(k, i).exp())
            .sum::<f64>()
            .ln();
        loss += lse - z(i, i);
    }
    let mut reg = 0.0;
    for (idx, &x) in w.iter().enumerate() {
        let t = x - if idx / d == idx % d { 1.0 } else { 0.0 };
        reg += t * t;
    }
    reg += b.iter().map(|x| x * x).sum::<f64>();
    loss / (2.0 * n as f64) + lambda * reg
}

#[test]
fn gradient_matches_finite_differences() {
    let (d, n) = (6, 5);
    let mut rng = SplitMix64::new(7);
    let q = unit_rows(&mut rng, n, d);
    let docs = unit_rows(&mut rng, n, d);
    let ids = [0u32, 1, 2, 1, 4]; // pairs 1 and 3 share a document: masked negatives
    let w: Vec<f32> = (0..d * d)
        .map(|i| if i / d == i % d { 1.0 } else { 0.0 } + 0.3 * rng.normal() as f32)
        .collect();
    let b: Vec<f32> = (0..d).map(|_| 0.2 * rng.normal() as f32).collect();
    let (log_tau, lambda) = (0.2f64.ln(), 0.05);
    let adapter = Adapter::from_parts(d, w.clone(), b.clone()).unwrap();
    let mut grads = Grads::new(d);
    let loss = loss_and_grads(
        &Exec::Serial,
        &adapter,
        log_tau,
        lambda,
        &q,
        &docs,
        &ids,
        &mut Scratch::default(),
        &mut grads,
    );
    let w64: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    let b64: Vec<f64> = b.iter().map(|&x| x as f64).collect();
    let reference = reference_loss(d, &w64, &b64, log_tau, lambda, &q, &docs, &ids);
    assert!(
        (loss - reference).abs() < 1e-5,
        "loss {loss} vs reference {reference}"
    );

    let h = 1e-5;
    let check = |analytic: f64, plus: f64, minus: f64, what: &str| {
        let numeric = (plus - minus) / (2.0 * h);
        let err = (analytic - numeric).abs() / numeric.abs().max(1e-3);
        assert!(
            err < 2e-3,
            "{what}: analytic {analytic} vs numeric {numeric}"
        );
    };
    for idx in 0..d * d {
        let mut p = w64.clone();
        p[idx] += h;
        let plus = reference_loss(d, &p, &b64, log_tau, lambda, &q, &docs, &ids);
        p[idx] -= 2.0 * h;
        let minus = reference_loss(d, &p, &b64, log_tau, lambda, &q, &docs, &ids);
        check(grads.w[idx] as f64, plus, minus, &format!("W[{idx}]"));
    }
    for idx in 0..d {
        let mut p = b64.clone();
        p[idx] += h;
        let plus = reference_loss(d, &w64, &p, log_tau, lambda, &q, &docs, &ids);
        p[idx] -= 2.0 * h;
        let minus = reference_loss(d, &w64, &p, log_tau, lambda, &q, &docs, &ids);
        check(grads.b[idx] as f64, plus, minus, &format!("b[{idx}]"));
    }
    let plus = reference_loss(d, &w64, &b64, log_tau + h, lambda, &q, &docs, &ids);
    let minus = reference_loss(d, &w64, &b64, log_tau - h, lambda, &q, &docs, &ids);
    check(grads.log_tau, plus, minus, "log tau");

    // the same gradients on a pool
    let mut pooled = Grads::new(d);
    let l2 = loss_and_grads(
        &Exec::new(2).unwrap(),
        &adapter,
        log_tau,
        lambda,
        &q,
        &docs,
        &ids,
        &mut Scratch::default(),
        &mut pooled,
    );
    assert_eq!(l2.to_bits(), loss.to_bits());
    assert_eq!(pooled.w, grads.w);
    assert_eq!(pooled.b, grads.b);
}

/// Every document's number, best first by dot product with `q` (ties by id).
fn ranking(q: &[f32], docs: &[f32], d: usize) -> Vec<usize> {
    let mut s: Vec<(f64, usize)> = docs
        .chunks_exact(d)
        .enumerate()
        .map(|(j, x)| (crate::linalg::dot(q, x) as f64, j))
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    s.into_iter().map(|x| x.1).collect()
}

#[test]
fn identity_adapter_ranks_exactly_like_no_adapter() {
    let d = 384;
    let mut rng = SplitMix64::new(3);
    let docs = unit_rows(&mut rng, 300, d);
    let queries = unit_rows(&mut rng, 40, d);
    let id = Adapter::identity(d).unwrap();
    for q in queries.chunks_exact(d) {
        let a = id.apply(q).unwrap();
        assert_eq!(ranking(&a, &docs, d), ranking(q, &docs, d));
    }
    let gold: Vec<u32> = (0..40).collect();
    let plain = evaluate(None, d, &docs, &queries, &gold, 1).unwrap();
    let adapted = evaluate(Some(&id), d, &docs, &queries, &gold, 1).unwrap();
    assert_eq!(plain, adapted);
    assert_eq!(id.distance_from_identity(), 0.0);
}

#[test]
fn training_learns_a_hidden_mixing_and_the_gate_accepts() {
    let d = 32;
    let (docs, queries) = synthetic(11, 600, d, 0.4);
    let ids: Vec<u32> = (0..600).collect();
    let set = TrainingSet {
        dims: d,
        documents: &docs,
        queries: &queries,
        doc_ids: &ids,
    };
    let opts = TrainOptions {
        epochs: 30,
        batch_size: 64,
        learning_rate: 3e-3,
        ..TrainOptions::default()
    };
    let mut seen = Vec::new();
    let t = train(&set, &opts, &mut never(), &mut |p: &Progress| seen.push(*p)).unwrap();
    assert_eq!(seen.len(), 30);
    assert!(seen[29].loss < seen[0].loss, "{seen:?}");
    let g = &t.gate;
    eprintln!("{g:?}");
    assert!(g.adapted.mrr10 > g.plain.mrr10 + 0.05, "{g:?}");
    assert!(g.accepted && !g.collapsed, "{g:?}");
    assert_eq!(g.candidates, 600);
    assert_eq!(g.heldout_pairs + t.train_pairs, 600);
    assert_eq!(g.heldout_pairs, 120);
}

#[test]
fn gate_rejects_an_adapter_trained_on_shuffled_pairs() {
    let d = 32;
    let (docs, queries) = synthetic(12, 600, d, 0.4);
    let mut ids: Vec<u32> = (0..600).collect();
    SplitMix64::new(99).shuffle(&mut ids);
    let set = TrainingSet {
        dims: d,
        documents: &docs,
        queries: &queries,
        doc_ids: &ids,
    };
    let opts = TrainOptions {
        epochs: 30,
        batch_size: 64,
        learning_rate: 3e-3,
        ..TrainOptions::default()
    };
    let t = train(&set, &opts, &mut never(), &mut quiet()).unwrap();
    eprintln!("{:?}", t.gate);
    assert!(!t.gate.accepted, "{:?}", t.gate);
}

#[test]
fn regulariser_pulls_toward_identity() {
    let d = 32;
    let (docs, queries) = synthetic(13, 300, d, 0.4);
    let ids: Vec<u32> = (0..300).collect();
    let set = TrainingSet {
        dims: d,
        documents: &docs,
        queries: &queries,
        doc_ids: &ids,
    };
    let dist = |lambda: f64| {
        let opts = TrainOptions {
            epochs: 20,
            batch_size: 64,
            learning_rate: 3e-3,
            regularization: lambda,
            ..TrainOptions::default()
        };
        train(&set, &opts, &mut never(), &mut quiet())
            .unwrap()
            .adapter
            .distance_from_identity()
    };
    let (weak, mid, strong) = (dist(0.0), dist(0.1), dist(10.0));
    assert!(weak > mid && mid > strong, "{weak} {mid} {strong}");
    assert!(strong < 0.1 * weak, "{weak} {strong}");
}

#[test]
fn training_is_deterministic_for_a_seed_and_any_thread_count() {
    let d = 32;
    let (docs, queries) = synthetic(14, 200, d, 0.4);
    let ids: Vec<u32> = (0..200).collect();
    let set = TrainingSet {
        dims: d,
        documents: &docs,
        queries: &queries,
        doc_ids: &ids,
    };
    let opts = TrainOptions {
        epochs: 5,
        batch_size: 32,
        ..TrainOptions::default()
    };
    let a = train(&set, &opts, &mut never(), &mut quiet()).unwrap();
    let b = train(&set, &opts, &mut never(), &mut quiet()).unwrap();
    let c = train(
        &set,
        &TrainOptions {
            threads: 2,
            ..opts.clone()
        },
        &mut never(),
        &mut quiet(),
    )
    .unwrap();
    assert_eq!(a.adapter.to_bytes(), b.adapter.to_bytes());
    assert_eq!(a.adapter.to_bytes(), c.adapter.to_bytes());
    assert_eq!(a.gate, c.gate);
    let other = train(
        &set,
        &TrainOptions { seed: 1, ..opts },
        &mut never(),
        &mut quiet(),
    )
    .unwrap();
    assert_ne!(a.adapter.to_bytes(), other.adapter.to_bytes());
}

#[test]
fn serialisation_round_trips_and_detects_damage() {
    let d = 8;
    let mut rng = SplitMix64::new(5);
    let w: Vec<f32> = (0..d * d).map(|_| rng.normal() as f32).collect();
    let b: Vec<f32> = (0..d).map(|_| rng.normal() as f32).collect();
    let a = Adapter::from_parts(d, w, b).unwrap();
    let bytes = a.to_bytes();
    assert_eq!(bytes.len(), format::serialized_len(d));
    assert_eq!(Adapter::from_bytes(&bytes).unwrap(), a);
    assert_eq!(format::serialized_len(384), 591_384);
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            assert!(
                Adapter::from_bytes(&bad).is_err(),
                "flip of byte {i} not detected"
            );
        }
    }
    for len in 0..bytes.len() {
        assert!(
            Adapter::from_bytes(&bytes[..len]).is_err(),
            "truncation to {len}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        Adapter::from_bytes(&long),
        Err(AdapterError::Corrupt("trailing bytes"))
    );
    let mut v2 = bytes.clone();
    v2[8] = 2;
    assert_eq!(
        Adapter::from_bytes(&v2),
        Err(AdapterError::UnsupportedVersion(2))
    );
    assert_eq!(
        Adapter::from_bytes(b"not an adapter, just text"),
        Err(AdapterError::Corrupt("not a codevec adapter (bad magic)"))
    );
    let id = Adapter::identity(384).unwrap();
    assert_eq!(Adapter::from_bytes(&id.to_bytes()).unwrap(), id);
}

#[test]
fn bad_inputs_are_errors() {
    let d = 16;
    let (docs, queries) = synthetic(15, 50, d, 0.4);
    let ids: Vec<u32> = (0..50).collect();
    let opts = TrainOptions {
        epochs: 2,
        batch_size: 16,
        ..TrainOptions::default()
    };
    let run = |docs: &[f32], queries: &[f32], ids: &[u32], opts: &TrainOptions| {
        train(
            &TrainingSet {
                dims: d,
                documents: docs,
                queries,
                doc_ids: ids,
            },
            opts,
            &mut never(),
            &mut quiet(),
        )
    };
    assert!(matches!(
        run(&docs, &queries[..9 * d], &ids[..9], &opts),
        Err(AdapterError::TooFewPairs { pairs: 9, .. })
    ));
    let same = vec![0u32; 50];
    assert!(matches!(
        run(&docs, &queries, &same, &opts),
        Err(AdapterError::TooFewPairs {
            distinct_docs: 1,
            ..
        })
    ));
    assert!(matches!(
        run(&docs, &queries[..49 * d], &ids, &opts),
        Err(AdapterError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        run(&docs[..docs.len() - 1], &queries, &ids, &opts),
        Err(AdapterError::DimensionMismatch { .. })
    ));
    let mut nan = queries.clone();
    nan[3 * d + 1] = f32::NAN;
    assert_eq!(
        run(&docs, &nan, &ids, &opts).unwrap_err(),
        AdapterError::NonFinite {
            what: "queries",
            row: 3
        }
    );
    let mut inf = docs.clone();
    inf[7 * d] = f32::INFINITY;
    assert_eq!(
        run(&inf, &queries, &ids, &opts).unwrap_err(),
        AdapterError::NonFinite {
            what: "documents",
            row: 7
        }
    );
    let mut zero = queries.clone();
    zero[2 * d..3 * d].fill(0.0);
    assert_eq!(
        run(&docs, &zero, &ids, &opts).unwrap_err(),
        AdapterError::ZeroVector {
            what: "queries",
            row: 2
        }
    );
    let mut far = ids.clone();
    far[5] = 50;
    assert_eq!(
        run(&docs, &queries, &far, &opts).unwrap_err(),
        AdapterError::DocumentOutOfRange {
            pair: 5,
            doc: 50,
            n_docs: 50
        }
    );
    assert!(matches!(
        run(
            &docs,
            &queries,
            &ids,
            &TrainOptions {
                batch_size: 1,
                ..opts.clone()
            }
        ),
        Err(AdapterError::InvalidOption {
            name: "batch_size",
            ..
        })
    ));
    assert!(matches!(
        run(
            &docs,
            &queries,
            &ids,
            &TrainOptions {
                learning_rate: f64::NAN,
                ..opts.clone()
            }
        ),
        Err(AdapterError::InvalidOption { .. })
    ));
    let mut polls = 0;
    let r = train(
        &TrainingSet {
            dims: d,
            documents: &docs,
            queries: &queries,
            doc_ids: &ids,
        },
        &opts,
        &mut || {
            polls += 1;
            polls > 2
        },
        &mut quiet(),
    );
    assert_eq!(r.unwrap_err(), AdapterError::Cancelled);
    let id = Adapter::identity(d).unwrap();
    assert!(matches!(
        id.apply(&[0.0; 15]),
        Err(AdapterError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        id.apply(&[0.0; 16]),
        Err(AdapterError::ZeroVector { .. })
    ));
    assert!(matches!(
        Adapter::identity(0),
        Err(AdapterError::BadDimensions(0))
    ));
    assert!(matches!(
        Adapter::from_parts(2, vec![1.0, f32::NAN, 0.0, 1.0], vec![0.0; 2]),
        Err(AdapterError::NonFinite { .. })
    ));
}

#[test]
fn collapse_is_detected() {
    assert!(!is_collapsed(0.15, 0.20));
    assert!(is_collapsed(0.15, 0.60));
    // an adapter mapping every query to (almost) one direction
    let d = 16;
    let (docs, queries) = synthetic(16, 100, d, 0.4);
    let mut w = vec![0.0f32; d * d];
    for (i, x) in w.iter_mut().enumerate() {
        if i / d == i % d {
            *x = 0.05;
        }
    }
    let mut b = vec![0.0f32; d];
    b[0] = 1.0;
    let squash = Adapter::from_parts(d, w, b).unwrap();
    let mut adapted = Vec::new();
    for q in queries.chunks_exact(d) {
        adapted.extend(squash.apply(q).unwrap());
    }
    let plain = crate::gate::mean_pairwise_cosine(d, &queries);
    let after = crate::gate::mean_pairwise_cosine(d, &adapted);
    assert!(after > 0.9 && is_collapsed(plain, after), "{plain} {after}");
    let _ = docs;
}
