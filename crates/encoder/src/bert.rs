//! The BERT encoder forward pass (embeddings, 6 transformer layers, mean pooling) over a
//! *packed* mini-batch: the sequences are laid end to end as rows of one `[tokens, 384]`
//! matrix, so no work is spent on padding and no attention mask is needed. Dense layers are
//! single large matrix products over all tokens; attention runs per (sequence, head).
//!
//! Results are identical (up to f32 rounding) to the padded, masked computation of the
//! reference, because masked keys get exactly zero weight there.

use crate::dense::{self, Epilogue};
use crate::int8::QuantRows;
use crate::kernels::SimdLevel;
use crate::ops;
use crate::pool::{Par, PerWorker};
use crate::weights::{LayerWeights, Weights, HEADS, HEAD_DIM, HIDDEN, INTERMEDIATE};

const QKV: usize = 3 * HIDDEN;
/// Token rows per feed-forward block: the block's `[FFN_ROWS, 1536]` intermediate activations
/// (and their int8 copy) stay in L2 between the two products instead of going out to memory.
const FFN_ROWS: usize = 48;

/// Whether a mini-batch of `tokens` rows runs the feed-forward in row blocks on `threads`
/// workers (at least two blocks each); smaller ones (a query) split each product instead.
fn ffn_in_blocks(tokens: usize, threads: usize) -> bool {
    tokens >= 2 * FFN_ROWS * threads
}
/// Query rows per attention block (the f32 micro-kernel's tile height).
const ROW_BLOCK: usize = 12;

/// A packed mini-batch: token ids of all sequences back to back, and each sequence's
/// `(first row, length)`.
pub(crate) struct Packed {
    pub ids: Vec<u32>,
    pub seqs: Vec<(usize, usize)>,
}

impl Packed {
    pub(crate) fn new(sequences: &[&[u32]]) -> Packed {
        let mut ids = Vec::with_capacity(sequences.iter().map(|s| s.len()).sum());
        let mut seqs = Vec::with_capacity(sequences.len());
        for s in sequences {
            seqs.push((ids.len(), s.len()));
            ids.extend_from_slice(s);
        }
        Packed { ids, seqs }
    }

    pub(crate) fn tokens(&self) -> usize {
        self.ids.len()
    }
}

/// Activation buffers, sized for the largest mini-batch of a call and reused across
/// mini-batches and layers.
pub(crate) struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    inter: Vec<f32>,
    scores: PerWorker<Vec<f32>>,
    /// Per worker: one feed-forward block's intermediate activations and quantised rows.
    ffn: PerWorker<(Vec<f32>, QuantRows)>,
    /// Quantised activations (int8 precision only).
    quant: QuantRows,
}

impl Workspace {
    pub(crate) fn new(max_tokens: usize, max_len: usize, workers: usize) -> Workspace {
        Workspace {
            x: vec![0.0; max_tokens * HIDDEN],
            qkv: vec![0.0; max_tokens * QKV],
            ctx: vec![0.0; max_tokens * HIDDEN],
            // only mini-batches not run in blocks use it: fewer than 2 * FFN_ROWS * threads
            // rows, threads <= workers (see `ffn_in_blocks`)
            inter: vec![0.0; max_tokens.min(2 * FFN_ROWS * workers.max(1)) * INTERMEDIATE],
            // per worker: K^T block (HEAD_DIM x padded len) + scores (len x padded len)
            scores: PerWorker::new(workers, || {
                let lp = max_len.div_ceil(32) * 32;
                vec![0.0; HEAD_DIM * lp + max_len * lp]
            }),
            ffn: PerWorker::new(workers, || {
                (vec![0.0; FFN_ROWS * INTERMEDIATE], QuantRows::default())
            }),
            quant: QuantRows::default(),
        }
    }
}

/// Raw pointer that may be shared between the workers of one parallel section.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: only used to let parallel attention tasks write disjoint column blocks of the
// context matrix; each use site documents why the accessed elements are disjoint.
unsafe impl Send for SharedMut {}
// SAFETY: see above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    // A method (rather than `.0`) so closures capture the whole Send + Sync wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

pub(crate) struct Bert {
    pub(crate) w: Weights,
    /// Level of the kernels used outside a parallel section (pooling).
    pub(crate) level: SimdLevel,
}

/// `kt[d][j] = k[j][d]` for `len` rows of HEAD_DIM (= 32) values at stride `ldk`, into
/// HEAD_DIM rows of `lp` values (`lp >= len`, a multiple of 16); columns `len..lp` become 0.
/// 16 keys at a time through a 16 x 16 register transpose (the scalar gather cost as much
/// as the attention's softmax).
///
/// # Safety
/// AVX-512F; `k` valid for `len` rows of 32 f32 at stride `ldk`; `kt.len() >= 32 * lp`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_head(k: *const f32, ldk: usize, len: usize, kt: &mut [f32], lp: usize) {
    use std::arch::x86_64::*;
    assert!(HEAD_DIM == 32 && lp.is_multiple_of(16) && lp >= len && kt.len() >= 32 * lp);
    // SAFETY: loads of rows j < len (valid by the caller), columns d0..d0+16 <= 32; stores to
    // kt rows d < 32, columns j0..j0+16 <= lp (kt holds 32 * lp values, asserted).
    unsafe {
        for j0 in (0..lp).step_by(16) {
            for d0 in [0, 16] {
                let mut r = [_mm512_setzero_ps(); 16];
                for (i, v) in r.iter_mut().enumerate() {
                    if j0 + i < len {
                        *v = _mm512_loadu_ps(k.add((j0 + i) * ldk + d0));
                    }
                }
                // stage 1: interleave pairs of rows (32-bit), stage 2: pairs of pairs (64-bit)
                let mut t = [_mm512_setzero_ps(); 16];
                for i in 0..8 {
                    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
                }
                for i in 0..4 {
                    for h in 0..2 {
                        let (a, b) = (t[4 * i + h], t[4 * i + 2 + h]);
                        r[4 * i + h] = _mm512_castpd_ps(_mm512_unpacklo_pd(
                            _mm512_castps_pd(a),
                            _mm512_castps_pd(b),
                        ));
                        r[4 * i + 2 + h] = _mm512_castpd_ps(_mm512_unpackhi_pd(
                            _mm512_castps_pd(a),
                            _mm512_castps_pd(b),
                        ));
                    }
                }
                // r[4i + c] now holds, in 128-bit lane L, rows 4i..4i+4 of column 4L + c'
                // (c' = [0, 2, 1, 3][c]); stages 3 and 4 gather the lanes.
                for i in 0..2 {
                    for c in 0..4 {
                        let (a, b) = (r[8 * i + c], r[8 * i + 4 + c]);
                        t[8 * i + c] = _mm512_shuffle_f32x4::<0x88>(a, b);
                        t[8 * i + 4 + c] = _mm512_shuffle_f32x4::<0xdd>(a, b);
                    }
                }
                for c in 0..4 {
                    for h in 0..2 {
                        let (a, b) = (t[4 * h + c], t[8 + 4 * h + c]);
                        let lo = _mm512_shuffle_f32x4::<0x88>(a, b);
                        let hi = _mm512_shuffle_f32x4::<0xdd>(a, b);
                        // column index inside the 16: lane pair (h) and position (c)
                        let col = [0, 2, 1, 3][c] + 4 * h;
                        _mm512_storeu_ps(kt.as_mut_ptr().add((d0 + col) * lp + j0), lo);
                        _mm512_storeu_ps(kt.as_mut_ptr().add((d0 + col + 8) * lp + j0), hi);
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn transpose_head(_: *const f32, _: usize, _: usize, _: &mut [f32], _: usize) {
    unreachable!("only called on x86_64 CPUs with AVX-512")
}

/// [`transpose_head`] at `level`: the AVX-512 register transpose, or a plain gather.
///
/// # Safety
/// The CPU supports `level`; `k` valid for `len` rows of 32 f32 at stride `ldk`;
/// `kt.len() >= 32 * lp`, `lp >= len` a multiple of 16.
unsafe fn transpose_head_at(
    level: SimdLevel,
    k: *const f32,
    ldk: usize,
    len: usize,
    kt: &mut [f32],
    lp: usize,
) {
    if level == SimdLevel::Avx512 {
        // SAFETY: forwarded from the caller; the CPU has AVX-512F at this level.
        return unsafe { transpose_head(k, ldk, len, kt, lp) };
    }
    assert!(lp >= len && kt.len() >= HEAD_DIM * lp);
    for j in 0..lp {
        for d in 0..HEAD_DIM {
            kt[d * lp + j] = if j < len {
                // SAFETY: row j < len, column d < 32 (the caller's contract)
                unsafe { *k.add(j * ldk + d) }
            } else {
                0.0
            };
        }
    }
}

impl Bert {
    /// Rows per parallel chunk for row-wise kernels.
    fn row_chunk(par: &Par, rows: usize) -> usize {
        (rows.div_ceil(par.threads() * 4)).max(16)
    }

    /// Word + position + type embeddings, then layer norm, into `ws.x`.
    pub(crate) fn embed(&self, batch: &Packed, ws: &mut Workspace, par: &Par) {
        let t = batch.tokens();
        let w = &self.w;
        let x = &mut ws.x[..t * HIDDEN];
        // Position of each packed row inside its own sequence.
        let mut pos = Vec::with_capacity(t);
        for &(_, len) in &batch.seqs {
            pos.extend(0..len);
        }
        let vocab = w.config.vocab_size;
        par.for_each_chunk_mut(x, HIDDEN * Self::row_chunk(par, t), |ci, chunk| {
            let first = ci * Self::row_chunk(par, t);
            for (r, row) in chunk.chunks_exact_mut(HIDDEN).enumerate() {
                let id = (batch.ids[first + r] as usize).min(vocab - 1);
                let p = pos[first + r];
                let we = &w.word_emb[id * HIDDEN..(id + 1) * HIDDEN];
                let pe = &w.pos_emb[p * HIDDEN..(p + 1) * HIDDEN];
                for j in 0..HIDDEN {
                    row[j] = we[j] + pe[j] + w.type0_emb[j];
                }
            }
            let zero = [0.0f32; HIDDEN];
            ops::bias_layer_norm(
                par.level(),
                chunk,
                &zero,
                &w.emb_ln_g,
                &w.emb_ln_b,
                w.config.layer_norm_eps,
            );
        });
    }

    /// One transformer layer, in place on `ws.x`.
    pub(crate) fn layer(&self, l: usize, batch: &Packed, ws: &mut Workspace, par: &Par) {
        let lw: &LayerWeights = &self.w.layers[l];
        let eps = self.w.config.layer_norm_eps;
        let t = batch.tokens();
        let chunk_rows = Self::row_chunk(par, t);
        let x = &mut ws.x[..t * HIDDEN];
        let qkv = &mut ws.qkv[..t * QKV];
        let ctx = &mut ws.ctx[..t * HIDDEN];

        // qkv = x · Wqkv + b
        lw.w_qkv
            .forward(qkv, x, t, Epilogue::Bias(&lw.b_qkv), &mut ws.quant, par);

        // attention, one task per (sequence, head)
        self.attention(batch, qkv, ctx, &ws.scores, par);

        // x = LN(x + ctx · Wo + bo)
        lw.w_out
            .forward(x, ctx, t, Epilogue::Accumulate, &mut ws.quant, par);
        par.for_each_chunk_mut(x, HIDDEN * chunk_rows, |_, chunk| {
            ops::bias_layer_norm(par.level(), chunk, &lw.b_out, &lw.ln1_g, &lw.ln1_b, eps)
        });

        // x = LN(x + gelu(x · W1 + b1) · W2 + b2)
        if ffn_in_blocks(t, par.threads()) {
            // by blocks of rows, each from x to x on one worker, the intermediate block in L2
            par.for_each_chunk_mut(x, HIDDEN * FFN_ROWS, |_, xb| {
                let rows = xb.len() / HIDDEN;
                ws.ffn.with(par, |(inter, q)| {
                    let seq = &par.sequential();
                    let up = Epilogue::BiasGelu(&lw.b_up);
                    lw.w_up.forward(inter, xb, rows, up, q, seq);
                    lw.w_down
                        .forward(xb, inter, rows, Epilogue::Accumulate, q, seq);
                });
                ops::bias_layer_norm(par.level(), xb, &lw.b_down, &lw.ln2_g, &lw.ln2_b, eps);
            });
        } else {
            // few rows (a query): each product spread over all workers
            let inter = &mut ws.inter[..t * INTERMEDIATE];
            let up = Epilogue::BiasGelu(&lw.b_up);
            lw.w_up.forward(inter, x, t, up, &mut ws.quant, par);
            lw.w_down
                .forward(x, inter, t, Epilogue::Accumulate, &mut ws.quant, par);
            par.for_each_chunk_mut(x, HIDDEN * chunk_rows, |_, chunk| {
                ops::bias_layer_norm(par.level(), chunk, &lw.b_down, &lw.ln2_g, &lw.ln2_b, eps)
            });
        }
    }

    fn attention(
        &self,
        batch: &Packed,
        qkv: &[f32],
        ctx: &mut [f32],
        scratch: &PerWorker<Vec<f32>>,
        par: &Par,
    ) {
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        let ctx_len = ctx.len();
        let ctx_ptr = SharedMut(ctx.as_mut_ptr());
        let level = par.level();
        par.for_each(batch.seqs.len() * HEADS, |task| {
            let (first, len) = batch.seqs[task / HEADS];
            let h = task % HEADS;
            let base = first * QKV + h * HEAD_DIM;
            assert!(base + 2 * HIDDEN + (len - 1) * QKV + HEAD_DIM <= qkv.len());
            let off = first * HIDDEN + h * HEAD_DIM;
            assert!(off + (len - 1) * HIDDEN + HEAD_DIM <= ctx_len);
            scratch.with(par, |buf| {
                // scores[len, lp] = Q_h · K_h^T with K_h^T copied to a zero-padded
                // [HEAD_DIM, lp] block; softmax over the first `len` columns; then
                // ctx_h = P · V_h straight from the qkv rows.
                let lp = len.div_ceil(32) * 32;
                let (kt, rest) = buf.split_at_mut(HEAD_DIM * lp);
                // SAFETY: K_h rows 0..len (HEAD_DIM values at stride QKV from
                // base + HIDDEN) lie inside qkv (asserted above); kt holds HEAD_DIM rows of
                // lp >= len (a multiple of 32); the CPU supports the encoder's level.
                unsafe {
                    transpose_head_at(level, qkv[base + HIDDEN..].as_ptr(), QKV, len, kt, lp);
                }
                // Query rows in blocks of ROW_BLOCK, so that a block's scores stay in L1
                // between the two products and the softmax.
                for r0 in (0..len).step_by(ROW_BLOCK) {
                    let rows = ROW_BLOCK.min(len - r0);
                    let scores = &mut rest[..rows * lp];
                    // SAFETY: Q_h rows r0..r0+rows (HEAD_DIM values at stride QKV from
                    // `base`) lie inside qkv (asserted above); kt holds HEAD_DIM rows of
                    // lp; scores holds `rows` rows of lp; the CPU supports `level`.
                    unsafe {
                        dense::small_matmul(
                            level,
                            rows,
                            lp,
                            HEAD_DIM,
                            qkv[base + r0 * QKV..].as_ptr(),
                            QKV,
                            kt.as_ptr(),
                            lp,
                            scores.as_mut_ptr(),
                            lp,
                        )
                    };
                    let mut inv = [0.0f32; ROW_BLOCK];
                    ops::exp_scaled_rows(level, scores, lp, len, scale, &mut inv);
                    // SAFETY: P is `rows` rows of `len` (stride lp) in scores; V_h is len
                    // rows of HEAD_DIM at stride QKV inside qkv (asserted above). This
                    // writes rows first+r0..first+r0+rows, columns h*32..h*32+32 of `ctx`
                    // (in bounds, asserted above); tasks differ in sequence (disjoint rows)
                    // or head (disjoint columns), `ctx` is not otherwise accessed during
                    // this parallel section, and it overlaps neither the per-worker
                    // scratch nor qkv.
                    unsafe {
                        dense::small_matmul(
                            level,
                            rows,
                            HEAD_DIM,
                            len,
                            scores.as_ptr(),
                            lp,
                            qkv[base + 2 * HIDDEN..].as_ptr(),
                            QKV,
                            ctx_ptr.get().add(off + r0 * HIDDEN),
                            HIDDEN,
                        )
                    };
                    // the softmax's normalisation, on the 32 outputs of each row
                    for (r, &s) in inv[..rows].iter().enumerate() {
                        // SAFETY: the same elements of ctx the product above just wrote.
                        let out = unsafe {
                            std::slice::from_raw_parts_mut(
                                ctx_ptr.get().add(off + (r0 + r) * HIDDEN),
                                HEAD_DIM,
                            )
                        };
                        out.iter_mut().for_each(|v| *v *= s);
                    }
                }
            });
        });
    }

    /// Mean pooling over each sequence's rows, then L2 normalisation.
    pub(crate) fn pool(&self, batch: &Packed, ws: &Workspace) -> Vec<Vec<f32>> {
        batch
            .seqs
            .iter()
            .map(|&(first, len)| {
                let mut out = vec![0.0f32; HIDDEN];
                ops::mean_pool_normalize(
                    self.level,
                    &ws.x[first * HIDDEN..(first + len) * HIDDEN],
                    &mut out,
                );
                out
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_transpose_matches_scalar_for_every_length() {
        for level in codevec_simd::available_levels() {
            head_transpose_matches_scalar(level);
        }
    }

    fn head_transpose_matches_scalar(level: SimdLevel) {
        let ldk = 100;
        for len in [1usize, 2, 15, 16, 17, 31, 32, 33, 147, 256] {
            let k: Vec<f32> = (0..len * ldk).map(|i| i as f32 * 0.5 - 3.0).collect();
            let lp = len.div_ceil(32) * 32;
            let mut kt = vec![f32::NAN; HEAD_DIM * lp];
            // SAFETY: k holds len rows of ldk >= 32 values; kt holds 32 * lp; `level` is
            // one of the available levels.
            unsafe { transpose_head_at(level, k.as_ptr(), ldk, len, &mut kt, lp) };
            for d in 0..HEAD_DIM {
                for j in 0..lp {
                    let want = if j < len { k[j * ldk + d] } else { 0.0 };
                    assert_eq!(kt[d * lp + j], want, "len {len}: kt[{d}][{j}]");
                }
            }
        }
    }
}
