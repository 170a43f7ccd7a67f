//! SQL benchmarks against a running cluster (scripts/bench.sh starts one and sets
//! CODEVEC_PGHOST / CODEVEC_PGPORT).
//!
//! `codevec-sqlbench exact [rows] [queries]`: exact `ORDER BY v <op> q LIMIT 10` over `rows`
//! random 384-d vectors, ms per query, for embedding and halfembedding, and for pgvector's
//! `vector` on the same data when pgvector is installed locally (skipped otherwise).
//!
//! `codevec-sqlbench ivf [ann_dir]`: the ivf index on the real ann/ data set next to pgvector
//! when installed: unfiltered sweep, filtered queries, growth, summary (see `ivf.rs`).
//!
//! `codevec-sqlbench sync [rows]`: the sync workers vs one backend's embed_table, and the
//! write cost of the sync triggers (see `sync.rs`; needs `shared_preload_libraries`).
//!
//! `codevec-sqlbench search [ann_dir] [rows] [--fresh]`: p50 / p95 / mean latency of the
//! hybrid `codevec.search` vs the plain ivf vector query vs `codevec.embed` alone, over `rows`
//! (default 50,000) real functions split from this machine with real (but not matching)
//! embeddings of ann/ (see `search.rs`; needs the `codevec` loader built next to it).

mod ann;
mod data;
mod exact;
mod filtered;
mod growth;
mod ivf;
mod search;
mod sync;

use postgres::{Client, NoTls};

/// A client on the benchmark cluster.
pub fn client() -> Client {
    let host = std::env::var("CODEVEC_PGHOST").expect("CODEVEC_PGHOST (scripts/bench.sh sets it)");
    let port = std::env::var("CODEVEC_PGPORT").expect("CODEVEC_PGPORT (scripts/bench.sh sets it)");
    let db = std::env::var("CODEVEC_PGDATABASE").unwrap_or_else(|_| "codevec_bench".into());
    Client::connect(
        &format!("host={host} port={port} user=postgres dbname={db}"),
        NoTls,
    )
    .expect("connect")
}

/// Whether pgvector can be created in this cluster.
pub fn pgvector_available(c: &mut Client) -> bool {
    c.query_opt(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'",
        &[],
    )
    .map(|r| r.is_some())
    .unwrap_or(false)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("exact") => {
            let rows = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            let queries = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
            exact::run(rows, queries);
        }
        Some("ivf") => {
            let dir = args
                .get(1)
                .cloned()
                .unwrap_or_else(|| "/work/shared/data/ann".into());
            ivf::run(dir.into());
        }
        Some("search") => {
            let fresh = args.iter().any(|a| a == "--fresh")
                || std::env::var("CODEVEC_BENCH_FRESH").is_ok_and(|v| v == "1");
            let pos: Vec<&String> = args[1..].iter().filter(|a| *a != "--fresh").collect();
            let dir = pos
                .first()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "/work/shared/data/ann".into());
            let rows = pos.get(1).and_then(|s| s.parse().ok()).unwrap_or(50_000);
            search::run(dir.into(), rows, fresh);
        }
        Some("sync") => {
            let rows = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(600);
            sync::run(rows);
        }
        _ => {
            eprintln!(
                "usage: codevec-sqlbench exact [rows] [queries] | ivf [ann_dir] | sync [rows] | search [ann_dir] [rows] [--fresh]"
            );
            std::process::exit(2);
        }
    }
}
