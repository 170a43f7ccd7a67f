//! With `threads = 1` the encoder must not create a single thread: no rayon pool (global or
//! private), no tokenizer pool. This file holds exactly one test so that the test harness
//! itself runs nothing concurrently and the task count of the process is stable.

mod common;

use std::sync::atomic::AtomicBool;

use codevec_encoder::{Encoder, EncoderOptions};

fn task_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

#[test]
fn single_thread_encoder_creates_no_threads() {
    let model = common::model_dir();
    let texts = common::codesearch("code", 40);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let before = task_count();

    let enc = Encoder::load(
        &model,
        EncoderOptions {
            threads: 1,
            max_batch: 8,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(task_count(), before, "Encoder::load started threads");
    let out = enc.embed_batch(&refs, &AtomicBool::new(false)).unwrap();
    assert_eq!(out.len(), refs.len());
    enc.embed("read a file line by line").unwrap();
    enc.token_count(&"word ".repeat(10_000));
    assert_eq!(task_count(), before, "encoding started threads");
    assert_eq!(enc.info().threads, 1);
    // The global rayon pool must not have been initialised either: that would have spawned
    // its workers, which the count above would have seen. Double-check by thread names.
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let comm = std::fs::read_to_string(entry.unwrap().path().join("comm")).unwrap_or_default();
        assert!(
            !comm.contains("rayon") && !comm.contains("codevec-enc"),
            "unexpected thread {comm:?}"
        );
    }
}
