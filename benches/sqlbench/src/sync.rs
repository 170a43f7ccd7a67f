//! `codevec-sqlbench sync [rows]`: embeddings kept in sync by the background workers
//! (issue #13). Needs a cluster started with `shared_preload_libraries = 'codevec'`
//! (scripts/bench.sh does), and without `codevec.sync_workers` on the server's command line
//! (it is changed with ALTER SYSTEM, which a command-line setting would override). Prints,
//! from one run on the machine at hand:
//! - throughput: `CALL codevec.embed_table` in one backend vs the sync workers (1 and 2)
//!   draining the same rows after a COPY, interleaved (backend, 2, 1, backend);
//! - the write cost of the sync triggers: COPY of 10,000 rows and 1,000 single-row INSERTs
//!   into a table with and without sync enabled (workers stopped meanwhile).

use std::io::Write;
use std::time::{Duration, Instant};

use postgres::Client;

use crate::client;

/// Function bodies of the python-dev set (real code, 2,000 of them).
fn texts(n: usize) -> Vec<String> {
    let dir = std::env::var("CODEVEC_SHARED_DATA").unwrap_or_else(|_| "/work/shared/data".into());
    let path = format!("{dir}/codesearch-python-dev.jsonl");
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut out: Vec<String> = data
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["code"].as_str().map(str::to_string))
        .collect();
    assert!(!out.is_empty(), "no code in {path}");
    // more rows than the set has: repeat with a suffix, so every text is distinct
    let base = out.len();
    let mut i = 0;
    while out.len() < n {
        let t = format!("{}\n# copy {}", out[i % base], i / base + 1);
        out.push(t);
        i += 1;
    }
    out.truncate(n);
    out
}

fn copy_texts(c: &mut Client, table: &str, texts: &[String]) {
    let mut w = c
        .copy_in(&format!("COPY {table} (code) FROM STDIN"))
        .unwrap();
    for t in texts {
        let mut line = String::with_capacity(t.len() + 8);
        for ch in t.chars() {
            match ch {
                '\\' => line.push_str("\\\\"),
                '\n' => line.push_str("\\n"),
                '\r' => line.push_str("\\r"),
                '\t' => line.push_str("\\t"),
                c => line.push(c),
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes()).unwrap();
    }
    w.finish().unwrap();
}

fn set_workers(c: &mut Client, n: i32) {
    // separate calls: ALTER SYSTEM cannot run in the implicit transaction of a multi-statement string
    c.batch_execute(&format!("ALTER SYSTEM SET codevec.sync_workers = {n}"))
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    // wait until the running workers match (lowering: they exit at their next look)
    let start = Instant::now();
    loop {
        let running: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'codevec sync worker'
                   AND datname = current_database()",
                &[],
            )
            .unwrap()
            .get(0);
        if running <= n as i64 || start.elapsed() > Duration::from_secs(30) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fresh_table(c: &mut Client, name: &str) {
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id bigserial PRIMARY KEY, code text, emb embedding(384));"
    ))
    .unwrap();
}

/// rows/s of one backend's embed_table over `texts`.
fn backend_rate(c: &mut Client, texts: &[String]) -> f64 {
    fresh_table(c, "sync_bench_backend");
    copy_texts(c, "sync_bench_backend", texts);
    let t = Instant::now();
    // one statement per call: the procedure commits, which a multi-statement string forbids
    c.batch_execute("SET client_min_messages = warning")
        .unwrap();
    c.batch_execute("CALL codevec.embed_table('sync_bench_backend', 'code', 'emb', 32)")
        .unwrap();
    c.batch_execute("RESET client_min_messages").unwrap();
    texts.len() as f64 / t.elapsed().as_secs_f64()
}

/// rows/s of `workers` sync workers draining `texts` COPYed into a synced table (from the
/// COPY's commit to the last embedding).
fn workers_rate(c: &mut Client, texts: &[String], workers: i32) -> f64 {
    set_workers(c, workers);
    fresh_table(c, "sync_bench_workers");
    c.batch_execute("SELECT codevec.enable_sync('sync_bench_workers', 'code', 'emb')")
        .unwrap();
    // make sure the workers are up and have loaded the model before timing: enough rows
    // for one batch per worker
    c.batch_execute(&format!(
        "INSERT INTO sync_bench_workers (code) SELECT 'warm up ' || i FROM generate_series(1, {}) i",
        32 * workers
    ))
    .unwrap();
    wait_empty(c, "sync_bench_workers");
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    copy_texts(c, "sync_bench_workers", texts);
    wait_empty(c, "sync_bench_workers");
    let secs = t.elapsed().as_secs_f64();
    let stale: i64 = c
        .query_one(
            "SELECT count(*) FROM sync_bench_workers WHERE emb IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stale, 0);
    c.batch_execute("SELECT codevec.disable_sync('sync_bench_workers')")
        .unwrap();
    texts.len() as f64 / secs
}

fn wait_empty(c: &mut Client, table: &str) {
    let start = Instant::now();
    loop {
        let left: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE emb IS NULL AND code IS NOT NULL"),
                &[],
            )
            .unwrap()
            .get(0);
        if left == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "sync workers did not drain {table}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Seconds for COPY of `texts` and for `singles` single-row INSERTs (autocommit).
fn write_cost(c: &mut Client, table: &str, texts: &[String], singles: usize) -> (f64, f64) {
    let t = Instant::now();
    copy_texts(c, table, texts);
    let copy = t.elapsed().as_secs_f64();
    let stmt = c
        .prepare(&format!("INSERT INTO {table} (code) VALUES ($1)"))
        .unwrap();
    let t = Instant::now();
    for (i, text) in texts.iter().take(singles).enumerate() {
        let s = format!("{text}\n# single {i}");
        c.execute(&stmt, &[&s]).unwrap();
    }
    (copy, t.elapsed().as_secs_f64())
}

pub fn run(rows: usize) {
    let mut c = client();
    let preload: String = c
        .query_one("SHOW shared_preload_libraries", &[])
        .unwrap()
        .get(0);
    assert!(
        preload.split(',').any(|l| l.trim() == "codevec"),
        "the sync benchmark needs shared_preload_libraries = 'codevec' (scripts/bench.sh sets it)"
    );
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS codevec")
        .unwrap();
    let sample = texts(rows);
    println!(
        "sync throughput: {rows} python-dev functions, f32, batch 32, codevec.encoder_threads = 1, {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // interleaved, so that a slow phase of the machine hits both sides
    let b1 = backend_rate(&mut c, &sample);
    let w2a = workers_rate(&mut c, &sample, 2);
    let w1 = workers_rate(&mut c, &sample, 1);
    let w2b = workers_rate(&mut c, &sample, 2);
    set_workers(&mut c, 0);
    let b2 = backend_rate(&mut c, &sample);
    let backend = (b1 + b2) / 2.0;
    let two = (w2a + w2b) / 2.0;
    println!("| writer | rows/s | vs one backend |");
    println!("|---|---:|---:|");
    println!("| CALL codevec.embed_table, one backend | {backend:.1} ({b1:.1}, {b2:.1}) | 1.00x |");
    println!("| 1 sync worker | {w1:.1} | {:.2}x |", w1 / backend);
    println!(
        "| 2 sync workers | {two:.1} ({w2a:.1}, {w2b:.1}) | {:.2}x |",
        two / backend
    );
    println!("sync workers 2 vs 1 backend: {:.2}x", two / backend);

    // the triggers' cost on writes (no worker running: only the write path is timed)
    let many = texts(10_000);
    let singles = 1_000;
    fresh_table(&mut c, "sync_bench_plain");
    fresh_table(&mut c, "sync_bench_synced");
    c.batch_execute("SELECT codevec.enable_sync('sync_bench_synced', 'code', 'emb')")
        .unwrap();
    let mut plain = (0.0, 0.0);
    let mut synced = (0.0, 0.0);
    for round in 0..2 {
        for (table, acc) in [
            ("sync_bench_plain", &mut plain),
            ("sync_bench_synced", &mut synced),
        ] {
            c.batch_execute(&format!("TRUNCATE {table}")).unwrap();
            let (copy, single) = write_cost(&mut c, table, &many, singles);
            if round > 0 {
                *acc = (copy, single);
            }
        }
    }
    println!("write cost of the sync triggers (COPY of {} rows, {singles} single-row INSERTs; second of two rounds):", many.len());
    println!("| table | COPY s | µs/row | INSERT µs/row |");
    println!("|---|---:|---:|---:|");
    for (name, (copy, single)) in [("without sync", plain), ("with sync", synced)] {
        println!(
            "| {name} | {copy:.2} | {:.1} | {:.1} |",
            copy * 1e6 / many.len() as f64,
            single * 1e6 / singles as f64
        );
    }
    println!(
        "sync trigger cost: COPY +{:.1} µs/row ({:.2}x), single INSERT +{:.1} µs/row ({:.2}x)",
        (synced.0 - plain.0) * 1e6 / many.len() as f64,
        synced.0 / plain.0,
        (synced.1 - plain.1) * 1e6 / singles as f64,
        synced.1 / plain.1
    );
    c.batch_execute(
        "SELECT codevec.disable_sync('sync_bench_synced');
         DROP TABLE sync_bench_plain, sync_bench_synced, sync_bench_backend, sync_bench_workers;",
    )
    .unwrap();
    c.batch_execute("ALTER SYSTEM RESET codevec.sync_workers")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
}
