//! Offline evaluation of the query adapter on a query → code set (jsonl with `query`,
//! `code`, optionally `path`/`source` and `symbol`, as `codevec-lexical`'s eval reads):
//! the adapter is trained on the even rows' pairs (row number in the file, 0-based; the
//! gate's 20 % held out from those), every document of the file being a candidate, and
//! tested on the odd rows' queries against all documents. Prints MRR@10 / R@1 / R@10 for
//! vector, vector + adapter, and the lexical crate's best hybrid (weighted min-max fusion
//! w = 0.65 + priors) with and without the adapter on its vector leg.
//!
//! cargo run --release -p codevec-adapter --example adapter_eval -- \
//!     [--data FILE] [--name NAME] [--threads 2] [--epochs N] [--batch B] [--lr X]
//!     [--lambda X] [--tau X] [--fixed-tau] [--sweep] [--synthetic N]
//!
//! Embeddings come from `codevec-lexical`'s eval cache (`~/.cache/codevec/eval/<name>.f32` or `$CODEVEC_EVAL_CACHE`,
//! queries then codes, f32, checked against the same checksum of the model and the texts);
//! run that eval first when the cache is missing. `--sweep` prints the tuning grid: use it
//! on python-dev only. `--synthetic N` times training on N synthetic 384-d pairs.

use std::path::PathBuf;
use std::time::Instant;

use codevec_adapter::{evaluate, train, Adapter, Progress, TrainOptions, Trained, TrainingSet};
use codevec_lexical::bm25::{Bm25Params, DocTerms, InvertedIndex};
use codevec_lexical::evalset::{
    cache_file, default_model_dir, load_rows, rank_of, read_cache, vector_top, Metrics, Row, DIMS,
};
use codevec_lexical::fusion::{weighted_min_max, DEFAULT_VECTOR_WEIGHT};
use codevec_lexical::priors::{apply_priors, Candidate, PriorWeights};
use codevec_lexical::tokenize::{tokenize_code, tokenize_query, QueryOptions};

/// Candidates each leg hands to fusion (as in the lexical eval).
const TOP_N: usize = 100;

/// The cached embeddings of `texts` (never recomputed here).
fn cached_embeddings(name: &str, texts: &[&str]) -> Vec<f32> {
    read_cache(name, &default_model_dir(), texts).unwrap_or_else(|| {
        panic!(
            "{}: missing or not for these texts and model; run codevec-lexical's eval on this set first",
            cache_file(name).display()
        )
    })
}

/// The lexical crate's best hybrid: weighted min-max fusion (vector weight 0.65) + priors.
fn hybrid(
    vector: &[(u32, f64)],
    bm25: &[(u32, f64)],
    tokens: &[String],
    rows: &[Row],
) -> Vec<(u32, f64)> {
    let w = DEFAULT_VECTOR_WEIGHT;
    let f = weighted_min_max(&[(vector, w), (bm25, 1.0 - w)]);
    let cands: Vec<Candidate<u32>> = f
        .iter()
        .map(|&(id, score)| Candidate {
            id,
            score,
            path: rows[id as usize].path.as_deref(),
            symbol: rows[id as usize].symbol.as_deref(),
        })
        .collect();
    apply_priors(&cands, tokens, &PriorWeights::default())
}

struct Split {
    /// Even rows' query embeddings and their document numbers.
    train_q: Vec<f32>,
    train_ids: Vec<u32>,
    /// Odd rows'.
    test_q: Vec<f32>,
    test_ids: Vec<u32>,
}

fn split(qe: &[f32], n: usize) -> Split {
    let mut s = Split {
        train_q: Vec::new(),
        train_ids: Vec::new(),
        test_q: Vec::new(),
        test_ids: Vec::new(),
    };
    for i in 0..n {
        let q = &qe[i * DIMS..(i + 1) * DIMS];
        if i % 2 == 0 {
            s.train_q.extend_from_slice(q);
            s.train_ids.push(i as u32);
        } else {
            s.test_q.extend_from_slice(q);
            s.test_ids.push(i as u32);
        }
    }
    s
}

fn fit(docs: &[f32], s: &Split, opts: &TrainOptions, verbose: bool) -> (Trained, f64) {
    let set = TrainingSet {
        dims: DIMS,
        documents: docs,
        queries: &s.train_q,
        doc_ids: &s.train_ids,
    };
    let t0 = Instant::now();
    let mut report = |p: &Progress| {
        if verbose {
            eprintln!(
                "  epoch {}/{}: loss {:.4}, tau {:.4}, held-out MRR@10 {} (plain {:.4})",
                p.epoch,
                p.epochs,
                p.loss,
                p.temperature,
                p.heldout_mrr
                    .map(|m| format!("{m:.4}"))
                    .unwrap_or_else(|| "-".into()),
                p.plain_mrr
            )
        }
    };
    let t = train(&set, opts, &mut || false, &mut report).expect("training");
    (t, t0.elapsed().as_secs_f64())
}

fn adapt_all(a: &Adapter, queries: &[f32]) -> Vec<f32> {
    queries
        .chunks_exact(DIMS)
        .flat_map(|q| a.apply(q).expect("apply"))
        .collect()
}

fn synthetic_timing(n: usize, opts: &TrainOptions) {
    // documents: random unit vectors; queries: normalize(M d + noise), M = I + 0.05 G
    let mut state = 0x5eed_u64;
    let mut normal = move || {
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let (u1, u2) = (next().max(1e-300), next());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let unit = |v: &mut [f32]| {
        let n = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x = (*x as f64 / n) as f32);
    };
    let mut docs: Vec<f32> = (0..n * DIMS).map(|_| normal() as f32).collect();
    docs.chunks_exact_mut(DIMS).for_each(unit);
    let m: Vec<f32> = (0..DIMS * DIMS)
        .map(|i| (if i / DIMS == i % DIMS { 1.0 } else { 0.0 } + 0.05 * normal()) as f32)
        .collect();
    let mut queries = Vec::with_capacity(n * DIMS);
    for d in docs.chunks_exact(DIMS) {
        let mut q: Vec<f32> = (0..DIMS)
            .map(|k| {
                let s: f32 = m[k * DIMS..(k + 1) * DIMS]
                    .iter()
                    .zip(d)
                    .map(|(a, b)| a * b)
                    .sum();
                s + 0.3 * normal() as f32
            })
            .collect();
        unit(&mut q);
        queries.extend(q);
    }
    let ids: Vec<u32> = (0..n as u32).collect();
    let set = TrainingSet {
        dims: DIMS,
        documents: &docs,
        queries: &queries,
        doc_ids: &ids,
    };
    for eval_every in [opts.eval_every, 0] {
        let o = TrainOptions {
            eval_every,
            ..opts.clone()
        };
        let t0 = Instant::now();
        let t = train(&set, &o, &mut || false, &mut |_| {}).expect("training");
        println!(
            "synthetic {n} pairs ({} trained, {} held out, {} candidates), {} epochs × batch {}, {} threads, held-out MRR each {}: {:.2} s ({} steps); gate plain {:.4} → adapted {:.4}, accepted {}",
            t.train_pairs,
            t.gate.heldout_pairs,
            t.gate.candidates,
            o.epochs,
            o.batch_size,
            o.threads,
            if eval_every == 0 { "never (gate only)".to_string() } else { format!("{eval_every} epoch(s)") },
            t0.elapsed().as_secs_f64(),
            t.steps,
            t.gate.plain.mrr10,
            t.gate.adapted.mrr10,
            t.gate.accepted
        );
    }
}

fn main() {
    let mut data = PathBuf::from("/work/shared/data/codesearch-python-dev.jsonl");
    let mut name: Option<String> = None;
    let mut opts = TrainOptions {
        threads: 2,
        ..TrainOptions::default()
    };
    let (mut sweep, mut synthetic) = (false, 0usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--data" => data = v.into(),
            "--name" => name = Some(v),
            "--threads" => opts.threads = v.parse().expect("--threads N"),
            "--epochs" => opts.epochs = v.parse().expect("--epochs N"),
            "--batch" => opts.batch_size = v.parse().expect("--batch N"),
            "--lr" => opts.learning_rate = v.parse().expect("--lr X"),
            "--lambda" => opts.regularization = v.parse().expect("--lambda X"),
            "--tau" => opts.temperature = v.parse().expect("--tau X"),
            "--synthetic" => synthetic = v.parse().expect("--synthetic N"),
            flag @ ("--sweep" | "--fixed-tau") => {
                if flag == "--sweep" {
                    sweep = true;
                } else {
                    opts.learn_temperature = false;
                }
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    if synthetic > 0 {
        synthetic_timing(synthetic, &opts);
        return;
    }
    let name = name.unwrap_or_else(|| {
        data.file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .trim_start_matches("codesearch-")
                    .to_string()
            })
            .unwrap_or_else(|| "set".into())
    });
    let rows = load_rows(&data);
    let n = rows.len();
    let mut texts: Vec<&str> = rows.iter().map(|r| r.query.as_str()).collect();
    texts.extend(rows.iter().map(|r| r.code.as_str()));
    let emb = cached_embeddings(&name, &texts);
    let (qe, docs) = emb.split_at(n * DIMS);
    let s = split(qe, n);

    // the odd queries' BM25 legs and query tokens (the same for every adapter)
    let mut ix = InvertedIndex::new(Bm25Params::default());
    for r in &rows {
        ix.add(&DocTerms::from_tokens(&tokenize_code(&r.code)));
    }
    let (bm25, tokens): (Vec<_>, Vec<_>) = s
        .test_ids
        .iter()
        .map(|&gold| {
            let toks = tokenize_query(&rows[gold as usize].query, QueryOptions::default());
            (ix.search(&toks, TOP_N), toks)
        })
        .unzip();
    let test_hybrid = |vector: &[Vec<(u32, f64)>]| {
        let mut m = Metrics::default();
        for (k, &gold) in s.test_ids.iter().enumerate() {
            m.add(rank_of(
                &hybrid(&vector[k], &bm25[k], &tokens[k], &rows),
                gold,
            ));
        }
        m
    };
    let plain_q: Vec<f32> = adapt_all(&Adapter::identity(DIMS).unwrap(), &s.test_q);
    let vec_plain = vector_top(&plain_q, docs, TOP_N);

    if sweep {
        println!("\n## {name}: sweep (MRR@10; gate = held-out 20 % of the even pairs, test = odd queries vs all {n} documents)\n");
        let plain = evaluate(None, DIMS, docs, &s.test_q, &s.test_ids, opts.threads).unwrap();
        println!(
            "test without adapter: vector {:.4}, hybrid {:.4}\n",
            plain.mrr10,
            test_hybrid(&vec_plain).mrr()
        );
        println!("| epochs | batch | lr | λ | τ₀ | learn τ | τ end | ‖W − I‖ | gate plain → adapted (± se) | test vector + adapter | test hybrid + adapter | s |");
        println!("|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|");
        let mut grid = Vec::new();
        let (b0, t0) = (opts.batch_size, opts.temperature);
        for &lr in &[1e-3, 3e-3, 1e-2] {
            for &lambda in &[3e-3, 1e-2, 3e-2] {
                for &epochs in &[20, 40, 80] {
                    grid.push((epochs, b0, lr, lambda, t0, true));
                }
            }
        }
        let (e0, lr0, l0) = (opts.epochs, opts.learning_rate, opts.regularization);
        for &batch in &[64, 128, 512, 800] {
            grid.push((e0, batch, lr0, l0, t0, true));
        }
        for &tau in &[0.02, 0.03, 0.05, 0.1] {
            for learn in [true, false] {
                grid.push((e0, b0, lr0, l0, tau, learn));
            }
        }
        for (epochs, batch, lr, lambda, tau, learn) in grid {
            let o = TrainOptions {
                epochs,
                batch_size: batch,
                learning_rate: lr,
                regularization: lambda,
                temperature: tau,
                learn_temperature: learn,
                eval_every: 0,
                ..opts.clone()
            };
            let (t, secs) = fit(docs, &s, &o, false);
            let adapted_q = adapt_all(&t.adapter, &s.test_q);
            let vec_adapted = vector_top(&adapted_q, docs, TOP_N);
            let mut vm = Metrics::default();
            for (k, &gold) in s.test_ids.iter().enumerate() {
                vm.add(rank_of(&vec_adapted[k], gold));
            }
            println!(
                "| {epochs} | {batch} | {lr} | {lambda} | {tau} | {learn} | {:.4} | {:.2} | {:.4} → {:.4} (± {:.4}) | {:.4} | {:.4} | {secs:.2} |",
                t.temperature,
                t.adapter.distance_from_identity(),
                t.gate.plain.mrr10,
                t.gate.adapted.mrr10,
                t.gate.gain_stderr,
                vm.mrr(),
                test_hybrid(&vec_adapted).mrr()
            );
        }
        return;
    }

    eprintln!(
        "{name}: {n} pairs; training on {} even rows",
        s.train_ids.len()
    );
    let (t, secs) = fit(docs, &s, &opts, true);
    let g = &t.gate;

    let adapted_q = adapt_all(&t.adapter, &s.test_q);
    let vec_adapted = vector_top(&adapted_q, docs, TOP_N);
    let mut m = [Metrics::default(); 3];
    for (k, &gold) in s.test_ids.iter().enumerate() {
        m[0].add(rank_of(&vec_plain[k], gold));
        m[1].add(rank_of(&vec_adapted[k], gold));
        m[2].add(rank_of(&bm25[k], gold));
    }
    let m = [
        m[0],
        m[1],
        m[2],
        test_hybrid(&vec_plain),
        test_hybrid(&vec_adapted),
    ];
    println!(
        "\n## {name}: adapter trained on {} even pairs ({} held out for the gate), tested on {} odd queries × {n} documents\n",
        t.train_pairs,
        g.heldout_pairs,
        s.test_ids.len()
    );
    println!(
        "options: epochs {}, batch {}, lr {}, λ {}, τ₀ {} (learned: {}, final {:.4}), seed {}, {} threads",
        opts.epochs,
        opts.batch_size,
        opts.learning_rate,
        opts.regularization,
        opts.temperature,
        opts.learn_temperature,
        t.temperature,
        opts.seed,
        opts.threads
    );
    println!(
        "training: {secs:.2} s, {} steps, final loss {:.4}, ‖W − I‖ {:.3}",
        t.steps,
        t.final_loss,
        t.adapter.distance_from_identity()
    );
    println!(
        "gate: held-out MRR@10 plain {:.4} → adapted {:.4} (gain {:+.4} ± {:.4}), mean query cosine {:.3} → {:.3}, collapsed {}, accepted {}\n",
        g.plain.mrr10,
        g.adapted.mrr10,
        g.gain,
        g.gain_stderr,
        g.plain_mean_cosine,
        g.adapted_mean_cosine,
        g.collapsed,
        g.accepted
    );
    println!("| method (odd queries) | MRR@10 | R@1 | R@10 |\n|---|---:|---:|---:|");
    println!("{}", m[0].line("vector"));
    println!("{}", m[1].line("vector + adapter"));
    println!("{}", m[2].line("BM25"));
    println!("{}", m[3].line("hybrid (w 0.65 + priors)"));
    println!("{}", m[4].line("hybrid + adapter"));
    println!(
        "\nadapter gain: vector {:+.4}, hybrid {:+.4}",
        m[1].mrr() - m[0].mrr(),
        m[4].mrr() - m[3].mrr()
    );
}
