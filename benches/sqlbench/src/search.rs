//! `codevec-sqlbench search [ann_dir] [rows] [--fresh]`: the latency of the hybrid search
//! (`codevec.search`, issue #12) next to the plain vector query a user has today, on one
//! server, one client:
//!
//! 1. `SELECT * FROM codevec.search(NULL::bench_search, $1, 10)`;
//! 2. `SELECT id FROM bench_search ORDER BY emb <=> codevec.embed($1) LIMIT 10` (through the
//!    ivf index, default probes);
//! 3. `SELECT codevec.embed($1)` alone: the encoder's share of both.
//!
//! The questions are the first 200 texts (`query`) of `ann_dir/queries.jsonl`, after 20
//! warm-up questions (the next 20 of the file, all three kinds each); the three kinds run
//! back to back per question, in an order that rotates with the question, so noise hits them
//! alike. Prints p50 / p95 / mean ms per kind and the ratio search / vector.
//!
//! The corpus, `rows` functions (default 50,000) in `bench_search (id, path, language, symbol,
//! code, emb embedding(384))`: the code text comes from functions on this machine, split by
//! the repository's own loader (`codevec split`, the `codevec` binary next to this one) from
//! `/usr/lib/python3*/` (the Debian Python stdlib and packages) and then, while fewer than
//! `rows`, `~/.cargo/registry/src/*/` (Rust crates), walked in path order; cached in
//! `~/.cache/codevec/bench/search-corpus.jsonl`. The embeddings are the real ones of
//! `ann_dir/docs.f32.npy` (all-MiniLM-L6-v2 of other Python functions): row i gets text i and
//! docs row i, which do NOT describe the same function. That is fine for latency (the vector
//! leg's cost depends on the distribution of the embeddings, the lexical leg's on that of the
//! texts) and it spares embedding 50,000 texts (about 15 minutes here), but the ranking is
//! meaningless: this measures time, not quality (`benches/sql/hybrid_eval.sql` does that).
//!
//! The table is loaded by COPY (text format), indexed with `ivf (emb embedding_cosine_ops)`
//! (defaults), ANALYZEd and passed to `codevec.enable_search('bench_search', 'code', 'emb')`,
//! each timed; it is reused when it exists with `rows` rows and search enabled, unless
//! `--fresh` (or `CODEVEC_BENCH_FRESH=1`) is given.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use postgres::{Client, Statement};
use serde_json::Value;

use crate::ann::{load, timed};
use crate::data::to_text;
use crate::{client, ivf::cpu};

/// Questions timed, and warm-up questions run before them.
const TIMED: usize = 200;
const WARM: usize = 20;

/// One function of the corpus.
struct Func {
    path: String,
    language: String,
    symbol: String,
    code: String,
}

fn cache_path() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/codevec/bench/search-corpus.jsonl")
}

/// The `codevec` loader binary: `$CODEVEC_BIN`, else next to this executable.
fn loader() -> PathBuf {
    if let Ok(p) = std::env::var("CODEVEC_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current_exe");
    let p = exe.with_file_name("codevec");
    assert!(
        p.exists(),
        "{} not found: run `cargo build --release -p codevec-cli` first (same CARGO_TARGET_DIR), or set CODEVEC_BIN",
        p.display()
    );
    p
}

/// Files under `dir` ending in `.ext`, recursively, in path order; symlinks are not followed.
fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            walk(&p, ext, out);
        } else if ft.is_file() && p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// Directories matching `parent/prefix*/`, sorted.
fn glob_dirs(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Splits files with `codevec split` until `rows` functions; writes them to the cache.
fn build_corpus(rows: usize, cache: &Path) -> Vec<Func> {
    let bin = loader();
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    let sources: Vec<(PathBuf, &str)> = glob_dirs(Path::new("/usr/lib"), "python3")
        .into_iter()
        .map(|d| (d, "py"))
        .chain(
            glob_dirs(&home.join(".cargo/registry/src"), "")
                .into_iter()
                .map(|d| (d, "rs")),
        )
        .collect();
    let t = Instant::now();
    let mut out: Vec<Func> = Vec::with_capacity(rows);
    let (mut files, mut failed) = (0usize, 0usize);
    std::fs::create_dir_all(cache.parent().unwrap()).expect("create cache dir");
    let tmp = cache.with_extension("jsonl.tmp");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create cache"));
    'sources: for (dir, ext) in &sources {
        let mut paths = vec![];
        walk(dir, ext, &mut paths);
        for p in paths {
            let o = Command::new(&bin).arg("split").arg(&p).output();
            files += 1;
            let Some(o) = o.ok().filter(|o| o.status.success()) else {
                failed += 1;
                continue;
            };
            for line in o.stdout.lines() {
                let line = line.expect("utf-8 from codevec split");
                let v: Value = serde_json::from_str(&line).expect("codevec split JSON");
                let s = |k: &str| v[k].as_str().unwrap_or("").replace('\0', "");
                let f = Func {
                    path: s("path"),
                    language: s("language"),
                    symbol: s("symbol"),
                    code: s("code"),
                };
                if f.code.trim().is_empty() {
                    continue;
                }
                let j = serde_json::json!({"path": f.path, "language": f.language, "symbol": f.symbol, "code": f.code});
                writeln!(w, "{j}").unwrap();
                out.push(f);
                if out.len() == rows {
                    break 'sources;
                }
            }
        }
    }
    w.flush().unwrap();
    drop(w);
    std::fs::rename(&tmp, cache).expect("rename cache");
    eprintln!(
        "corpus: {} functions from {files} files ({failed} not split) in {:.1} s, cached in {}",
        out.len(),
        t.elapsed().as_secs_f64(),
        cache.display()
    );
    out
}

/// The first `rows` functions of the cache, or freshly split ones when it has fewer.
fn corpus(rows: usize) -> Vec<Func> {
    let cache = cache_path();
    if let Ok(f) = std::fs::File::open(&cache) {
        let funcs: Vec<Func> = std::io::BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .take(rows)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
                Func {
                    path: s("path"),
                    language: s("language"),
                    symbol: s("symbol"),
                    code: s("code"),
                }
            })
            .collect();
        if funcs.len() == rows {
            return funcs;
        }
    }
    build_corpus(rows, &cache)
}

/// COPY text format: backslash, tab, newline and carriage return escaped.
fn esc(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

fn copy_corpus(c: &mut Client, funcs: &[Func], docs: &[Vec<f32>]) {
    let mut w = c
        .copy_in("COPY bench_search (id, path, language, symbol, code, emb) FROM STDIN")
        .expect("copy in");
    let mut buf = Vec::with_capacity(1 << 21);
    for (i, (f, e)) in funcs.iter().zip(docs).enumerate() {
        write!(buf, "{i}\t").unwrap();
        for s in [&f.path, &f.language, &f.symbol, &f.code] {
            esc(s, &mut buf);
            buf.push(b'\t');
        }
        buf.extend_from_slice(to_text(e).as_bytes());
        buf.push(b'\n');
        if buf.len() > (1 << 20) {
            w.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    w.write_all(&buf).unwrap();
    w.finish().expect("copy finish");
}

/// Whether `bench_search` exists with `rows` rows, its ivf index and search enabled.
fn reusable(c: &mut Client, rows: usize) -> bool {
    let ok = c
        .query_one(
            "SELECT to_regclass('bench_search') IS NOT NULL
                AND EXISTS (SELECT 1 FROM codevec.search_config WHERE relid = to_regclass('bench_search'))
                AND EXISTS (SELECT 1 FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                             JOIN pg_am a ON a.oid = x.relam
                            WHERE i.indrelid = to_regclass('bench_search') AND a.amname = 'ivf')",
            &[],
        )
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    ok && c
        .query_one("SELECT count(*) FROM bench_search", &[])
        .map(|r| r.get::<_, i64>(0) == rows as i64)
        .unwrap_or(false)
}

/// Latencies of one kind of query, ms.
#[derive(Default)]
struct Lat(Vec<f64>);

impl Lat {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[i - 1]
    }
    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }
}

/// The `query` field of the first `n` lines of `queries.jsonl`.
fn questions(dir: &Path, n: usize) -> Vec<String> {
    let path = dir.join("queries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let q: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["query"].as_str().map(str::to_string))
        .take(n)
        .collect();
    assert_eq!(q.len(), n, "{} has fewer than {n} queries", path.display());
    q
}

/// Run the benchmark.
pub fn run(dir: PathBuf, rows: usize, fresh: bool) {
    let qs = questions(&dir, TIMED + WARM);
    let mut c = client();
    c.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS codevec; SET max_parallel_workers_per_gather = 0",
    )
    .unwrap();
    println!(
        "search latency on {rows} functions: code text split by `codevec split` from this machine's \
         Python stdlib / Rust crates, embeddings from {}/docs.f32.npy paired by row (NOT the same \
         functions: valid for latency, not for ranking); one client, no parallel workers",
        dir.display()
    );
    println!("CPU: {}", cpu());
    if !fresh && reusable(&mut c, rows) {
        println!("table: bench_search reused ({rows} rows; --fresh rebuilds it)");
    } else {
        let funcs = corpus(rows);
        let ann = load(&dir);
        let n = rows.min(funcs.len()).min(ann.docs.len());
        assert_eq!(
            n,
            rows,
            "only {} functions and {} embeddings for {rows} rows",
            funcs.len(),
            ann.docs.len()
        );
        let py = funcs.iter().filter(|f| f.language == "python").count();
        c.batch_execute(
            "SET maintenance_work_mem = '1GB';
             DROP TABLE IF EXISTS bench_search;
             CREATE TABLE bench_search (id bigint PRIMARY KEY, path text, language text, symbol text, code text, emb embedding(384))",
        )
        .unwrap();
        let t = Instant::now();
        copy_corpus(&mut c, &funcs[..n], &ann.docs[..n]);
        let copy = t.elapsed().as_secs_f64();
        let index = timed(
            &mut c,
            "CREATE INDEX bench_search_ivf ON bench_search USING ivf (emb embedding_cosine_ops)",
        );
        let analyze = timed(&mut c, "ANALYZE bench_search");
        let enable = timed(
            &mut c,
            "SET client_min_messages = warning; SELECT codevec.enable_search('bench_search', 'code', 'emb'); RESET client_min_messages",
        );
        let mib: i64 = c
            .query_one("SELECT pg_total_relation_size('bench_search') >> 20", &[])
            .unwrap()
            .get(0);
        println!(
            "table: {n} rows ({py} Python, {} Rust), {mib} MiB with indexes; COPY {copy:.1} s, \
             ivf index {index:.1} s, ANALYZE {analyze:.1} s, enable_search {enable:.1} s",
            n - py
        );
    }
    let lists: i64 = c
        .query_one(
            "SELECT round(sqrt(count(*)))::bigint FROM bench_search",
            &[],
        )
        .unwrap()
        .get(0);
    println!(
        "{TIMED} questions (queries.jsonl 1..{TIMED}), after {WARM} warm-up ones; ivf lists ~{lists}, default probes"
    );
    let kinds: [(&str, Statement); 3] = [
        (
            "search (codevec.search, k 10)",
            c.prepare("SELECT * FROM codevec.search(NULL::bench_search, $1, 10)")
                .unwrap(),
        ),
        (
            "vector (ORDER BY emb <=> embed LIMIT 10)",
            c.prepare("SELECT id FROM bench_search ORDER BY emb <=> codevec.embed($1) LIMIT 10")
                .unwrap(),
        ),
        (
            "embed (codevec.embed alone)",
            c.prepare("SELECT codevec.embed($1)").unwrap(),
        ),
    ];
    for q in &qs[TIMED..] {
        for (_, s) in &kinds {
            c.query(s, &[q]).unwrap();
        }
    }
    let mut lat: [Lat; 3] = Default::default();
    for (i, q) in qs[..TIMED].iter().enumerate() {
        for j in 0..3 {
            let k = (i + j) % 3;
            let t = Instant::now();
            let r = c.query(&kinds[k].1, &[q]).unwrap();
            lat[k].0.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(k == 2 || r.len() == 10, "{}: {} rows", kinds[k].0, r.len());
        }
    }
    println!();
    println!("| query | p50 ms | p95 ms | mean ms |");
    println!("|---|---:|---:|---:|");
    for ((name, _), l) in kinds.iter().zip(&lat) {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            l.pct(0.5),
            l.pct(0.95),
            l.mean()
        );
    }
    let (s, v, e) = (&lat[0], &lat[1], &lat[2]);
    println!();
    println!(
        "search / vector: p50 {:.2}×, p95 {:.2}×, mean {:.2}×; beyond the encoder (mean − embed): search {:.2} ms, vector {:.2} ms",
        s.pct(0.5) / v.pct(0.5),
        s.pct(0.95) / v.pct(0.95),
        s.mean() / v.mean(),
        s.mean() - e.mean(),
        v.mean() - e.mean()
    );
}
