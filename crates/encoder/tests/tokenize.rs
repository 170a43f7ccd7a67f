//! Tokenisation: truncation to exactly 256 tokens like the reference, and the prefix
//! shortcut for long inputs giving exactly the tokens of a full tokenisation.

mod common;

use std::time::Instant;

use codevec_encoder::{Encoder, EncoderOptions, MAX_INPUT_BYTES, MAX_TOKENS};

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

/// A seeded random text of about `bytes` bytes: words of 1..=`max_word` chars drawn from
/// ASCII letters, digits, accented letters, CJK or emoji, separated by one or two of
/// space / newline / tab / punctuation.
fn random_text(seed: u64, bytes: usize, max_word: usize) -> String {
    let mut x = seed | 1;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let alphabets: [&[char]; 5] = [
        &['a', 'b', 'e', 'k', 'n', 'r', 's', 't', 'x', 'z', 'q', 'o'],
        &['0', '1', '7', '9', '_'],
        &['é', 'ü', 'ñ', 'ø', 'ç'],
        &['数', '据', '库', '向', '量'],
        &['🚀', '🎉', '🦀', '𝔘'],
    ];
    let seps = [" ", "\n", "\t", ".", ", ", "()", " = ", "::", "  "];
    let mut s = String::with_capacity(bytes + 512);
    while s.len() < bytes {
        let alpha = alphabets[next(alphabets.len())];
        for _ in 0..1 + next(max_word) {
            s.push(alpha[next(alpha.len())]);
        }
        s.push_str(seps[next(seps.len())]);
    }
    s
}

#[test]
fn capped_tokenisation_equals_full_tokenisation_for_texts_with_separators() {
    let enc = encoder();
    let tok = stock_tokenizer();
    let mut cases = Vec::new();
    for seed in 0..24u64 {
        // short words, then words up to 100 chars (the longest that still tokenise to pieces)
        let max_word = if seed % 3 == 0 { 100 } else { 12 };
        let bytes = [3_000, 9_000, 60_000, 150_000, 300_000][seed as usize % 5];
        cases.push(random_text(seed * 7919 + 1, bytes, max_word));
    }
    // long ASCII runs (squeezed) next to everything that could interact with them
    let run = "Ab1".repeat(700);
    cases.push(format!("{run} tail words"));
    cases.push(format!(
        "é{run}é{run}\u{301} [SEP]{run}[MASK]{run}. more words {run}"
    ));
    cases.push(format!("{}{run}", "word ".repeat(240)));
    cases.push(format!("{}{}", "a".repeat(101), " b".repeat(300)));
    cases.push(format!("{}{}", "a".repeat(100), " b".repeat(300)));
    // the worst case the cap is sized for: 100-char words of 4-byte chars, each one [UNK]
    cases.push(vec!["🦀".repeat(100); 400].join(" "));
    cases.push(vec!["é".repeat(100); 600].join("\n"));
    for text in &cases {
        assert!(text.len() <= 300_600);
        let got = enc.token_ids(text).unwrap();
        let want = full_reference(&tok, text);
        assert_eq!(
            got,
            want,
            "capped tokenisation differs for a {} B text starting {:?}",
            text.len(),
            text.chars().take(30).collect::<String>()
        );
    }
    assert!(cases.iter().filter(|t| t.len() > MAX_INPUT_BYTES).count() >= 8);
}

#[test]
fn four_megabyte_single_words_take_milliseconds() {
    let enc = encoder();
    let tok = stock_tokenizer();
    let unk = tok.token_to_id("[UNK]").unwrap();
    for unit in ["a", "ab", "0123456789abcdef"] {
        let text = unit.repeat((4 << 20) / unit.len());
        let t0 = Instant::now();
        let ids = enc.token_ids(&text).unwrap();
        let n = enc.token_count(&text);
        let dt = t0.elapsed();
        // one word of more than 100 chars is one [UNK], cut or not
        assert_eq!(ids, vec![101, unk, 102], "{unit:?}");
        assert_eq!(n, 3);
        assert_eq!(ids, full_reference(&tok, &text[..1 << 20]));
        eprintln!("4 MB of {unit:?}: token_ids + token_count in {dt:?}");
        assert!(dt.as_millis() < 200, "4 MB of {unit:?} took {dt:?}");
    }
    // a run of 2-byte letters is not squeezed, only capped: bounded, if slower
    let text = "é".repeat(2 << 20);
    let t0 = Instant::now();
    assert_eq!(enc.token_ids(&text).unwrap(), vec![101, unk, 102]);
    eprintln!("4 MB of \"é\": token_ids in {:?}", t0.elapsed());
}

#[test]
fn tokenising_a_long_text_can_be_cancelled() {
    let enc = encoder();
    let text = "é".repeat(2 << 20);
    let texts: Vec<&str> = vec![&text; 3];
    // the first check passes, the next (between prefix steps of the first text) stops
    let mut calls = 0;
    let r = enc.embed_batch_interruptible(&texts, &mut || {
        calls += 1;
        calls > 1
    });
    assert!(
        matches!(r, Err(codevec_encoder::EncoderError::Cancelled)),
        "{r:?}"
    );
    assert_eq!(calls, 2, "asked between prefix steps");
}
