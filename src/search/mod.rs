//! Hybrid code search (`sql/search.sql`): a lexical column and its GIN index, BM25 corpus
//! statistics kept by statement triggers, `codevec.search` fusing the vector and lexical
//! legs with code-aware priors, and a query adapter trained in the database. The scoring
//! and training are `codevec_lexical` and `codevec_adapter`; this module is their SQL shell.
//! See docs/search.md.

pub mod adapter;
pub mod lexvec;
pub mod sql;
