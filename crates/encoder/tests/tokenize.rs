//! Tokenisation: truncation to exactly 256 tokens like the reference, and the prefix
//! shortcut for long inputs giving exactly the tokens of a full tokenisation.

mod common;

use std::time::Instant;

use codevec_encoder::{Encoder, EncoderOptions, MAX_TOKENS};

fn encoder() -> Encoder {
    Encoder::load(&common::model_dir(), EncoderOptions::default()).unwrap()
}

/// The reference: the whole text through the stock tokenizer (no truncation, no padding),
/// truncated afterwards to 254 content tokens plus [CLS]/[SEP].
fn full_reference(tok: &tokenizers::Tokenizer, text: &str) -> Vec<u32> {
    let enc = tok.encode(text, false).unwrap();
    let mut ids = vec![101u32];
    ids.extend(enc.get_ids().iter().take(MAX_TOKENS - 2));
    ids.push(102);
    ids
}

fn stock_tokenizer() -> tokenizers::Tokenizer {
    let mut t =
        tokenizers::Tokenizer::from_file(common::model_dir().join("tokenizer.json")).unwrap();
    t.with_truncation(None).unwrap();
    t.with_padding(None);
    t
}

#[test]
fn long_inputs_match_full_tokenisation() {
    let enc = encoder();
    let tok = stock_tokenizer();
    let code = common::codesearch("code", 200).join("\n\n");
    let queries = common::codesearch("query", 400).join(" ");
    let mut cases: Vec<String> = vec![
        code.clone(),                                     // ~100 KB of Python
        queries.clone(),                                  // natural language
        "x".repeat(50_000),                               // one huge word -> [UNK]
        format!("{} tail words here", "ab".repeat(3000)), // long word crossing the first cut
        "数据库向量搜索".repeat(3000),                    // CJK, no whitespace
        "é".repeat(5000) + " done",                       // 2-byte chars, no whitespace
        "e\u{301}".repeat(4000),                          // combining accents everywhere
        "[SEP]".repeat(3000),                             // special-token literals, no whitespace
        "a.b,c;d!".repeat(2000),                          // punctuation-separated words
        "🚀🎉".repeat(3000),
        "\t\n ".repeat(3000) + "finally some words", // whitespace then content
        " ".repeat(20_000),                          // only whitespace
    ];
    // 240 tokens, then control characters (dropped by the normaliser, not whitespace), then a
    // 200-letter word straddling the first cut: a prefix holds only its first 50 letters,
    // which tokenise to word pieces, while the whole word is [UNK] (> 100 chars).
    cases.push(format!(
        "{}{}{}{}",
        "a.".repeat(120),
        "\u{1}".repeat(4096 - 240 - 50),
        "z".repeat(200),
        " b".repeat(300)
    ));
    // Put awkward content across the first cut point (4096 bytes) at every small offset.
    for shift in 0..12 {
        let pad = "q".repeat(4090 - 4 * 500 + shift);
        cases.push(format!(
            "{} {pad}[SEP]e\u{301}数据 {}",
            "word ".repeat(500),
            "more ".repeat(300)
        ));
        cases.push(format!(
            "{}{}[MASK]{}",
            "a,".repeat(2040),
            "z".repeat(shift),
            "b ".repeat(400)
        ));
    }
    for text in &cases {
        let got = enc.token_ids(text).unwrap();
        let want = full_reference(&tok, text);
        assert_eq!(
            got,
            want,
            "token ids differ for input starting {:?}",
            text.chars().take(30).collect::<String>()
        );
        assert_eq!(enc.token_count(text), want.len());
        assert!(got.len() <= MAX_TOKENS);
    }
}

#[test]
fn truncation_is_exactly_256_and_short_inputs_are_untouched() {
    let enc = encoder();
    let tok = stock_tokenizer();
    assert_eq!(enc.token_count(""), 2);
    assert_eq!(enc.token_count("   "), 2);
    for n in [100usize, 253, 254, 255, 256, 1000] {
        let text = "token ".repeat(n);
        let want = full_reference(&tok, &text);
        assert_eq!(enc.token_ids(&text).unwrap(), want);
        assert_eq!(enc.token_count(&text), (n + 2).min(256), "n = {n}");
    }
}

#[test]
fn ten_megabytes_are_tokenised_quickly() {
    let enc = encoder();
    let tok = stock_tokenizer();
    let unit = common::codesearch("code", 50).join("\n");
    let mut huge = String::with_capacity(10 << 20);
    while huge.len() < 10 << 20 {
        huge.push_str(&unit);
    }
    let cut = (100_000..).find(|&i| huge.is_char_boundary(i)).unwrap();
    let t0 = Instant::now();
    let n = enc.token_count(&huge);
    let ids = enc.token_ids(&huge).unwrap();
    let dt = t0.elapsed();
    assert_eq!(n, MAX_TOKENS);
    let t1 = Instant::now();
    let v = enc.embed(&huge).unwrap();
    eprintln!("10 MB input: embed in {:?}", t1.elapsed());
    assert_eq!(v.len(), 384);
    assert_eq!(
        v,
        enc.embed(&huge[..cut]).unwrap(),
        "embedding must only depend on the first 256 tokens"
    );
    // identical to tokenising only a 100 KB prefix completely (which holds far more than 256
    // tokens, so its first 254 content tokens are those of the whole text)
    assert_eq!(ids, full_reference(&tok, &huge[..cut]));
    // generous for debug builds and busy machines; a release build takes a few milliseconds
    assert!(
        dt.as_millis() < 800,
        "token_count + token_ids of 10 MB took {dt:?}"
    );
    eprintln!("10 MB input: token_count + token_ids in {dt:?}");
}
