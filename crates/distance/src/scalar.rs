//! Plain-loop reference kernels, accumulating in f64. Used to check the SIMD kernels and
//! as the baseline in the benchmarks.

use crate::Element;

/// Squared Euclidean distance.
pub fn l2_squared<E: Element>(a: &[E], b: &[E]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = x.to_f32() as f64 - y.to_f32() as f64;
            d * d
        })
        .sum()
}

/// Dot product.
pub fn dot<E: Element>(a: &[E], b: &[E]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.to_f32() as f64 * y.to_f32() as f64)
        .sum()
}

/// Cosine distance with the crate's zero-vector convention.
pub fn cosine_distance<E: Element>(a: &[E], b: &[E]) -> f64 {
    let (ab, aa, bb) = (dot(a, b), dot(a, a), dot(b, b));
    if aa == 0.0 || bb == 0.0 {
        return 1.0;
    }
    (1.0 - ab / (aa.sqrt() * bb.sqrt())).clamp(0.0, 2.0)
}

/// L1 distance.
pub fn l1<E: Element>(a: &[E], b: &[E]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.to_f32() as f64 - y.to_f32() as f64).abs())
        .sum()
}

/// Squared L2 distance the way a naive f32 loop computes it (the benchmarks' baseline).
pub fn l2_squared_f32_naive(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for i in 0..a.len() {
        let d = a[i] - b[i];
        s += d * d;
    }
    s
}
