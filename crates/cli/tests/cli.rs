//! The `codevec` binary end to end (no database: `split` and `load --dry-run`).

use std::process::Command;

fn codevec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_codevec"))
}

fn fixtures() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("tests/fixtures/split")
}

/// Whether `text` has a line equal to `want` up to runs of spaces.
fn has_line(text: &str, want: &str) -> bool {
    let want: Vec<&str> = want.split_whitespace().collect();
    text.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == want)
}

#[test]
fn split_prints_json_lines() {
    let out = codevec()
        .arg("split")
        .arg(fixtures().join("sample.go"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[1]["symbol"], "Server.Handle");
    assert_eq!(lines[1]["language"], "go");
    assert_eq!(lines[1]["start_line"], 12);
    assert_eq!(lines[1]["end_line"], 18);
    assert!(lines[1]["code"]
        .as_str()
        .unwrap()
        .ends_with("return nil\n}"));
}

#[test]
fn split_language_override_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("script");
    std::fs::write(&f, "def main():\n    pass\n").unwrap();
    let out = codevec().arg("split").arg(&f).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--language"));
    let out = codevec()
        .args(["split", "--language", "python"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"symbol\":\"main\""));
}

#[test]
fn dry_run_reports_counts_without_a_server() {
    let out = codevec()
        .args(["load", "--dry-run", "--dsn", "host=/nonexistent port=1"])
        .arg(fixtures())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(has_line(&stdout, "files seen: 6"), "{stdout}");
    assert!(has_line(&stdout, "rows would load: 50"), "{stdout}");
    for lang in ["python", "rust", "javascript", "typescript", "go"] {
        assert!(stdout.contains(lang), "{stdout}");
    }
    // Not a terminal: plain progress lines, not a bar.
    assert!(String::from_utf8_lossy(&out.stderr).contains("progress: 6/6 files"));
}

#[test]
fn load_without_server_fails() {
    let out = codevec()
        .args([
            "load",
            "--quiet",
            "--dsn",
            "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2",
        ])
        .arg(fixtures())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to host=127.0.0.1 port=1"));
}

#[test]
fn search_refuses_blank_questions_and_bad_filters_before_connecting() {
    // The DSN is unreachable: these fail on the arguments, not on the connection.
    for (args, want) in [
        (vec!["search", "   "], "question is empty"),
        (vec!["search", "", "\t"], "question is empty"),
        (
            vec!["search", "--filter", "{not json", "a question"],
            "--filter is not valid JSON",
        ),
        (vec!["search", "--table", "a b", "q"], "table name"),
    ] {
        let out = codevec()
            .args(&args)
            .args(["--dsn", "host=/nonexistent port=1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("connecting"), "{args:?}: {stderr}");
    }
    // Without a question clap says what is missing.
    let out = codevec().arg("search").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("QUESTION"));
    // A connection failure is reported as one.
    let out = codevec()
        .args(["search", "--dsn", "host=/nonexistent port=1", "q"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to"));
}
