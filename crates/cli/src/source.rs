//! Decoding a source file and rejecting binary and non-UTF-8 content.

use crate::walk::SkipReason;

/// How many leading bytes are checked for NUL to detect binary files.
pub const BINARY_SNIFF_LEN: usize = 8 * 1024;

/// Turns a file's bytes into text, or says why it is skipped.
///
/// A file with a NUL byte in its first [`BINARY_SNIFF_LEN`] bytes is
/// [`SkipReason::Binary`]; so is one with a NUL further on, since PostgreSQL
/// `text` cannot hold NUL. Invalid UTF-8 gives [`SkipReason::NotUtf8`]. A
/// leading byte-order mark is removed.
pub fn decode_source(bytes: Vec<u8>) -> Result<String, SkipReason> {
    let head = &bytes[..bytes.len().min(BINARY_SNIFF_LEN)];
    if head.contains(&0) {
        return Err(SkipReason::Binary);
    }
    let mut text = String::from_utf8(bytes).map_err(|_| SkipReason::NotUtf8)?;
    if text.contains('\0') {
        return Err(SkipReason::Binary);
    }
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_binary_and_bad_utf8() {
        assert_eq!(decode_source(b"abc\0def".to_vec()), Err(SkipReason::Binary));
        let mut late_nul = vec![b'a'; BINARY_SNIFF_LEN + 10];
        late_nul.push(0);
        assert_eq!(decode_source(late_nul), Err(SkipReason::Binary));
        assert_eq!(
            decode_source(vec![b'a', 0xff, 0xfe]),
            Err(SkipReason::NotUtf8)
        );
        assert_eq!(
            decode_source("\u{feff}x = 1\n".as_bytes().to_vec()).as_deref(),
            Ok("x = 1\n")
        );
        assert_eq!(
            decode_source("héllo".as_bytes().to_vec()).as_deref(),
            Ok("héllo")
        );
    }
}
