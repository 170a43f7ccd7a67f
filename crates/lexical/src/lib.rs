//! The lexical leg of codevec's hybrid code search, without Postgres: a code tokenizer,
//! BM25 with incrementally maintained corpus statistics, rank fusion of several legs, and
//! code-aware priors. The SQL layer stores tokens and statistics and calls these functions;
//! `examples/eval.rs` measures every piece offline.
//!
//! | module | what it holds |
//! |---|---|
//! | [`tokenize`] | identifier splitting for code and for questions |
//! | [`bm25`] | idf, per-document scoring from stored numbers, [`bm25::CorpusStats`], an in-memory inverted index |
//! | [`fusion`] | reciprocal-rank fusion and weighted min-max fusion |
//! | [`prepared`] | a BM25 query encoded once, scored against many stored documents |
//! | [`priors`] | symbol, path, test-path and same-file re-ranking signals |
//! | `evalset` | (feature `evalset`) the offline evaluations' sets, embedding cache and metrics |

pub mod bm25;
#[cfg(feature = "evalset")]
pub mod evalset;
pub mod fusion;
pub mod prepared;
pub mod priors;
pub mod tokenize;
