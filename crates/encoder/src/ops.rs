//! Element-wise and row-wise kernels of the BERT forward pass: bias + erf-GELU, fused
//! (scaled) softmax, bias + residual layer norm, mean pooling and L2 normalisation.
//!
//! The bodies are plain Rust written so that LLVM vectorises them (branch-free, no libm
//! calls); each public kernel is compiled three times (AVX-512, AVX2+FMA, baseline) and the
//! best version for the running CPU is picked once at run time.

// The explicit lane loops index fixed-size chunks on purpose (that is what LLVM vectorises);
// clippy's iterator suggestion would obscure it.
#![allow(clippy::needless_range_loop)]

use crate::kernels::SimdLevel;

/// Defines `pub(crate) fn $name(level, args)` that runs a copy of `$body_fn` compiled for
/// `level` (the encoder's [`crate::Kernels`] level, which the CPU always supports).
macro_rules! dispatch {
    ($(#[$m:meta])* fn $name:ident($($arg:ident : $ty:ty),*) => $body:ident) => {
        $(#[$m])*
        pub(crate) fn $name(level: SimdLevel, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) { $body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) { $body($($arg),*) }
                match level {
                    // SAFETY: a Kernels level is always one the CPU supports (checked when the
                    // Kernels value is made); SimdLevel::Avx512 implies avx512f/vl/dq/bw,
                    // avx2 and fma, which is all this copy was compiled for.
                    SimdLevel::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above; SimdLevel::Avx2 implies avx2 and fma.
                    SimdLevel::Avx2 => return unsafe { avx2($($arg),*) },
                    SimdLevel::Scalar => {}
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = level;
            $body($($arg),*)
        }
    };
}

// ---------------------------------------------------------------------------------------
// GELU (exact erf form, as BERT's "gelu"), with a vectorisable rational erf.

/// `max(a, b)` as one `maxps` (no NaN special-casing, unlike `f32::max`: the kernels never
/// see NaN, the model's weights and inputs being finite).
#[inline(always)]
fn max_fast(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// `x` clamped to `[lo, hi]` as one `maxps` + one `minps` (see [`max_fast`]).
#[inline(always)]
fn clamp_fast(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// erf(x) for f32: the rational approximation used by Eigen/XLA (odd degree-13 numerator over
/// even degree-8 denominator, input clamped to [-4, 4]); max abs error ~4e-7.
#[inline(always)]
fn erf_f32(x: f32) -> f32 {
    let x = clamp_fast(x, -4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906e-4);
    p = x2.mul_add(p, -2.954_600_2e-3);
    p = x2.mul_add(p, -1.609_603_4e-2);
    p *= x;
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_5e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

#[inline(always)]
fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `gelu` on every value, in place. Inlined into its callers so that it is vectorised with
/// their instruction set (the AVX-512 GEMM epilogue, the GEMM fallback's separate pass).
#[inline(always)]
pub(crate) fn gelu_in_place(data: &mut [f32]) {
    for v in data.iter_mut() {
        *v = gelu_f32(*v);
    }
}

// ---------------------------------------------------------------------------------------
// exp and softmax

/// e^x for f32 (Cephes expf: range reduction by ln 2 and a degree-6 polynomial; ~1 ulp),
/// branch-free so that it vectorises. Inputs below -80 give exactly 0 (see the end).
#[inline(always)]
fn exp_f32(x_in: f32) -> f32 {
    let x = clamp_fast(x_in, -87.0, 88.0);
    // round(x / ln2) with the 1.5 * 2^23 trick (round-to-nearest-even, vectorises)
    const MAGIC: f32 = 12_582_912.0;
    let t = x.mul_add(std::f32::consts::LOG2_E, MAGIC);
    let n = t - MAGIC;
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let r2 = r * r;
    let mut p = r.mul_add(1.987_569_1e-4, 1.398_2e-3);
    p = r.mul_add(p, 8.333_452e-3);
    p = r.mul_add(p, 4.166_579_6e-2);
    p = r.mul_add(p, 1.666_666_5e-1);
    p = r.mul_add(p, 0.5); // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = r2.mul_add(p, r) + 1.0;
    // 2^n built from the integer sitting in t's low mantissa bits (a plain bit operation, so
    // it vectorises; `n as i32` would not, being a saturating conversion).
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let scale = f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    // Below -80 the result is exactly 0 rather than ~1e-35: softmax outputs that small would
    // only lead to subnormal products (and slow microcode assists) in the next matmul.
    if x_in < -80.0 {
        0.0
    } else {
        y * scale
    }
}

/// Lanes of the explicit multi-accumulator reductions below. Float addition is not
/// associative, so LLVM will not vectorise `sum += x` by itself; 16 independent accumulators
/// (one AVX-512 register) let it.
const LANES: usize = 16;

#[inline(always)]
fn max_of(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = max_fast(acc[i], c[i]);
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &v in chunks.remainder() {
        m = max_fast(m, v);
    }
    acc.iter().fold(m, |a, &b| max_fast(a, b))
}

#[inline(always)]
fn sum_of(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

/// `row = exp((row - max) * scale)`; returns the sum of the new values.
#[inline(always)]
fn exp_scaled_sum_in_place(row: &mut [f32], max: f32, scale: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            c[i] = exp_f32((c[i] - max) * scale);
            acc[i] += c[i];
        }
    }
    let mut tail = 0.0;
    for v in chunks.into_remainder() {
        *v = exp_f32((*v - max) * scale);
        tail += *v;
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn exp_scaled_rows_body(
    data: &mut [f32],
    row_stride: usize,
    row_len: usize,
    scale: f32,
    inv_sums: &mut [f32],
) {
    // With whole rows a multiple of LANES long, the padding takes part as -inf-like values
    // (their exp is exactly 0) so that every loop below runs on full vectors, without a
    // scalar remainder.
    let len = if row_stride.is_multiple_of(LANES) && data.len().is_multiple_of(row_stride) {
        row_stride
    } else {
        row_len
    };
    for (row, inv) in data.chunks_mut(row_stride).zip(inv_sums) {
        row[row_len..len].iter_mut().for_each(|v| *v = -1e30);
        let row = &mut row[..len];
        let max = max_of(row);
        *inv = 1.0 / exp_scaled_sum_in_place(row, max, scale);
    }
}

dispatch!(
    /// The unnormalised softmax of `scale * row` over the first `row_len` values of each
    /// `row_stride`-long row of `data`, in place (`scale > 0`): `row = exp(scale * (row -
    /// max))`, and `1 / Σ row` into `inv_sums` (one per row). The padding
    /// `row_len..row_stride` may be overwritten with values of about 0. (Attention applies
    /// the normalisation to its 32-wide output instead of to every score.)
    fn exp_scaled_rows(data: &mut [f32], row_stride: usize, row_len: usize, scale: f32, inv_sums: &mut [f32]) => exp_scaled_rows_body
);

// ---------------------------------------------------------------------------------------
// Layer norm

#[inline(always)]
fn bias_layer_norm_body(data: &mut [f32], bias: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    let inv_n = 1.0 / n as f32;
    for row in data.chunks_exact_mut(n) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += *b;
        }
        let mean = sum_of(row) * inv_n;
        let mut acc = [0.0f32; LANES];
        let mut chunks = row.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for i in 0..LANES {
                c[i] -= mean;
                acc[i] = c[i].mul_add(c[i], acc[i]);
            }
        }
        let mut var = acc.iter().sum::<f32>();
        for v in chunks.into_remainder() {
            *v -= mean;
            var = v.mul_add(*v, var);
        }
        let rstd = 1.0 / (var * inv_n + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v * rstd).mul_add(*g, *b);
        }
    }
}

dispatch!(
    /// For every row: `row = LayerNorm(row + bias) * gamma + beta` (row length = gamma.len()).
    fn bias_layer_norm(data: &mut [f32], bias: &[f32], gamma: &[f32], beta: &[f32], eps: f32)
        => bias_layer_norm_body
);

// ---------------------------------------------------------------------------------------
// Pooling

#[inline(always)]
fn mean_pool_normalize_body(rows: &[f32], out: &mut [f32]) {
    let n = out.len();
    out.iter_mut().for_each(|o| *o = 0.0);
    let count = rows.len() / n;
    for row in rows.chunks_exact(n) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += *v;
        }
    }
    // sentence-transformers: sum / clamp(count, 1e-9), then F.normalize (eps 1e-12)
    let inv = 1.0 / (count as f32).max(1e-9);
    let mut sq = 0.0f32;
    for o in out.iter_mut() {
        *o *= inv;
        sq = o.mul_add(*o, sq);
    }
    let inv_norm = 1.0 / sq.sqrt().max(1e-12);
    for o in out.iter_mut() {
        *o *= inv_norm;
    }
}

dispatch!(
    /// `out = normalize(mean over rows)` where `rows` holds `k` rows of length `out.len()`.
    fn mean_pool_normalize(rows: &[f32], out: &mut [f32]) => mean_pool_normalize_body
);

#[cfg(test)]
mod tests {
    use super::*;

    fn erf_ref(x: f64) -> f64 {
        if x.abs() > 3.0 {
            // asymptotic erfc series (the Taylor series below cancels catastrophically here)
            let z = x.abs();
            let z2 = z * z;
            let erfc = (-z2).exp() / (z * std::f64::consts::PI.sqrt())
                * (1.0 - 1.0 / (2.0 * z2) + 3.0 / (4.0 * z2 * z2) - 15.0 / (8.0 * z2 * z2 * z2));
            return x.signum() * (1.0 - erfc);
        }
        // Taylor series, accurate in f64 for |x| <= 3.
        let mut sum = 0.0;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 || n < 5.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
            if n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate() {
        let mut worst = 0.0f64;
        for i in -3000..=3000 {
            let x = i as f32 / 1000.0;
            let e = (erf_f32(x) as f64 - erf_ref(x as f64)).abs();
            worst = worst.max(e);
        }
        assert!(worst < 1e-6, "erf max error {worst}");
        assert!((erf_f32(10.0) - 1.0).abs() < 1e-6 && (erf_f32(-10.0) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn exp_is_accurate() {
        let mut worst = 0.0f64;
        for i in -8000..=8000 {
            let x = i as f32 / 100.0;
            let want = (x as f64).exp();
            let rel = ((exp_f32(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "exp max rel error {worst}");
    }

    #[test]
    fn kernels_match_scalar_definitions_at_every_simd_level() {
        for level in codevec_simd::available_levels() {
            eprintln!("ops at {}", level.name());
            kernels_match_scalar_definitions(level);
        }
    }

    fn kernels_match_scalar_definitions(level: SimdLevel) {
        let bias: Vec<f32> = (0..48).map(|i| (i as f32 - 24.0) / 10.0).collect();
        let data: Vec<f32> = (0..48 * 5)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0)
            .collect();

        let mut g: Vec<f32> = data
            .iter()
            .enumerate()
            .map(|(i, x)| x + bias[i % 48])
            .collect();
        gelu_in_place(&mut g);
        for (i, (&got, &x)) in g.iter().zip(&data).enumerate() {
            let v = (x + bias[i % 48]) as f64;
            let want = 0.5 * v * (1.0 + erf_ref(v / 2f64.sqrt()));
            assert!(
                (got as f64 - want).abs() < 2e-6 * (1.0 + v.abs()),
                "gelu({v}) = {got}, want {want}"
            );
        }

        // rows of 45 values padded to 48; the unnormalised form times 1/sum is softmax(0.3 x)
        let mut e = data.clone();
        let mut inv = [0.0f32; 5];
        exp_scaled_rows(level, &mut e, 48, 45, 0.3, &mut inv);
        for ((row_out, row_in), inv) in e.chunks(48).zip(data.chunks(48)).zip(inv) {
            let max = row_in[..45]
                .iter()
                .fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
            let z: f64 = row_in[..45]
                .iter()
                .map(|&v| (0.3 * (v as f64 - max)).exp())
                .sum();
            for (&o, &v) in row_out[..45].iter().zip(row_in) {
                let want = (0.3 * (v as f64 - max)).exp() / z;
                let got = o as f64 * inv as f64;
                assert!((got - want).abs() < 1e-6, "exp_scaled {got} vs {want}");
            }
            assert!(
                row_out[45..].iter().all(|&p| p == 0.0),
                "padding {row_out:?}"
            );
        }

        let gamma: Vec<f32> = (0..48).map(|i| 1.0 + i as f32 / 100.0).collect();
        let beta: Vec<f32> = (0..48).map(|i| i as f32 / 50.0).collect();
        let mut l = data.clone();
        bias_layer_norm(level, &mut l, &bias, &gamma, &beta, 1e-12);
        for (row_out, row_in) in l.chunks(48).zip(data.chunks(48)) {
            let v: Vec<f64> = row_in
                .iter()
                .zip(&bias)
                .map(|(a, b)| (*a + *b) as f64)
                .collect();
            let mean = v.iter().sum::<f64>() / 48.0;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 48.0;
            for j in 0..48 {
                let want = (v[j] - mean) / (var + 1e-12).sqrt() * gamma[j] as f64 + beta[j] as f64;
                assert!(
                    (row_out[j] as f64 - want).abs() < 1e-5,
                    "layernorm {} vs {want}",
                    row_out[j]
                );
            }
        }

        let mut pooled = vec![0.0f32; 48];
        mean_pool_normalize(level, &data, &mut pooled);
        let norm: f32 = pooled.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let mut mean = vec![0.0f64; 48];
        for row in data.chunks(48) {
            for j in 0..48 {
                mean[j] += row[j] as f64;
            }
        }
        let mnorm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
        for j in 0..48 {
            assert!((pooled[j] as f64 - mean[j] / mnorm).abs() < 1e-5);
        }
    }
}
