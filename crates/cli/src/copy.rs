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
pub const COLUMNS: [&str; 7] = [
    "path",
    "language",
    "symbol",
    "start_line",
    "end_line",
    "code",
    "doc",
];

/// Which of [`COLUMNS`] a COPY sends: all of them, or all but `doc` for a
/// table made before the loader had that column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Columns {
    /// Every column, `doc` included (`\N` when a function has no doc).
    #[default]
    All,
    /// Every column but `doc`.
    WithoutDoc,
}

impl Columns {
    /// The column names, in COPY order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Columns::All => &COLUMNS,
            Columns::WithoutDoc => &COLUMNS[..COLUMNS.len() - 1],
        }
    }

    /// `All` when the table has a `doc` column, else `WithoutDoc`.
    pub fn for_table(has_doc: bool) -> Columns {
        if has_doc {
            Columns::All
        } else {
            Columns::WithoutDoc
        }
    }
}

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
    /// Docstring / doc comment as plain text; `None` is NULL.
    pub doc: Option<String>,
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

/// Appends `row` to `out` as one COPY text-format line (with its `\n`),
/// with the fields of `columns`.
pub fn encode_row(row: &Row, columns: Columns, out: &mut Vec<u8>) {
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
    if columns == Columns::All {
        out.push(b'\t');
        match &row.doc {
            Some(doc) => escape_field(doc, out),
            None => out.extend_from_slice(b"\\N"),
        }
    }
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
pub fn copy_statement(table: &TableName, columns: Columns) -> String {
    format!(
        "COPY {} ({}) FROM STDIN",
        table.quoted(),
        columns.names().join(", ")
    )
}

/// Whether `table` has a column named `doc` (tables made by loaders before
/// the `doc` column do not; the loader then leaves it out of the COPY).
/// Fails when the table does not exist.
pub fn has_doc_column<C: postgres::GenericClient>(
    client: &mut C,
    table: &TableName,
) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute
                             WHERE attrelid = $1::text::regclass AND attname = 'doc'
                               AND attnum > 0 AND NOT attisdropped)",
            &[&table.quoted()],
        )
        .with_context(|| format!("looking up the columns of {}", table.quoted()))?;
    Ok(row.get(0))
}

/// Streams already-encoded rows (`data`, from [`encode_row`] with the same
/// `columns`) into `table` with one COPY statement on `client` (a connection
/// or an open transaction). Returns the number of rows the server reports.
pub fn copy_encoded<C: postgres::GenericClient>(
    client: &mut C,
    table: &TableName,
    columns: Columns,
    data: &[u8],
) -> Result<u64> {
    let mut writer = client
        .copy_in(copy_statement(table, columns).as_str())
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
            copy_statement(&t, Columns::All),
            "COPY \"My Schema\".\"snippets\" (path, language, symbol, start_line, end_line, code, doc) FROM STDIN"
        );
        assert_eq!(
            copy_statement(&t, Columns::WithoutDoc),
            "COPY \"My Schema\".\"snippets\" (path, language, symbol, start_line, end_line, code) FROM STDIN"
        );
    }

    #[test]
    fn doc_is_null_or_escaped_and_left_out_for_old_tables() {
        let mut row = Row {
            path: "a.py".into(),
            language: "python".into(),
            symbol: "f".into(),
            start_line: 1,
            end_line: 2,
            code: "def f():\n    pass".into(),
            doc: None,
        };
        let mut out = Vec::new();
        encode_row(&row, Columns::All, &mut out);
        assert_eq!(out, b"a.py\tpython\tf\t1\t2\tdef f():\\n    pass\t\\N\n");
        let fields = decode_line(out.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(fields.len(), COLUMNS.len());
        assert_eq!(fields[6], None);
        row.doc = Some("Line one.\n\tTabbed \\N".into());
        out.clear();
        encode_row(&row, Columns::All, &mut out);
        let fields = decode_line(out.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(fields[6].as_deref(), Some("Line one.\n\tTabbed \\N"));
        out.clear();
        encode_row(&row, Columns::WithoutDoc, &mut out);
        let fields = decode_line(out.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(fields.len(), Columns::WithoutDoc.names().len());
        assert_eq!(fields[5].as_deref(), Some("def f():\n    pass"));
        assert_eq!(Columns::for_table(true), Columns::All);
        assert_eq!(Columns::for_table(false), Columns::WithoutDoc);
    }
}
