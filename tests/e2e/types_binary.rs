//! Binary I/O: COPY BINARY of 10,000 rows in and out, bit-exact; binary parameters and
//! results; text output round-trips exactly.

use crate::common::{client, RawParam, RawValue, Rng};
use std::io::{Read, Write};

const ROWS: usize = 10_000;
const DIMS: usize = 384;

fn encode_f32(v: &[f32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + v.len() * 4);
    b.extend_from_slice(&(v.len() as i16).to_be_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    for x in v {
        b.extend_from_slice(&x.to_bits().to_be_bytes());
    }
    b
}

fn encode_f16(v: &[half::f16]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + v.len() * 2);
    b.extend_from_slice(&(v.len() as i16).to_be_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    for x in v {
        b.extend_from_slice(&x.to_bits().to_be_bytes());
    }
    b
}

/// A PGCOPY binary stream of (id int8, v embedding, h halfembedding) rows.
fn copy_stream(rows: &[(i64, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut s = b"PGCOPY\n\xff\r\n\0".to_vec();
    s.extend_from_slice(&0i32.to_be_bytes());
    s.extend_from_slice(&0i32.to_be_bytes());
    for (id, v, h) in rows {
        s.extend_from_slice(&3i16.to_be_bytes());
        s.extend_from_slice(&8i32.to_be_bytes());
        s.extend_from_slice(&id.to_be_bytes());
        for f in [v, h] {
            s.extend_from_slice(&(f.len() as i32).to_be_bytes());
            s.extend_from_slice(f);
        }
    }
    s.extend_from_slice(&(-1i16).to_be_bytes());
    s
}

/// Parse a PGCOPY binary stream into rows of raw fields.
fn parse_copy(buf: &[u8]) -> Vec<Vec<Vec<u8>>> {
    assert_eq!(&buf[..11], b"PGCOPY\n\xff\r\n\0");
    let ext = u32::from_be_bytes(buf[15..19].try_into().unwrap()) as usize;
    let mut p = 19 + ext;
    let mut rows = Vec::new();
    loop {
        let n = i16::from_be_bytes(buf[p..p + 2].try_into().unwrap());
        p += 2;
        if n == -1 {
            break;
        }
        let mut row = Vec::new();
        for _ in 0..n {
            let len = i32::from_be_bytes(buf[p..p + 4].try_into().unwrap()) as usize;
            p += 4;
            row.push(buf[p..p + len].to_vec());
            p += len;
        }
        rows.push(row);
    }
    rows
}

#[test]
fn copy_binary_10000_rows_round_trips_bit_exact() {
    let mut c = client();
    c.batch_execute(
        "DROP TABLE IF EXISTS e2e_copy; CREATE TABLE e2e_copy (id int8 PRIMARY KEY, v embedding(384), h halfembedding(384))",
    )
    .unwrap();
    let mut rng = Rng(0xC0DE_C0DE);
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = (0..ROWS)
        .map(|i| {
            // include awkward values: subnormals, negative zero, extremes
            let v: Vec<f32> = (0..DIMS)
                .map(|j| match (i + j) % 97 {
                    0 => -0.0,
                    1 => f32::MIN_POSITIVE / 4.0,
                    2 => 3.4028235e38,
                    _ => rng.f32(10.0),
                })
                .collect();
            let h: Vec<half::f16> = v
                .iter()
                .map(|&x| half::f16::from_f32(x.clamp(-65504.0, 65504.0)))
                .collect();
            (i as i64, encode_f32(&v), encode_f16(&h))
        })
        .collect();
    let mut w = c
        .copy_in("COPY e2e_copy (id, v, h) FROM STDIN (FORMAT binary)")
        .unwrap();
    w.write_all(&copy_stream(&rows)).unwrap();
    assert_eq!(w.finish().unwrap(), ROWS as u64);

    let mut out = Vec::new();
    c.copy_out("COPY (SELECT id, v, h FROM e2e_copy ORDER BY id) TO STDOUT (FORMAT binary)")
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    let back = parse_copy(&out);
    assert_eq!(back.len(), ROWS);
    for (i, row) in back.iter().enumerate() {
        assert_eq!(row[1], rows[i].1, "embedding row {i} differs");
        assert_eq!(row[2], rows[i].2, "halfembedding row {i} differs");
    }
    // and the text form of every value reads back to the same bits
    let same: i64 = c
        .query_one("SELECT count(*) FROM e2e_copy WHERE v::text::embedding = v AND h::text::halfembedding = h", &[])
        .unwrap()
        .get(0);
    assert_eq!(same, ROWS as i64);
    c.batch_execute("DROP TABLE e2e_copy").unwrap();
}

#[test]
fn binary_parameters_and_results() {
    let mut c = client();
    let v = [1.5f32, -2.0, 0.1];
    let row = c
        .query_one(
            "SELECT $1::embedding::text, $1::embedding <-> '[0,0,0]', $1::embedding",
            &[&RawParam(encode_f32(&v))],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "[1.5,-2,0.1]");
    let d: f64 = row.get(1);
    assert!((d - (1.5f64 * 1.5 + 4.0 + 0.1f32 as f64 * 0.1f32 as f64).sqrt()).abs() < 1e-6);
    assert_eq!(row.get::<_, RawValue>(2).0, encode_f32(&v));
    let h: Vec<half::f16> = [0.1f32, 65504.0]
        .iter()
        .map(|&x| half::f16::from_f32(x))
        .collect();
    let row = c
        .query_one(
            "SELECT $1::halfembedding::text, $1::halfembedding",
            &[&RawParam(encode_f16(&h))],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "[0.1,65504]");
    assert_eq!(row.get::<_, RawValue>(1).0, encode_f16(&h));
}
