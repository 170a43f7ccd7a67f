//! With `threads > 1` the encoder owns a private pool of exactly that many workers, all with
//! every signal blocked (Postgres' handlers must only run on the backend's main thread), and
//! the pool goes away with the encoder. One test per file keeps the task count stable.

mod common;

use std::sync::atomic::AtomicBool;

use codevec_encoder::{Encoder, EncoderOptions};

fn tasks() -> Vec<(String, String)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let comm = std::fs::read_to_string(p.join("comm"))
                .unwrap_or_default()
                .trim()
                .to_string();
            let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
            let sigblk = status
                .lines()
                .find(|l| l.starts_with("SigBlk:"))
                .map(|l| l["SigBlk:".len()..].trim().to_string())
                .unwrap_or_default();
            (comm, sigblk)
        })
        .collect()
}

/// True when the SigBlk hex mask blocks every standard and real-time signal the kernel lets
/// a thread block (SIGKILL = 9 and SIGSTOP = 19 can never be blocked).
fn all_blocked(mask_hex: &str) -> bool {
    let mask = u64::from_str_radix(mask_hex, 16).expect("SigBlk hex");
    let unblockable = (1u64 << (9 - 1)) | (1u64 << (19 - 1));
    // glibc reserves signals 32 and 33 for itself; sigfillset leaves them out.
    let reserved = (1u64 << (32 - 1)) | (1u64 << (33 - 1));
    mask | unblockable | reserved == u64::MAX
}

#[test]
fn pool_has_exactly_n_workers_with_signals_blocked() {
    let model = common::model_dir();
    let before = tasks().len();
    let main_mask_before = std::fs::read_to_string("/proc/thread-self/status").unwrap();

    let enc = Encoder::load(
        &model,
        EncoderOptions {
            threads: 2,
            max_batch: 8,
            ..Default::default()
        },
    )
    .unwrap();
    let texts = common::codesearch("code", 24);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    enc.embed_batch(&refs, &AtomicBool::new(false)).unwrap();
    enc.embed("open a TCP connection with timeout").unwrap();

    let now = tasks();
    assert_eq!(
        now.len(),
        before + 2,
        "expected exactly 2 new threads, got {now:?}"
    );
    let workers: Vec<_> = now
        .iter()
        .filter(|(c, _)| c.starts_with("codevec-enc"))
        .collect();
    assert_eq!(workers.len(), 2, "worker threads: {now:?}");
    for (name, mask) in &workers {
        assert!(
            all_blocked(mask),
            "{name} does not block all signals: SigBlk {mask}"
        );
    }
    // The calling thread's own mask is restored after spawning the workers.
    let main_mask_after = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let sigblk = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("SigBlk:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(sigblk(&main_mask_before), sigblk(&main_mask_after));
    assert!(
        !now.iter().any(|(c, _)| c.contains("rayon")),
        "global rayon pool was started: {now:?}"
    );

    drop(enc);
    // rayon workers exit asynchronously after the pool is dropped
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tasks().len() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(tasks().len(), before, "workers outlived the encoder");
}
