//! Doc comments and docstrings as plain text (the `doc` column).
//!
//! The language modules find the syntax nodes (a Python function's first
//! statement, the comments directly above a Rust, JavaScript/TypeScript or Go
//! function); this module turns their source text into plain text: comment
//! markers, quotes and `*` gutters removed, the common indentation removed,
//! blank lines at either end dropped. Escape sequences are left as written.
//! Text that comes out empty is no doc (`None`).

/// Joins `lines`, dropping blank lines at either end, trailing whitespace of
/// every line, and the indentation common to the lines that are not blank.
/// `None` when nothing is left.
pub(crate) fn clean_lines<S: AsRef<str>>(lines: &[S]) -> Option<String> {
    let lines = trimmed(lines)?;
    let margin = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| indent_width(l))
        .min()
        .unwrap_or(0);
    let out: Vec<&str> = lines.iter().map(|l| strip_indent(l, margin)).collect();
    Some(out.join("\n"))
}

/// `lines` without trailing whitespace and without the blank lines at
/// either end; `None` when all are blank.
fn trimmed<S: AsRef<str>>(lines: &[S]) -> Option<Vec<&str>> {
    let lines: Vec<&str> = lines.iter().map(|l| l.as_ref().trim_end()).collect();
    let first = lines.iter().position(|l| !l.is_empty())?;
    let last = lines.iter().rposition(|l| !l.is_empty())?;
    Some(lines[first..=last].to_vec())
}

/// Leading spaces and tabs of `line`, in bytes.
fn indent_width(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// `line` without its first `n` bytes of indentation (fewer if it has less).
fn strip_indent(line: &str, n: usize) -> &str {
    let n = n.min(indent_width(line));
    &line[n..]
}

/// Like Python's `inspect.cleandoc`: the first line loses its leading
/// whitespace, the others the indentation they have in common (the first
/// line does not count: it follows the quotes), blank lines at either end go.
fn clean_docstring(body: &str) -> Option<String> {
    let body = body.replace('\t', "        ");
    let mut lines: Vec<&str> = body.lines().map(str::trim_end).collect();
    if let Some(first) = lines.first_mut() {
        *first = first.trim_start();
    }
    let margin = lines
        .iter()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| indent_width(l))
        .min()
        .unwrap_or(0);
    for l in lines.iter_mut().skip(1) {
        *l = strip_indent(l, margin);
    }
    let first = lines.iter().position(|l| !l.is_empty())?;
    let last = lines.iter().rposition(|l| !l.is_empty())?;
    Some(lines[first..=last].join("\n"))
}

/// A Python string literal (the source text of a `string` node) as a
/// docstring: prefix and quotes removed, cleaned like `inspect.cleandoc`.
/// Byte strings and f-strings are not docstrings (Python does not set
/// `__doc__` from them): `None`.
pub(crate) fn python_docstring(literal: &str) -> Option<String> {
    let quote_at = literal.find(['"', '\''])?;
    let prefix = &literal[..quote_at];
    if !prefix.chars().all(|c| matches!(c, 'r' | 'R' | 'u' | 'U')) {
        return None;
    }
    let rest = &literal[quote_at..];
    let body = ["\"\"\"", "'''", "\"", "'"].iter().find_map(|q| {
        rest.strip_prefix(q)
            .and_then(|r| r.strip_suffix(q))
            .filter(|_| rest.len() >= 2 * q.len())
    })?;
    clean_docstring(body)
}

/// The inside of a `/* ... */` comment whose opening marker (`/*` or `/**`)
/// and closing `*/` are already removed, as plain text: a `*` gutter at the
/// start of the lines after the first is dropped, then cleaned like a
/// docstring (so text on the opening line and indented blocks both come out
/// flush left).
pub(crate) fn block_comment_text(inner: &str) -> Option<String> {
    let lines: Vec<String> = inner
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let t = l.trim_start();
            match t.strip_prefix('*') {
                // `*/` was removed already, so a leading `*` is a gutter
                Some(after) if i > 0 => after.to_string(),
                _ => l.to_string(),
            }
        })
        .collect();
    clean_docstring(&lines.join("\n"))
}

/// A JSDoc comment (`/** ... */`, the source text of a `comment` node) as
/// plain text, block tags (`@param x the input`) kept; `None` for other
/// comments, including `/*`, `/***` and `/**/`.
pub(crate) fn jsdoc(comment: &str) -> Option<String> {
    let inner = comment.strip_prefix("/**")?.strip_suffix("*/")?;
    if inner.starts_with('*') || inner.starts_with('/') {
        return None;
    }
    block_comment_text(inner)
}

/// One piece of a Rust item's documentation, in source order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RustDoc {
    /// The text after `///` on one line, or the value of `#[doc = "..."]`.
    Line(String),
    /// A `/** ... */` comment, already cleaned.
    Block(String),
}

/// What a comment or attribute above a Rust item contributes to its doc:
/// `///` (not `////`) and `/** */` (not `/***`, `/**/`) comments and
/// `#[doc = "..."]` attributes. Inner docs (`//!`, `/*!`), plain comments and
/// other attributes give `None`.
pub(crate) fn rust_doc_piece(text: &str) -> Option<RustDoc> {
    let text = text.trim_end_matches(['\n', '\r']);
    if let Some(rest) = text.strip_prefix("///") {
        return (!rest.starts_with('/')).then(|| RustDoc::Line(rest.to_string()));
    }
    if let Some(rest) = text.strip_prefix("/**") {
        let inner = rest.strip_suffix("*/")?;
        if rest.starts_with('*') || rest == "/" {
            return None;
        }
        return Some(RustDoc::Block(
            block_comment_text(inner).unwrap_or_default(),
        ));
    }
    if text.starts_with("#[") {
        return rust_doc_attribute(text).map(RustDoc::Line);
    }
    None
}

/// The value of `#[doc = "..."]` (or `#[doc = r"..."]`, `r#"..."#`);
/// `None` for other attributes, `#[doc(hidden)]` and values that are not a
/// string literal (`#[doc = include_str!(...)]`).
fn rust_doc_attribute(text: &str) -> Option<String> {
    let inner = text.strip_prefix("#[")?.strip_suffix(']')?.trim();
    let value = inner.strip_prefix("doc")?.trim_start().strip_prefix('=')?;
    rust_string_literal(value.trim())
}

/// The value of a Rust string literal written as `lit` (plain or raw).
fn rust_string_literal(lit: &str) -> Option<String> {
    if let Some(raw) = lit.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let fence = "#".repeat(hashes);
        let body = raw
            .strip_prefix(&fence)?
            .strip_prefix('"')?
            .strip_suffix(&fence)?
            .strip_suffix('"')?;
        return Some(body.to_string());
    }
    let body = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            // a line continuation: the newline and the next line's indentation go
            '\n' => while chars.next_if(|c| c.is_whitespace()).is_some() {},
            'u' => {
                let mut hex = String::new();
                if chars.next() != Some('{') {
                    return None;
                }
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    hex.push(c);
                }
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Joins the pieces of a Rust item's doc: runs of lines are cleaned together
/// (rustdoc's unindent), blocks stand on their own.
pub(crate) fn rust_doc(pieces: Vec<RustDoc>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, parts: &mut Vec<String>| {
        if let Some(text) = clean_lines(run) {
            parts.push(text);
        }
        run.clear();
    };
    for piece in pieces {
        match piece {
            RustDoc::Line(text) => run.extend(text.split('\n').map(str::to_string)),
            RustDoc::Block(text) => {
                flush(&mut run, &mut parts);
                if !text.is_empty() {
                    parts.push(text);
                }
            }
        }
    }
    flush(&mut run, &mut parts);
    let joined = parts.join("\n");
    clean_lines(&joined.lines().collect::<Vec<_>>())
}

/// The doc of a Go declaration from the comments directly above it, in
/// source order: `//` lines without the marker and one space after it (as
/// `go/ast`'s `CommentGroup.Text`; further indentation is kept), `/* */`
/// blocks without their markers. Directives (`//go:generate`, `//nolint:errcheck`, `//line f:1`:
/// no space after `//`, a word and a colon) are not doc text, as in `go doc`.
pub(crate) fn go_doc<S: AsRef<str>>(comments: &[S]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    for c in comments {
        let c = c.as_ref().trim_end_matches(['\n', '\r']);
        if let Some(rest) = c.strip_prefix("//") {
            if !is_go_directive(rest) {
                lines.push(rest.strip_prefix(' ').unwrap_or(rest).to_string());
            }
        } else if let Some(inner) = c.strip_prefix("/*").and_then(|r| r.strip_suffix("*/")) {
            if let Some(text) = block_comment_text(inner) {
                lines.extend(text.lines().map(str::to_string));
            }
        }
    }
    Some(trimmed(&lines)?.join("\n"))
}

/// `go:generate ...`, `nolint:all`, `line file.go:12`, `export Name`, `extern ...`:
/// the text after `//` of a comment that is a directive to a tool.
fn is_go_directive(rest: &str) -> bool {
    if rest.starts_with("line ") || rest.starts_with("export ") || rest.starts_with("extern ") {
        return true;
    }
    let word = rest
        .split(':')
        .next()
        .filter(|w| rest.len() > w.len() + 1 && !w.is_empty());
    match word {
        Some(w) => {
            w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && rest[w.len() + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_lines_dedents_and_trims_blank_edges() {
        assert_eq!(
            clean_lines(&["", "   a", "     b  ", "", "   c", "  "]).as_deref(),
            Some("a\n  b\n\nc")
        );
        assert_eq!(clean_lines(&["", "  "]), None);
        assert_eq!(clean_lines::<&str>(&[]), None);
    }

    #[test]
    fn python_docstrings() {
        assert_eq!(
            python_docstring("\"\"\"Parse a date.\"\"\"").as_deref(),
            Some("Parse a date.")
        );
        assert_eq!(python_docstring("'one'").as_deref(), Some("one"));
        assert_eq!(
            python_docstring(
                "\"\"\"Summary line.\n\n        Details, indented\n          more.\n        \"\"\""
            )
            .as_deref(),
            Some("Summary line.\n\nDetails, indented\n  more.")
        );
        // the summary on the line after the quotes
        assert_eq!(
            python_docstring("'''\n    Fetch a URL.\n    '''").as_deref(),
            Some("Fetch a URL.")
        );
        // escapes stay as written
        assert_eq!(
            python_docstring(r#"r"""Split on '\n'.""""#).as_deref(),
            Some(r"Split on '\n'.")
        );
        assert_eq!(python_docstring("u'x'").as_deref(), Some("x"));
        for not_doc in [
            "b'bytes'",
            "f'{x}'",
            "Rb'x'",
            "\"\"\"\"\"\"",
            "'  '",
            "\"",
            "x",
        ] {
            assert_eq!(python_docstring(not_doc), None, "{not_doc}");
        }
    }

    #[test]
    fn jsdoc_blocks() {
        assert_eq!(
            jsdoc(
                "/**\n * Adds numbers.\n *\n * @param {number} a first\n * @returns {number}\n */"
            )
            .as_deref(),
            Some("Adds numbers.\n\n@param {number} a first\n@returns {number}")
        );
        assert_eq!(jsdoc("/** One line. */").as_deref(), Some("One line."));
        // indented inside a class, code example keeps its relative indent
        assert_eq!(
            jsdoc("/**\n   * Example:\n   *\n   *     f(1)\n   */").as_deref(),
            Some("Example:\n\n    f(1)")
        );
        // no gutter
        assert_eq!(
            jsdoc("/**\n    Plain block.\n    Second.\n  */").as_deref(),
            Some("Plain block.\nSecond.")
        );
        for not_doc in [
            "/* plain */",
            "// line",
            "/*** banner ***/",
            "/**/",
            "/** */",
        ] {
            assert_eq!(jsdoc(not_doc), None, "{not_doc}");
        }
    }

    #[test]
    fn rust_pieces() {
        assert_eq!(
            rust_doc_piece("/// Adds one.\n"),
            Some(RustDoc::Line(" Adds one.".into()))
        );
        assert_eq!(rust_doc_piece("//// not doc"), None);
        assert_eq!(rust_doc_piece("//! inner"), None);
        assert_eq!(rust_doc_piece("// plain"), None);
        assert_eq!(rust_doc_piece("/* plain */"), None);
        assert_eq!(rust_doc_piece("/*! inner */"), None);
        assert_eq!(rust_doc_piece("/**/"), None);
        assert_eq!(rust_doc_piece("/*** banner */"), None);
        assert_eq!(
            rust_doc_piece("/**\n     * Block doc.\n     */"),
            Some(RustDoc::Block("Block doc.".into()))
        );
        assert_eq!(
            rust_doc_piece("#[doc = \" From an \\\"attribute\\\".\"]"),
            Some(RustDoc::Line(" From an \"attribute\".".into()))
        );
        assert_eq!(
            rust_doc_piece("#[doc = r#\"Raw \"quoted\".\"#]"),
            Some(RustDoc::Line("Raw \"quoted\".".into()))
        );
        assert_eq!(
            rust_doc_piece("#[doc=\"a\\nb \\u{e9}\\x41\"]"),
            Some(RustDoc::Line("a\nb éA".into()))
        );
        assert_eq!(rust_doc_piece("#[doc(hidden)]"), None);
        assert_eq!(rust_doc_piece("#[doc = include_str!(\"x.md\")]"), None);
        assert_eq!(rust_doc_piece("#[inline]"), None);
        assert_eq!(rust_doc_piece("#[docs = \"x\"]"), None);
    }

    #[test]
    fn rust_doc_joins_lines_and_blocks() {
        let pieces = vec![
            RustDoc::Line(" Parses a vector.".into()),
            RustDoc::Line("".into()),
            RustDoc::Line(" ```".into()),
            RustDoc::Line(" let v = parse(\"[1]\");".into()),
            RustDoc::Line(" ```".into()),
        ];
        assert_eq!(
            rust_doc(pieces).as_deref(),
            Some("Parses a vector.\n\n```\nlet v = parse(\"[1]\");\n```")
        );
        let pieces = vec![
            RustDoc::Block("Block.".into()),
            RustDoc::Line(" Then a line.".into()),
        ];
        assert_eq!(rust_doc(pieces).as_deref(), Some("Block.\nThen a line."));
        assert_eq!(rust_doc(vec![RustDoc::Line("   ".into())]), None);
        assert_eq!(rust_doc(vec![]), None);
    }

    #[test]
    fn go_comment_groups() {
        assert_eq!(
            go_doc(&[
                "// Handle handles a request.",
                "//",
                "//\tindented example",
                "// Last line."
            ])
            .as_deref(),
            Some("Handle handles a request.\n\n\tindented example\nLast line.")
        );
        assert_eq!(
            go_doc(&[
                "//go:generate stringer -type=X",
                "// Real doc.",
                "//nolint:errcheck"
            ])
            .as_deref(),
            Some("Real doc.")
        );
        assert_eq!(go_doc(&["//go:noinline"]), None);
        assert_eq!(
            go_doc(&["/*\n Block doc\n spanning lines.\n*/"]).as_deref(),
            Some("Block doc\nspanning lines.")
        );
        // a colon in prose is not a directive
        assert_eq!(
            go_doc(&["// Note: this is prose.", "//TODO: fix"]).as_deref(),
            Some("Note: this is prose.\nTODO: fix")
        );
        assert_eq!(go_doc::<&str>(&[]), None);
    }
}
