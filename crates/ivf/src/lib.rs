//! # codevec-ivf — the IVF compute core of codevec
//!
//! Pure Rust (no pgrx / `pg_sys`): everything an IVF index needs except the
//! Postgres page format. The in-memory [`IvfIndex`] is the executable
//! specification of the page-based index and what the benchmarks measure.
//!
//! ## Pipeline
//!
//! 1. **Training** ([`mod@kmeans`]): seeded sample → k-means++ (subsample) →
//!    bounded Lloyd iterations, spherical for cosine / inner product,
//!    parallel and deterministic, cancellable through a hook that only ever
//!    runs on the calling thread. [`kmeans_memory_bytes`] estimates memory.
//! 2. **Assignment** ([`assign()`], [`nearest_lists`]): nearest centroid per
//!    vector, lists nearest to a query (batch kernels in [`matvec`]).
//! 3. **Codes** ([`quant`]): per vector a RaBitQ-style 1-bit code of the
//!    rotated residual `R(x − c)` (48 B at 384 d) with 4 `f32` factors; per
//!    query one 4-bit quantised rotated query; a fused AVX-512 popcount
//!    kernel estimates distances for blocks of 8 codes and filters them
//!    against a running threshold ([`quant::scan::scan_filter`]).
//! 4. **Rerank** ([`bound`]): each candidate's `f16` copy gives a distance
//!    that is a **rigorous lower bound** of the exact `f32` distance (also of
//!    any `f32`-accumulating recomputation of it), typically within
//!    3–5·10⁻⁴ of it on unit vectors.
//! 5. **Index** ([`index`]): build / insert / top-k search / batched
//!    iterator beyond `nprobe` for filtered queries and cursors.
//!
//! ## Metrics ([`Metric`])
//!
//! `L2` = Euclidean distance (with the square root), `Cosine` = `1 − cos`
//! clamped to `[0, 2]`, `InnerProduct` = `−a·b`. **A zero vector has cosine
//! distance exactly 1.0 to everything** (similarity 0; never NaN). For
//! cosine, vectors are normalised internally ("index space"); the reported
//! bounds refer to the original vectors. Inputs must be finite
//! (builds reject NaN/∞ with an error).
//!
//! ## Defaults ([`defaults`]) and why
//!
//! Measured on the shared real set (50 000 × 384 L2-normalised MiniLM code
//! embeddings, 500 queries, cosine), single thread, this 2-core machine
//! shared with other builds (so times are CPU-time based; wall times
//! were up to 2× higher):
//!
//! * **lists = `round(√rows)`** (224 here). IVF cost per query is ranking
//!   the centroids (`lists·dim`) plus scanning `nprobe·rows/lists` codes;
//!   `√rows` balances them and keeps k-means (`∝ lists²·dim` with a sample of
//!   `64·lists`) cheap: build ≈ 2 s on 2 threads. `2√rows` (447) reached
//!   the same recall-vs-time curve at twice the build time; pgvector's
//!   `rows/1000` (50) must scan ~30–40 % of the table for 0.95.
//! * **nprobe = ⌈lists/3⌉** up to 256 lists, `⌈√(256·lists)/3⌉` above (75
//!   here). This data is hard for IVF (pgvector ivfflat needs 32 of 100
//!   lists for 0.95): the partition alone caps recall@10 at ≈ 0.92 / 0.96 /
//!   0.98 when probing 14 / 29 / 43 % of 224 lists. A third leaves margin
//!   above 0.95; above 256 lists the probed fraction shrinks with `√lists`
//!   (a hedge: larger tables usually cluster better; calibrate per data).
//! * **rerank = max(150, 10·k)**: the 1-bit estimate ranks well enough that
//!   reranking 150 candidates loses < 0.005 recall against exact reranking
//!   of everything probed (100 loses ≈ 0.008, 300 gains ≈ 0.002); each
//!   rerank reads one 768-byte `f16` vector.
//!
//! At these defaults: recall@10 ≈ 0.964, ≈ 120–170 µs of CPU per query
//! (≈ 6–8k queries per CPU-second), ~100× an exact SIMD scan measured in the
//! same run; see `examples/sweep.rs` for the table.
//!
//! ## Recommended on-page layout (bytes per vector, `dim = 384`)
//!
//! * **Code pages** (one chain per list), in units of 8 vectors: code block
//!   `8 × ⌈dim/64⌉ × 8 B` = 384 B ([`quant::scan`] layout, word `w` of all
//!   8 lanes adjacent), factor block 32 `f32` = 128 B (`add`, `scale`,
//!   `pop`, `err` × 8), 8 heap TIDs (6 B each, 48 B) and 8 locators of the
//!   `f16` entries (block u32 + offset u16, 48 B): **608 B per 8 vectors =
//!   76 B per vector**, 13 units (104 vectors) per 8 KB page. Store them
//!   structure-of-arrays *inside* the page (all code blocks, then all factor
//!   blocks, then TIDs, then locators) so one
//!   [`model::QueryState::scan_run`] call scans a whole page; keep the code
//!   area 8-byte aligned (the kernels use unaligned loads, alignment only
//!   helps speed). Only the last unit of a list may be partial (zero lanes).
//! * **Rerank pages**: per vector the `f16` copy (`2·dim` = 768 B) + the 8 B
//!   [`F16Factors`] (+ TID for cross-checks) ≈ **782 B**, 10 per page.
//!   Kept separate so list scans stay dense; only `rerank` of them are read
//!   per query (prefetch them, as [`IvfIndex`] does).
//! * **Meta / centroid pages**: metric, dim, seed (rebuilds the rotation),
//!   centre `μ` (`dim` `f32`), per list its `f32` centroid (1.5 KB), head
//!   and tail code page, count. [`IvfModel::new`] rebuilds everything
//!   derived (rotation, transposed centroids, `R(c − μ)`).
//!
//! Total ≈ 860 B per vector (≈ 41 MiB for the 50k set; pgvector ivfflat 79 MiB).
//!
//! ## What the page-based (pgrx) layer must know
//!
//! * **Lower bounds:** report [`BoundQuery::lower_bound`] (as `float8`) with
//!   `xs_recheckorderby = true`. It is `≤` the exact distance of
//!   [`Metric::distance_f64`] *and* of any recheck that accumulates in `f32`
//!   or better (allowance `(dim + 8)·2⁻²³` relative, see [`bound`]), so
//!   Postgres never raises "index returned tuples in wrong order". The
//!   recheck function must implement the same semantics (zero vector ⇒
//!   cosine 1.0; clamp to `[0, 2]`). Values are never NaN for finite input.
//! * **Order of the scan** ([`ordered::OrderedScan`], which [`IvfIter`] and the pgrx
//!   layer's `amgettuple` both run): candidates reranked in the order of their estimator
//!   lower bounds, a row returned only when no waiting candidate could plausibly be closer,
//!   more lists probed as more rows are taken; [`ordered::OrderMode`] says whether a row
//!   found late is left out (strict: always sorted) or returned (relaxed). Bound the lists
//!   with `max_lists` (`codevec.max_probes`) for filtered queries on huge tables.
//! * **Estimates are only for ranking:** the RaBitQ error bound is
//!   probabilistic (≈ 95 % within `EPS0·σ`); nothing reported comes from it.
//! * **Threads:** [`kmeans()`] / [`IvfIndex::build`] run rayon workers but call
//!   the progress / cancellation hook only on the calling (backend) thread;
//!   pass `threads: Some(n)` to use a private pool sized by
//!   `max_parallel_maintenance_workers`; compare [`kmeans_memory_bytes`] with
//!   `maintenance_work_mem` before training. Results are bit-identical for a
//!   given seed regardless of the thread count.
//! * **SIMD:** kernels dispatch at run time (AVX-512 / AVX2 / scalar, see
//!   [`simd`]); `CODEVEC_SIMD=scalar` forces the fallback. Estimates are
//!   bit-identical on all levels; all levels keep the bounds rigorous.
//! * **Inserts** ([`IvfIndex::insert`], [`IvfModel::encode`]): nearest list,
//!   encode, append; lists are append-only and codes independent, so
//!   `aminsert` needs no re-training (quality degrades only if the data
//!   distribution drifts far from the training sample: `REINDEX`).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod assign;
pub mod bound;
pub mod dataset;
pub mod defaults;
pub mod f16dot;
pub mod index;
pub mod kmeans;
pub mod matvec;
pub mod metric;
pub mod model;
pub mod npy;
pub mod ordered;
pub mod pages;
mod pool;
pub mod quant;
pub mod rng;
pub mod simd;
pub mod topk;

pub use assign::{assign, nearest_lists};
pub use bound::{encode_f16, lower_bound, BoundQuery, F16Factors};
pub use half;
pub use index::{
    BuildConfig, BuildError, BuildProgress, IvfIndex, IvfIter, SearchParams, SearchScratch,
};
pub use kmeans::{kmeans, kmeans_memory_bytes, KMeansConfig, KMeansError, KMeansResult, Progress};
pub use metric::Metric;
pub use model::{EncodedVector, IvfModel, QueryState};
