//! The adapter itself: `q' = normalize(W q̂ + b)` on the query side only, where `q̂` is the
//! query embedding scaled to unit length. Documents are never transformed, so a table's
//! stored embeddings stay valid whether an adapter is active or not.

use crate::linalg::{dot, norm, Exec};
use crate::{AdapterError, MAX_DIMS};

/// A query-side linear map over `dims`-dimensional embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct Adapter {
    dims: usize,
    /// `dims × dims`, row-major: output element `k` is `W[k] · q̂ + b[k]`.
    w: Vec<f32>,
    b: Vec<f32>,
}

pub(crate) fn check_dims(dims: usize) -> Result<(), AdapterError> {
    if dims == 0 || dims > MAX_DIMS {
        return Err(AdapterError::BadDimensions(dims));
    }
    Ok(())
}

impl Adapter {
    /// The identity map (`W = I`, `b = 0`): ranks exactly like no adapter.
    pub fn identity(dims: usize) -> Result<Adapter, AdapterError> {
        check_dims(dims)?;
        let mut w = vec![0.0; dims * dims];
        for k in 0..dims {
            w[k * dims + k] = 1.0;
        }
        Ok(Adapter {
            dims,
            w,
            b: vec![0.0; dims],
        })
    }

    /// An adapter from its matrix (`dims × dims`, row-major) and bias; every element finite.
    pub fn from_parts(dims: usize, w: Vec<f32>, b: Vec<f32>) -> Result<Adapter, AdapterError> {
        check_dims(dims)?;
        if w.len() != dims * dims {
            return Err(AdapterError::DimensionMismatch {
                what: "adapter matrix",
                expected: dims * dims,
                got: w.len(),
            });
        }
        if b.len() != dims {
            return Err(AdapterError::DimensionMismatch {
                what: "adapter bias",
                expected: dims,
                got: b.len(),
            });
        }
        if let Some(row) = w
            .chunks_exact(dims)
            .position(|r| r.iter().any(|x| !x.is_finite()))
        {
            return Err(AdapterError::NonFinite {
                what: "adapter matrix",
                row,
            });
        }
        if b.iter().any(|x| !x.is_finite()) {
            return Err(AdapterError::NonFinite {
                what: "adapter bias",
                row: 0,
            });
        }
        Ok(Adapter { dims, w, b })
    }

    /// Embedding dimensions it maps.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// `W`, `dims × dims`, row-major.
    pub fn matrix(&self) -> &[f32] {
        &self.w
    }

    /// `b`.
    pub fn bias(&self) -> &[f32] {
        &self.b
    }

    pub(crate) fn parts_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.w, &mut self.b)
    }

    /// `sqrt(‖W − I‖²_F + ‖b‖²)`: how far it moved from the identity.
    pub fn distance_from_identity(&self) -> f64 {
        let d = self.dims;
        let mut s = 0.0f64;
        for (i, &x) in self.w.iter().enumerate() {
            let t = x as f64 - if i / d == i % d { 1.0 } else { 0.0 };
            s += t * t;
        }
        s += self.b.iter().map(|&x| x as f64 * x as f64).sum::<f64>();
        s.sqrt()
    }

    /// The adapted query: `normalize(W q̂ + b)`, unit length. Errors on a wrong length, a
    /// non-finite element, a zero query, or (only for a pathological `W`) a zero result.
    pub fn apply(&self, query: &[f32]) -> Result<Vec<f32>, AdapterError> {
        let mut out = vec![0.0; self.dims];
        self.apply_into(query, &mut out)?;
        Ok(out)
    }

    /// [`Adapter::apply`] into a caller's buffer of `dims` elements.
    pub fn apply_into(&self, query: &[f32], out: &mut [f32]) -> Result<(), AdapterError> {
        let unit = unit_query(query, self.dims, "query", 0)?;
        if out.len() != self.dims {
            return Err(AdapterError::DimensionMismatch {
                what: "output buffer",
                expected: self.dims,
                got: out.len(),
            });
        }
        let n = self.forward_row(&unit, out);
        if n == 0.0 || !n.is_finite() {
            return Err(AdapterError::ZeroVector {
                what: "adapted query",
                row: 0,
            });
        }
        Ok(())
    }

    /// `out = W q + b`, then scaled to unit length unless zero; returns `‖W q + b‖`.
    pub(crate) fn forward_row(&self, q: &[f32], out: &mut [f32]) -> f64 {
        let d = self.dims;
        for (k, o) in out.iter_mut().enumerate() {
            *o = dot(&self.w[k * d..(k + 1) * d], q) + self.b[k];
        }
        normalize_in_place(out)
    }

    /// Adapted, unit-length rows of `queries` (each already unit length) into `out`.
    pub(crate) fn forward_rows(&self, exec: &Exec, queries: &[f32], out: &mut [f32]) {
        let d = self.dims;
        exec.rows(out, d, |i, row| {
            self.forward_row(&queries[i * d..(i + 1) * d], row);
        });
    }
}

/// Scales `row` to unit length (unless it is zero); returns its norm before.
pub(crate) fn normalize_in_place(row: &mut [f32]) -> f64 {
    let n = norm(row);
    if n > 0.0 {
        let inv = 1.0 / n;
        row.iter_mut().for_each(|x| *x = (*x as f64 * inv) as f32);
    }
    n
}

/// `query` scaled to unit length in `f64`, after checking its length and elements.
pub(crate) fn unit_query(
    query: &[f32],
    dims: usize,
    what: &'static str,
    row: usize,
) -> Result<Vec<f32>, AdapterError> {
    if query.len() != dims {
        return Err(AdapterError::DimensionMismatch {
            what,
            expected: dims,
            got: query.len(),
        });
    }
    if query.iter().any(|x| !x.is_finite()) {
        return Err(AdapterError::NonFinite { what, row });
    }
    let n = norm(query);
    if n == 0.0 {
        return Err(AdapterError::ZeroVector { what, row });
    }
    Ok(query.iter().map(|&x| (x as f64 / n) as f32).collect())
}
