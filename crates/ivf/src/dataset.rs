//! The shared ANN benchmark data (`shared/data/ann/`), used by tests,
//! benchmarks and the `sweep` example.
//!
//! Location: `$CODEVEC_SHARED_DATA` if set, else
//! `<CARGO_MANIFEST_DIR>/../../../shared/data` (the repository's sibling
//! `shared/` folder; `CARGO_MANIFEST_DIR` is taken at compile time).
//! Loading fails with an error (it never silently skips) if files are missing.

use crate::npy::{self, Npy};
use std::path::PathBuf;

/// The shared data directory (see module docs). Does not check existence.
pub fn shared_data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CODEVEC_SHARED_DATA") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Documents, queries and exact ground truth.
#[derive(Clone, Debug)]
pub struct AnnData {
    /// `n × dim` L2-normalised document embeddings.
    pub docs: Npy<f32>,
    /// `nq × dim` query embeddings.
    pub queries: Npy<f32>,
    /// `nq × 100` exact cosine top-100 document ids.
    pub gt: Npy<i32>,
}

impl AnnData {
    /// Loads `ann/{docs,queries}.f32.npy` and `ann/gt.i32.npy`.
    pub fn load() -> std::io::Result<AnnData> {
        let dir = shared_data_dir().join("ann");
        let docs = npy::read::<f32>(&dir.join("docs.f32.npy"))?;
        let queries = npy::read::<f32>(&dir.join("queries.f32.npy"))?;
        let gt = npy::read::<i32>(&dir.join("gt.i32.npy"))?;
        if docs.cols() != queries.cols() || gt.rows() != queries.rows() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "inconsistent ann data shapes",
            ));
        }
        Ok(AnnData { docs, queries, gt })
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.docs.cols()
    }

    /// recall@k of `results[q]` (ids) against the first `k` ground-truth ids.
    pub fn recall_at(&self, k: usize, results: &[Vec<u64>]) -> f64 {
        let mut hit = 0usize;
        for (qi, res) in results.iter().enumerate() {
            let gt = &self.gt.row(qi)[..k];
            hit += res
                .iter()
                .take(k)
                .filter(|&&id| gt.contains(&(id as i32)))
                .count();
        }
        hit as f64 / (k * results.len()) as f64
    }
}
