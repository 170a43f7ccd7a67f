//! Skip rules: .gitignore, vendored directories, hidden files, unknown
//! extensions, size, binary and non-UTF-8 content. The trees are made in
//! temporary directories (a committed `.gitignore` would hide its own
//! fixtures from git).

use codevec_cli::lang::Grammar;
use codevec_cli::load::{self, DrySink, LoadOptions};
use codevec_cli::walk::{walk, Entry, SkipReason, WalkOptions, SKIPPED_DIRS};
use std::fs;
use std::path::{Path, PathBuf};

fn write(root: &Path, rel: &str, content: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

/// A small tree with one file for each rule.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "app/main.py", b"def main():\n    pass\n");
    write(r, "app/util.go", b"package app\n\nfunc U() {}\n");
    write(r, "app/notes.md", b"# notes\n");
    write(
        r,
        "app/empty.rs",
        b"// no functions here\nconst X: u8 = 1;\n",
    );
    write(r, ".gitignore", b"ignored.py\ngenerated/\n");
    write(r, "app/ignored.py", b"def hidden():\n    pass\n");
    write(r, "generated/out.js", b"function g() {}\n");
    for d in SKIPPED_DIRS {
        if *d != ".git" {
            write(r, &format!("{d}/lib.js"), b"function v() {}\n");
        }
    }
    write(r, "app/node_modules/pkg/index.js", b"function deep() {}\n");
    write(r, ".hidden/secret.py", b"def s():\n    pass\n");
    write(r, "app/big.py", &vec![b'#'; 2048]);
    write(r, "app/blob.py", b"def x():\n\0\0\0binary");
    write(r, "app/latin1.py", b"# caf\xe9\ndef f():\n    pass\n");
    write(r, "app/bundle.min.js", b"function m(){}");
    dir
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn walk_classifies_and_prunes() {
    let dir = tree();
    let root = dir.path();
    let result = walk(
        &[root],
        &WalkOptions {
            max_file_size: 1024,
        },
    );
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for e in &result.entries {
        match e {
            Entry::Source { path, grammar } => sources.push((rel(root, path), *grammar)),
            Entry::Skipped { path, reason } => skipped.push((rel(root, path), *reason)),
        }
    }
    sources.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        sources,
        vec![
            ("app/blob.py".to_string(), Grammar::Python),
            ("app/empty.rs".to_string(), Grammar::Rust),
            ("app/latin1.py".to_string(), Grammar::Python),
            ("app/main.py".to_string(), Grammar::Python),
            ("app/util.go".to_string(), Grammar::Go),
        ]
    );
    skipped.sort();
    assert_eq!(
        skipped,
        vec![
            ("app/big.py".to_string(), SkipReason::TooLarge),
            ("app/bundle.min.js".to_string(), SkipReason::Generated),
            ("app/notes.md".to_string(), SkipReason::UnknownExtension),
        ]
    );
    let mut pruned: Vec<String> = result.pruned_dirs.iter().map(|p| rel(root, p)).collect();
    pruned.sort();
    let mut want: Vec<String> = SKIPPED_DIRS
        .iter()
        .filter(|d| **d != ".git")
        .map(|d| d.to_string())
        .collect();
    want.push("app/node_modules".to_string());
    want.sort();
    assert_eq!(pruned, want);
    assert!(result.errors.is_empty(), "{:?}", result.errors);
}

#[test]
fn explicit_root_inside_vendored_dir_is_walked() {
    let dir = tree();
    let result = walk(&[dir.path().join("vendor")], &WalkOptions::default());
    assert_eq!(result.entries.len(), 1);
    assert!(matches!(
        &result.entries[0],
        Entry::Source {
            grammar: Grammar::JavaScript,
            ..
        }
    ));
}

#[test]
fn overlapping_roots_list_files_once() {
    let dir = tree();
    let app: PathBuf = dir.path().join("app");
    let result = walk(&[app.clone(), app.join("main.py")], &WalkOptions::default());
    let mains = result
        .entries
        .iter()
        .filter(|e| e.path().ends_with("main.py"))
        .count();
    assert_eq!(mains, 1);
}

#[test]
fn dry_run_counts_every_reason() {
    let dir = tree();
    let opts = LoadOptions {
        roots: vec![dir.path().to_path_buf()],
        walk: WalkOptions {
            max_file_size: 1024,
        },
        batch: 2,
        min_lines: 1,
        replace: false,
        quiet: true,
    };
    let s = load::run(&opts, &mut DrySink).unwrap();
    assert_eq!(s.files_seen, 8);
    assert_eq!(s.files_loaded, 2); // main.py, util.go
    assert_eq!(s.files_without_functions, 1); // empty.rs
    let count = |r| s.skipped.get(&r).copied().unwrap_or(0);
    assert_eq!(count(SkipReason::UnknownExtension), 1);
    assert_eq!(count(SkipReason::TooLarge), 1);
    assert_eq!(count(SkipReason::Binary), 1);
    assert_eq!(count(SkipReason::NotUtf8), 1);
    assert_eq!(count(SkipReason::Generated), 1);
    assert_eq!(s.files_skipped(), 5);
    assert_eq!(s.rows(), 2);
    assert_eq!(s.pruned_dirs, SKIPPED_DIRS.len() as u64); // 7 top-level + app/node_modules
}

#[test]
fn min_lines_drops_short_functions() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.py",
        b"def one(): pass\n\ndef three():\n    x = 1\n    return x\n",
    );
    let opts = LoadOptions {
        roots: vec![dir.path().to_path_buf()],
        walk: WalkOptions::default(),
        batch: 10,
        min_lines: 2,
        replace: false,
        quiet: true,
    };
    let s = load::run(&opts, &mut DrySink).unwrap();
    assert_eq!(s.rows(), 1);
    assert_eq!(s.rows_too_short, 1);
}
