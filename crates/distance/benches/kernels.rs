//! Kernel throughput for 384/768/1536 dimensions, f32 and f16: codevec's own kernels
//! against simsimd (the kernels codevec used before) and a plain scalar loop.
//!
//! Criterion reports time per call and bytes/s (both operands). After the criterion runs,
//! a side-by-side table (same process, same inputs) prints GB/s of codevec and simsimd at
//! the same SIMD level and their ratio. The simsimd kernels are picked from simsimd's own
//! kernel table restricted to the capabilities of codevec's level (`CODEVEC_SIMD=avx2`
//! compares with simsimd's Haswell kernels, as an AVX2-only EPYC runs them); for f16 the
//! AVX512-FP16 ("sapphire") kernels are excluded, as codevec did before (they accumulate
//! in f16).

use codevec_distance::{cosine_distance, l1_distance, l2_squared, negative_inner_product, scalar};
use codevec_simd::SimdLevel;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use half::f16;
use std::hint::black_box;
use std::time::Instant;

mod simsimd_table {
    use codevec_simd::SimdLevel;

    pub type Kernel = unsafe extern "C" fn(*const u8, *const u8, usize, *mut f64);

    extern "C" {
        fn simsimd_capabilities() -> u32;
        fn simsimd_find_kernel_punned(
            kind: u32,
            datatype: u32,
            supported: u32,
            allowed: u32,
            kernel: *mut Option<Kernel>,
            capability: *mut u32,
        );
    }

    pub const DOT: u32 = b'i' as u32;
    pub const COS: u32 = b'c' as u32;
    pub const L2SQ: u32 = b'e' as u32;
    pub const F32: u32 = 1 << 11;
    pub const F16: u32 = 1 << 12;
    const SERIAL: u32 = 1;
    const HASWELL: u32 = 1 << 10;
    const SAPPHIRE: u32 = 1 << 14;

    fn allowed(datatype: u32) -> u32 {
        match codevec_simd::level() {
            SimdLevel::Scalar => SERIAL,
            SimdLevel::Avx2 => SERIAL | HASWELL,
            SimdLevel::Avx512 if datatype == F16 => 0x7FFF_FFFF & !SAPPHIRE,
            SimdLevel::Avx512 => 0x7FFF_FFFF,
        }
    }

    /// simsimd's best kernel for (kind, datatype) within codevec's level, and its capability.
    pub fn find(kind: u32, datatype: u32) -> (Kernel, u32) {
        let mut k: Option<Kernel> = None;
        let mut cap = 0u32;
        // SAFETY: simsimd_find_kernel_punned only reads its integer arguments and writes one
        // function pointer and one capability through the two valid out-pointers.
        unsafe {
            simsimd_find_kernel_punned(
                kind,
                datatype,
                simsimd_capabilities(),
                allowed(datatype),
                &mut k,
                &mut cap,
            )
        };
        (k.expect("simsimd has a serial kernel"), cap)
    }

    /// Runs `k` on two equal-length slices of 4-byte (f32) or 2-byte (f16) elements.
    #[inline]
    pub fn call<T>(k: Kernel, a: &[T], b: &[T]) -> f64 {
        assert_eq!(a.len(), b.len());
        let mut d = 0.0f64;
        // SAFETY: both pointers address `a.len()` valid elements of the kernel's datatype
        // (f32, or binary16 for half::f16); simsimd's kernels read exactly n elements of each
        // and write one f64; `find` only returns kernels the CPU supports.
        unsafe { k(a.as_ptr().cast(), b.as_ptr().cast(), a.len(), &mut d) };
        d
    }

    pub fn cap_name(cap: u32) -> &'static str {
        match cap {
            1 => "serial",
            c if c == 1 << 10 => "haswell",
            c if c == 1 << 11 => "skylake",
            c if c == 1 << 12 => "ice",
            c if c == 1 << 13 => "genoa",
            c if c == 1 << 14 => "sapphire",
            _ => "other",
        }
    }
}

// link simsimd (only its C symbols are used)
extern crate simsimd;

use simsimd_table as ss;

fn vecs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let b = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
    (a, b)
}

fn halves(v: &[f32]) -> Vec<f16> {
    v.iter().map(|&x| f16::from_f32(x)).collect()
}

/// simsimd's cosine as codevec used it (clamped, zero convention ignored: inputs are non-zero).
fn ss_cos<T>(k: ss::Kernel, a: &[T], b: &[T]) -> f64 {
    ss::call(k, a, b).clamp(0.0, 2.0)
}

fn bench(c: &mut Criterion) {
    let (l2_32, _) = ss::find(ss::L2SQ, ss::F32);
    let (cos_32, _) = ss::find(ss::COS, ss::F32);
    let (dot_32, _) = ss::find(ss::DOT, ss::F32);
    let (l2_16, _) = ss::find(ss::L2SQ, ss::F16);
    let (cos_16, _) = ss::find(ss::COS, ss::F16);
    for n in [384usize, 768, 1536] {
        let (a, b) = vecs(n);
        let (ah, bh) = (halves(&a), halves(&b));
        let mut g = c.benchmark_group(format!("dims_{n}"));
        g.throughput(Throughput::Bytes((2 * n * 4) as u64));
        g.bench_function("f32_l2sq_codevec", |x| {
            x.iter(|| l2_squared(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_l2sq_simsimd", |x| {
            x.iter(|| ss::call(l2_32, black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_cos_codevec", |x| {
            x.iter(|| cosine_distance(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_cos_simsimd", |x| {
            x.iter(|| ss_cos(cos_32, black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_ip_codevec", |x| {
            x.iter(|| negative_inner_product(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_ip_simsimd", |x| {
            x.iter(|| -ss::call(dot_32, black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_l1_codevec", |x| {
            x.iter(|| l1_distance(black_box(&a), black_box(&b)))
        });
        g.bench_function("f32_l2sq_scalar", |x| {
            x.iter(|| scalar::l2_squared_f32_naive(black_box(&a), black_box(&b)))
        });
        g.throughput(Throughput::Bytes((2 * n * 2) as u64));
        g.bench_function("f16_l2sq_codevec", |x| {
            x.iter(|| l2_squared(black_box(&ah), black_box(&bh)))
        });
        g.bench_function("f16_l2sq_simsimd", |x| {
            x.iter(|| ss::call(l2_16, black_box(&ah), black_box(&bh)))
        });
        g.bench_function("f16_cos_codevec", |x| {
            x.iter(|| cosine_distance(black_box(&ah), black_box(&bh)))
        });
        g.bench_function("f16_cos_simsimd", |x| {
            x.iter(|| ss_cos(cos_16, black_box(&ah), black_box(&bh)))
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

/// Best of three [`rate`]s, alternating the two contenders to share any noise.
fn rates(mut f: impl FnMut() -> f64, mut g: impl FnMut() -> f64) -> (f64, f64) {
    let (mut x, mut y) = (0.0f64, 0.0f64);
    for _ in 0..3 {
        x = x.max(rate(&mut f));
        y = y.max(rate(&mut g));
    }
    (x, y)
}

fn summary_table() {
    println!("\n{}", codevec_distance::simd_info());
    let names: Vec<String> = [
        (ss::L2SQ, ss::F32),
        (ss::COS, ss::F32),
        (ss::DOT, ss::F32),
        (ss::L2SQ, ss::F16),
        (ss::COS, ss::F16),
    ]
    .iter()
    .map(|&(k, d)| ss::cap_name(ss::find(k, d).1).to_string())
    .collect();
    println!(
        "simsimd kernels: f32 l2sq/cos/dot {}/{}/{}, f16 l2sq/cos {}/{}",
        names[0], names[1], names[2], names[3], names[4]
    );
    if codevec_simd::level() == SimdLevel::Scalar {
        println!("(scalar level: simsimd serial kernels)");
    }
    let (l2_32, _) = ss::find(ss::L2SQ, ss::F32);
    let (cos_32, _) = ss::find(ss::COS, ss::F32);
    let (dot_32, _) = ss::find(ss::DOT, ss::F32);
    let (l2_16, _) = ss::find(ss::L2SQ, ss::F16);
    let (cos_16, _) = ss::find(ss::COS, ss::F16);
    println!("| dims | type | kernel | codevec GB/s | simsimd GB/s | codevec/simsimd |");
    println!("|---:|---|---|---:|---:|---:|");
    for n in [384usize, 768, 1536] {
        let (a, b) = vecs(n);
        let (ah, bh) = (halves(&a), halves(&b));
        let gb32 = (2 * n * 4) as f64 / 1e9;
        let gb16 = (2 * n * 2) as f64 / 1e9;
        let rows: Vec<(&str, &str, (f64, f64), f64)> = vec![
            (
                "f32",
                "l2sq",
                rates(
                    || l2_squared(black_box(&a), black_box(&b)),
                    || ss::call(l2_32, black_box(&a), black_box(&b)),
                ),
                gb32,
            ),
            (
                "f32",
                "cosine",
                rates(
                    || cosine_distance(black_box(&a), black_box(&b)),
                    || ss_cos(cos_32, black_box(&a), black_box(&b)),
                ),
                gb32,
            ),
            (
                "f32",
                "neg-ip",
                rates(
                    || negative_inner_product(black_box(&a), black_box(&b)),
                    || -ss::call(dot_32, black_box(&a), black_box(&b)),
                ),
                gb32,
            ),
            (
                "f32",
                "l1 (vs naive f32 loop)",
                rates(
                    || l1_distance(black_box(&a), black_box(&b)),
                    || scalar::l2_squared_f32_naive(black_box(&a), black_box(&b)) as f64,
                ),
                gb32,
            ),
            (
                "f16",
                "l2sq",
                rates(
                    || l2_squared(black_box(&ah), black_box(&bh)),
                    || ss::call(l2_16, black_box(&ah), black_box(&bh)),
                ),
                gb16,
            ),
            (
                "f16",
                "cosine",
                rates(
                    || cosine_distance(black_box(&ah), black_box(&bh)),
                    || ss_cos(cos_16, black_box(&ah), black_box(&bh)),
                ),
                gb16,
            ),
        ];
        for (ty, k, (ours, theirs), gb) in rows {
            println!(
                "| {n} | {ty} | {k} | {:.1} | {:.1} | {:.2}x |",
                ours * gb,
                theirs * gb,
                ours / theirs
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
