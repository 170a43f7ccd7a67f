//! COPY text-format escaping: whatever the loader encodes decodes back to
//! the same row.

use codevec_cli::copy::{decode_line, encode_row, Columns, Row, COLUMNS};
use codevec_cli::lang::Grammar;
use codevec_cli::split::split;

fn row(path: &str, symbol: &str, code: &str) -> Row {
    Row {
        path: path.into(),
        language: "python".into(),
        symbol: symbol.into(),
        start_line: 3,
        end_line: 42,
        code: code.into(),
        doc: None,
    }
}

fn round_trip(rows: &[Row]) {
    let mut buf = Vec::new();
    for r in rows {
        encode_row(r, Columns::All, &mut buf);
    }
    // Escaped data has exactly one raw newline per row, no stray tabs.
    assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), rows.len());
    let lines: Vec<&[u8]> = buf
        .strip_suffix(b"\n")
        .unwrap_or(&buf)
        .split(|&b| b == b'\n')
        .collect();
    assert_eq!(lines.len(), rows.len());
    for (line, r) in lines.iter().zip(rows) {
        let fields = decode_line(line).unwrap();
        assert_eq!(fields.len(), COLUMNS.len());
        let f = |i: usize| fields[i].clone().expect("not NULL");
        assert_eq!(f(0), r.path);
        assert_eq!(f(1), r.language);
        assert_eq!(f(2), r.symbol);
        assert_eq!(f(3), r.start_line.to_string());
        assert_eq!(f(4), r.end_line.to_string());
        assert_eq!(f(5), r.code);
        assert_eq!(fields[6], r.doc);
    }
}

#[test]
fn special_characters_round_trip() {
    round_trip(&[
        row(
            "a.py",
            "f",
            "def f():\n\treturn '\\n'  # backslash-n, not newline\n",
        ),
        row(
            "dir with\ttab/b.py",
            "C.m",
            "x = \"\\\\server\\share\"\r\ny = 1",
        ),
        row("c.py", "g", "\\N"),
        row("d.py", "h", "\\."),
        row("e.py", "ünïcödé", "s = 'ß ✓ 🦀'\u{0b}\u{0c}\u{08}"),
        row("f.py", "empty", ""),
        Row {
            doc: Some("Doc with\ttab, \\N and\r\nCRLF.".into()),
            ..row("g.py", "documented", "def documented(): ...")
        },
        Row {
            doc: Some(String::new()),
            ..row("h.py", "empty_doc", "x")
        },
    ]);
}

#[test]
fn literal_backslash_n_is_not_null() {
    let mut buf = Vec::new();
    encode_row(&row("p", "s", "\\N"), Columns::All, &mut buf);
    let fields = decode_line(buf.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(fields[5].as_deref(), Some("\\N"));
}

#[test]
fn fixture_snippets_round_trip() {
    let dir = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("tests/fixtures/split");
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let grammar = Grammar::from_path(&path).unwrap();
        let src = std::fs::read_to_string(&path).unwrap();
        for s in split(grammar, &src).unwrap() {
            rows.push(Row {
                path: path.display().to_string(),
                language: grammar.language().name().into(),
                symbol: s.symbol,
                start_line: s.start_line as i32,
                end_line: s.end_line as i32,
                code: s.code,
                doc: s.doc,
            });
        }
    }
    assert!(rows.len() > 40);
    assert!(rows.iter().filter(|r| r.doc.is_some()).count() >= 5);
    round_trip(&rows);
}
