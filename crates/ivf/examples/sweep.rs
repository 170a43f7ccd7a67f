//! Recall / throughput sweep on the shared ANN data.
//!
//! ```text
//! cargo run --release --example sweep -- [--lists N] [--rerank R] [--nprobe 1,2,4,...] [--k 10] [--threads T]
//! ```
//! Prints build time, index bytes and, per `nprobe`, recall@k and
//! single-threaded queries/s next to an exact brute-force scan measured in
//! the same run.

use codevec_ivf::dataset::AnnData;
use codevec_ivf::index::{BuildConfig, IvfIndex, SearchParams, SearchScratch};
use codevec_ivf::ordered::OrderMode;
use codevec_ivf::Metric;
use std::ops::ControlFlow;
use std::time::Instant;

/// CPU time of the calling thread in nanoseconds (Linux), so that numbers
/// stay meaningful on a machine shared with other jobs; `None` elsewhere.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: this function is compiled only for 64-bit Linux, where
    // `struct timespec` is two i64; `ts` is valid and writable and the clock
    // id is a valid constant.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

/// Runs `f` and returns (wall seconds, thread-CPU seconds or wall if unavailable).
fn timed(mut f: impl FnMut()) -> (f64, f64) {
    let c0 = thread_cpu_ns();
    let t = Instant::now();
    f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = match (c0, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 * 1e-9,
        _ => wall,
    };
    (wall, cpu)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let k: usize = arg(&args, "--k").map_or(10, |v| v.parse().unwrap());
    let data = AnnData::load().expect("load shared ann data (set CODEVEC_SHARED_DATA?)");
    let dim = data.dim();
    let n = data.docs.rows();
    let nq = data.queries.rows();
    println!(
        "data: {n} docs × {dim}, {nq} queries, simd level {:?}",
        codevec_ivf::simd::level()
    );

    let mut cfg = BuildConfig::new(Metric::Cosine);
    cfg.lists = arg(&args, "--lists").map(|v| v.parse().unwrap());
    cfg.threads = arg(&args, "--threads").map(|v| v.parse().unwrap());
    if let Some(it) = arg(&args, "--iters") {
        cfg.kmeans_iters = it.parse().unwrap();
    }
    let t = Instant::now();
    let index = IvfIndex::build(&data.docs.data, dim, None, &cfg, &|_| {
        ControlFlow::Continue(())
    })
    .expect("build");
    let build_s = t.elapsed().as_secs_f64();
    let threads = cfg.threads.unwrap_or_else(rayon_threads);
    let b = index.bytes();
    let lists = index.model().nlists();
    let sizes: Vec<usize> = index.lists().iter().map(|l| l.len()).collect();
    println!(
        "build: {build_s:.2} s wall ({threads} threads), lists {lists} (sizes min {} max {}), bytes: codes+factors {:.1} MiB, f16+factors {:.1} MiB, ids {:.1} MiB, centroids {:.2} MiB, total {:.1} MiB ({:.0} B/vector)",
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap(),
        b.codes as f64 / 1048576.0,
        b.f16 as f64 / 1048576.0,
        b.ids as f64 / 1048576.0,
        b.centroids as f64 / 1048576.0,
        b.total() as f64 / 1048576.0,
        (b.codes + b.f16 + b.ids) as f64 / n as f64,
    );

    // exact brute force in the same run
    let mut exact: Vec<Vec<u64>> = vec![];
    let (wall, cpu) = timed(|| {
        exact = (0..nq)
            .map(|q| {
                IvfIndex::exact_search(&data.docs.data, dim, Metric::Cosine, data.queries.row(q), k)
                    .into_iter()
                    .map(|r| r.0)
                    .collect()
            })
            .collect();
    });
    let (exact_qps, exact_cpu_qps) = (nq as f64 / wall, nq as f64 / cpu);
    println!(
        "exact scan (SimSIMD cosine over all rows, 1 thread): recall@{k} {:.4}, {exact_qps:.0} q/s wall, {exact_cpu_qps:.0} q/s per CPU-second",
        data.recall_at(k, &exact)
    );

    let defaults = index.default_params(k);
    let rerank: usize = arg(&args, "--rerank").map_or(defaults.rerank, |v| v.parse().unwrap());
    let probes: Vec<usize> = arg(&args, "--nprobe").map_or_else(
        || {
            let mut v = vec![1, 4, 16, 32, 48, 64, 80, 96, 128, 160];
            v.push(defaults.nprobe);
            v.sort_unstable();
            v.dedup();
            v.retain(|&p| p <= lists);
            v
        },
        |s| s.split(',').map(|x| x.parse().unwrap()).collect(),
    );
    println!(
        "defaults: nprobe {}, rerank {}",
        defaults.nprobe, defaults.rerank
    );
    println!("| nprobe | rerank | recall@{k} | q/s (wall) | q/s (CPU) | µs/query (CPU) | × exact (CPU) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut scratch = SearchScratch::new();
    let mut out = vec![];
    for &np in &probes {
        let p = SearchParams {
            k,
            nprobe: np,
            rerank,
        };
        // warm-up
        for q in 0..nq.min(50) {
            index.search_with(data.queries.row(q), &p, &mut scratch, &mut out);
        }
        let mut results = Vec::with_capacity(nq);
        let reps = 5;
        let (wall, cpu) = timed(|| {
            for r in 0..reps {
                for q in 0..nq {
                    index.search_with(data.queries.row(q), &p, &mut scratch, &mut out);
                    if r == 0 {
                        results.push(out.iter().map(|x| x.0).collect::<Vec<u64>>());
                    }
                }
            }
        });
        let n_run = (reps * nq) as f64;
        let (qps, cpu_qps) = (n_run / wall, n_run / cpu);
        let mark = if np == defaults.nprobe {
            " (default)"
        } else {
            ""
        };
        println!(
            "| {np}{mark} | {rerank} | {:.4} | {qps:.0} | {cpu_qps:.0} | {:.1} | {:.1} |",
            data.recall_at(k, &results),
            1e6 * cpu / n_run,
            cpu_qps / exact_cpu_qps
        );
    }
    iterator_rows(
        &data,
        &index,
        &SearchParams {
            k,
            nprobe: defaults.nprobe,
            rerank,
        },
        k,
        exact_cpu_qps,
    );
}

/// The iterator path (what an index AM's `amgettuple` drives): unfiltered,
/// and with a filter that rejects 9 of 10 rows, 10 results each.
fn iterator_rows(data: &AnnData, index: &IvfIndex, p: &SearchParams, k: usize, exact_cpu_qps: f64) {
    let nq = data.queries.rows();
    for (name, modulus) in [
        ("ordered scan (strict), no filter", 1u64),
        ("ordered scan (strict), 10 % selective filter", 10),
    ] {
        let mut results = vec![];
        let (wall, cpu) = timed(|| {
            for q in 0..nq {
                let r: Vec<u64> = index
                    .iter(data.queries.row(q), p, OrderMode::Strict)
                    .map(|x| x.0)
                    .filter(|id| id % modulus == 0)
                    .take(k)
                    .collect();
                results.push(r);
            }
        });
        // recall against the exact top-k among the rows passing the filter
        let mut hit = 0usize;
        for (q, r) in results.iter().enumerate() {
            let truth: Vec<u64> = if modulus == 1 {
                data.gt.row(q)[..k].iter().map(|&i| i as u64).collect()
            } else {
                IvfIndex::exact_search_filtered(
                    &data.docs.data,
                    data.dim(),
                    Metric::Cosine,
                    data.queries.row(q),
                    k,
                    |id| id % modulus == 0,
                )
                .into_iter()
                .map(|x| x.0)
                .collect()
            };
            hit += r.iter().filter(|id| truth.contains(id)).count();
        }
        let (qps, cpu_qps) = (nq as f64 / wall, nq as f64 / cpu);
        println!(
            "| {name} (nprobe {}) | {} | {:.4} | {qps:.0} | {cpu_qps:.0} | {:.1} | {:.1} |",
            p.nprobe,
            p.rerank,
            hit as f64 / (k * nq) as f64,
            1e6 * cpu / nq as f64,
            cpu_qps / exact_cpu_qps
        );
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
