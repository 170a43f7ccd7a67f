//! A contrastive query adapter for codevec (issue 12 §3), without Postgres.
//!
//! The adapter is a linear map on the query side only, `q' = normalize(W q̂ + b)` over the
//! frozen (unit) embeddings of the in-database encoder; documents stay as they are, so a
//! table is never re-embedded and dropping the adapter is instant. It starts as the
//! identity and is trained with symmetric InfoNCE over in-batch negatives and a learnable
//! temperature, regularised toward the identity ([`loss`] has the gradients), by minibatch
//! Adam; a held-out 20 % of the pairs decides whether it is activated ([`GateReport`]).
//!
//! | module | what it holds |
//! |---|---|
//! | `adapter` | [`Adapter`]: identity, [`Adapter::apply`] |
//! | [`format`] | [`Adapter::to_bytes`] / [`Adapter::from_bytes`], the checksummed blob |
//! | `train` | [`train`], [`TrainOptions`], [`Progress`], [`Trained`], [`evaluate`] |
//! | `gate` | [`GateReport`], [`RankMetrics`] |
//! | [`loss`] | the loss and its hand-written gradients |
//! | `adam`, `linalg`, `rng` | Adam, the row-parallel products, a seeded generator |

mod adam;
mod adapter;
mod error;
pub mod format;
mod gate;
mod linalg;
pub mod loss;
mod rng;
mod train;

#[cfg(test)]
mod tests;

pub use adapter::Adapter;
pub use error::AdapterError;
pub use gate::{GateReport, RankMetrics};
pub use train::{evaluate, train, Progress, TrainOptions, Trained, TrainingSet};

/// Largest embedding dimensions an adapter may have (a 4096² matrix is 64 MiB).
pub const MAX_DIMS: usize = 4096;
/// Largest minibatch (its similarity matrix is `batch²` numbers).
pub const MAX_BATCH: usize = 4096;
/// Fewest pairs, and fewest distinct documents among them, [`train`] accepts.
pub const MIN_PAIRS: usize = 10;
/// The gate calls an adapter collapsed when the held-out queries' spread
/// (`1 − mean pairwise cosine`) falls below this share of the spread without it.
pub const COLLAPSE_SPREAD: f64 = 0.5;
