//! Filtered ordered queries: `WHERE c10 = k ORDER BY v <=> q LIMIT 10` (10 % of the rows
//! match) and `WHERE c100 = k …` (1 %; no btree on the label, so that the plan is the vector
//! index — with a btree the planner picks it and sorts the 500 matches), against the exact
//! filtered top-10, counting the queries whose rows come back out of ORDER BY order.

use postgres::types::ToSql;
use postgres::Client;

use crate::ann::{exact_topk, measure, Ann, Run};
use crate::data::to_text;

/// Queries of the filtered rows.
pub const QUERIES: usize = 200;

/// The filters: label column and how many values it takes (query `i` asks for `i % m`).
const FILTERS: [(&str, usize); 2] = [("c10", 10), ("c100", 100)];

/// Labels of each doc, one vector per filter, as stored in the table (read back, so that
/// the ground truth uses exactly what the server filters on).
pub struct Labels(Vec<Vec<i32>>);

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
    let mut l = Labels(vec![vec![-1; n]; FILTERS.len()]);
    for r in c
        .query(&format!("SELECT id, c10, c100 FROM {table}"), &[])
        .unwrap()
    {
        let id: i32 = r.get(0);
        for (f, labels) in l.0.iter_mut().enumerate() {
            labels[id as usize] = r.get(f + 1);
        }
    }
    l
}

/// The exact filtered top-10 of every query, one vector per filter.
pub struct Truth(Vec<Vec<Vec<i32>>>);

impl Truth {
    /// Queries per filter.
    pub fn queries(&self) -> usize {
        self.0[0].len()
    }
}

/// Query `i` filters on `c10 = i % 10` and `c100 = i % 100`.
pub fn truth(ann: &Ann, l: &Labels) -> Truth {
    let nq = QUERIES.min(ann.queries.len());
    Truth(
        FILTERS
            .iter()
            .zip(&l.0)
            .map(|(&(_, m), labels)| {
                (0..nq)
                    .map(|i| exact_topk(ann, &ann.queries[i], 10, |d| labels[d] == (i % m) as i32))
                    .collect()
            })
            .collect(),
    )
}

/// `(10 % run, 1 % run)` of `table` (column type `ty`) with the settings in effect; says so
/// when a filter's plan is not the vector index.
pub fn run(c: &mut Client, table: &str, ty: &str, ann: &Ann, t: &Truth) -> (Run, Run) {
    let nq = t.queries();
    let mut runs = vec![];
    for (&(col, m), truth) in FILTERS.iter().zip(&t.0) {
        let stmt = c
            .prepare(&format!(
                "SELECT id, v <=> (SELECT $1::text::{ty}) FROM {table} WHERE {col} = $2 ORDER BY v <=> (SELECT $1::text::{ty}) LIMIT 10"
            ))
            .unwrap();
        let q0 = to_text(&ann.queries[0]);
        let plan: String = c
            .query(
                &format!("EXPLAIN (COSTS OFF) SELECT id FROM {table} WHERE {col} = 0 ORDER BY v <=> '{q0}'::{ty} LIMIT 10"),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join(" / ");
        if !plan.contains("Index Scan using") {
            println!("  ({col} plan is not the vector index: {plan})");
        }
        runs.push(measure(
            c,
            &stmt,
            ann,
            nq,
            &|i| vec![Box::new((i % m) as i32) as Box<dyn ToSql + Sync>],
            &|i| truth[i].clone(),
        ));
    }
    (runs[0], runs[1])
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
