//! Cancellation: the flag is honoured before work starts and promptly during it, and the
//! interrupt callback always runs on the calling thread.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use codevec_encoder::{Encoder, EncoderError, EncoderOptions};

#[test]
fn preset_flag_cancels_immediately() {
    let enc = Encoder::load(&common::model_dir(), EncoderOptions::default()).unwrap();
    let texts = common::codesearch("code", 64);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let t0 = Instant::now();
    let r = enc.embed_batch(&refs, &AtomicBool::new(true));
    assert!(matches!(r, Err(EncoderError::Cancelled)), "{r:?}");
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn flag_set_during_encoding_stops_promptly() {
    for threads in [1, 2] {
        let enc = Encoder::load(
            &common::model_dir(),
            EncoderOptions {
                threads,
                max_batch: 32,
                ..Default::default()
            },
        )
        .unwrap();
        let texts = common::codesearch("code", 1024);
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        let cancel = AtomicBool::new(false);
        let set_at = std::sync::Mutex::new(None::<Instant>);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                *set_at.lock().unwrap() = Some(Instant::now());
                cancel.store(true, Ordering::Relaxed);
            });
            enc.embed_batch(&refs, &cancel)
        });
        let latency = set_at.lock().unwrap().expect("cancel was set").elapsed();
        assert!(
            matches!(result, Err(EncoderError::Cancelled)),
            "threads {threads}: {:?}",
            result.map(|v| v.len())
        );
        // one layer of one mini-batch is the longest stretch without a check (~0.1 s on a
        // quiet core); allow for a busy machine
        assert!(
            latency < Duration::from_secs(2),
            "threads {threads}: cancel took {latency:?}"
        );
        eprintln!("threads {threads}: cancelled {latency:?} after the flag was set");
    }
}

#[test]
fn interrupt_callback_runs_on_calling_thread() {
    let enc = Encoder::load(
        &common::model_dir(),
        EncoderOptions {
            threads: 2,
            max_batch: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let texts = common::codesearch("code", 16);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let me = std::thread::current().id();
    let mut calls = 0;
    let r = enc.embed_batch_interruptible(&refs, &mut || {
        assert_eq!(
            std::thread::current().id(),
            me,
            "callback ran on another thread"
        );
        calls += 1;
        calls == 10
    });
    assert!(matches!(r, Err(EncoderError::Cancelled)));
    assert_eq!(calls, 10);

    // never interrupting: all results, one per input, at least one check per layer
    let mut calls = 0;
    let out = enc.embed_batch_interruptible(&refs, &mut || {
        calls += 1;
        false
    });
    assert_eq!(out.unwrap().len(), refs.len());
    // one check before tokenising, then one per mini-batch and one per layer
    assert!(calls > 4 * 7, "only {calls} checks for 4 mini-batches");
}
