//! The `load` command: walk, split, and COPY rows into PostgreSQL in
//! batches of whole files, one transaction per batch.
//!
//! An interruption (Ctrl-C, lost connection, error) rolls back the open
//! batch, so the table only ever holds complete files. Committed batches
//! stay; rerun with `--replace` to reload files without duplicating rows.
//!
//! A table made by a loader from before the `doc` column (or by hand
//! without one) still loads: the sink looks the column up once, before the
//! first rows, and leaves `doc` out of the COPY when the table has none.

use crate::copy::{copy_encoded, encode_row, has_doc_column, Columns, Row};
use crate::pipeline::{self, Outcome};
use crate::progress::Progress;
use crate::schema::{quote_ident, TableName};
use crate::summary::Summary;
use crate::walk::{self, WalkOptions};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Instant;

/// Flush buffered COPY data to the server once it grows past this size.
const COPY_CHUNK: usize = 8 * 1024 * 1024;

/// Settings for a run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Files and directories to load.
    pub roots: Vec<PathBuf>,
    /// Walk settings (maximum file size).
    pub walk: WalkOptions,
    /// Files per transaction.
    pub batch: usize,
    /// Functions shorter than this many lines are not loaded.
    pub min_lines: usize,
    /// Delete a file's existing rows (same `path`) before loading it.
    pub replace: bool,
    /// No progress output.
    pub quiet: bool,
}

/// Where the rows of each file go.
pub trait Sink {
    /// Takes the rows of one parsed file (possibly none).
    fn add_file(&mut self, path: &str, rows: &[Row]) -> Result<()>;
    /// Makes everything added so far durable (commits the batch).
    fn end_batch(&mut self) -> Result<()>;
    /// Abandons the batch in progress after an error (rolls it back).
    fn abort(&mut self);
}

/// Discards rows: `--dry-run`.
pub struct DrySink;

impl Sink for DrySink {
    fn add_file(&mut self, _path: &str, _rows: &[Row]) -> Result<()> {
        Ok(())
    }
    fn end_batch(&mut self) -> Result<()> {
        Ok(())
    }
    fn abort(&mut self) {}
}

/// Sends rows to a table with COPY, one transaction per batch.
pub struct PgSink<'c> {
    client: &'c mut postgres::Client,
    table: TableName,
    replace: bool,
    buf: Vec<u8>,
    in_tx: bool,
    delete_sql: String,
    columns: Option<Columns>,
}

impl<'c> PgSink<'c> {
    /// A sink writing to `table` over `client`.
    pub fn new(client: &'c mut postgres::Client, table: TableName, replace: bool) -> PgSink<'c> {
        let delete_sql = format!(
            "DELETE FROM {} WHERE {} = $1",
            table.quoted(),
            quote_ident("path")
        );
        PgSink {
            client,
            table,
            replace,
            buf: Vec::new(),
            in_tx: false,
            delete_sql,
            columns: None,
        }
    }

    /// Whether the table has a `doc` column, so the COPY fills it; looked up
    /// once (an error when the table does not exist).
    pub fn loads_doc(&mut self) -> Result<bool> {
        Ok(self.columns()? == Columns::All)
    }

    fn columns(&mut self) -> Result<Columns> {
        if let Some(c) = self.columns {
            return Ok(c);
        }
        let c = Columns::for_table(has_doc_column(self.client, &self.table)?);
        self.columns = Some(c);
        Ok(c)
    }

    fn begin(&mut self) -> Result<()> {
        if !self.in_tx {
            self.client
                .batch_execute("BEGIN")
                .context("starting a transaction")?;
            self.in_tx = true;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            let columns = self.columns()?;
            copy_encoded(self.client, &self.table, columns, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Sink for PgSink<'_> {
    fn add_file(&mut self, path: &str, rows: &[Row]) -> Result<()> {
        if self.replace {
            self.begin()?;
            self.client
                .execute(self.delete_sql.as_str(), &[&path])
                .with_context(|| format!("deleting old rows of {path}"))?;
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.begin()?;
        let columns = self.columns()?;
        for row in rows {
            encode_row(row, columns, &mut self.buf);
        }
        if self.buf.len() >= COPY_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn end_batch(&mut self) -> Result<()> {
        self.flush()?;
        if self.in_tx {
            self.client
                .batch_execute("COMMIT")
                .context("committing a batch")?;
            self.in_tx = false;
        }
        Ok(())
    }

    fn abort(&mut self) {
        self.buf.clear();
        if self.in_tx {
            // Best effort: if the connection is gone the server has rolled
            // back already.
            let _ = self.client.batch_execute("ROLLBACK");
            self.in_tx = false;
        }
    }
}

/// Turns a file's snippets into rows, dropping those below `min_lines`.
/// Returns the rows and how many were dropped.
pub fn rows_for(
    path: &str,
    language: crate::lang::Language,
    snippets: Vec<crate::split::Snippet>,
    min_lines: usize,
) -> (Vec<Row>, u64) {
    let mut dropped = 0;
    let rows = snippets
        .into_iter()
        .filter(|s| {
            let keep = s.line_count() >= min_lines;
            dropped += u64::from(!keep);
            keep
        })
        .map(|s| Row {
            path: path.to_string(),
            language: language.name().to_string(),
            symbol: s.symbol,
            start_line: i32::try_from(s.start_line).unwrap_or(i32::MAX),
            end_line: i32::try_from(s.end_line).unwrap_or(i32::MAX),
            code: s.code,
            doc: s.doc,
        })
        .collect();
    (rows, dropped)
}

/// Walks, splits and feeds every file to `sink`, committing every
/// `opts.batch` parsed files. Returns the counts.
pub fn run(opts: &LoadOptions, sink: &mut dyn Sink) -> Result<Summary> {
    let started = Instant::now();
    let walked = walk::walk(&opts.roots, &opts.walk);
    let mut summary = Summary {
        files_seen: walked.entries.len() as u64,
        pruned_dirs: walked.pruned_dirs.len() as u64,
        ..Summary::default()
    };
    let mut progress = Progress::new(walked.entries.len() as u64, opts.quiet);
    for err in &walked.errors {
        progress.println(&format!("warning: {err}"));
    }

    let batch = opts.batch.max(1);
    let mut in_batch = 0usize;
    let mut committed = Summary::default();
    let result = (|| -> Result<()> {
        for outcome in pipeline::spawn(walked.entries) {
            match outcome {
                Outcome::Skipped {
                    path,
                    reason,
                    detail,
                } => {
                    if let Some(detail) = detail {
                        progress
                            .println(&format!("warning: skipping {}: {detail}", path.display()));
                    }
                    summary.skip(reason);
                    progress.file_done(0);
                }
                Outcome::Parsed {
                    path,
                    language,
                    snippets,
                } => {
                    let path = path.to_string_lossy().into_owned();
                    let (rows, dropped) = rows_for(&path, language, snippets, opts.min_lines);
                    summary.rows_too_short += dropped;
                    sink.add_file(&path, &rows)?;
                    if rows.is_empty() {
                        summary.files_without_functions += 1;
                    } else {
                        summary.loaded(language, rows.len() as u64);
                    }
                    progress.file_done(rows.len() as u64);
                    in_batch += 1;
                    if in_batch >= batch {
                        sink.end_batch()?;
                        committed = summary.clone();
                        in_batch = 0;
                    }
                }
            }
        }
        sink.end_batch()?;
        Ok(())
    })();
    progress.finish();
    if result.is_err() {
        sink.abort();
    }
    result.with_context(|| {
        format!(
            "stopped after committing {} files ({} rows); the batch in progress was rolled back",
            committed.files_loaded,
            committed.rows()
        )
    })?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}
