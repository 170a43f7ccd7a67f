//! Filtered ordered scans on the shared real data: `WHERE label = k ORDER BY v <=> q LIMIT 10`
//! with the label matching 10 % / 1 % of the rows, through the ordered scan
//! ([`codevec_ivf::ordered`]) in strict and relaxed order, against the exact filtered top-10.
//!
//! ```text
//! cargo run --release -p codevec-ivf --example filtered -- [--queries 200] [--nprobe P] [--rerank R] [--filter 1|10|100]
//! ```

use codevec_ivf::dataset::AnnData;
use codevec_ivf::index::{BuildConfig, IvfIndex};
use codevec_ivf::ordered::{OrderMode, ScanParams};
use codevec_ivf::Metric;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Instant;

fn arg(args: &[String], name: &str) -> Option<usize> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("number"))
}

/// A label in `0..m` that does not follow the data's order.
fn label(id: u64, m: u64) -> u64 {
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % m
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = AnnData::load().expect("shared ann data");
    let dim = data.dim();
    let index = IvfIndex::build(
        &data.docs.data,
        dim,
        None,
        &BuildConfig::new(Metric::Cosine),
        &|_| ControlFlow::Continue(()),
    )
    .expect("build");
    let nq = arg(&args, "--queries")
        .unwrap_or(200)
        .min(data.queries.rows());
    let mut p = index.default_params(10);
    if let Some(n) = arg(&args, "--nprobe") {
        p.nprobe = n;
    }
    if let Some(r) = arg(&args, "--rerank") {
        p.rerank = r;
    }
    println!(
        "{} docs, {} lists, nprobe {}, rerank {}, {nq} queries, simd {:?}",
        data.docs.rows(),
        index.model().nlists(),
        p.nprobe,
        p.rerank,
        codevec_ivf::simd::level()
    );
    println!("| filter | mode | recall@10 | unsorted | dropped/q | reranked/q | lists/q | µs/q |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let conf: Option<f32> = args
        .iter()
        .position(|a| a == "--confidence")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("number"));
    let only = arg(&args, "--filter").map(|f| f as u64);
    for m in [1u64, 10, 100] {
        if only.is_some_and(|o| o != m) {
            continue;
        }
        let truth: Vec<HashSet<u64>> = (0..nq)
            .map(|qi| {
                let want = qi as u64 % m;
                IvfIndex::exact_search_filtered(
                    &data.docs.data,
                    dim,
                    Metric::Cosine,
                    data.queries.row(qi),
                    10,
                    |id| label(id, m) == want,
                )
                .into_iter()
                .map(|x| x.0)
                .collect()
            })
            .collect();
        for mode in [OrderMode::Strict, OrderMode::Relaxed] {
            let (mut hits, mut unsorted, mut dropped, mut reranked, mut lists) = (0, 0, 0, 0, 0);
            let t = Instant::now();
            for (qi, gt) in truth.iter().enumerate() {
                let q = data.queries.row(qi);
                let want = qi as u64 % m;
                let mut sp = ScanParams::new(p.nprobe, p.rerank, usize::MAX, mode);
                if let Some(c) = conf {
                    sp.confidence = c;
                }
                let mut it = index.iter_with(q, sp);
                let mut got = vec![];
                for (id, _) in it.by_ref() {
                    if label(id, m) == want {
                        got.push(id);
                        if got.len() == 10 {
                            break;
                        }
                    }
                }
                dropped += it.dropped();
                reranked += it.reranked();
                lists += it.lists_probed();
                let d: Vec<f64> = got
                    .iter()
                    .map(|&id| Metric::Cosine.distance_f64(q, data.docs.row(id as usize)))
                    .collect();
                if d.windows(2).any(|w| w[1] < w[0]) {
                    unsorted += 1;
                }
                hits += got.iter().filter(|id| gt.contains(id)).count();
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / nq as f64;
            let f = |x: usize| x as f64 / nq as f64;
            println!(
                "| {} % | {mode:?} | {:.3} | {unsorted} | {:.1} | {:.0} | {:.0} | {us:.0} |",
                100 / m,
                hits as f64 / (10 * nq) as f64,
                f(dropped),
                f(reranked),
                f(lists)
            );
        }
    }
}
