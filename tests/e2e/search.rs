//! Hybrid search against real servers: the BM25 statistics stay equal to a recount while
//! several sessions write the same table at once (and fold each other's deltas), a
//! streaming standby answers `codevec.search` like its primary, and the search state
//! survives pg_dump / pg_restore into a new database. (SQL behaviour: pg_regress `search`.)

use crate::common::{client, column};
use crate::ivf_cluster::{as_pg, base_port, wait_for_replay, Cluster};

/// Rows whose incremental statistics differ from a recount of the table (0 = right).
fn stats_mismatches(c: &mut postgres::Client, tbl: &str) -> i64 {
    let sql = format!(
        "WITH truth AS (
           SELECT '' AS term, count(*) AS df, coalesce(sum(codevec.lexical_length(codevec_lex)), 0)::bigint AS len
             FROM {tbl} WHERE codevec_lex IS NOT NULL
           UNION ALL
           SELECT u.term, count(*), 0 FROM {tbl} t, unnest(tsvector_to_array(t.codevec_lex)) u(term) GROUP BY u.term),
         kept AS (
           SELECT s.term, s.df, s.len FROM codevec.lexical_term_stats('{tbl}',
             ARRAY(SELECT term FROM codevec.lexical_stats WHERE relid = '{tbl}'::regclass
                   UNION SELECT term FROM codevec.lexical_delta WHERE relid = '{tbl}'::regclass
                   UNION SELECT term FROM truth)) s)
         SELECT count(*) FROM truth FULL JOIN kept USING (term)
          WHERE coalesce(truth.df, 0) <> coalesce(kept.df, 0) OR coalesce(truth.len, 0) <> coalesce(kept.len, 0)"
    );
    c.query_one(&sql, &[]).unwrap().get(0)
}

/// A made-up function of `i`: a few shared words and a few of its own.
fn code_of(i: usize) -> String {
    let verbs = [
        "parse", "read", "write", "decode", "encode", "open", "close", "split",
    ];
    let nouns = [
        "date", "url", "file", "json", "buffer", "socket", "string", "path",
    ];
    format!(
        "def {}_{}_{i}(x):\n    return {}(x, {}) + helper_{}(x)",
        verbs[i % 8],
        nouns[(i / 8) % 8],
        verbs[(i / 3) % 8],
        nouns[(i / 5) % 8],
        i % 13
    )
}

#[test]
fn search_statistics_stay_right_under_concurrent_writers() {
    let mut c = client();
    c.batch_execute(
        "DROP TABLE IF EXISTS e2e_search_cc;
         CREATE TABLE e2e_search_cc (id int PRIMARY KEY, code text, emb embedding(384));",
    )
    .unwrap();
    c.execute(
        "SELECT codevec.enable_search('e2e_search_cc', 'code', 'emb')",
        &[],
    )
    .unwrap();
    // four sessions insert, update and delete their own rows at once, one statement each
    // time, so the triggers' deltas interleave and the every-16th-statement folds run
    // while the others write
    let workers: Vec<_> = (0..4i32)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = client();
                for round in 0..60 {
                    let id = w * 1000 + round;
                    c.execute(
                        "INSERT INTO e2e_search_cc (id, code) VALUES ($1, $2)",
                        &[&id, &code_of(id as usize)],
                    )
                    .unwrap();
                    if round % 3 == 0 {
                        c.execute(
                            "UPDATE e2e_search_cc SET code = $2 WHERE id = $1",
                            &[&id, &code_of(id as usize + 7)],
                        )
                        .unwrap();
                    }
                    if round % 5 == 4 {
                        c.execute("DELETE FROM e2e_search_cc WHERE id = $1", &[&(id - 2)])
                            .unwrap();
                    }
                    if round % 20 == 19 {
                        // a transaction that writes and rolls back leaves no trace
                        let mut t = c.transaction().unwrap();
                        t.execute("DELETE FROM e2e_search_cc WHERE id % 2 = 0", &[])
                            .unwrap();
                        t.rollback().unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let folded: i64 = c
        .query_one("SELECT last_value FROM codevec.lexical_fold_seq", &[])
        .unwrap()
        .get(0);
    assert!(
        folded >= 16,
        "the statement counter never reached a fold: {folded}"
    );
    assert_eq!(stats_mismatches(&mut c, "e2e_search_cc"), 0);
    let n: i64 = c
        .query_one(
            "SELECT df FROM codevec.lexical_term_stats('e2e_search_cc', ARRAY[''])",
            &[],
        )
        .unwrap()
        .get(0);
    let rows: i64 = c
        .query_one("SELECT count(*) FROM e2e_search_cc", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, rows);
    // the lexical leg finds a row through a term only it holds
    let hit: Vec<i32> = column(
        &mut c,
        "SELECT id FROM codevec.search(NULL::e2e_search_cc, 'helper_0 parse date', 3)",
    );
    assert!(!hit.is_empty());
    c.batch_execute("DROP TABLE e2e_search_cc").unwrap();
}

fn load_corpus(c: &mut postgres::Client, n: usize) {
    c.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS codevec;
         CREATE TABLE snip (id int PRIMARY KEY, path text, symbol text, code text, emb embedding(384));",
    )
    .unwrap();
    for i in 0..n {
        c.execute(
            "INSERT INTO snip VALUES ($1, $2, $3, $4, codevec.embed($4))",
            &[
                &(i as i32),
                &format!("src/m{}.py", i % 5),
                &format!("f{i}"),
                &code_of(i),
            ],
        )
        .unwrap();
    }
    c.execute("SELECT codevec.enable_search('snip', 'code', 'emb')", &[])
        .unwrap();
}

fn answers(c: &mut postgres::Client) -> Vec<Vec<i32>> {
    ["parse a date", "decode json from a buffer", "open a socket"]
        .iter()
        .map(|q| {
            c.query("SELECT id FROM codevec.search(NULL::snip, $1, 5)", &[q])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        })
        .collect()
}

#[test]
fn search_on_a_standby_and_after_dump_and_restore() {
    let port = base_port() + 9;
    let primary = Cluster::fresh("search-primary", port);
    let mut p = primary.client();
    load_corpus(&mut p, 40);
    let standby = Cluster::standby_of(&primary, "search-standby", port + 1);
    // writes after the base backup arrive through replication, statistics included
    for i in 40..60 {
        p.execute(
            "INSERT INTO snip (id, path, symbol, code, emb) VALUES ($1, 'src/late.py', $2, $3, codevec.embed($3))",
            &[&(i as i32), &format!("f{i}"), &code_of(i)],
        )
        .unwrap();
    }
    p.batch_execute("DELETE FROM snip WHERE id % 7 = 0")
        .unwrap();
    let mut s = standby.client();
    wait_for_replay(&mut p, &mut s);
    let on_primary = answers(&mut p);
    assert!(on_primary.iter().all(|a| a.len() == 5), "{on_primary:?}");
    assert_eq!(
        answers(&mut s),
        on_primary,
        "the standby answers differently"
    );
    assert_eq!(stats_mismatches(&mut s, "snip"), 0);

    // pg_dump keeps the lexical column's definition, the triggers and the statistics
    let dump = primary.dir.join("snip.dump").display().to_string();
    let (host, port_s) = (primary.dir.display().to_string(), port.to_string());
    let tool = |bin: &str, args: &[&str]| {
        let mut all = vec!["-h", host.as_str(), "-p", port_s.as_str(), "-U", "postgres"];
        all.extend_from_slice(args);
        let out = as_pg(bin, &all);
        assert!(
            out.status.success(),
            "{bin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tool("pg_dump", &["-Fc", "-f", &dump, "postgres"]);
    p.batch_execute("CREATE DATABASE restored").unwrap();
    tool("pg_restore", &["-d", "restored", &dump]);
    let mut r = postgres::Client::connect(
        &format!(
            "host={} port={port} user=postgres dbname=restored",
            primary.dir.display()
        ),
        postgres::NoTls,
    )
    .unwrap();
    assert_eq!(stats_mismatches(&mut r, "snip"), 0);
    assert_eq!(
        answers(&mut r),
        on_primary,
        "the restored copy answers differently"
    );
    // and its triggers keep counting
    r.batch_execute("DELETE FROM snip WHERE id < 10").unwrap();
    assert_eq!(stats_mismatches(&mut r, "snip"), 0);
}
