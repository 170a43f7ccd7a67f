//! The worker pools of the build (k-means, assignment, encoding).

/// A private pool of `threads` workers with every signal blocked: they run inside a
/// Postgres backend, whose signal handlers must stay on the backend thread (see
/// `codevec-threads`). The error is the message for the callers' `InvalidInput`.
pub(crate) fn worker_pool(threads: usize, name: &str) -> Result<rayon::ThreadPool, String> {
    codevec_threads::pool(threads, name).map_err(|e| format!("thread pool: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pool_workers_block_every_signal() {
        let pool = super::worker_pool(2, "codevec-ivf-test").unwrap();
        let unblockable = codevec_threads::unblockable_signals();
        for unblocked in pool.broadcast(|_| codevec_threads::unblocked_signals()) {
            assert_eq!(
                unblocked, unblockable,
                "unblocked in a worker: {unblocked:?}"
            );
        }
    }
}
