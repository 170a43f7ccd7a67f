//! SQL functions of hybrid search implemented in Rust (schema `codevec`); the rest is
//! `sql/search.sql`.

use pgrx::prelude::*;

#[pg_schema]
mod codevec {
    use codevec_lexical::bm25::{query_terms as distinct_terms, Bm25Params, DocTerms};
    use codevec_lexical::prepared;
    use codevec_lexical::priors::{path_match, prior_tokens, symbol_match};
    use codevec_lexical::tokenize::{tokenize_code, tokenize_query, QueryOptions};
    use pgrx::prelude::*;

    use crate::encoder::text::{whole_text, TextArg};
    use crate::error::{invalid, raise};
    use crate::search::lexvec::{LexIn, LexOut};

    /// A text argument as UTF-8, whatever the server encoding.
    fn utf8(t: &TextArg) -> String {
        // SAFETY: a non-null text datum (every function here is STRICT).
        unsafe { whole_text(t.0) }
    }

    /// The lexical vector of a code text: its distinct code tokens, each with its count.
    #[pg_extern(immutable, strict, parallel_safe, cost = 1000, sql = false)]
    fn lexical_vector(code: TextArg) -> LexOut {
        LexOut::new(&DocTerms::from_tokens(&tokenize_code(&utf8(&code))))
    }

    /// The number of tokens a lexical vector counts (the BM25 document length).
    #[pg_extern(immutable, strict, parallel_safe, sql = false)]
    fn lexical_length(lex: LexIn<'_>) -> i64 {
        lex.doc_len() as i64
    }

    /// A question's distinct tokens (stop words dropped) with their counts, by token.
    #[pg_extern(immutable, strict, parallel_safe, sql = false)]
    fn query_terms(
        query: TextArg,
    ) -> TableIterator<'static, (name!(term, String), name!(qtf, i32))> {
        let toks = tokenize_query(&utf8(&query), QueryOptions::default());
        TableIterator::new(
            distinct_terms(&toks)
                .into_iter()
                .map(|(t, n)| (t, n.min(i32::MAX as u32) as i32)),
        )
    }

    /// A BM25 query for `codevec.bm25`: the distinct terms with their document
    /// frequencies and counts in the question, and the corpus' size and total length.
    #[pg_extern(immutable, strict, parallel_safe, sql = false)]
    fn bm25_query(
        terms: Vec<Option<String>>,
        dfs: Vec<Option<i64>>,
        qtfs: Vec<Option<i32>>,
        n_docs: i64,
        total_len: i64,
        k1: f64,
        b: f64,
    ) -> Vec<u8> {
        if terms.len() != dfs.len() || terms.len() != qtfs.len() {
            invalid(format!(
                "bm25_query: {} terms, {} document frequencies and {} counts",
                terms.len(),
                dfs.len(),
                qtfs.len()
            ));
        }
        if !(k1.is_finite() && k1 >= 0.0 && b.is_finite() && (0.0..=1.0).contains(&b)) {
            invalid(format!(
                "bm25_query: k1 must be >= 0 and b in [0, 1], got {k1} and {b}"
            ));
        }
        let rows: Vec<(&str, u64, u32)> = terms
            .iter()
            .zip(&dfs)
            .zip(&qtfs)
            .filter_map(|((t, df), q)| {
                Some((
                    t.as_deref()?,
                    df.unwrap_or(0).max(0) as u64,
                    q.unwrap_or(1).max(1) as u32,
                ))
            })
            .collect();
        prepared::encode(
            Bm25Params { k1, b },
            &rows,
            n_docs.max(0) as u64,
            total_len.max(0) as u64,
        )
    }

    /// BM25 of a lexical vector against a query made by `codevec.bm25_query`.
    #[pg_extern(immutable, strict, parallel_safe, cost = 5, sql = false)]
    fn bm25(lex: LexIn<'_>, query: &[u8]) -> f64 {
        let Some(q) = prepared::decode(query) else {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
                "codevec.bm25: the query is not one made by codevec.bm25_query",
                None,
                Some("Prepare the query with codevec.bm25_query(terms, dfs, qtfs, n_docs, total_len, k1, b)."),
            )
        };
        prepared::score(&q, |t| lex.tf(t), || lex.doc_len())
    }

    thread_local! {
        /// The last question's prior tokens: a search asks the priors of one question for
        /// every candidate row.
        static PRIOR_TOKENS: std::cell::RefCell<Option<(String, Vec<String>)>> =
            const { std::cell::RefCell::new(None) };
    }

    fn with_prior_tokens<R>(query: &str, f: impl FnOnce(&[String]) -> R) -> R {
        PRIOR_TOKENS.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref().is_none_or(|(q, _)| q != query) {
                let toks = prior_tokens(&tokenize_query(query, QueryOptions::default()));
                *c = Some((query.to_string(), toks));
            }
            f(&c.as_ref().expect("just set").1)
        })
    }

    /// Symbol prior: the share of the symbol's last name's parts the question mentions.
    #[pg_extern(immutable, strict, parallel_safe, sql = false)]
    fn symbol_prior(query: TextArg, symbol: TextArg) -> f64 {
        let symbol = utf8(&symbol);
        with_prior_tokens(&utf8(&query), |q| symbol_match(q, &symbol))
    }

    /// Path prior: the share of the file's and its directory's name parts the question
    /// mentions (generic parts such as src, lib, mod skipped).
    #[pg_extern(immutable, strict, parallel_safe, sql = false)]
    fn path_prior(query: TextArg, path: TextArg) -> f64 {
        let path = utf8(&path);
        with_prior_tokens(&utf8(&query), |q| path_match(q, &path))
    }
}

extension_sql_file!(
    "../../sql/search.sql",
    name = "search_sql",
    requires = ["types", "encoder_sql", "sync_sql"]
);
