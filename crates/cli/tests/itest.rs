//! Integration test against a live PostgreSQL server; compiled only with
//! `--features itest`. Connects with `CODEVEC_TEST_DSN` and fails (does not
//! skip) when it is unset or the server is unreachable.
//!
//! ```sh
//! CODEVEC_TEST_DSN="host=/tmp port=5432 user=postgres dbname=postgres" \
//!     cargo test --features itest --test itest
//! ```
//!
//! `search_finds_the_obvious_function` needs the codevec extension with search
//! (`codevec.enable_search`, `codevec.search_explain`) installed in the server: it
//! creates a database of its own and `CREATE EXTENSION codevec` there.
//!
//! `tls_sslmodes_against_a_tls_server` needs no `CODEVEC_TEST_DSN`: it starts
//! a cluster of its own with `scripts/pg-up.sh` (PostgreSQL's binaries from
//! `pg_config`, `openssl` for a self-signed certificate; as root it runs the
//! server as the `postgres` user), listening on 127.0.0.1 only.
#![cfg(feature = "itest")]

use codevec_cli::dsn;
use codevec_cli::lang::Grammar;
use codevec_cli::load::{self, LoadOptions, PgSink};
use codevec_cli::schema::{
    ensure_table, find_embedding_support, CreateOutcome, Precision, TableName,
};
use codevec_cli::search;
use codevec_cli::split::split;
use codevec_cli::tls;
use codevec_cli::walk::WalkOptions;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn test_dsn() -> String {
    std::env::var("CODEVEC_TEST_DSN")
        .expect("CODEVEC_TEST_DSN must name a PostgreSQL server when testing with --features itest")
}

fn connect() -> postgres::Client {
    let target = dsn::resolve(Some(&test_dsn()), &|k| std::env::var(k).ok())
        .expect("valid CODEVEC_TEST_DSN");
    tls::connect(&target)
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e:#}", dsn::describe(&target.config)))
        .0
}

/// A schema of its own for each test, dropped afterwards.
struct Scratch {
    client: postgres::Client,
    schema: String,
}

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "codevec_itest_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = connect();
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .unwrap();
        Scratch { client, schema }
    }

    fn table(&self, name: &str) -> TableName {
        TableName::parse(&format!("{}.{name}", self.schema)).unwrap()
    }

    fn count(&mut self, table: &TableName, filter: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {} {filter}", table.quoted());
        self.client.query_one(sql.as_str(), &[]).unwrap().get(0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

fn fixtures() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("tests/fixtures/split")
}

fn opts(batch: usize, replace: bool) -> LoadOptions {
    LoadOptions {
        roots: vec![fixtures()],
        walk: WalkOptions::default(),
        batch,
        min_lines: 1,
        replace,
        quiet: true,
    }
}

/// One row: (path, language, symbol, start, end, code, doc).
type ExpectedRow = (String, String, String, i32, i32, String, Option<String>);

/// What splitting the fixtures gives.
fn expected_rows() -> Vec<ExpectedRow> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let grammar = Grammar::from_path(&path).unwrap();
        let src = std::fs::read_to_string(&path).unwrap();
        for s in split(grammar, &src).unwrap() {
            rows.push((
                path.to_string_lossy().into_owned(),
                grammar.language().name().to_string(),
                s.symbol,
                s.start_line as i32,
                s.end_line as i32,
                s.code,
                s.doc,
            ));
        }
    }
    rows.sort();
    rows
}

#[test]
fn loads_fixtures_with_all_columns() {
    let mut db = Scratch::new();
    let table = db.table("snippets");
    let outcome = ensure_table(&mut db.client, &table, 384, Precision::F32).unwrap();
    assert!(
        matches!(outcome, CreateOutcome::CreatedWithoutEmbedding(_)),
        "{outcome:?}"
    );
    assert_eq!(
        ensure_table(&mut db.client, &table, 384, Precision::F32).unwrap(),
        CreateOutcome::AlreadyExists
    );

    let summary = load::run(
        &opts(2, false),
        &mut PgSink::new(&mut db.client, table.clone(), false),
    )
    .unwrap();
    let expected = expected_rows();
    assert_eq!(summary.rows(), expected.len() as u64);
    assert_eq!(summary.files_loaded, 6);

    let sql = format!(
        "SELECT path, language, symbol, start_line, end_line, code, doc FROM {} ORDER BY 1, 2, 3, 4, 5, 6",
        table.quoted()
    );
    let mut got: Vec<ExpectedRow> = db
        .client
        .query(sql.as_str(), &[])
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got, expected,
        "rows in the table differ from the splitter's output"
    );

    let mut per_language = BTreeMap::new();
    for (_, lang, ..) in &expected {
        *per_language.entry(lang.clone()).or_insert(0i64) += 1;
    }
    for (lang, n) in per_language {
        assert_eq!(
            db.count(&table, &format!("WHERE language = '{lang}'")),
            n,
            "{lang}"
        );
    }
    let handle: (i32, i32, String) = {
        let sql = format!(
            "SELECT start_line, end_line, code FROM {} WHERE symbol = 'Server.Handle'",
            table.quoted()
        );
        let r = db.client.query_one(sql.as_str(), &[]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!((handle.0, handle.1), (12, 18));
    assert!(handle.2.starts_with("// Handle handles a request.\n"));
    assert_eq!(db.count(&table, "WHERE doc IS NOT NULL"), 5);
    let doc: Option<String> = db
        .client
        .query_one(
            format!(
                "SELECT doc FROM {} WHERE symbol = 'Server.Handle'",
                table.quoted()
            )
            .as_str(),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        doc.as_deref(),
        Some("Handle handles a request.\nSecond line of the doc.")
    );
    // The id column was filled by the server.
    assert_eq!(db.count(&table, "WHERE id IS NULL"), 0);
}

/// A table made by an older loader (no `doc` column) still loads, without docs; once the
/// column is added, the next load fills it.
#[test]
fn loads_into_a_table_without_a_doc_column() {
    let mut db = Scratch::new();
    let table = db.table("old_snippets");
    db.client
        .batch_execute(&format!(
            "CREATE TABLE {} (id bigserial PRIMARY KEY, path text NOT NULL, language text NOT NULL,
                symbol text NOT NULL, start_line int NOT NULL, end_line int NOT NULL,
                code text NOT NULL, dropped int);
             ALTER TABLE {0} DROP COLUMN dropped",
            table.quoted()
        ))
        .unwrap();
    let n = expected_rows().len() as i64;
    let mut sink = PgSink::new(&mut db.client, table.clone(), false);
    assert!(!sink.loads_doc().unwrap());
    load::run(&opts(2, false), &mut sink).unwrap();
    assert_eq!(db.count(&table, ""), n);

    // A dropped column named doc does not count either.
    db.client
        .batch_execute(&format!(
            "ALTER TABLE {0} ADD COLUMN doc int; ALTER TABLE {0} DROP COLUMN doc",
            table.quoted()
        ))
        .unwrap();
    let mut sink = PgSink::new(&mut db.client, table.clone(), true);
    assert!(!sink.loads_doc().unwrap());
    load::run(&opts(100, true), &mut sink).unwrap();
    assert_eq!(db.count(&table, ""), n);

    db.client
        .batch_execute(&format!(
            "ALTER TABLE {} ADD COLUMN doc text",
            table.quoted()
        ))
        .unwrap();
    let mut sink = PgSink::new(&mut db.client, table.clone(), true);
    assert!(sink.loads_doc().unwrap());
    load::run(&opts(100, true), &mut sink).unwrap();
    assert_eq!(db.count(&table, ""), n);
    assert_eq!(db.count(&table, "WHERE doc IS NOT NULL"), 5);

    // The binary says what it does with an old table.
    let old = db.table("older");
    db.client
        .batch_execute(&format!(
            "CREATE TABLE {} (path text, language text, symbol text, start_line int,
                end_line int, code text)",
            old.quoted()
        ))
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["load", "--table", &format!("{}.older", db.schema)])
        .arg(fixtures())
        .env("DATABASE_URL", test_dsn())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("has no doc column"), "{stderr}");
    assert_eq!(db.count(&old, ""), n);
    // A table that does not exist is an error naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["load", "--table", &format!("{}.missing", db.schema)])
        .arg(fixtures())
        .env("DATABASE_URL", test_dsn())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("missing"), "{stderr}");
}

#[test]
fn replace_reloads_without_duplicates() {
    let mut db = Scratch::new();
    let table = db.table("snippets");
    ensure_table(&mut db.client, &table, 384, Precision::F32).unwrap();
    let n = expected_rows().len() as i64;
    load::run(
        &opts(100, false),
        &mut PgSink::new(&mut db.client, table.clone(), false),
    )
    .unwrap();
    load::run(
        &opts(100, false),
        &mut PgSink::new(&mut db.client, table.clone(), false),
    )
    .unwrap();
    assert_eq!(db.count(&table, ""), 2 * n);
    load::run(
        &opts(3, true),
        &mut PgSink::new(&mut db.client, table.clone(), true),
    )
    .unwrap();
    assert_eq!(db.count(&table, ""), n);
}

#[test]
fn failed_batch_leaves_only_whole_files() {
    let mut db = Scratch::new();
    let table = db.table("snippets");
    ensure_table(&mut db.client, &table, 384, Precision::F32).unwrap();
    // Reject one row of sample.py (the third fixture in walk order) so its
    // batch fails after some of its rows were already sent.
    db.client
        .batch_execute(&format!(
            "ALTER TABLE {} ADD CONSTRAINT no_deep CHECK (symbol <> 'Parser.Inner.deep')",
            table.quoted()
        ))
        .unwrap();
    let err = load::run(
        &opts(1, false),
        &mut PgSink::new(&mut db.client, table.clone(), false),
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("stopped after committing 2 files"), "{msg}");
    assert!(msg.contains("no_deep"), "{msg}");
    // The failed batch was rolled back; the connection is usable again.
    let check = &mut db.client;
    let files: Vec<String> = check
        .query(
            format!("SELECT DISTINCT path FROM {} ORDER BY 1", table.quoted()).as_str(),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let names: Vec<&str> = files
        .iter()
        .map(|p| p.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, vec!["sample.go", "sample.js"]);
    let go_rows: i64 = check
        .query_one(
            format!(
                "SELECT count(*) FROM {} WHERE language = 'go'",
                table.quoted()
            )
            .as_str(),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(go_rows, 5);
}

#[test]
fn extension_lookup_runs() {
    let mut client = connect();
    // Without the extension installed the lookup reports None; with it, the
    // type and function must both be found.
    let installed: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'codevec')",
            &[],
        )
        .unwrap()
        .get(0);
    let found = find_embedding_support(&mut client).unwrap();
    assert_eq!(found.is_some(), installed);
    if let Some(support) = found {
        support.expect("codevec extension provides embedding and embed(text)");
    }
}

#[test]
fn binary_loads_with_create_table_and_database_url() {
    let db = Scratch::new();
    let table = format!("{}.cli_snippets", db.schema);
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["load", "--create-table", "--table", &table, "--batch", "4"])
        .arg(fixtures())
        .env("DATABASE_URL", test_dsn())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("created table"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let n = expected_rows().len();
    let want = format!("rows loaded: {n}");
    let found = stdout
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want);
    assert!(found, "{stdout}");
    let mut check = connect();
    let count: i64 = check
        .query_one(format!("SELECT count(*) FROM {table}").as_str(), &[])
        .unwrap()
        .get(0);
    assert_eq!(count, n as i64);
}

/// `load --create-table --sync --wait` into a database with the extension: the table gets a
/// plain `emb` column kept by codevec.enable_sync, and --wait returns once every row has the
/// embedding of its code. The test server does not preload codevec, so --wait drains the
/// queue itself with CALL codevec.sync().
#[test]
fn binary_loads_with_sync_and_wait() {
    let mut admin = connect();
    let db = format!("codevec_cli_sync_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let dsn = format!("{} dbname={db}", test_dsn());
    let mut c = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION codevec").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args([
            "load",
            "--create-table",
            "--sync",
            "--wait",
            "--table",
            "synced",
            "--batch",
            "4",
        ])
        .arg(fixtures())
        .env("DATABASE_URL", &dsn)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("filled by codevec sync"), "{stderr}");
    assert!(stderr.contains("sync enabled on"), "{stderr}");
    assert!(stderr.contains("CALL codevec.sync()"), "{stderr}");
    assert!(stderr.contains("rows of"), "{stderr}");
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE emb = codevec.embed(code)),
                    (SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'synced'::regclass AND attname = 'emb')
             FROM synced",
            &[],
        )
        .unwrap();
    let (n, ok, generated): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(n, expected_rows().len() as i64);
    assert_eq!(ok, n, "every row has the embedding of its code");
    assert_eq!(generated, "", "emb is a plain column");
    // --wait needs --sync
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["load", "--wait", "--table", "synced"])
        .arg(fixtures())
        .env("DATABASE_URL", &dsn)
        .output()
        .unwrap();
    assert!(!out.status.success());
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// `tests/fixtures/search`: a few functions with obvious purposes in every language.
fn search_fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/search")
}

/// Loads `tests/fixtures/search` into a table with a generated `emb` column in a database
/// of its own with the extension, enables search on it, and checks that `codevec search`
/// (the library function and the binary) ranks the obvious function first, shows server
/// errors with their hint, and rejects a blank question without connecting.
#[test]
fn search_finds_the_obvious_function() {
    let mut admin = connect();
    let db = format!("codevec_cli_search_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let dsn = format!("{} dbname={db}", test_dsn());
    let mut c = postgres::Client::connect(&dsn, postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS codevec; CREATE SCHEMA code")
        .unwrap();
    let table = TableName::parse("code.snippets").unwrap();
    assert_eq!(
        ensure_table(&mut c, &table, 384, Precision::F32).unwrap(),
        CreateOutcome::CreatedWithEmbedding
    );
    let mut o = opts(100, false);
    o.roots = vec![search_fixtures()];
    let summary = load::run(&o, &mut PgSink::new(&mut c, table.clone(), false)).unwrap();
    assert_eq!(summary.files_loaded, 4);
    assert_eq!(summary.rows(), 9);

    // Not enabled yet: the server's error reaches the user with its hint.
    let err = search::search(&mut c, &table, "cosine distance", 3, None).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("enable_search"), "{msg}");
    assert!(msg.contains("SQLSTATE"), "{msg}");
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["search", "--table", "code.snippets", "cosine distance"])
        .env("DATABASE_URL", &dsn)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("HINT:"), "{stderr}");
    assert!(stderr.contains("enable_search"), "{stderr}");

    c.batch_execute("SELECT codevec.enable_search('code.snippets', 'code', 'emb')")
        .unwrap();

    let top = |c: &mut postgres::Client, q: &str| -> Vec<search::Hit> {
        let hits = search::search(c, &table, q, 3, None).unwrap_or_else(|e| panic!("{q}: {e:#}"));
        assert!(!hits.is_empty() && hits.len() <= 3, "{q}: {hits:?}");
        let ranks: Vec<i32> = hits.iter().map(|h| h.rank).collect();
        assert_eq!(ranks, (1..=hits.len() as i32).collect::<Vec<_>>(), "{q}");
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "{q}: scores not in order: {hits:?}"
        );
        hits
    };
    for (question, symbol, file) in [
        (
            "cosine distance between two vectors",
            "cosine_distance",
            "vectors.rs",
        ),
        ("parse an ISO date string", "parse_date", "dates.py"),
        (
            "reverse the characters of a string",
            "ReverseString",
            "files.go",
        ),
        (
            "check whether a string is an e-mail address",
            "isEmail",
            "mail.js",
        ),
    ] {
        let hits = top(&mut c, question);
        let first = &hits[0];
        assert_eq!(
            first.symbol.as_deref(),
            Some(symbol),
            "{question}: {hits:#?}"
        );
        assert!(
            first.path.as_deref().is_some_and(|p| p.ends_with(file)),
            "{question}: {first:?}"
        );
        assert!(first.start_line.is_some_and(|l| l >= 1));
        assert!(first.code.as_deref().is_some_and(|c| !c.is_empty()));
    }
    // k is honoured
    assert_eq!(
        search::search(&mut c, &table, "string", 1, None)
            .unwrap()
            .len(),
        1
    );

    // The binary: `rank. path:line  symbol  (score ...)` and three lines of code.
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["search", "--table", "code.snippets", "-k", "2"])
        .args(["cosine", "distance", "between", "two", "vectors"])
        .env("DATABASE_URL", &dsn)
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("1. "), "{stdout}");
    assert!(
        first.contains("vectors.rs:3  cosine_distance  (score "),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n    /// Cosine distance between two vectors"),
        "{stdout}"
    );
    assert!(stdout.contains("\n2. "), "{stdout}");
    // code lines are cut to $COLUMNS (the header lines are not: paths stay whole)
    assert!(
        stdout
            .lines()
            .filter(|l| l.starts_with("    "))
            .all(|l| l.chars().count() <= 80),
        "{stdout}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["search", "--table", "code.snippets", "-k", "1", "--verbose"])
        .arg("parse an ISO date string")
        .env("DATABASE_URL", &dsn)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("parse_date"), "{stdout}");
    assert!(stdout.contains("vector "), "{stdout}");
    assert!(stdout.contains("lexical "), "{stdout}");

    // A blank question never reaches the server (the DSN is unreachable).
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["search", "--dsn", "host=/nonexistent port=1", "  "])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("question is empty"));

    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// A throwaway cluster with TLS on (a self-signed certificate for
/// `localhost`), listening on 127.0.0.1 and its own socket directory.
struct TlsCluster {
    dir: PathBuf,
    certs: PathBuf,
    port: u16,
}

fn repo_root() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../..")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate and key for `cn` (subjectAltName DNS:`cn`).
fn self_signed(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf) {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", &format!("/CN={cn}")])
        .args(["-addext", &format!("subjectAltName=DNS:{cn}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt));
    (crt, key)
}

impl TlsCluster {
    fn start() -> TlsCluster {
        use std::os::unix::fs::PermissionsExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Under /tmp, not a private temp dir: the server user must reach it.
        let base = format!("/tmp/codevec-tls-itest-{}", std::process::id());
        let (dir, certs) = (PathBuf::from(&base), PathBuf::from(format!("{base}-certs")));
        let _ = std::fs::remove_dir_all(&certs);
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::set_permissions(&certs, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cluster = TlsCluster { dir, certs, port };
        let (crt, key) = self_signed(&cluster.certs, "server", "localhost");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&crt, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Root or not, as pg-up.sh decides it.
        let uid = Command::new("id").arg("-u").output().unwrap().stdout;
        if String::from_utf8_lossy(&uid).trim() == "0" {
            // The server (run as postgres) must own its key.
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(&key)
                .arg(&crt));
        }
        run(Command::new(repo_root().join("scripts/pg-up.sh"))
            .arg(&cluster.dir)
            .arg(port.to_string())
            .arg("ssl=on")
            .arg(format!("ssl_cert_file={}", crt.display()))
            .arg(format!("ssl_key_file={}", key.display()))
            .arg("listen_addresses=127.0.0.1"));
        cluster
    }

    fn server_cert(&self) -> PathBuf {
        self.certs.join("server.crt")
    }

    fn dsn(&self, host: &str, extra: &str) -> String {
        format!(
            "host={host} port={} user=postgres dbname=postgres connect_timeout=10 {extra}",
            self.port
        )
    }

    /// Connects with only `dsn` (no environment: no PGSSLMODE, no
    /// ~/.postgresql/root.crt); reports whether the session is encrypted.
    fn try_connect(&self, dsn: &str) -> Result<bool, String> {
        let target = dsn::resolve(Some(dsn), &|_| None).map_err(|e| format!("{e:#}"))?;
        let (mut client, _) = tls::connect(&target).map_err(|e| format!("{e:#}"))?;
        Ok(tls::session_uses_tls(&mut client).expect("pg_stat_ssl answers"))
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/pg-down.sh"))
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.certs);
    }
}

#[test]
fn tls_sslmodes_against_a_tls_server() {
    let c = TlsCluster::start();
    let crt = c.server_cert().display().to_string();
    let root = format!("sslrootcert={crt}");
    let ok = |dsn: String, tls: bool| {
        assert_eq!(c.try_connect(&dsn), Ok(tls), "{dsn}");
    };
    let fails = |dsn: String, why: &str| {
        let err = c.try_connect(&dsn).expect_err(&dsn);
        assert!(err.contains(why), "{dsn}: {err}");
    };
    // No verification: the self-signed certificate is accepted.
    ok(c.dsn("127.0.0.1", ""), true);
    ok(c.dsn("127.0.0.1", "sslmode=prefer"), true);
    ok(c.dsn("127.0.0.1", "sslmode=allow"), true);
    ok(c.dsn("127.0.0.1", "sslmode=require"), true);
    ok(c.dsn("127.0.0.1", "sslmode=disable"), false);
    // Verified against the certificate itself as the root.
    ok(
        c.dsn("localhost", &format!("sslmode=verify-full {root}")),
        true,
    );
    ok(
        c.dsn("127.0.0.1", &format!("sslmode=verify-ca {root}")),
        true,
    );
    ok(c.dsn("127.0.0.1", &format!("sslmode=require {root}")), true);
    // The certificate names localhost, not 127.0.0.1.
    fails(
        c.dsn("127.0.0.1", &format!("sslmode=verify-full {root}")),
        "IP address mismatch",
    );
    // Not signed by the system's roots.
    fails(
        c.dsn("localhost", "sslmode=verify-full"),
        "certificate verify failed",
    );
    fails(
        c.dsn("localhost", "sslmode=verify-ca"),
        "certificate verify failed",
    );
    fails(
        c.dsn("localhost", "sslrootcert=system"),
        "certificate verify failed",
    );
    // Nor by another root.
    let (other, _) = self_signed(&c.certs, "other", "localhost");
    let other = format!("sslrootcert={}", other.display());
    fails(
        c.dsn("localhost", &format!("sslmode=verify-full {other}")),
        "certificate verify failed",
    );
    fails(
        c.dsn("127.0.0.1", &format!("sslmode=require {other}")),
        "certificate verify failed",
    );
    // URL form.
    ok(
        format!(
            "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={crt}",
            c.port
        ),
        true,
    );
    // The Unix socket never uses TLS, even with sslmode=verify-full.
    let dir = c.dir.display().to_string();
    ok(c.dsn(&dir, "sslmode=require"), false);
    ok(c.dsn(&dir, "sslmode=verify-full"), false);

    // The binary end to end, told by PGSSLMODE/PGSSLROOTCERT.
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["load", "--create-table", "--table", "tls_snippets"])
        .args(["--dsn", &c.dsn("localhost", "")])
        .arg(fixtures())
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &crt)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("(TLS, sslmode=verify-full)"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_codevec"))
        .args(["load", "--table", "tls_snippets"])
        .args(["--dsn", &c.dsn("localhost", "sslmode=verify-full")])
        .arg(fixtures())
        .env("PGSSLROOTCERT", other.trim_start_matches("sslrootcert="))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connecting to host=localhost"), "{stderr}");
}
