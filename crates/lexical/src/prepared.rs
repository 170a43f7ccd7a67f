//! A BM25 query prepared once and applied to many stored documents (the SQL layer's
//! `codevec.bm25_query` / `codevec.bm25`): the question's distinct terms weighted by
//! `qtf · idf`, the average document length and k1, b, in a small byte string.
//!
//! Layout (little-endian): `"CVBM"`, u32 term count, f64 k1, f64 b, f64 avgdl, then per
//! term f64 weight, u16 byte length, the bytes. [`decode`] checks every length.

use crate::bm25::{idf, term_score, Bm25Params};

const MAGIC: &[u8; 4] = b"CVBM";

/// A parsed query.
pub struct PreparedQuery<'a> {
    pub params: Bm25Params,
    pub avgdl: f64,
    pub terms: Vec<(&'a [u8], f64)>,
}

/// Encode a query from its distinct terms, their document frequencies and counts in the
/// question, and the corpus' document count and total length.
pub fn encode(
    params: Bm25Params,
    terms: &[(&str, u64, u32)],
    n_docs: u64,
    total_len: u64,
) -> Vec<u8> {
    let avgdl = if n_docs > 0 {
        total_len as f64 / n_docs as f64
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(32 + terms.len() * 24);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(terms.len() as u32).to_le_bytes());
    out.extend_from_slice(&params.k1.to_le_bytes());
    out.extend_from_slice(&params.b.to_le_bytes());
    out.extend_from_slice(&avgdl.to_le_bytes());
    for &(t, df, qtf) in terms {
        let w = f64::from(qtf) * idf(n_docs, df);
        let bytes = &t.as_bytes()[..t.len().min(u16::MAX as usize)];
        out.extend_from_slice(&w.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Parse an encoded query; `None` when the bytes are not one.
pub fn decode(b: &[u8]) -> Option<PreparedQuery<'_>> {
    fn f64_at(b: &[u8], at: usize) -> Option<f64> {
        Some(f64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }
    if b.get(..4)? != MAGIC {
        return None;
    }
    let n = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as usize;
    let params = Bm25Params {
        k1: f64_at(b, 8)?,
        b: f64_at(b, 16)?,
    };
    let avgdl = f64_at(b, 24)?;
    let mut at = 32;
    let mut terms = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let w = f64_at(b, at)?;
        let len = u16::from_le_bytes(b.get(at + 8..at + 10)?.try_into().ok()?) as usize;
        let t = b.get(at + 10..at + 10 + len)?;
        terms.push((t, w));
        at += 10 + len;
    }
    (at == b.len()).then_some(PreparedQuery {
        params,
        avgdl,
        terms,
    })
}

/// BM25 of one document: `tf` gives a term's count in it (0 when absent), `doc_len` its
/// length (asked only when some term occurs). Equals [`crate::bm25::score_document`] on the
/// same numbers.
pub fn score(
    q: &PreparedQuery<'_>,
    tf: impl Fn(&[u8]) -> u32,
    doc_len: impl FnOnce() -> u64,
) -> f64 {
    let mut len = None;
    let mut doc_len = Some(doc_len);
    let mut s = 0.0;
    for &(t, w) in &q.terms {
        let n = tf(t);
        if n == 0 {
            continue;
        }
        let l = *len.get_or_insert_with(|| {
            let f = doc_len.take().expect("taken once");
            f().min(u64::from(u32::MAX)) as u32
        });
        // the weight holds qtf · idf: term_score with idf 1, times it
        s += w * term_score(q.params, 1.0, n, l, q.avgdl);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_equals_score_document() {
        use crate::bm25::{score_document, DocTerms, QueryTermStat};
        let p = Bm25Params::default();
        let doc = DocTerms::from_tokens(&["parse", "date", "parse", "x", "y"]);
        let b = encode(
            p,
            &[("date", 3, 1), ("parse", 10, 2), ("zzz", 1, 1)],
            100,
            700,
        );
        let q = decode(&b).unwrap();
        let got = score(&q, |t| doc.tf(std::str::from_utf8(t).unwrap()), || 5);
        let stats = [
            QueryTermStat { df: 3, qtf: 1 },
            QueryTermStat { df: 10, qtf: 2 },
            QueryTermStat { df: 1, qtf: 1 },
        ];
        let want = score_document(p, 100, 7.0, &stats, &[1, 2, 0], 5);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(score(&q, |_| 0, || panic!("length not needed")), 0.0);
    }

    #[test]
    fn query_round_trips() {
        let p = Bm25Params::default();
        let b = encode(p, &[("date", 3, 1), ("parse", 10, 2)], 100, 1000);
        let q = decode(&b).unwrap();
        assert_eq!(q.params, p);
        assert_eq!(q.avgdl, 10.0);
        assert_eq!(q.terms.len(), 2);
        assert_eq!(q.terms[0].0, b"date");
        assert!((q.terms[1].1 - 2.0 * idf(100, 10)).abs() < 1e-12);
        assert!(decode(&b[..b.len() - 1]).is_none());
        assert!(decode(b"nope").is_none());
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
    }
}
