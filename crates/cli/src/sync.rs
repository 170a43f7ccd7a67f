//! `codevec load --sync [--wait]`: the table's `emb` column is filled by codevec's sync
//! (triggers, a queue and background workers in the server) instead of a generated column,
//! so the COPY carries text only and the loader does not wait for the encoder.

use crate::progress::Counter;
use crate::schema::{Precision, TableName};
use anyhow::{Context, Result};
use std::time::{Duration, Instant};

/// `codevec.enable_sync(table, 'code', 'emb', precision)`; returns the rows it queued.
pub fn enable(
    client: &mut postgres::Client,
    table: &TableName,
    precision: Precision,
) -> Result<i64> {
    let row = client
        .query_one(
            "SELECT codevec.enable_sync($1::text::regclass, 'code', 'emb', $2)",
            &[&table.quoted(), &precision.as_str()],
        )
        .with_context(|| format!("enabling sync on {table} (codevec.enable_sync)"))?;
    Ok(row.get(0))
}

/// Rows of `table` with a text and no embedding yet, and the rows in the table.
fn counts(client: &mut postgres::Client, table: &TableName) -> Result<(i64, i64)> {
    let row = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE emb IS NULL AND code IS NOT NULL), count(*) FROM {}",
                table.quoted()
            ),
            &[],
        )
        .context("counting rows waiting for an embedding")?;
    Ok((row.get(0), row.get(1)))
}

fn workers_running(client: &mut postgres::Client) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM codevec.sync_workers() w
                            JOIN pg_database d ON d.oid = w.datid
                            WHERE d.datname = current_database())",
            &[],
        )
        .context("looking for sync workers")?;
    Ok(row.get(0))
}

/// Waits until every row of `table` has its embedding, with a progress bar (plain lines
/// when stderr is not a terminal). When no sync worker serves the database (the server does
/// not preload codevec), drains the queue in this connection with `CALL codevec.sync()`.
pub fn wait(client: &mut postgres::Client, table: &TableName, quiet: bool) -> Result<()> {
    let (left, total) = counts(client, table)?;
    let mut progress = Counter::new(u64::try_from(total).unwrap_or(0), quiet, "rows embedded");
    let start = Instant::now();
    let mut left = left;
    let mut idle_since = Instant::now();
    let mut last_left = left;
    while left > 0 {
        progress.set(u64::try_from(total - left).unwrap_or(0));
        if left < last_left {
            idle_since = Instant::now();
            last_left = left;
        }
        if idle_since.elapsed() > Duration::from_secs(3) && !workers_running(client)? {
            progress.println(
                "no codevec sync worker serves this database (shared_preload_libraries = 'codevec'); \
                 embedding here with CALL codevec.sync()",
            );
            // one statement per call: a multi-statement string runs as one transaction block,
            // and the procedure commits after every batch
            client.batch_execute("SET client_min_messages = warning")?;
            client
                .batch_execute(&format!(
                    "CALL codevec.sync({}::regclass)",
                    quote_literal(&table.quoted())
                ))
                .context("CALL codevec.sync()")?;
            client.batch_execute("RESET client_min_messages")?;
            idle_since = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(250));
        }
        left = counts(client, table)?.0;
    }
    progress.finish();
    if !quiet {
        eprintln!(
            "all {total} rows of {table} embedded ({:.1} s)",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
