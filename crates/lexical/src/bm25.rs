//! BM25 (Lucene-style idf) over code tokens: per-document term frequencies, corpus
//! statistics that are maintained incrementally, a scoring function that needs only stored
//! numbers (for the SQL layer), and an in-memory inverted index (for the evaluation).
//!
//! ```text
//! idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
//! score(q, d) = Σ_t∈q  qtf(t) · idf(t) · tf(t,d)·(k1 + 1) / (tf(t,d) + k1·(1 - b + b·|d|/avgdl))
//! ```
//!
//! A term repeated in the query counts once per occurrence (`qtf`), as if each occurrence
//! were its own clause (Lucene's BooleanQuery of term queries does the same).

use std::collections::HashMap;
use std::fmt;

/// The two free parameters of BM25.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation (0 = presence only).
    pub k1: f64,
    /// Length normalisation (0 = none, 1 = full).
    pub b: f64,
}

impl Default for Bm25Params {
    /// k1 = 1.2, b = 0.75 (the usual defaults; a sweep on python-dev is in the README).
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75 }
    }
}

/// Lucene's idf: `ln(1 + (N - df + 0.5) / (df + 0.5))`, always > 0. `df` above `N` (stale
/// statistics) is read as `N`.
pub fn idf(n_docs: u64, df: u64) -> f64 {
    let n = n_docs as f64;
    let df = df.min(n_docs) as f64;
    ((n - df + 0.5) / (df + 0.5)).ln_1p()
}

/// The BM25 contribution of one term occurring `tf` times in a document of `doc_len`
/// tokens, given its `idf` and the corpus' average document length (an `avgdl` of 0, an
/// empty corpus, counts as no length normalisation).
pub fn term_score(params: Bm25Params, idf: f64, tf: u32, doc_len: u32, avgdl: f64) -> f64 {
    if tf == 0 {
        return 0.0;
    }
    let tf = tf as f64;
    let rel_len = if avgdl > 0.0 {
        doc_len as f64 / avgdl
    } else {
        1.0
    };
    let norm = params.k1 * (1.0 - params.b + params.b * rel_len);
    idf * tf * (params.k1 + 1.0) / (tf + norm)
}

/// One distinct query term with what scoring needs to know about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryTermStat {
    /// Documents of the corpus containing the term.
    pub df: u64,
    /// Times the term occurs in the query.
    pub qtf: u32,
}

/// BM25 of one document from stored numbers only: `terms[i]` is a distinct query term's
/// statistics and `doc_tfs[i]` how often that term occurs in the document (0 if not);
/// `n_docs` and `avgdl` come from the corpus statistics. This is the function the SQL
/// layer evaluates on each candidate fetched through the token index.
///
/// Terms beyond the shorter of the two slices are ignored.
pub fn score_document(
    params: Bm25Params,
    n_docs: u64,
    avgdl: f64,
    terms: &[QueryTermStat],
    doc_tfs: &[u32],
    doc_len: u32,
) -> f64 {
    terms
        .iter()
        .zip(doc_tfs)
        .map(|(t, &tf)| t.qtf as f64 * term_score(params, idf(n_docs, t.df), tf, doc_len, avgdl))
        .sum()
}

/// The distinct query tokens with their counts, sorted by token (a deterministic order for
/// summation).
pub fn query_terms(tokens: &[String]) -> Vec<(String, u32)> {
    DocTerms::from_tokens(tokens).terms
}

/// A document as BM25 sees it: its distinct tokens with their frequencies and its length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocTerms {
    /// Distinct tokens, sorted, each with its count (> 0).
    terms: Vec<(String, u32)>,
    /// Number of tokens (the sum of the counts).
    len: u32,
}

impl DocTerms {
    /// Counts the tokens of one document.
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S]) -> DocTerms {
        let mut sorted: Vec<&str> = tokens.iter().map(|t| t.as_ref()).collect();
        sorted.sort_unstable();
        let mut terms: Vec<(String, u32)> = Vec::new();
        for t in sorted {
            match terms.last_mut() {
                Some((last, n)) if last == t => *n = n.saturating_add(1),
                _ => terms.push((t.to_string(), 1)),
            }
        }
        DocTerms {
            len: u32::try_from(tokens.len()).unwrap_or(u32::MAX),
            terms,
        }
    }

    /// Times `term` occurs.
    pub fn tf(&self, term: &str) -> u32 {
        self.terms
            .binary_search_by(|(t, _)| t.as_str().cmp(term))
            .map_or(0, |i| self.terms[i].1)
    }

    /// Number of tokens.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the document has no token.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The distinct tokens with their counts, sorted by token.
    pub fn terms(&self) -> &[(String, u32)] {
        &self.terms
    }
}

/// Removing a document the statistics never counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotCounted {
    /// A term whose document frequency would go below zero (None: the document count or
    /// total length would).
    pub term: Option<String>,
}

impl fmt::Display for NotCounted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.term {
            Some(t) => write!(f, "document frequency of {t:?} would go below zero"),
            None => write!(f, "document count or total length would go below zero"),
        }
    }
}

impl std::error::Error for NotCounted {}

/// Corpus statistics for BM25: number of documents, total length, document frequency of
/// every term. Kept incrementally with [`add_doc`](Self::add_doc) /
/// [`remove_doc`](Self::remove_doc) (an UPDATE is a remove of the old version and an add of
/// the new one); any sequence of them equals a rebuild from the surviving documents, so
/// terms whose frequency drops to zero are forgotten.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorpusStats {
    n_docs: u64,
    total_len: u64,
    df: HashMap<String, u64>,
}

impl CorpusStats {
    /// Empty statistics.
    pub fn new() -> CorpusStats {
        CorpusStats::default()
    }

    /// Statistics of a set of documents.
    pub fn from_docs<'a>(docs: impl IntoIterator<Item = &'a DocTerms>) -> CorpusStats {
        let mut s = CorpusStats::new();
        for d in docs {
            s.add_doc(d);
        }
        s
    }

    /// Counts one more document.
    pub fn add_doc(&mut self, doc: &DocTerms) {
        self.n_docs += 1;
        self.total_len += doc.len as u64;
        for (t, _) in &doc.terms {
            *self.df.entry(t.clone()).or_insert(0) += 1;
        }
    }

    /// Forgets one counted document. Checked first: if `doc` cannot have been counted
    /// (a term absent, the count or length too small), nothing changes and the error names
    /// the culprit.
    pub fn remove_doc(&mut self, doc: &DocTerms) -> Result<(), NotCounted> {
        if self.n_docs == 0 || self.total_len < doc.len as u64 {
            return Err(NotCounted { term: None });
        }
        if let Some((t, _)) = doc.terms.iter().find(|(t, _)| self.df(t) == 0) {
            return Err(NotCounted {
                term: Some(t.clone()),
            });
        }
        self.n_docs -= 1;
        self.total_len -= doc.len as u64;
        for (t, _) in &doc.terms {
            if let Some(n) = self.df.get_mut(t) {
                *n -= 1;
                if *n == 0 {
                    self.df.remove(t);
                }
            }
        }
        Ok(())
    }

    /// Number of documents.
    pub fn n_docs(&self) -> u64 {
        self.n_docs
    }

    /// Sum of the documents' lengths.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Average document length (0 for an empty corpus).
    pub fn avgdl(&self) -> f64 {
        if self.n_docs == 0 {
            0.0
        } else {
            self.total_len as f64 / self.n_docs as f64
        }
    }

    /// Documents containing `term`.
    pub fn df(&self, term: &str) -> u64 {
        self.df.get(term).copied().unwrap_or(0)
    }

    /// Number of distinct terms.
    pub fn vocabulary_len(&self) -> usize {
        self.df.len()
    }

    /// Every term with its document frequency, in no particular order.
    pub fn iter_df(&self) -> impl Iterator<Item = (&str, u64)> {
        self.df.iter().map(|(t, &n)| (t.as_str(), n))
    }

    /// Scoring statistics of a query's distinct terms (see [`query_terms`]).
    pub fn query_stats(&self, terms: &[(String, u32)]) -> Vec<QueryTermStat> {
        terms
            .iter()
            .map(|(t, qtf)| QueryTermStat {
                df: self.df(t),
                qtf: *qtf,
            })
            .collect()
    }
}

/// In-memory inverted index: term → postings (document number, tf), documents numbered
/// 0, 1, … in insertion order. Scores term at a time into a dense accumulator; meant for
/// evaluation-sized corpora.
#[derive(Clone, Debug)]
pub struct InvertedIndex {
    params: Bm25Params,
    stats: CorpusStats,
    doc_lens: Vec<u32>,
    postings: HashMap<String, Vec<(u32, u32)>>,
}

impl InvertedIndex {
    /// An empty index scoring with `params`.
    pub fn new(params: Bm25Params) -> InvertedIndex {
        InvertedIndex {
            params,
            stats: CorpusStats::new(),
            doc_lens: Vec::new(),
            postings: HashMap::new(),
        }
    }

    /// Adds a document; returns its number.
    pub fn add(&mut self, doc: &DocTerms) -> u32 {
        let id = self.doc_lens.len() as u32;
        self.stats.add_doc(doc);
        self.doc_lens.push(doc.len);
        for (t, tf) in &doc.terms {
            self.postings.entry(t.clone()).or_default().push((id, *tf));
        }
        id
    }

    /// The postings of `term`: (document number, tf), ascending document numbers.
    pub fn postings(&self, term: &str) -> &[(u32, u32)] {
        self.postings.get(term).map_or(&[], Vec::as_slice)
    }

    /// The corpus statistics.
    pub fn stats(&self) -> &CorpusStats {
        &self.stats
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.doc_lens.len()
    }

    /// Whether the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.doc_lens.is_empty()
    }

    /// The BM25 score of every document for the query tokens (0 where no term matches).
    pub fn score_all<S: AsRef<str>>(&self, query: &[S]) -> Vec<f64> {
        let mut scores = vec![0.0f64; self.doc_lens.len()];
        let n = self.stats.n_docs();
        let avgdl = self.stats.avgdl();
        let tokens: Vec<String> = query.iter().map(|t| t.as_ref().to_string()).collect();
        for (term, qtf) in query_terms(&tokens) {
            let Some(list) = self.postings.get(&term) else {
                continue;
            };
            let w = idf(n, list.len() as u64) * qtf as f64;
            for &(d, tf) in list {
                scores[d as usize] +=
                    w * term_score(self.params, 1.0, tf, self.doc_lens[d as usize], avgdl);
            }
        }
        scores
    }

    /// The `k` best documents with a score above 0, best first, ties by document number.
    pub fn search<S: AsRef<str>>(&self, query: &[S], k: usize) -> Vec<(u32, f64)> {
        let scores = self.score_all(query);
        let hits: Vec<(u32, f64)> = scores
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 0.0)
            .map(|(i, &s)| (i as u32, s))
            .collect();
        top_k(hits, k)
    }
}

/// The `k` largest scores, best first, equal scores by ascending id.
pub fn top_k<I: Ord + Copy>(mut hits: Vec<(I, f64)>, k: usize) -> Vec<(I, f64)> {
    let order = |a: &(I, f64), b: &(I, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if hits.len() > k && k > 0 {
        hits.select_nth_unstable_by(k - 1, order);
        hits.truncate(k);
    }
    hits.sort_unstable_by(order);
    hits.truncate(k);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc(s: &str) -> DocTerms {
        let t: Vec<&str> = s.split_whitespace().collect();
        DocTerms::from_tokens(&t)
    }

    #[test]
    fn idf_is_lucene_s() {
        // N = 3, df = 1: ln(1 + 2.5 / 1.5)
        assert!((idf(3, 1) - (1.0f64 + 2.5 / 1.5).ln()).abs() < 1e-12);
        assert!(idf(3, 3) > 0.0);
        assert_eq!(idf(3, 9), idf(3, 3));
        assert!(idf(0, 0) > 0.0);
    }

    #[test]
    fn hand_computed_example() {
        // d0 = "parse date parse" (3), d1 = "date string" (2), d2 = "read file now" (3)
        // avgdl = 8/3; query "parse date".
        let docs = [
            doc("parse date parse"),
            doc("date string"),
            doc("read file now"),
        ];
        let mut ix = InvertedIndex::new(Bm25Params::default());
        for d in &docs {
            ix.add(d);
        }
        let (k1, b, avgdl) = (1.2f64, 0.75f64, 8.0f64 / 3.0);
        let idf_parse = (1.0f64 + (3.0 - 1.0 + 0.5) / 1.5).ln(); // 0.9808292530117262
        let idf_date = (1.0f64 + (3.0 - 2.0 + 0.5) / 2.5).ln(); // 0.4700036292457356
        let tf_part = |tf: f64, dl: f64| tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl));
        let want0 = idf_parse * tf_part(2.0, 3.0) + idf_date * tf_part(1.0, 3.0);
        let want1 = idf_date * tf_part(1.0, 2.0);
        // The same numbers written out: tf_part(2, 3) = 2.2·2 / (2 + 1.2·(0.25 + 0.84375)).
        assert!((tf_part(2.0, 3.0) - 4.4 / (2.0 + 1.2 * (0.25 + 0.75 * 9.0 / 8.0))).abs() < 1e-12);
        assert!((want0 - 1.749_975_935).abs() < 1e-9, "{want0}");
        let s = ix.score_all(&["parse", "date"]);
        assert!((s[0] - want0).abs() < 1e-12, "{} vs {want0}", s[0]);
        assert!((s[1] - want1).abs() < 1e-12);
        assert_eq!(s[2], 0.0);
        assert_eq!(
            ix.search(&["parse", "date"], 10)
                .iter()
                .map(|h| h.0)
                .collect::<Vec<_>>(),
            [0, 1]
        );
        // score_document from stored numbers gives the same value.
        let q = query_terms(&["parse".to_string(), "date".to_string()]);
        let stats = ix.stats().query_stats(&q);
        let tfs: Vec<u32> = q.iter().map(|(t, _)| docs[0].tf(t)).collect();
        let via_stats = score_document(Bm25Params::default(), 3, avgdl, &stats, &tfs, 3);
        assert!((via_stats - want0).abs() < 1e-12);
    }

    #[test]
    fn repeated_query_terms_count_per_occurrence() {
        let mut ix = InvertedIndex::new(Bm25Params::default());
        ix.add(&doc("a b"));
        ix.add(&doc("c"));
        let once = ix.score_all(&["a"])[0];
        let twice = ix.score_all(&["a", "a"])[0];
        assert!((twice - 2.0 * once).abs() < 1e-12);
    }

    #[test]
    fn doc_terms_count_and_look_up() {
        let d = doc("b a b c b");
        assert_eq!(d.len(), 5);
        assert_eq!(d.tf("b"), 3);
        assert_eq!(d.tf("zzz"), 0);
        assert_eq!(d.terms()[0], ("a".to_string(), 1));
        assert!(DocTerms::from_tokens::<&str>(&[]).is_empty());
    }

    #[test]
    fn remove_of_uncounted_doc_is_an_error_and_changes_nothing() {
        let mut s = CorpusStats::from_docs([&doc("a b")]);
        let before = s.clone();
        assert_eq!(
            s.remove_doc(&doc("a z")).unwrap_err().term.as_deref(),
            Some("z")
        );
        assert_eq!(s, before);
        s.remove_doc(&doc("a b")).unwrap();
        assert_eq!(s, CorpusStats::new());
        assert!(s.remove_doc(&doc("")).is_err());
        assert_eq!(s.avgdl(), 0.0);
    }

    #[test]
    fn top_k_breaks_ties_by_id() {
        let hits = vec![(5u32, 1.0), (2, 1.0), (9, 2.0), (1, 0.5)];
        assert_eq!(top_k(hits.clone(), 2), [(9, 2.0), (2, 1.0)]);
        assert_eq!(top_k(hits, 10), [(9, 2.0), (2, 1.0), (5, 1.0), (1, 0.5)]);
    }

    #[test]
    fn empty_corpus_scores_zero() {
        let ix = InvertedIndex::new(Bm25Params::default());
        assert!(ix.search(&["a"], 10).is_empty());
        assert_eq!(term_score(Bm25Params::default(), 1.0, 1, 3, 0.0), 1.0);
    }

    proptest! {
        /// Random interleavings of adds and removes leave exactly the statistics of a
        /// from-scratch rebuild over the surviving documents.
        #[test]
        fn incremental_stats_equal_rebuild(
            docs in proptest::collection::vec(proptest::collection::vec(0u8..12, 0..8), 1..24),
            ops in proptest::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 0..80),
        ) {
            let docs: Vec<DocTerms> = docs
                .iter()
                .map(|d| DocTerms::from_tokens(&d.iter().map(|t| format!("t{t}")).collect::<Vec<_>>()))
                .collect();
            let mut live: Vec<usize> = Vec::new();
            let mut stats = CorpusStats::new();
            for (add, idx) in ops {
                if add || live.is_empty() {
                    let i = idx.index(docs.len());
                    stats.add_doc(&docs[i]);
                    live.push(i);
                } else {
                    let j = idx.index(live.len());
                    let i = live.swap_remove(j);
                    stats.remove_doc(&docs[i]).unwrap();
                }
                let rebuilt = CorpusStats::from_docs(live.iter().map(|&i| &docs[i]));
                prop_assert_eq!(&stats, &rebuilt);
            }
        }
    }
}
