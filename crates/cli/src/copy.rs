//! PostgreSQL `COPY ... FROM STDIN` in text format: row encoding and the
//! statement that streams rows into a table.
//!
//! Text format: one row a line, columns separated by a tab, `\N` for NULL,
//! and backslash escapes for backslash, newline, carriage return, tab,
//! backspace, form feed and vertical tab (the characters COPY would otherwise
//! read as delimiters or strip).

use crate::schema::TableName;
use anyhow::{Context, Result};
use std::io::Write;

/// The columns the loader fills, in COPY order.
pub const COLUMNS: [&str; 6] = [
    "path",
    "language",
    "symbol",
    "start_line",
    "end_line",
    "code",
];

/// One row of the snippets table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// File path as walked.
    pub path: String,
    /// Language name (see [`crate::lang::Language::name`]).
    pub language: String,
    /// Qualified function / method name.
    pub symbol: String,
    /// First line, 1-based inclusive.
    pub start_line: i32,
    /// Last line, 1-based inclusive.
    pub end_line: i32,
    /// Source text.
    pub code: String,
}

/// Appends `value` to `out`, escaped for a COPY text-format field.
pub fn escape_field(value: &str, out: &mut Vec<u8>) {
    let mut last = 0;
    for (i, b) in value.bytes().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x0b => b"\\v",
            _ => continue,
        };
        out.extend_from_slice(&value.as_bytes()[last..i]);
        out.extend_from_slice(esc);
        last = i + 1;
    }
    out.extend_from_slice(&value.as_bytes()[last..]);
}

/// Appends `row` to `out` as one COPY text-format line (with its `\n`).
pub fn encode_row(row: &Row, out: &mut Vec<u8>) {
    escape_field(&row.path, out);
    out.push(b'\t');
    escape_field(&row.language, out);
    out.push(b'\t');
    escape_field(&row.symbol, out);
    out.push(b'\t');
    out.extend_from_slice(row.start_line.to_string().as_bytes());
    out.push(b'\t');
    out.extend_from_slice(row.end_line.to_string().as_bytes());
    out.push(b'\t');
    escape_field(&row.code, out);
    out.push(b'\n');
}

/// Decodes one COPY text-format line (without its trailing newline) into
/// fields, `None` standing for `\N`. This is what the server does with the
/// loader's output; the tests use it to check that encoding round-trips.
pub fn decode_line(line: &[u8]) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    for raw in line.split(|&b| b == b'\t') {
        if raw == b"\\N" {
            fields.push(None);
            continue;
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut iter = raw.iter();
        while let Some(&b) = iter.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let next = *iter.next().context("backslash at end of field")?;
            out.push(match next {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'b' => 0x08,
                b'f' => 0x0c,
                b'v' => 0x0b,
                other => other,
            });
        }
        fields.push(Some(String::from_utf8(out).context("field is not UTF-8")?));
    }
    Ok(fields)
}

/// The `COPY table (path, ...) FROM STDIN` statement for `table`.
pub fn copy_statement(table: &TableName) -> String {
    format!(
        "COPY {} ({}) FROM STDIN",
        table.quoted(),
        COLUMNS.join(", ")
    )
}

/// Streams already-encoded rows (`data`, from [`encode_row`]) into `table`
/// with one COPY statement on `client` (a connection or an open
/// transaction). Returns the number of rows the server reports.
pub fn copy_encoded<C: postgres::GenericClient>(
    client: &mut C,
    table: &TableName,
    data: &[u8],
) -> Result<u64> {
    let mut writer = client
        .copy_in(copy_statement(table).as_str())
        .with_context(|| format!("starting COPY into {}", table.quoted()))?;
    writer.write_all(data).context("sending COPY data")?;
    writer.finish().context("finishing COPY")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_specials() {
        let mut out = Vec::new();
        escape_field("a\tb\nc\\d\re\u{8}\u{b}\u{c}ü", &mut out);
        assert_eq!(out, "a\\tb\\nc\\\\d\\re\\b\\v\\fü".as_bytes());
    }

    #[test]
    fn statement_quotes_table() {
        let t = TableName::parse("\"My Schema\".Snippets").unwrap();
        assert_eq!(
            copy_statement(&t),
            "COPY \"My Schema\".\"snippets\" (path, language, symbol, start_line, end_line, code) FROM STDIN"
        );
    }
}
