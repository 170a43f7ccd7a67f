//! Offline evaluation of the hybrid ranking on a query → code set (jsonl with `query`,
//! `code`, optionally `path`/`source` and `symbol`): every query is ranked against every
//! code document of the file, the relevant one being its own row. Prints MRR@10, R@1 and
//! R@10 for: vector only, BM25, RRF, weighted min-max fusion, fusion + priors.
//!
//! cargo run --release -p codevec-lexical --features eval --example eval -- \
//!     [--data FILE] [--name NAME] [--sweep] [--model DIR] [--threads 1] [--top-n 100]
//!     [--weight W] [--k1 1.2] [--b 0.75]
//!
//! `--sweep` prints the tuning sweeps (fusion weight, k1/b, stop words, each prior); use it
//! on python-dev only, never on a held-back set. Embeddings (f32, the reference precision)
//! are cached in `~/.cache/codevec/eval/<name>.f32` (or `$CODEVEC_EVAL_CACHE`) with a checksum of the model and the
//! texts, and recomputed when either changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use codevec_encoder::{Encoder, EncoderOptions, Precision};
use codevec_lexical::bm25::{top_k, Bm25Params, DocTerms, InvertedIndex};
use codevec_lexical::evalset::{
    cache_file, default_model_dir, load_rows, rank_of, read_cache, vector_top, write_cache,
    Metrics, Row, DIMS,
};
use codevec_lexical::fusion::{rrf, weighted_min_max, DEFAULT_VECTOR_WEIGHT};
use codevec_lexical::priors::{apply_priors, Candidate, PriorWeights};
use codevec_lexical::tokenize::{tokenize_code, tokenize_query, QueryOptions};

/// The vector leg's weight in weighted min-max fusion without priors (BM25 gets 1 − w):
/// the argmax of the python-dev sweep (`--sweep`).
const FUSION_WEIGHT: f64 = 0.6;
/// Candidates each leg hands to fusion.
const TOP_N: usize = 100;
/// Reciprocal-rank fusion constant (not tuned: the usual 60).
const RRF_K: f64 = 60.0;

/// Embeddings of `texts` (row-major, 384 per text), from the cache when its checksum
/// matches, else computed and cached.
fn embeddings(name: &str, model: &Path, threads: usize, texts: &[&str]) -> Vec<f32> {
    let file = cache_file(name);
    if let Some(cached) = read_cache(name, model, texts) {
        eprintln!("{name}: embeddings from {}", file.display());
        return cached;
    }
    eprintln!(
        "{name}: no up-to-date cache in {}, computing",
        file.display()
    );
    let enc = Encoder::load(
        model,
        EncoderOptions {
            threads,
            precision: Precision::F32,
            max_batch: 32,
            cache_dir: None,
        },
    )
    .unwrap_or_else(|e| panic!("loading the model from {}: {e}", model.display()));
    let never = AtomicBool::new(false);
    let t0 = Instant::now();
    let mut out = Vec::with_capacity(texts.len() * DIMS);
    for (i, chunk) in texts.chunks(256).enumerate() {
        for v in enc.embed_batch(chunk, &never).expect("embedding") {
            assert_eq!(v.len(), DIMS);
            out.extend_from_slice(&v);
        }
        eprintln!(
            "{name}: embedded {} / {} texts ({:.0} s)",
            ((i + 1) * 256).min(texts.len()),
            texts.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    write_cache(name, model, texts, &out);
    out
}

/// MRR@10, R@1, R@10 accumulated over queries.
/// One leg's ranked list for one query: (document number, score), best first.
type Hits = Vec<(u32, f64)>;

/// Everything per query that the fusion variants need.
struct Legs {
    vector: Vec<Vec<(u32, f64)>>,
    bm25: Vec<Vec<(u32, f64)>>,
    query_tokens: Vec<Vec<String>>,
}

fn bm25_legs(
    rows: &[Row],
    params: Bm25Params,
    opts: QueryOptions,
    n: usize,
) -> (Vec<Hits>, Vec<Vec<String>>) {
    let mut ix = InvertedIndex::new(params);
    for r in rows {
        ix.add(&DocTerms::from_tokens(&tokenize_code(&r.code)));
    }
    let mut legs = Vec::with_capacity(rows.len());
    let mut toks = Vec::with_capacity(rows.len());
    for r in rows {
        let q = tokenize_query(&r.query, opts);
        legs.push(ix.search(&q, n));
        toks.push(q);
    }
    (legs, toks)
}

fn eval_single(legs: &[Vec<(u32, f64)>]) -> Metrics {
    let mut m = Metrics::default();
    for (i, l) in legs.iter().enumerate() {
        m.add(rank_of(l, i as u32));
    }
    m
}

fn eval_rrf(l: &Legs, k: f64) -> Metrics {
    let mut m = Metrics::default();
    for i in 0..l.vector.len() {
        let f = rrf(&[&l.vector[i], &l.bm25[i]], k);
        m.add(rank_of(&f, i as u32));
    }
    m
}

fn fused(l: &Legs, i: usize, w: f64) -> Vec<(u32, f64)> {
    weighted_min_max(&[(&l.vector[i], w), (&l.bm25[i], 1.0 - w)])
}

fn eval_weighted(l: &Legs, w: f64) -> Metrics {
    let mut m = Metrics::default();
    for i in 0..l.vector.len() {
        m.add(rank_of(&fused(l, i, w), i as u32));
    }
    m
}

fn eval_priors(l: &Legs, rows: &[Row], w: f64, p: &PriorWeights) -> Metrics {
    let mut m = Metrics::default();
    for i in 0..l.vector.len() {
        let f = fused(l, i, w);
        let cands: Vec<Candidate<u32>> = f
            .iter()
            .map(|&(id, score)| Candidate {
                id,
                score,
                path: rows[id as usize].path.as_deref(),
                symbol: rows[id as usize].symbol.as_deref(),
            })
            .collect();
        let r = apply_priors(&cands, &l.query_tokens[i], p);
        m.add(rank_of(&r, i as u32));
    }
    m
}

/// What a GIN-style candidate fetch (`terms && query_terms`) would touch: the share of
/// rows matched by any query term, and by only the terms with df ≤ `max_df_share`·N (the
/// frequent terms still scored, just not used to fetch), with BM25's MRR@10 when ranking
/// only that restricted candidate set.
fn candidate_study(rows: &[Row], params: Bm25Params, opts: QueryOptions) {
    let mut ix = InvertedIndex::new(params);
    let mut tokens = 0usize;
    for r in rows {
        let d = DocTerms::from_tokens(&tokenize_code(&r.code));
        tokens += d.len() as usize;
        ix.add(&d);
    }
    let n = rows.len();
    println!(
        "\nlexical index: {} distinct terms, {:.0} tokens per document; candidate rows a GIN `&&` fetch touches (mean share of N) and BM25 MRR@10 ranking only those:",
        ix.stats().vocabulary_len(),
        tokens as f64 / n as f64
    );
    for max_share in [1.0, 0.2, 0.1, 0.05, 0.02] {
        let mut touched = 0usize;
        let mut m = Metrics::default();
        for (i, r) in rows.iter().enumerate() {
            let q = tokenize_query(&r.query, opts);
            let mut cand = vec![false; n];
            for t in &q {
                let p = ix.postings(t);
                if p.len() as f64 <= max_share * n as f64 {
                    for &(d, _) in p {
                        cand[d as usize] = true;
                    }
                }
            }
            touched += cand.iter().filter(|&&c| c).count();
            let scores = ix.score_all(&q);
            let hits: Vec<(u32, f64)> = scores
                .iter()
                .enumerate()
                .filter(|&(d, &s)| cand[d] && s > 0.0)
                .map(|(d, &s)| (d as u32, s))
                .collect();
            m.add(rank_of(&top_k(hits, 10), i as u32));
        }
        println!(
            "  fetch by terms with df <= {:>3.0}% of N: {:.1}% of rows, BM25 MRR@10 {:.4}",
            max_share * 100.0,
            100.0 * touched as f64 / (n * n) as f64,
            m.mrr()
        );
    }
}

fn main() {
    let mut data = PathBuf::from("/work/shared/data/codesearch-python-dev.jsonl");
    let mut name: Option<String> = None;
    let mut model = default_model_dir();
    let (mut threads, mut top_n, mut sweep) = (1usize, TOP_N, false);
    let mut weight = FUSION_WEIGHT;
    let mut prior_weight = DEFAULT_VECTOR_WEIGHT;
    let mut params = Bm25Params::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--data" => data = v.into(),
            "--name" => name = Some(v),
            "--model" => model = v.into(),
            "--threads" => threads = v.parse().expect("--threads N"),
            "--top-n" => top_n = v.parse().expect("--top-n N"),
            "--weight" => weight = v.parse().expect("--weight W"),
            "--prior-weight" => prior_weight = v.parse().expect("--prior-weight W"),
            "--k1" => params.k1 = v.parse().expect("--k1 X"),
            "--b" => params.b = v.parse().expect("--b X"),
            "--sweep" => {
                sweep = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
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
    let with_path = rows.iter().filter(|r| r.path.is_some()).count();
    let with_symbol = rows.iter().filter(|r| r.symbol.is_some()).count();
    eprintln!("{name}: {n} pairs ({with_path} with a path, {with_symbol} with a symbol)");

    let mut texts: Vec<&str> = rows.iter().map(|r| r.query.as_str()).collect();
    texts.extend(rows.iter().map(|r| r.code.as_str()));
    let emb = embeddings(&name, &model, threads, &texts);
    let (qe, de) = emb.split_at(n * DIMS);
    let t0 = Instant::now();
    let vector = vector_top(qe, &de[..n * DIMS], top_n);
    let opts = QueryOptions::default();
    let (bm25, query_tokens) = bm25_legs(&rows, params, opts, top_n);
    let legs = Legs {
        vector,
        bm25,
        query_tokens,
    };
    eprintln!(
        "{name}: both legs for {n} queries in {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    if sweep {
        println!("\n## {name}: sweeps (tuning set)\n");
        println!("BM25 k1/b (stop words {}), MRR@10:", opts.stop_words);
        for k1 in [0.6, 0.9, 1.2, 1.5, 2.0] {
            let mut line = format!("  k1 {k1:.1}:");
            for b in [0.3, 0.5, 0.75, 0.9, 1.0] {
                let (l, _) = bm25_legs(&rows, Bm25Params { k1, b }, opts, top_n);
                line += &format!("  b {b:.2} {:.4}", eval_single(&l).mrr());
            }
            println!("{line}");
        }
        for stop in [false, true] {
            let o = QueryOptions { stop_words: stop };
            let (b, t) = bm25_legs(&rows, params, o, top_n);
            let l = Legs {
                vector: legs.vector.clone(),
                bm25: b,
                query_tokens: t,
            };
            println!(
                "stop words {stop}: BM25 {:.4}, RRF {:.4}, weighted(w {weight}) {:.4}",
                eval_single(&l.bm25).mrr(),
                eval_rrf(&l, RRF_K).mrr(),
                eval_weighted(&l, weight).mrr()
            );
        }
        println!("RRF k:");
        for k in [10.0, 30.0, 60.0, 100.0] {
            println!("  k {k}: {:.4}", eval_rrf(&legs, k).mrr());
        }
        println!("weighted min-max fusion, vector weight w (BM25 1 - w):");
        let mut w = 0.0;
        while w <= 1.0001 {
            println!("  {}", eval_weighted(&legs, w).line(&format!("w {w:.2}")));
            w += 0.05;
        }
        println!("priors one at a time on top of weighted fusion (w {weight}):");
        let base = eval_weighted(&legs, weight).mrr();
        println!("  none: {base:.4}");
        for s in [0.02, 0.05, 0.1, 0.15, 0.2, 0.3] {
            let p = PriorWeights {
                symbol: s,
                ..PriorWeights::NONE
            };
            println!(
                "  symbol {s}: {:.4}",
                eval_priors(&legs, &rows, weight, &p).mrr()
            );
        }
        for s in [0.02, 0.05, 0.1, 0.2] {
            let p = PriorWeights {
                path: s,
                ..PriorWeights::NONE
            };
            println!(
                "  path {s}: {:.4}",
                eval_priors(&legs, &rows, weight, &p).mrr()
            );
        }
        for s in [0.05, 0.1, 0.2] {
            let p = PriorWeights {
                test_demotion: s,
                ..PriorWeights::NONE
            };
            println!(
                "  test demotion {s}: {:.4}",
                eval_priors(&legs, &rows, weight, &p).mrr()
            );
        }
        for s in [0.99, 0.95, 0.9, 0.8] {
            let p = PriorWeights {
                same_file_decay: s,
                ..PriorWeights::NONE
            };
            println!(
                "  same-file decay {s}: {:.4}",
                eval_priors(&legs, &rows, weight, &p).mrr()
            );
        }
        println!("joint grid: fusion weight w × symbol weight × path weight (MRR@10):");
        for path in [0.0, 0.1, 0.2] {
            for w in [0.55, 0.6, 0.65, 0.7, 0.75] {
                let mut line = format!("  path {path:.2} w {w:.2}:");
                for symbol in [0.1, 0.15, 0.2, 0.25, 0.3] {
                    let p = PriorWeights {
                        symbol,
                        path,
                        ..PriorWeights::NONE
                    };
                    line += &format!(
                        "  sym {symbol:.2} {:.4}",
                        eval_priors(&legs, &rows, w, &p).mrr()
                    );
                }
                println!("{line}");
            }
        }
        println!("BM25 b with fusion + default priors (k1 {}):", params.k1);
        for b in [0.75, 0.9, 1.0] {
            let (bl, t) = bm25_legs(&rows, Bm25Params { k1: params.k1, b }, opts, top_n);
            let l = Legs {
                vector: legs.vector.clone(),
                bm25: bl,
                query_tokens: t,
            };
            println!(
                "  b {b}: weighted {:.4}, + priors {:.4}",
                eval_weighted(&l, weight).mrr(),
                eval_priors(&l, &rows, weight, &PriorWeights::default()).mrr()
            );
        }
    }

    let p = PriorWeights::default();
    let test_like = rows
        .iter()
        .filter(|r| codevec_lexical::priors::is_test_like(r.path.as_deref(), r.symbol.as_deref()))
        .count();
    let per_file: HashMap<&str, usize> =
        rows.iter()
            .filter_map(|r| r.path.as_deref())
            .fold(HashMap::new(), |mut m, p| {
                *m.entry(p).or_insert(0) += 1;
                m
            });
    println!(
        "\n## {name}: {n} queries × {n} documents ({test_like} test-like, {} files, top-{top_n} per leg, BM25 k1 {} b {}, fusion w {weight}, with priors w {prior_weight} and {p:?})\n",
        per_file.len(),
        params.k1,
        params.b
    );
    println!("| method | MRR@10 | R@1 | R@10 |\n|---|---:|---:|---:|");
    println!(
        "{}",
        eval_single(&legs.vector).line("vector (all-MiniLM-L6-v2, f32)")
    );
    println!("{}", eval_single(&legs.bm25).line("BM25"));
    println!("{}", eval_rrf(&legs, RRF_K).line("RRF k=60"));
    println!(
        "{}",
        eval_weighted(&legs, weight).line(&format!("weighted min-max w={weight}"))
    );
    println!(
        "{}",
        eval_priors(&legs, &rows, prior_weight, &p)
            .line(&format!("weighted w={prior_weight} + priors"))
    );
    candidate_study(&rows, params, opts);
    println!("\neach prior alone on top of weighted fusion w={prior_weight} (ablation):\n");
    println!("| prior | MRR@10 | R@1 | R@10 |\n|---|---:|---:|---:|");
    let alone = [
        ("none", PriorWeights::NONE),
        (
            "symbol (tuned weight)",
            PriorWeights {
                symbol: p.symbol,
                ..PriorWeights::NONE
            },
        ),
        (
            "path (tuned weight)",
            PriorWeights {
                path: p.path,
                ..PriorWeights::NONE
            },
        ),
        (
            "test demotion 0.1 (untuned)",
            PriorWeights {
                test_demotion: 0.1,
                ..PriorWeights::NONE
            },
        ),
        (
            "same-file decay 0.9 (untuned)",
            PriorWeights {
                same_file_decay: 0.9,
                ..PriorWeights::NONE
            },
        ),
    ];
    for (label, pw) in alone {
        println!(
            "{}",
            eval_priors(&legs, &rows, prior_weight, &pw).line(label)
        );
    }
}
