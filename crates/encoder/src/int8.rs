//! The reduced-precision path: dense layers as 8-bit integer products, with f32 everywhere
//! else (embeddings, attention, softmax, layer norm, pooling). The product kernel is the
//! encoder's [`Int8Kernel`]: AVX512-VNNI `vpdpbusd` (64 multiply-adds per instruction, four
//! times the lanes of an f32 FMA), AVX-VNNI (the same on ymm), AVX2 (bytes widened to i16,
//! `vpmaddwd`: exact, unlike the saturating `vpmaddubsw`) or portable Rust. Every kernel
//! reads the same quantised operands and computes the same i32 sums bit for bit; only the
//! f32 epilogue may round differently (FMA or not).
//!
//! * Weights: symmetric per output column, `w[k][j] ≈ sw[j] · q[k][j]`, `q` in [-127, 127].
//! * Activations: asymmetric per row (token), quantised right before each product,
//!   `a[i][k] ≈ sa[i] · (u[i][k] - za[i])`, `u` in [0, 255] (`vpdpbusd` multiplies unsigned
//!   bytes by signed bytes). Per-row min/max keeps the full 8 bits for one-signed rows such
//!   as GELU outputs.
//! * `C[i][j] = sa[i] · sw[j] · (Σk u·q − za[i] · Σk q[k][j])`, accumulated exactly in i32
//!   (|u·q| ≤ 255·127 per term, K ≤ 1536: no overflow), then bias / GELU / residual in f32.
//!
//! Packed weight layout: `N / 32` column strips, each `K / 4` groups of `32 x 4` bytes (four
//! consecutive k of one column are adjacent, as `vpdpbusd` wants); for the portable kernel
//! the strips are row-major instead (`K` rows of 32 bytes), which vectorises without shuffles.

use crate::dense::{split_gemm, Epilogue, SharedC};
use crate::kernels::{Int8Kernel, SimdLevel};
use crate::pool::Par;
use crate::storage::Buf;

/// Columns per strip (two AVX-512 registers of i32 accumulators).
pub(crate) const NS: usize = 32;
/// Rows per micro-kernel tile.
const ROWS: usize = 12;
/// Rows per cache block: MC x K bytes of activations stay in L2 while all strips pass.
const MC: usize = 48;

/// Whether this CPU runs the int8 path: always (the portable kernel runs anywhere).
pub(crate) fn supported() -> bool {
    true
}

/// Rows per tile of `kernel` (a remainder up to `max` rows is one tile).
fn tile_rows(kernel: Int8Kernel, left: usize) -> usize {
    match kernel {
        Int8Kernel::Avx512Vnni if left <= 14 => left,
        Int8Kernel::Avx512Vnni => ROWS,
        Int8Kernel::AvxVnni | Int8Kernel::Avx2 => left.min(6),
        Int8Kernel::Scalar => left.min(4),
    }
}

/// Name of the int8 product kernel.
pub(crate) fn kernel_name(kernel: Int8Kernel) -> &'static str {
    match kernel {
        Int8Kernel::Avx512Vnni => "codevec avx512-vnni 12x32 int8, packed weights",
        Int8Kernel::AvxVnni => "codevec avx-vnni 6x32 int8, packed weights",
        Int8Kernel::Avx2 => "codevec avx2 vpmaddwd 6x32 int8 (exact i16 products), packed weights",
        Int8Kernel::Scalar => "codevec portable 4x32 int8, packed weights",
    }
}

/// A weight matrix `[K, N]` quantised to i8 per output column and packed for the kernel
/// (owned, or slices of the mapped weights cache: see [`crate::storage`]).
pub(crate) struct PackedI8 {
    k: usize,
    n: usize,
    data: Buf<i8>,
    /// `sw[j]`
    scale: Buf<f32>,
    /// `Σk q[k][j]`, for the activation zero point.
    colsum: Buf<i32>,
    /// Whether activation rows multiplied by this matrix get outlier channels taken out
    /// (see [`OUTLIER_RMS`]).
    outliers: bool,
    /// Row-major strips (the portable kernel's layout) instead of 4-deep byte groups.
    planar: bool,
}

impl PackedI8 {
    /// Quantises and packs a row-major `[k, n]` f32 matrix (`k.is_multiple_of(4)`, `n % 32 == 0`)
    /// in the layout of `kernel` (the same quantised values for every kernel).
    pub(crate) fn pack(w: &[f32], k: usize, n: usize, kernel: Int8Kernel) -> PackedI8 {
        let planar = kernel == Int8Kernel::Scalar;
        assert_eq!(w.len(), k * n);
        assert!(
            k.is_multiple_of(4) && n.is_multiple_of(NS),
            "int8: shape {k}x{n} not packable"
        );
        let mut scale = vec![0f32; n];
        let mut col = vec![0f32; k];
        for (j, s) in scale.iter_mut().enumerate() {
            for (kk, c) in col.iter_mut().enumerate() {
                *c = w[kk * n + j];
            }
            *s = column_scale(&col);
        }
        let mut data_buf = Buf::zeroed(k * n);
        let mut colsum_buf = Buf::zeroed(n);
        let (data, colsum) = (data_buf.as_mut(), colsum_buf.as_mut());
        for kk in 0..k {
            for j in 0..n {
                let q = (w[kk * n + j] / scale[j])
                    .round_ties_even()
                    .clamp(-127.0, 127.0) as i8;
                let (strip, col) = (j / NS, j % NS);
                let at = if planar {
                    kk * NS + col
                } else {
                    (kk / 4) * NS * 4 + col * 4 + kk % 4
                };
                data[strip * k * NS + at] = q;
                colsum[j] += q as i32;
            }
        }
        PackedI8 {
            k,
            n,
            data: data_buf,
            scale: Buf::from_slice(&scale),
            colsum: colsum_buf,
            outliers: true,
            planar,
        }
    }

    /// A matrix already quantised and packed (read back from the weights cache) in the
    /// layout of `kernel`: `data` `k * n` bytes, `scale` and `colsum` `n` values each.
    pub(crate) fn from_packed(
        data: Buf<i8>,
        scale: Buf<f32>,
        colsum: Buf<i32>,
        k: usize,
        n: usize,
        kernel: Int8Kernel,
    ) -> PackedI8 {
        assert!(data.len() == k * n && scale.len() == n && colsum.len() == n);
        assert!(k.is_multiple_of(4) && n.is_multiple_of(NS));
        PackedI8 {
            k,
            n,
            data,
            scale,
            colsum,
            outliers: true,
            planar: kernel == Int8Kernel::Scalar,
        }
    }

    /// The packed bytes, column scales and column sums.
    pub(crate) fn parts(&self) -> (&Buf<i8>, &Buf<f32>, &Buf<i32>) {
        (&self.data, &self.scale, &self.colsum)
    }

    /// The same matrix, its activation rows quantised whole (no outlier channels).
    pub(crate) fn without_outliers(self) -> PackedI8 {
        PackedI8 {
            outliers: false,
            ..self
        }
    }
}

/// The scale for one weight column: the one among `max/127 · f` (f from 0.80 to 1.00) with the
/// least squared rounding error, so a lone outlier does not coarsen the whole column.
pub(crate) fn column_scale(col: &[f32]) -> f32 {
    let max = col.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 {
        return 1.0;
    }
    // x + 1.5·2^23 - 1.5·2^23 rounds half to even for |x| < 2^22 and vectorises without
    // SSE4.1 (|v / s| ≤ 127 / 0.8 here).
    const MAGIC: f32 = 12_582_912.0;
    let mut best = (f32::INFINITY, max / 127.0);
    for step in 0..=10 {
        let s = max / 127.0 * (0.80 + 0.02 * step as f32);
        let inv = 1.0 / s;
        let err: f32 = col
            .iter()
            .map(|&v| {
                let q = ((v * inv + MAGIC) - MAGIC).clamp(-127.0, 127.0);
                (v - q * s) * (v - q * s)
            })
            .sum();
        if err < best.0 {
            best = (err, s);
        }
    }
    best.1
}

/// Quantised activation rows, reused across calls.
#[derive(Default)]
pub(crate) struct QuantRows {
    data: Vec<u8>,
    /// `data` widened to i16, for the AVX2 kernel only.
    wide: Vec<i16>,
    meta: Vec<RowMeta>,
}

/// How one activation row was quantised.
#[derive(Clone, Copy, Default)]
struct RowMeta {
    /// `sa[i]`
    scale: f32,
    /// `za[i]`
    zero: i32,
    /// Outlier channels in use in `outliers`.
    count: u32,
    /// `(channel, value)`: taken out of the row before quantising (set to 0 there) and
    /// multiplied in f32 against the weights in the kernel's epilogue.
    outliers: [(u32, f32); MAX_OUTLIERS],
}

/// A value beyond `OUTLIER_RMS` times its row's RMS is an outlier channel; at most
/// `MAX_OUTLIERS` are taken per row (the largest).
///
/// BERT's hidden states carry "massive activations": on the `[CLS]` row one channel is 20-40x
/// the rest (28 vs 1.3 here). Quantised with the row, it would coarsen every other channel
/// of that row 20-fold; for short texts, where `[CLS]` weighs most in the mean pooling, that
/// alone moved the empty string's embedding to cosine 0.993 (0.996 with the outliers out).
const OUTLIER_RMS: f32 = 4.0;
const MAX_OUTLIERS: usize = 8;

/// Rows per parallel quantisation task.
const FILL_ROWS: usize = 64;

impl QuantRows {
    /// Quantises `m` rows of `k` values (row-major `a`), rows spread over the workers.
    fn fill(&mut self, a: &[f32], m: usize, k: usize, outliers: bool, par: &Par) {
        if self.data.len() < m * k {
            self.data.resize(m * k, 0);
        }
        if self.meta.len() < m {
            self.meta.resize(m, RowMeta::default());
        }
        let level = par.level();
        par.for_each_chunk_pair_mut(
            &mut self.data[..m * k],
            FILL_ROWS * k,
            &mut self.meta[..m],
            FILL_ROWS,
            |ci, data, meta| {
                let mut cand = Vec::new();
                for (r, (out, meta)) in data.chunks_exact_mut(k).zip(meta).enumerate() {
                    let i = ci * FILL_ROWS + r;
                    *meta = quantize_row(level, &a[i * k..(i + 1) * k], out, outliers, &mut cand);
                }
            },
        );
        if par.kernels().int8() == Int8Kernel::Avx2 {
            if self.wide.len() < m * k {
                self.wide.resize(m * k, 0);
            }
            let data = &self.data[..m * k];
            par.for_each_chunk_mut(&mut self.wide[..m * k], FILL_ROWS * k, |ci, wide| {
                let src = &data[ci * FILL_ROWS * k..];
                wide.iter_mut().zip(src).for_each(|(w, &u)| *w = u as i16);
            });
        }
    }

    #[cfg(test)]
    fn outliers(&self, m: usize) -> Vec<(u32, f32)> {
        self.meta[..m]
            .iter()
            .flat_map(|r| r.outliers[..r.count as usize].iter().copied())
            .collect()
    }
}

/// Quantises one row into `out` (`cand` is scratch): the range is the row's min/max with
/// 0 included; with `outliers`, when values stand out beyond `OUTLIER_RMS` x RMS, the largest
/// (up to `MAX_OUTLIERS`) are taken out of the row and the range is that of the rest.
fn quantize_row(
    level: SimdLevel,
    row: &[f32],
    out: &mut [u8],
    outliers: bool,
    cand: &mut Vec<(u32, f32)>,
) -> RowMeta {
    let (lo, hi, rms) = row_stats(level, row);
    let limit = OUTLIER_RMS * rms;
    let mut meta = RowMeta::default();
    if !outliers || hi.max(-lo) <= limit {
        (meta.scale, meta.zero) = quantize_range(level, row, out, lo, hi);
        return meta;
    }
    cand.clear();
    // the range of the values within the limit (and 0), then of the candidates not taken
    let (mut lo, mut hi) = split_at_limit(level, row, limit, cand);
    if cand.len() > MAX_OUTLIERS {
        cand.sort_unstable_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        for &(_, v) in &cand[MAX_OUTLIERS..] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        cand.truncate(MAX_OUTLIERS);
    }
    (meta.scale, meta.zero) = quantize_range(level, row, out, lo, hi);
    for (slot, &(c, v)) in meta.outliers.iter_mut().zip(cand.iter()) {
        // the channel's value is 0 in the quantised row: exactly the zero point
        out[c as usize] = meta.zero as u8;
        *slot = (c, v);
    }
    meta.count = cand.len() as u32;
    meta
}

/// Appends `(index, value)` of every value of `row` with `|value| > limit` to `out`; returns
/// the min and max of the other values and 0 (exact at every level: comparisons only).
fn split_at_limit(
    level: SimdLevel,
    row: &[f32],
    limit: f32,
    out: &mut Vec<(u32, f32)>,
) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if row.len().is_multiple_of(16) && level == SimdLevel::Avx512 {
        // SAFETY: the encoder's level is one the CPU supports, and Avx512 implies AVX-512F;
        // row.len() is a multiple of 16.
        return unsafe { split_at_limit_avx512(row, limit, out) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    let (mut lo, mut hi) = (0f32, 0f32);
    for (c, &v) in row.iter().enumerate() {
        if v.abs() > limit {
            out.push((c as u32, v));
        } else {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    (lo, hi)
}

/// # Safety
/// AVX-512F; `row.len()` a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn split_at_limit_avx512(row: &[f32], limit: f32, out: &mut Vec<(u32, f32)>) -> (f32, f32) {
    use std::arch::x86_64::*;
    // SAFETY: 16-value loads at offsets below row.len(), a multiple of 16.
    unsafe {
        let lim = _mm512_set1_ps(limit);
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for i in (0..row.len()).step_by(16) {
            let v = _mm512_loadu_ps(row.as_ptr().add(i));
            let mut mask = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_abs_ps(v), lim);
            lo = _mm512_mask_min_ps(lo, !mask, lo, v);
            hi = _mm512_mask_max_ps(hi, !mask, hi, v);
            while mask != 0 {
                let c = i + mask.trailing_zeros() as usize;
                out.push((c as u32, row[c]));
                mask &= mask - 1;
            }
        }
        (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi))
    }
}

/// `(min, max, sqrt(mean x²))` of a row; min ≤ 0 ≤ max (the quantised range always holds an
/// exact zero). The same code at every level (16 lanes of plain multiply and add, reduced in
/// a fixed order), so the result, and with it the quantisation, is bit-identical across
/// levels.
fn row_stats(level: SimdLevel, row: &[f32]) -> (f32, f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
        fn avx512(row: &[f32]) -> (f32, f32, f32) {
            row_stats_body(row)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(row: &[f32]) -> (f32, f32, f32) {
            row_stats_body(row)
        }
        match level {
            // SAFETY: the encoder's level is one the CPU supports (Kernels invariant), and
            // these copies need no more than the level implies.
            SimdLevel::Avx512 => return unsafe { avx512(row) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2(row) },
            SimdLevel::Scalar => {}
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    row_stats_body(row)
}

#[inline(always)]
fn row_stats_body(row: &[f32]) -> (f32, f32, f32) {
    const L: usize = 16;
    let (mut lo, mut hi, mut sq) = ([0f32; L], [0f32; L], [0f32; L]);
    let mut chunks = row.chunks_exact(L);
    for c in &mut chunks {
        for i in 0..L {
            let v = c[i];
            lo[i] = if v < lo[i] { v } else { lo[i] };
            hi[i] = if v > hi[i] { v } else { hi[i] };
            sq[i] += v * v;
        }
    }
    let (mut l, mut h, mut s) = (0f32, 0f32, 0f32);
    for &v in chunks.remainder() {
        l = l.min(v);
        h = h.max(v);
        s += v * v;
    }
    for i in 0..L {
        l = l.min(lo[i]);
        h = h.max(hi[i]);
        s += sq[i];
    }
    (l, h, (s / row.len().max(1) as f32).sqrt())
}

/// Quantises one row to u8 over the range `[lo, hi]` (`lo ≤ 0 ≤ hi`, covering the row);
/// returns `(scale, zero point)`.
/// Every level computes `round_half_even(fma(v, 1/scale, zero))` clamped to [0, 255]: the
/// same bytes everywhere.
fn quantize_range(level: SimdLevel, row: &[f32], out: &mut [u8], lo: f32, hi: f32) -> (f32, i32) {
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zero = (-lo / scale).round().clamp(0.0, 255.0) as i32;
    let inv = 1.0 / scale;
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(row: &[f32], out: &mut [u8], inv: f32, zero: i32) {
            quantize_body(row, out, inv, zero)
        }
        match level {
            SimdLevel::Avx512 if row.len().is_multiple_of(16) && row.len() == out.len() => {
                // SAFETY: the encoder's level is one the CPU supports, and Avx512 implies
                // AVX-512 F/BW; row and out have the same length, a multiple of 16.
                unsafe { quantize_avx512(row, out, inv, zero) };
                return (scale, zero);
            }
            SimdLevel::Avx512 | SimdLevel::Avx2 => {
                // SAFETY: both levels imply AVX2 and FMA, which the CPU supports.
                unsafe { avx2(row, out, inv, zero) };
                return (scale, zero);
            }
            SimdLevel::Scalar => {}
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    quantize_body(row, out, inv, zero);
    (scale, zero)
}

#[inline(always)]
fn quantize_body(row: &[f32], out: &mut [u8], inv: f32, zero: i32) {
    let z = zero as f32;
    for (o, &v) in out.iter_mut().zip(row) {
        *o = v.mul_add(inv, z).round_ties_even().clamp(0.0, 255.0) as u8;
    }
}

/// # Safety
/// AVX-512 F/BW; `row.len() == out.len()`, a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_avx512(row: &[f32], out: &mut [u8], inv: f32, zero: i32) {
    use std::arch::x86_64::*;
    debug_assert!(row.len() == out.len() && row.len().is_multiple_of(16));
    // SAFETY: 16-value loads/stores at i < row.len() (a multiple of 16), on both slices.
    unsafe {
        let inv = _mm512_set1_ps(inv);
        let z = _mm512_set1_ps(zero as f32);
        let (zero_i, top) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        for i in (0..row.len()).step_by(16) {
            let v = _mm512_fmadd_ps(_mm512_loadu_ps(row.as_ptr().add(i)), inv, z);
            let q =
                _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
            let q = _mm512_min_epi32(_mm512_max_epi32(q, zero_i), top);
            _mm_storeu_si128(
                out.as_mut_ptr().add(i) as *mut __m128i,
                _mm512_cvtepi32_epi8(q),
            );
        }
    }
}

/// `C[m, n] = epilogue(A[m, k] · W)` with A quantised into `q` first.
pub(crate) fn matmul_i8(
    c: &mut [f32],
    a: &[f32],
    m: usize,
    w: &PackedI8,
    epi: Epilogue<'_>,
    q: &mut QuantRows,
    par: &Par,
) {
    let (k, n) = (w.k, w.n);
    assert!(
        a.len() >= m * k && c.len() >= m * n,
        "int8: buffers too small"
    );
    if let Some(b) = epi.bias() {
        assert_eq!(b.len(), n, "int8: bias length");
    }
    if m == 0 {
        return;
    }
    q.fill(&a[..m * k], m, k, w.outliers, par);
    let q = &*q;
    let c = &mut c[..m * n];
    let (c_len, cptr) = (c.len(), SharedC(c.as_mut_ptr()));
    let kernel = par.kernels().int8();
    split_gemm(par, m, n / NS, MC, |rows, strips| {
        // SAFETY: split_gemm gives every task a disjoint (rows x strips) region of C, which
        // has c_len = m * n elements and is not accessed otherwise during this call; the
        // kernel is one the CPU has (Kernels invariant).
        unsafe { block(kernel, cptr.get(), None, c_len, q, rows, w, strips, epi) };
    });
}

/// The exact i32 sums `Σk u·q` of `A · W` (before zero point, scales and epilogue) as the
/// encoder's int8 kernel computes them, row-major `[m, n]`: for comparing kernels bit for bit.
#[cfg(test)]
fn int_sums(a: &[f32], m: usize, w: &PackedI8, q: &mut QuantRows, par: &Par) -> Vec<i32> {
    let (k, n) = (w.k, w.n);
    q.fill(&a[..m * k], m, k, w.outliers, par);
    let mut c = vec![0f32; m * n];
    let mut sums = vec![0i32; m * n];
    // SAFETY: C and the sums both hold m * n values and are exclusively borrowed here; the
    // kernel is one the CPU has (Kernels invariant).
    unsafe {
        block(
            par.kernels().int8(),
            c.as_mut_ptr(),
            Some(sums.as_mut_ptr()),
            m * n,
            q,
            0..m,
            w,
            0..n / NS,
            Epilogue::Accumulate,
        )
    };
    sums
}

/// Per-tile constants of the epilogue.
#[derive(Clone, Copy)]
struct Tile {
    /// Add the current C values.
    load_c: bool,
    /// 32 bias values or null.
    bias: *const f32,
    gelu: bool,
    /// 32 column scales.
    wscale: *const f32,
    /// 32 column sums.
    colsum: *const i32,
    /// The tile's rows' quantisation: scale, zero point, outlier channels.
    rows: *const RowMeta,
    /// If not null: store the raw i32 sums here (same layout as C) instead of C (tests).
    sums: *mut i32,
}

/// Computes rows `rows` and strips `strips` of C.
///
/// # Safety
/// `c` (and `sums`, if given) points to `c_len >= m * n` values; the selected rows x strip
/// columns are not accessed by anyone else meanwhile; `q` holds the quantised rows of A (as
/// filled for `kernel`); the CPU has `kernel`.
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    kernel: Int8Kernel,
    c: *mut f32,
    sums: Option<*mut i32>,
    c_len: usize,
    q: &QuantRows,
    rows: std::ops::Range<usize>,
    w: &PackedI8,
    strips: std::ops::Range<usize>,
    epi: Epilogue<'_>,
) {
    let (k, n) = (w.k, w.n);
    assert!(
        rows.end * n <= c_len
            && q.data.len() >= rows.end * k
            && q.meta.len() >= rows.end
            && strips.end * NS <= n
            && (kernel != Int8Kernel::Avx2 || q.wide.len() >= rows.end * k)
            && w.planar == (kernel == Int8Kernel::Scalar)
    );
    for i0 in rows.clone().step_by(MC) {
        let i_end = (i0 + MC).min(rows.end);
        for s in strips.clone() {
            let col = s * NS;
            let b = w.data[s * k * NS..(s + 1) * k * NS].as_ptr();
            let mut i = i0;
            while i < i_end {
                let r = tile_rows(kernel, i_end - i);
                let tile = Tile {
                    load_c: matches!(epi, Epilogue::Accumulate),
                    bias: epi.bias().map_or(std::ptr::null(), |bb| bb[col..].as_ptr()),
                    gelu: matches!(epi, Epilogue::BiasGelu(_)),
                    wscale: w.scale[col..].as_ptr(),
                    colsum: w.colsum[col..].as_ptr(),
                    rows: q.meta[i..].as_ptr(),
                    // SAFETY: i * n + col < c_len, inside the sums buffer (caller's contract)
                    sums: sums.map_or(std::ptr::null_mut(), |p| unsafe { p.add(i * n + col) }),
                };
                // SAFETY: rows i..i+r and columns col..col+32 are inside C and A (and the
                // widened A for the AVX2 kernel); the strip holds k/4 groups of 128 bytes;
                // the per-column/per-row arrays have at least 32 / r entries from the given
                // offsets (asserted above); the CPU has `kernel` (the caller's contract).
                unsafe {
                    let c = c.add(i * n + col);
                    match kernel {
                        Int8Kernel::Avx512Vnni => {
                            dispatch(r, k, q.data.as_ptr().add(i * k), b, c, n, tile)
                        }
                        Int8Kernel::AvxVnni => crate::dense::by_rows!(
                            r,
                            kernel_avx_vnni,
                            [1, 2, 3, 4, 5, 6],
                            (k, q.data.as_ptr().add(i * k), b, c, n, tile)
                        ),
                        Int8Kernel::Avx2 => crate::dense::by_rows!(
                            r,
                            kernel_avx2,
                            [1, 2, 3, 4, 5, 6],
                            (k, q.wide.as_ptr().add(i * k), b, c, n, tile)
                        ),
                        Int8Kernel::Scalar => crate::dense::by_rows!(
                            r,
                            kernel_portable,
                            [1, 2, 3, 4],
                            (k, q.data.as_ptr().add(i * k), b, c, n, tile)
                        ),
                    }
                };
                i += r;
            }
        }
    }
}

unsafe fn dispatch(
    rows: usize,
    k: usize,
    a: *const u8,
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    t: Tile,
) {
    // SAFETY: in every arm, forwarded from the caller.
    unsafe {
        match rows {
            14 => kernel::<14>(k, a, b, c, ldc, t),
            13 => kernel::<13>(k, a, b, c, ldc, t),
            12 => kernel::<12>(k, a, b, c, ldc, t),
            11 => kernel::<11>(k, a, b, c, ldc, t),
            10 => kernel::<10>(k, a, b, c, ldc, t),
            9 => kernel::<9>(k, a, b, c, ldc, t),
            8 => kernel::<8>(k, a, b, c, ldc, t),
            7 => kernel::<7>(k, a, b, c, ldc, t),
            6 => kernel::<6>(k, a, b, c, ldc, t),
            5 => kernel::<5>(k, a, b, c, ldc, t),
            4 => kernel::<4>(k, a, b, c, ldc, t),
            3 => kernel::<3>(k, a, b, c, ldc, t),
            2 => kernel::<2>(k, a, b, c, ldc, t),
            1 => kernel::<1>(k, a, b, c, ldc, t),
            _ => unreachable!("int8 tile rows must be 1..=14"),
        }
    }
}

/// The `R x 32` VNNI micro-kernel over the full depth `k` (rows of A at stride `k`).
///
/// # Safety
/// AVX-512 F/BW + VNNI; `a` valid for `R` rows of `k` bytes at stride `k`; `b` for `k * 32`
/// bytes; `c` for `R` rows of 32 f32 at stride `ldc`; tile pointers as documented on [`Tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::needless_range_loop)] // r indexes the accumulator tile and the rows of A alike
unsafe fn kernel<const R: usize>(
    k: usize,
    a: *const u8,
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    t: Tile,
) {
    use std::arch::x86_64::*;
    // SAFETY: every access stays inside the ranges promised by the caller.
    unsafe {
        let mut acc: [[__m512i; 2]; R] = [[_mm512_setzero_si512(); 2]; R];
        let mut bp = b;
        for k4 in (0..k).step_by(4) {
            let b0 = _mm512_loadu_si512(bp as *const __m512i);
            let b1 = _mm512_loadu_si512(bp.add(64) as *const __m512i);
            for r in 0..R {
                let av = _mm512_set1_epi32((a.add(r * k + k4) as *const i32).read_unaligned());
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
            }
            bp = bp.add(128);
        }
        if !t.sums.is_null() {
            for r in 0..R {
                let p = t.sums.add(r * ldc);
                _mm512_storeu_si512(p as *mut __m512i, acc[r][0]);
                _mm512_storeu_si512(p.add(16) as *mut __m512i, acc[r][1]);
            }
            return;
        }
        let ws0 = _mm512_loadu_ps(t.wscale);
        let ws1 = _mm512_loadu_ps(t.wscale.add(16));
        let cs0 = _mm512_loadu_si512(t.colsum as *const __m512i);
        let cs1 = _mm512_loadu_si512(t.colsum.add(16) as *const __m512i);
        let (bias0, bias1) = if t.bias.is_null() {
            (_mm512_setzero_ps(), _mm512_setzero_ps())
        } else {
            (_mm512_loadu_ps(t.bias), _mm512_loadu_ps(t.bias.add(16)))
        };
        for r in 0..R {
            let row = &*t.rows.add(r);
            let z = _mm512_set1_epi32(row.zero);
            let sa = _mm512_set1_ps(row.scale);
            let i0 = _mm512_sub_epi32(acc[r][0], _mm512_mullo_epi32(z, cs0));
            let i1 = _mm512_sub_epi32(acc[r][1], _mm512_mullo_epi32(z, cs1));
            let mut v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), _mm512_mul_ps(sa, ws0), bias0);
            let mut v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), _mm512_mul_ps(sa, ws1), bias1);
            // Outlier channels: C += value · sw[j] · q[channel][j] (the weight row read from the
            // packed strip: byte channel % 4 of each 32-bit lane of group channel / 4).
            for &(ch, val) in &row.outliers[..row.count as usize] {
                let ch = ch as usize;
                let g = b.add((ch / 4) * 128);
                let sh = _mm512_set1_epi32((24 - 8 * (ch % 4)) as i32);
                let q0 = _mm512_srai_epi32::<24>(_mm512_sllv_epi32(
                    _mm512_loadu_si512(g as *const __m512i),
                    sh,
                ));
                let q1 = _mm512_srai_epi32::<24>(_mm512_sllv_epi32(
                    _mm512_loadu_si512(g.add(64) as *const __m512i),
                    sh,
                ));
                let vv = _mm512_set1_ps(val);
                v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q0), _mm512_mul_ps(vv, ws0), v0);
                v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q1), _mm512_mul_ps(vv, ws1), v1);
            }
            crate::dense::store_row(c.add(r * ldc), v0, v1, t.load_c, t.gelu);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel<const R: usize>(
    _: usize,
    _: *const u8,
    _: *const i8,
    _: *mut f32,
    _: usize,
    _: Tile,
) {
    unreachable!("the int8 kernel is only called on x86_64 CPUs with VNNI")
}

/// The f32 epilogue of the AVX2, AVX-VNNI and portable kernels, on an `R x 32` tile of
/// exact i32 sums; the same arithmetic as the AVX-512 kernel's (`FUSED`: with one-rounding
/// multiply-adds, as there). With `t.sums` set it stores the sums instead (tests).
///
/// # Safety
/// As for [`kernel`]: `b` the tile's strip, `c` (or `t.sums`) `R` rows of 32 values at
/// stride `ldc`, tile pointers as documented on [`Tile`].
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn finish<const R: usize, const FUSED: bool, const PLANAR: bool>(
    acc: &[[i32; NS]; R],
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    t: Tile,
) {
    let fma = |a: f32, b: f32, c: f32| if FUSED { a.mul_add(b, c) } else { a * b + c };
    // SAFETY: every access stays inside the ranges promised by the caller.
    unsafe {
        if !t.sums.is_null() {
            for r in 0..R {
                std::slice::from_raw_parts_mut(t.sums.add(r * ldc), NS).copy_from_slice(&acc[r]);
            }
            return;
        }
        let ws = std::slice::from_raw_parts(t.wscale, NS);
        let cs = std::slice::from_raw_parts(t.colsum, NS);
        let zero_bias = [0f32; NS];
        let bias = if t.bias.is_null() {
            &zero_bias[..]
        } else {
            std::slice::from_raw_parts(t.bias, NS)
        };
        for r in 0..R {
            let row = &*t.rows.add(r);
            let mut v = [0f32; NS];
            for j in 0..NS {
                let i = acc[r][j].wrapping_sub(row.zero.wrapping_mul(cs[j]));
                v[j] = fma(i as f32, row.scale * ws[j], bias[j]);
            }
            // outlier channels, as in the AVX-512 kernel: C += value · sw[j] · q[channel][j]
            for &(ch, val) in &row.outliers[..row.count as usize] {
                let ch = ch as usize;
                if PLANAR {
                    let q = std::slice::from_raw_parts(b.add(ch * NS), NS);
                    for j in 0..NS {
                        v[j] = fma(q[j] as f32, val * ws[j], v[j]);
                    }
                } else {
                    let g = std::slice::from_raw_parts(b.add((ch / 4) * NS * 4), NS * 4);
                    for j in 0..NS {
                        v[j] = fma(g[j * 4 + ch % 4] as f32, val * ws[j], v[j]);
                    }
                }
            }
            let cr = std::slice::from_raw_parts_mut(c.add(r * ldc), NS);
            for j in 0..NS {
                if t.load_c {
                    v[j] += cr[j];
                }
                cr[j] = v[j];
            }
            if t.gelu {
                crate::ops::gelu_in_place(cr);
            }
        }
    }
}

/// The `R x 32` AVX2 kernel (`R <= 6`): per 8-column quarter of the strip, the weights' 4-deep
/// byte groups sign-extended to i16 and multiplied with the activations (widened to i16
/// beforehand) by `vpmaddwd`, which sums pairs exactly into i32 (|u·q| <= 255·127); a final
/// horizontal add folds the pairs of each column.
///
/// # Safety
/// AVX2 + FMA; `a` valid for `R` rows of `k` i16 at stride `k`; `b` for `k * 32` bytes; `c`
/// for `R` rows of 32 f32 at stride `ldc`; tile pointers as documented on [`Tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)]
unsafe fn kernel_avx2<const R: usize>(
    k: usize,
    a: *const i16,
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    t: Tile,
) {
    use std::arch::x86_64::*;
    // SAFETY: every access stays inside the ranges promised by the caller.
    unsafe {
        let mut sums = [[0i32; NS]; R];
        for qt in 0..4 {
            let mut acc: [[__m256i; 2]; R] = [[_mm256_setzero_si256(); 2]; R];
            let mut bp = b.add(qt * 32);
            for k4 in (0..k).step_by(4) {
                // columns 8qt..8qt+4 and 8qt+4..8qt+8, four k each, as i16
                let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(bp as *const __m128i));
                let b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(bp.add(16) as *const __m128i));
                for r in 0..R {
                    // a[k4..k4+4] as i16, in every 64-bit lane
                    let av = _mm256_set1_epi64x((a.add(r * k + k4) as *const i64).read_unaligned());
                    acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
                    acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
                }
                bp = bp.add(128);
            }
            for r in 0..R {
                // [c0 c1 c4 c5 | c2 c3 c6 c7] -> [c0 .. c7]
                let s = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(acc[r][0], acc[r][1]));
                _mm256_storeu_si256(sums[r][qt * 8..].as_mut_ptr() as *mut __m256i, s);
            }
        }
        finish::<R, true, false>(&sums, b, c, ldc, t);
    }
}

/// The `R x 32` AVX-VNNI kernel (`R <= 6`): `vpdpbusd` on ymm, two 16-column passes.
///
/// # Safety
/// AVX2 + FMA + AVX-VNNI; `a` valid for `R` rows of `k` bytes at stride `k`; others as for
/// [`kernel_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avxvnni")]
#[allow(clippy::needless_range_loop)]
unsafe fn kernel_avx_vnni<const R: usize>(
    k: usize,
    a: *const u8,
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    t: Tile,
) {
    use std::arch::x86_64::*;
    // SAFETY: every access stays inside the ranges promised by the caller.
    unsafe {
        let mut sums = [[0i32; NS]; R];
        for h in 0..2 {
            let mut acc: [[__m256i; 2]; R] = [[_mm256_setzero_si256(); 2]; R];
            let mut bp = b.add(h * 64);
            for k4 in (0..k).step_by(4) {
                let b0 = _mm256_loadu_si256(bp as *const __m256i);
                let b1 = _mm256_loadu_si256(bp.add(32) as *const __m256i);
                for r in 0..R {
                    let av = _mm256_set1_epi32((a.add(r * k + k4) as *const i32).read_unaligned());
                    acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, b0);
                    acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, b1);
                }
                bp = bp.add(128);
            }
            for r in 0..R {
                let p = sums[r][h * 16..].as_mut_ptr();
                _mm256_storeu_si256(p as *mut __m256i, acc[r][0]);
                _mm256_storeu_si256(p.add(8) as *mut __m256i, acc[r][1]);
            }
        }
        finish::<R, true, false>(&sums, b, c, ldc, t);
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel_avx2<const R: usize>(
    _: usize,
    _: *const i16,
    _: *const i8,
    _: *mut f32,
    _: usize,
    _: Tile,
) {
    unreachable!("the AVX2 int8 kernel is only called on x86_64 CPUs with AVX2")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel_avx_vnni<const R: usize>(
    _: usize,
    _: *const u8,
    _: *const i8,
    _: *mut f32,
    _: usize,
    _: Tile,
) {
    unreachable!("the AVX-VNNI kernel is only called on x86_64 CPUs with AVX-VNNI")
}

/// The portable `R x 32` kernel (`R <= 4`), any target, on row-major strips: per k, every
/// row adds `u[k] · q[k][0..32]` (exact in i16: |u·q| <= 255·127 < 2^15) into 32 i32 lanes.
/// Contiguous, broadcast-scalar loops that LLVM vectorises on the baseline target (SSE2 on
/// x86-64, NEON on aarch64).
///
/// # Safety
/// `a` valid for `R` rows of `k` bytes at stride `k`; `b` for `k * 32` bytes (row-major
/// strip); others as for [`kernel_avx2`].
#[allow(clippy::needless_range_loop)]
unsafe fn kernel_portable<const R: usize>(
    k: usize,
    a: *const u8,
    b: *const i8,
    c: *mut f32,
    ldc: usize,
    t: Tile,
) {
    // SAFETY: every access stays inside the ranges promised by the caller.
    unsafe {
        let mut sums = [[0i32; NS]; R];
        let strip = std::slice::from_raw_parts(b, k * NS);
        for (kk, q) in strip.chunks_exact(NS).enumerate() {
            let q: &[i8; NS] = q.try_into().expect("a full strip row");
            for r in 0..R {
                let u = *a.add(r * k + kk) as i16;
                for j in 0..NS {
                    sums[r][j] += (q[j] as i16 * u) as i32;
                }
            }
        }
        finish::<R, { cfg!(target_arch = "aarch64") }, true>(&sums, b, c, ldc, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::tests::naive;
    use crate::pool::Exec;

    use crate::kernels::Kernels;

    fn all_kernels() -> Vec<Kernels> {
        let all = Kernels::available();
        for k in [
            Int8Kernel::Scalar,
            Int8Kernel::Avx2,
            Int8Kernel::AvxVnni,
            Int8Kernel::Avx512Vnni,
        ] {
            if !all.iter().any(|x| x.int8() == k) {
                eprintln!(
                    "int8 kernel {} skipped: {}",
                    k.name(),
                    if k.cpu_has() {
                        "above the CODEVEC_SIMD cap"
                    } else {
                        "this CPU lacks its instructions"
                    }
                );
            }
        }
        all
    }

    #[test]
    fn int8_product_is_close_to_f32_for_all_tile_remainders_threads_and_kernels() {
        for kernels in all_kernels() {
            eprintln!("int8 product with {kernels}");
            int8_product_is_close_to_f32(kernels);
        }
    }

    fn int8_product_is_close_to_f32(kernels: Kernels) {
        for &(m, k, n) in &[
            (1usize, 384usize, 64usize),
            (13, 384, 96),
            (14, 384, 32),
            (62, 384, 32),
            (200, 1536, 64),
            (400, 64, 32),
        ] {
            // one-signed and mixed rows, a zero row
            let a: Vec<f32> = (0..m * k)
                .map(|i| {
                    let row = i / k;
                    let v = ((i * 31 % 97) as f32 - 48.0) / 50.0;
                    match row % 3 {
                        0 => v,
                        1 => v.abs() * 3.0 - 0.1,
                        _ if row == 2 => 0.0,
                        _ => v * 0.01,
                    }
                })
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 17 % 89) as f32 - 44.0) / 60.0)
                .collect();
            let pw = PackedI8::pack(&w, k, n, kernels.int8());
            let want = naive(&a, &w, m, k, n);
            for threads in [1, 2] {
                let exec = Exec::new(threads, kernels).unwrap();
                let mut q = QuantRows::default();
                let bias: Vec<f32> = (0..n).map(|j| j as f32 / 100.0).collect();
                let mut c = vec![0.5f32; m * n];
                exec.run(|par| matmul_i8(&mut c, &a, m, &pw, Epilogue::Bias(&bias), &mut q, par));
                for i in 0..m {
                    // error bound: k * (half a step of a) * |w| + (half a step of w) * |a|
                    let row = &a[i * k..(i + 1) * k];
                    let (lo, hi) = row
                        .iter()
                        .fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
                    let sa = (hi - lo) / 255.0;
                    let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                    for j in 0..n {
                        let sw = (0..k).map(|kk| w[kk * n + j].abs()).fold(0f32, f32::max) / 127.0;
                        let bound = k as f32 * (0.5 * sa * 44.0 / 60.0 + 0.5 * sw * amax) + 1e-4;
                        let got = c[i * n + j] - bias[j];
                        let y = want[i * n + j];
                        assert!(
                            (got - y).abs() <= bound,
                            "m={m} k={k} n={n} t={threads} ({i},{j}): {got} vs {y} (bound {bound})"
                        );
                    }
                }
                let before = c.clone();
                exec.run(|par| matmul_i8(&mut c, &a, m, &pw, Epilogue::Accumulate, &mut q, par));
                for (idx, (x, b)) in c.iter().zip(&before).enumerate() {
                    let j = idx % n;
                    assert!((x - b - (b - bias[j])).abs() < 1e-3 * (1.0 + x.abs()));
                }
            }
        }
    }

    #[test]
    fn outlier_channels_are_taken_out_of_the_row_and_multiplied_exactly_by_every_kernel() {
        for kernels in all_kernels() {
            outlier_channels_are_taken_out(kernels);
        }
    }

    fn outlier_channels_are_taken_out(kernels: Kernels) {
        // rows like BERT's [CLS]: one channel ~40x the others
        let (m, k, n) = (5usize, 384usize, 64usize);
        let mut a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 70.0)
            .collect();
        for i in 0..m {
            a[i * k + 99] = 28.0 + i as f32;
            if i % 2 == 1 {
                a[i * k + 223] = -15.0;
            }
        }
        let w: Vec<f32> = (0..k * n)
            .map(|i| ((i * 13 % 83) as f32 - 41.0) / 90.0)
            .collect();
        let pw = PackedI8::pack(&w, k, n, kernels.int8());
        let want = naive(&a, &w, m, k, n);
        let exec = Exec::new(1, kernels).unwrap();
        let zero_bias = vec![0.0; n];
        let product = |w: &PackedI8, q: &mut QuantRows| {
            let mut c = vec![0.0f32; m * n];
            exec.run(|par| matmul_i8(&mut c, &a, m, w, Epilogue::Bias(&zero_bias), q, par));
            c
        };
        let mut q = QuantRows::default();
        let c = product(&pw, &mut q);
        let outliers = q.outliers(m);
        assert_eq!(outliers.len(), 5 + 2, "{outliers:?}");
        assert!(outliers.iter().all(|&(ch, _)| ch == 99 || ch == 223));
        for i in 0..m {
            // with the outliers out, the row's step is that of values within ±0.72
            let sa = 1.44 / 255.0;
            for j in 0..n {
                let sw = (0..k).map(|kk| w[kk * n + j].abs()).fold(0f32, f32::max) / 127.0;
                let amax = 28.0 + i as f32;
                let bound = k as f32 * 0.5 * sa * 0.46
                    + 2.0 * 0.5 * sw * amax
                    + (k as f32) * 0.5 * sw * 0.72;
                let (got, y) = (c[i * n + j], want[i * n + j]);
                assert!(
                    (got - y).abs() <= bound,
                    "({i},{j}): {got} vs {y} (bound {bound})"
                );
            }
        }
        // a matrix without outlier channels quantises the same rows whole
        product(
            &PackedI8::pack(&w, k, n, kernels.int8()).without_outliers(),
            &mut q,
        );
        assert!(q.outliers(m).is_empty(), "{:?}", q.outliers(m));
    }

    /// Activations like the encoder's: mixed-sign rows, one-signed (GELU-like) rows, a zero
    /// row, rows with massive outlier channels.
    fn test_activations(m: usize, k: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut a: Vec<f32> = (0..m * k).map(|_| next() * 3.0).collect();
        for i in 0..m {
            let row = &mut a[i * k..(i + 1) * k];
            match i % 5 {
                1 => row.iter_mut().for_each(|v| *v = v.abs() - 0.05),
                2 if i == 2 => row.iter_mut().for_each(|v| *v = 0.0),
                3 => {
                    row[7] = 40.0;
                    row[k - 1] = -25.0;
                    for c in 0..12 {
                        row[(c * 31) % k] += 9.0; // more candidates than MAX_OUTLIERS
                    }
                }
                _ => {}
            }
        }
        a
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn int8_integer_sums_and_quantisation_are_bit_identical_across_kernels() {
        let all = all_kernels();
        for &(m, k, n, outliers) in &[
            (1usize, 384usize, 64usize, true),
            (13, 384, 96, true),
            (37, 1536, 64, false),
            (110, 384, 128, true),
        ] {
            let a = test_activations(m, k, 0x9e37_79b9 + m as u64);
            let w: Vec<f32> = test_activations(k, n, 77 + k as u64)
                .iter()
                .map(|v| v * 0.05)
                .collect();
            let mut first: Option<(Kernels, Vec<i32>, Vec<u8>, Vec<f32>)> = None;
            for &kernels in &all {
                let pw = PackedI8::pack(&w, k, n, kernels.int8());
                let pw = if outliers { pw } else { pw.without_outliers() };
                let exec = Exec::new(1, kernels).unwrap();
                let mut q = QuantRows::default();
                let sums = exec.run(|par| int_sums(&a, m, &pw, &mut q, par));
                let bias: Vec<f32> = (0..n).map(|j| j as f32 / 50.0 - 1.0).collect();
                let mut c = vec![0f32; m * n];
                let mut q2 = QuantRows::default();
                exec.run(|par| {
                    matmul_i8(&mut c, &a, m, &pw, Epilogue::BiasGelu(&bias), &mut q2, par)
                });
                let bytes = q.data[..m * k].to_vec();
                match &first {
                    None => first = Some((kernels, sums, bytes, c)),
                    Some((k0, s0, b0, c0)) => {
                        assert!(
                            b0 == &bytes,
                            "quantised activations differ: {k0} vs {kernels}"
                        );
                        let diff = s0.iter().zip(&sums).filter(|(x, y)| x != y).count();
                        assert_eq!(
                            diff, 0,
                            "m={m} k={k} n={n}: {diff} i32 sums differ, {k0} vs {kernels}"
                        );
                        // the f32 epilogue (scales, bias, outliers, GELU) may only round
                        for (x, y) in c0.iter().zip(&c) {
                            assert!(
                                (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                                "epilogue {x} vs {y}: {k0} vs {kernels}"
                            );
                        }
                    }
                }
            }
            eprintln!(
                "m={m} k={k} n={n}: i32 sums identical across {}",
                all.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}
