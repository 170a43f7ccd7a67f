//! Property tests of the parsers and printers: no input panics them, and every value they
//! accept prints back and re-parses to the identical bits. Modest case counts keep the
//! suite fast.

use codevec_vector::{binary, text, Element};
use half::f16;
use proptest::collection::vec;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings made of the characters the text format cares about, so that the parser gets
/// past the brackets and into the elements.
const VECTOR_LIKE: &str = "[ \\t\\n]?\\[?[ \\t0-9eE.,+\\-naifNIFty]{0,40}\\]?[ x]?";

/// `[tok, tok, ...]` with number-like tokens (including out-of-range exponents, `inf`,
/// `nan` and empty ones) and random white space: mostly valid input.
fn number_lists() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        8 => "[+-]?[0-9]{0,4}(\\.[0-9]{0,4})?([eE][+-]?[0-9]{1,2})?",
        1 => "[+-]?(inf|Infinity|nan|NaN|1e400|65520)",
        1 => "[ \t]{0,2}",
    ];
    (vec(tok, 1..10), "[ \t\n]{0,2}", "[ \t\n]{0,2}").prop_map(|(toks, l, r)| {
        format!(
            "{l}[{}]{r}",
            toks.join(if l.is_empty() { "," } else { " , " })
        )
    })
}

fn bits<E: Element>(v: &[E]) -> Vec<f32> {
    v.iter().map(|x| x.to_f32()).collect()
}

fn same_bits<E: Element>(a: &[E], b: &[E]) -> bool {
    a.len() == b.len()
        && bits(a)
            .iter()
            .zip(bits(b))
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

/// If `s` parses, its value is finite, prints, and re-parses to the same bits.
fn reprint<E: Element>(s: &str) -> Result<(), TestCaseError> {
    if let Ok(v) = text::parse::<E>(s) {
        prop_assert!(!v.is_empty() && v.len() <= codevec_vector::MAX_DIM);
        prop_assert!(bits(&v).iter().all(|x| x.is_finite()), "{s:?}");
        let t = text::format(&v);
        let w = text::parse::<E>(&t);
        prop_assert!(
            matches!(&w, Ok(w) if same_bits(&v, w)),
            "{s:?} -> {t:?} -> {:?}",
            w.map(|w| bits(&w))
        );
    }
    Ok(())
}

/// If `buf` decodes, the value is finite and encodes back to exactly `buf`.
fn reencode<E: Element>(buf: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = binary::decode::<E>(buf) {
        prop_assert!(bits(&v).iter().all(|x| x.is_finite()));
        prop_assert_eq!(binary::encode(&v), buf.to_vec());
    }
    Ok(())
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        (-1e6f32..1e6f32),
        Just(f32::MAX),
        Just(f32::MIN_POSITIVE),
        Just(-0.0f32),
        Just(1e-45f32),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

fn finite_f16() -> impl Strategy<Value = f16> {
    any::<u16>()
        .prop_map(f16::from_bits)
        .prop_filter("finite", |x| x.is_finite())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn text_parser_never_panics_on_any_string(s in any::<String>()) {
        let _ = text::parse::<f32>(&s);
        let _ = text::parse::<f16>(&s);
        reprint::<f32>(&s)?;
    }

    #[test]
    fn text_parser_never_panics_and_reprints_vector_like_strings(s in VECTOR_LIKE) {
        reprint::<f32>(&s)?;
        reprint::<f16>(&s)?;
    }

    #[test]
    fn number_lists_parse_or_fail_cleanly_and_reprint(s in number_lists()) {
        reprint::<f32>(&s)?;
        reprint::<f16>(&s)?;
    }

    #[test]
    fn binary_decoder_never_panics_on_any_bytes(b in vec(any::<u8>(), 0..96)) {
        reencode::<f32>(&b)?;
        reencode::<f16>(&b)?;
    }

    #[test]
    fn binary_decoder_with_plausible_headers(
        dim in 0u16..40,
        reserved in prop_oneof![3 => Just(0u16), 1 => any::<u16>()],
        mut body in vec(any::<u8>(), 0..170),
        exact in any::<bool>(),
        size in prop_oneof![Just(2usize), Just(4usize)],
    ) {
        if exact {
            body.resize(dim as usize * size, 0);
        }
        let mut buf = dim.to_be_bytes().to_vec();
        buf.extend_from_slice(&reserved.to_be_bytes());
        buf.extend_from_slice(&body);
        reencode::<f32>(&buf)?;
        reencode::<f16>(&buf)?;
    }

    #[test]
    fn f32_vectors_round_trip_exactly(v in vec(finite_f32(), 1..48)) {
        let t = text::format(&v);
        let back = text::parse::<f32>(&t);
        prop_assert!(matches!(&back, Ok(w) if same_bits(&v, w)), "{t}");
        let b = binary::decode::<f32>(&binary::encode(&v));
        prop_assert!(matches!(&b, Ok(w) if same_bits(&v, w)));
    }

    #[test]
    fn f16_vectors_round_trip_exactly(v in vec(finite_f16(), 1..48)) {
        let t = text::format(&v);
        let back = text::parse::<f16>(&t);
        prop_assert!(matches!(&back, Ok(w) if same_bits(&v, w)), "{t}");
        let b = binary::decode::<f16>(&binary::encode(&v));
        prop_assert!(matches!(&b, Ok(w) if same_bits(&v, w)));
    }
}

/// The generators reach the interesting cases: a good share of the number lists parse.
#[test]
fn number_lists_often_parse() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = number_lists();
    let ok = (0..400)
        .filter(|_| {
            let s = strat.new_tree(&mut runner).unwrap().current();
            text::parse::<f32>(&s).is_ok()
        })
        .count();
    assert!(ok > 40, "only {ok} of 400 parsed");
}
