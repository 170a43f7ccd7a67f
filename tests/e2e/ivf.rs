//! The ivf index access method against the shared test cluster: recall after build, inserts
//! and vacuum; exact order with exact distances; filtered LIMIT completeness; cursors;
//! empty index then inserts; REINDEX; both element types and all metrics; concurrent
//! inserts while scanning.

use crate::common::{client, column, Rng};
use postgres::Client;

/// `n` clustered points: `clusters` random centres in [-1, 1)^dim plus noise of `spread`.
pub fn clustered(seed: u64, n: usize, dim: usize, clusters: usize, spread: f32) -> Vec<Vec<f32>> {
    let mut r = Rng(seed | 1);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| (0..dim).map(|_| r.f32(1.0)).collect())
        .collect();
    (0..n)
        .map(|i| {
            let c = &centres[(r.next_u64() as usize + i) % clusters];
            c.iter().map(|&x| x + r.f32(spread)).collect()
        })
        .collect()
}

/// `[a,b,…]` text of a vector.
pub fn lit(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    format!("[{}]", parts.join(","))
}

/// Inserts `rows` as (id, tag = id % 50, v) starting at id `first`, in one COPY-like batch.
pub fn insert_rows(c: &mut Client, table: &str, first: usize, rows: &[Vec<f32>]) {
    for chunk in rows.chunks(500).enumerate() {
        let (ci, chunk) = chunk;
        let values: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let id = first + ci * 500 + j;
                format!("({id}, {}, '{}')", id % 50, lit(v))
            })
            .collect();
        c.batch_execute(&format!(
            "INSERT INTO {table} (id, tag, v) VALUES {}",
            values.join(",")
        ))
        .unwrap();
    }
}

/// Top-`k` `(id, distance)` by `op`, through the index (`true`) or an exact scan.
// Every parameter is a different part of the query; the 16 call sites read as the SQL.
#[allow(clippy::too_many_arguments)]
pub fn topk(
    c: &mut Client,
    table: &str,
    op: &str,
    typ: &str,
    q: &[f32],
    k: usize,
    index: bool,
    filter: &str,
) -> Vec<(i32, f64)> {
    let mut tx = c.transaction().unwrap();
    if index {
        tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
            .unwrap();
    } else {
        tx.batch_execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
            .unwrap();
    }
    let sql = format!(
        "SELECT id, (v {op} '{q}'::{typ})::float8 FROM {table} {filter} ORDER BY v {op} '{q}'::{typ} LIMIT {k}",
        q = lit(q)
    );
    let plan: Vec<String> = column(&mut tx, &format!("EXPLAIN (COSTS OFF) {sql}"));
    let uses_index = plan.iter().any(|l| l.contains("Index Scan"));
    assert_eq!(uses_index, index, "plan {plan:?}");
    let rows = tx
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    tx.commit().unwrap();
    rows
}

/// Runs `f` with `codevec.iterative_scan = relaxed_order`: the completeness checks (every
/// row reachable) are properties of relaxed order; strict order may leave rows out rather
/// than return them out of order (docs/ivf.md).
pub fn relaxed<T>(c: &mut Client, f: impl FnOnce(&mut Client) -> T) -> T {
    c.batch_execute("SET codevec.iterative_scan = relaxed_order")
        .unwrap();
    let r = f(c);
    c.batch_execute("RESET codevec.iterative_scan").unwrap();
    r
}

/// Mean recall@k of the index over the given queries (ids of exact top-k found by the index).
pub fn recall(c: &mut Client, table: &str, op: &str, queries: &[Vec<f32>], k: usize) -> f64 {
    let mut sum = 0.0;
    for q in queries {
        let exact: std::collections::HashSet<i32> =
            topk(c, table, op, "embedding", q, k, false, "")
                .iter()
                .map(|r| r.0)
                .collect();
        let got = topk(c, table, op, "embedding", q, k, true, "");
        assert!(
            got.windows(2).all(|w| w[0].1 <= w[1].1),
            "index results out of order: {got:?}"
        );
        sum +=
            got.iter().filter(|r| exact.contains(&r.0)).count() as f64 / exact.len().max(1) as f64;
    }
    sum / queries.len() as f64
}

fn setup(c: &mut Client, table: &str, typ: &str) {
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, tag int, v {typ})"
    ))
    .unwrap();
}

#[test]
fn ivf_recall_after_build_insert_and_vacuum() {
    let mut c = client();
    let t = "ivf_e2e_recall";
    setup(&mut c, t, "embedding(32)");
    let data = clustered(11, 8000, 32, 40, 0.35);
    insert_rows(&mut c, t, 0, &data[..4000]);
    c.batch_execute(&format!(
        "CREATE INDEX {t}_idx ON {t} USING ivf (v embedding_l2_ops)"
    ))
    .unwrap();
    let queries = clustered(99, 40, 32, 40, 0.35);
    let r1 = recall(&mut c, t, "<->", &queries, 10);
    assert!(r1 >= 0.95, "recall after build {r1}");
    insert_rows(&mut c, t, 4000, &data[4000..]);
    let r2 = recall(&mut c, t, "<->", &queries, 10);
    assert!(r2 >= 0.95, "recall after inserting as many rows again {r2}");
    c.batch_execute(&format!("DELETE FROM {t} WHERE id % 2 = 0"))
        .unwrap();
    c.batch_execute(&format!("VACUUM {t}")).unwrap();
    let r3 = recall(&mut c, t, "<->", &queries, 10);
    assert!(r3 >= 0.95, "recall after deleting half + VACUUM {r3}");
    // vacuum removed the dead entries: an unbounded index scan returns exactly the live rows
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .unwrap()
        .get(0);
    // every row is reachable in relaxed order (strict order may leave rows out rather than
    // return them out of order: see docs/ivf.md)
    let all = relaxed(&mut c, |c| {
        topk(c, t, "<->", "embedding", &queries[0], 100_000, true, "")
    });
    assert_eq!(all.len() as i64, n);
    // the recall self-check agrees
    let sc: f64 = c
        .query_one(
            &format!("SELECT codevec.index_recall('{t}_idx', 10, 30)"),
            &[],
        )
        .unwrap()
        .get(0);
    assert!(sc >= 0.9, "index_recall {sc}");
}

#[test]
fn ivf_exact_order_and_distances_all_metrics_and_types() {
    let mut c = client();
    for (typ, short) in [("embedding", "f"), ("halfembedding", "h")] {
        for (ops, op) in [("l2_ops", "<->"), ("cosine_ops", "<=>"), ("ip_ops", "<#>")] {
            let t = format!("ivf_e2e_order_{short}_{}", &ops[..2]);
            setup(&mut c, &t, &format!("{typ}(16)"));
            let mut data = clustered(5, 1500, 16, 12, 0.5);
            data[7] = vec![0.0; 16]; // a zero vector (cosine distance 1 to everything)
            insert_rows(&mut c, &t, 0, &data);
            c.batch_execute(&format!(
                "CREATE INDEX ON {t} USING ivf (v {typ}_{ops}) WITH (lists = 12)"
            ))
            .unwrap();
            // probe everything: the index must then return exactly the exact scan's rows, in
            // order, with exact distances (the executor rechecks the lower bounds)
            c.batch_execute("SET codevec.probes = 12; SET codevec.rerank = 2000")
                .unwrap();
            for q in clustered(77, 5, 16, 12, 0.5) {
                let exact = topk(&mut c, &t, op, typ, &q, 100, false, "");
                let got = topk(&mut c, &t, op, typ, &q, 100, true, "");
                let ed: Vec<f64> = exact.iter().map(|r| r.1).collect();
                let gd: Vec<f64> = got.iter().map(|r| r.1).collect();
                assert_eq!(gd, ed, "{typ} {ops}: distances differ");
            }
            c.batch_execute("RESET codevec.probes; RESET codevec.rerank")
                .unwrap();
        }
    }
}

#[test]
fn ivf_filtered_limit_is_complete() {
    let mut c = client();
    let t = "ivf_e2e_filter";
    setup(&mut c, t, "embedding(24)");
    let data = clustered(21, 6000, 24, 30, 0.3);
    insert_rows(&mut c, t, 0, &data);
    c.batch_execute(&format!(
        "CREATE INDEX ON {t} USING ivf (v embedding_l2_ops)"
    ))
    .unwrap();
    for probes in ["0", "1"] {
        c.batch_execute(&format!("SET codevec.probes = {probes}"))
            .unwrap();
        for q in clustered(31, 5, 24, 30, 0.3) {
            // tag = 7 keeps 2% of the rows, 120 of them
            let got = topk(&mut c, t, "<->", "embedding", &q, 10, true, "WHERE tag = 7");
            assert_eq!(
                got.len(),
                10,
                "filtered LIMIT 10 returned {} rows at probes {probes}",
                got.len()
            );
            // strict order (the default): sorted, and never more than the matching rows
            let strict = topk(
                &mut c,
                t,
                "<->",
                "embedding",
                &q,
                200,
                true,
                "WHERE tag = 7",
            );
            assert!(
                strict.windows(2).all(|w| w[0].1 <= w[1].1),
                "strict order is sorted"
            );
            // and it loses few rows: the scan reranks in the order of the estimates' lower
            // bounds and widens as the executor asks for more (was 10..120 before)
            assert!(
                strict.len() <= 120 && strict.len() >= 114,
                "strict order kept {} of the 120 matching rows at probes {probes}",
                strict.len()
            );
            // its LIMIT 10 is the exact filtered top 10 (seq scan, same session)
            let exact = topk(
                &mut c,
                t,
                "<->",
                "embedding",
                &q,
                10,
                false,
                "WHERE tag = 7",
            );
            let hits = got
                .iter()
                .filter(|g| exact.iter().any(|e| e.0 == g.0))
                .count();
            assert!(
                hits >= 9,
                "filtered strict LIMIT 10 recall {hits}/10 at probes {probes}"
            );
            let got = relaxed(&mut c, |c| {
                topk(c, t, "<->", "embedding", &q, 200, true, "WHERE tag = 7")
            });
            assert_eq!(
                got.len(),
                120,
                "every matching row is reachable in relaxed order"
            );
        }
    }
    // codevec.max_probes bounds the continuation
    c.batch_execute("SET codevec.probes = 1; SET codevec.max_probes = 1")
        .unwrap();
    let got = relaxed(&mut c, |c| {
        topk(c, t, "<->", "embedding", &data[0], 100_000, true, "")
    });
    assert!(
        got.len() < 6000 && !got.is_empty(),
        "max_probes = 1 read one list: {}",
        got.len()
    );
    c.batch_execute("RESET codevec.probes; RESET codevec.max_probes")
        .unwrap();
}

#[test]
fn ivf_cursor_without_limit_returns_every_row_once() {
    let mut c = client();
    let t = "ivf_e2e_cursor";
    setup(&mut c, t, "embedding(8)");
    insert_rows(&mut c, t, 0, &clustered(3, 3000, 8, 10, 0.4));
    c.batch_execute(&format!("INSERT INTO {t} VALUES (-1, 0, NULL); CREATE INDEX ON {t} USING ivf (v embedding_cosine_ops)")).unwrap();
    // strict order (the default): a cursor's rows come out sorted
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(&format!(
        "DECLARE scur CURSOR FOR SELECT v <=> '[1,0,0,0,0,0,0,1]' FROM {t} ORDER BY v <=> '[1,0,0,0,0,0,0,1]'"
    ))
    .unwrap();
    let mut last = f64::NEG_INFINITY;
    let mut strict_rows = 0;
    loop {
        let rows = tx.query("FETCH 100 FROM scur", &[]).unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let d: f64 = r.get(0);
            assert!(d >= last, "strict cursor out of order: {d} after {last}");
            last = d;
            strict_rows += 1;
        }
    }
    // nearly every row (was > 100 before the ordered scan reranked by estimate bounds)
    assert!(
        strict_rows >= 2850,
        "strict cursor returned {strict_rows} of 3000 rows"
    );
    tx.commit().unwrap();
    // relaxed order: every row exactly once
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL codevec.iterative_scan = relaxed_order")
        .unwrap();
    tx.batch_execute(&format!(
        "DECLARE cur CURSOR FOR SELECT id FROM {t} ORDER BY v <=> '[1,0,0,0,0,0,0,1]'"
    ))
    .unwrap();
    let plan: Vec<String> = column(&mut tx, &format!("EXPLAIN (COSTS OFF) DECLARE x CURSOR FOR SELECT id FROM {t} ORDER BY v <=> '[1,0,0,0,0,0,0,1]'"));
    assert!(
        plan.iter().any(|l| l.contains("Index Scan")),
        "cursor plan {plan:?}"
    );
    let mut seen = std::collections::HashSet::new();
    loop {
        let rows = tx.query("FETCH 100 FROM cur", &[]).unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert!(seen.insert(r.get::<_, i32>(0)), "row returned twice");
        }
    }
    // NULL vectors are not indexed; the executor appends nothing for them in an index scan
    assert_eq!(seen.len(), 3000);
}

#[test]
fn ivf_empty_index_then_inserts_and_reindex() {
    let mut c = client();
    let t = "ivf_e2e_empty";
    setup(&mut c, t, "embedding");
    c.batch_execute(&format!(
        "CREATE INDEX {t}_idx ON {t} USING ivf (v embedding_ip_ops)"
    ))
    .unwrap();
    let none = topk(
        &mut c,
        t,
        "<#>",
        "embedding",
        &[1.0, 2.0, 3.0, 4.0],
        5,
        true,
        "",
    );
    assert!(none.is_empty());
    let data = clustered(8, 2000, 4, 8, 0.5);
    insert_rows(&mut c, t, 0, &data);
    // one list (trained by the first insert); reranking every row makes the index exact
    c.batch_execute("SET codevec.rerank = 100000").unwrap();
    for q in clustered(9, 5, 4, 8, 0.5) {
        let e = topk(&mut c, t, "<#>", "embedding", &q, 20, false, "");
        let g = topk(&mut c, t, "<#>", "embedding", &q, 20, true, "");
        assert_eq!(
            g.iter().map(|r| r.1).collect::<Vec<_>>(),
            e.iter().map(|r| r.1).collect::<Vec<_>>()
        );
    }
    c.batch_execute("RESET codevec.rerank").unwrap();
    // mixed dimensions are refused with 22000
    let err = c
        .batch_execute(&format!("INSERT INTO {t} VALUES (99999, 0, '[1,2,3]')"))
        .unwrap_err();
    assert_eq!(crate::common::sqlstate(&err), "22000");
    // REINDEX trains round(sqrt(2000)) = 45 lists; results still good
    c.batch_execute(&format!("REINDEX INDEX {t}_idx")).unwrap();
    let size: i64 = c
        .query_one(&format!("SELECT pg_relation_size('{t}_idx')"), &[])
        .unwrap()
        .get(0);
    assert!(size > 8192 * 10);
    let q = clustered(9, 20, 4, 8, 0.5);
    let mut hits = 0.0;
    for q in &q {
        let e: std::collections::HashSet<i32> =
            topk(&mut c, t, "<#>", "embedding", q, 10, false, "")
                .iter()
                .map(|r| r.0)
                .collect();
        let g = topk(&mut c, t, "<#>", "embedding", q, 10, true, "");
        hits += g.iter().filter(|r| e.contains(&r.0)).count() as f64 / 10.0;
    }
    assert!(
        hits / q.len() as f64 >= 0.9,
        "recall after REINDEX {}",
        hits / q.len() as f64
    );
    c.batch_execute(&format!("REINDEX INDEX CONCURRENTLY {t}_idx"))
        .unwrap();
}

#[test]
fn ivf_concurrent_inserts_while_scanning() {
    let mut c = client();
    let t = "ivf_e2e_conc";
    setup(&mut c, t, "embedding(16)");
    insert_rows(&mut c, t, 0, &clustered(41, 2000, 16, 10, 0.4));
    c.batch_execute(&format!(
        "CREATE INDEX ON {t} USING ivf (v embedding_l2_ops) WITH (lists = 10)"
    ))
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = vec![];
    for w in 0..3usize {
        handles.push(std::thread::spawn(move || {
            let mut c = client();
            let data = clustered(100 + w as u64, 1500, 16, 10, 0.4);
            for (i, v) in data.iter().enumerate() {
                let id = 10_000 + w * 10_000 + i;
                c.batch_execute(&format!("INSERT INTO {t} VALUES ({id}, 0, '{}')", lit(v)))
                    .unwrap();
            }
        }));
    }
    let mut scanners = vec![];
    for s in 0..2u64 {
        let stop = stop.clone();
        scanners.push(std::thread::spawn(move || {
            let mut c = client();
            let qs = clustered(500 + s, 50, 16, 10, 0.4);
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let q = &qs[n % qs.len()];
                let got = topk(&mut c, t, "<->", "embedding", q, 20, true, "");
                assert_eq!(got.len(), 20);
                assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
                n += 1;
            }
            n
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in scanners {
        assert!(s.join().unwrap() > 0);
    }
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2000 + 3 * 1500);
    let all = relaxed(&mut c, |c| {
        topk(c, t, "<->", "embedding", &[0.0; 16], 100_000, true, "")
    });
    assert_eq!(
        all.len() as i64,
        n,
        "every inserted row is reachable through the index"
    );
}

#[test]
fn ivf_build_is_cancelled_by_statement_timeout() {
    let mut c = client();
    c.batch_execute(
        "DROP TABLE IF EXISTS ivf_cancel; CREATE TABLE ivf_cancel (id int, v embedding(384));
         INSERT INTO ivf_cancel SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 384) WHERE i > 0)::real[]
         FROM generate_series(1, 40000) i",
    )
    .unwrap();
    c.batch_execute("SET maintenance_work_mem = '512MB'; SET statement_timeout = '500ms'")
        .unwrap();
    let t = std::time::Instant::now();
    let e = c
        .batch_execute("CREATE INDEX ivf_cancel_idx ON ivf_cancel USING ivf (v embedding_l2_ops) WITH (lists = 2000)")
        .expect_err("k-means over 40,000 x 384 with 2,000 lists takes far longer than 500 ms");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(crate::common::sqlstate(&e), "57014", "{e}");
    assert!(
        secs < 3.0,
        "build cancelled after {secs:.2} s (timeout 0.5 s)"
    );
    c.batch_execute("RESET statement_timeout; RESET maintenance_work_mem")
        .unwrap();
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'ivf_cancel_idx'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "no index left behind");
    c.batch_execute("DROP TABLE ivf_cancel").unwrap();
}
