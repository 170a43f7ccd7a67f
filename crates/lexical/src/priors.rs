//! Code-aware priors: cheap re-ranking signals applied to the fused candidates.
//!
//! Every prior is a function of the question's tokens and a candidate's metadata (the
//! symbol it defines, its file path) returning a number in [0, 1]; [`apply_priors`] adds
//! each one times its weight to the fused score (which [`crate::fusion::weighted_min_max`]
//! keeps in [0, 1]) and then decays further chunks of a file already ranked. A weight of 0
//! switches a prior off. Which priors earn their keep, and the data they were tuned on, is
//! in the crate README.

use std::collections::{HashMap, HashSet};

use crate::tokenize::{identifier_parts, is_stop_word};

/// A fused candidate with the metadata the priors read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate<'a, I> {
    /// Document id.
    pub id: I,
    /// Fused score (higher is better), in [0, 1] for weighted min-max fusion.
    pub score: f64,
    /// File path, if known.
    pub path: Option<&'a str>,
    /// Qualified name of the function / method the chunk defines (`Parser.parse`,
    /// `Foo::bar`), if known.
    pub symbol: Option<&'a str>,
}

/// The weight of each prior (0 = off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriorWeights {
    /// Added × [`symbol_match`].
    pub symbol: f64,
    /// Added × [`path_match`].
    pub path: f64,
    /// Subtracted when [`is_test_like`] holds.
    pub test_demotion: f64,
    /// Factor applied once per earlier-ranked chunk of the same file (1 = off): the n-th
    /// chunk of a file (0-based) has its score multiplied by `same_file_decay^n`.
    pub same_file_decay: f64,
}

impl PriorWeights {
    /// Every prior off.
    pub const NONE: PriorWeights = PriorWeights {
        symbol: 0.0,
        path: 0.0,
        test_demotion: 0.0,
        same_file_decay: 1.0,
    };
}

impl Default for PriorWeights {
    /// The weights tuned on python-dev (argmax of the grid over fusion weight, symbol and
    /// path weights, see the crate README): symbol 0.25, path 0.2. Test demotion and the
    /// same-file decay are off: python-dev has no test code to tune the first on, and the
    /// decay lowered MRR there at every setting tried.
    fn default() -> Self {
        PriorWeights {
            symbol: 0.25,
            path: 0.2,
            test_demotion: 0.0,
            same_file_decay: 1.0,
        }
    }
}

/// Whether two lower-case tokens name the same thing up to an inflection: equal, or the
/// shorter (at least 4 characters) is a prefix of the longer and at most 3 characters
/// shorter (`parse`/`parsed`/`parser`, `read`/`reads`, `decode`/`decoder`). Cheap, no
/// stemmer; used by the priors only (BM25 matches exactly).
pub fn soft_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 4 && long.len() - short.len() <= 3 && long.starts_with(short)
}

/// Distinct parts of an identifier or path segment, without the whole-word token and
/// without stop words.
fn parts(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    identifier_parts(text)
        .into_iter()
        .filter(|t| !is_stop_word(t))
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

/// Fraction of `names`' parts that some query token matches ([`soft_match`]); 0 when
/// `names` has no part.
fn coverage(query: &[String], names: &[String]) -> f64 {
    if names.is_empty() {
        return 0.0;
    }
    let hit = names
        .iter()
        .filter(|n| query.iter().any(|q| soft_match(q, n)))
        .count();
    hit as f64 / names.len() as f64
}

/// **Symbol prior**: how much of the defined name the question mentions, in [0, 1]: the
/// fraction of the parts of the symbol's last segment (`Foo::parse_date` → parse, date)
/// that match a query token. A chunk that *defines* what the question names comes first.
pub fn symbol_match(query: &[String], symbol: &str) -> f64 {
    let last = symbol
        .rsplit(['.', ':', '#', '/'])
        .find(|s| !s.is_empty())
        .unwrap_or(symbol);
    coverage(query, &parts(last))
}

/// Path segments that say nothing about the content.
const GENERIC_PATH_PARTS: &[&str] = &[
    "cjs", "dist", "esm", "index", "init", "js", "lib", "main", "mjs", "mod", "py", "rs", "src",
    "ts", "tsx",
];

/// **Path prior**: the fraction of the file name's and its directory's parts (`json/
/// decoder.py` → json, decoder; generic parts such as `src`, `lib`, `mod`, `index`
/// skipped) that match a query token, in [0, 1].
pub fn path_match(query: &[String], path: &str) -> f64 {
    let mut segs = path.rsplit(['/', '\\']).filter(|s| !s.is_empty());
    let file = segs.next().unwrap_or("");
    let stem = file.split('.').next().unwrap_or(file);
    let dir = segs.next().unwrap_or("");
    let mut names = parts(stem);
    for p in parts(dir) {
        if !names.contains(&p) {
            names.push(p);
        }
    }
    names.retain(|n| !GENERIC_PATH_PARTS.contains(&n.as_str()));
    coverage(query, &names)
}

/// Directory names of test, example and benchmark code.
const TEST_DIRS: &[&str] = &[
    "__tests__",
    "bench",
    "benches",
    "benchmark",
    "benchmarks",
    "example",
    "examples",
    "fixtures",
    "spec",
    "specs",
    "test",
    "testdata",
    "testing",
    "tests",
];

/// **Test demotion**: whether the chunk looks like test, example or benchmark code: a
/// directory named like [`TEST_DIRS`], a file `test_*`, `*_test.*`, `*.test.*`, `*.spec.*`,
/// `*_spec.*`, or a symbol inside a `tests` module (`tests::it_works`) or named `test_*`.
pub fn is_test_like(path: Option<&str>, symbol: Option<&str>) -> bool {
    if let Some(path) = path {
        let lower = path.to_lowercase();
        let mut segs: Vec<&str> = lower.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
        let file = segs.pop().unwrap_or("");
        if segs.iter().any(|s| TEST_DIRS.contains(s)) {
            return true;
        }
        let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
        if stem.starts_with("test_")
            || stem.ends_with("_test")
            || stem.ends_with("_tests")
            || stem.ends_with(".test")
            || stem.ends_with(".spec")
            || stem.ends_with("_spec")
            || stem == "tests"
            || stem == "test"
        {
            return true;
        }
    }
    if let Some(symbol) = symbol {
        let lower = symbol.to_lowercase();
        let segs: Vec<&str> = lower.split([':', '.']).filter(|s| !s.is_empty()).collect();
        if segs
            .iter()
            .rev()
            .skip(1)
            .any(|s| *s == "tests" || *s == "test")
            || segs.last().is_some_and(|s| s.starts_with("test_"))
        {
            return true;
        }
    }
    false
}

/// The question tokens the priors compare with: without whole `snake_case` words (their
/// parts are there) and stop words.
pub fn prior_tokens(query: &[String]) -> Vec<String> {
    query
        .iter()
        .filter(|t| !t.contains('_') && !is_stop_word(t))
        .cloned()
        .collect()
}

/// Re-ranks fused candidates: `score + symbol·symbol_match + path·path_match −
/// test_demotion·[test-like]`, then, walking best first, multiplies the n-th chunk of a
/// file already seen (0-based) by `same_file_decay^n`. Returns `(id, score)` best first,
/// ties by id. `query` is the question's tokens ([`crate::tokenize::tokenize_query`]).
pub fn apply_priors<I: Ord + Copy>(
    candidates: &[Candidate<'_, I>],
    query: &[String],
    w: &PriorWeights,
) -> Vec<(I, f64)> {
    let query = prior_tokens(query);
    let mut scored: Vec<(I, f64, Option<&str>)> = candidates
        .iter()
        .map(|c| {
            let mut s = c.score;
            if w.symbol != 0.0 {
                if let Some(sym) = c.symbol {
                    s += w.symbol * symbol_match(&query, sym);
                }
            }
            if w.path != 0.0 {
                if let Some(p) = c.path {
                    s += w.path * path_match(&query, p);
                }
            }
            if w.test_demotion != 0.0 && is_test_like(c.path, c.symbol) {
                s -= w.test_demotion;
            }
            (c.id, s, c.path)
        })
        .collect();
    let order = |a: &(I, f64, Option<&str>), b: &(I, f64, Option<&str>)| {
        b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
    };
    scored.sort_by(order);
    if w.same_file_decay != 1.0 {
        let mut seen: HashMap<&str, i32> = HashMap::new();
        for c in scored.iter_mut() {
            if let Some(p) = c.2 {
                let n = seen.entry(p).or_insert(0);
                c.1 *= w.same_file_decay.powi(*n);
                *n += 1;
            }
        }
        scored.sort_by(order);
    }
    scored.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::{tokenize_query, QueryOptions};

    fn q(s: &str) -> Vec<String> {
        tokenize_query(s, QueryOptions::default())
    }

    #[test]
    fn soft_match_allows_inflections_only() {
        assert!(soft_match("parse", "parsed"));
        assert!(soft_match("decoder", "decode"));
        assert!(soft_match("read", "reads"));
        assert!(!soft_match("get", "gets"), "too short to trust");
        assert!(!soft_match("parse", "parseable_list"));
        assert!(!soft_match("date", "data"));
    }

    #[test]
    fn symbol_match_reads_the_defined_name() {
        let query = q("Parse a date string");
        assert_eq!(symbol_match(&query, "parse_date"), 1.0);
        assert_eq!(symbol_match(&query, "DateParser::parse_date"), 1.0);
        assert_eq!(symbol_match(&query, "Calendar.parseDateTime"), 2.0 / 3.0);
        assert_eq!(symbol_match(&query, "fetch"), 0.0);
        assert_eq!(symbol_match(&query, ""), 0.0);
    }

    #[test]
    fn path_match_skips_generic_parts() {
        let query = q("Decode a JSON document");
        assert_eq!(path_match(&query, "Lib/json/decoder.py"), 1.0);
        assert_eq!(path_match(&query, "src/lib.rs"), 0.0);
        assert_eq!(path_match(&query, "serde_json/de.rs"), 1.0 / 3.0);
        assert_eq!(path_match(&query, ""), 0.0);
    }

    #[test]
    fn test_like_paths_and_symbols() {
        for p in [
            "crate/tests/it.rs",
            "pkg/__tests__/a.js",
            "lib/test_io.py",
            "io_test.go",
            "a/b.spec.ts",
            "x/benches/encode.rs",
            "examples/demo.rs",
        ] {
            assert!(is_test_like(Some(p), None), "{p}");
        }
        for p in [
            "src/contest.rs",
            "lib/testing_utils_x/attest.py",
            "src/latest.js",
        ] {
            assert!(!is_test_like(Some(p), None), "{p}");
        }
        assert!(is_test_like(None, Some("tests::it_works")));
        assert!(is_test_like(None, Some("TestFoo.test_bar")));
        assert!(!is_test_like(None, Some("Tester::run")));
    }

    #[test]
    fn priors_reorder_and_decay() {
        let query = q("parse a date string");
        let c = [
            Candidate {
                id: 1u32,
                score: 0.50,
                path: Some("a.py"),
                symbol: Some("fetch"),
            },
            Candidate {
                id: 2,
                score: 0.45,
                path: Some("b.py"),
                symbol: Some("parse_date"),
            },
            Candidate {
                id: 3,
                score: 0.49,
                path: Some("a.py"),
                symbol: Some("other"),
            },
            Candidate {
                id: 4,
                score: 0.48,
                path: Some("tests/t.py"),
                symbol: Some("x"),
            },
        ];
        let none = apply_priors(&c, &query, &PriorWeights::NONE);
        assert_eq!(none.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 3, 4, 2]);
        let sym = PriorWeights {
            symbol: 0.1,
            ..PriorWeights::NONE
        };
        let r = apply_priors(&c, &query, &sym);
        assert_eq!(r[0].0, 2);
        assert!((r[0].1 - 0.55).abs() < 1e-12);
        let demote = PriorWeights {
            test_demotion: 0.1,
            ..PriorWeights::NONE
        };
        let r = apply_priors(&c, &query, &demote);
        assert_eq!(r.last().unwrap().0, 4);
        let decay = PriorWeights {
            same_file_decay: 0.9,
            ..PriorWeights::NONE
        };
        let r = apply_priors(&c, &query, &decay);
        // 3 is a.py's second chunk: 0.49·0.9 = 0.441 falls below 4 and 2.
        assert_eq!(r.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 4, 2, 3]);
    }

    #[test]
    fn ties_break_by_id() {
        let c = [
            Candidate {
                id: 9u32,
                score: 0.5,
                path: None,
                symbol: None,
            },
            Candidate {
                id: 3,
                score: 0.5,
                path: None,
                symbol: None,
            },
        ];
        let r = apply_priors(&c, &[], &PriorWeights::default());
        assert_eq!(r, [(3, 0.5), (9, 0.5)]);
    }
}
