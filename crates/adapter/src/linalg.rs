//! The few dense products training needs, over row-major `f32` matrices, run serially or
//! on a private worker pool. Every output element is one [`dot`] computed by one thread in
//! one fixed order, so results are the same bits for any number of threads (and, through
//! `codevec-distance`'s kernels, on every SIMD level and CPU).

use rayon::prelude::*;

use crate::AdapterError;

/// Dot product with `codevec-distance`'s f32 kernels (AVX-512 / AVX2 / portable,
/// bit-identical on each), rounded back to `f32`.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    codevec_distance::inner_product(a, b) as f32
}

/// Euclidean norm in `f64`.
#[inline]
pub(crate) fn norm(a: &[f32]) -> f64 {
    a.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()
}

/// Where row-parallel work runs: on the calling thread, or on a pool whose workers block
/// every signal (`codevec-threads`), as code inside a PostgreSQL backend must.
pub(crate) enum Exec {
    Serial,
    Pool(rayon::ThreadPool),
}

impl Exec {
    /// `threads` ≤ 1 runs everything on the calling thread.
    pub(crate) fn new(threads: usize) -> Result<Exec, AdapterError> {
        if threads <= 1 {
            return Ok(Exec::Serial);
        }
        codevec_threads::pool(threads, "codevec-adapter")
            .map(Exec::Pool)
            .map_err(|e| AdapterError::ThreadPool(e.to_string()))
    }

    /// Calls `f(i, row_i)` for every `row_len`-long row of `out`.
    pub(crate) fn rows<F>(&self, out: &mut [f32], row_len: usize, f: F)
    where
        F: Fn(usize, &mut [f32]) + Sync + Send,
    {
        match self {
            Exec::Serial => out
                .chunks_mut(row_len)
                .enumerate()
                .for_each(|(i, r)| f(i, r)),
            Exec::Pool(p) => p.install(|| {
                out.par_chunks_mut(row_len)
                    .enumerate()
                    .for_each(|(i, r)| f(i, r))
            }),
        }
    }

    /// `(0..n).map(f).collect()`, in order.
    pub(crate) fn map<T, F>(&self, n: usize, f: F) -> Vec<T>
    where
        T: Send,
        F: Fn(usize) -> T + Sync + Send,
    {
        match self {
            Exec::Serial => (0..n).map(f).collect(),
            Exec::Pool(p) => p.install(|| (0..n).into_par_iter().map(f).collect()),
        }
    }
}

/// `out = a · bᵀ`: `a` is `n × k`, `b` is `m × k`, `out` is `n × m`, i.e.
/// `out[i][j] = a_i · b_j`.
pub(crate) fn gemm_nt(exec: &Exec, a: &[f32], b: &[f32], k: usize, out: &mut [f32]) {
    let m = b.len() / k;
    debug_assert_eq!(out.len(), a.len() / k * m);
    exec.rows(out, m, |i, row| {
        let ai = &a[i * k..(i + 1) * k];
        for (j, o) in row.iter_mut().enumerate() {
            *o = dot(ai, &b[j * k..(j + 1) * k]);
        }
    });
}

/// `out = aᵀ`: `a` is `n × k`, `out` is `k × n`.
pub(crate) fn transpose(a: &[f32], k: usize, out: &mut [f32]) {
    let n = a.len() / k;
    debug_assert_eq!(out.len(), a.len());
    for (i, row) in a.chunks_exact(k).enumerate() {
        for (l, &x) in row.iter().enumerate() {
            out[l * n + i] = x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_nt_matches_a_plain_loop_and_is_thread_count_independent() {
        let (n, m, k) = (7, 5, 19);
        let a: Vec<f32> = (0..n * k)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let b: Vec<f32> = (0..m * k)
            .map(|i| ((i * 13 % 7) as f32 - 3.0) / 2.0)
            .collect();
        let mut serial = vec![0.0; n * m];
        gemm_nt(&Exec::Serial, &a, &b, k, &mut serial);
        for i in 0..n {
            for j in 0..m {
                let want: f64 = (0..k)
                    .map(|l| a[i * k + l] as f64 * b[j * k + l] as f64)
                    .sum();
                assert!((serial[i * m + j] as f64 - want).abs() < 1e-4);
            }
        }
        let mut pooled = vec![0.0; n * m];
        gemm_nt(&Exec::new(2).unwrap(), &a, &b, k, &mut pooled);
        assert_eq!(serial, pooled);
        let mut t = vec![0.0; n * k];
        transpose(&a, k, &mut t);
        assert_eq!(t[3 * n + 2], a[2 * k + 3]);
    }
}
