//! Filtered ordered queries: `WHERE c10 = k ORDER BY v <=> q LIMIT 10` (10 % of the rows
//! match) and `WHERE c100 = k …` (1 %; no btree on the label, so that the plan is the vector
//! index — with a btree the planner picks it and sorts the 500 matches), against the exact
//! filtered top-10, counting the queries whose rows come back out of ORDER BY order.

use postgres::types::ToSql;
use postgres::Client;

use crate::ann::{exact_topk, measure, Ann, Run};

/// Queries of the filtered rows.
pub const QUERIES: usize = 200;

/// Labels of each doc: `(c10, c100)` as stored in `ann_docs` (read back from the table, so
/// that the ground truth uses exactly what the server filters on).
pub struct Labels {
    pub c10: Vec<i32>,
    pub c100: Vec<i32>,
}

/// Adds `c10 = |hashint4(id)| % 10` and `c100 = |hashint4(id + 7)| % 100` to `table` and
/// reads them back.
pub fn add_labels(c: &mut Client, table: &str, n: usize) -> Labels {
    c.batch_execute(&format!(
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS c10 int, ADD COLUMN IF NOT EXISTS c100 int;
         UPDATE {table} SET c10 = abs(hashint4(id)) % 10, c100 = abs(hashint4(id + 7)) % 100"
    ))
    .unwrap();
    // the UPDATE left a dead copy of every row: rewrite the table so that its size is the live rows'
    c.batch_execute(&format!("VACUUM FULL {table}")).unwrap();
    c.batch_execute(&format!("VACUUM ANALYZE {table}")).unwrap();
    let mut l = Labels {
        c10: vec![-1; n],
        c100: vec![-1; n],
    };
    for r in c
        .query(&format!("SELECT id, c10, c100 FROM {table}"), &[])
        .unwrap()
    {
        let id: i32 = r.get(0);
        l.c10[id as usize] = r.get(1);
        l.c100[id as usize] = r.get(2);
    }
    l
}

/// The exact filtered top-10 of every query: `(10 %, 1 %)`.
pub struct Truth {
    pub t10: Vec<Vec<i32>>,
    pub t100: Vec<Vec<i32>>,
}

/// Query `i` filters on `c10 = i % 10` and `c100 = i % 100`.
pub fn truth(ann: &Ann, l: &Labels) -> Truth {
    let nq = QUERIES.min(ann.queries.len());
    Truth {
        t10: (0..nq)
            .map(|i| exact_topk(ann, &ann.queries[i], 10, |d| l.c10[d] == (i % 10) as i32))
            .collect(),
        t100: (0..nq)
            .map(|i| exact_topk(ann, &ann.queries[i], 10, |d| l.c100[d] == (i % 100) as i32))
            .collect(),
    }
}

/// `(10 % run, 1 % run)` of `table` (column type `ty`) with the settings in effect.
pub fn run(c: &mut Client, table: &str, ty: &str, ann: &Ann, t: &Truth) -> (Run, Run) {
    let nq = t.t10.len();
    let s10 = c
        .prepare(&format!(
            "SELECT id, v <=> $1::text::{ty} FROM {table} WHERE c10 = $2 ORDER BY v <=> $1::text::{ty} LIMIT 10"
        ))
        .unwrap();
    let r10 = measure(
        c,
        &s10,
        ann,
        nq,
        &|i| vec![Box::new((i % 10) as i32) as Box<dyn ToSql + Sync>],
        &|i| t.t10[i].clone(),
    );
    let s100 = c
        .prepare(&format!(
            "SELECT id, v <=> $1::text::{ty} FROM {table} WHERE c100 = $2 ORDER BY v <=> $1::text::{ty} LIMIT 10"
        ))
        .unwrap();
    let plan: String = c
        .query(
            &format!("EXPLAIN (COSTS OFF) SELECT id FROM {table} WHERE c100 = 3 ORDER BY v <=> (SELECT v FROM {table} LIMIT 1) LIMIT 10"),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join(" / ");
    let r100 = measure(
        c,
        &s100,
        ann,
        nq,
        &|i| vec![Box::new((i % 100) as i32) as Box<dyn ToSql + Sync>],
        &|i| t.t100[i].clone(),
    );
    if !plan.contains("Index Scan using") {
        println!("  (1 % plan is not the vector index: {plan})");
    }
    (r10, r100)
}

/// One markdown row of a filtered run.
pub fn row(method: &str, setting: &str, r10: &Run, r100: &Run) {
    println!(
        "| {method} | {setting} | {:.3} | {} / {} | {:.0} | {:.3} | {} / {} | {:.0} |",
        r10.recall,
        r10.unsorted,
        r10.queries,
        r10.qps,
        r100.recall,
        r100.unsorted,
        r100.queries,
        r100.qps
    );
}
