//! WordPiece tokenisation through the `tokenizers` crate, with the model's `tokenizer.json`
//! corrected to what sentence-transformers does: truncation at 256 word pieces (the shipped
//! file says 128) and no fixed padding (the file pads to 128; we pack sequences instead).
//!
//! Long inputs are never tokenised whole: growing prefixes are tokenised until the first 254
//! content tokens are known to be identical to those of the full text (see
//! [`WordPiece::content_ids`]), so a 10 MB value costs about as much as a 4 KB one; and no
//! prefix is longer than [`MAX_INPUT_BYTES`], so one huge "word" (a hex dump, `repeat('a',
//! 10^9)`) costs at most that much tokenising too.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::error::EncoderError;

/// Maximum sequence length, including [CLS] and [SEP] (sentence-transformers' max_seq_length).
pub const MAX_TOKENS: usize = 256;
const MAX_CONTENT: usize = MAX_TOKENS - 2;
/// WordPiece's `max_input_chars_per_word` in the model's tokenizer: a longer word is one
/// `[UNK]`, however long it is.
const MAX_CHARS_PER_WORD: usize = 100;
/// The most bytes of a text the tokenizer is ever given (105 KiB). 256 words of at most 100
/// chars of at most 4 bytes, each with a separator, fit in it; so whenever the first 256
/// tokens come from words that end within these bytes (every text without > 100-char words
/// or long runs of white space or dropped characters before its 256th token), the result is
/// exactly that of tokenising the whole text. A word longer than 100 chars is `[UNK]` whether
/// cut here or not, so `repeat('a', 10^9)` also gives the whole text's tokens.
///
/// The encoder reads no byte of a text at or beyond `MAX_INPUT_BYTES - 4`: callers may hand
/// over only the first `MAX_INPUT_BYTES` bytes (cut back to a char boundary) without changing
/// the result.
pub const MAX_INPUT_BYTES: usize = MAX_TOKENS * (MAX_CHARS_PER_WORD + 1) * 4 + 4096;
/// Where the encoder cuts a longer text (see [`cut_point`], which reads bytes `..=CAP` only).
const CAP: usize = MAX_INPUT_BYTES - 8;
/// Inputs up to this many bytes are tokenised in one go.
const FIRST_PREFIX: usize = 4096;
/// How far back from a cut point we look for whitespace to cut after.
const WHITESPACE_LOOKBACK: usize = 256;
/// Longest special token literal ("[MASK]") plus slack.
const SPECIAL_TOKEN_MAX_LEN: usize = 8;

pub(crate) struct WordPiece {
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
}

impl WordPiece {
    pub(crate) fn load(path: &Path) -> Result<WordPiece, EncoderError> {
        // The tokenizer must never start rayon threads inside a database backend; we only use
        // single-text encode calls, but switch the crate's parallelism off regardless.
        tokenizers::utils::parallelism::set_parallelism(false);
        let bytes = std::fs::read(path).map_err(|e| EncoderError::unreadable(path, e))?;
        let mut tokenizer = Tokenizer::from_bytes(&bytes)
            .map_err(|e| EncoderError::corrupt(path, format!("cannot parse tokenizer: {e}")))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| EncoderError::corrupt(path, format!("cannot reset truncation: {e}")))?;
        tokenizer.with_padding(None);
        let id = |tok: &str| {
            tokenizer.token_to_id(tok).ok_or_else(|| {
                EncoderError::corrupt(path, format!("vocabulary has no {tok} token"))
            })
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        Ok(WordPiece {
            tokenizer,
            cls,
            sep,
        })
    }

    /// Token ids as the model sees them: `[CLS] + first 254 content tokens + [SEP]`.
    pub(crate) fn ids(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        self.ids_interruptible(text, &mut || false)
    }

    /// [`WordPiece::ids`], asking `should_stop` before each tokenisation step
    /// (`Err(Cancelled)` when it says so).
    pub(crate) fn ids_interruptible(
        &self,
        text: &str,
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<u32>, EncoderError> {
        let content = self.content_ids_interruptible(text, should_stop)?;
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(self.cls);
        ids.extend_from_slice(&content);
        ids.push(self.sep);
        Ok(ids)
    }

    /// The first (at most) 254 content token ids of `text`, identical to tokenising the whole
    /// text and truncating, but without tokenising more than needed.
    ///
    /// A prefix ending at a cut point produces the same pre-tokenised "words" as the full
    /// text, except possibly the last one (which the cut may have split, and whose
    /// normalisation may depend on what follows). So the tokens of every word before the
    /// prefix's last word are final; once there are at least 254 of them we are done,
    /// otherwise the prefix doubles, up to [`MAX_INPUT_BYTES`], whose prefix is the answer
    /// whatever its words (see there for why that is still the whole text's answer). The
    /// tokenizer's normaliser (clean-up, lower-casing, accent stripping, CJK spacing) works
    /// character by character, so it cannot move a word boundary that lies before the cut.
    pub(crate) fn content_ids(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        self.content_ids_interruptible(text, &mut || false)
    }

    /// [`WordPiece::content_ids`], asking `should_stop` before each tokenisation step.
    pub(crate) fn content_ids_interruptible(
        &self,
        text: &str,
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<u32>, EncoderError> {
        let text = if text.len() > CAP {
            &text[..cut_point(text, CAP)]
        } else {
            text
        };
        let text = &*squeeze_long_runs(text);
        let mut cut = FIRST_PREFIX;
        loop {
            if should_stop() {
                return Err(EncoderError::Cancelled);
            }
            if cut >= text.len() {
                let mut ids = self.encode(text)?.0;
                ids.truncate(MAX_CONTENT);
                return Ok(ids);
            }
            let end = cut_point(text, cut);
            let (ids, words) = self.encode(&text[..end])?;
            let last_word = words.iter().rev().find_map(|w| *w);
            let stable = match last_word {
                Some(last) => words
                    .iter()
                    .position(|w| *w == Some(last))
                    .unwrap_or(ids.len()),
                // No word information: nothing is known to be final, keep growing (the loop
                // ends with a full tokenisation at worst).
                None => 0,
            };
            if stable >= MAX_CONTENT {
                let mut ids = ids;
                ids.truncate(MAX_CONTENT);
                return Ok(ids);
            }
            cut = cut.saturating_mul(2);
        }
    }

    /// Tokenises `text` completely (no truncation) and returns content ids and word ids.
    /// (`encode`, not `encode_fast`: the latter leaves the word ids empty.)
    pub(crate) fn encode(&self, text: &str) -> Result<(Vec<u32>, Vec<Option<u32>>), EncoderError> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        Ok((enc.get_ids().to_vec(), enc.get_word_ids().to_vec()))
    }
}

/// `text` with every run of more than `MAX_CHARS_PER_WORD + 1` ASCII letters and digits cut
/// down to that length: the same tokens, at a fraction of the cost for one huge "word" (a
/// hex dump, `repeat('a', n)`). Such a run lies inside one word (the pre-tokenizer splits only
/// at white space, punctuation and CJK characters, none of which it holds), which has more
/// than 100 characters before and after the cut and so is one `[UNK]` either way; the
/// normaliser works character by character, and no special token (`[SEP]`, …, at most four
/// letters between brackets) can overlap a run that long.
fn squeeze_long_runs(text: &str) -> std::borrow::Cow<'_, str> {
    const KEEP: usize = MAX_CHARS_PER_WORD + 1;
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut run, mut copied) = (0usize, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        if !b.is_ascii_alphanumeric() {
            run = 0;
            continue;
        }
        run += 1;
        if run > KEEP {
            // drop byte i (ASCII, so i and i + 1 are char boundaries)
            let o = out.get_or_insert_with(|| String::with_capacity(i + 256));
            o.push_str(&text[copied..i]);
            copied = i + 1;
        }
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// A byte index `<= cut` that is a char boundary, preferably just after a whitespace byte
/// (reads bytes `..=cut` only).
fn cut_point(text: &str, cut: usize) -> usize {
    let bytes = text.as_bytes();
    let mut end = cut.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let lo = end.saturating_sub(WHITESPACE_LOOKBACK);
    if let Some(p) = bytes[lo..end].iter().rposition(|b| b.is_ascii_whitespace()) {
        return lo + p + 1; // just after an ASCII whitespace byte: always a char boundary
    }
    // No whitespace nearby: cut at a char boundary, but never inside a literal special token
    // such as "[SEP]" (the tokenizer matches those on the raw text, across word boundaries).
    let tail = end.saturating_sub(SPECIAL_TOKEN_MAX_LEN);
    if let Some(p) = bytes[tail..end].iter().rposition(|&b| b == b'[') {
        return tail + p; // '[' is ASCII, so this is a char boundary
    }
    end
}

#[cfg(test)]
mod tests {
    use super::cut_point;

    #[test]
    fn long_runs_are_squeezed_to_101_bytes() {
        use super::squeeze_long_runs as sq;
        assert_eq!(sq("abc def"), "abc def");
        let long = "a".repeat(500);
        assert_eq!(sq(&long), "a".repeat(101));
        let t = format!("x {long}é{long} [SEP]{long}[SEP] end");
        let a = "a".repeat(101);
        assert_eq!(sq(&t), format!("x {a}é{a} [SEP]{a}[SEP] end"));
        assert!(matches!(
            sq("short words only"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn cut_point_prefers_whitespace_and_respects_char_boundaries() {
        assert_eq!(cut_point("hello world foo", 13), 12);
        let s = "ééééééééé"; // 2 bytes each, no whitespace
        for cut in 1..s.len() {
            let e = cut_point(s, cut);
            assert!(s.is_char_boundary(e) && e <= cut && e + 1 >= cut);
        }
        assert_eq!(cut_point("abc", 10), 3);
    }
}
