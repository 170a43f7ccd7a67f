//! WordPiece tokenisation through the `tokenizers` crate, with the model's `tokenizer.json`
//! corrected to what sentence-transformers does: truncation at 256 word pieces (the shipped
//! file says 128) and no fixed padding (the file pads to 128; we pack sequences instead).
//!
//! Long inputs are never tokenised whole: growing prefixes are tokenised until the first 254
//! content tokens are known to be identical to those of the full text (see
//! [`WordPiece::content_ids`]), so a 10 MB value costs about as much as a 4 KB one.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::error::EncoderError;

/// Maximum sequence length, including [CLS] and [SEP] (sentence-transformers' max_seq_length).
pub const MAX_TOKENS: usize = 256;
const MAX_CONTENT: usize = MAX_TOKENS - 2;
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
        let content = self.content_ids(text)?;
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
    /// otherwise the prefix doubles. The tokenizer's normaliser (clean-up, lower-casing,
    /// accent stripping, CJK spacing) works character by character, so it cannot move a word
    /// boundary that lies before the cut.
    pub(crate) fn content_ids(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        let mut cut = FIRST_PREFIX;
        loop {
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

/// A byte index `<= cut` that is a char boundary, preferably just after a whitespace byte.
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
