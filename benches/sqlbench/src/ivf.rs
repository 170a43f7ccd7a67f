//! `codevec-sqlbench ivf [ann_dir]`: the ivf index on the shared real data set (50,000
//! 384-d code embeddings, 500 queries, exact top-100 ground truth, cosine): build time, index
//! size, insert throughput into an indexed table, recall@10 vs queries/s at several probe
//! settings — next to an exact scan measured in the same run, and next to pgvector ivfflat
//! (lists = 100) and hnsw (m = 16, ef_construction = 64) when pgvector is installed in the
//! cluster (skipped otherwise).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use codevec_ivf::npy;
use postgres::Client;

use crate::data::{copy_text, to_text};
use crate::{client, pgvector_available};

struct Ann {
    docs: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
    gt: Vec<Vec<i32>>,
}

fn load(dir: &Path) -> Ann {
    let d = npy::read::<f32>(&dir.join("docs.f32.npy")).expect("docs.f32.npy");
    let q = npy::read::<f32>(&dir.join("queries.f32.npy")).expect("queries.f32.npy");
    let g = npy::read::<i32>(&dir.join("gt.i32.npy")).expect("gt.i32.npy");
    Ann {
        docs: (0..d.rows()).map(|i| d.row(i).to_vec()).collect(),
        queries: (0..q.rows()).map(|i| q.row(i).to_vec()).collect(),
        gt: (0..g.rows()).map(|i| g.row(i).to_vec()).collect(),
    }
}

/// recall@10 and queries/s of `ORDER BY v <=> q LIMIT 10` over `queries` (one client).
fn measure(c: &mut Client, table: &str, ty: &str, ann: &Ann, nq: usize) -> (f64, f64) {
    let stmt = c
        .prepare(&format!(
            "SELECT id FROM {table} ORDER BY v <=> $1::text::{ty} LIMIT 10"
        ))
        .unwrap();
    let texts: Vec<String> = ann.queries[..nq].iter().map(|q| to_text(q)).collect();
    // warm-up: the same queries once (page cache, buffers), untimed
    for q in texts.iter().take(100) {
        c.query(&stmt, &[q]).unwrap();
    }
    let t = Instant::now();
    let mut hits = 0usize;
    for (i, q) in texts.iter().enumerate() {
        let rows = c.query(&stmt, &[q]).unwrap();
        let gt: HashSet<i32> = ann.gt[i][..10].iter().copied().collect();
        hits += rows
            .iter()
            .filter(|r| gt.contains(&r.get::<_, i32>(0)))
            .count();
    }
    let secs = t.elapsed().as_secs_f64();
    (hits as f64 / (10 * nq) as f64, nq as f64 / secs)
}

fn size_mib(c: &mut Client, rel: &str) -> f64 {
    let b: i64 = c
        .query_one(&format!("SELECT pg_relation_size('{rel}')"), &[])
        .unwrap()
        .get(0);
    b as f64 / (1 << 20) as f64
}

fn timed(c: &mut Client, sql: &str) -> f64 {
    let t = Instant::now();
    c.batch_execute(sql).unwrap();
    t.elapsed().as_secs_f64()
}

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

/// Run the benchmark.
pub fn run(dir: PathBuf) {
    let ann = load(&dir);
    let n = ann.docs.len();
    let nq = ann.queries.len();
    let mut c = client();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS codevec; SET maintenance_work_mem = '1GB'; SET max_parallel_workers_per_gather = 0").unwrap();
    c.batch_execute("DROP TABLE IF EXISTS ann_docs; CREATE TABLE ann_docs (id int PRIMARY KEY, v embedding(384))").unwrap();
    copy_text(&mut c, "ann_docs", &ann.docs);
    c.batch_execute("VACUUM ANALYZE ann_docs").unwrap();
    println!("ivf on {} ({n} × 384, {nq} queries, cosine, recall@10 against gt.i32.npy), one client, no parallel workers", dir.display());
    println!();
    println!("| method | build s | size MiB | insert rows/s | setting | recall@10 | queries/s |");
    println!("|---|---:|---:|---:|---|---:|---:|");
    let table_mib = size_mib(&mut c, "ann_docs");
    let exact_nq = nq.min(100);
    c.batch_execute("SET enable_indexscan = off").unwrap();
    let (r, qps_exact) = measure(&mut c, "ann_docs", "embedding", &ann, exact_nq);
    c.batch_execute("RESET enable_indexscan").unwrap();
    let ins_none = insert_rate(&mut c, "embedding", None);
    println!("| exact scan (no index) | – | {table_mib:.0} (table) | {ins_none:.0} | {exact_nq} queries | {r:.3} | {qps_exact:.1} |");

    let build = timed(
        &mut c,
        "CREATE INDEX ann_ivf ON ann_docs USING ivf (v embedding_cosine_ops)",
    );
    let size = size_mib(&mut c, "ann_ivf");
    let ins = insert_rate(
        &mut c,
        "embedding",
        Some("CREATE INDEX ON {t} USING ivf (v embedding_cosine_ops)"),
    );
    let lists: i64 = c
        .query_one("SELECT round(sqrt(count(*)))::bigint FROM ann_docs", &[])
        .unwrap()
        .get(0);
    let mut ivf_rows = vec![];
    for probes in [10, 20, 40, 0, 110] {
        c.batch_execute(&format!("SET codevec.probes = {probes}"))
            .unwrap();
        let (r, qps) = measure(&mut c, "ann_docs", "embedding", &ann, nq);
        let label = if probes == 0 {
            format!(
                "probes default ({})",
                codevec_ivf::defaults::nprobe_for_lists(lists as usize)
            )
        } else {
            format!("probes {probes}")
        };
        println!(
            "| codevec ivf (lists {lists}) | {build:.1} | {size:.0} | {ins:.0} | {label} | {r:.3} | {qps:.0} ({:.0}× exact) |",
            qps / qps_exact
        );
        ivf_rows.push((r, qps));
    }
    c.batch_execute("RESET codevec.probes; DROP INDEX ann_ivf")
        .unwrap();

    if !pgvector_available(&mut c) {
        println!();
        println!("(pgvector is not installed in this cluster: no ivfflat / hnsw rows)");
        return;
    }
    c.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS vector; DROP TABLE IF EXISTS ann_pgv;
         CREATE TABLE ann_pgv (id int PRIMARY KEY, v vector(384));
         INSERT INTO ann_pgv SELECT id, v::text::vector FROM ann_docs",
    )
    .unwrap();
    c.batch_execute("VACUUM ANALYZE ann_pgv").unwrap();
    let best = |name: &str, rows: &[(f64, f64)]| -> Option<f64> {
        let q = rows
            .iter()
            .filter(|r| r.0 >= 0.95)
            .map(|r| r.1)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        if q.is_none() {
            println!("({name}: no setting reached recall@10 ≥ 0.95)");
        }
        q
    };
    let build_f = timed(&mut c, "CREATE INDEX ann_ivfflat ON ann_pgv USING ivfflat (v vector_cosine_ops) WITH (lists = 100)");
    let size_f = size_mib(&mut c, "ann_ivfflat");
    let ins_f = insert_rate(
        &mut c,
        "vector",
        Some("CREATE INDEX ON {t} USING ivfflat (v vector_cosine_ops) WITH (lists = 100)"),
    );
    let mut flat_rows = vec![];
    for p in [1, 16, 32] {
        c.batch_execute(&format!("SET ivfflat.probes = {p}"))
            .unwrap();
        let (r, qps) = measure(&mut c, "ann_pgv", "vector", &ann, nq);
        println!("| pgvector ivfflat (lists 100) | {build_f:.1} | {size_f:.0} | {ins_f:.0} | probes {p} | {r:.3} | {qps:.0} |");
        flat_rows.push((r, qps));
    }
    c.batch_execute("DROP INDEX ann_ivfflat").unwrap();
    let build_h = timed(&mut c, "CREATE INDEX ann_hnsw ON ann_pgv USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)");
    let size_h = size_mib(&mut c, "ann_hnsw");
    let ins_h = insert_rate(&mut c, "vector", Some("CREATE INDEX ON {t} USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)"));
    let mut hnsw_rows = vec![];
    for ef in [40, 80, 160] {
        c.batch_execute(&format!("SET hnsw.ef_search = {ef}"))
            .unwrap();
        let (r, qps) = measure(&mut c, "ann_pgv", "vector", &ann, nq);
        println!("| pgvector hnsw (m 16, ef_construction 64) | {build_h:.1} | {size_h:.0} | {ins_h:.0} | ef_search {ef} | {r:.3} | {qps:.0} |");
        hnsw_rows.push((r, qps));
    }
    println!();
    let (bi, bf, bh) = (
        best("ivf", &ivf_rows),
        best("ivfflat", &flat_rows),
        best("hnsw", &hnsw_rows),
    );
    if let (Some(i), Some(h)) = (bi, bh) {
        println!("at recall@10 ≥ 0.95: ivf {i:.0} q/s = {:.2}× hnsw", i / h);
    }
    if let (Some(i), Some(f)) = (bi, bf) {
        println!(
            "at recall@10 ≥ 0.95: ivf {i:.0} q/s = {:.2}× ivfflat",
            i / f
        );
    }
    println!("build: ivf {build:.1} s = {:.3}× hnsw; insert: ivf {ins:.0} rows/s = {:.1}× hnsw; size: ivf {size:.0} MiB = {:.2}× ivfflat", build / build_h, ins / ins_h, size / size_f);
}
