//! codevec-encoder: an in-process all-MiniLM-L6-v2 sentence encoder in pure Rust.
//!
//! * WordPiece tokenisation identical to the reference (sentence-transformers): lower-casing
//!   BERT tokenizer from the model's `tokenizer.json`, truncation at 256 word pieces
//!   (`[CLS]` and `[SEP]` included), no padding.
//! * A 6-layer BERT forward pass over packed, length-sorted mini-batches (see [`bert`]),
//!   mean pooling over the tokens and L2 normalisation: 384-dimensional unit vectors.
//! * Threads: with `threads == 1` everything runs on the calling thread and no thread is ever
//!   created; with more, a private pool with all signals blocked (see [`pool`]).
//!
//! The model is read only from the directory handed to [`Encoder::load`] (files
//! `config.json`, `tokenizer.json`, `model.safetensors`); nothing is downloaded.
//!
//! With [`EncoderOptions::cache_dir`] set, the packed weights are shared between processes:
//! written once into a cache file there and memory-mapped read-only by every encoder that
//! loads the same model with the same kernel layout (see [`EncoderInfo::weights_source`]).

#![deny(unsafe_op_in_unsafe_fn)]

mod bert;
mod cache;
mod dense;
mod error;
mod int8;
mod kernels;
mod ops;
mod pool;
mod storage;
mod tensor_file;
mod tokenize;
mod weights;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use error::EncoderError;
pub use kernels::{Int8Kernel, Kernels, SimdLevel};
pub use tokenize::{MAX_INPUT_BYTES, MAX_TOKENS};

use bert::{Bert, Packed, Workspace};
use pool::Exec;
use tokenize::WordPiece;

/// Output dimensionality.
pub const DIMS: usize = weights::HIDDEN;
/// Name of the model this crate implements.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";
/// Files [`Encoder::load`] needs in the model directory.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Numeric precision of the forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    /// IEEE single precision throughout (matches the reference to cosine > 0.99999).
    #[default]
    F32,
    /// Dense layers as 8-bit integer products, everything else in f32: cosine ≥ 0.995 to the
    /// reference. Runs on every CPU (see [`Int8Kernel`]); about twice as fast as f32 with
    /// AVX512-VNNI or AVX-VNNI.
    Int8,
}

impl std::str::FromStr for Precision {
    type Err = EncoderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" | "full" => Ok(Precision::F32),
            "int8" | "i8" => Ok(Precision::Int8),
            _ => Err(EncoderError::InvalidOptions(format!(
                "unknown precision \"{s}\" (expected f32 or int8)"
            ))),
        }
    }
}

impl Precision {
    /// Whether this CPU can run the precision: always (kept for callers that ask).
    pub fn supported(self) -> bool {
        match self {
            Precision::F32 => true,
            Precision::Int8 => int8::supported(),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Precision::F32 => f.write_str("f32"),
            Precision::Int8 => f.write_str("int8"),
        }
    }
}

/// Options for [`Encoder::load`].
#[derive(Clone, Debug)]
pub struct EncoderOptions {
    /// Worker threads. 1 = everything on the calling thread, no thread is created. More
    /// than 1 = a private pool of exactly that many workers (signals blocked).
    pub threads: usize,
    /// Numeric precision.
    pub precision: Precision,
    /// Maximum number of texts per internal mini-batch (also bounds memory: a mini-batch
    /// holds at most `max_batch * 128` tokens, or one full 256-token text).
    pub max_batch: usize,
    /// Directory of the packed-weights cache (created if missing). `None`: the weights are
    /// packed into this process's own memory (no file is read or written but the model's).
    /// `Some`: they are mapped read-only from a cache file there, written first if it is
    /// missing, stale or corrupt, so that all processes loading the same model share one
    /// copy through the page cache. If the cache cannot be used (directory not writable,
    /// I/O error …) the load falls back to private weights; [`EncoderInfo`] says so.
    pub cache_dir: Option<PathBuf>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            threads: 1,
            precision: Precision::F32,
            max_batch: 32,
            cache_dir: None,
        }
    }
}

/// Where an encoder's packed weights live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsSource {
    /// Packed at load time into this process's own memory: no cache directory was given, or
    /// the cache could not be used ([`EncoderInfo::weights_note`] says why).
    Private,
    /// Mapped from a valid cache file that was already there (written by another process,
    /// or an earlier load).
    Mapped,
    /// This load wrote the cache file (it was missing, stale or corrupt) and then mapped it.
    Written,
}

impl WeightsSource {
    /// `"private"`, `"mapped"` or `"written"`.
    pub fn name(self) -> &'static str {
        match self {
            WeightsSource::Private => "private",
            WeightsSource::Mapped => "mapped",
            WeightsSource::Written => "written",
        }
    }
}

impl std::fmt::Display for WeightsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Description of a loaded encoder, for `codevec.encoder_info()`-style reporting.
#[derive(Clone, Debug)]
pub struct EncoderInfo {
    pub model: &'static str,
    pub model_dir: PathBuf,
    pub dims: usize,
    pub max_tokens: usize,
    pub precision: Precision,
    pub threads: usize,
    pub max_batch: usize,
    /// SIMD level of the f32 and element-wise kernels ("avx512", "avx2", "scalar"; see
    /// `codevec_simd`, capped by `CODEVEC_SIMD`).
    pub simd: &'static str,
    /// Matrix-multiplication kernel used for the dense layers at this precision.
    pub gemm_kernel: &'static str,
    /// The kernels in use (level and int8 kernel).
    pub kernels: Kernels,
    pub load_time: Duration,
    /// Where the packed weights live: private memory, or a cache file mapped (or written
    /// and mapped) by this load.
    pub weights_source: WeightsSource,
    /// Whether the weights' pages are shared with other processes (a shared file mapping:
    /// `Mapped` or `Written` on unix; on other targets a cache file is read into private
    /// memory).
    pub weights_shared: bool,
    /// The cache file the weights come from (`None` when private).
    pub weights_file: Option<PathBuf>,
    /// Why the cache file was (re)written, why the cache was not used, or that another
    /// process wrote it first; `None` when a valid cache file was mapped, or no cache was
    /// asked for.
    pub weights_note: Option<String>,
    /// The cache file's layout id (precision, panel/strip layout, packing version, byte
    /// order), also when the weights are private.
    pub weights_layout: String,
}

/// A loaded all-MiniLM-L6-v2 encoder. `Send + Sync`; methods take `&self`.
pub struct Encoder {
    tokenizer: WordPiece,
    bert: Bert,
    exec: Exec,
    opts: EncoderOptions,
    model_dir: PathBuf,
    load_time: Duration,
    weights_source: WeightsSource,
    weights_shared: bool,
    weights_file: Option<PathBuf>,
    weights_note: Option<String>,
}

/// The packed weights: built privately, or through the packed-weights cache in
/// `opts.cache_dir` (mapped from its file, written first if missing or stale).
fn load_packed(
    opts: &EncoderOptions,
    kernels: Kernels,
    model_dir: &Path,
    config_path: &Path,
    weights_path: &Path,
    config: weights::Config,
) -> Result<cache::Loaded, EncoderError> {
    Ok(match &opts.cache_dir {
        None => cache::Loaded {
            weights: weights::load_weights(weights_path, config, opts.precision, kernels)?,
            source: WeightsSource::Private,
            shared: false,
            file: None,
            note: None,
        },
        Some(dir) => cache::load(
            dir,
            model_dir,
            config_path,
            weights_path,
            config,
            opts.precision,
            kernels,
        )?,
    })
}

impl Encoder {
    /// Loads the model from `model_dir`, for the kernels of [`Kernels::detect`] (the CPU's
    /// SIMD level capped by `CODEVEC_SIMD`). Errors name the missing or corrupt file.
    pub fn load(model_dir: &Path, opts: EncoderOptions) -> Result<Encoder, EncoderError> {
        Encoder::load_with_kernels(model_dir, opts, Kernels::detect())
    }

    /// Like [`Encoder::load`], with explicit kernels (e.g. `Kernels::for_level(SimdLevel::Avx2)`
    /// to run what an AVX2-only CPU runs; tests compare levels in one process this way).
    pub fn load_with_kernels(
        model_dir: &Path,
        opts: EncoderOptions,
        kernels: Kernels,
    ) -> Result<Encoder, EncoderError> {
        let start = Instant::now();
        if opts.max_batch == 0 {
            return Err(EncoderError::InvalidOptions(
                "max_batch must be at least 1".into(),
            ));
        }
        if opts.threads == 0 {
            return Err(EncoderError::InvalidOptions(
                "threads must be at least 1".into(),
            ));
        }
        if !model_dir.is_dir() {
            return Err(EncoderError::ModelDirMissing {
                dir: model_dir.to_owned(),
            });
        }
        // Check all files first so the error names the first missing one without doing work.
        let config_path = weights::require_file(model_dir, "config.json")?;
        let tokenizer_path = weights::require_file(model_dir, "tokenizer.json")?;
        let weights_path = weights::require_file(model_dir, "model.safetensors")?;

        let config = weights::load_config(&config_path)?;
        // The tokenizer (a JSON vocabulary, ~7 ms) is built on a helper thread (signals
        // blocked, like the pool's workers) while this thread maps or packs the weights, so
        // a new connection's first embed waits for the longer of the two, not their sum. A
        // tokenizer error is reported before a weights error, as when they were loaded in
        // turn.
        let (tokenizer, loaded) = std::thread::scope(|scope| {
            let helper = codevec_threads::spawn_scoped_with_signals_blocked(
                scope,
                "codevec-tokenizer",
                || WordPiece::load(&tokenizer_path),
            );
            let loaded = load_packed(
                &opts,
                kernels,
                model_dir,
                &config_path,
                &weights_path,
                config,
            );
            let tokenizer = match helper {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(EncoderError::Tokenizer(
                        "the tokenizer's loading thread panicked".into(),
                    ))
                }),
                // no thread to be had: build it here
                Err(_) => WordPiece::load(&tokenizer_path),
            };
            (tokenizer, loaded)
        });
        let tokenizer = tokenizer?;
        let loaded = loaded?;
        let w = loaded.weights;
        let exec = Exec::new(opts.threads, kernels)?;
        Ok(Encoder {
            tokenizer,
            bert: Bert {
                w,
                level: kernels.level(),
            },
            exec,
            opts,
            model_dir: model_dir.to_owned(),
            load_time: start.elapsed(),
            weights_source: loaded.source,
            weights_shared: loaded.shared,
            weights_file: loaded.file,
            weights_note: loaded.note,
        })
    }

    /// Embeds one text: a 384-dimensional, L2-normalised vector.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EncoderError> {
        let never = AtomicBool::new(false);
        let mut out = self.embed_batch(&[text], &never)?;
        Ok(out.pop().expect("one output per input"))
    }

    /// Embeds many texts; the output is in input order. Inputs are sorted by length
    /// internally and processed in packed mini-batches. `cancel` is checked before each
    /// mini-batch and between layers; when it is set the call returns
    /// `Err(EncoderError::Cancelled)`.
    pub fn embed_batch(
        &self,
        texts: &[&str],
        cancel: &AtomicBool,
    ) -> Result<Vec<Vec<f32>>, EncoderError> {
        self.embed_batch_interruptible(texts, &mut || cancel.load(Ordering::Relaxed))
    }

    /// Like [`Encoder::embed_batch`], but asks `should_stop` at every checkpoint instead of
    /// reading a flag. `should_stop` is always called **on the calling thread** (also when
    /// `threads > 1`), so it may read thread-affine state such as Postgres'
    /// `QueryCancelPending`/`ProcDiePending`. It must not unwind or `longjmp`: return `true`
    /// and raise the error after this function has returned `Err(Cancelled)`.
    pub fn embed_batch_interruptible(
        &self,
        texts: &[&str],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<Vec<f32>>, EncoderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<Vec<u32>> = Vec::with_capacity(texts.len());
        for text in texts {
            // asked before every text and every prefix step of a long one
            ids.push(self.tokenizer.ids_interruptible(text, should_stop)?);
        }
        // Longest first, like sentence-transformers; stable so equal lengths keep input order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by(|&a, &b| ids[b].len().cmp(&ids[a].len()));

        let threads = self.exec.threads();
        let batches = plan_batches(&order, &ids, self.opts.max_batch, threads);
        let max_tokens = batches
            .iter()
            .map(|b| b.iter().map(|&i| ids[i].len()).sum::<usize>())
            .max()
            .unwrap_or(0);
        let max_len = ids[order[0]].len();
        let results = if threads > 1 && batches.len() > 1 {
            // Whole mini-batches side by side, each on one worker (no synchronisation inside
            // a layer), handed out one at a time, largest first: a worker that is slowed
            // down (a busy core) takes fewer of them instead of holding the others up.
            let mut wss: Vec<Workspace> = (0..threads.min(batches.len()))
                .map(|_| Workspace::new(max_tokens, max_len, 1))
                .collect();
            self.run_batches_side_by_side(&batches, &ids, &mut wss, should_stop)?
        } else {
            // One mini-batch at a time, each kernel spread over the workers (a lone
            // mini-batch, e.g. one query, or a single-threaded encoder).
            let mut ws = Workspace::new(max_tokens, max_len, threads);
            let mut results = Vec::with_capacity(batches.len());
            for batch in &batches {
                if should_stop() {
                    return Err(EncoderError::Cancelled);
                }
                results.push(self.run_batch_split(&pack(batch, &ids), &mut ws, should_stop)?);
            }
            results
        };
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for (vecs, batch) in results.into_iter().zip(&batches) {
            for (vec, &i) in vecs.into_iter().zip(batch) {
                out[i] = vec;
            }
        }
        Ok(out)
    }

    /// One mini-batch, every kernel spread over all workers; checks between layers.
    fn run_batch_split(
        &self,
        packed: &Packed,
        ws: &mut Workspace,
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<Vec<f32>>, EncoderError> {
        let bert = &self.bert;
        self.exec.run(|par| bert.embed(packed, ws, par));
        for l in 0..weights::LAYERS {
            if should_stop() {
                return Err(EncoderError::Cancelled);
            }
            self.exec.run(|par| bert.layer(l, packed, ws, par));
        }
        Ok(bert.pool(packed, ws))
    }

    /// Several mini-batches on the workers, one per worker at a time: every worker takes the
    /// next mini-batch from a shared counter and runs it single-threaded from embedding to
    /// pooling in its own workspace. The calling thread polls `should_stop` meanwhile; once it
    /// has said so, the workers stop between layers and take no further mini-batch.
    fn run_batches_side_by_side(
        &self,
        batches: &[Vec<usize>],
        ids: &[Vec<u32>],
        wss: &mut [Workspace],
        should_stop: &mut dyn FnMut() -> bool,
    ) -> Result<Vec<Vec<Vec<f32>>>, EncoderError> {
        let stop = AtomicBool::new(false);
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Vec<Vec<f32>>>> =
            batches.iter().map(|_| Mutex::new(Vec::new())).collect();
        let bert = &self.bert;
        let jobs: Vec<pool::Job<'_>> = wss
            .iter_mut()
            .map(|ws| {
                let (stop, next, results) = (&stop, &next, &results);
                Box::new(move |par: &pool::Par| loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches.len() || stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let p = pack(&batches[b], ids);
                    bert.embed(&p, ws, par);
                    for l in 0..weights::LAYERS {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        bert.layer(l, &p, ws, par);
                    }
                    *results[b].lock().unwrap_or_else(|e| e.into_inner()) = bert.pool(&p, ws);
                }) as pool::Job<'_>
            })
            .collect();
        self.exec.run_jobs(jobs, &stop, should_stop);
        if stop.load(Ordering::Relaxed) {
            return Err(EncoderError::Cancelled);
        }
        Ok(results
            .into_iter()
            .map(|r| r.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect())
    }

    /// Number of tokens the model sees for `text`: after truncation to 256, including
    /// `[CLS]` and `[SEP]` (so the empty string has 2).
    pub fn token_count(&self, text: &str) -> usize {
        // content_ids only fails on tokenizer-internal errors; count those as the bare
        // [CLS] [SEP] pair rather than panicking inside a database function.
        self.tokenizer
            .content_ids(text)
            .map(|c| c.len())
            .unwrap_or(0)
            + 2
    }

    /// The token ids the model sees for `text` (`[CLS] … [SEP]`, at most 256).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        self.tokenizer.ids(text)
    }

    /// What was loaded and how it runs.
    pub fn info(&self) -> EncoderInfo {
        EncoderInfo {
            model: MODEL_NAME,
            model_dir: self.model_dir.clone(),
            dims: DIMS,
            max_tokens: MAX_TOKENS,
            precision: self.opts.precision,
            threads: self.exec.threads(),
            max_batch: self.opts.max_batch,
            simd: self.exec.kernels().level().name(),
            gemm_kernel: match self.opts.precision {
                Precision::F32 => dense::kernel_name(self.exec.kernels().level()),
                Precision::Int8 => int8::kernel_name(self.exec.kernels().int8()),
            },
            kernels: self.exec.kernels(),
            load_time: self.load_time,
            weights_source: self.weights_source,
            weights_shared: self.weights_shared,
            weights_file: self.weights_file.clone(),
            weights_note: self.weights_note.clone(),
            weights_layout: cache::layout_id(self.opts.precision, self.exec.kernels()),
        }
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Encoder>();
}

/// The texts `batch` (indices into `ids`) laid end to end.
fn pack(batch: &[usize], ids: &[Vec<u32>]) -> Packed {
    Packed::new(&batch.iter().map(|&i| ids[i].as_slice()).collect::<Vec<_>>())
}

/// Groups the length-sorted `order` into mini-batches of at most `max_batch` texts and at most
/// `max(max_batch * 128, 256)` tokens. With several workers the token budget shrinks (not below
/// 256) so that there are about four mini-batches per worker: they run side by side, one worker
/// each, and the two unequal parts of a 32-text call (4,096 tokens and a short rest) would
/// leave one worker idle most of the time.
fn plan_batches(
    order: &[usize],
    ids: &[Vec<u32>],
    max_batch: usize,
    workers: usize,
) -> Vec<Vec<usize>> {
    let mut token_budget = (max_batch * 128).max(MAX_TOKENS);
    if workers > 1 {
        let total: usize = order.iter().map(|&i| ids[i].len()).sum();
        token_budget = token_budget
            .min(total.div_ceil(4 * workers))
            .max(MAX_TOKENS);
    }
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_tokens = 0;
    for &i in order {
        let n = ids[i].len();
        if !cur.is_empty() && (cur.len() == max_batch || cur_tokens + n > token_budget) {
            batches.push(std::mem::take(&mut cur));
            cur_tokens = 0;
        }
        cur.push(i);
        cur_tokens += n;
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ids: &[Vec<u32>], b: &[usize]) -> usize {
        b.iter().map(|&i| ids[i].len()).sum()
    }

    #[test]
    fn batches_keep_every_text_once_in_order_and_respect_the_budgets() {
        // 32 texts of 60..250 tokens, longest first
        let mut ids: Vec<Vec<u32>> = (0..32).map(|i| vec![7; 60 + (i * 37) % 191]).collect();
        ids.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let order: Vec<usize> = (0..ids.len()).collect();
        let total: usize = ids.iter().map(Vec::len).sum();
        for (max_batch, workers) in [(32, 1), (32, 2), (8, 1), (8, 2), (32, 4), (1, 2)] {
            let batches = plan_batches(&order, &ids, max_batch, workers);
            let flat: Vec<usize> = batches.concat();
            assert_eq!(flat, order, "max_batch {max_batch}, {workers} workers");
            let budget = if workers == 1 {
                (max_batch * 128).max(MAX_TOKENS)
            } else {
                (max_batch * 128)
                    .min(total.div_ceil(4 * workers))
                    .max(MAX_TOKENS)
            };
            for b in &batches {
                assert!(!b.is_empty() && b.len() <= max_batch);
                assert!(
                    b.len() == 1 || tokens(&ids, b) <= budget,
                    "{b:?} over {budget}"
                );
            }
        }
        // one worker: the 4,096-token budget of 32-text batches (two batches here)
        assert_eq!(
            plan_batches(&order, &ids, 32, 1).len(),
            total.div_ceil(4096)
        );
        // two workers: at least four mini-batches each, of similar size
        let two = plan_batches(&order, &ids, 32, 2);
        assert!(two.len() >= 8, "{} batches", two.len());
        let sizes: Vec<usize> = two.iter().map(|b| tokens(&ids, b)).collect();
        let biggest = *sizes.iter().max().unwrap();
        assert!(biggest <= total.div_ceil(8).max(MAX_TOKENS), "{sizes:?}");
        // a single text is one batch whatever the workers
        assert_eq!(plan_batches(&[0], &ids, 32, 2), vec![vec![0]]);
    }
}
