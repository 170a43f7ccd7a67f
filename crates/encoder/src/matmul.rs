//! Matrix multiplication: a bounds-checked wrapper over the f32 kernels of the `gemm` crate
//! (AVX-512 kernels when the CPU has them, FMA/AVX2 otherwise).

use gemm_common::Parallelism;

/// A strided matrix view: element (r, c) lives at `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with row stride `rs`.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Self {
        View {
            data,
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    fn check(&self, what: &str) {
        assert!(
            span(self.rows, self.cols, self.rs, self.cs) <= self.data.len(),
            "matmul: {what} view ({}x{}, strides {}/{}) exceeds its buffer of {}",
            self.rows,
            self.cols,
            self.rs,
            self.cs,
            self.data.len()
        );
    }
}

/// Number of elements a `rows x cols` strided view touches (max index + 1).
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// Name of the gemm kernel family the CPU gets.
pub(crate) fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "gemm 0.19 avx512f (x86-v4)";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "gemm 0.19 fma (x86-v3)";
        }
    }
    "gemm 0.19 scalar"
}

/// `dst = (accumulate ? dst : 0) + scale * lhs · rhs`, where `dst` is row-major with row
/// stride `dst_rs` and `lhs`/`rhs` are arbitrary strided views.
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    lhs: View<'_>,
    rhs: View<'_>,
    scale: f32,
    accumulate: bool,
    par: Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "matmul: inner dimensions differ");
    lhs.check("lhs");
    rhs.check("rhs");
    assert!(
        span(m, n, dst_rs, 1) <= dst.len(),
        "matmul: dst view exceeds its buffer"
    );
    // SAFETY: the three views were just checked to lie inside their slices; `dst` is borrowed
    // mutably, so it cannot alias `lhs` or `rhs` (which are shared borrows).
    unsafe {
        matmul_raw(
            dst.as_mut_ptr(),
            dst_rs,
            1,
            lhs,
            rhs,
            scale,
            accumulate,
            par,
        )
    }
}

/// Like [`matmul`] but writes through a raw pointer with arbitrary strides, for parallel tasks
/// that fill disjoint, interleaved parts of one buffer (e.g. one attention head's columns).
///
/// # Safety
/// Every element `dst[r * dst_rs + c * dst_cs]` for `r < lhs.rows`, `c < rhs.cols` must be
/// valid for writes (and reads when `accumulate`), must not be accessed by any other thread
/// during the call, and must not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_raw(
    dst: *mut f32,
    dst_rs: usize,
    dst_cs: usize,
    lhs: View<'_>,
    rhs: View<'_>,
    scale: f32,
    accumulate: bool,
    par: Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    debug_assert_eq!(rhs.rows, k);
    lhs.check("lhs");
    rhs.check("rhs");
    if m == 0 || n == 0 {
        return;
    }
    let gemm = gemm_f32::gemm::f32::get_gemm_fn();
    // The gemm kernels are column-major; a row-major problem is solved as its transpose
    // (dst^T = rhs^T · lhs^T), exactly like the `gemm` facade crate does.
    let (dst_cs_i, dst_rs_i) = (dst_cs as isize, dst_rs as isize);
    // SAFETY: bounds of lhs/rhs were checked above; the caller guarantees dst validity and
    // exclusivity. `alpha` multiplies the old dst (only read when `accumulate`), `beta` the
    // product.
    unsafe {
        if dst_cs_i < dst_rs_i {
            gemm(
                n,
                m,
                k,
                dst,
                dst_rs_i,
                dst_cs_i,
                accumulate,
                rhs.data.as_ptr(),
                rhs.rs as isize,
                rhs.cs as isize,
                lhs.data.as_ptr(),
                lhs.rs as isize,
                lhs.cs as isize,
                1.0,
                scale,
                false,
                false,
                false,
                par,
            )
        } else {
            gemm(
                m,
                n,
                k,
                dst,
                dst_cs_i,
                dst_rs_i,
                accumulate,
                lhs.data.as_ptr(),
                lhs.cs as isize,
                lhs.rs as isize,
                rhs.data.as_ptr(),
                rhs.cs as isize,
                rhs.rs as isize,
                1.0,
                scale,
                false,
                false,
                false,
                par,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    s += a[i * k + p] as f64 * b[p * n + j] as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    #[test]
    fn matches_naive_including_accumulate_and_transposed_views() {
        let (m, n, k) = (37, 29, 53);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let want = naive(m, n, k, &a, &b);

        let mut c = vec![0.0f32; m * n];
        matmul(
            &mut c,
            n,
            View::rows(&a, m, k, k),
            View::rows(&b, k, n, n),
            1.0,
            false,
            Parallelism::None,
        );
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }

        // b^T stored row-major as (n x k), viewed as (k x n) with swapped strides.
        let mut bt = vec![0.0f32; n * k];
        for p in 0..k {
            for j in 0..n {
                bt[j * k + p] = b[p * n + j];
            }
        }
        let mut c2 = vec![1.0f32; m * n];
        let rhs = View {
            data: &bt,
            rows: k,
            cols: n,
            rs: 1,
            cs: k,
        };
        matmul(
            &mut c2,
            n,
            View::rows(&a, m, k, k),
            rhs,
            0.5,
            true,
            Parallelism::None,
        );
        for (x, y) in c2.iter().zip(&want) {
            assert!((x - (1.0 + 0.5 * y)).abs() < 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    #[should_panic(expected = "exceeds its buffer")]
    fn rejects_out_of_bounds_views() {
        let a = vec![0.0f32; 10];
        let mut c = vec![0.0f32; 100];
        matmul(
            &mut c,
            10,
            View::rows(&a, 4, 4, 4),
            View::rows(&a, 4, 2, 2),
            1.0,
            false,
            Parallelism::None,
        );
    }
}
