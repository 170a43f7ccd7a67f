//! Regression tests of the hardening review (issue #10) that need a real server process:
//! an unlogged index across a crash and a promotion (item 3), a corrupt page count (item 12),
//! memory of failed index builds (item 6), and the guard-rail load test: 8 clients mixing
//! writes, ordered and filtered scans and VACUUM, then the same load ended by kill -9.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use crate::common::{client, column, sqlstate, Rng};
use crate::ivf::{clustered, lit};
use crate::ivf_cluster::{as_pg, base_port, Cluster};

fn promote(c: &Cluster) {
    let out = as_pg(
        "pg_ctl",
        &["-D", c.dir.join("data").to_str().unwrap(), "-w", "promote"],
    );
    assert!(
        out.status.success(),
        "pg_ctl promote: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rows of `SELECT id …` as i64.
fn ids(c: &mut Client, sql: &str) -> Vec<i64> {
    c.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .collect()
}

#[test]
fn unlogged_ivf_index_survives_a_crash_and_a_promotion() {
    let port = base_port() + 3;
    let primary = Cluster::fresh("unlogged", port);
    let mut c = primary.client();
    c.batch_execute(
        "CREATE EXTENSION codevec;
         CREATE UNLOGGED TABLE u (id bigint, v embedding(3));
         CREATE INDEX u_idx ON u USING ivf (v embedding_l2_ops);
         INSERT INTO u VALUES (1, '[1,2,3]');",
    )
    .unwrap();
    // a standby made now has the init fork only through WAL
    let standby = Cluster::standby_of(&primary, "unlogged-standby", port + 1);
    drop(c);
    // crash before any checkpoint: the init fork must come back from WAL
    primary.crash();
    primary.start();
    let mut c = primary.client();
    let n: i64 = c.query_one("SELECT count(*) FROM u", &[]).unwrap().get(0);
    assert_eq!(n, 0, "an unlogged table is empty after a crash");
    c.batch_execute("INSERT INTO u VALUES (2, '[1,2,3]'), (3, '[3,2,1]')")
        .unwrap();
    c.batch_execute("SET enable_seqscan = off").unwrap();
    assert_eq!(
        ids(&mut c, "SELECT id FROM u ORDER BY v <-> '[3,2,1]' LIMIT 2"),
        vec![3, 2]
    );
    // the promoted standby: its unlogged relations start from their init forks
    promote(&standby);
    let mut s = standby.client();
    for _ in 0..100 {
        let rec: bool = s
            .query_one("SELECT pg_is_in_recovery()", &[])
            .unwrap()
            .get(0);
        if !rec {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    s.batch_execute("INSERT INTO u VALUES (4, '[0,0,1]'), (5, '[1,0,0]')")
        .unwrap_or_else(|e| panic!("insert on the promoted standby: {e}\n{}", standby.log()));
    s.batch_execute("SET enable_seqscan = off").unwrap();
    assert_eq!(
        ids(&mut s, "SELECT id FROM u ORDER BY v <-> '[1,0,0]' LIMIT 1"),
        vec![5]
    );
}

#[test]
fn a_corrupt_page_count_is_an_index_corrupted_error() {
    let port = base_port() + 5;
    let pg = Cluster::fresh("corrupt", port);
    let mut c = pg.client();
    c.batch_execute(
        "CREATE EXTENSION codevec;
         CREATE TABLE k (id bigint, v embedding(4));
         INSERT INTO k SELECT i, ARRAY[sin(i), cos(i), i % 3, 1]::real[]::embedding FROM generate_series(1, 500) i;
         CREATE INDEX k_idx ON k USING ivf (v embedding_l2_ops) WITH (lists = 2);
         CHECKPOINT;",
    )
    .unwrap();
    let path: String = c
        .query_one("SELECT pg_relation_filepath('k_idx')", &[])
        .unwrap()
        .get(0);
    drop(c);
    let out = as_pg(
        "pg_ctl",
        &["-D", pg.dir.join("data").to_str().unwrap(), "-w", "stop"],
    );
    assert!(out.status.success());
    // every code page (kind 4 in the special area's bytes 4..6) gets count 65535
    let file = pg.dir.join("data").join(path);
    let mut bytes = std::fs::read(&file).unwrap();
    let mut hit = 0;
    for page in bytes.chunks_mut(8192) {
        let sp = 8192 - 8;
        if u16::from_ne_bytes([page[sp + 4], page[sp + 5]]) == 4 {
            page[sp + 6] = 0xff;
            page[sp + 7] = 0xff;
            hit += 1;
        }
    }
    assert!(hit > 0, "found code pages to corrupt");
    // page checksums are off in these clusters (initdb default), so the page is read as is
    std::fs::write(&file, &bytes).unwrap();
    pg.start();
    let mut c = pg.client();
    c.batch_execute("SET enable_seqscan = off").unwrap();
    let e = c
        .query("SELECT id FROM k ORDER BY v <-> '[0,0,0,1]' LIMIT 3", &[])
        .expect_err("a corrupt count must be an error");
    assert_eq!(sqlstate(&e), "XX002", "{e}");
    let msg = e.as_db_error().map(|d| d.message().to_string()).unwrap();
    assert!(msg.contains("entries"), "{msg}");
    let e = c
        .batch_execute("INSERT INTO k VALUES (9999, '[1,1,1,1]')")
        .expect_err("insert into a corrupt list");
    assert_eq!(sqlstate(&e), "XX002", "{e}");
    // the server is still up and answers
    let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

/// A `kB` field of `/proc/<pid>/status` (VmData, VmHWM, ...) of a backend.
fn proc_status_kb(pid: i32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn failed_index_builds_free_their_memory() {
    let mut c = client();
    c.batch_execute(
        "DROP TABLE IF EXISTS leak;
         CREATE TABLE leak (v embedding);
         INSERT INTO leak SELECT array_fill(0.5::real, ARRAY[256])::embedding FROM generate_series(1, 30000);
         INSERT INTO leak VALUES ('[1,2]');",
    )
    .unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let mut sizes = vec![];
    for _ in 0..6 {
        let e = c
            .batch_execute("CREATE INDEX ON leak USING ivf (v embedding_l2_ops)")
            .expect_err("mixed dimensions");
        assert_eq!(sqlstate(&e), "22000", "{e}");
        sizes.push(proc_status_kb(pid, "VmData"));
    }
    // each failed build collected ~30 MB in Rust vectors; none of it may stay behind
    let growth = sizes[5] as i64 - sizes[0] as i64;
    assert!(
        growth < 16 * 1024,
        "VmData grew by {growth} kB over 5 failed builds: {sizes:?}"
    );
    c.batch_execute("DROP TABLE leak").unwrap();
}

/// A query's distances are non-decreasing.
fn sorted(d: &[f64]) -> bool {
    d.windows(2).all(|w| w[0] <= w[1])
}

struct Load {
    conn: String,
    stop: Arc<AtomicBool>,
    errors: Arc<Mutex<Vec<String>>>,
    committed: Arc<Mutex<HashSet<i64>>>,
    /// Ids a DELETE was sent for: if the server dies before answering, the delete may
    /// or may not have committed.
    deleting: Arc<Mutex<HashSet<i64>>>,
    next_id: Arc<AtomicU64>,
    ops: Arc<AtomicU64>,
}

fn worker(l: &Load, seed: u64, vacuum: bool) {
    let mut c = Client::connect(&l.conn, NoTls).unwrap();
    let mut r = Rng(seed | 1);
    let dim = 16;
    let mut last_vacuum = Instant::now();
    while !l.stop.load(Ordering::Relaxed) {
        let q: Vec<f32> = (0..dim).map(|_| r.f32(1.5)).collect();
        let op = r.next_u64() % 10;
        let res: Result<(), postgres::Error> = (|| {
            match op {
                0..=2 => {
                    let id = l.next_id.fetch_add(1, Ordering::SeqCst) as i64;
                    c.execute(
                        &format!("INSERT INTO load (id, c, v) VALUES ($1, $2, '{}')", lit(&q)),
                        &[&id, &((id % 10) as i32)],
                    )?;
                    l.committed.lock().unwrap().insert(id);
                }
                3 => {
                    let id = (r.next_u64() % l.next_id.load(Ordering::SeqCst)) as i64;
                    c.execute(
                        &format!("UPDATE load SET v = '{}' WHERE id = $1", lit(&q)),
                        &[&id],
                    )?;
                }
                4 => {
                    let id = (r.next_u64() % l.next_id.load(Ordering::SeqCst)) as i64;
                    l.deleting.lock().unwrap().insert(id);
                    if c.execute("DELETE FROM load WHERE id = $1", &[&id])? > 0 {
                        l.committed.lock().unwrap().remove(&id);
                    }
                }
                5..=7 => {
                    let d: Vec<f64> = c
                        .query(
                            &format!(
                                "SELECT v <-> '{0}' FROM load ORDER BY v <-> '{0}' LIMIT 10",
                                lit(&q)
                            ),
                            &[],
                        )?
                        .iter()
                        .map(|row| row.get(0))
                        .collect();
                    if !sorted(&d) {
                        l.errors.lock().unwrap().push(format!("unsorted: {d:?}"));
                    }
                }
                _ => {
                    let k = (r.next_u64() % 10) as i32;
                    let d: Vec<f64> = c
                        .query(
                            &format!(
                                "SELECT v <-> '{0}' FROM load WHERE c = $1 ORDER BY v <-> '{0}' LIMIT 10",
                                lit(&q)
                            ),
                            &[&k],
                        )?
                        .iter()
                        .map(|row| row.get(0))
                        .collect();
                    if !sorted(&d) {
                        l.errors
                            .lock()
                            .unwrap()
                            .push(format!("unsorted filtered: {d:?}"));
                    }
                }
            }
            if vacuum && last_vacuum.elapsed() > Duration::from_secs(5) {
                c.batch_execute("VACUUM load")?;
                last_vacuum = Instant::now();
            }
            Ok(())
        })();
        match res {
            Ok(()) => {
                l.ops.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if l.stop.load(Ordering::Relaxed) {
                    return; // the server went away at the end of the crash phase
                }
                l.errors.lock().unwrap().push(format!("op {op}: {e}"));
            }
        }
    }
}

/// Every row of `load`, once, through an index scan that probes every list and reranks all.
fn index_ids(c: &mut Client) -> Vec<i64> {
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off;
         SET LOCAL codevec.probes = 32768; SET LOCAL codevec.rerank = 1000000",
    )
    .unwrap();
    let plan: Vec<String> = column(&mut tx, "EXPLAIN (COSTS OFF) SELECT id FROM load ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'");
    assert!(plan.iter().any(|l| l.contains("Index Scan")), "{plan:?}");
    let v: Vec<i64> = column(
        &mut tx,
        "SELECT id FROM load ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'",
    );
    tx.commit().unwrap();
    v
}

fn check_index_matches_table(c: &mut Client, what: &str) {
    let via_index = index_ids(c);
    let uniq: HashSet<i64> = via_index.iter().copied().collect();
    assert_eq!(
        uniq.len(),
        via_index.len(),
        "{what}: duplicates in the index scan"
    );
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
        .unwrap();
    let table: HashSet<i64> = column(&mut tx, "SELECT id FROM load");
    tx.commit().unwrap();
    assert_eq!(uniq, table, "{what}: index scan vs table");
}

fn run_load(pg: &Cluster, next_id: u64) -> (Load, Vec<std::thread::JoinHandle<()>>) {
    let load = Load {
        conn: format!(
            "host={} port={} user=postgres dbname=postgres",
            pg.dir.display(),
            pg.port
        ),
        stop: Arc::new(AtomicBool::new(false)),
        errors: Arc::new(Mutex::new(vec![])),
        committed: Arc::new(Mutex::new(HashSet::new())),
        deleting: Arc::new(Mutex::new(HashSet::new())),
        next_id: Arc::new(AtomicU64::new(next_id)),
        ops: Arc::new(AtomicU64::new(0)),
    };
    let mut hs = vec![];
    for t in 0..8u64 {
        let l = Load {
            conn: load.conn.clone(),
            stop: load.stop.clone(),
            errors: load.errors.clone(),
            committed: load.committed.clone(),
            deleting: load.deleting.clone(),
            next_id: load.next_id.clone(),
            ops: load.ops.clone(),
        };
        hs.push(std::thread::spawn(move || worker(&l, 1000 + t, t == 0)));
    }
    (load, hs)
}

#[test]
fn eight_clients_then_kill_9_lose_nothing() {
    let port = base_port() + 6;
    let pg = Cluster::fresh("load", port);
    let mut c = pg.client();
    c.batch_execute(
        "CREATE EXTENSION codevec;
         CREATE TABLE load (id bigint PRIMARY KEY, c int, v embedding(16));",
    )
    .unwrap();
    let data = clustered(91, 5000, 16, 30, 0.3);
    let values: Vec<String> = data
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, {}, '{}')", i % 10, lit(v)))
        .collect();
    c.batch_execute(&format!("INSERT INTO load VALUES {}", values.join(",")))
        .unwrap();
    c.batch_execute("CREATE INDEX load_idx ON load USING ivf (v embedding_l2_ops)")
        .unwrap();

    // phase 1: 60 s of mixed load, no errors, then the index holds exactly the live rows
    let secs: u64 = std::env::var("CODEVEC_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let (load, hs) = run_load(&pg, 5000);
    std::thread::sleep(Duration::from_secs(secs));
    load.stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.join().unwrap();
    }
    let errors = load.errors.lock().unwrap().clone();
    let ops = load.ops.load(Ordering::Relaxed);
    eprintln!(
        "load phase: {ops} operations by 8 clients in {secs} s, {} errors",
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "errors under load: {:?}",
        &errors[..errors.len().min(10)]
    );
    assert!(ops > 100, "the load ran ({ops} operations)");
    c.batch_execute("VACUUM load").unwrap();
    check_index_matches_table(&mut c, "after the load");
    let next = load.next_id.load(Ordering::SeqCst);
    drop(c);

    // phase 2: the same load, ended by kill -9 of the postmaster and its children
    let (load, hs) = run_load(&pg, next);
    std::thread::sleep(Duration::from_secs(8));
    pg.crash();
    load.stop.store(true, Ordering::Relaxed);
    for h in hs {
        let _ = h.join();
    }
    pg.start();
    let mut c = pg.client();
    let present: HashSet<i64> = ids(&mut c, "SELECT id FROM load").into_iter().collect();
    let acked = load.committed.lock().unwrap().clone();
    let deleting = load.deleting.lock().unwrap().clone();
    let lost: Vec<&i64> = acked
        .iter()
        .filter(|i| !present.contains(i) && !deleting.contains(i))
        .collect();
    assert!(
        acked.len() > 20,
        "inserts were acknowledged before the crash ({})",
        acked.len()
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged inserts lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    check_index_matches_table(&mut c, "after kill -9 and recovery");
    // and the index keeps taking writes
    c.batch_execute("INSERT INTO load VALUES (-1, 0, '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]')")
        .unwrap();
    c.batch_execute("SET enable_seqscan = off").unwrap();
    assert_eq!(
        ids(
            &mut c,
            "SELECT id FROM load ORDER BY v <-> '[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]' LIMIT 1"
        ),
        vec![-1]
    );
}

#[test]
fn one_long_word_is_fast_small_and_cancellable() {
    let mut c = client();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    // load the model first so that its memory is not counted below
    c.batch_execute("SELECT codevec.embed('warm up')").unwrap();
    let before = proc_status_kb(pid, "VmHWM");
    let t = Instant::now();
    let same: bool = c
        .query_one(
            "SELECT codevec.embed(repeat('a', 4000000)) = codevec.embed(repeat('a', 40000))",
            &[],
        )
        .unwrap()
        .get(0);
    let took = t.elapsed();
    assert!(
        same,
        "a 4 MB word embeds like its first 40 KB (256 word pieces)"
    );
    assert!(
        took < Duration::from_secs(2),
        "4 MB single word took {took:?}"
    );
    let grew = proc_status_kb(pid, "VmHWM").saturating_sub(before);
    // the 4 MB text itself is detoasted (twice: two calls); the tokenizer must not add ~57 B/byte
    assert!(grew < 64 * 1024, "peak RSS grew by {grew} kB");
    // 40 MB without a separator under a 500 ms statement_timeout ends quickly, either way
    c.batch_execute("SET statement_timeout = '500ms'").unwrap();
    let t = Instant::now();
    let r = c.query_one(
        "SELECT codevec.embed(repeat('ab', 20000000)) IS NOT NULL",
        &[],
    );
    let took = t.elapsed();
    if let Err(e) = &r {
        assert_eq!(sqlstate(e), "57014", "{e}");
    }
    assert!(
        took < Duration::from_secs(3),
        "40 MB word under a 500 ms timeout took {took:?}"
    );
    c.batch_execute("RESET statement_timeout").unwrap();
    let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

#[test]
fn errors_carry_no_rust_backtrace() {
    // scripts/test.sh starts the shared cluster with RUST_BACKTRACE=1 in its environment
    let mut c = client();
    let check = |c: &mut Client, sql: &str, code: &str| {
        let e = c.batch_execute(sql).expect_err(sql);
        assert_eq!(sqlstate(&e), code, "{sql}: {e}");
        let db = e.as_db_error().unwrap();
        let detail = db.detail().unwrap_or("");
        assert!(
            !detail.contains("backtrace") && !detail.contains("::") && !detail.contains(" 0: "),
            "{sql}: DETAIL leaks Rust internals: {detail}"
        );
    };
    check(&mut c, "SELECT '[1,2]'::embedding <-> '[1,2,3]'", "22000");
    check(&mut c, "SELECT codevec.embed('x', 'fp4')", "22023");
    check(&mut c, "SELECT '[1,,2]'::embedding", "22P02");
    c.batch_execute("SET statement_timeout = '50ms'").unwrap();
    check(
        &mut c,
        "SELECT codevec.embed_batch(array_agg(repeat('word ', 200))) FROM generate_series(1, 2000)",
        "57014",
    );
    c.batch_execute("RESET statement_timeout").unwrap();
}

/// Issue #10 item 16: a Rust allocation the backend cannot get must be an ERROR, never an
/// abort (an abort kills the backend and makes the postmaster restart the whole cluster).
/// A private cluster runs under `ulimit -v` a little above what a backend maps, then an
/// index build collects more vectors than fit under the cap.
#[test]
fn an_allocation_the_address_space_refuses_is_an_error_not_an_abort() {
    let pg = Cluster::fresh("oom", base_port() + 11);
    let mut c = pg.client();
    c.batch_execute(
        "CREATE EXTENSION codevec;
         CREATE TABLE oom (v embedding(384));
         INSERT INTO oom SELECT array_fill((i % 97)::real, ARRAY[384])::embedding
           FROM generate_series(1, 60000) i;",
    )
    .unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let mapped_kb = proc_status_kb(pid, "VmSize");
    drop(c);
    // restart with every process's address space capped 64 MB above a backend's: the
    // build's 92 MB of vectors cannot fit
    let out = pg.stop("fast");
    assert!(out.status.success(), "pg_ctl stop: {out:?}");
    pg.start_with_address_limit_kb(mapped_kb + 64 * 1024);
    let mut c = pg.client();
    let started: String = c
        .query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0);
    c.batch_execute("SET maintenance_work_mem = '1GB'").unwrap();
    let e = c
        .batch_execute("CREATE INDEX ON oom USING ivf (v embedding_l2_ops)")
        .expect_err("the build cannot get its memory");
    assert_eq!(sqlstate(&e), "53200", "{e}");
    // the backend is alive and usable, and the cluster did not restart
    let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    let mut other = pg.client();
    let now: String = other
        .query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(started, now, "the cluster restarted: {}", pg.log());
}
