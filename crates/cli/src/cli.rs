//! Command-line interface: argument definitions and the commands.

use crate::dsn;
use crate::lang::Grammar;
use crate::load::{self, DrySink, LoadOptions, PgSink};
use crate::schema::{self, CreateOutcome, Precision, TableName};
use crate::search::{self, Format};
use crate::source::decode_source;
use crate::split::Splitter;
use crate::sync;
use crate::tls;
use crate::walk::WalkOptions;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Load source code into PostgreSQL for semantic search with codevec.
#[derive(Debug, Parser)]
#[command(name = "codevec", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk source trees, split files into functions and COPY them into a table.
    Load(LoadArgs),
    /// Print the functions extracted from one file as JSON lines.
    Split(SplitArgs),
    /// Ask a question in plain words; print the best matching functions of a
    /// table (hybrid search of the codevec extension, after
    /// codevec.enable_search(table, 'code', 'emb')).
    Search(SearchArgs),
}

/// Arguments of `codevec load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Connection string ("host=... port=... user=... dbname=..." or a
    /// postgres:// URL). Default: $DATABASE_URL, then PGHOST, PGPORT, PGUSER,
    /// PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT.
    ///
    /// TLS follows libpq's sslmode: disable; allow or prefer (the default):
    /// TLS when the server offers it, no certificate check; require: TLS or
    /// fail, no certificate check (the chain is checked when sslrootcert or
    /// ~/.postgresql/root.crt names a root file); verify-ca: the chain is
    /// checked against sslrootcert=FILE, else the system's roots;
    /// verify-full: the chain and the host name. sslrootcert=system: the
    /// system's roots, with verify-full. Unix sockets never use TLS.
    #[arg(long, value_name = "DSN")]
    pub dsn: Option<String>,

    /// Target table, optionally schema-qualified.
    #[arg(long, default_value = "snippets", value_name = "TABLE")]
    pub table: String,

    /// Create the table if it does not exist (with a generated `emb` column
    /// when the codevec extension is installed in the database).
    #[arg(long)]
    pub create_table: bool,

    /// Dimension of the generated `emb embedding(N)` column (--create-table).
    #[arg(long, default_value_t = 384, value_name = "N")]
    pub dim: u32,

    /// Encoder precision of the generated `emb` column (--create-table): f32
    /// (full precision) or int8 (about 2x faster loading; needs AVX512-VNNI
    /// on the database server).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,

    /// Fill `emb` with codevec's sync instead of a generated column: with
    /// --create-table the column is a plain `emb embedding(384)`; the loader
    /// calls codevec.enable_sync(table, 'code', 'emb') and COPYs text only, and
    /// the server's sync workers (shared_preload_libraries = 'codevec') embed the
    /// rows in the background.
    #[arg(long)]
    pub sync: bool,

    /// With --sync: wait (with a progress bar) until every loaded row has its
    /// embedding; without sync workers in the server, embed in this connection
    /// with CALL codevec.sync().
    #[arg(long, requires = "sync")]
    pub wait: bool,

    /// Files per transaction.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,

    /// Skip files larger than this (bytes; K/M/G or KiB/MiB/GiB suffixes).
    #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: u64,

    /// Do not load functions shorter than N lines.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_lines: usize,

    /// Delete rows already in the table for each loaded file path first
    /// (in the same transaction), so reloading does not duplicate rows.
    #[arg(long)]
    pub replace: bool,

    /// Only report what would be loaded (counts per language); no database
    /// connection.
    #[arg(long)]
    pub dry_run: bool,

    /// No progress output on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Files or directories to load.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `codevec search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Connection string, as for `codevec load` (default: $DATABASE_URL, then
    /// the PG* variables; sslmode as in libpq).
    #[arg(long, value_name = "DSN")]
    pub dsn: Option<String>,

    /// Table to search, optionally schema-qualified.
    #[arg(long, default_value = "snippets", value_name = "TABLE")]
    pub table: String,

    /// How many hits.
    #[arg(short = 'k', long = "limit", value_name = "K", default_value_t = search::DEFAULT_K,
          value_parser = clap::value_parser!(i32).range(1..))]
    pub k: i32,

    /// Restrict the hits: a JSON object passed to codevec.search_explain as
    /// its `filter jsonb` argument (see the extension's documentation).
    #[arg(long, value_name = "JSON")]
    pub filter: Option<String>,

    /// Also print each hit's vector and lexical ranks and scores, and the
    /// connection used.
    #[arg(short, long)]
    pub verbose: bool,

    /// The question, e.g. "parse a date string" (several words are joined
    /// with spaces).
    #[arg(required = true, value_name = "QUESTION", num_args = 1..)]
    pub question: Vec<String>,
}

/// Arguments of `codevec split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Language / grammar (python, rust, javascript, typescript, tsx, go, or
    /// an extension); default: from the file's extension.
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,

    /// The source file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Parses sizes like `1048576`, `512K`, `1M`, `2MiB`, `1G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("invalid size unit in {s:?} (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Load(args) => run_load(args),
        Command::Split(args) => run_split(args),
        Command::Search(args) => run_search(args),
    }
}

/// Connects as `--dsn` (or the environment) says; with `announce`, prints
/// where to and whether the session is encrypted on stderr.
fn connect(dsn_arg: Option<&str>, announce: bool) -> Result<postgres::Client> {
    let target = dsn::resolve(dsn_arg, &|k| std::env::var(k).ok())?;
    let where_to = dsn::describe(&target.config);
    let (mut client, plan) =
        tls::connect(&target).with_context(|| format!("connecting to {where_to}"))?;
    if announce {
        let encrypted = match tls::session_uses_tls(&mut client) {
            Some(true) => "TLS",
            Some(false) => "no TLS",
            None => "TLS unknown",
        };
        eprintln!(
            "connected to {where_to} ({encrypted}, sslmode={})",
            plan.mode
        );
    }
    Ok(client)
}

fn run_load(args: LoadArgs) -> Result<()> {
    let opts = LoadOptions {
        roots: args.paths.clone(),
        walk: WalkOptions {
            max_file_size: args.max_file_size,
        },
        batch: usize::try_from(args.batch).unwrap_or(usize::MAX),
        min_lines: args.min_lines,
        replace: args.replace,
        quiet: args.quiet,
    };
    for p in &args.paths {
        if !p.exists() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let table = TableName::parse(&args.table)?;

    if args.dry_run {
        let summary = load::run(&opts, &mut DrySink)?;
        print!("{}", summary.render("would load"));
        return Ok(());
    }

    let mut client = connect(args.dsn.as_deref(), !args.quiet)?;
    if args.create_table {
        match schema::ensure_table_with(&mut client, &table, args.dim, args.precision, args.sync)? {
            CreateOutcome::AlreadyExists => eprintln!("table {table} exists; not creating it"),
            CreateOutcome::CreatedWithEmbedding if args.sync => eprintln!(
                "created table {table} with column emb embedding({}), filled by codevec sync",
                args.dim
            ),
            CreateOutcome::CreatedWithEmbedding => eprintln!(
                "created table {table} with generated column emb embedding({}) ({} encoder)",
                args.dim, args.precision
            ),
            CreateOutcome::CreatedWithoutEmbedding(why) => eprintln!(
                "created table {table} WITHOUT the emb column: {why}; add it later with\n  \
                 ALTER TABLE {table} ADD COLUMN emb embedding({}) GENERATED ALWAYS AS (codevec.embed(code)) STORED",
                args.dim
            ),
        }
    }
    if args.sync {
        let queued = sync::enable(&mut client, &table, args.precision)?;
        if !args.quiet {
            eprintln!("sync enabled on {table} ({queued} rows already waiting)");
        }
    }
    let mut sink = PgSink::new(&mut client, table.clone(), args.replace);
    if !sink.loads_doc()? {
        eprintln!(
            "note: {table} has no doc column; loading without docstrings \
             (ALTER TABLE {table} ADD COLUMN doc text to keep them)"
        );
    }
    let summary = load::run(&opts, &mut sink)?;
    print!("{}", summary.render("loaded"));
    if args.wait {
        sync::wait(&mut client, &table, args.quiet)?;
    }
    Ok(())
}

/// The question of `codevec search`: the words joined, checked not blank.
pub fn search_question(words: &[String]) -> Result<String> {
    Ok(search::check_question(&words.join(" "))?.to_string())
}

fn run_search(args: SearchArgs) -> Result<()> {
    // everything that can be checked here is checked before connecting
    let question = search_question(&args.question)?;
    let filter = args
        .filter
        .as_deref()
        .map(search::check_filter)
        .transpose()?;
    let table = TableName::parse(&args.table)?;
    let mut client = connect(args.dsn.as_deref(), args.verbose)?;
    let hits = search::search(&mut client, &table, &question, args.k, filter)?;
    if hits.is_empty() {
        eprintln!("no hits in {table} for {question:?}");
        return Ok(());
    }
    let format = Format {
        width: search::output_width(
            std::env::var("COLUMNS").ok().as_deref(),
            search::terminal_width(),
        ),
        verbose: args.verbose,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(search::render(&hits, format).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// One line of `codevec split` output.
#[derive(Serialize)]
struct SplitLine<'a> {
    path: &'a str,
    language: &'a str,
    symbol: &'a str,
    start_line: usize,
    end_line: usize,
    code: &'a str,
    doc: Option<&'a str>,
}

fn run_split(args: SplitArgs) -> Result<()> {
    let grammar = match &args.language {
        Some(name) => {
            Grammar::from_name(name).with_context(|| format!("unknown language {name:?}"))?
        }
        None => Grammar::from_path(&args.file).with_context(|| {
            format!(
                "{}: unknown extension; pass --language",
                args.file.display()
            )
        })?,
    };
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let text = decode_source(bytes)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", args.file.display()))?;
    let snippets = Splitter::new().split(grammar, &text)?;
    let path = args.file.to_string_lossy();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for s in &snippets {
        let line = SplitLine {
            path: &path,
            language: grammar.language().name(),
            symbol: &s.symbol,
            start_line: s.start_line,
            end_line: s.end_line,
            code: &s.code,
            doc: s.doc.as_deref(),
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::DEFAULT_MAX_FILE_SIZE;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2 G"), Ok(2 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn parses_load_command() {
        let cli = Cli::try_parse_from([
            "codevec",
            "load",
            "--dsn",
            "host=h",
            "--table",
            "t",
            "--batch",
            "5",
            "--dry-run",
            "a",
            "b",
        ])
        .unwrap();
        let Command::Load(args) = cli.command else {
            panic!("not load")
        };
        assert_eq!(args.paths, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(args.batch, 5);
        assert!(args.dry_run);
        assert_eq!(args.max_file_size, DEFAULT_MAX_FILE_SIZE);
        assert!(Cli::try_parse_from(["codevec", "load"]).is_err());
        assert!(Cli::try_parse_from(["codevec", "load", "--batch", "0", "x"]).is_err());
        assert_eq!(args.precision, Precision::F32);
        let cli = Cli::try_parse_from(["codevec", "load", "--precision", "int8", "--dry-run", "a"])
            .unwrap();
        let Command::Load(args) = cli.command else {
            panic!("not load")
        };
        assert_eq!(args.precision, Precision::Int8);
        assert!(Cli::try_parse_from(["codevec", "load", "--precision", "int8'--", "a"]).is_err());
    }

    fn parse_search(args: &[&str]) -> Result<SearchArgs, clap::Error> {
        let cli = Cli::try_parse_from(["codevec", "search"].iter().chain(args))?;
        match cli.command {
            Command::Search(a) => Ok(a),
            other => panic!("not search: {other:?}"),
        }
    }

    #[test]
    fn parses_search_command() {
        let a = parse_search(&["parse a date"]).unwrap();
        assert_eq!(a.question, vec!["parse a date"]);
        assert_eq!(a.table, "snippets");
        assert_eq!(a.k, search::DEFAULT_K);
        assert_eq!(a.filter, None);
        assert!(!a.verbose);
        assert_eq!(a.dsn, None);
        let a = parse_search(&[
            "--table",
            "code.snippets",
            "-k",
            "3",
            "--dsn",
            "host=/tmp",
            "--filter",
            r#"{"language":"go"}"#,
            "-v",
            "split",
            "a",
            "file",
        ])
        .unwrap();
        assert_eq!(search_question(&a.question).unwrap(), "split a file");
        assert_eq!((a.table.as_str(), a.k), ("code.snippets", 3));
        assert_eq!(a.filter.as_deref(), Some(r#"{"language":"go"}"#));
        assert!(a.verbose);
        assert_eq!(a.dsn.as_deref(), Some("host=/tmp"));
        assert_eq!(parse_search(&["--limit", "7", "q"]).unwrap().k, 7);
        // a question is required, k is positive
        assert!(parse_search(&[]).is_err());
        assert!(parse_search(&["-k", "0", "q"]).is_err());
        assert!(parse_search(&["-k", "-1", "q"]).is_err());
        assert!(parse_search(&["-k", "many", "q"]).is_err());
        // a blank question parses but is rejected before connecting
        let a = parse_search(&["  ", ""]).unwrap();
        let err = search_question(&a.question).unwrap_err().to_string();
        assert!(err.contains("question is empty"), "{err}");
    }
}
