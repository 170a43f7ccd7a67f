//! Helpers shared by the splitters' unit tests.

use crate::lang::Grammar;
use crate::split::split;

/// (symbol, doc) of every function `split` finds in `src`.
pub fn docs(grammar: Grammar, src: &str) -> Vec<(String, Option<String>)> {
    split(grammar, src)
        .unwrap()
        .into_iter()
        .map(|s| (s.symbol, s.doc))
        .collect()
}

/// `Some(s.to_string())`, for expected docs.
pub fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}
