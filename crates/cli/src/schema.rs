//! Table names and `--create-table`.

use anyhow::{bail, Context, Result};
use std::fmt;

/// A possibly schema-qualified table name.
///
/// Parsed like SQL: unquoted parts are folded to lower case, `"Quoted"` parts
/// keep their case and may contain dots (`""` stands for a quote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableName {
    /// Schema, if given.
    pub schema: Option<String>,
    /// Table name.
    pub name: String,
}

impl TableName {
    /// Parses `table`, `schema.table`, `"Mixed Case"."t"`.
    pub fn parse(input: &str) -> Result<TableName> {
        let mut parts = Vec::new();
        let mut chars = input.trim().chars().peekable();
        loop {
            let mut part = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            part.push('"');
                        }
                        Some('"') => break,
                        Some(c) => part.push(c),
                        None => bail!("unterminated quoted identifier in table name {input:?}"),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    part.push(c.to_ascii_lowercase());
                    chars.next();
                }
                part = part.trim().to_string();
                if let Some(c) = part.chars().find(|&c| !is_unquoted_ident_char(c)) {
                    bail!(
                        "unexpected {c:?} in table name {input:?} \
                         (write names with other characters in double quotes)"
                    );
                }
                if part.starts_with(|c: char| c.is_ascii_digit() || c == '$') {
                    bail!(
                        "an unquoted name cannot start with {:?} in table name {input:?}",
                        part.chars().next().unwrap_or_default()
                    );
                }
            }
            if part.is_empty() {
                bail!("empty identifier in table name {input:?}");
            }
            if part.contains('\0') {
                bail!("table name {input:?} contains a NUL character");
            }
            if part.len() > MAX_IDENT_BYTES {
                bail!(
                    "identifier {part:?} in table name {input:?} is longer than \
                     {MAX_IDENT_BYTES} bytes (PostgreSQL would truncate it)"
                );
            }
            parts.push(part);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(c) => bail!("unexpected {c:?} in table name {input:?}"),
            }
        }
        match parts.len() {
            1 => Ok(TableName {
                schema: None,
                name: parts.remove(0),
            }),
            2 => {
                let name = parts.pop().unwrap_or_default();
                Ok(TableName {
                    schema: parts.pop(),
                    name,
                })
            }
            _ => bail!("table name {input:?} has too many parts (use schema.table)"),
        }
    }

    /// The name as a quoted SQL identifier, e.g. `"public"."snippets"`.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// PostgreSQL's identifier length limit (NAMEDATALEN - 1), in bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Whether `c` may appear in an unquoted SQL identifier (letters, digits,
/// `_`, `$`, and any non-ASCII character, as in PostgreSQL's lexer).
fn is_unquoted_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// Quotes an SQL identifier: `a"b` becomes `"a""b"`. Within double quotes
/// only `"` is special (backslashes and `standard_conforming_strings` do not
/// matter there); a NUL character cannot be sent at all, so [`TableName`]
/// rejects it.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Encoder precision of the generated `emb` column.
///
/// A closed set: the SQL written for it is a fixed literal, never text from
/// the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// Full precision: `embed(code)`.
    #[default]
    #[value(name = "f32")]
    F32,
    /// The int8 encoder: `embed(code, 'int8')`.
    #[value(name = "int8")]
    Int8,
}

impl Precision {
    /// The name used on the command line and by `codevec.embed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }

    /// The arguments of the `embed` call in the generated column.
    fn embed_args(self) -> &'static str {
        match self {
            Precision::F32 => "code",
            Precision::Int8 => "code, 'int8'",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Precision {
    type Err = anyhow::Error;

    /// `f32` or `int8`; anything else is an error.
    fn from_str(s: &str) -> Result<Precision> {
        match s {
            "f32" => Ok(Precision::F32),
            "int8" => Ok(Precision::Int8),
            _ => bail!("unknown encoder precision {s:?} (use f32 or int8)"),
        }
    }
}

/// Where the `codevec` extension keeps what the generated `emb` column needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingSupport {
    /// Qualified, quoted name of the `embedding` type.
    pub type_name: String,
    /// Qualified, quoted name of the `embed(text)` function.
    pub embed_fn: String,
}

/// What `--create-table` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The table was there already; left as it is.
    AlreadyExists,
    /// Created with the generated `emb` column.
    CreatedWithEmbedding,
    /// Created without `emb`; the string says why.
    CreatedWithoutEmbedding(String),
}

/// The `CREATE TABLE` statement for `table`, with a generated
/// `emb embedding(dim)` column when `embedding` is given, computed at the encoder
/// `precision`.
pub fn create_table_sql(
    table: &TableName,
    embedding: Option<&EmbeddingSupport>,
    dim: u32,
    precision: Precision,
    synced: bool,
) -> String {
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    id bigserial PRIMARY KEY,\n    path text NOT NULL,\n    \
         language text NOT NULL,\n    symbol text NOT NULL,\n    doc text,\n    start_line int NOT NULL,\n    \
         end_line int NOT NULL,\n    code text NOT NULL",
        table.quoted()
    );
    match embedding {
        // a plain column that codevec.enable_sync keeps filled (load --sync)
        Some(e) if synced => sql.push_str(&format!(",\n    emb {}({dim})", e.type_name)),
        Some(e) => sql.push_str(&format!(
            ",\n    emb {}({dim}) GENERATED ALWAYS AS ({}({})) STORED",
            e.type_name,
            e.embed_fn,
            precision.embed_args()
        )),
        None => {}
    }
    sql.push_str("\n)");
    sql
}

/// The index that keeps `--replace` (delete by path) fast.
pub fn create_index_sql(table: &TableName) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} (path)",
        quote_ident(&format!("{}_path_idx", table.name)),
        table.quoted()
    )
}

/// Finds the extension's `embedding` type and `embed(text)` function.
///
/// `Ok(None)` when the extension is not installed in this database;
/// `Err` only for query failures. When installed but either object is
/// missing, returns `Ok(Some(Err(message)))`.
#[allow(clippy::type_complexity)]
pub fn find_embedding_support(
    client: &mut postgres::Client,
) -> Result<Option<Result<EmbeddingSupport, String>>> {
    const QUERY: &str = "
        SELECT
          (SELECT format('%I.%I', n.nspname, t.typname)
             FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace
             JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
            WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
              AND t.typname = 'embedding'
            LIMIT 1),
          (SELECT format('%I.%I', n.nspname, p.proname)
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
            WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
              AND p.proname = 'embed' AND p.pronargs = 1 AND p.proargtypes[0] = 'text'::regtype
            LIMIT 1)
        FROM pg_extension e
        WHERE e.extname = 'codevec'";
    let rows = client
        .query(QUERY, &[])
        .context("looking up the codevec extension")?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let type_name: Option<String> = row.get(0);
    let embed_fn: Option<String> = row.get(1);
    Ok(Some(match (type_name, embed_fn) {
        (Some(type_name), Some(embed_fn)) => Ok(EmbeddingSupport {
            type_name,
            embed_fn,
        }),
        (None, _) => Err("the codevec extension has no `embedding` type".to_string()),
        (_, None) => Err("the codevec extension has no `embed(text)` function".to_string()),
    }))
}

/// Creates `table` (and its path index) unless it exists. Adds the generated
/// `emb` column (at encoder `precision`) only when the `codevec` extension is installed.
pub fn ensure_table(
    client: &mut postgres::Client,
    table: &TableName,
    dim: u32,
    precision: Precision,
) -> Result<CreateOutcome> {
    ensure_table_with(client, table, dim, precision, false)
}

/// [`ensure_table`], with a plain `emb` column for `codevec.enable_sync` when `synced`.
pub fn ensure_table_with(
    client: &mut postgres::Client,
    table: &TableName,
    dim: u32,
    precision: Precision,
    synced: bool,
) -> Result<CreateOutcome> {
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&table.quoted()])
        .context("checking whether the table exists")?
        .get(0);
    if exists.is_some() {
        return Ok(CreateOutcome::AlreadyExists);
    }
    let (support, outcome) = match find_embedding_support(client)? {
        Some(Ok(s)) => (Some(s), CreateOutcome::CreatedWithEmbedding),
        Some(Err(why)) => (None, CreateOutcome::CreatedWithoutEmbedding(why)),
        None => (
            None,
            CreateOutcome::CreatedWithoutEmbedding(
                "the codevec extension is not installed in this database (CREATE EXTENSION codevec)".to_string(),
            ),
        ),
    };
    let mut tx = client.transaction()?;
    tx.batch_execute(&create_table_sql(
        table,
        support.as_ref(),
        dim,
        precision,
        synced,
    ))
    .with_context(|| format!("creating table {table}"))?;
    tx.batch_execute(&create_index_sql(table))
        .with_context(|| format!("creating the path index on {table}"))?;
    tx.commit()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_names() {
        let t = TableName::parse("Snippets").unwrap();
        assert_eq!((t.schema.as_deref(), t.name.as_str()), (None, "snippets"));
        let t = TableName::parse("code.snippets").unwrap();
        assert_eq!(t.quoted(), "\"code\".\"snippets\"");
        let t = TableName::parse("\"My.Schema\".\"Odd\"\"Name\"").unwrap();
        assert_eq!(t.schema.as_deref(), Some("My.Schema"));
        assert_eq!(t.name, "Odd\"Name");
        assert_eq!(t.quoted(), "\"My.Schema\".\"Odd\"\"Name\"");
        assert!(TableName::parse("").is_err());
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse("a.").is_err());
        assert!(TableName::parse("\"open").is_err());
    }

    #[test]
    fn create_sql_with_and_without_embedding() {
        let t = TableName::parse("snippets").unwrap();
        let plain = create_table_sql(&t, None, 384, Precision::F32, false);
        assert!(plain.starts_with("CREATE TABLE IF NOT EXISTS \"snippets\" ("));
        assert!(plain.contains("code text NOT NULL\n)"));
        assert!(
            plain.contains("symbol text NOT NULL,\n    doc text,\n"),
            "{plain}"
        );
        assert!(!plain.contains("emb"));
        let support = EmbeddingSupport {
            type_name: "public.embedding".into(),
            embed_fn: "codevec.embed".into(),
        };
        let with = create_table_sql(&t, Some(&support), 384, Precision::F32, false);
        assert!(with.contains(
            "emb public.embedding(384) GENERATED ALWAYS AS (codevec.embed(code)) STORED"
        ));
        let int8 = create_table_sql(&t, Some(&support), 384, Precision::Int8, false);
        assert!(int8.contains(
            "emb public.embedding(384) GENERATED ALWAYS AS (codevec.embed(code, 'int8')) STORED"
        ));
        // load --sync: a plain column the sync workers fill
        let synced = create_table_sql(&t, Some(&support), 384, Precision::F32, true);
        assert!(synced.contains("emb public.embedding(384)\n)"), "{synced}");
        assert!(!synced.contains("GENERATED"));
    }

    #[test]
    fn precision_is_a_closed_set() {
        assert_eq!("f32".parse::<Precision>().unwrap(), Precision::F32);
        assert_eq!("int8".parse::<Precision>().unwrap(), Precision::Int8);
        for bad in [
            "",
            "F32",
            "int4",
            "int8'",
            "int8'); DROP TABLE x; --",
            "int8\\'",
        ] {
            assert!(bad.parse::<Precision>().is_err(), "{bad:?}");
        }
        assert_eq!(Precision::default(), Precision::F32);
        assert_eq!(Precision::Int8.to_string(), "int8");
    }

    #[test]
    fn create_sql_has_no_text_from_outside_quotes() {
        // Hostile table names end up as one quoted identifier each.
        let t = TableName::parse("\"s\"\"; DROP TABLE x; --\".\"t'\\\"\"\"").unwrap();
        assert_eq!(t.schema.as_deref(), Some("s\"; DROP TABLE x; --"));
        assert_eq!(t.name, "t'\\\"");
        let sql = create_table_sql(&t, None, 8, Precision::Int8, false);
        assert!(
            sql.starts_with(
                "CREATE TABLE IF NOT EXISTS \"s\"\"; DROP TABLE x; --\".\"t'\\\"\"\" ("
            ),
            "{sql}"
        );
        assert_eq!(
            create_index_sql(&t),
            "CREATE INDEX IF NOT EXISTS \"t'\\\"\"_path_idx\" ON \"s\"\"; DROP TABLE x; --\".\"t'\\\"\"\" (path)"
        );
    }

    #[test]
    fn unquoted_names_follow_sql_rules() {
        let t = TableName::parse(" Code . Snippets_2$ ").unwrap();
        assert_eq!(t.quoted(), "\"code\".\"snippets_2$\"");
        assert_eq!(TableName::parse("tëst").unwrap().name, "tëst");
        for bad in [
            "a b",
            "x;drop table y",
            "a\"b",
            "t'",
            "a-b",
            "1abc",
            "$x",
            "s.\"\"",
            "\"a\0b\"",
        ] {
            assert!(TableName::parse(bad).is_err(), "{bad:?}");
        }
        // The quoted forms of the same names are fine.
        assert_eq!(TableName::parse("\"a b\"").unwrap().name, "a b");
        assert_eq!(TableName::parse("\"1abc\"").unwrap().name, "1abc");
    }

    #[test]
    fn identifiers_longer_than_postgres_allows_are_rejected() {
        let ok = "a".repeat(MAX_IDENT_BYTES);
        assert!(TableName::parse(&ok).is_ok());
        assert!(TableName::parse(&format!("{ok}a")).is_err());
        assert!(TableName::parse(&format!("\"{ok}a\"")).is_err());
        assert!(TableName::parse(&format!("s.{ok}a")).is_err());
    }
}
