//! Threads. The encoder runs inside a PostgreSQL backend, so it must never start threads the
//! caller did not ask for, and the threads it does start must never run Postgres' signal
//! handlers.
//!
//! * `threads == 1`: [`Exec`] owns no pool; every kernel runs on the calling thread and no
//!   rayon pool (global or local) is ever touched, so no thread is created at all.
//! * `threads > 1`: [`Exec`] owns a private rayon pool of exactly `threads` workers (the
//!   calling thread only waits while a parallel section runs). The workers are spawned with
//!   every signal blocked (the mask is inherited from the spawning thread, so there is no
//!   window in which a worker could take a process-directed signal), and they block all
//!   signals again as their first action (`codevec_threads::pool`, shared with the ivf
//!   build). The global rayon pool is never used.
//!
//! Code that needs parallelism receives a [`Par`] from [`Exec::run`]; a `Par` with more than
//! one thread only exists inside the private pool, so rayon calls made through it can never
//! reach the global pool.

use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::EncoderError;
use crate::kernels::{Kernels, SimdLevel};

/// An independent unit of work for [`Exec::run_jobs`].
pub(crate) type Job<'a> = Box<dyn FnOnce(&Par) + Send + 'a>;

/// Owner of the (optional) private worker pool.
pub(crate) struct Exec {
    threads: usize,
    kernels: Kernels,
    pool: Option<rayon::ThreadPool>,
}

impl Exec {
    pub(crate) fn new(threads: usize, kernels: Kernels) -> Result<Exec, EncoderError> {
        if threads == 0 {
            return Err(EncoderError::InvalidOptions(
                "threads must be at least 1".into(),
            ));
        }
        if threads == 1 {
            return Ok(Exec {
                threads,
                kernels,
                pool: None,
            });
        }
        let pool = codevec_threads::pool(threads, "codevec-enc")
            .map_err(|e| EncoderError::ThreadPool(e.to_string()))?;
        Ok(Exec {
            threads,
            kernels,
            pool: Some(pool),
        })
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    pub(crate) fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Runs independent `jobs` concurrently on the private pool, each with a single-threaded
    /// [`Par`], while the calling thread polls `should_stop` about every millisecond; once it
    /// returns `true`, `stop` is set (the jobs check it between steps). Returns when every job
    /// has finished. A panic in a job sets `stop` and is re-raised on the calling thread
    /// after all jobs have finished. Single-threaded encoders run the jobs one after another
    /// on the calling thread, polling between them.
    pub(crate) fn run_jobs<'a>(
        &self,
        jobs: Vec<Job<'a>>,
        stop: &AtomicBool,
        should_stop: &mut dyn FnMut() -> bool,
    ) {
        let Some(pool) = &self.pool else {
            for job in jobs {
                if !stop.load(Ordering::Relaxed) && should_stop() {
                    stop.store(true, Ordering::Relaxed);
                }
                job(&Par {
                    threads: 1,
                    kernels: self.kernels,
                });
            }
            return;
        };
        let n = jobs.len();
        let done = AtomicUsize::new(0);
        pool.in_place_scope(|scope| {
            for job in jobs {
                let done = &done;
                let kernels = self.kernels;
                scope.spawn(move |_| {
                    // Counted on every exit, unwinding included: a panicking job must not
                    // leave the loop below waiting for it forever (deaf to cancellation).
                    // The panic also stops the other jobs; rayon re-raises it on this thread
                    // once the scope ends, i.e. after every job has finished.
                    let _done = Finished { done, stop };
                    job(&Par {
                        threads: 1,
                        kernels,
                    });
                });
            }
            // This closure runs on the calling thread while the workers run the jobs.
            while done.load(Ordering::Acquire) < n {
                if !stop.load(Ordering::Relaxed) && should_stop() {
                    stop.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }

    /// Runs `f` with a [`Par`] handle: on the calling thread when single-threaded, otherwise
    /// inside the private pool (the calling thread blocks until `f` returns).
    pub(crate) fn run<R: Send>(&self, f: impl FnOnce(&Par) -> R + Send) -> R {
        match &self.pool {
            None => f(&Par {
                threads: 1,
                kernels: self.kernels,
            }),
            Some(pool) => {
                let (threads, kernels) = (self.threads, self.kernels);
                pool.install(move || f(&Par { threads, kernels }))
            }
        }
    }
}

/// Counts a job of [`Exec::run_jobs`] as finished when dropped; if it is dropped by a panic,
/// also tells the other jobs to stop.
struct Finished<'a> {
    done: &'a AtomicUsize,
    stop: &'a AtomicBool,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::Relaxed);
        }
        self.done.fetch_add(1, Ordering::Release);
    }
}

/// Parallel-execution handle, valid only inside [`Exec::run`].
pub(crate) struct Par {
    threads: usize,
    kernels: Kernels,
}

impl Par {
    /// A handle with the same kernels that runs everything on the calling thread (for work
    /// inside one task of an outer parallel section).
    pub(crate) fn sequential(&self) -> Par {
        Par {
            threads: 1,
            kernels: self.kernels,
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// The kernels to run (always runnable on this CPU, see [`Kernels`]).
    pub(crate) fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// SIMD level of the f32 and element-wise kernels.
    pub(crate) fn level(&self) -> SimdLevel {
        self.kernels.level()
    }

    /// Index of the current worker in `0..threads()` (0 when single-threaded); used to pick a
    /// per-worker scratch buffer.
    pub(crate) fn worker_index(&self) -> usize {
        if self.threads == 1 {
            0
        } else {
            rayon::current_thread_index()
                .unwrap_or(0)
                .min(self.threads - 1)
        }
    }

    /// Calls `f(i)` for every `i` in `0..n`, spread over the workers.
    pub(crate) fn for_each(&self, n: usize, f: impl Fn(usize) + Sync + Send) {
        if self.threads == 1 || n <= 1 {
            (0..n).for_each(f);
        } else {
            (0..n).into_par_iter().for_each(f);
        }
    }

    /// Calls `f(chunk_index, chunk)` for consecutive `chunk_len`-sized chunks of `data`.
    pub(crate) fn for_each_chunk_mut<T: Send>(
        &self,
        data: &mut [T],
        chunk_len: usize,
        f: impl Fn(usize, &mut [T]) + Sync + Send,
    ) {
        let chunk_len = chunk_len.max(1);
        if self.threads == 1 || data.len() <= chunk_len {
            data.chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c));
        } else {
            data.par_chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c));
        }
    }

    /// Like [`Par::for_each_chunk_mut`] over two slices at once: `f(i, a_chunk, b_chunk)` for
    /// the `i`-th `a_len`-sized chunk of `a` and `b_len`-sized chunk of `b`.
    pub(crate) fn for_each_chunk_pair_mut<A: Send, B: Send>(
        &self,
        a: &mut [A],
        a_len: usize,
        b: &mut [B],
        b_len: usize,
        f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
    ) {
        let (a_len, b_len) = (a_len.max(1), b_len.max(1));
        if self.threads == 1 || a.len() <= a_len {
            a.chunks_mut(a_len)
                .zip(b.chunks_mut(b_len))
                .enumerate()
                .for_each(|(i, (x, y))| f(i, x, y));
        } else {
            a.par_chunks_mut(a_len)
                .zip(b.par_chunks_mut(b_len))
                .enumerate()
                .for_each(|(i, (x, y))| f(i, x, y));
        }
    }
}

/// One scratch buffer per worker, so that parallel tasks can reuse memory without allocating.
pub(crate) struct PerWorker<T> {
    slots: Vec<Mutex<T>>,
}

impl<T> PerWorker<T> {
    pub(crate) fn new(n: usize, mut make: impl FnMut() -> T) -> Self {
        PerWorker {
            slots: (0..n.max(1)).map(|_| Mutex::new(make())).collect(),
        }
    }

    /// Runs `f` on the current worker's slot. Each worker only ever locks its own slot, so
    /// the lock is uncontended.
    pub(crate) fn with<R>(&self, par: &Par, f: impl FnOnce(&mut T) -> R) -> R {
        let idx = par.worker_index() % self.slots.len();
        let mut guard = self.slots[idx].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_panicking_job_reaches_the_caller_promptly_and_stops_the_others() {
        let exec = Exec::new(2, Kernels::detect()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // on a thread of its own, so that a regression hangs only that thread, not the test
        std::thread::spawn(move || {
            let stop = AtomicBool::new(false);
            let t0 = Instant::now();
            let stop_ref = &stop;
            let jobs: Vec<Job<'_>> = vec![
                Box::new(|_: &Par| panic!("job failed")),
                Box::new(move |_: &Par| {
                    // a long job that checks `stop` between steps, like a mini-batch
                    for _ in 0..10_000 {
                        if stop_ref.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }),
            ];
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                exec.run_jobs(jobs, &stop, &mut || false)
            }));
            let _ = tx.send((r.is_err(), stop.load(Ordering::Relaxed), t0.elapsed()));
        });
        let (panicked, stopped, took) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("run_jobs hung after a job panicked");
        assert!(panicked, "the job's panic must reach the caller");
        assert!(stopped, "the panic must stop the other jobs");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }
}
