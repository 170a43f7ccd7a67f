//! The encoder through SQL: agreement with the reference PyTorch embeddings, cancellation,
//! huge inputs, concurrent first loads, non-UTF-8 databases, broken model files.

use crate::common::{client, sqlstate};
use std::time::Instant;

fn shared_data() -> std::path::PathBuf {
    std::env::var("CODEVEC_SHARED_DATA")
        .map(Into::into)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(
                std::env::var("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
            )
            .join("../shared/data")
        })
}

fn parse_vec(s: &str) -> Vec<f64> {
    s.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn sql_embeddings_match_the_reference_encoder() {
    let path = shared_data().join("minilm-reference.json");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let rows = json["rows"].as_array().expect("rows");
    assert!(rows.len() >= 40);
    let mut c = client();
    let mut worst = 1.0f64;
    for r in rows {
        let text = r["text"].as_str().unwrap();
        let want: Vec<f64> = r["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let row = c
            .query_one(
                "SELECT codevec.embed($1)::text, codevec.token_count($1)",
                &[&text],
            )
            .unwrap();
        let got = parse_vec(&row.get::<_, String>(0));
        assert_eq!(got.len(), 384);
        let cos = cosine(&got, &want);
        worst = worst.min(cos);
        assert!(
            cos >= 0.9999,
            "cosine {cos} for {:?}",
            &text[..text.len().min(60)]
        );
        assert_eq!(
            row.get::<_, i32>(1) as i64,
            r["token_count"].as_i64().unwrap(),
            "token count of {:?}",
            &text[..text.len().min(60)]
        );
    }
    println!(
        "min cosine to reference over {} texts: {worst:.7}",
        rows.len()
    );
}

/// Runs a 5,000-text `embed_batch` under `statement_timeout = 1s`: it must fail with 57014
/// within 2.5 s (`what` names the set-up in the message).
fn assert_long_batch_is_cancelled(c: &mut postgres::Client, what: &str) {
    c.batch_execute("SET statement_timeout = '1s'").unwrap();
    let t = Instant::now();
    let e = c
        .query_one("SELECT codevec.embed_batch(array_agg(repeat('def f(x): return x * ' || i, 40))) FROM generate_series(1, 5000) i", &[])
        .expect_err("a 5000-text batch takes far longer than 1 s");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(sqlstate(&e), "57014", "{what}: {e}");
    assert!(
        secs < 2.5,
        "{what}: cancelled after {secs:.2} s (timeout 1 s)"
    );
    c.batch_execute("RESET statement_timeout").unwrap();
}

#[test]
fn statement_timeout_interrupts_a_long_batch_within_a_second() {
    let mut c = client();
    assert_long_batch_is_cancelled(&mut c, "1 thread");
    let d: i32 = c
        .query_one("SELECT dims(codevec.embed('still works'))", &[])
        .unwrap()
        .get(0);
    assert_eq!(d, 384);
}

#[test]
fn two_encoder_threads_give_identical_embeddings_and_stay_cancellable() {
    let mut c = client();
    // 120 texts of 3..~200 tokens: at 2 threads 15 or more mini-batches of up to 8 texts (1 024
    // tokens) shared out between the two workers, at 1 thread fewer; a lone query has each
    // product split across the workers. Batch composition must not change a text's vector.
    let batch = "SELECT codevec.embed_batch(array_agg(repeat('def f' || i || '(x): return x * ' || i || ' ', 1 + i % 25) ORDER BY i))::text FROM generate_series(1, 120) i";
    let query = "SELECT codevec.embed('parse a date string')::text, codevec.embed('parse a date string', 'int8')::text";
    let run = |c: &mut postgres::Client| {
        let b: String = c.query_one(batch, &[]).unwrap().get(0);
        let q = c.query_one(query, &[]).unwrap();
        (b, q.get::<_, String>(0), q.get::<_, String>(1))
    };
    c.batch_execute("SET codevec.encoder_batch_size = 8")
        .unwrap();
    let one = run(&mut c);
    c.batch_execute("SET codevec.encoder_threads = 2").unwrap();
    let two = run(&mut c);
    let threads: i32 = c
        .query_one("SELECT threads FROM codevec.encoder_info()", &[])
        .unwrap()
        .get(0);
    assert_eq!(threads, 2);
    // every product element is computed by one worker over the whole depth: bit-identical
    assert!(
        one.0 == two.0,
        "embed_batch differs between 1 and 2 threads"
    );
    assert_eq!(one.1, two.1, "f32 query");
    assert_eq!(one.2, two.2, "int8 query");

    assert_long_batch_is_cancelled(&mut c, "2 threads");
    let after: String = c.query_one(query, &[]).unwrap().get(0);
    assert_eq!(after, one.1, "the encoder works after the cancel");
}

#[test]
fn ten_megabytes_of_text_is_truncated_quickly() {
    let mut c = client();
    c.batch_execute(
        "CREATE TEMP TABLE big AS SELECT repeat('tokenize this long line please ', 350000) AS t",
    )
    .unwrap();
    let len: i32 = c
        .query_one("SELECT length(t) FROM big", &[])
        .unwrap()
        .get(0);
    assert!(len > 10_000_000);
    let t = Instant::now();
    let row = c.query_one("SELECT codevec.token_count(t), codevec.embed(t) = codevec.embed(left(t, 5000)) FROM big", &[]).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(row.get::<_, i32>(0), 256);
    assert!(row.get::<_, bool>(1), "a 10 MB text embeds like its prefix");
    assert!(secs < 2.0, "took {secs:.2} s");
}

#[test]
fn many_backends_loading_the_model_at_once_agree() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut c = client();
                c.query_one("SELECT codevec.embed('concurrent first load')::text", &[])
                    .unwrap()
                    .get::<_, String>(0)
            })
        })
        .collect();
    let outs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn text_in_a_latin1_database_is_converted_to_utf8() {
    let mut c = client();
    let utf8: String = c
        .query_one("SELECT codevec.embed('café naïve')::text", &[])
        .unwrap()
        .get(0);
    c.batch_execute("DROP DATABASE IF EXISTS codevec_latin1")
        .unwrap();
    c.batch_execute("CREATE DATABASE codevec_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0").unwrap();
    let host = std::env::var("CODEVEC_PGHOST").unwrap();
    let port = std::env::var("CODEVEC_PGPORT").unwrap();
    let mut l = postgres::Client::connect(
        &format!("host={host} port={port} user=postgres dbname=codevec_latin1"),
        postgres::NoTls,
    )
    .unwrap();
    l.batch_execute("CREATE EXTENSION codevec").unwrap();
    let latin: String = l
        .query_one("SELECT codevec.embed('café naïve')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(latin, utf8);
    drop(l);
    c.batch_execute("DROP DATABASE codevec_latin1").unwrap();
}

#[test]
fn corrupt_model_files_give_a_clear_error_naming_the_path() {
    let dir = std::env::temp_dir().join(format!("codevec-bad-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), b"{ not json").unwrap();
    std::fs::write(dir.join("tokenizer.json"), b"{}").unwrap();
    std::fs::write(
        dir.join("model.safetensors"),
        b"\x08\x00\x00\x00\x00\x00\x00\x00{}",
    )
    .unwrap();
    for f in ["", "config.json", "tokenizer.json", "model.safetensors"] {
        let p = dir.join(f);
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        perm.set_mode(if f.is_empty() { 0o755 } else { 0o644 });
        std::fs::set_permissions(&p, perm).unwrap();
    }
    let mut c = client();
    c.batch_execute(&format!("SET codevec.model_dir = '{}'", dir.display()))
        .unwrap();
    let e = c
        .query_one("SELECT codevec.embed('x')", &[])
        .expect_err("corrupt model");
    let msg = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    assert!(
        ["XX001", "58P01", "58030"].contains(&sqlstate(&e).as_str()),
        "{e}"
    );
    c.batch_execute("RESET codevec.model_dir").unwrap();
    let d: i32 = c
        .query_one("SELECT dims(codevec.embed('x'))", &[])
        .unwrap()
        .get(0);
    assert_eq!(d, 384);
    std::fs::remove_dir_all(&dir).ok();
}

/// `Pss` of a backend in kB (`/proc/<pid>/smaps_rollup`), or None where there is none.
fn pss_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Issue #11 §4: the packed weights are in memory once per server. Four backends that each
/// embed once map one cache file (`weights = mapped` or `written`, the same file), each
/// costs a fraction of a backend with private weights, and a new connection's first embed
/// no longer packs the weights.
#[test]
fn backends_share_one_copy_of_the_weights() {
    let Some(_) = pss_kb(std::process::id() as i32) else {
        eprintln!("skipped: no /proc/<pid>/smaps_rollup on this system");
        return;
    };
    // a backend with private weights, for comparison
    let mut private = client();
    private
        .batch_execute("SET codevec.weights_cache_dir = off")
        .unwrap();
    private
        .query_one("SELECT codevec.embed('warm up')", &[])
        .unwrap();
    let (src, ppid): (String, i32) = {
        let r = private
            .query_one(
                "SELECT weights, pg_backend_pid() FROM codevec.encoder_info()",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(src, "private");
    // make sure the cache file exists, then four fresh backends at once
    client()
        .query_one("SELECT codevec.embed('warm up')", &[])
        .unwrap();
    let mut clients: Vec<_> = (0..4).map(|_| client()).collect();
    let firsts: Vec<f64> = std::thread::scope(|s| {
        let hs: Vec<_> = clients
            .iter_mut()
            .map(|c| {
                s.spawn(move || {
                    let t = Instant::now();
                    c.query_one("SELECT codevec.embed('parse a date string')", &[])
                        .unwrap();
                    t.elapsed().as_secs_f64() * 1000.0
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut files = std::collections::HashSet::new();
    let mut pss = vec![];
    for c in clients.iter_mut() {
        let r = c
            .query_one(
                "SELECT weights, weights_file, pg_backend_pid() FROM codevec.encoder_info()",
                &[],
            )
            .unwrap();
        let (w, f, pid): (String, Option<String>, i32) = (r.get(0), r.get(1), r.get(2));
        assert_eq!(w, "mapped", "a fresh backend maps the existing file");
        files.insert(f.expect("a mapped backend names its file"));
        pss.push(pss_kb(pid).unwrap());
    }
    assert_eq!(files.len(), 1, "one file for all: {files:?}");
    let private_pss = pss_kb(ppid).unwrap();
    eprintln!(
        "first embed of a new connection: {firsts:.0?} ms; PSS with 4 mapping backends: {:?} MB; a private backend: {} MB",
        pss.iter().map(|k| k / 1024).collect::<Vec<_>>(),
        private_pss / 1024
    );
    for &p in &pss {
        assert!(
            p * 2 < private_pss,
            "a mapping backend's PSS ({p} kB) is not well below a private one's ({private_pss} kB)"
        );
    }
    // loose bound (busy CI hosts): the first embed maps and checks, it does not pack
    assert!(
        firsts.iter().all(|&ms| ms < 3000.0),
        "first embeds took {firsts:?} ms"
    );
}
