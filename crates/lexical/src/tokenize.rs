//! Code tokenizer: identifiers split into their parts, plus the whole identifier.
//!
//! A *word* is a maximal run of alphanumeric characters and `_` (Unicode-aware); everything
//! else (white space, punctuation, `::`, `.`, quotes, comment markers) separates words, so
//! `std::fs::read_to_string` is the words `std`, `fs`, `read_to_string`, and string-literal
//! and comment words come out like any other word. Each word is split on `_`, on
//! lower→upper case changes (`parseUrl` → parse, url), at the end of an acronym
//! (`HTTPServer` → http, server) and between letters and digits (`parseURL2` → parse, url,
//! 2). Every part is emitted lower-cased; a word with more than one part is also emitted
//! whole, lower-cased, underscores kept (`parse_url` → parse, url, parse_url; `HTTPServer`
//! → http, server, httpserver). No stemming.
//!
//! Work is bounded: at most [`MAX_TOKENS`] tokens per text (the scan stops there), parts
//! and whole words longer than [`MAX_TOKEN_BYTES`] are dropped (a 4 MB blob produces
//! nothing but costs one linear pass), and nothing here can panic on any `&str`.

/// Most tokens taken from one text; the rest of the text is ignored.
pub const MAX_TOKENS: usize = 65_536;

/// Longer tokens (base64 blobs, minified code, hashes) are dropped: they never match a
/// question and would only bloat the statistics.
pub const MAX_TOKEN_BYTES: usize = 64;

/// Common English words that carry no meaning in a question. Applied to *queries* only,
/// and only when asked ([`QueryOptions::stop_words`]); code is never filtered.
pub const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "if", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
    "which", "will", "with",
];

/// How [`tokenize_query`] treats a natural-language question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// Drop [`STOP_WORDS`] (unless that would leave no token at all).
    pub stop_words: bool,
}

impl Default for QueryOptions {
    /// The setting measured best on python-dev (see the crate README).
    fn default() -> Self {
        QueryOptions { stop_words: true }
    }
}

/// Tokens of a code document (identifiers, literals, comments), in text order, at most
/// [`MAX_TOKENS`].
pub fn tokenize_code(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    tokenize_into(text, MAX_TOKENS, &mut out);
    out
}

/// Tokens of a natural-language question: the same splitting as [`tokenize_code`] (a
/// question may name `parse_url` or `HTTPServer`), then optionally without stop words.
pub fn tokenize_query(text: &str, opts: QueryOptions) -> Vec<String> {
    let mut out = Vec::new();
    tokenize_into(text, MAX_TOKENS, &mut out);
    if opts.stop_words {
        let kept: Vec<String> = out.iter().filter(|t| !is_stop_word(t)).cloned().collect();
        if !kept.is_empty() {
            return kept;
        }
    }
    out
}

/// Whether `token` (lower-case) is in [`STOP_WORDS`].
pub fn is_stop_word(token: &str) -> bool {
    STOP_WORDS.binary_search(&token).is_ok()
}

/// Appends the tokens of `text` to `out` until `out` holds `max_tokens` tokens.
pub fn tokenize_into(text: &str, max_tokens: usize, out: &mut Vec<String>) {
    scan(text, max_tokens, true, out);
}

/// The parts of the identifiers in `text` only, without the whole identifiers
/// (`Calendar.parseDateTime` → calendar, parse, date, time): what a symbol or a file name
/// is made of.
pub fn identifier_parts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(text, MAX_TOKENS, false, &mut out);
    out
}

fn scan(text: &str, max_tokens: usize, whole: bool, out: &mut Vec<String>) {
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if out.len() >= max_tokens {
            return;
        }
        if is_word_char(c) {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            split_word(&text[s..i], max_tokens, whole, out);
        }
    }
    if let Some(s) = start {
        split_word(&text[s..], max_tokens, whole, out);
    }
}

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    /// Alphabetic without case (CJK, Arabic, ...): runs stay together.
    Other,
}

fn class(c: char) -> Class {
    if c.is_numeric() {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_lowercase() {
        Class::Lower
    } else {
        Class::Other
    }
}

/// Splits one word (alphanumerics and `_`) into its parts, emitting parts and, when there
/// is more than one part and `whole` is set, the whole word (outer underscores trimmed).
fn split_word(word: &str, max_tokens: usize, whole: bool, out: &mut Vec<String>) {
    let first = out.len();
    let mut parts = 0usize;
    for piece in word.split('_').filter(|p| !p.is_empty()) {
        // Boundaries inside one underscore-free piece.
        let chars: Vec<(usize, char)> = piece.char_indices().collect();
        let mut part_start = 0usize;
        for j in 1..chars.len() {
            let (prev, cur) = (class(chars[j - 1].1), class(chars[j].1));
            let next = chars.get(j + 1).map(|&(_, c)| class(c));
            let boundary = match (prev, cur) {
                (Class::Lower, Class::Upper) | (Class::Other, Class::Upper) => true,
                // End of an acronym: the last capital starts the next word (HTTPServer).
                (Class::Upper, Class::Upper) => next == Some(Class::Lower),
                (Class::Digit, d) | (d, Class::Digit) => d != Class::Digit,
                _ => false,
            };
            if boundary {
                parts += 1;
                emit(&piece[part_start..chars[j].0], max_tokens, out);
                part_start = chars[j].0;
            }
        }
        parts += 1;
        emit(&piece[part_start..], max_tokens, out);
    }
    if whole && parts > 1 && out.len() > first {
        emit(word.trim_matches('_'), max_tokens, out);
    }
}

fn emit(part: &str, max_tokens: usize, out: &mut Vec<String>) {
    if part.is_empty() || part.len() > MAX_TOKEN_BYTES || out.len() >= max_tokens {
        return;
    }
    out.push(part.to_lowercase());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        tokenize_code(s)
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn snake_case_gives_parts_and_whole() {
        assert_eq!(toks("parse_date"), ["parse", "date", "parse_date"]);
        assert_eq!(toks("__init__"), ["init"]);
        assert_eq!(toks("_private_name"), ["private", "name", "private_name"]);
    }

    #[test]
    fn camel_case_and_acronyms() {
        assert_eq!(toks("parseDate"), ["parse", "date", "parsedate"]);
        assert_eq!(toks("HTTPServer"), ["http", "server", "httpserver"]);
        assert_eq!(toks("parseURL2"), ["parse", "url", "2", "parseurl2"]);
        assert_eq!(
            toks("XMLHttpRequest"),
            ["xml", "http", "request", "xmlhttprequest"]
        );
        assert_eq!(toks("URL"), ["url"]);
        assert_eq!(toks("utf8Decode"), ["utf", "8", "decode", "utf8decode"]);
        assert_eq!(toks("getX"), ["get", "x", "getx"]);
    }

    #[test]
    fn paths_and_punctuation_separate_words() {
        assert_eq!(
            toks("std::fs::read_to_string(p)"),
            ["std", "fs", "read", "to", "string", "read_to_string", "p"]
        );
        assert_eq!(toks("os.path.join"), ["os", "path", "join"]);
    }

    #[test]
    fn literals_and_comments_are_included() {
        assert_eq!(
            toks("x = \"Hello world\"  # see RFC2822"),
            ["x", "hello", "world", "see", "rfc", "2822", "rfc2822"]
        );
    }

    #[test]
    fn unicode_is_safe() {
        assert_eq!(
            toks("größe_berechnen"),
            ["größe", "berechnen", "größe_berechnen"]
        );
        assert_eq!(toks("ÄrgerNis"), ["ärger", "nis", "ärgernis"]);
        assert_eq!(toks("日本語のテキスト"), ["日本語のテキスト"]);
        assert_eq!(toks("emoji 🦀 crab"), ["emoji", "crab"]);
        // Combining marks are not alphanumeric: they separate, but never panic.
        let _ = toks("e\u{301}te\u{301} ǅemal İstanbul ß");
    }

    #[test]
    fn identifier_parts_leave_out_whole_words() {
        assert_eq!(
            identifier_parts("Calendar.parseDateTime"),
            ["calendar", "parse", "date", "time"]
        );
        assert_eq!(identifier_parts("read_to_string"), ["read", "to", "string"]);
    }

    #[test]
    fn empty_and_separator_only() {
        assert!(toks("").is_empty());
        assert!(toks("  ::.()__ \n").is_empty());
        assert!(tokenize_query("", QueryOptions::default()).is_empty());
    }

    #[test]
    fn huge_inputs_are_bounded() {
        let blob = "a".repeat(4 << 20);
        assert!(
            toks(&blob).is_empty(),
            "a 4 MB word is one over-long token, dropped"
        );
        let camel = "aB".repeat(2 << 20);
        assert_eq!(toks(&camel).len(), MAX_TOKENS);
        let words = "ab ".repeat(200_000);
        assert_eq!(toks(&words).len(), MAX_TOKENS);
    }

    #[test]
    fn queries_drop_stop_words_unless_nothing_is_left() {
        let on = QueryOptions { stop_words: true };
        let off = QueryOptions { stop_words: false };
        assert_eq!(
            tokenize_query("Return the parsed URL of a request", on),
            ["return", "parsed", "url", "request"]
        );
        assert_eq!(tokenize_query("of the", on), ["of", "the"]);
        assert_eq!(
            tokenize_query("Read the file", off),
            ["read", "the", "file"]
        );
    }
}
