//! `codevec.index_recall(index, k, samples)`: recall@k of an ivf index at the current
//! settings, measured on indexed rows used as queries (index top-k vs exact top-k via SPI).

use std::collections::HashSet;

use pgrx::prelude::*;
use pgrx::spi::SpiResult;

use crate::error::{invalid, raise};

/// Rows of a one-text-column query.
fn texts(sql: &str) -> Vec<String> {
    let r: SpiResult<Vec<String>> = Spi::connect(|c| {
        let t = c.select(sql, None, &[])?;
        let mut v = vec![];
        for row in t {
            if let Some(s) = row.get::<String>(1)? {
                v.push(s);
            }
        }
        Ok(v)
    });
    r.unwrap_or_else(|e| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("index_recall: {e}"),
            None,
            None,
        )
    })
}

fn one(sql: &str) -> Option<String> {
    texts(sql).into_iter().next()
}

/// Recall@k of `index` against an exact scan, averaged over `samples` indexed rows.
#[pg_extern(sql = false)]
fn index_recall(index: pg_sys::Oid, k: i32, samples: i32) -> f64 {
    if !(1..=1000).contains(&k) {
        invalid(format!("k must be between 1 and 1000, got {k}"));
    }
    if !(1..=100_000).contains(&samples) {
        invalid(format!(
            "samples must be between 1 and 100000, got {samples}"
        ));
    }
    let oid = index.to_u32();
    let am = one(&format!("SELECT am.amname::text FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.oid = {oid}"));
    if am.as_deref() != Some("ivf") {
        let name = one(&format!("SELECT {oid}::regclass::text")).unwrap_or_else(|| oid.to_string());
        invalid(format!("\"{name}\" is not an ivf index"));
    }
    let q = |col: &str| {
        one(&format!(
            "SELECT {col} FROM pg_index i LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             JOIN pg_opclass o ON o.oid = i.indclass[0] WHERE i.indexrelid = {oid}"
        ))
    };
    let Some(col) = q("quote_ident(a.attname::text)") else {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "index_recall supports indexes on a plain column, not on an expression",
            None,
            None,
        )
    };
    let table = q("i.indrelid::regclass::text").expect("table");
    let typ = q("format_type(a.atttypid, NULL)").expect("type");
    let opc = q("o.opcname::text").expect("opclass");
    let pred = q("pg_get_expr(i.indpred, i.indrelid)")
        .map(|p| format!("AND ({p})"))
        .unwrap_or_default();
    let op = if opc.ends_with("l2_ops") {
        "<->"
    } else if opc.ends_with("cosine_ops") {
        "<=>"
    } else {
        "<#>"
    };
    // The function runs with search_path = pg_catalog, pg_temp (sql/index.sql): the table,
    // type and predicate come back schema-qualified from regclass / format_type /
    // pg_get_expr, and the operator is named with the schema of the column's type, where
    // the extension created both.
    let nsp = q("(SELECT quote_ident(tn.nspname::text) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = a.atttypid)")
        .expect("type schema");
    let op = format!("OPERATOR({nsp}.{op})");
    let saved_idx =
        one("SELECT current_setting('enable_indexscan')").unwrap_or_else(|| "on".into());
    let saved_seq = one("SELECT current_setting('enable_seqscan')").unwrap_or_else(|| "on".into());
    let queries = texts(&format!(
        "SELECT {col}::text FROM {table} WHERE {col} IS NOT NULL {pred} ORDER BY random() LIMIT {samples}"
    ));
    let set = |idx: &str, seq: &str| {
        texts(&format!(
            "SELECT set_config('enable_indexscan', '{idx}', true) || set_config('enable_seqscan', '{seq}', true)"
        ));
    };
    let mut sum = 0.0;
    let mut n = 0usize;
    for v in &queries {
        let sql = format!(
            "SELECT ctid::text FROM {table} WHERE {col} IS NOT NULL {pred} ORDER BY {col} {op} '{v}'::{typ} LIMIT {k}"
        );
        set("off", "on");
        let exact: HashSet<String> = texts(&sql).into_iter().collect();
        set("on", "off");
        let approx: HashSet<String> = texts(&sql).into_iter().collect();
        if !exact.is_empty() {
            sum += exact.intersection(&approx).count() as f64 / exact.len() as f64;
            n += 1;
        }
    }
    set(&saved_idx, &saved_seq);
    if n == 0 {
        return 1.0;
    }
    sum / n as f64
}
