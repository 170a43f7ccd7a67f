//! Symmetric InfoNCE over in-batch negatives, forward and backward by hand.
//!
//! For a batch of `B` pairs with unit queries `q_i` and unit documents `d_i`:
//!
//! ```text
//! u_i  = W q_i + b,          a_i = u_i / ‖u_i‖            (adapted query)
//! S_ij = a_i · d_j,          Z_ij = S_ij / τ,  τ = exp(t) (t learnable)
//! P    = softmax of Z over j (each row),   C = softmax of Z over i (each column)
//! L    = −1/(2B) Σ_i log P_ii − 1/(2B) Σ_j log C_jj + λ (‖W − I‖²_F + ‖b‖²)
//! ```
//!
//! Pairs of the batch that share a document (`ids[i] == ids[j]`, `i ≠ j`) are not each
//! other's negatives: those logits are masked out of both softmaxes.
//!
//! Gradients, with `G_ij = (P_ij − δ_ij + C_ij − δ_ij) / (2B)` (zero where masked):
//!
//! ```text
//! ∂L/∂Z = G,   ∂L/∂S = G / τ,   ∂L/∂t = −Σ_ij G_ij Z_ij
//! g_i   = Σ_j (∂L/∂S_ij) d_j                       (∂L/∂a_i)
//! ∂L/∂u_i = (g_i − (g_i · a_i) a_i) / ‖u_i‖         (through the normalisation)
//! ∂L/∂W = Σ_i (∂L/∂u_i) q_iᵀ + 2λ (W − I),   ∂L/∂b = Σ_i ∂L/∂u_i + 2λ b
//! ```
//!
//! The `B × B` part (softmaxes, loss, `G`) runs in `f64`; the products in `f32` through
//! [`crate::linalg`]. `tests::gradient_matches_finite_differences` checks all of it
//! against central differences of an independent `f64` implementation.

use crate::adapter::normalize_in_place;
use crate::linalg::{gemm_nt, transpose, Exec};
use crate::Adapter;

/// Gradients of the loss with respect to `W`, `b` and `t = log τ`.
pub(crate) struct Grads {
    pub(crate) w: Vec<f32>,
    pub(crate) b: Vec<f32>,
    pub(crate) log_tau: f64,
}

impl Grads {
    pub(crate) fn new(dims: usize) -> Grads {
        Grads {
            w: vec![0.0; dims * dims],
            b: vec![0.0; dims],
            log_tau: 0.0,
        }
    }
}

/// Buffers reused from step to step (sized for the largest batch on first use).
#[derive(Default)]
pub(crate) struct Scratch {
    u: Vec<f32>,
    unorm: Vec<f64>,
    s: Vec<f32>,
    ds: Vec<f32>,
    docs_t: Vec<f32>,
    g: Vec<f32>,
    du: Vec<f32>,
    du_t: Vec<f32>,
    q_t: Vec<f32>,
}

fn sized(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    v.resize(n, 0.0);
    &mut v[..n]
}

/// The loss of one batch (`queries`, `docs`: `B × dims`, unit rows; `ids`: each pair's
/// document id, for masking shared documents), its gradients written to `grads`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn loss_and_grads(
    exec: &Exec,
    adapter: &Adapter,
    log_tau: f64,
    lambda: f64,
    queries: &[f32],
    docs: &[f32],
    ids: &[u32],
    scratch: &mut Scratch,
    grads: &mut Grads,
) -> f64 {
    let d = adapter.dims();
    let bsz = ids.len();
    let tau = log_tau.exp();

    // forward: u = Q Wᵀ + b, its row norms, then a = u / ‖u‖ in place (the same operations
    // as Adapter::apply, so training and inference agree to the bit)
    let u = sized(&mut scratch.u, bsz * d);
    gemm_nt(exec, queries, adapter.matrix(), d, u);
    scratch.unorm.clear();
    for row in u.chunks_exact_mut(d) {
        for (x, &bk) in row.iter_mut().zip(adapter.bias()) {
            *x += bk;
        }
        scratch.unorm.push(normalize_in_place(row));
    }
    let a = &scratch.u[..bsz * d];
    let s = sized(&mut scratch.s, bsz * bsz);
    gemm_nt(exec, a, docs, d, s);

    // the B × B part in f64
    let z: Vec<f64> = s.iter().map(|&x| x as f64 / tau).collect();
    let masked = |i: usize, j: usize| i != j && ids[i] == ids[j];
    let mut p = vec![0.0f64; bsz * bsz];
    let mut c = vec![0.0f64; bsz * bsz];
    let mut loss = 0.0f64;
    for i in 0..bsz {
        let row = &z[i * bsz..(i + 1) * bsz];
        let mx = (0..bsz)
            .filter(|&j| !masked(i, j))
            .map(|j| row[j])
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for j in 0..bsz {
            if !masked(i, j) {
                let e = (row[j] - mx).exp();
                p[i * bsz + j] = e;
                sum += e;
            }
        }
        for j in 0..bsz {
            p[i * bsz + j] /= sum;
        }
        loss -= row[i] - mx - sum.ln();
    }
    for j in 0..bsz {
        let mx = (0..bsz)
            .filter(|&i| !masked(i, j))
            .map(|i| z[i * bsz + j])
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for i in 0..bsz {
            if !masked(i, j) {
                let e = (z[i * bsz + j] - mx).exp();
                c[i * bsz + j] = e;
                sum += e;
            }
        }
        for i in 0..bsz {
            c[i * bsz + j] /= sum;
        }
        loss -= z[j * bsz + j] - mx - sum.ln();
    }
    let scale = 1.0 / (2.0 * bsz as f64);
    loss *= scale;
    let ds = sized(&mut scratch.ds, bsz * bsz);
    let mut dlog_tau = 0.0f64;
    for i in 0..bsz {
        for j in 0..bsz {
            let k = i * bsz + j;
            let delta = if i == j { 2.0 } else { 0.0 };
            let gij = (p[k] + c[k] - delta) * scale;
            dlog_tau -= gij * z[k];
            ds[k] = (gij / tau) as f32;
        }
    }

    // g = ds · docs  (B × d): rows of ds against columns of docs
    let docs_t = sized(&mut scratch.docs_t, bsz * d);
    transpose(docs, d, docs_t);
    let g = sized(&mut scratch.g, bsz * d);
    gemm_nt(exec, ds, docs_t, bsz, g);

    // through the normalisation
    let du = sized(&mut scratch.du, bsz * d);
    for i in 0..bsz {
        let ai = &a[i * d..(i + 1) * d];
        let gi = &g[i * d..(i + 1) * d];
        let ga: f64 = gi.iter().zip(ai).map(|(&x, &y)| x as f64 * y as f64).sum();
        let inv = 1.0 / scratch.unorm[i];
        for l in 0..d {
            du[i * d + l] = ((gi[l] as f64 - ga * ai[l] as f64) * inv) as f32;
        }
    }

    // dW = duᵀ q (d × d): rows of duᵀ against rows of qᵀ
    let du_t = sized(&mut scratch.du_t, bsz * d);
    transpose(du, d, du_t);
    let q_t = sized(&mut scratch.q_t, bsz * d);
    transpose(queries, d, q_t);
    gemm_nt(exec, du_t, q_t, bsz, &mut grads.w);

    // regulariser and bias
    let w = adapter.matrix();
    let mut reg = 0.0f64;
    for (idx, gw) in grads.w.iter_mut().enumerate() {
        let t = w[idx] as f64 - if idx / d == idx % d { 1.0 } else { 0.0 };
        reg += t * t;
        *gw = (*gw as f64 + 2.0 * lambda * t) as f32;
    }
    for l in 0..d {
        let bl = adapter.bias()[l] as f64;
        reg += bl * bl;
        let sum: f64 = (0..bsz).map(|i| du[i * d + l] as f64).sum();
        grads.b[l] = (sum + 2.0 * lambda * bl) as f32;
    }
    grads.log_tau = dlog_tau;
    loss + lambda * reg
}
