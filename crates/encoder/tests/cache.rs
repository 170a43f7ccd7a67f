//! The packed-weights cache (`EncoderOptions::cache_dir`): mapped weights give the same
//! embeddings bit for bit as private ones at every kernel level and precision; stale,
//! corrupt or truncated files are detected and rebuilt; concurrent loads (threads and
//! processes) end with one file and no temporary files; an unusable directory falls back to
//! private weights; and the memory (PSS) of several processes sharing one file.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use codevec_encoder::{Encoder, EncoderInfo, EncoderOptions, Kernels, Precision, WeightsSource};

const PRECISIONS: [Precision; 2] = [Precision::F32, Precision::Int8];

fn texts() -> Vec<String> {
    let mut t: Vec<String> = [
        "",
        "hello world",
        "def add(a, b):\n    return a + b",
        "read a file line by line and count the words",
    ]
    .map(String::from)
    .to_vec();
    t.extend(
        common::codesearch("code", 2)
            .into_iter()
            .map(|c| c.chars().take(300).collect()),
    );
    t
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("codevec-cache-{name}-{}", std::process::id()));
    let _ = make_writable_and_remove(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn make_writable_and_remove(d: &Path) -> std::io::Result<()> {
    if let Ok(m) = std::fs::metadata(d) {
        let mut p = m.permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        let _ = std::fs::set_permissions(d, p);
        if !m.is_dir() {
            return std::fs::remove_file(d);
        }
    }
    std::fs::remove_dir_all(d)
}

fn load_at(model: &Path, cache: Option<&Path>, precision: Precision, kernels: Kernels) -> Encoder {
    Encoder::load_with_kernels(
        model,
        EncoderOptions {
            precision,
            cache_dir: cache.map(Path::to_owned),
            ..Default::default()
        },
        kernels,
    )
    .unwrap_or_else(|e| panic!("load ({precision}, {kernels}, cache {cache:?}): {e}"))
}

fn load(cache: Option<&Path>, precision: Precision, kernels: Kernels) -> Encoder {
    load_at(&common::model_dir(), cache, precision, kernels)
}

/// The embeddings' bits, for exact comparison.
fn embed_bits(enc: &Encoder, texts: &[String]) -> Vec<Vec<u32>> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    enc.embed_batch(&refs, &AtomicBool::new(false))
        .unwrap()
        .into_iter()
        .map(|v| v.into_iter().map(f32::to_bits).collect())
        .collect()
}

/// Names of the files in `dir`: (cache files, temporary files).
fn files(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().partition(|n| n.ends_with(".weights"))
}

fn describe(info: &EncoderInfo) -> String {
    format!(
        "{} (shared {}, file {:?}, note {:?})",
        info.weights_source, info.weights_shared, info.weights_file, info.weights_note
    )
}

#[test]
fn mapped_weights_give_bit_identical_embeddings_at_every_level_and_precision() {
    let dir = scratch("identical");
    let texts = texts();
    let mut layouts = std::collections::BTreeSet::new();
    for kernels in Kernels::available() {
        for precision in PRECISIONS {
            let private = load(None, precision, kernels);
            let pi = private.info();
            assert_eq!(pi.weights_source, WeightsSource::Private);
            assert!(pi.weights_file.is_none() && pi.weights_note.is_none());
            let want = embed_bits(&private, &texts);
            drop(private);

            let first = load(Some(&dir), precision, kernels);
            let fi = first.info();
            let new_layout = layouts.insert(fi.weights_layout.clone());
            let expected = if new_layout {
                WeightsSource::Written
            } else {
                WeightsSource::Mapped
            };
            assert_eq!(fi.weights_source, expected, "{}", describe(&fi));
            assert_eq!(fi.weights_shared, cfg!(unix));
            assert_eq!(
                embed_bits(&first, &texts),
                want,
                "{precision} {kernels}: first"
            );

            let second = load(Some(&dir), precision, kernels);
            let si = second.info();
            assert_eq!(
                si.weights_source,
                WeightsSource::Mapped,
                "{}",
                describe(&si)
            );
            assert!(si.weights_note.is_none(), "{}", describe(&si));
            assert_eq!(si.weights_file, fi.weights_file);
            assert_eq!(
                embed_bits(&second, &texts),
                want,
                "{precision} {kernels}: second"
            );
            eprintln!(
                "{precision} at {kernels}: layout {}, private = written/mapped bit for bit",
                si.weights_layout
            );
        }
    }
    let (cache, temps) = files(&dir);
    assert_eq!(cache.len(), layouts.len(), "{cache:?} for {layouts:?}");
    assert!(temps.is_empty(), "{temps:?}");
    make_writable_and_remove(&dir).unwrap();
}

/// Rewrites the (read-only) cache file at `path` with `f` applied to its bytes. No encoder
/// may map it meanwhile.
fn tamper(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    make_writable_and_remove(path).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn corrupt_truncated_and_stale_files_are_detected_and_rebuilt() {
    let dir = scratch("corrupt");
    let texts = texts();
    let kernels = Kernels::detect();
    for precision in PRECISIONS {
        let want = embed_bits(&load(None, precision, kernels), &texts);
        let path = {
            let enc = load(Some(&dir), precision, kernels);
            assert_eq!(enc.info().weights_source, WeightsSource::Written);
            enc.info().weights_file.unwrap()
        };
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        type Tamper = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: Vec<(&str, Tamper, &str)> = vec![
            (
                "a flipped payload byte (middle)",
                Box::new(move |b| b[len / 2] ^= 0x10),
                "payload checksum",
            ),
            (
                "a flipped payload byte (last)",
                Box::new(move |b| b[len - 1] ^= 1),
                "payload checksum",
            ),
            (
                "truncated by a page",
                Box::new(move |b| b.truncate(len - 4096)),
                "truncated",
            ),
            (
                "truncated to the header",
                Box::new(|b| b.truncate(100)),
                "truncated",
            ),
            (
                "another format version",
                Box::new(|b| b[8..12].copy_from_slice(&3u32.to_le_bytes())),
                "format version 3",
            ),
            (
                "a flipped table byte",
                Box::new(|b| b[160 + 24 * 3 + 9] ^= 1),
                "header checksum",
            ),
            ("not a weights file", Box::new(|b| b[0] = b'X'), "magic"),
            ("empty", Box::new(|b| b.clear()), "truncated"),
        ];
        for (what, f, reason) in cases {
            tamper(&path, f);
            let enc = load(Some(&dir), precision, kernels);
            let info = enc.info();
            assert_eq!(
                info.weights_source,
                WeightsSource::Written,
                "{precision}, {what}: {}",
                describe(&info)
            );
            let note = info.weights_note.clone().unwrap_or_default();
            assert!(note.contains(reason), "{precision}, {what}: note {note:?}");
            assert_eq!(embed_bits(&enc, &texts), want, "{precision}, {what}");
            drop(enc);
            // and the rebuilt file is good
            let again = load(Some(&dir), precision, kernels);
            assert_eq!(again.info().weights_source, WeightsSource::Mapped, "{what}");
            eprintln!("{precision}, {what}: rebuilt ({note})");
        }
    }
    let (_, temps) = files(&dir);
    assert!(temps.is_empty(), "{temps:?}");
    make_writable_and_remove(&dir).unwrap();
}

#[test]
fn a_changed_model_file_with_the_same_size_and_mtime_is_detected() {
    let root = scratch("stale");
    let model = root.join("model");
    let cache = root.join("cache");
    std::fs::create_dir_all(&model).unwrap();
    let src = common::model_dir();
    for f in codevec_encoder::MODEL_FILES {
        std::fs::copy(src.join(f), model.join(f)).unwrap();
    }
    let texts = texts();
    let kernels = Kernels::detect();
    let first = load_at(&model, Some(&cache), Precision::F32, kernels);
    assert_eq!(first.info().weights_source, WeightsSource::Written);
    let before = embed_bits(&first, &texts);
    drop(first);

    // change one weight of model.safetensors in place, keep its size and mtime: a value of
    // the word embeddings' [CLS] row (id 101), found through the header
    let st = model.join("model.safetensors");
    let meta = std::fs::metadata(&st).unwrap();
    let mtime = meta.modified().unwrap();
    let mut bytes = std::fs::read(&st).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let begin = header["embeddings.word_embeddings.weight"]["data_offsets"][0]
        .as_u64()
        .unwrap() as usize;
    let at = 8 + n + begin + (101 * 384 + 7) * 4;
    let v = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    bytes[at..at + 4].copy_from_slice(&(v + 0.5).to_le_bytes());
    std::fs::write(&st, &bytes).unwrap();
    let f = std::fs::File::options().write(true).open(&st).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let meta2 = std::fs::metadata(&st).unwrap();
    assert_eq!(
        (meta2.len(), meta2.modified().unwrap()),
        (meta.len(), mtime)
    );

    let second = load_at(&model, Some(&cache), Precision::F32, kernels);
    let info = second.info();
    assert_eq!(
        info.weights_source,
        WeightsSource::Written,
        "{}",
        describe(&info)
    );
    let note = info.weights_note.clone().unwrap();
    assert!(note.contains("stale"), "{note}");
    let got = embed_bits(&second, &texts);
    let want = embed_bits(&load_at(&model, None, Precision::F32, kernels), &texts);
    assert_eq!(got, want, "the rebuilt weights are the changed model's");
    assert_ne!(
        got, before,
        "the change moves the embeddings (it is a real test)"
    );
    eprintln!("changed model.safetensors (same size and mtime): {note}");
    // a changed config.json of the same size (a space of the indentation turned into a
    // tab: the same JSON) is a different fingerprint too
    drop(second);
    let cfg = model.join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let changed = text.replacen(' ', "\t", 1);
    assert_eq!(changed.len(), text.len());
    assert_ne!(changed, text);
    std::fs::write(&cfg, changed).unwrap();
    let third = load_at(&model, Some(&cache), Precision::F32, kernels);
    let note = third.info().weights_note.unwrap_or_default();
    assert_eq!(third.info().weights_source, WeightsSource::Written);
    assert!(note.contains("stale"), "{note}");
    make_writable_and_remove(&root).unwrap();
}

#[test]
fn concurrent_loads_in_threads_end_with_one_file_and_no_temporaries() {
    let dir = scratch("threads");
    let texts = texts();
    let kernels = Kernels::detect();
    let want = embed_bits(&load(None, Precision::F32, kernels), &texts);
    let n = 4;
    let barrier = Arc::new(Barrier::new(n));
    let results: Vec<(EncoderInfo, Vec<Vec<u32>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (barrier, dir, texts) = (barrier.clone(), &dir, &texts);
                s.spawn(move || {
                    barrier.wait();
                    let enc = load(Some(dir), Precision::F32, kernels);
                    (enc.info(), embed_bits(&enc, texts))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut written = 0;
    for (info, got) in &results {
        eprintln!("thread: {}", describe(info));
        assert_ne!(
            info.weights_source,
            WeightsSource::Private,
            "{}",
            describe(info)
        );
        written += (info.weights_source == WeightsSource::Written) as usize;
        assert_eq!(got, &want);
        assert_eq!(info.weights_file, results[0].0.weights_file);
    }
    assert_eq!(written, 1, "exactly one thread publishes the file");
    let (cache, temps) = files(&dir);
    assert_eq!(cache.len(), 1, "{cache:?}");
    assert!(temps.is_empty(), "{temps:?}");
    make_writable_and_remove(&dir).unwrap();
}

#[test]
fn an_unusable_cache_directory_falls_back_to_private_weights() {
    let root = scratch("unwritable");
    let texts = texts();
    let kernels = Kernels::detect();
    let want = embed_bits(&load(None, Precision::F32, kernels), &texts);
    // a "directory" below a regular file cannot be created, not even by root
    let file = root.join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let enc = load(Some(&file.join("cache")), Precision::F32, kernels);
    let info = enc.info();
    assert_eq!(
        info.weights_source,
        WeightsSource::Private,
        "{}",
        describe(&info)
    );
    assert!(!info.weights_shared && info.weights_file.is_none());
    let note = info.weights_note.clone().unwrap();
    assert!(note.contains("cannot write the cache file"), "{note}");
    assert_eq!(embed_bits(&enc, &texts), want);
    eprintln!("cache dir below a file: {note}");

    // a read-only directory: a valid file there is still mapped; without one, private
    // (unless running as root, who may write anyway)
    let ro = root.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    drop(load(Some(&ro), Precision::F32, kernels));
    let mut p = std::fs::metadata(&ro).unwrap().permissions();
    p.set_readonly(true);
    std::fs::set_permissions(&ro, p).unwrap();
    let enc = load(Some(&ro), Precision::F32, kernels);
    assert_eq!(enc.info().weights_source, WeightsSource::Mapped);
    assert_eq!(embed_bits(&enc, &texts), want);
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            let enc = load(Some(&ro), Precision::Int8, kernels);
            let info = enc.info();
            assert_eq!(
                info.weights_source,
                WeightsSource::Private,
                "{}",
                describe(&info)
            );
            eprintln!("read-only dir: {:?}", info.weights_note);
        } else {
            eprintln!("running as root: the read-only directory case without a file is skipped");
        }
    }
    make_writable_and_remove(&root).unwrap();
}

#[test]
fn temporary_files_of_dead_writers_are_removed_by_the_next_writer() {
    let dir = scratch("temps");
    let kernels = Kernels::detect();
    let path = load(Some(&dir), Precision::F32, kernels)
        .info()
        .weights_file
        .unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    make_writable_and_remove(&path).unwrap();
    let old = dir.join(format!(".{name}.4242.00000000deadbeef.tmp"));
    let young = dir.join(format!(".{name}.4243.00000000cafef00d.tmp"));
    let unrelated = dir.join(".something-else.4244.0.tmp");
    for p in [&old, &young, &unrelated] {
        std::fs::write(p, b"half written").unwrap();
    }
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for p in [&old, &unrelated] {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(hour_ago).unwrap();
    }
    let enc = load(Some(&dir), Precision::F32, kernels);
    assert_eq!(enc.info().weights_source, WeightsSource::Written);
    assert!(!old.exists(), "a temporary file an hour old is removed");
    assert!(young.exists(), "a young one may belong to a live writer");
    assert!(unrelated.exists(), "other files are left alone");
    make_writable_and_remove(&dir).unwrap();
}

// ---- child processes -------------------------------------------------------------------

const CHILD: &str = "CODEVEC_CACHE_TEST_CHILD";

/// Not a test of its own: the body of the child processes of the tests below, which run the
/// test binary again with `CODEVEC_CACHE_TEST_CHILD` set (a no-op otherwise).
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    // spec: <mode private|cache>,<precision>,<cache dir>,<sync dir>,<index>,<count>
    let parts: Vec<&str> = spec.split(',').collect();
    let precision: Precision = parts[1].parse().unwrap();
    let (sync, index, count): (PathBuf, usize, usize) = (
        parts[3].into(),
        parts[4].parse().unwrap(),
        parts[5].parse().unwrap(),
    );
    let cache = (parts[0] == "cache").then(|| PathBuf::from(parts[2]));
    let wait_for = |tag: &str| {
        let t0 = Instant::now();
        while (0..count).any(|i| !sync.join(format!("{tag}.{i}")).exists()) {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "siblings never got {tag}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // start together (the race), then measure when every sibling has loaded
    std::fs::write(sync.join(format!("start.{index}")), b"").unwrap();
    wait_for("start");
    let t0 = Instant::now();
    let enc = load(cache.as_deref(), precision, Kernels::detect());
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let v = enc
        .embed("read a file line by line and count the words")
        .unwrap();
    let hash = v
        .iter()
        .fold(0u64, |h, x| h.rotate_left(5) ^ x.to_bits() as u64);
    let info = enc.info();
    #[cfg(unix)]
    let inode = info.weights_file.as_ref().map_or(0, |f| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(f).unwrap().ino()
    });
    #[cfg(not(unix))]
    let inode = 0u64;
    std::fs::write(sync.join(format!("loaded.{index}")), b"").unwrap();
    wait_for("loaded");
    let (pss, rss) = memory_kib();
    println!(
        "CHILD_RESULT {index} source={} pss_kib={pss} rss_kib={rss} load_ms={load_ms:.1} hash={hash:016x} inode={inode}",
        info.weights_source
    );
    std::fs::write(sync.join(format!("measured.{index}")), b"").unwrap();
    // stay alive (and mapped) until every sibling has measured
    wait_for("measured");
}

/// (PSS, RSS) of this process in KiB (Linux), or zeros.
fn memory_kib() -> (u64, u64) {
    let field = |file: &str, key: &str| -> u64 {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    };
    (
        field("/proc/self/smaps_rollup", "Pss:"),
        field("/proc/self/status", "VmRSS:"),
    )
}

#[derive(Debug)]
struct ChildResult {
    source: String,
    pss_kib: u64,
    rss_kib: u64,
    load_ms: f64,
    hash: String,
    inode: u64,
}

/// Runs `count` children at once (same mode, precision and cache dir) and returns their
/// results.
fn run_children(mode: &str, precision: Precision, cache: &Path, count: usize) -> Vec<ChildResult> {
    let sync = scratch(&format!("sync-{mode}-{precision}-{count}"));
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..count)
        .map(|i| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_process_entry", "--nocapture"])
                .args(["--test-threads", "1"])
                .env(
                    CHILD,
                    format!(
                        "{mode},{precision},{},{},{i},{count}",
                        cache.display(),
                        sync.display()
                    ),
                )
                .env("CODEVEC_MODEL_DIR", common::model_dir())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut out = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "child failed: {text}");
        let line = text
            .lines()
            .find_map(|l| l.find("CHILD_RESULT").map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("no result from child: {text}"));
        let kv = |k: &str| -> String {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")).map(str::to_string))
                .unwrap()
        };
        out.push(ChildResult {
            source: kv("source"),
            pss_kib: kv("pss_kib").parse().unwrap(),
            rss_kib: kv("rss_kib").parse().unwrap(),
            load_ms: kv("load_ms").parse().unwrap(),
            hash: kv("hash"),
            inode: kv("inode").parse().unwrap(),
        });
    }
    make_writable_and_remove(&sync).unwrap();
    out
}

#[test]
fn processes_racing_to_create_the_cache_share_one_file() {
    let dir = scratch("race");
    for precision in PRECISIONS {
        let r = run_children("cache", precision, &dir, 4);
        for c in &r {
            eprintln!("{precision} racing child: {c:?}");
        }
        assert!(r.iter().all(|c| c.source != "private"), "{r:?}");
        assert_eq!(
            r.iter().filter(|c| c.source == "written").count(),
            1,
            "{r:?}"
        );
        assert!(r.iter().all(|c| c.hash == r[0].hash), "{r:?}");
        if cfg!(unix) {
            assert!(
                r.iter().all(|c| c.inode == r[0].inode && c.inode != 0),
                "{r:?}"
            );
        }
    }
    let (cache, temps) = files(&dir);
    assert_eq!(cache.len(), 2, "{cache:?}");
    assert!(temps.is_empty(), "{temps:?}");
    make_writable_and_remove(&dir).unwrap();
}

#[test]
fn four_processes_mapping_one_cache_file_share_its_memory() {
    if !Path::new("/proc/self/smaps_rollup").exists() {
        eprintln!("skipped: no /proc/self/smaps_rollup (PSS is measured on Linux only)");
        return;
    }
    let dir = scratch("pss");
    for precision in PRECISIONS {
        // the file exists before the children start: they all map it
        drop(load(Some(&dir), precision, Kernels::detect()));
        let private = run_children("private", precision, &dir, 1).remove(0);
        let mapped = run_children("cache", precision, &dir, 4);
        assert!(mapped.iter().all(|c| c.source == "mapped"), "{mapped:?}");
        assert!(mapped.iter().all(|c| c.hash == private.hash));
        let pss: Vec<f64> = mapped.iter().map(|c| c.pss_kib as f64 / 1024.0).collect();
        let rss: Vec<f64> = mapped.iter().map(|c| c.rss_kib as f64 / 1024.0).collect();
        let load: Vec<f64> = mapped.iter().map(|c| c.load_ms).collect();
        let file_mib = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains(&format!(".{precision}-"))
            })
            .map(|e| e.metadata().unwrap().len() as f64 / (1 << 20) as f64)
            .sum::<f64>();
        eprintln!(
            "{precision}: private load: RSS {:.1} MiB, PSS {:.1} MiB, load {:.0} ms | 4 processes mapping one {file_mib:.1} MiB file: PSS {pss:.1?} MiB, RSS {rss:.1?} MiB, load {load:.0?} ms",
            private.rss_kib as f64 / 1024.0,
            private.pss_kib as f64 / 1024.0,
            private.load_ms,
        );
        let private_rss = private.rss_kib as f64 / 1024.0;
        for &p in &pss {
            assert!(
                p < 0.65 * private_rss,
                "{precision}: PSS {p:.1} MiB per mapping process, private RSS {private_rss:.1} MiB"
            );
        }
    }
    make_writable_and_remove(&dir).unwrap();
}

#[test]
fn load_time_from_an_existing_cache_file_vs_a_private_load() {
    let dir = scratch("loadtime");
    let kernels = Kernels::detect();
    for precision in PRECISIONS {
        let time = |cache: Option<&Path>| {
            (0..3)
                .map(|_| {
                    let t0 = Instant::now();
                    let enc = load(cache, precision, kernels);
                    let t = t0.elapsed();
                    assert_eq!(
                        enc.info().weights_source == WeightsSource::Private,
                        cache.is_none()
                    );
                    t
                })
                .min()
                .unwrap()
        };
        let t0 = Instant::now();
        let written = load(Some(&dir), precision, kernels);
        let write_time = t0.elapsed();
        assert_eq!(written.info().weights_source, WeightsSource::Written);
        drop(written);
        let private = time(None);
        let mapped = time(Some(&dir));
        eprintln!(
            "{precision} at {kernels}: load private {:.0} ms, from the cache file {:.0} ms, first load writing the file {:.0} ms (best of 3, files in the page cache)",
            private.as_secs_f64() * 1e3,
            mapped.as_secs_f64() * 1e3,
            write_time.as_secs_f64() * 1e3
        );
    }
    make_writable_and_remove(&dir).unwrap();
}
