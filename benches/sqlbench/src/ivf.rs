//! `codevec-sqlbench ivf [ann_dir]`: the ivf index on the shared real data set (50,000
//! 384-d code embeddings, 500 queries, exact top-100 ground truth, cosine), side by side with
//! pgvector in the same cluster and run when pgvector is installed (skipped otherwise):
//!
//! - build time, index size, insert rows/s into an indexed table;
//! - recall@10 vs queries/s at several settings (codevec probes; pgvector ivfflat probes,
//!   hnsw ef_search), next to exact scans of both;
//! - filtered queries (10 % and 1 % of the rows, see `filtered.rs`), with the queries whose
//!   rows came back out of ORDER BY order;
//! - growth: built on 20 %, 80 % inserted after, vs REINDEX (`growth.rs`);
//! - a summary in the layout of issue #14's table.
//!
//! Queries pass the vector as text in an InitPlan, `(SELECT $1::text::type)`, evaluated once
//! per query. With a bare `$1::text::type` a generic plan (which PostgreSQL picks for a
//! prepared statement after five runs) parses the text again wherever the expression is
//! evaluated: in the target list, and, for codevec, in the executor's recheck of every row
//! the ivf scan returns, a cost pgvector's scans (exact distances, no recheck) never pay.
//!
//! Every query returns `(id, distance)`; one client, no parallel workers.

use std::path::PathBuf;

use postgres::Client;

use crate::ann::{best_at, load, measure, no_params, size_mib, timed, Ann, Run};
use crate::data::copy_text;
use crate::filtered::{self, Truth};
use crate::{client, growth, pgvector_available};

/// Rows/s of inserting the last 10,000 documents into a table that holds the first 40,000
/// and has index `index_sql` (`{t}` = table name), or no index.
fn insert_rate(c: &mut Client, ty: &str, index_sql: Option<&str>) -> f64 {
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS ann_ins; CREATE TABLE ann_ins (id int, v {ty}(384));
         INSERT INTO ann_ins SELECT id, v::text::{ty} FROM ann_docs WHERE id < 40000"
    ))
    .unwrap();
    if let Some(s) = index_sql {
        c.batch_execute(&s.replace("{t}", "ann_ins")).unwrap();
    }
    let secs = timed(
        c,
        &format!("INSERT INTO ann_ins SELECT id, v::text::{ty} FROM ann_docs WHERE id >= 40000"),
    );
    c.batch_execute("DROP TABLE ann_ins").unwrap();
    10_000.0 / secs
}

fn unfiltered(c: &mut Client, table: &str, ty: &str, ann: &Ann, nq: usize) -> Run {
    let stmt = c
        .prepare(&format!(
            "SELECT id, v <=> (SELECT $1::text::{ty}) FROM {table} ORDER BY v <=> (SELECT $1::text::{ty}) LIMIT 10"
        ))
        .unwrap();
    measure(c, &stmt, ann, nq, &no_params, &|i| ann.gt[i].clone())
}

fn row(method: &str, build: &str, size: f64, ins: f64, setting: &str, r: &Run) {
    println!(
        "| {method} | {build} | {size:.0} | {ins:.0} | {setting} | {:.3} | {} | {:.0} |",
        r.recall, r.unsorted, r.qps
    );
}

/// The index's build figures for its table rows.
struct Built<'a> {
    method: &'a str,
    build: f64,
    size: f64,
    insert: f64,
}

/// For each `(value, label)`: `SET guc = value`, measure the unfiltered queries on
/// `table`, print a row; `RESET guc` at the end. Returns the labelled runs.
#[allow(clippy::too_many_arguments)]
fn sweep(
    c: &mut Client,
    table: &str,
    ty: &str,
    ann: &Ann,
    nq: usize,
    b: &Built,
    guc: &str,
    settings: &[(i32, String)],
) -> Vec<(String, Run)> {
    let mut out = vec![];
    for (value, label) in settings {
        c.batch_execute(&format!("SET {guc} = {value}")).unwrap();
        let r = unfiltered(c, table, ty, ann, nq);
        row(
            b.method,
            &format!("{:.1}", b.build),
            b.size,
            b.insert,
            label,
            &r,
        );
        out.push((label.clone(), r));
    }
    c.batch_execute(&format!("RESET {guc}")).unwrap();
    out
}

/// What the summary needs of one side.
#[derive(Default)]
struct Side {
    sweep: Vec<(String, Run)>,
    exact: Run,
    f10: Vec<(String, Run, Run)>,
    grown: Option<(Run, Run, f64)>,
    build: f64,
    size: f64,
    insert: f64,
}

/// The CPU model from lscpu, the SIMD flags that matter here and the CPU count.
pub(crate) fn cpu() -> String {
    let out = std::process::Command::new("lscpu").output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let model = text
        .lines()
        .find(|l| l.starts_with("Model name:"))
        .map(|l| l["Model name:".len()..].trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let flags = text.lines().find(|l| l.starts_with("Flags:")).unwrap_or("");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    format!(
        "{model}; avx2 {}, fma {}, avx512f {}, avx512_vnni {}; {} CPUs",
        has("avx2"),
        has("fma"),
        has("avx512f"),
        has("avx512_vnni"),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    )
}

/// Run the benchmark.
pub fn run(dir: PathBuf) {
    let ann = load(&dir);
    let n = ann.docs.len();
    let nq = ann.queries.len();
    let mut c = client();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS codevec; SET maintenance_work_mem = '1GB'; SET max_parallel_workers_per_gather = 0").unwrap();
    c.batch_execute("DROP TABLE IF EXISTS ann_docs; CREATE TABLE ann_docs (id int PRIMARY KEY, v embedding(384))").unwrap();
    copy_text(&mut c, "ann_docs", &ann.docs);
    let labels = filtered::add_labels(&mut c, "ann_docs", n);
    let truth: Truth = filtered::truth(&ann, &labels);
    let simd: String = c
        .query_one("SELECT codevec.simd_info()::text", &[])
        .map(|r| r.get(0))
        .unwrap_or_default();
    println!(
        "ivf on {} ({n} × 384, {nq} queries, cosine, recall@10 against gt.i32.npy), one client, no parallel workers",
        dir.display()
    );
    println!("CPU: {}", cpu());
    println!("codevec.simd_info(): {simd}");
    println!();
    println!("| method | build s | size MiB | insert rows/s | setting | recall@10 | unsorted | queries/s |");
    println!("|---|---:|---:|---:|---|---:|---:|---:|");
    let mut cv = Side::default();
    let table_mib = size_mib(&mut c, "ann_docs");
    let exact_nq = nq.min(100);
    c.batch_execute("SET enable_indexscan = off").unwrap();
    cv.exact = unfiltered(&mut c, "ann_docs", "embedding", &ann, exact_nq);
    c.batch_execute("RESET enable_indexscan").unwrap();
    let ins_none = insert_rate(&mut c, "embedding", None);
    row(
        "codevec exact scan (no index)",
        "–",
        table_mib,
        ins_none,
        &format!("{exact_nq} queries"),
        &cv.exact,
    );

    cv.build = timed(
        &mut c,
        "CREATE INDEX ann_ivf ON ann_docs USING ivf (v embedding_cosine_ops)",
    );
    cv.size = size_mib(&mut c, "ann_ivf");
    cv.insert = insert_rate(
        &mut c,
        "embedding",
        Some("CREATE INDEX ON {t} USING ivf (v embedding_cosine_ops)"),
    );
    let lists: i64 = c
        .query_one("SELECT round(sqrt(count(*)))::bigint FROM ann_docs", &[])
        .unwrap()
        .get(0);
    let dflt = codevec_ivf::defaults::nprobe_for_lists(lists as usize);
    let method = format!("codevec ivf (lists {lists})");
    let settings: Vec<(i32, String)> = [10, 15, 20, 30, 40, 0, 110]
        .into_iter()
        .map(|p| {
            let label = if p == 0 {
                format!("probes default ({dflt})")
            } else {
                format!("probes {p}")
            };
            (p, label)
        })
        .collect();
    let b = Built {
        method: &method,
        build: cv.build,
        size: cv.size,
        insert: cv.insert,
    };
    cv.sweep = sweep(
        &mut c,
        "ann_docs",
        "embedding",
        &ann,
        nq,
        &b,
        "codevec.probes",
        &settings,
    );
    println!();
    println!("filtered: `WHERE c10 = k` (10 % of rows) and `WHERE c100 = k` (1 %, no btree on c100), {} queries, recall@10 against the exact filtered top-10", truth.queries());
    println!();
    println!("| method | setting | recall 10 % | unsorted | q/s | recall 1 % | unsorted | q/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (label, set) in [
        ("defaults (strict_order)", "RESET codevec.iterative_scan"),
        (
            "iterative_scan relaxed_order",
            "SET codevec.iterative_scan = relaxed_order",
        ),
    ] {
        c.batch_execute(set).unwrap();
        let (a, b) = filtered::run(&mut c, "ann_docs", "embedding", &ann, &truth);
        filtered::row("codevec ivf", label, &a, &b);
        cv.f10.push((label.into(), a, b));
    }
    c.batch_execute("RESET codevec.iterative_scan; DROP INDEX ann_ivf")
        .unwrap();
    cv.grown = Some(growth::run(
        &mut c,
        "embedding",
        "ivf (v embedding_cosine_ops)",
        &ann,
    ));

    let mut pg = Side::default();
    let pgv = pgvector_available(&mut c);
    if pgv {
        println!();
        println!("| method | build s | size MiB | insert rows/s | setting | recall@10 | unsorted | queries/s |");
        println!("|---|---:|---:|---:|---|---:|---:|---:|");
        c.batch_execute(
            "CREATE EXTENSION IF NOT EXISTS vector; DROP TABLE IF EXISTS ann_pgv;
             CREATE TABLE ann_pgv (id int PRIMARY KEY, v vector(384), c10 int, c100 int);
             INSERT INTO ann_pgv SELECT id, v::text::vector, c10, c100 FROM ann_docs",
        )
        .unwrap();
        c.batch_execute("VACUUM ANALYZE ann_pgv").unwrap();
        c.batch_execute("SET enable_indexscan = off").unwrap();
        pg.exact = unfiltered(&mut c, "ann_pgv", "vector", &ann, exact_nq);
        c.batch_execute("RESET enable_indexscan").unwrap();
        let ins_none = insert_rate(&mut c, "vector", None);
        row(
            "pgvector exact scan (no index)",
            "–",
            size_mib(&mut c, "ann_pgv"),
            ins_none,
            &format!("{exact_nq} queries"),
            &pg.exact,
        );

        let build_f = timed(&mut c, "CREATE INDEX ann_ivfflat ON ann_pgv USING ivfflat (v vector_cosine_ops) WITH (lists = 100)");
        let size_f = size_mib(&mut c, "ann_ivfflat");
        let ins_f = insert_rate(
            &mut c,
            "vector",
            Some("CREATE INDEX ON {t} USING ivfflat (v vector_cosine_ops) WITH (lists = 100)"),
        );
        let settings: Vec<(i32, String)> = [1, 16, 32]
            .into_iter()
            .map(|p| (p, format!("probes {p}")))
            .collect();
        let b = Built {
            method: "pgvector ivfflat (lists 100)",
            build: build_f,
            size: size_f,
            insert: ins_f,
        };
        sweep(
            &mut c,
            "ann_pgv",
            "vector",
            &ann,
            nq,
            &b,
            "ivfflat.probes",
            &settings,
        );
        c.batch_execute("SET ivfflat.probes = 32").unwrap();
        c.batch_execute("SET ivfflat.iterative_scan = relaxed_order")
            .unwrap();
        let (f10_flat, f100_flat) = filtered::run(&mut c, "ann_pgv", "vector", &ann, &truth);
        c.batch_execute(
            "RESET ivfflat.probes; RESET ivfflat.iterative_scan; DROP INDEX ann_ivfflat",
        )
        .unwrap();

        pg.build = timed(&mut c, "CREATE INDEX ann_hnsw ON ann_pgv USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)");
        pg.size = size_mib(&mut c, "ann_hnsw");
        pg.insert = insert_rate(&mut c, "vector", Some("CREATE INDEX ON {t} USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)"));
        let settings: Vec<(i32, String)> = [40, 80, 120, 160, 240]
            .into_iter()
            .map(|ef| (ef, format!("ef_search {ef}")))
            .collect();
        let b = Built {
            method: "pgvector hnsw (m 16, ef_construction 64)",
            build: pg.build,
            size: pg.size,
            insert: pg.insert,
        };
        pg.sweep = sweep(
            &mut c,
            "ann_pgv",
            "vector",
            &ann,
            nq,
            &b,
            "hnsw.ef_search",
            &settings,
        );
        println!();
        println!(
            "| method | setting | recall 10 % | unsorted | q/s | recall 1 % | unsorted | q/s |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|");
        filtered::row(
            "pgvector ivfflat (lists 100)",
            "probes 32, iterative_scan relaxed_order",
            &f10_flat,
            &f100_flat,
        );
        for (label, set) in [
            (
                "ef_search 40, iterative_scan strict_order",
                "SET hnsw.iterative_scan = strict_order",
            ),
            (
                "ef_search 40, iterative_scan relaxed_order",
                "SET hnsw.iterative_scan = relaxed_order",
            ),
        ] {
            c.batch_execute(set).unwrap();
            let (a, b) = filtered::run(&mut c, "ann_pgv", "vector", &ann, &truth);
            filtered::row("pgvector hnsw", label, &a, &b);
            pg.f10.push((label.into(), a, b));
        }
        c.batch_execute("RESET hnsw.iterative_scan; DROP INDEX ann_hnsw")
            .unwrap();
        pg.grown = Some(growth::run(
            &mut c,
            "vector",
            "hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)",
            &ann,
        ));
    } else {
        println!();
        println!("(pgvector is not installed in this cluster: no pgvector rows)");
    }
    summary(&cv, pgv.then_some(&pg));
}

fn summary(cv: &Side, pg: Option<&Side>) {
    println!();
    println!("## Summary (issue #14's layout; same server, same run)");
    println!();
    println!("| | codevec ivf | pgvector | codevec / pgvector |");
    println!("|---|---|---|---:|");
    let fmt = |b: &Option<(String, Run)>| match b {
        Some((s, r)) => format!("{s}: {:.3} → {:.0} q/s", r.recall, r.qps),
        None => "not reached".into(),
    };
    for target in [0.95, 0.97, 0.985] {
        let a = best_at(&cv.sweep, target);
        let b = pg.and_then(|p| best_at(&p.sweep, target));
        let ratio = match (&a, &b) {
            (Some(a), Some(b)) => format!("{:.2}×", a.1.qps / b.1.qps),
            _ => "–".into(),
        };
        println!(
            "| recall@10 ≥ {target}, best q/s (hnsw) | {} | {} | {ratio} |",
            fmt(&a),
            if pg.is_some() { fmt(&b) } else { "–".into() }
        );
    }
    let f = |s: &Side, i: usize| {
        s.f10.get(i).map(|(l, a, b)| {
            (
                format!(
                    "{l}: 10 % {:.3}, {} unsorted, {:.0} q/s; 1 % {:.3}, {} unsorted, {:.0} q/s",
                    a.recall, a.unsorted, a.qps, b.recall, b.unsorted, b.qps
                ),
                a.qps,
            )
        })
    };
    if let Some((a, qa)) = f(cv, 0) {
        let b = pg.and_then(|p| f(p, 0));
        println!(
            "| filtered, defaults vs hnsw strict_order | {a} | {} | {} |",
            b.as_ref().map_or("–".into(), |x| x.0.clone()),
            b.as_ref()
                .map_or("–".into(), |x| format!("{:.2}× (10 %)", qa / x.1))
        );
    }
    let g = |s: &Side| {
        s.grown.map(|(a, b, r)| {
            format!(
                "{:.3} grown vs {:.3} after REINDEX; inserts {r:.0} rows/s",
                a.recall, b.recall
            )
        })
    };
    println!(
        "| built on 20 %, 80 % inserted after | {} | {} | |",
        g(cv).unwrap_or_default(),
        pg.and_then(g).unwrap_or("–".into())
    );
    println!(
        "| exact scan, no index | {:.1} ms | {} | {} |",
        1000.0 / cv.exact.qps,
        pg.map_or("–".into(), |p| format!("{:.1} ms", 1000.0 / p.exact.qps)),
        pg.map_or("–".into(), |p| format!(
            "{:.2}× (speed)",
            cv.exact.qps / p.exact.qps
        ))
    );
    if let Some(p) = pg {
        println!(
            "| build / size / insert vs hnsw | {:.1} s / {:.0} MiB / {:.0} rows/s | {:.1} s / {:.0} MiB / {:.0} rows/s | build {:.3}×, insert {:.1}× |",
            cv.build, cv.size, cv.insert, p.build, p.size, p.insert, cv.build / p.build, cv.insert / p.insert
        );
    }
}
