//! `codevec search`: ask the extension's hybrid search a question and print
//! the hits.
//!
//! The server does the work: `codevec.search_explain(tbl anyelement, query
//! text, k int, filter jsonb)` ranks the rows of the table (vector distance
//! fused with a lexical score and priors on symbol and path names) and
//! returns one row per hit, the table's row in `hit`. The table is named by
//! the type of the first argument, `NULL::"schema"."table"`, quoted here from
//! a parsed [`TableName`]; the question, `k` and the filter travel as
//! parameters. The table needs `codevec.enable_search(table, 'code', 'emb')`
//! first; the server says so (with a hint) when it has not had it.

use crate::schema::TableName;
use anyhow::{anyhow, bail, Context, Result};
use postgres::types::Type;
use std::fmt::Write;

/// How many hits `codevec search` asks for unless told.
pub const DEFAULT_K: i32 = 10;

/// Lines of each hit's code that are printed.
pub const CODE_LINES: usize = 3;

/// Width of the output when stdout is not a terminal and `$COLUMNS` is unset.
pub const DEFAULT_WIDTH: usize = 100;

/// Indentation of the code lines under a hit.
const INDENT: &str = "    ";

/// One row of `codevec.search_explain`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hit {
    /// 1-based position in the result.
    pub rank: i32,
    /// The fused score the result is ordered by (higher is better).
    pub score: f64,
    /// Position among the vector (embedding) matches; `None` when the row
    /// was found by the lexical side only.
    pub vector_rank: Option<i32>,
    /// Cosine distance of the row's embedding to the question's.
    pub vector_distance: Option<f64>,
    /// Position among the lexical matches; `None` when found by vector only.
    pub lexical_rank: Option<i32>,
    /// The lexical score.
    pub lexical_score: Option<f64>,
    /// Boost for question words in the symbol name.
    pub symbol_prior: Option<f64>,
    /// Boost for question words in the path.
    pub path_prior: Option<f64>,
    /// `(hit).path`.
    pub path: Option<String>,
    /// `(hit).start_line`.
    pub start_line: Option<i32>,
    /// `(hit).symbol`.
    pub symbol: Option<String>,
    /// `(hit).code`.
    pub code: Option<String>,
}

/// The question with surrounding whitespace removed; an error when nothing
/// is left (the server is not asked).
pub fn check_question(question: &str) -> Result<&str> {
    let q = question.trim();
    if q.is_empty() {
        bail!(
            "the question is empty: say what the code should do, e.g. \
             codevec search \"parse a date string\""
        );
    }
    Ok(q)
}

/// `--filter`: must be one JSON value (what it means is up to the server).
/// Returned as given, to be sent as text and cast to `jsonb` by the server.
pub fn check_filter(filter: &str) -> Result<&str> {
    serde_json::from_str::<serde_json::Value>(filter)
        .map_err(|e| anyhow!("--filter is not valid JSON ({e}): {filter}"))?;
    Ok(filter)
}

/// The query for `table`: `$1` the question (text), `$2` k (int), `$3` the
/// filter (text, cast to jsonb; NULL for none).
pub fn search_sql(table: &TableName) -> String {
    format!(
        "SELECT rank, score, vector_rank, vector_distance, lexical_rank, lexical_score, \
         symbol_prior, path_prior, \
         (hit).path::text, (hit).start_line::int, (hit).symbol::text, (hit).code::text \
         FROM codevec.search_explain(NULL::{}, $1, $2, $3::jsonb) ORDER BY rank",
        table.quoted()
    )
}

/// Runs the search for `question` on `table` and returns up to `k` hits,
/// best first. A server error comes back with its message, detail, hint and
/// SQLSTATE (see [`server_error_text`]).
pub fn search(
    client: &mut postgres::Client,
    table: &TableName,
    question: &str,
    k: i32,
    filter: Option<&str>,
) -> Result<Vec<Hit>> {
    let question = check_question(question)?;
    let filter = filter.map(check_filter).transpose()?;
    let sql = search_sql(table);
    let rows = client
        .prepare_typed(&sql, &[Type::TEXT, Type::INT4, Type::TEXT])
        .and_then(|stmt| client.query(&stmt, &[&question, &k, &filter]))
        .map_err(|e| server_error(e, &format!("searching {table}")))?;
    rows.iter().map(hit_from_row).collect()
}

fn hit_from_row(row: &postgres::Row) -> Result<Hit> {
    fn col<'a, T: postgres::types::FromSql<'a>>(row: &'a postgres::Row, i: usize) -> Result<T> {
        row.try_get(i).with_context(|| {
            format!(
                "reading column {} of codevec.search_explain's result",
                row.columns()[i].name()
            )
        })
    }
    Ok(Hit {
        rank: col(row, 0)?,
        score: col(row, 1)?,
        vector_rank: col(row, 2)?,
        vector_distance: col(row, 3)?,
        lexical_rank: col(row, 4)?,
        lexical_score: col(row, 5)?,
        symbol_prior: col(row, 6)?,
        path_prior: col(row, 7)?,
        path: col(row, 8)?,
        start_line: col(row, 9)?,
        symbol: col(row, 10)?,
        code: col(row, 11)?,
    })
}

/// An error for the user: for an error the server reported, its message,
/// detail, hint and SQLSTATE after `what`; other errors (connection lost)
/// as they are, with `what` as context.
pub fn server_error(err: postgres::Error, what: &str) -> anyhow::Error {
    match err.as_db_error() {
        Some(db) => anyhow!(
            "{what}: {}",
            server_error_text(db.message(), db.detail(), db.hint(), db.code().code(),)
        ),
        None => anyhow::Error::new(err).context(what.to_string()),
    }
}

/// How a server error is shown: the message, then `DETAIL:` and `HINT:`
/// lines when there are any, then the SQLSTATE. A missing function or schema
/// (the extension is not installed here, or is older than `search_explain`)
/// gets a hint of its own when the server gave none.
pub fn server_error_text(
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
    sqlstate: &str,
) -> String {
    let mut out = message.to_string();
    if let Some(d) = detail {
        let _ = write!(out, "\nDETAIL: {d}");
    }
    let own_hint = match sqlstate {
        // undefined_function, invalid_schema_name
        "42883" | "3F000" if message.contains("codevec") || message.contains("search_explain") => {
            Some(
                "the codevec extension in this database has no codevec.search_explain: \
                 CREATE EXTENSION codevec (or ALTER EXTENSION codevec UPDATE) with a \
                 version that has search",
            )
        }
        // undefined_object: `NULL::t` names the table by its row type
        "42704" if message.starts_with("type ") => Some(
            "no such table: load one with codevec load --create-table --table TABLE, \
             or pass --table",
        ),
        _ => None,
    };
    if let Some(h) = hint.or(own_hint) {
        let _ = write!(out, "\nHINT: {h}");
    }
    let _ = write!(out, "\n(SQLSTATE {sqlstate})");
    out
}

/// How to print hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Longest line, in characters (code lines are cut to it).
    pub width: usize,
    /// Also print each hit's vector and lexical ranks, scores and priors.
    pub verbose: bool,
}

/// The width to print with: `$COLUMNS` when set to a number, else the
/// terminal's width when stdout is one, else [`DEFAULT_WIDTH`]; at least 20.
pub fn output_width(columns_env: Option<&str>, terminal_width: Option<usize>) -> usize {
    columns_env
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or(terminal_width)
        .unwrap_or(DEFAULT_WIDTH)
        .max(20)
}

/// The width of the terminal on stdout, if stdout is a terminal.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_rows, cols)| usize::from(cols))
        .filter(|&c| c > 0)
}

/// The text printed for `hits`: per hit a line
/// `rank. path:start_line  symbol  (score 0.812)`, with `--verbose` a line
/// of ranks and scores, then the first [`CODE_LINES`] lines of the code,
/// indented and cut to the width; a blank line between hits.
pub fn render(hits: &[Hit], format: Format) -> String {
    let mut out = String::new();
    for (i, hit) in hits.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let path = hit.path.as_deref().unwrap_or("?");
        let line = hit
            .start_line
            .map_or_else(|| "?".to_string(), |l| l.to_string());
        let symbol = hit.symbol.as_deref().unwrap_or("?");
        let _ = writeln!(
            out,
            "{}. {path}:{line}  {symbol}  (score {:.3})",
            hit.rank, hit.score
        );
        if format.verbose {
            let _ = writeln!(out, "{INDENT}{}", explain(hit));
        }
        for l in code_preview(hit.code.as_deref().unwrap_or(""), CODE_LINES) {
            let _ = writeln!(out, "{}", cut(&format!("{INDENT}{l}"), format.width));
        }
    }
    out
}

/// `vector #2 (distance 0.412)  lexical #1 (score 7.250)  priors: symbol 0.100, path 0.000`,
/// with `vector –` / `lexical –` for a side that did not find the row.
fn explain(hit: &Hit) -> String {
    fn side(name: &str, rank: Option<i32>, what: &str, value: Option<f64>) -> String {
        match (rank, value) {
            (Some(r), Some(v)) => format!("{name} #{r} ({what} {v:.3})"),
            (Some(r), None) => format!("{name} #{r}"),
            (None, _) => format!("{name} –"),
        }
    }
    let prior = |p: Option<f64>| p.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"));
    format!(
        "{}  {}  priors: symbol {}, path {}",
        side("vector", hit.vector_rank, "distance", hit.vector_distance),
        side("lexical", hit.lexical_rank, "score", hit.lexical_score),
        prior(hit.symbol_prior),
        prior(hit.path_prior)
    )
}

/// The first `n` lines of `code` that are not blank at the start, tabs as
/// four spaces, without the indentation they share (a method keeps its
/// shape but not its class's indent).
pub fn code_preview(code: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = code
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take(n)
        .map(|l| l.replace('\t', "    ").trim_end().to_string())
        .collect();
    let margin = lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .into_iter()
        .map(|l| l.get(margin..).unwrap_or("").to_string())
        .collect()
}

/// `line` cut to `width` characters, the last one `…` when something was cut.
pub fn cut(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_string();
    }
    let mut s: String = line.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(rank: i32, path: &str, line: i32, symbol: &str, score: f64, code: &str) -> Hit {
        Hit {
            rank,
            score,
            path: Some(path.into()),
            start_line: Some(line),
            symbol: Some(symbol.into()),
            code: Some(code.into()),
            ..Hit::default()
        }
    }

    #[test]
    fn questions_must_say_something() {
        assert_eq!(check_question("  parse a date \n").unwrap(), "parse a date");
        for blank in ["", "   ", "\t\n"] {
            let err = check_question(blank).unwrap_err().to_string();
            assert!(err.contains("question is empty"), "{err}");
        }
    }

    #[test]
    fn filters_must_be_json() {
        assert_eq!(
            check_filter(r#"{"language": "rust"}"#).unwrap(),
            r#"{"language": "rust"}"#
        );
        let err = check_filter("{language: rust}").unwrap_err().to_string();
        assert!(err.contains("--filter is not valid JSON"), "{err}");
        assert!(check_filter("").is_err());
    }

    #[test]
    fn sql_quotes_the_table_and_passes_the_rest_as_parameters() {
        let t = TableName::parse("Code.\"My Snippets\"").unwrap();
        let sql = search_sql(&t);
        assert!(
            sql.contains(
                "FROM codevec.search_explain(NULL::\"code\".\"My Snippets\", $1, $2, $3::jsonb)"
            ),
            "{sql}"
        );
        assert!(sql.starts_with("SELECT rank, score, vector_rank,"), "{sql}");
        assert!(sql.contains(
            "(hit).path::text, (hit).start_line::int, (hit).symbol::text, (hit).code::text"
        ));
        // A hostile name stays one quoted identifier.
        let t = TableName::parse("\"x); DROP TABLE y; --\"").unwrap();
        assert!(search_sql(&t).contains("NULL::\"x); DROP TABLE y; --\", $1"));
    }

    #[test]
    fn renders_hits_with_three_lines_of_code() {
        let hits = vec![
            hit(
                1,
                "src/embedding.rs",
                42,
                "Embedding::parse",
                0.8123,
                "    /// Parses an embedding.\n    pub fn parse(s: &str) -> Result<Self> {\n        let t = s.trim();\n        todo!()\n    }",
            ),
            hit(2, "go/vec.go", 7, "Cosine", 0.5, "\n\nfunc Cosine(a, b []float32) float32 {\n\treturn 0\n}"),
        ];
        let text = render(
            &hits,
            Format {
                width: 100,
                verbose: false,
            },
        );
        assert_eq!(
            text,
            "1. src/embedding.rs:42  Embedding::parse  (score 0.812)\n\
             \x20   /// Parses an embedding.\n\
             \x20   pub fn parse(s: &str) -> Result<Self> {\n\
             \x20       let t = s.trim();\n\
             \n\
             2. go/vec.go:7  Cosine  (score 0.500)\n\
             \x20   func Cosine(a, b []float32) float32 {\n\
             \x20       return 0\n\
             \x20   }\n"
        );
        assert_eq!(
            render(
                &[],
                Format {
                    width: 80,
                    verbose: true
                }
            ),
            ""
        );
    }

    #[test]
    fn long_lines_are_cut_to_the_width() {
        let long = format!("fn f() {{ {} }}", "x".repeat(200));
        let text = render(
            &[hit(1, "a.rs", 1, "f", 1.0, &long)],
            Format {
                width: 30,
                verbose: false,
            },
        );
        let code_line = text.lines().nth(1).unwrap();
        assert_eq!(code_line.chars().count(), 30);
        assert!(code_line.starts_with("    fn f() { xxx"));
        assert!(code_line.ends_with('…'));
        assert_eq!(cut("ünïcödé", 4), "ünï…");
        assert_eq!(cut("short", 5), "short");
    }

    #[test]
    fn verbose_explains_the_ranks() {
        let mut h = hit(3, "p.py", 10, "parse_date", 0.25, "def parse_date(s):");
        h.vector_rank = Some(2);
        h.vector_distance = Some(0.4123);
        h.lexical_rank = None;
        h.symbol_prior = Some(0.1);
        let text = render(
            &[h.clone()],
            Format {
                width: 100,
                verbose: true,
            },
        );
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "    vector #2 (distance 0.412)  lexical –  priors: symbol 0.100, path –"
        );
        h.lexical_rank = Some(1);
        h.lexical_score = Some(7.25);
        assert!(explain(&h).contains("lexical #1 (score 7.250)"));
        // Without --verbose there is no such line.
        assert!(!render(
            &[h],
            Format {
                width: 100,
                verbose: false
            }
        )
        .contains("vector #"));
    }

    #[test]
    fn missing_values_print_as_question_marks() {
        let h = Hit {
            rank: 1,
            score: 0.1,
            ..Hit::default()
        };
        assert_eq!(
            render(
                &[h],
                Format {
                    width: 100,
                    verbose: false
                }
            ),
            "1. ?:?  ?  (score 0.100)\n"
        );
    }

    #[test]
    fn widths() {
        assert_eq!(output_width(None, None), DEFAULT_WIDTH);
        assert_eq!(output_width(None, Some(132)), 132);
        assert_eq!(output_width(Some("80"), Some(132)), 80);
        assert_eq!(output_width(Some("junk"), Some(132)), 132);
        assert_eq!(output_width(Some("0"), None), DEFAULT_WIDTH);
        assert_eq!(output_width(Some("5"), None), 20);
    }

    #[test]
    fn server_errors_show_message_detail_hint_and_sqlstate() {
        let text = server_error_text(
            "table \"snippets\" is not enabled for search",
            Some("no lexical index on \"snippets\".code"),
            Some("call codevec.enable_search('snippets', 'code', 'emb') first"),
            "55000",
        );
        assert_eq!(
            text,
            "table \"snippets\" is not enabled for search\n\
             DETAIL: no lexical index on \"snippets\".code\n\
             HINT: call codevec.enable_search('snippets', 'code', 'emb') first\n\
             (SQLSTATE 55000)"
        );
        let text = server_error_text(
            "function codevec.search_explain(snippets, text, integer, jsonb) does not exist",
            None,
            None,
            "42883",
        );
        assert!(
            text.contains(
                "HINT: the codevec extension in this database has no codevec.search_explain"
            ),
            "{text}"
        );
        let text = server_error_text("schema \"codevec\" does not exist", None, None, "3F000");
        assert!(text.contains("HINT:"), "{text}");
        // The server's own hint wins; other errors get none.
        let text = server_error_text(
            "function codevec.search_explain() does not exist",
            None,
            Some("theirs"),
            "42883",
        );
        assert!(text.ends_with("HINT: theirs\n(SQLSTATE 42883)"), "{text}");
        let text = server_error_text("type \"demo.nope\" does not exist", None, None, "42704");
        assert!(text.contains("HINT: no such table"), "{text}");
        let text = server_error_text("relation \"nope\" does not exist", None, None, "42P01");
        assert_eq!(text, "relation \"nope\" does not exist\n(SQLSTATE 42P01)");
    }
}
