//! Tests that start their own clusters (as user `postgres`, unix socket only): crash
//! recovery of the ivf index (kill -9 of the postmaster during inserts, WAL replay) and a
//! streaming replica (pg_basebackup -R -X stream) that answers like the primary.
//! The server binaries come from `$PG_CONFIG --bindir` (scripts/test.sh sets PG_CONFIG).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::column;
use crate::ivf::{clustered, lit};
use postgres::{Client, NoTls};

pub(crate) fn bindir() -> PathBuf {
    let pg_config = std::env::var("PG_CONFIG").unwrap_or_else(|_| "pg_config".into());
    let out = Command::new(&pg_config)
        .arg("--bindir")
        .output()
        .expect("run pg_config");
    assert!(out.status.success(), "pg_config --bindir failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

pub(crate) fn base_port() -> u16 {
    std::env::var("CODEVEC_IVF_TEST_PORT_BASE")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(56170)
}

/// Runs a server binary as `postgres` when we are root.
pub(crate) fn as_pg(bin: &str, args: &[&str]) -> std::process::Output {
    let exe = bindir().join(bin);
    let is_root = unsafe_uid() == 0;
    let out = if is_root {
        Command::new("runuser")
            .arg("-u")
            .arg("postgres")
            .arg("--")
            .arg(&exe)
            .args(args)
            .output()
    } else {
        Command::new(&exe).args(args).output()
    }
    .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    out
}

fn unsafe_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A private cluster in `dir`, stopped (immediately) on drop.
pub(crate) struct Cluster {
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    /// extra `-c name=value` server settings
    pub(crate) settings: Vec<String>,
}

impl Cluster {
    pub(crate) fn fresh(name: &str, port: u16) -> Cluster {
        Cluster::fresh_with(name, port, &[])
    }

    pub(crate) fn fresh_with(name: &str, port: u16, settings: &[&str]) -> Cluster {
        let dir = std::env::temp_dir().join(format!("codevec-ivf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chown_pg(&dir);
        let data = dir.join("data");
        let out = as_pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--locale=C.UTF-8",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c = Cluster {
            dir,
            port,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        c.start();
        c
    }

    pub(crate) fn standby_of(primary: &Cluster, name: &str, port: u16) -> Cluster {
        let dir = std::env::temp_dir().join(format!("codevec-ivf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chown_pg(&dir);
        let data = dir.join("data");
        let out = as_pg(
            "pg_basebackup",
            &[
                "-h",
                primary.dir.to_str().unwrap(),
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
            ],
        );
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c = Cluster {
            dir,
            port,
            settings: primary.settings.clone(),
        };
        c.start();
        c
    }

    pub(crate) fn start(&self) {
        // autovacuum off: these tests VACUUM explicitly, and a background vacuum on the primary
        // would keep generating WAL while the standby is compared with it.
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses='' -c shared_buffers=64MB -c autovacuum=off",
            self.port,
            self.dir.display()
        );
        for s in &self.settings {
            opts.push_str(&format!(" -c {s}"));
        }
        let out = as_pg(
            "pg_ctl",
            &[
                "-D",
                self.dir.join("data").to_str().unwrap(),
                "-l",
                self.dir.join("log").to_str().unwrap(),
                "-w",
                "-t",
                "120",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// [`Cluster::start`] under `ulimit -v kb`: every server process inherits the cap on
    /// its address space.
    pub(crate) fn start_with_address_limit_kb(&self, kb: u64) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses='' -c shared_buffers=64MB -c autovacuum=off",
            self.port,
            self.dir.display()
        );
        let script = format!(
            "ulimit -v {kb} && exec '{}' -D '{}' -l '{}' -w -t 120 -o \"{opts}\" start",
            bindir().join("pg_ctl").display(),
            self.dir.join("data").display(),
            self.dir.join("log").display(),
        );
        let mut cmd = if unsafe_uid() == 0 {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        let out = cmd.output().expect("run sh");
        assert!(
            out.status.success(),
            "pg_ctl start under ulimit -v {kb}: {} {}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    pub(crate) fn client(&self) -> Client {
        Client::connect(
            &format!(
                "host={} port={} user=postgres dbname=postgres",
                self.dir.display(),
                self.port
            ),
            NoTls,
        )
        .expect("connect")
    }

    /// kill -9 the postmaster and every child it started (a crash: no shutdown checkpoint).
    pub(crate) fn crash(&self) {
        let pidfile =
            std::fs::read_to_string(self.dir.join("data/postmaster.pid")).expect("postmaster.pid");
        let pm: u32 = pidfile.lines().next().unwrap().trim().parse().unwrap();
        let children = children_of(pm);
        let mut all = vec![pm];
        all.extend(children);
        for p in &all {
            let _ = Command::new("kill").arg("-9").arg(p.to_string()).status();
        }
        // wait until they are gone
        for _ in 0..100 {
            if all
                .iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Cluster {
    /// `pg_ctl stop -m <mode>` (smart, fast or immediate), waiting up to 60 s.
    pub(crate) fn stop(&self, mode: &str) -> std::process::Output {
        as_pg(
            "pg_ctl",
            &[
                "-D",
                self.dir.join("data").to_str().unwrap(),
                "-m",
                mode,
                "-w",
                "-t",
                "60",
                "stop",
            ],
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn chown_pg(dir: &Path) {
    if unsafe_uid() == 0 {
        let st = Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            // pid (comm) state ppid ...
            if let Some(rest) = stat.rsplit(')').next() {
                let ppid: u32 = rest
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if ppid == pid {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Top-10 ids through the index with every list probed (so it must equal the exact scan).
fn index_top(c: &mut Client, q: &[f32], exact: bool) -> Vec<i32> {
    let mut tx = c.transaction().unwrap();
    if exact {
        tx.batch_execute("SET LOCAL enable_indexscan = off")
            .unwrap();
    } else {
        tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL codevec.probes = 32768; SET LOCAL codevec.rerank = 100000").unwrap();
    }
    let rows = column(
        &mut tx,
        &format!(
            "SELECT id FROM items ORDER BY v <-> '{}' , id LIMIT 10",
            lit(q)
        ),
    );
    tx.commit().unwrap();
    rows
}

fn distances(c: &mut Client, q: &[f32], exact: bool) -> Vec<f64> {
    let mut tx = c.transaction().unwrap();
    if exact {
        tx.batch_execute("SET LOCAL enable_indexscan = off")
            .unwrap();
    } else {
        tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off; SET LOCAL codevec.probes = 32768; SET LOCAL codevec.rerank = 100000").unwrap();
    }
    let rows = column(
        &mut tx,
        &format!(
            "SELECT (v <-> '{q}')::float8 FROM items ORDER BY v <-> '{q}' LIMIT 10",
            q = lit(q)
        ),
    );
    tx.commit().unwrap();
    rows
}

#[test]
fn ivf_crash_recovery_replays_the_index() {
    let port = base_port();
    let pg = Cluster::fresh("crash", port);
    let mut c = pg.client();
    c.batch_execute(
        "CREATE EXTENSION codevec; CREATE TABLE items (id int PRIMARY KEY, v embedding(16))",
    )
    .unwrap();
    let data = clustered(61, 20_000, 16, 20, 0.4);
    let values: Vec<String> = data[..2000]
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, '{}')", lit(v)))
        .collect();
    c.batch_execute(&format!("INSERT INTO items VALUES {}", values.join(",")))
        .unwrap();
    c.batch_execute("CREATE INDEX items_idx ON items USING ivf (v embedding_l2_ops) WITH (lists = 20); CHECKPOINT").unwrap();
    // inserts in small committed transactions until the crash
    let committed = Arc::new(AtomicUsize::new(2000));
    let stop = Arc::new(AtomicBool::new(false));
    let h = {
        let committed = committed.clone();
        let stop = stop.clone();
        let conn = format!(
            "host={} port={} user=postgres dbname=postgres",
            pg.dir.display(),
            port
        );
        let data = data.clone();
        std::thread::spawn(move || {
            let mut c = Client::connect(&conn, NoTls).unwrap();
            let mut i = 2000;
            while i + 10 <= data.len() && !stop.load(Ordering::Relaxed) {
                let vals: Vec<String> = (i..i + 10)
                    .map(|j| format!("({j}, '{}')", lit(&data[j])))
                    .collect();
                if c.batch_execute(&format!("INSERT INTO items VALUES {}", vals.join(",")))
                    .is_err()
                {
                    return;
                }
                i += 10;
                committed.store(i, Ordering::SeqCst);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let before = committed.load(Ordering::SeqCst);
    assert!(
        before > 2100,
        "inserts were running before the crash ({before})"
    );
    drop(c);
    pg.crash();
    stop.store(true, Ordering::Relaxed);
    let _ = h.join();
    let acked = committed.load(Ordering::SeqCst);
    pg.start();
    assert!(
        pg.log().contains("database system was interrupted") || pg.log().contains("redo starts"),
        "crash recovery ran"
    );
    let mut c = pg.client();
    let n: i64 = c
        .query_one("SELECT count(*) FROM items", &[])
        .unwrap()
        .get(0);
    assert!(
        n as usize >= acked,
        "every acknowledged insert survived ({n} < {acked})"
    );
    // the index answers exactly like an exact scan over the committed rows
    for q in clustered(62, 20, 16, 20, 0.4) {
        assert_eq!(distances(&mut c, &q, false), distances(&mut c, &q, true));
    }
    // every row is in the index exactly once
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off; SET LOCAL codevec.iterative_scan = relaxed_order")
        .unwrap();
    let rows = tx
        .query(
            "SELECT id FROM items ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]'",
            &[],
        )
        .unwrap();
    let ids: std::collections::HashSet<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(rows.len() as i64, n);
    assert_eq!(ids.len() as i64, n);
    tx.commit().unwrap();
    // and it keeps working: inserts after recovery
    c.batch_execute("INSERT INTO items VALUES (2000000, '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]')")
        .unwrap();
    assert_eq!(index_top(&mut c, &[1.0; 16], false)[0], 2000000);
}

/// Waits until the standby has replayed everything the primary has written so far.
pub(crate) fn wait_for_replay(p: &mut Client, s: &mut Client) {
    let lsn: String = p
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .unwrap()
        .get(0);
    for _ in 0..600 {
        let ok: bool = s
            .query_one(
                &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
                &[],
            )
            .unwrap()
            .get(0);
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("standby did not replay up to {lsn} within 60 s");
}

#[test]
fn ivf_replica_answers_like_the_primary() {
    let port = base_port() + 1;
    let primary = Cluster::fresh("primary", port);
    let mut p = primary.client();
    p.batch_execute(
        "CREATE EXTENSION codevec; CREATE TABLE items (id int PRIMARY KEY, v embedding(16))",
    )
    .unwrap();
    let data = clustered(71, 6000, 16, 20, 0.4);
    let values: Vec<String> = data[..3000]
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, '{}')", lit(v)))
        .collect();
    p.batch_execute(&format!("INSERT INTO items VALUES {}", values.join(",")))
        .unwrap();
    p.batch_execute("CREATE INDEX items_idx ON items USING ivf (v embedding_l2_ops)")
        .unwrap();
    let standby = Cluster::standby_of(&primary, "standby", port + 1);
    // changes after the base backup arrive through streaming replication
    let values: Vec<String> = data[3000..]
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({}, '{}')", 3000 + i, lit(v)))
        .collect();
    p.batch_execute(&format!("INSERT INTO items VALUES {}", values.join(",")))
        .unwrap();
    p.batch_execute("DELETE FROM items WHERE id % 3 = 0")
        .unwrap();
    p.batch_execute("VACUUM items").unwrap();
    let mut s = standby.client();
    wait_for_replay(&mut p, &mut s);
    let in_recovery: bool = s
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery);
    // same answers at default settings (approximate) and with every list probed (exact)
    for q in clustered(72, 30, 16, 20, 0.4) {
        let sql = format!("SELECT id FROM items ORDER BY v <-> '{}' LIMIT 10", lit(&q));
        let a: Vec<i32> = column(&mut p, &sql);
        let b: Vec<i32> = column(&mut s, &sql);
        assert_eq!(a, b, "primary and standby differ for {}", lit(&q));
        let (standby_index, primary_exact) =
            (distances(&mut s, &q, false), distances(&mut p, &q, true));
        let lsns: String = p
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .unwrap()
            .get(0);
        let replayed: String = s
            .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
            .unwrap()
            .get(0);
        assert_eq!(
            standby_index, primary_exact,
            "standby index (all lists) vs primary exact scan for {} (primary at {lsns}, standby replayed {replayed})",
            lit(&q)
        );
    }
    let plan: Vec<String> = column(&mut s, "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10");
    assert!(
        plan.iter()
            .any(|l| l.contains("Index Scan using items_idx")),
        "{plan:?}"
    );
}
