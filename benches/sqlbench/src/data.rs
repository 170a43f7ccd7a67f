//! Synthetic data and binary COPY loading.

use postgres::Client;
use std::io::Write;

/// Deterministic pseudo-random unit vectors.
pub fn unit_vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            let mut v: Vec<f32> = (0..dims)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

/// pgvector's text format (also codevec's).
pub fn to_text(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// COPY (id, v) rows into `table` in text format; the column's type parses the text.
pub fn copy_text(c: &mut Client, table: &str, vectors: &[Vec<f32>]) {
    let mut w = c
        .copy_in(&format!("COPY {table} (id, v) FROM STDIN"))
        .expect("copy in");
    let mut buf = Vec::with_capacity(1 << 20);
    for (i, v) in vectors.iter().enumerate() {
        writeln!(buf, "{i}\t{}", to_text(v)).unwrap();
        if buf.len() > (1 << 20) {
            w.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    w.write_all(&buf).unwrap();
    w.finish().expect("copy finish");
}
