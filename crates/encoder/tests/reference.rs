//! Exactness against the reference encoder (sentence-transformers on PyTorch, f32):
//! shared/data/minilm-reference.json.

mod common;

use std::sync::atomic::AtomicBool;

use codevec_encoder::{Encoder, EncoderOptions, Kernels, Precision, SimdLevel, DIMS};

fn check(enc: &Encoder, what: &str) {
    check_bar(enc, what, 0.9999)
}

fn check_bar(enc: &Encoder, what: &str, bar: f64) {
    let rows = common::reference_rows();
    assert_eq!(rows.len(), 40, "reference file should hold 40 rows");
    check_rows(enc, what, bar, &rows);
}

fn check_rows(enc: &Encoder, what: &str, bar: f64, rows: &[common::RefRow]) {
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let batch = enc
        .embed_batch(&texts, &AtomicBool::new(false))
        .expect("embed_batch");
    assert_eq!(batch.len(), rows.len());
    let mut worst = (1.0f64, String::new());
    for (row, got) in rows.iter().zip(&batch) {
        assert_eq!(got.len(), DIMS);
        assert_eq!(
            enc.token_count(&row.text),
            row.token_count,
            "token count of {:?}",
            &row.text[..row.text.len().min(60)]
        );
        let cos = common::cosine(got, &row.embedding);
        if cos < worst.0 {
            worst = (cos, row.text.chars().take(40).collect());
        }
        let norm: f64 = got.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not unit length: {norm}");
    }
    eprintln!("{what}: min cosine {:.7} ({:?})", worst.0, worst.1);
    assert!(
        worst.0 >= bar,
        "{what}: cosine {} < {bar} for {:?}",
        worst.0,
        worst.1
    );
}

#[test]
fn batch_embeddings_and_token_counts_match_reference() {
    let enc = Encoder::load(&common::model_dir(), EncoderOptions::default()).unwrap();
    check(&enc, "threads=1 batch=32");
}

#[test]
fn single_embeddings_match_reference_and_batch() {
    let enc = Encoder::load(
        &common::model_dir(),
        EncoderOptions {
            threads: 1,
            max_batch: 3,
            ..Default::default()
        },
    )
    .unwrap();
    check(&enc, "threads=1 batch=3");
    for row in common::reference_rows() {
        let one = enc.embed(&row.text).unwrap();
        let cos = common::cosine(&one, &row.embedding);
        assert!(
            cos >= 0.9999,
            "embed({:?}): cosine {cos}",
            row.text.chars().take(40).collect::<String>()
        );
    }
}

#[test]
fn two_threads_match_reference() {
    let enc = Encoder::load(
        &common::model_dir(),
        EncoderOptions {
            threads: 2,
            max_batch: 8,
            ..Default::default()
        },
    )
    .unwrap();
    check(&enc, "threads=2 batch=8");
}

#[test]
fn int8_embeddings_stay_within_0_995_of_reference() {
    assert!(Precision::Int8.supported(), "int8 runs on every CPU");
    for threads in [1, 2] {
        let enc = Encoder::load(
            &common::model_dir(),
            EncoderOptions {
                threads,
                precision: Precision::Int8,
                ..EncoderOptions::default()
            },
        )
        .unwrap();
        check_bar(&enc, &format!("int8 threads={threads}"), 0.995);
        // one text alone (a mini-batch of one) too
        let rows = common::reference_rows();
        for row in rows.iter().take(8) {
            let one = enc.embed(&row.text).unwrap();
            let cos = common::cosine(&one, &row.embedding);
            assert!(cos >= 0.995, "int8 embed({:?}): cosine {cos}", row.text);
        }
    }
}

/// The reference rows a level is checked on: all of them, except at the portable level
/// (slow by design): there the short ones (the empty string, the worst case of
/// int8, included), at most 6.
fn rows_for(kernels: Kernels) -> Vec<common::RefRow> {
    let rows = common::reference_rows();
    if kernels.level() != SimdLevel::Scalar {
        return rows;
    }
    let mut rows = rows;
    rows.sort_by_key(|r| r.token_count);
    rows.truncate(6);
    rows
}

/// Every SIMD level of `codevec_simd::available_levels()` (and every int8 kernel the CPU has)
/// against the reference, each through an encoder built for it in this process: f32 at the
/// usual 0.9999, int8 at 0.995.
#[test]
fn every_simd_level_and_int8_kernel_matches_reference() {
    let levels = codevec_simd::available_levels();
    for l in [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512] {
        if !levels.contains(&l) {
            eprintln!(
                "level {} skipped: {}",
                l.name(),
                if codevec_simd::supported(l) {
                    "above the CODEVEC_SIMD cap"
                } else {
                    "this CPU lacks it"
                }
            );
        }
    }
    let dir = common::model_dir();
    for kernels in Kernels::available() {
        let rows = rows_for(kernels);
        let mut precisions = vec![Precision::Int8];
        if Kernels::for_level(kernels.level()) == Some(kernels) {
            precisions.insert(0, Precision::F32); // f32 does not depend on the int8 kernel
        }
        for precision in precisions {
            let bar = if precision == Precision::F32 {
                0.9999
            } else {
                0.995
            };
            let opts = EncoderOptions {
                threads: 1,
                precision,
                max_batch: 8,
                cache_dir: None,
            };
            let enc = Encoder::load_with_kernels(&dir, opts, kernels).unwrap();
            let info = enc.info();
            assert_eq!(info.kernels, kernels);
            let what = format!(
                "{precision} {kernels} [{}], {} texts",
                info.gemm_kernel,
                rows.len()
            );
            check_rows(&enc, &what, bar, &rows);
        }
    }
}
