//! The one thread-spawn discipline of codevec's worker pools (the encoder's, the ivf build's
//! and k-means'): they run inside a PostgreSQL backend, whose signal handlers
//! (`SIGINT`, `SIGALRM`, `SIGUSR1`, …) touch backend-global state such as
//! `InterruptHoldoffCount` and must only ever run on the backend's own thread.
//!
//! [`pool`] builds a private rayon pool whose workers are spawned with every signal blocked:
//! the spawning thread blocks all signals while it creates the worker (a new thread inherits
//! the mask, so there is no window in which the worker could take a process-directed
//! signal), restores its own mask afterwards, and the worker blocks all signals again as its
//! first action. Signals then go to the backend thread, which has them unblocked.

#![deny(unsafe_op_in_unsafe_fn)]

use std::io;

/// A private rayon pool of exactly `threads` workers (at least 1) named `{name}-{i}`, every
/// signal blocked in each of them (see the crate doc). The global rayon pool is not touched.
pub fn pool(threads: usize, name: &str) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let name = name.to_owned();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(move |i| format!("{name}-{i}"))
        .spawn_handler(spawn_with_signals_blocked)
        .build()
}

/// A rayon spawn handler: starts `thread` on a new OS thread with every signal blocked.
pub fn spawn_with_signals_blocked(thread: rayon::ThreadBuilder) -> io::Result<()> {
    let mut builder = std::thread::Builder::new();
    if let Some(name) = thread.name() {
        builder = builder.name(name.to_owned());
    }
    if let Some(size) = thread.stack_size() {
        builder = builder.stack_size(size);
    }
    // Block everything in the spawning thread while the worker is created so the worker
    // starts life with all signals blocked; the guard restores our mask.
    let _guard = SignalMaskGuard::block_all();
    builder.spawn(move || {
        block_all_signals_in_current_thread();
        thread.run()
    })?;
    Ok(())
}

/// Starts `f` on a new scoped thread named `name` with every signal blocked, like a pool
/// worker, for one-off helpers of a backend (the host's signal handlers must never run on
/// them); the calling thread's mask is blocked only while the thread is created.
pub fn spawn_scoped_with_signals_blocked<'scope, 'env, T, F>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    name: &str,
    f: F,
) -> io::Result<std::thread::ScopedJoinHandle<'scope, T>>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    let _guard = SignalMaskGuard::block_all();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, move || {
            block_all_signals_in_current_thread();
            f()
        })
}

/// Blocks every signal in the current thread until dropped, then restores the previous mask.
pub struct SignalMaskGuard {
    previous: libc::sigset_t,
    /// Not `Send`: the mask must be restored on the thread that changed it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl SignalMaskGuard {
    /// Blocks all signals in the calling thread (the kernel keeps `SIGKILL`/`SIGSTOP`
    /// deliverable, glibc its two internal ones).
    pub fn block_all() -> SignalMaskGuard {
        // SAFETY: sigset_t is a plain C struct for which all-zero bytes is a valid value;
        // sigfillset/pthread_sigmask only write through the valid pointers we pass.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut previous);
            SignalMaskGuard {
                previous,
                _not_send: std::marker::PhantomData,
            }
        }
    }
}

impl Drop for SignalMaskGuard {
    fn drop(&mut self) {
        // SAFETY: restores the mask captured in `block_all` on the same thread (the guard is
        // not Send); the pointer is valid for the call and the old-mask pointer may be null.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}

/// Blocks every signal in the calling thread, for good.
pub fn block_all_signals_in_current_thread() {
    // SAFETY: as in `SignalMaskGuard::block_all`; only the calling thread's mask changes.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// Signals of the calling thread's mask that are *not* blocked, among those a thread can
/// block (1..=31 without `SIGKILL`/`SIGSTOP`, and the real-time ones): empty in a pool
/// worker. For tests.
pub fn unblocked_signals() -> Vec<i32> {
    // SAFETY: a zeroed sigset_t is valid; pthread_sigmask with a null new set only reads the
    // calling thread's mask into `mask`; sigismember reads it.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
        let rt = libc::SIGRTMIN()..=libc::SIGRTMAX();
        (1..=31)
            .filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
            .chain(rt)
            .filter(|&s| libc::sigismember(&mask, s) != 1)
            .collect()
    }
}

/// Signals that stay unblocked in a thread that has blocked every signal: none on Linux;
/// under qemu-user, the two highest real-time signals (the emulator keeps them for itself).
/// What [`unblocked_signals`] must equal in a pool worker. For tests.
pub fn unblockable_signals() -> Vec<i32> {
    std::thread::spawn(|| {
        block_all_signals_in_current_thread();
        unblocked_signals()
    })
    .join()
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_workers_block_every_signal_and_the_caller_keeps_its_mask() {
        let before = unblocked_signals();
        let unblockable = unblockable_signals();
        assert!(
            unblockable.len() < before.len(),
            "blocking every signal blocked none: unblocked {before:?}"
        );
        let p = pool(2, "codevec-test").unwrap();
        assert_eq!(p.current_num_threads(), 2);
        let seen: Vec<(String, Vec<i32>)> = p.broadcast(|_| {
            (
                std::thread::current().name().unwrap_or("").to_owned(),
                unblocked_signals(),
            )
        });
        for (name, unblocked) in &seen {
            assert!(name.starts_with("codevec-test-"), "{name}");
            assert_eq!(
                unblocked, &unblockable,
                "{name}: unblocked {unblocked:?} (these cannot be blocked here: {unblockable:?})"
            );
        }
        assert_eq!(
            unblocked_signals(),
            before,
            "the spawning thread's mask changed"
        );
        assert!(
            !before.is_empty(),
            "the test thread should have signals unblocked"
        );
    }
}
