//! The shared real data set (`shared/data/ann`): 50,000 × 384 L2-normalised code embeddings,
//! 500 queries, exact top-100 by cosine (`gt.i32.npy`), and the measuring helpers the `ivf`,
//! `filtered` and `growth` benchmarks share.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use codevec_ivf::npy;
use postgres::types::ToSql;
use postgres::{Client, Statement};

use crate::data::to_text;

/// The data set.
pub struct Ann {
    pub docs: Vec<Vec<f32>>,
    pub queries: Vec<Vec<f32>>,
    pub gt: Vec<Vec<i32>>,
}

/// Reads `docs.f32.npy`, `queries.f32.npy` and `gt.i32.npy` from `dir`.
pub fn load(dir: &Path) -> Ann {
    let d = npy::read::<f32>(&dir.join("docs.f32.npy")).expect("docs.f32.npy");
    let q = npy::read::<f32>(&dir.join("queries.f32.npy")).expect("queries.f32.npy");
    let g = npy::read::<i32>(&dir.join("gt.i32.npy")).expect("gt.i32.npy");
    Ann {
        docs: (0..d.rows()).map(|i| d.row(i).to_vec()).collect(),
        queries: (0..q.rows()).map(|i| q.row(i).to_vec()).collect(),
        gt: (0..g.rows()).map(|i| g.row(i).to_vec()).collect(),
    }
}

/// Cosine distance in `f64` (the ground truth's ranking).
pub fn cosine_f64(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += x as f64 * x as f64;
        bb += y as f64 * y as f64;
    }
    1.0 - ab / (aa.sqrt() * bb.sqrt())
}

/// The exact top `k` ids of `q` among the docs whose id passes `keep`, best first.
pub fn exact_topk(ann: &Ann, q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<i32> {
    let mut d: Vec<(f64, i32)> = (0..ann.docs.len())
        .filter(|&i| keep(i))
        .map(|i| (cosine_f64(q, &ann.docs[i]), i as i32))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.truncate(k);
    d.into_iter().map(|x| x.1).collect()
}

/// What one setting measured over a query set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Run {
    /// Mean |returned ∩ truth top-10| / 10.
    pub recall: f64,
    /// Queries whose rows came back with a distance below the previous row's.
    pub unsorted: usize,
    pub qps: f64,
    pub queries: usize,
}

/// Runs `stmt` (parameters `$1` = query text, then `extra(i)`) for every query `i` in
/// `0..nq`; the statement returns `(id int, distance float8)` rows. Recall against
/// `truth(i)` (top-10 ids), rows out of order counted from the returned distances.
/// The first `warm` queries run once untimed first.
pub fn measure(
    c: &mut Client,
    stmt: &Statement,
    ann: &Ann,
    nq: usize,
    extra: &dyn Fn(usize) -> Vec<Box<dyn ToSql + Sync>>,
    truth: &dyn Fn(usize) -> Vec<i32>,
) -> Run {
    let texts: Vec<String> = ann.queries[..nq].iter().map(|q| to_text(q)).collect();
    let params = |i: usize| {
        let mut p: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(texts[i].clone())];
        p.extend(extra(i));
        p
    };
    for i in 0..nq.min(50) {
        let p = params(i);
        let r: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        c.query(stmt, &r).unwrap();
    }
    let all: Vec<_> = (0..nq).map(params).collect();
    let t = Instant::now();
    let mut results = Vec::with_capacity(nq);
    for p in &all {
        let r: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        results.push(c.query(stmt, &r).unwrap());
    }
    let secs = t.elapsed().as_secs_f64();
    let mut hits = 0usize;
    let mut unsorted = 0usize;
    for (i, rows) in results.iter().enumerate() {
        let gt: HashSet<i32> = truth(i).into_iter().take(10).collect();
        hits += rows
            .iter()
            .filter(|r| gt.contains(&r.get::<_, i32>(0)))
            .count();
        let d: Vec<f64> = rows.iter().map(|r| r.get::<_, f64>(1)).collect();
        if d.windows(2).any(|w| w[1] < w[0]) {
            unsorted += 1;
        }
    }
    Run {
        recall: hits as f64 / (10 * nq) as f64,
        unsorted,
        qps: nq as f64 / secs,
        queries: nq,
    }
}

/// No extra parameters.
pub fn no_params(_: usize) -> Vec<Box<dyn ToSql + Sync>> {
    vec![]
}

/// `pg_relation_size(rel)` in MiB.
pub fn size_mib(c: &mut Client, rel: &str) -> f64 {
    let b: i64 = c
        .query_one(&format!("SELECT pg_relation_size('{rel}')"), &[])
        .unwrap()
        .get(0);
    b as f64 / (1 << 20) as f64
}

/// Wall seconds of `sql`.
pub fn timed(c: &mut Client, sql: &str) -> f64 {
    let t = Instant::now();
    c.batch_execute(sql).unwrap();
    t.elapsed().as_secs_f64()
}

/// The best queries/s among `runs` with recall ≥ `target` (and no unsorted query).
pub fn best_at(runs: &[(String, Run)], target: f64) -> Option<(String, Run)> {
    runs.iter()
        .filter(|(_, r)| r.recall >= target && r.unsorted == 0)
        .max_by(|a, b| a.1.qps.total_cmp(&b.1.qps))
        .cloned()
}
