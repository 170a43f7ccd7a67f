//! Recall as the table grows: an index built on 20 % of the rows (a hash-chosen fifth),
//! the other 80 % inserted after, recall@10 at default settings — then after REINDEX.

use postgres::Client;

use crate::ann::{measure, no_params, timed, Ann, Run};

/// `(recall after growth, recall after REINDEX, insert rows/s)` of the index `using` on a
/// fresh `ann_grow (id, v ty)` copied from `ann_docs`.
pub fn run(c: &mut Client, ty: &str, using: &str, ann: &Ann) -> (Run, Run, f64) {
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS ann_grow; CREATE TABLE ann_grow (id int PRIMARY KEY, v {ty}(384));
         INSERT INTO ann_grow SELECT id, v::text::{ty} FROM ann_docs WHERE abs(hashint4(id + 13)) % 5 = 0"
    ))
    .unwrap();
    c.batch_execute("VACUUM ANALYZE ann_grow").unwrap();
    c.batch_execute(&format!(
        "CREATE INDEX ann_grow_v ON ann_grow USING {using}"
    ))
    .unwrap();
    let secs = timed(
        c,
        &format!("INSERT INTO ann_grow SELECT id, v::text::{ty} FROM ann_docs WHERE abs(hashint4(id + 13)) % 5 <> 0"),
    );
    let inserted: i64 = c
        .query_one("SELECT count(*) FROM ann_grow", &[])
        .unwrap()
        .get(0);
    c.batch_execute("VACUUM ANALYZE ann_grow").unwrap();
    let stmt = c
        .prepare(&format!(
            "SELECT id, v <=> (SELECT $1::text::{ty}) FROM ann_grow ORDER BY v <=> (SELECT $1::text::{ty}) LIMIT 10"
        ))
        .unwrap();
    let nq = ann.queries.len();
    let grown = measure(c, &stmt, ann, nq, &no_params, &|i| ann.gt[i].clone());
    c.batch_execute("REINDEX INDEX ann_grow_v").unwrap();
    let stmt = c
        .prepare(&format!(
            "SELECT id, v <=> (SELECT $1::text::{ty}) FROM ann_grow ORDER BY v <=> (SELECT $1::text::{ty}) LIMIT 10"
        ))
        .unwrap();
    let fresh = measure(c, &stmt, ann, nq, &no_params, &|i| ann.gt[i].clone());
    c.batch_execute("DROP TABLE ann_grow").unwrap();
    let rate = (inserted as f64 - ann.docs.len() as f64 / 5.0) / secs;
    (grown, fresh, rate)
}
