//! Exact top-10 by sequential scan, ms per query.

use crate::data::{copy_text, to_text, unit_vectors};
use crate::{client, pgvector_available};
use std::time::Instant;

const DIMS: usize = 384;

fn time_queries(
    c: &mut postgres::Client,
    table: &str,
    ty: &str,
    op: &str,
    queries: &[Vec<f32>],
) -> f64 {
    let sql = format!("SELECT id FROM {table} ORDER BY v {op} (SELECT $1::text::{ty}) LIMIT 10");
    let stmt = c.prepare(&sql).unwrap();
    c.query(&stmt, &[&to_text(&queries[0])]).unwrap(); // warm the cache
    let t = Instant::now();
    for q in queries {
        let rows = c.query(&stmt, &[&to_text(q)]).unwrap();
        assert_eq!(rows.len(), 10);
    }
    t.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64
}

/// Load `rows` vectors into codevec (and pgvector when present) tables and time queries.
pub fn run(rows: usize, nq: usize) {
    let mut c = client();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS codevec")
        .unwrap();
    let data = unit_vectors(rows, DIMS, 42);
    let queries = unit_vectors(nq, DIMS, 4242);
    let mut tables = vec![("bench_emb", "embedding"), ("bench_half", "halfembedding")];
    let pgv = pgvector_available(&mut c);
    if pgv {
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .unwrap();
        tables.push(("bench_pgvector", "vector"));
    }
    for (table, ty) in &tables {
        c.batch_execute(&format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, v {ty}({DIMS}))")).unwrap();
        copy_text(&mut c, table, &data);
        c.batch_execute(&format!("VACUUM ANALYZE {table}")).unwrap();
    }
    c.batch_execute("SET max_parallel_workers_per_gather = 0")
        .unwrap();
    println!("exact ORDER BY v <op> q LIMIT 10 over {rows} rows of {DIMS}-d, one client, no parallel workers, {nq} queries each");
    println!("| type | op | ms/query | queries/s | vs embedding <=> |");
    println!("|---|---|---:|---:|---:|");
    let mut base = 0.0;
    for (table, ty) in &tables {
        for op in ["<=>", "<->", "<#>"] {
            let ms = time_queries(
                &mut c,
                table,
                if *ty == "vector" { "vector" } else { ty },
                op,
                &queries,
            );
            if *table == "bench_emb" && op == "<=>" {
                base = ms;
            }
            println!(
                "| {ty} | {op} | {ms:.1} | {:.1} | {:.2}x |",
                1000.0 / ms,
                base / ms
            );
        }
    }
    if !pgv {
        println!("(pgvector not installed locally: no side-by-side row)");
    }
}
