//! Embeddings kept in sync by the background workers (`shared_preload_libraries = 'codevec'`):
//! a cluster of our own with two workers. Rows written by a non-superuser, updated and
//! deleted while queued, a kill -9 of the postmaster mid-sync, a streaming standby, and a
//! fast shutdown. (`CALL codevec.sync()` without preloading: pg_regress `sync`.)

use std::time::{Duration, Instant};

use crate::common::column;
use crate::ivf_cluster::{base_port, wait_for_replay, Cluster};
use postgres::{Client, NoTls};

fn connect(c: &Cluster, user: &str) -> Client {
    Client::connect(
        &format!(
            "host={} port={} user={user} dbname=postgres",
            c.dir.display(),
            c.port
        ),
        NoTls,
    )
    .expect("connect")
}

/// Waits until nothing is queued and no row with a text lacks its embedding.
fn wait_drained(c: &mut Client, cluster: &Cluster, what: &str) {
    let start = Instant::now();
    loop {
        let row = c
            .query_one(
                "SELECT (SELECT count(*) FROM codevec.sync_queue),
                        (SELECT count(*) FROM snip WHERE emb IS NULL AND code IS NOT NULL)",
                &[],
            )
            .unwrap();
        let (queued, waiting): (i64, i64) = (row.get(0), row.get(1));
        if queued == 0 && waiting == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(400),
            "{what}: still {queued} queued, {waiting} rows without embedding after 400 s\n{}",
            cluster.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until no sync worker runs (they leave after 30 naps with an empty queue).
fn wait_no_workers(c: &mut Client, cluster: &Cluster) {
    let start = Instant::now();
    loop {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'codevec sync worker'",
                &[],
            )
            .unwrap()
            .get(0);
        if n == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{n} sync workers still running after 60 s with nothing queued\n{}",
            cluster.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Rows whose embedding is not the embedding of their text (computed by this backend).
fn stale(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM snip WHERE emb IS DISTINCT FROM codevec.embed(code)",
        &[],
    )
    .unwrap()
    .get(0)
}

fn insert(c: &mut Client, from: i32, to: i32) {
    // a text repeated every 25 rows: duplicates are embedded once and written to each row
    c.execute(
        "INSERT INTO snip (id, code)
         SELECT i, format(E'def f_%s(x, y):\\n    \"\"\"step %s\"\"\"\\n    return x * %s + y', i % 25, i % 25, i % 25)
                   || CASE WHEN i % 25 = 0 THEN '' ELSE format(E'\\n# row %s', i) END
         FROM generate_series($1::int, $2::int) i",
        &[&from, &to],
    )
    .unwrap();
}

#[test]
fn sync_workers_embed_race_crash_and_replicate() {
    let port = base_port() + 7;
    let primary = Cluster::fresh_with(
        "sync",
        port,
        &[
            "shared_preload_libraries=codevec",
            "codevec.sync_workers=2",
            "codevec.sync_naptime=100ms",
            "max_prepared_transactions=2",
        ],
    );
    let mut su = primary.client();
    su.batch_execute(
        "CREATE EXTENSION codevec;
         CREATE ROLE alice LOGIN;
         GRANT CREATE ON SCHEMA public TO alice;",
    )
    .unwrap();
    // the workers serve databases they learn about after they started: postgres had no
    // synced table when the server started
    let launcher: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'codevec sync launcher'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(launcher, 1, "the launcher runs on the primary");

    // a table owned by an unprivileged user, without a primary key, with a trigger that
    // records who writes the embeddings
    let mut alice = connect(&primary, "alice");
    alice
        .batch_execute(
            "CREATE TABLE snip (id int, code text, emb embedding(384));
             CREATE TABLE who (u name);
             CREATE FUNCTION note_user() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN INSERT INTO who VALUES (current_user); RETURN NEW; END $$;
             CREATE TRIGGER note BEFORE UPDATE ON snip FOR EACH ROW EXECUTE FUNCTION note_user();
             SELECT codevec.enable_sync('snip', 'code', 'emb');",
        )
        .unwrap();
    insert(&mut alice, 1, 400);
    // updates racing the workers: rows changed several times while queued or being embedded
    for round in 0..3 {
        alice
            .execute(
                "UPDATE snip SET code = code || format(E'\\n# edit %s', $1::int) WHERE id % 8 = 1",
                &[&round],
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    // deletes while queued
    alice
        .execute("DELETE FROM snip WHERE id % 13 = 0", &[])
        .unwrap();
    let seen_workers: i64 = su
        .query_one(
            "SELECT count(DISTINCT pid) FROM codevec.sync_workers()",
            &[],
        )
        .unwrap()
        .get(0);
    wait_drained(&mut alice, &primary, "first load");
    assert_eq!(
        stale(&mut alice),
        0,
        "every embedding is the one of its final text"
    );
    assert_eq!(seen_workers, 2, "two workers run for the database");
    let users: Vec<String> = column(&mut su, "SELECT DISTINCT u::text FROM who");
    assert_eq!(
        users,
        vec!["alice".to_string()],
        "batches run as the table owner"
    );
    let row = su
        .query_one(
            "SELECT failed, last_error, done FROM codevec.sync_status WHERE \"table\" = 'snip'::regclass",
            &[],
        )
        .unwrap();
    let (failed, last_error, done): (i64, Option<String>, i64) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!((failed, last_error), (0, None));
    assert!(done >= 300, "done = {done}");

    // idle workers leave (no connection left in the database), and a commit that queues
    // rows starts them again
    wait_no_workers(&mut su, &primary);
    insert(&mut alice, 501, 520);
    wait_drained(&mut alice, &primary, "after the workers had left");
    assert_eq!(stale(&mut alice), 0, "after the workers had left");
    // so DROP DATABASE of a synced database needs no FORCE once its queue is empty
    su.batch_execute("CREATE DATABASE other").unwrap();
    {
        let mut o = Client::connect(
            &format!(
                "host={} port={} user=postgres dbname=other",
                primary.dir.display(),
                primary.port
            ),
            NoTls,
        )
        .unwrap();
        o.batch_execute(
            "CREATE EXTENSION codevec;
             CREATE TABLE snip (id int, code text, emb embedding(384));
             SELECT codevec.enable_sync('snip', 'code', 'emb');
             INSERT INTO snip VALUES (1, 'def other(): pass');",
        )
        .unwrap();
        wait_drained(&mut o, &primary, "database other");
    }
    wait_no_workers(&mut su, &primary);
    su.batch_execute("DROP DATABASE other").unwrap();

    // rows queued by a prepared transaction: COMMIT PREPARED (another session) runs no
    // callback of ours, so nothing wakes the idle workers; the launcher's sweep (every 300
    // naps: 30 s here) finds them
    wait_no_workers(&mut su, &primary);
    alice
        .batch_execute(
            "BEGIN; INSERT INTO snip (id, code) VALUES (601, 'def prepared(): return 2'); PREPARE TRANSACTION 'p1';",
        )
        .unwrap();
    su.batch_execute("COMMIT PREPARED 'p1'").unwrap();
    wait_drained(&mut su, &primary, "after COMMIT PREPARED");
    assert_eq!(stale(&mut su), 0, "after COMMIT PREPARED");

    // kill -9 of the postmaster while the workers are busy: after the restart everything is
    // embedded, nothing stale
    insert(&mut alice, 1001, 1300);
    let start = Instant::now();
    loop {
        let embedded: i64 = alice
            .query_one(
                "SELECT count(*) FROM snip WHERE id > 1000 AND emb IS NOT NULL",
                &[],
            )
            .unwrap()
            .get(0);
        if embedded > 0 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop((alice, su));
    primary.crash();
    primary.start();
    let mut alice = connect(&primary, "alice");
    wait_drained(&mut alice, &primary, "after the crash");
    assert_eq!(stale(&mut alice), 0, "after the crash");
    let rows: i64 = alice
        .query_one("SELECT count(*) FROM snip", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 400 - 30 + 20 + 1 + 300);

    // a standby replays embeddings and queue; the workers do not run there
    let standby = Cluster::standby_of(&primary, "sync-standby", port + 1);
    insert(&mut alice, 2001, 2040);
    wait_drained(&mut alice, &primary, "before the standby check");
    let mut su = primary.client();
    let mut s = standby.client();
    wait_for_replay(&mut su, &mut s);
    let on_standby: (i64, i64, i64) = {
        let r = s
            .query_one(
                "SELECT (SELECT count(*) FROM snip WHERE emb = codevec.embed(code)),
                        (SELECT count(*) FROM codevec.sync_queue),
                        (SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'codevec sync%')",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(
        on_standby,
        (731, 0, 0),
        "standby: embedded rows, queue, sync processes"
    );

    // a fast shutdown stops launcher and workers cleanly
    drop((alice, su, s));
    let out = primary.stop("fast");
    assert!(out.status.success(), "fast shutdown: {}", primary.log());
    let log = primary.log();
    let after_restart = &log[log.rfind("database system is ready").unwrap_or(0)..];
    assert!(
        after_restart.contains("database system is shut down")
            && !after_restart.contains("terminated by signal")
            && !after_restart.contains("PANIC"),
        "{after_restart}"
    );
}
