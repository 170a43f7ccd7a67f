//! Criterion benchmarks: batch throughput at 1 and 2 threads (documents = the `code` field of
//! the first 256 rows of codesearch-python-dev.jsonl, batch 32) and single-query latency.
//!
//! CARGO_TARGET_DIR=... cargo bench --bench encode
//! For a documents/s figure comparable with the PyTorch reference in one run, use
//! `cargo run --release --example throughput` instead.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use codevec_encoder::{Encoder, EncoderOptions, Precision};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The precisions this CPU runs.
fn precisions() -> Vec<Precision> {
    [Precision::F32, Precision::Int8]
        .into_iter()
        .filter(|p| p.supported())
        .collect()
}

/// One encoder per available precision and thread count (1, 2), with its bench label.
fn encoders() -> Vec<(String, Encoder)> {
    let mut out = Vec::new();
    for precision in precisions() {
        for threads in [1usize, 2] {
            let enc = Encoder::load(
                &common::model_dir(),
                EncoderOptions {
                    threads,
                    precision,
                    max_batch: 32,
                    cache_dir: None,
                },
            )
            .expect("load model");
            out.push((format!("{precision}/threads={threads}"), enc));
        }
    }
    out
}

fn batch_throughput(c: &mut Criterion) {
    let texts = common::codesearch("code", 256);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let never = AtomicBool::new(false);
    let mut group = c.benchmark_group("embed_batch_256_code_docs_batch32");
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    for (label, enc) in encoders() {
        group.bench_function(label, |b| {
            b.iter(|| black_box(enc.embed_batch(black_box(&refs), &never).unwrap()))
        });
    }
    group.finish();
}

fn query_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("embed_query_10_words");
    for (label, enc) in encoders() {
        group.bench_function(label, |b| {
            b.iter(|| {
                black_box(
                    enc.embed(black_box("read a file line by line and count the words"))
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn tokenize_huge(c: &mut Criterion) {
    let enc = Encoder::load(&common::model_dir(), EncoderOptions::default()).expect("load model");
    let unit = common::codesearch("code", 50).join("\n");
    let huge = unit.repeat((10 << 20) / unit.len() + 1);
    c.bench_function("token_count_10MB", |b| {
        b.iter(|| black_box(enc.token_count(black_box(&huge))))
    });
}

criterion_group!(benches, batch_throughput, query_latency, tokenize_huge);
criterion_main!(benches);
