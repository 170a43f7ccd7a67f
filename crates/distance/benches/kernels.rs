//! Kernel throughput for 384/768/1536 dimensions, f32 and f16, against a plain scalar loop.
//!
//! Criterion reports time per call and bytes/s (both operands). After the criterion runs,
//! a side-by-side table (same process, same inputs) prints GB/s and the SIMD/scalar ratio.

use codevec_distance::{cosine_distance, l1_distance, l2_squared, negative_inner_product, scalar};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use half::f16;
use std::hint::black_box;
use std::time::Instant;

fn vecs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let b = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
    (a, b)
}

fn bench(c: &mut Criterion) {
    for n in [384usize, 768, 1536] {
        let (a, b) = vecs(n);
        let (ah, bh): (Vec<f16>, Vec<f16>) = (
            a.iter().map(|&x| f16::from_f32(x)).collect(),
            b.iter().map(|&x| f16::from_f32(x)).collect(),
        );
        let mut g = c.benchmark_group(format!("dims_{n}"));
        g.throughput(Throughput::Bytes((2 * n * 4) as u64));
        g.bench_function("f32_l2sq_simd", |x| {
            x.iter(|| l2_squared(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_cos_simd", |x| {
            x.iter(|| cosine_distance(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_ip_simd", |x| {
            x.iter(|| negative_inner_product(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_l1_simd", |x| {
            x.iter(|| l1_distance(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_l2sq_scalar", |x| {
            x.iter(|| scalar::l2_squared_f32_naive(black_box(&a), black_box(&b)))
        });
        g.throughput(Throughput::Bytes((2 * n * 2) as u64));
        g.bench_function("f16_l2sq_simd", |x| {
            x.iter(|| l2_squared(black_box(&ah), black_box(&bh)))
        });
        g.bench_function("f16_cos_simd", |x| {
            x.iter(|| cosine_distance(black_box(&ah), black_box(&bh)))
        });
        g.bench_function("f16_l2sq_scalar", |x| {
            x.iter(|| scalar::l2_squared(black_box(&ah), black_box(&bh)))
        });
        g.finish();
    }
    summary_table();
}

/// Calls per second of `f` measured over ~0.3 s.
fn rate(mut f: impl FnMut() -> f64) -> f64 {
    let mut sink = 0.0;
    for _ in 0..1000 {
        sink += f();
    }
    let t = Instant::now();
    let mut calls = 0u64;
    while t.elapsed().as_secs_f64() < 0.3 {
        for _ in 0..1000 {
            sink += f();
        }
        calls += 1000;
    }
    black_box(sink);
    calls as f64 / t.elapsed().as_secs_f64()
}

fn summary_table() {
    println!("\n{}", codevec_distance::simd_info());
    println!("| dims | type | kernel | SIMD GB/s | scalar GB/s | ratio |");
    println!("|---:|---|---|---:|---:|---:|");
    for n in [384usize, 768, 1536] {
        let (a, b) = vecs(n);
        let (ah, bh): (Vec<f16>, Vec<f16>) = (
            a.iter().map(|&x| f16::from_f32(x)).collect(),
            b.iter().map(|&x| f16::from_f32(x)).collect(),
        );
        let gb32 = (2 * n * 4) as f64 / 1e9;
        let gb16 = (2 * n * 2) as f64 / 1e9;
        let scalar32 = rate(|| scalar::l2_squared_f32_naive(black_box(&a), black_box(&b)) as f64);
        let scalar16 = rate(|| scalar::l2_squared(black_box(&ah), black_box(&bh)));
        let rows: [(&str, &str, f64, f64, f64); 6] = [
            (
                "f32",
                "l2sq",
                rate(|| l2_squared(black_box(&a), black_box(&b))),
                scalar32,
                gb32,
            ),
            (
                "f32",
                "cosine",
                rate(|| cosine_distance(black_box(&a), black_box(&b))),
                scalar32,
                gb32,
            ),
            (
                "f32",
                "neg-ip",
                rate(|| negative_inner_product(black_box(&a), black_box(&b))),
                scalar32,
                gb32,
            ),
            (
                "f32",
                "l1",
                rate(|| l1_distance(black_box(&a), black_box(&b))),
                scalar32,
                gb32,
            ),
            (
                "f16",
                "l2sq",
                rate(|| l2_squared(black_box(&ah), black_box(&bh))),
                scalar16,
                gb16,
            ),
            (
                "f16",
                "cosine",
                rate(|| cosine_distance(black_box(&ah), black_box(&bh))),
                scalar16,
                gb16,
            ),
        ];
        for (ty, k, simd, base, gb) in rows {
            println!(
                "| {n} | {ty} | {k} | {:.1} | {:.1} | {:.1}x |",
                simd * gb,
                base * gb,
                simd / base
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
