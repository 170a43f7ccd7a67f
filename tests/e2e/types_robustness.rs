//! Bad input never crashes the backend: after each rejected value the same session answers
//! and the postmaster was not restarted.

use crate::common::{client, sqlstate, RawParam};

fn postmaster_start(c: &mut postgres::Client) -> String {
    c.query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0)
}

#[test]
fn bad_text_input_errors_cleanly_and_the_server_survives() {
    let mut c = client();
    let started = postmaster_start(&mut c);
    let cases: &[(&str, &str)] = &[
        ("SELECT '1,2'::embedding", "22P02"),
        ("SELECT '[1,2'::embedding", "22P02"),
        ("SELECT '[]'::embedding", "22000"),
        ("SELECT '[1,,2]'::embedding", "22P02"),
        ("SELECT '[1,2]x'::embedding", "22P02"),
        ("SELECT '[1e39]'::embedding", "22003"),
        ("SELECT '[NaN]'::embedding", "22000"),
        ("SELECT '[Infinity]'::halfembedding", "22000"),
        ("SELECT '[70000]'::halfembedding", "22003"),
        (
            "SELECT array_fill(1, ARRAY[16001])::real[]::embedding",
            "54000",
        ),
        ("SELECT '[1,2]'::embedding(3)", "22000"),
        ("SELECT '[1,2]'::embedding <-> '[1,2,3]'", "22000"),
        ("SELECT '[1,2]'::halfembedding <=> '[1]'", "22000"),
        ("SELECT ARRAY[1,NULL]::real[]::embedding", "22004"),
        ("SELECT '[3e38]'::embedding * '[10]'", "22003"),
    ];
    for (q, code) in cases {
        let e = c.simple_query(q).expect_err(q);
        assert_eq!(sqlstate(&e), *code, "{q}: {e}");
        let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
        assert_eq!(one, 1, "session alive after {q}");
    }
    assert_eq!(
        postmaster_start(&mut c),
        started,
        "the server did not restart"
    );
}

#[test]
fn garbled_binary_input_errors_cleanly_and_the_server_survives() {
    let mut c = client();
    let started = postmaster_start(&mut c);
    let good: Vec<u8> = [
        &2i16.to_be_bytes()[..],
        &0i16.to_be_bytes(),
        &1f32.to_bits().to_be_bytes(),
        &2f32.to_bits().to_be_bytes(),
    ]
    .concat();
    let mut bad_reserved = good.clone();
    bad_reserved[3] = 7;
    let mut nan = good.clone();
    nan[4..8].copy_from_slice(&f32::NAN.to_bits().to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "22P03"),
        ("truncated header", good[..3].to_vec(), "22P03"),
        ("truncated elements", good[..7].to_vec(), "22P03"),
        ("trailing bytes", [good.clone(), vec![0]].concat(), "22P03"),
        (
            "negative dims",
            [&(-5i16).to_be_bytes()[..], &0i16.to_be_bytes()].concat(),
            "22P03",
        ),
        ("zero dims", vec![0, 0, 0, 0], "22000"),
        ("reserved field", bad_reserved, "22P03"),
        ("NaN element", nan, "22000"),
        (
            "claims 16001 dims",
            [&16001i16.to_be_bytes()[..], &0i16.to_be_bytes()].concat(),
            "54000",
        ),
    ];
    for (what, bytes, code) in cases {
        for ty in ["embedding", "halfembedding"] {
            let e = c
                .query_one(&format!("SELECT $1::{ty}"), &[&RawParam(bytes.clone())])
                .expect_err(what);
            // halfembedding elements are 2 bytes: the same stream may fail on length first
            let got = sqlstate(&e);
            if ty == "embedding" {
                assert_eq!(got, code, "{ty} {what}: {e}");
            } else {
                assert!(got.starts_with("22") || got == "54000", "{ty} {what}: {e}");
            }
            let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
            assert_eq!(one, 1);
        }
    }
    assert_eq!(
        postmaster_start(&mut c),
        started,
        "the server did not restart"
    );
}
