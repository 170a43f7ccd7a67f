//! pgvector's text format: `[1,2.5,-3]`.
//!
//! Input: optional white space around the brackets and around every element; elements
//! are decimal numbers as `strtod` reads them (sign, digits, point, exponent; `inf`/`nan`
//! are recognised only to be rejected). Output: no spaces, each element as the shortest
//! decimal text that reads back to exactly the same value, with an exponent only for very
//! large or very small magnitudes (so text round-trips bit-exactly).

use crate::element::{check_finite, Element};
use crate::{check_dims, VectorError};
use half::f16;

/// Longest input excerpt quoted in an error message.
const QUOTE_MAX: usize = 64;

fn quote(s: &str) -> String {
    if s.len() <= QUOTE_MAX {
        return s.to_string();
    }
    let mut end = QUOTE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn syntax<E: Element>(input: &str, detail: impl Into<String>) -> VectorError {
    VectorError::Syntax {
        type_name: E::TYPE_NAME,
        input: quote(input),
        detail: detail.into(),
    }
}

fn is_space(c: char) -> bool {
    // the characters Postgres' scanner treats as white space
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Parse one number token (already trimmed).
fn parse_element<E: Element>(input: &str, tok: &str) -> Result<E, VectorError> {
    if tok.is_empty() {
        return Err(syntax::<E>(
            input,
            "An element is missing: two commas in a row, or a comma next to a bracket.",
        ));
    }
    let ok_chars = tok
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let x: f64 = match (ok_chars, tok.parse::<f64>()) {
        (true, Ok(x)) => x,
        _ => {
            return Err(syntax::<E>(
                input,
                format!("\"{}\" is not a number.", quote(tok)),
            ))
        }
    };
    if x.is_nan() {
        return Err(VectorError::NotFinite {
            type_name: E::TYPE_NAME,
            what: "NaN",
        });
    }
    if x.is_infinite() {
        // "inf"/"infinity" literals, or a decimal too large even for f64
        let lower = tok.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if lower.starts_with("inf") {
            return Err(VectorError::NotFinite {
                type_name: E::TYPE_NAME,
                what: "infinite value",
            });
        }
        return Err(VectorError::OutOfRange {
            type_name: E::TYPE_NAME,
            value: quote(tok),
        });
    }
    let v = E::from_f64_checked(x, &|| quote(tok))?;
    check_finite(v)
}

/// Parse `[x, y, ...]`.
pub fn parse<E: Element>(input: &str) -> Result<Vec<E>, VectorError> {
    let s = input.trim_matches(is_space);
    let Some(rest) = s.strip_prefix('[') else {
        return Err(syntax::<E>(input, "Vector contents must start with \"[\"."));
    };
    let Some(close) = rest.find(']') else {
        return Err(syntax::<E>(input, "Unterminated vector: missing \"]\"."));
    };
    let (body, after) = (&rest[..close], &rest[close + 1..]);
    if body.contains('[') {
        return Err(syntax::<E>(input, "Nested brackets are not allowed."));
    }
    if !after.trim_matches(is_space).is_empty() {
        return Err(syntax::<E>(input, "Junk after closing right bracket."));
    }
    if body.trim_matches(is_space).is_empty() {
        return Err(VectorError::Empty {
            type_name: E::TYPE_NAME,
        });
    }
    // Count the elements before allocating anything: the capacity is exact and never
    // above MAX_DIM, whatever the input's length (a 1 GB literal must not make a 1 GB
    // vector before the dimension check).
    let dims = body.bytes().filter(|&b| b == b',').count() + 1;
    if dims > crate::MAX_DIM {
        return Err(VectorError::TooManyDims {
            type_name: E::TYPE_NAME,
            dims,
        });
    }
    let mut out = Vec::with_capacity(dims);
    for tok in body.split(',') {
        if out.len() == crate::MAX_DIM {
            // unreachable after the count above; kept so the loop itself is bounded
            return Err(VectorError::TooManyDims {
                type_name: E::TYPE_NAME,
                dims,
            });
        }
        out.push(parse_element::<E>(input, tok.trim_matches(is_space))?);
    }
    check_dims(E::TYPE_NAME, out.len())?;
    Ok(out)
}

/// Format a vector as `[x,y,...]`.
pub fn format<E: Element>(v: &[E]) -> String {
    let mut s = String::with_capacity(v.len() * 10 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        x.write_text(&mut s);
    }
    s.push(']');
    s
}

/// Shortest round-trip text of an f32; exponent form outside [1e-4, 1e15).
pub fn write_f32(x: f32, out: &mut String) {
    use std::fmt::Write;
    let a = x.abs();
    if a == 0.0 || (1e-4..1e15).contains(&a) {
        let _ = write!(out, "{x}");
    } else {
        let _ = write!(out, "{x:e}");
    }
}

/// Shortest text that reads back (through f64 and round-to-nearest) to the same f16.
pub fn write_f16(x: f16, out: &mut String) {
    use std::fmt::Write;
    let v = x.to_f32();
    let a = v.abs();
    if a == 0.0 || (v.fract() == 0.0 && a < 1e6) {
        // integers (all f16 values >= 2048 are) print exactly, as the user wrote them
        let _ = write!(out, "{v}");
        return;
    }
    // f16 needs at most 5 significant digits; take the fewest that round-trip.
    for digits in 0..5 {
        let cand = format!("{v:.digits$e}");
        if cand.parse::<f64>().map(f16::from_f64) == Ok(x) {
            let y: f64 = cand.parse().expect("just parsed");
            if (1e-4..1e15).contains(&a) {
                let _ = write!(out, "{}", y as f32);
            } else {
                out.push_str(&cand.replace(".0e", "e"));
            }
            return;
        }
    }
    let _ = write!(out, "{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p32(s: &str) -> Result<Vec<f32>, VectorError> {
        parse::<f32>(s)
    }

    #[test]
    fn parses_pgvector_text() {
        assert_eq!(p32("[1,2.5,-3]").unwrap(), vec![1.0, 2.5, -3.0]);
        assert_eq!(p32("  [ 1 , 2.5,\t-3 ]\n").unwrap(), vec![1.0, 2.5, -3.0]);
        assert_eq!(
            p32("[1e3,+.5,5.,-0]").unwrap(),
            vec![1000.0, 0.5, 5.0, -0.0]
        );
        assert_eq!(p32("[1e-50]").unwrap(), vec![0.0]);
    }

    #[test]
    fn rejects_bad_text() {
        for (s, needle) in [
            ("1,2", "must start with"),
            ("[1,2", "missing \"]\""),
            ("[1,,2]", "missing"),
            ("[1,2,]", "missing"),
            ("[,1]", "missing"),
            ("[1,2] x", "Junk"),
            ("[1,2]]", "Junk"),
            ("[[1,2]]", "Nested"),
            ("[1,abc]", "not a number"),
            ("[1 2]", "not a number"),
            ("[0x10]", "not a number"),
            ("", "must start with"),
        ] {
            match p32(s) {
                Err(VectorError::Syntax { detail, .. }) => {
                    assert!(detail.contains(needle), "{s}: {detail}")
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        assert_eq!(
            p32("[]"),
            Err(VectorError::Empty {
                type_name: "embedding"
            })
        );
        assert_eq!(
            p32("[ ]"),
            Err(VectorError::Empty {
                type_name: "embedding"
            })
        );
        assert!(matches!(
            p32("[NaN]"),
            Err(VectorError::NotFinite { what: "NaN", .. })
        ));
        assert!(matches!(
            p32("[-Infinity]"),
            Err(VectorError::NotFinite {
                what: "infinite value",
                ..
            })
        ));
        assert!(matches!(p32("[inf]"), Err(VectorError::NotFinite { .. })));
        assert!(matches!(p32("[1e39]"), Err(VectorError::OutOfRange { .. })));
        assert!(matches!(
            p32("[1e400]"),
            Err(VectorError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse::<f16>("[65520]"),
            Err(VectorError::OutOfRange { .. })
        ));
        assert_eq!(
            parse::<f16>("[65504]").unwrap(),
            vec![f16::from_f32(65504.0)]
        );
        let many = format!("[{}]", vec!["1"; crate::MAX_DIM + 1].join(","));
        assert!(matches!(
            p32(&many),
            Err(VectorError::TooManyDims { dims: 16001, .. })
        ));
        let max = format!("[{}]", vec!["1"; crate::MAX_DIM].join(","));
        let v = p32(&max).unwrap();
        assert_eq!(v.len(), crate::MAX_DIM);
        assert_eq!(v.capacity(), crate::MAX_DIM);
        // too many elements is reported before any element is parsed or stored
        let junk = format!("[{}]", vec!["x"; crate::MAX_DIM + 5].join(","));
        assert!(matches!(
            p32(&junk),
            Err(VectorError::TooManyDims { dims: 16005, .. })
        ));
        // a long input of few elements allocates for those elements only
        let spaced = format!("[1,{}2]", " ".repeat(1 << 20));
        let v = p32(&spaced).unwrap();
        assert_eq!((v.len(), v.capacity()), (2, 2));
    }

    #[test]
    fn error_messages_quote_long_input_briefly() {
        let long = format!("[{}", "1,".repeat(1000));
        let e = p32(&long).unwrap_err().to_string();
        assert!(e.len() < 120, "{e}");
    }

    #[test]
    fn output_is_short_and_round_trips() {
        assert_eq!(format(&[1.0f32, 2.5, -3.0]), "[1,2.5,-3]");
        assert_eq!(
            format(&[0.1f32, 1e-7, 3.4028235e38, -0.0]),
            "[0.1,1e-7,3.4028235e38,-0]"
        );
        assert_eq!(
            format(&[
                f16::from_f32(0.1),
                f16::from_f32(65504.0),
                f16::from_f32(1e-5)
            ]),
            "[0.1,65504,1e-5]"
        );
        // every f16 bit pattern that is finite round-trips
        for bits in 0..=u16::MAX {
            let x = f16::from_bits(bits);
            if !x.is_finite() {
                continue;
            }
            let s = format(&[x]);
            let back = parse::<f16>(&s).unwrap()[0];
            assert_eq!(back.to_bits(), x.to_bits(), "{s}");
        }
        // a spread of f32 values round-trips bit-exactly
        let mut s = 0x1234_5678u32;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let x = f32::from_bits(s);
            if !x.is_finite() {
                continue;
            }
            let t = format(&[x]);
            assert_eq!(p32(&t).unwrap()[0].to_bits(), x.to_bits(), "{t}");
        }
    }
}
