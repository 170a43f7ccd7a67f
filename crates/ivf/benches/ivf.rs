//! Criterion benchmarks: kernels on synthetic data, search and build on the
//! shared real embeddings (fails if `shared/data/ann` is missing).
//!
//! `cargo bench --bench ivf` (add `-- search` etc. to filter).

use codevec_ivf::dataset::AnnData;
use codevec_ivf::half::f16;
use codevec_ivf::index::{BuildConfig, IvfIndex, SearchScratch};
use codevec_ivf::matvec::TransposedCentroids;
use codevec_ivf::quant::query::QuantizedQuery;
use codevec_ivf::quant::rotation::Rotation;
use codevec_ivf::quant::scan::{self, CandidateSink, FACTOR_BLOCK};
use codevec_ivf::rng::Rng;
use codevec_ivf::{f16dot, Metric};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::ops::ControlFlow;
use std::sync::OnceLock;

const DIM: usize = 384;

struct Count(usize);
impl CandidateSink for Count {
    fn threshold(&self) -> f32 {
        f32::INFINITY
    }
    fn push(&mut self, i: usize, _est: f32) {
        self.0 += i & 1;
    }
}

fn kernels(c: &mut Criterion) {
    let mut r = Rng::new(1);
    let n = 1024;
    let words = scan::words_for_dim(DIM);
    let blocks: Vec<u64> = (0..scan::blocks_len(n, words))
        .map(|_| r.next_u64())
        .collect();
    let fblocks: Vec<f32> = (0..n / 8 * FACTOR_BLOCK)
        .map(|_| r.next_f64() as f32)
        .collect();
    let q: Vec<f32> = (0..DIM).map(|_| r.normal() as f32).collect();
    let qq = QuantizedQuery::new(&q);
    let consts = qq.consts(0.0);
    let mut g = c.benchmark_group("kernels");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("scan_filter_1024x384", |b| {
        b.iter(|| {
            let mut s = Count(0);
            scan::scan_filter(
                black_box(&blocks),
                words,
                &qq.planes,
                n,
                &fblocks,
                &consts,
                &mut s,
            );
            s.0
        })
    });
    g.throughput(Throughput::Elements(1));
    let x: Vec<f16> = (0..DIM).map(|_| f16::from_f64(r.normal())).collect();
    g.bench_function("dot_f32_f16_384", |b| {
        b.iter(|| f16dot::dot_f32_f16(black_box(&q), black_box(&x)))
    });
    g.bench_function("l2sq_f32_f16_384", |b| {
        b.iter(|| f16dot::l2sq_f32_f16(black_box(&q), black_box(&x)))
    });
    let cents: Vec<f32> = (0..224 * DIM).map(|_| r.normal() as f32).collect();
    let t = TransposedCentroids::new(&cents, DIM);
    let mut out = vec![0f32; 224];
    g.bench_function("centroid_dots_224x384", |b| {
        b.iter(|| t.dots(black_box(&q), &mut out))
    });
    let rot = Rotation::new(DIM, 7);
    let mut v = q.clone();
    g.bench_function("rotation_384", |b| {
        b.iter(|| rot.apply_in_place(black_box(&mut v)))
    });
    let mut qq2 = QuantizedQuery::default();
    g.bench_function("quantize_query_384", |b| {
        b.iter(|| qq2.reset(black_box(&q)))
    });
    g.finish();
}

fn real() -> &'static (AnnData, IvfIndex) {
    static R: OnceLock<(AnnData, IvfIndex)> = OnceLock::new();
    R.get_or_init(|| {
        let d = AnnData::load().expect("shared ANN data (set CODEVEC_SHARED_DATA)");
        let idx = IvfIndex::build(
            &d.docs.data,
            d.dim(),
            None,
            &BuildConfig::new(Metric::Cosine),
            &|_| ControlFlow::Continue(()),
        )
        .expect("build");
        (d, idx)
    })
}

fn search(c: &mut Criterion) {
    let (d, index) = real();
    let nq = d.queries.rows();
    let mut g = c.benchmark_group("search_real_50k");
    g.throughput(Throughput::Elements(1));
    let defaults = index.default_params(10);
    for (name, nprobe) in [
        ("default", defaults.nprobe),
        ("nprobe_32", 32),
        ("nprobe_128", 128),
    ] {
        let p = codevec_ivf::SearchParams { nprobe, ..defaults };
        let mut s = SearchScratch::new();
        let mut out = vec![];
        let mut qi = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                index.search_with(d.queries.row(qi % nq), &p, &mut s, &mut out);
                qi += 1;
                out.len()
            })
        });
    }
    let mut qi = 0;
    g.sample_size(10);
    g.bench_function("exact_scan", |b| {
        b.iter(|| {
            let r = IvfIndex::exact_search(
                &d.docs.data,
                d.dim(),
                Metric::Cosine,
                d.queries.row(qi % nq),
                10,
            );
            qi += 1;
            r.len()
        })
    });
    g.finish();
}

fn build(c: &mut Criterion) {
    let (d, _) = real();
    let n = 10_000;
    let data = &d.docs.data[..n * d.dim()];
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("cosine_10k_default", |b| {
        b.iter(|| {
            IvfIndex::build(
                data,
                d.dim(),
                None,
                &BuildConfig::new(Metric::Cosine),
                &|_| ControlFlow::Continue(()),
            )
            .unwrap()
            .len()
        })
    });
    g.finish();
}

criterion_group!(benches, kernels, search, build);
criterion_main!(benches);
