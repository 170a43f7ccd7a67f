//! Dense (linear) layers: weights pre-packed once at load time into column panels, and an
//! AVX-512 f32 GEMM micro-kernel that streams activations against them.
//!
//! `C[M, N] (+)= A[M, K] · W[K, N]` with `A` and `C` row-major. `W` is stored as
//! `N / NR` panels of `K x NR` values (`NR = 32`, i.e. two AVX-512 registers): the kernel
//! reads one panel row (128 contiguous bytes) per `k` and broadcasts 12 activations, keeping a
//! 12 x 32 tile of `C` in 24 registers. Packing once at load time
//! removes the per-call packing of a generic GEMM, and the fixed tile suits the encoder's
//! shapes (N = 384, 1152, 1536; K = 384, 1536; M = tokens in the mini-batch).
//!
//! The kernel follows the encoder's SIMD level ([`crate::Kernels`], capped by
//! `CODEVEC_SIMD`): AVX-512 (12 x 32 tiles), AVX2 + FMA (6 x 32 tiles, two 16-column passes
//! of 12 ymm accumulators) or portable Rust (4 x 32 tiles, which LLVM vectorises for the
//! baseline target: SSE2 on x86-64, NEON on aarch64). No third-party GEMM is used, so the
//! cap holds for every product.

use crate::kernels::SimdLevel;
use crate::pool::Par;
use crate::storage::Buf;

/// Panel width (columns of `W` per panel).
pub(crate) const NR: usize = 32;
/// Depth of one pass over `K` (a 384 x 64 f32 panel slice is 96 KiB and stays in L2).
const KC: usize = 384;
/// Rows of `A` per cache block: MC x KC f32 = 144 KiB, L2-resident while all panels pass.
const MC: usize = 96;

/// A weight matrix `[K, N]`, packed into `N / NR` column panels of `K x NR` (owned, or a
/// slice of the mapped weights cache: see [`crate::storage`]).
pub(crate) struct PackedMatrix {
    k: usize,
    n: usize,
    data: Buf<f32>,
}

impl PackedMatrix {
    /// Packs a row-major `[k, n]` matrix (`n` must be a multiple of 64).
    pub(crate) fn pack(w: &[f32], k: usize, n: usize) -> PackedMatrix {
        assert_eq!(w.len(), k * n);
        assert_eq!(n % NR, 0, "dense: output width must be a multiple of {NR}");
        let mut buf = Buf::zeroed(k * n);
        let data = buf.as_mut();
        for p in 0..n / NR {
            for kk in 0..k {
                let src = &w[kk * n + p * NR..kk * n + (p + 1) * NR];
                data[(p * k + kk) * NR..(p * k + kk + 1) * NR].copy_from_slice(src);
            }
        }
        PackedMatrix { k, n, data: buf }
    }

    /// A matrix already packed (read back from the weights cache): `data` holds `k * n`
    /// values in the layout of [`PackedMatrix::pack`].
    pub(crate) fn from_packed(data: Buf<f32>, k: usize, n: usize) -> PackedMatrix {
        assert!(data.len() == k * n && n.is_multiple_of(NR));
        PackedMatrix { k, n, data }
    }

    /// The packed values, in panel order.
    pub(crate) fn data(&self) -> &Buf<f32> {
        &self.data
    }

    fn panel(&self, p: usize) -> &[f32] {
        &self.data[p * self.k * NR..(p + 1) * self.k * NR]
    }

    /// Element (kk, j), for tests.
    #[cfg(test)]
    fn get(&self, kk: usize, j: usize) -> f32 {
        self.panel(j / NR)[kk * NR + j % NR]
    }
}

/// A linear layer's weight matrix in the precision the encoder runs at.
pub(crate) enum Linear {
    F32(PackedMatrix),
    Int8(crate::int8::PackedI8),
}

impl Linear {
    /// Packs a row-major `[k, n]` matrix for `precision` (and the int8 kernel of `kernels`).
    pub(crate) fn new(
        w: &[f32],
        k: usize,
        n: usize,
        precision: crate::Precision,
        kernels: crate::Kernels,
    ) -> Linear {
        match precision {
            crate::Precision::F32 => Linear::F32(PackedMatrix::pack(w, k, n)),
            crate::Precision::Int8 => {
                Linear::Int8(crate::int8::PackedI8::pack(w, k, n, kernels.int8()))
            }
        }
    }

    /// For the int8 path: activation rows multiplied by this matrix are quantised whole,
    /// without outlier channels. No effect in f32.
    pub(crate) fn without_outliers(self) -> Linear {
        match self {
            Linear::Int8(w) => Linear::Int8(w.without_outliers()),
            f32 => f32,
        }
    }

    /// `C[m, n] = epilogue(A[m, k] · W)`; `q` is scratch for the int8 path.
    pub(crate) fn forward(
        &self,
        c: &mut [f32],
        a: &[f32],
        m: usize,
        epi: Epilogue<'_>,
        q: &mut crate::int8::QuantRows,
        par: &Par,
    ) {
        match self {
            Linear::F32(w) => matmul_packed(c, a, m, w, epi, par),
            Linear::Int8(w) => crate::int8::matmul_i8(c, a, m, w, epi, q, par),
        }
    }
}

/// What the GEMM does with its result.
#[derive(Clone, Copy)]
pub(crate) enum Epilogue<'a> {
    /// `C = A·W + bias`
    Bias(&'a [f32]),
    /// `C = gelu(A·W + bias)` (exact-erf GELU, see [`crate::ops`])
    BiasGelu(&'a [f32]),
    /// `C += A·W`
    Accumulate,
}

impl Epilogue<'_> {
    pub(crate) fn bias(&self) -> Option<&[f32]> {
        match self {
            Epilogue::Bias(b) | Epilogue::BiasGelu(b) => Some(b),
            Epilogue::Accumulate => None,
        }
    }
}

/// `C[m, n] = epilogue(A[m, k] · W)`, all row-major and contiguous.
pub(crate) fn matmul_packed(
    c: &mut [f32],
    a: &[f32],
    m: usize,
    w: &PackedMatrix,
    epi: Epilogue<'_>,
    par: &Par,
) {
    let (k, n) = (w.k, w.n);
    assert!(
        a.len() >= m * k && c.len() >= m * n,
        "dense: buffers too small"
    );
    if let Some(b) = epi.bias() {
        assert_eq!(b.len(), n, "dense: bias length");
    }
    let (a, c) = (&a[..m * k], &mut c[..m * n]);
    if m == 0 {
        return;
    }
    let level = par.level();
    let cptr = SharedC(c.as_mut_ptr());
    split_gemm(par, m, n / NR, MC, |rows, panels| {
        let mr = rows.end - rows.start;
        // SAFETY: split_gemm gives every task a disjoint (rows x panels) region of C; rows
        // rows.start..rows.end of C (m * n elements) start at rows.start * n, and C is not
        // accessed otherwise during this call.
        unsafe {
            rows_block_raw(
                level,
                cptr.get().add(rows.start * n),
                mr * n,
                &a[rows.start * k..rows.end * k],
                mr,
                w,
                panels,
                epi,
            )
        };
    });
}

/// How a GEMM of `m` rows and `panels` column panels (or strips) is spread over the workers:
/// blocks of `mc` whole rows per task when there are enough rows, otherwise (few rows, e.g. a
/// short query) ranges of panels over all rows. Calls `f(rows, panels)` once per task; the
/// tasks' `rows x panels` regions of C are disjoint. Shared by the f32 and int8 products.
pub(crate) fn split_gemm(
    par: &Par,
    m: usize,
    panels: usize,
    mc: usize,
    f: impl Fn(std::ops::Range<usize>, std::ops::Range<usize>) + Sync + Send,
) {
    if par.threads() == 1 {
        f(0..m, 0..panels);
    } else if m >= par.threads() * 2 * mc {
        par.for_each(m.div_ceil(mc), |ci| {
            f(ci * mc..((ci + 1) * mc).min(m), 0..panels)
        });
    } else {
        let tasks = par.threads().min(panels);
        par.for_each(tasks, |t| {
            f(0..m, (t * panels / tasks)..((t + 1) * panels / tasks))
        });
    }
}

/// The output matrix of a GEMM, shared by the tasks of [`split_gemm`].
#[derive(Clone, Copy)]
pub(crate) struct SharedC(pub(crate) *mut f32);
// SAFETY: used only to let the tasks of split_gemm write disjoint regions of one C (see the
// call sites).
unsafe impl Send for SharedC {}
// SAFETY: see above.
unsafe impl Sync for SharedC {}
impl SharedC {
    // A method (rather than `.0`) so closures capture the whole Send + Sync wrapper.
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Per-call store behaviour of the micro-kernel.
#[derive(Clone, Copy)]
struct Store {
    /// Add the current C values (otherwise overwrite).
    load_c: bool,
    /// Add this bias row (64 or 32 values at the tile's columns), or null.
    bias: *const f32,
    /// Apply GELU after adding.
    gelu: bool,
}

/// Computes panels `panels` of `C = epilogue(A · W)` for `m` rows.
///
/// # Safety
/// `c` must point to `c_len >= m * w.n` f32s, and the columns of the given panels in all `m`
/// rows must be valid for reads and writes and not accessed by anyone else meanwhile; the CPU
/// must support `level`.
#[allow(clippy::too_many_arguments)]
unsafe fn rows_block_raw(
    level: SimdLevel,
    c: *mut f32,
    c_len: usize,
    a: &[f32],
    m: usize,
    w: &PackedMatrix,
    panels: std::ops::Range<usize>,
    epi: Epilogue<'_>,
) {
    let (k, n) = (w.k, w.n);
    assert!(c_len >= m * n && a.len() >= m * k && panels.end <= n / NR);
    for i0 in (0..m).step_by(MC) {
        let mc = MC.min(m - i0);
        for p in panels.clone() {
            let panel = w.panel(p);
            for k0 in (0..k).step_by(KC) {
                let kc = KC.min(k - k0);
                let (first, last) = (k0 == 0, k0 + kc == k);
                for half in 0..NR / HALF {
                    let col = p * NR + half * HALF;
                    let store = Store {
                        load_c: !first || matches!(epi, Epilogue::Accumulate),
                        bias: match (first, epi.bias()) {
                            (true, Some(b)) => b[col..col + HALF].as_ptr(),
                            _ => std::ptr::null(),
                        },
                        gelu: last && matches!(epi, Epilogue::BiasGelu(_)),
                    };
                    let mut i = i0;
                    while i < i0 + mc {
                        let rows = tile_rows(level, i0 + mc - i);
                        // SAFETY: rows i..i+rows < m, columns col..col+HALF <= n and depth
                        // k0..k0+kc <= k are inside A (m*k), the panel (k*NR) and C (m*n), as
                        // asserted above; the bias slice has HALF values from col; the CPU
                        // supports `level` (the caller's contract).
                        unsafe {
                            let a_ptr = a.as_ptr().add(i * k + k0);
                            let b_ptr = panel.as_ptr().add(k0 * NR + half * HALF);
                            let c_ptr = c.add(i * n + col);
                            kernel_dispatch(level, rows, kc, a_ptr, k, b_ptr, NR, c_ptr, n, store);
                        }
                        i += rows;
                    }
                }
            }
        }
    }
}

/// Columns per micro-kernel tile (half a panel: two AVX-512 registers).
const HALF: usize = 32;
/// Rows per micro-kernel tile: 12 x 32 keeps 24 accumulators, with 2 vector loads of W and 12
/// broadcasts of A per step of k.
const ROWS: usize = 12;
/// A remainder of up to this many rows is done as one tile (26 or 28 accumulators), so that a
/// short query (14 tokens for 10 words) streams every weight once instead of twice.
const MAX_ROWS: usize = 14;

/// Rows per tile of the AVX2 kernel (two 16-column passes of 6 x 2 ymm accumulators).
const ROWS_AVX2: usize = 6;
/// Rows per tile of the portable kernel.
const ROWS_PORTABLE: usize = 4;

/// Rows of the next tile when `left` rows remain.
fn tile_rows(level: SimdLevel, left: usize) -> usize {
    match level {
        SimdLevel::Avx512 if left <= MAX_ROWS => left,
        SimdLevel::Avx512 => ROWS,
        SimdLevel::Avx2 => left.min(ROWS_AVX2),
        SimdLevel::Scalar => left.min(ROWS_PORTABLE),
    }
}

/// Calls `$kernel::<R>($args)` for `R = $rows` (a literal list of the allowed values).
macro_rules! by_rows {
    ($rows:expr, $kernel:ident, [$($r:literal),*], $args:tt) => {
        match $rows {
            $($r => $kernel::<$r> $args,)*
            r => unreachable!("micro-kernel rows {r} out of range"),
        }
    };
}
pub(crate) use by_rows;

/// The micro-kernel of `level` on an `rows x 32` tile (`rows <= tile_rows(level, rows)`).
///
/// # Safety
/// As for [`kernel`]; the CPU must support `level`.
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_dispatch(
    level: SimdLevel,
    rows: usize,
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    st: Store,
) {
    // SAFETY: in every arm, forwarded from the caller's contract; each level's kernel is only
    // called at that level, which the CPU supports.
    unsafe {
        match level {
            SimdLevel::Avx512 => kernel_dispatch_avx512(rows, kc, a, lda, b, ldb, c, ldc, st),
            SimdLevel::Avx2 => by_rows!(
                rows,
                kernel_avx2,
                [1, 2, 3, 4, 5, 6],
                (kc, a, lda, b, ldb, c, ldc, st)
            ),
            SimdLevel::Scalar => by_rows!(
                rows,
                kernel_portable,
                [1, 2, 3, 4],
                (kc, a, lda, b, ldb, c, ldc, st)
            ),
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn kernel_dispatch_avx512(
    rows: usize,
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    st: Store,
) {
    // SAFETY: in every arm, forwarded from the caller's contract.
    unsafe {
        match rows {
            14 => kernel::<14>(kc, a, lda, b, ldb, c, ldc, st),
            13 => kernel::<13>(kc, a, lda, b, ldb, c, ldc, st),
            12 => kernel::<12>(kc, a, lda, b, ldb, c, ldc, st),
            11 => kernel::<11>(kc, a, lda, b, ldb, c, ldc, st),
            10 => kernel::<10>(kc, a, lda, b, ldb, c, ldc, st),
            9 => kernel::<9>(kc, a, lda, b, ldb, c, ldc, st),
            8 => kernel::<8>(kc, a, lda, b, ldb, c, ldc, st),
            7 => kernel::<7>(kc, a, lda, b, ldb, c, ldc, st),
            6 => kernel::<6>(kc, a, lda, b, ldb, c, ldc, st),
            5 => kernel::<5>(kc, a, lda, b, ldb, c, ldc, st),
            4 => kernel::<4>(kc, a, lda, b, ldb, c, ldc, st),
            3 => kernel::<3>(kc, a, lda, b, ldb, c, ldc, st),
            2 => kernel::<2>(kc, a, lda, b, ldb, c, ldc, st),
            1 => kernel::<1>(kc, a, lda, b, ldb, c, ldc, st),
            _ => unreachable!("micro-kernel rows must be 1..=14"),
        }
    }
}

/// The `R x 32` micro-kernel: `C[0..R, 0..32] = store(A[0..R, 0..kc] · B[0..kc, 0..32])` where
/// `B` has row stride `ldb` (64 for a packed panel slice).
///
/// # Safety
/// CPU must support AVX-512F; `a` valid for `R` rows of `kc` reads at stride `lda`, `b` for
/// `kc` rows of 32 reads at stride `ldb`, `c` for `R` rows of 32 reads/writes at stride `ldc`,
/// `st.bias` null or valid for 32 reads.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    st: Store,
) {
    use std::arch::x86_64::*;
    // SAFETY: all pointer offsets stay within the ranges promised by the caller.
    unsafe {
        let mut t: [[__m512; 2]; R] = [[_mm512_setzero_ps(); 2]; R];
        let mut bp = b;
        for kk in 0..kc {
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            for r in 0..R {
                let av = _mm512_set1_ps(*a.add(r * lda + kk));
                t[r][0] = _mm512_fmadd_ps(av, b0, t[r][0]);
                t[r][1] = _mm512_fmadd_ps(av, b1, t[r][1]);
            }
            bp = bp.add(ldb);
        }
        let (bias0, bias1) = if st.bias.is_null() {
            (_mm512_setzero_ps(), _mm512_setzero_ps())
        } else {
            (_mm512_loadu_ps(st.bias), _mm512_loadu_ps(st.bias.add(16)))
        };
        for r in 0..R {
            store_row(
                c.add(r * ldc),
                _mm512_add_ps(t[r][0], bias0),
                _mm512_add_ps(t[r][1], bias1),
                st.load_c,
                st.gelu,
            );
        }
    }
}

/// Writes one 32-wide row of a micro-kernel tile, `v0 | v1`, to `cr`: added to the values
/// there if `load_c`, then GELU if `gelu` (shared by the f32 and int8 kernels).
///
/// # Safety
/// AVX-512F; `cr` valid for 32 f32 reads and writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn store_row(
    cr: *mut f32,
    mut v0: std::arch::x86_64::__m512,
    mut v1: std::arch::x86_64::__m512,
    load_c: bool,
    gelu: bool,
) {
    use std::arch::x86_64::*;
    // SAFETY: 32 values at cr, as the caller promises.
    unsafe {
        if load_c {
            v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr));
            v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr.add(16)));
        }
        _mm512_storeu_ps(cr, v0);
        _mm512_storeu_ps(cr.add(16), v1);
        if gelu {
            crate::ops::gelu_in_place(std::slice::from_raw_parts_mut(cr, HALF));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel<const R: usize>(
    _: usize,
    _: *const f32,
    _: usize,
    _: *const f32,
    _: usize,
    _: *mut f32,
    _: usize,
    _: Store,
) {
    unreachable!("the AVX-512 kernel is only called on x86_64 CPUs that have it")
}

/// `C[m, n] = A[m, k] · B[k, n]` for small strided operands (attention), `n` a multiple of
/// 32: `A` rows at stride `lda`, `B` rows at stride `ldb` (32-column blocks contiguous),
/// `C` rows at stride `ldc`, on the kernel of `level`.
///
/// # Safety
/// The CPU must support `level`; `a` must be valid for `m` rows of `k` reads at stride `lda`,
/// `b` for `k` rows of `n` reads at stride `ldb`, `c` for `m` rows of `n` writes at stride
/// `ldc`, and `c` must not overlap `a`/`b` or be accessed by anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn small_matmul(
    level: SimdLevel,
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    debug_assert!(n.is_multiple_of(HALF));
    let st = Store {
        load_c: false,
        bias: std::ptr::null(),
        gelu: false,
    };
    for j in (0..n).step_by(HALF) {
        let mut i = 0;
        while i < m {
            let rows = tile_rows(level, m - i).min(ROWS);
            // SAFETY: rows i..i+rows < m and columns j..j+32 <= n lie inside the ranges the
            // caller vouches for; the CPU supports `level` (the caller's contract).
            unsafe {
                kernel_dispatch(
                    level,
                    rows,
                    k,
                    a.add(i * lda),
                    lda,
                    b.add(j),
                    ldb,
                    c.add(i * ldc + j),
                    ldc,
                    st,
                )
            };
            i += rows;
        }
    }
}

/// Name of the kernel the f32 dense layers run at `level`.
pub(crate) fn kernel_name(level: SimdLevel) -> &'static str {
    match level {
        SimdLevel::Avx512 => "codevec avx512 12x32 f32, packed weights",
        SimdLevel::Avx2 => "codevec avx2+fma 6x32 f32, packed weights",
        SimdLevel::Scalar => "codevec portable 4x32 f32, packed weights",
    }
}

/// The `R x 32` AVX2 + FMA micro-kernel (`R <= 6`): two passes over 16 columns each, with
/// `2 R` ymm accumulators, 2 loads of W and `R` broadcasts of A per step of k; same contract
/// and epilogue as the AVX-512 [`kernel`].
///
/// # Safety
/// CPU must support AVX2 and FMA; pointers as for [`kernel`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn kernel_avx2<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    st: Store,
) {
    use std::arch::x86_64::*;
    // SAFETY: all pointer offsets stay within the ranges promised by the caller (R rows of
    // A and C, kc rows of 32 values of B, 32 bias values).
    unsafe {
        for h in [0usize, 16] {
            let mut t: [[__m256; 2]; R] = [[_mm256_setzero_ps(); 2]; R];
            let mut bp = b.add(h);
            for kk in 0..kc {
                let b0 = _mm256_loadu_ps(bp);
                let b1 = _mm256_loadu_ps(bp.add(8));
                for r in 0..R {
                    let av = _mm256_broadcast_ss(&*a.add(r * lda + kk));
                    t[r][0] = _mm256_fmadd_ps(av, b0, t[r][0]);
                    t[r][1] = _mm256_fmadd_ps(av, b1, t[r][1]);
                }
                bp = bp.add(ldb);
            }
            let (bias0, bias1) = if st.bias.is_null() {
                (_mm256_setzero_ps(), _mm256_setzero_ps())
            } else {
                (
                    _mm256_loadu_ps(st.bias.add(h)),
                    _mm256_loadu_ps(st.bias.add(h + 8)),
                )
            };
            for r in 0..R {
                let cr = c.add(r * ldc + h);
                let mut v0 = _mm256_add_ps(t[r][0], bias0);
                let mut v1 = _mm256_add_ps(t[r][1], bias1);
                if st.load_c {
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr.add(8)));
                }
                _mm256_storeu_ps(cr, v0);
                _mm256_storeu_ps(cr.add(8), v1);
                if st.gelu {
                    crate::ops::gelu_in_place(std::slice::from_raw_parts_mut(cr, 16));
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_avx2<const R: usize>(
    _: usize,
    _: *const f32,
    _: usize,
    _: *const f32,
    _: usize,
    _: *mut f32,
    _: usize,
    _: Store,
) {
    unreachable!("the AVX2 kernel is only called on x86_64 CPUs that have it")
}

/// `a * b + c`, fused where the target has a hardware FMA at its baseline (aarch64), plain
/// otherwise (a software `fmaf` call per product would make the portable path crawl).
#[inline(always)]
pub(crate) fn madd(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(any(target_arch = "aarch64", target_feature = "fma")) {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The portable `R x 32` micro-kernel (`R <= 4`): two passes over 16 columns with `R x 16`
/// accumulators, written for LLVM to vectorise on the baseline target; same contract and
/// epilogue as the AVX-512 [`kernel`].
///
/// # Safety
/// Pointers as for [`kernel`] (no CPU requirement).
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn kernel_portable<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    st: Store,
) {
    // SAFETY: all pointer offsets stay within the ranges promised by the caller (R rows of
    // A and C, kc rows of 32 values of B, 32 bias values).
    unsafe {
        for h in [0usize, 16] {
            let mut t = [[0f32; 16]; R];
            for kk in 0..kc {
                let brow = std::slice::from_raw_parts(b.add(kk * ldb + h), 16);
                for r in 0..R {
                    let av = *a.add(r * lda + kk);
                    for j in 0..16 {
                        t[r][j] = madd(av, brow[j], t[r][j]);
                    }
                }
            }
            for r in 0..R {
                let cr = std::slice::from_raw_parts_mut(c.add(r * ldc + h), 16);
                for j in 0..16 {
                    let mut v = t[r][j];
                    if !st.bias.is_null() {
                        v += *st.bias.add(h + j);
                    }
                    if st.load_c {
                        v += cr[j];
                    }
                    cr[j] = v;
                }
                if st.gelu {
                    crate::ops::gelu_in_place(cr);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pool::Exec;

    /// erf via numerical integration (Simpson), accurate enough for a 1e-3 check.
    fn erf64(x: f64) -> f64 {
        let steps = 2000;
        let h = x / steps as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..steps {
            s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    /// `A · W` in f64, rounded to f32 (the reference for the kernels' tests).
    pub(crate) fn naive(a: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * w[p * n + j] as f64)
                    .sum::<f64>() as f32;
            }
        }
        c
    }

    #[test]
    fn packed_gemm_matches_naive_for_all_row_remainders_threads_and_levels() {
        for level in codevec_simd::available_levels() {
            eprintln!("f32 dense at {}", level.name());
            packed_gemm_matches_naive(crate::Kernels::for_level(level).unwrap());
        }
    }

    fn packed_gemm_matches_naive(kernels: crate::Kernels) {
        for &(m, k, n) in &[
            (1usize, 384usize, 128usize),
            (13, 384, 64),
            (14, 384, 64),
            (110, 384, 64),
            (200, 800, 192),
            (7, 1536, 128),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31 % 97) as f32 - 48.0) / 50.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 17 % 89) as f32 - 44.0) / 60.0)
                .collect();
            let pw = PackedMatrix::pack(&w, k, n);
            assert_eq!(pw.get(3, n - 1), w[3 * n + n - 1]);
            let want = naive(&a, &w, m, k, n);
            for threads in [1, 2] {
                let exec = Exec::new(threads, kernels).unwrap();
                let mut c = vec![0.5f32; m * n];
                exec.run(|par| matmul_packed(&mut c, &a, m, &pw, Epilogue::Accumulate, par));
                for (x, y) in c.iter().zip(&want) {
                    assert!(
                        (x - 0.5 - y).abs() < 1e-3 * (1.0 + y.abs()),
                        "m={m} k={k} n={n}: {x} vs {y}"
                    );
                }
                let bias: Vec<f32> = (0..n).map(|j| j as f32 / 100.0 - 0.3).collect();
                exec.run(|par| matmul_packed(&mut c, &a, m, &pw, Epilogue::Bias(&bias), par));
                for (i, (x, y)) in c.iter().zip(&want).enumerate() {
                    let y = y + bias[i % n];
                    assert!((x - y).abs() < 1e-3 * (1.0 + y.abs()));
                }
                exec.run(|par| matmul_packed(&mut c, &a, m, &pw, Epilogue::BiasGelu(&bias), par));
                for (i, (x, y)) in c.iter().zip(&want).enumerate() {
                    let v = (y + bias[i % n]) as f64;
                    let g = 0.5 * v * (1.0 + erf64(v / 2f64.sqrt()));
                    assert!(
                        (*x as f64 - g).abs() < 1e-3 * (1.0 + g.abs()),
                        "gelu {x} vs {g}"
                    );
                }
            }
        }
    }
}
