//! The `f64` fallback loops (see the crate docs): every product of two finite `f32`
//! (hence of two `f16`) values is exact in `f64`, so the only error is the `f64`
//! rounding of the sums, at most `n·2⁻⁵³` relative to `Σ|terms|`. Four accumulators in a
//! fixed order, not dispatched: the same bits on every CPU.

use crate::Element;

#[inline(always)]
fn sum4<E: Element>(a: &[E], b: &[E], f: impl Fn(f64, f64) -> f64) -> f64 {
    assert_eq!(a.len(), b.len(), "operands have equal length");
    let mut s = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            s[l] += f(x[l].to_f32() as f64, y[l].to_f32() as f64);
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        s[l] += f(x.to_f32() as f64, y.to_f32() as f64);
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// `Σ aᵢbᵢ` in `f64`.
pub fn dot<E: Element>(a: &[E], b: &[E]) -> f64 {
    sum4(a, b, |x, y| x * y)
}

/// `Σ (aᵢ − bᵢ)²` in `f64` (the difference of two `f32` is exact in `f64` too).
pub fn l2_squared<E: Element>(a: &[E], b: &[E]) -> f64 {
    sum4(a, b, |x, y| (x - y) * (x - y))
}

/// `Σ |aᵢ − bᵢ|` in `f64`.
pub fn l1<E: Element>(a: &[E], b: &[E]) -> f64 {
    sum4(a, b, |x, y| (x - y).abs())
}

/// `(a·b, a·a, b·b)` in `f64`, each summed in the same order (so `b = -a` gives
/// `a·b = -(a·a)` exactly).
pub fn cos_parts<E: Element>(a: &[E], b: &[E]) -> (f64, f64, f64) {
    (dot(a, b), dot(a, a), dot(b, b))
}
