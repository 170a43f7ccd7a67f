//! The kernels against the `f64` references of [`scalar`], at every SIMD level this CPU
//! can run, for every length 1..=1024 (every tail), plus the extreme inputs of the
//! reliability review and bit-identity across levels.

use super::*;
use codevec_simd::available_levels;

/// Deterministic pseudo-random vectors (xorshift), values in [-2, 2).
fn rand_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn to_f16(v: &[f32]) -> Vec<f16> {
    v.iter().map(|&x| f16::from_f32(x)).collect()
}

/// Rigorous error allowance of the `f32` kernels for length `n`, relative to `Σ|terms|`
/// (each term passes through at most `n/16 + 8` roundings of `2⁻²⁴`), plus the `f64`
/// reference's own error.
fn gamma(n: usize) -> f64 {
    (n as f64 + 64.0) * f64::powi(2.0, -23)
}

fn abs_terms<E: Element>(a: &[E], b: &[E], f: impl Fn(f64, f64) -> f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f(x.to_f32() as f64, y.to_f32() as f64).abs())
        .sum()
}

/// Every public kernel at `level` against the `f64` references, with rigorous tolerances.
fn check_all<E: Element>(what: &str, level: SimdLevel, a: &[E], b: &[E]) {
    let n = a.len();
    let g = gamma(n);
    let close = |k: &str, got: f64, want: f64, scale: f64| {
        let tol = g * scale + 1e-300;
        assert!(
            (got - want).abs() <= tol,
            "{what} {k} {level:?} n={n}: got {got:e}, want {want:e} (tol {tol:e})"
        );
    };
    let l2s = scalar::l2_squared(a, b);
    close("l2sq", l2_squared_at(level, a, b), l2s, l2s);
    close("l2", l2_distance_at(level, a, b), l2s.sqrt(), l2s.sqrt());
    let sab = abs_terms(a, b, |x, y| x * y);
    close("dot", inner_product_at(level, a, b), scalar::dot(a, b), sab);
    close(
        "neg-ip",
        negative_inner_product_at(level, a, b),
        -scalar::dot(a, b),
        sab,
    );
    let l1 = scalar::l1(a, b);
    close("l1", l1_distance_at(level, a, b), l1, l1);
    let na = scalar::dot(a, a).sqrt();
    close("norm", l2_norm_at(level, a), na, na);
    let c = cosine_distance_at(level, a, b);
    assert!((0.0..=2.0).contains(&c), "{what} cos {level:?} n={n}: {c}");
    close("cos", c, scalar::cosine_distance(a, b), 4.0);
}

#[test]
fn kernels_match_scalar_for_every_length_and_level() {
    for level in available_levels() {
        for n in 1..=1024 {
            let a = rand_vec(n as u64, n);
            let b = rand_vec(n as u64 + 7919, n);
            check_all("f32", level, &a, &b);
            if n % 3 == 0 {
                check_all("f16", level, &to_f16(&a), &to_f16(&b));
            }
        }
    }
}

fn bits_of(level: SimdLevel, a: &[f32], b: &[f32]) -> Vec<u64> {
    let (ah, bh) = (to_f16(a), to_f16(b));
    let raw = |x: f32| x.to_bits() as u64;
    let (c0, c1, c2) = kernels::cos_f32(level, a, b);
    let (h0, h1, h2) = kernels::cos_f16(level, &ah, &bh);
    let mut out = vec![
        raw(kernels::dot_f32(level, a, b)),
        raw(kernels::l2sq_f32(level, a, b)),
        raw(kernels::l1_f32(level, a, b)),
        raw(c0),
        raw(c1),
        raw(c2),
        raw(kernels::dot_f16(level, &ah, &bh)),
        raw(kernels::l2sq_f16(level, &ah, &bh)),
        raw(kernels::l1_f16(level, &ah, &bh)),
        raw(h0),
        raw(h1),
        raw(h2),
    ];
    for v in [
        l2_squared_at(level, a, b),
        inner_product_at(level, a, b),
        cosine_distance_at(level, a, b),
        l1_distance_at(level, a, b),
        l2_norm_at(level, a),
        l2_squared_at(level, &ah, &bh),
        inner_product_at(level, &ah, &bh),
        cosine_distance_at(level, &ah, &bh),
        l1_distance_at(level, &ah, &bh),
    ] {
        out.push(v.to_bits());
    }
    out
}

#[test]
fn results_are_bit_identical_on_every_level() {
    let levels = available_levels();
    eprintln!("levels: {levels:?}");
    let mut lens: Vec<usize> = (0..=200).collect();
    lens.extend([
        255, 256, 257, 383, 384, 385, 767, 768, 1000, 1536, 1537, 3072, 16_000,
    ]);
    for (t, &n) in lens.iter().enumerate() {
        // ordinary, huge (overflowing f32 squares), tiny (underflowing) and mixed scales
        let scale = [1.0f32, 3e19, 1e-21, 1e-41][t % 4];
        let a: Vec<f32> = rand_vec(n as u64 + 1, n)
            .iter()
            .map(|x| x * scale)
            .collect();
        let mut b: Vec<f32> = rand_vec(n as u64 + 99, n);
        if t % 5 == 0 && n > 0 {
            b[n / 2] = 1e20;
        }
        let want = bits_of(SimdLevel::Scalar, &a, &b);
        for &level in &levels[1..] {
            assert_eq!(
                bits_of(level, &a, &b),
                want,
                "n={n} scale={scale} {level:?}"
            );
        }
    }
}

#[test]
fn reliability_review_inputs_at_every_level() {
    for level in available_levels() {
        let cos = |a: &[f32], b: &[f32]| cosine_distance_at(level, a, b);
        assert_eq!(cos(&[1.0, 0.0], &[-1.0, 0.0]), 2.0, "{level:?}");
        assert_eq!(cos(&[2e19, 0.0], &[-1.0, 0.0]), 2.0, "{level:?}");
        let (a, b) = ([1e-20f32, 1e-20], [1e-20f32, -2e-20]);
        let want = scalar::cosine_distance(&a, &b);
        assert!((want - (1.0 + 1.0 / 10f64.sqrt())).abs() < 1e-6);
        assert!(
            (cos(&a, &b) - want).abs() < 1e-12,
            "{level:?}: {}",
            cos(&a, &b)
        );
        let (big, zero) = ([3e19f32, 4e19], [0.0f32, 0.0]);
        let d = l2_distance_at(level, &big, &zero);
        assert!((d / 5e19 - 1.0).abs() < 1e-6, "{level:?}: {d}");
        let ip = inner_product_at(level, &big, &big);
        assert!((ip / 2.5e39 - 1.0).abs() < 1e-6, "{level:?}: {ip}");
        assert_eq!(
            negative_inner_product_at(level, &big, &big),
            -inner_product_at(level, &big, &big)
        );
        let n = l2_norm_at(level, &[2e19f32]);
        assert!((n / 2e19 - 1.0).abs() < 1e-6, "{level:?}: {n}");
        assert_eq!(
            l1_distance_at(level, &[3e38f32], &[-3e38]),
            2.0 * (3e38f32 as f64)
        );
        // a ∞-free but overflowing f32 square sum
        let row = [2e19f32, 1.0];
        for q in [[-1.0f32, 0.0], [-1e-20, 0.0], [1e-20, 1e-20]] {
            let got = cos(&row, &q);
            let want = scalar::cosine_distance(&row, &q);
            assert!(
                (got - want).abs() < 1e-12,
                "{level:?} {q:?}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn opposite_vectors_are_exactly_two_and_equal_ones_zero() {
    for level in available_levels() {
        for n in (1..300).chain([384, 768, 1536, 4099]) {
            for scale in [1.0f32, 1e19, 3e30, 1e-20, 1e-38, 1e-44] {
                let a: Vec<f32> = rand_vec(n as u64 * 3, n)
                    .iter()
                    .map(|x| x * scale)
                    .collect();
                if is_zero(&a) {
                    continue;
                }
                let b: Vec<f32> = a.iter().map(|x| -x).collect();
                assert_eq!(
                    cosine_distance_at(level, &a, &b),
                    2.0,
                    "{level:?} n={n} {scale}"
                );
                assert_eq!(
                    cosine_distance_at(level, &a, &a),
                    0.0,
                    "{level:?} n={n} {scale}"
                );
                assert_eq!(l2_squared_at(level, &a, &a), 0.0);
                assert_eq!(l1_distance_at(level, &a, &a), 0.0);
                let (ah, bh) = (to_f16(&a), to_f16(&b));
                if !is_zero(&ah) && ah.iter().all(|x| x.is_finite()) {
                    assert_eq!(cosine_distance_at(level, &ah, &bh), 2.0, "{level:?} n={n}");
                    assert_eq!(cosine_distance_at(level, &ah, &ah), 0.0, "{level:?} n={n}");
                }
            }
        }
    }
}

#[test]
fn huge_tiny_and_subnormal_inputs_match_f64_at_every_level() {
    let scales = [1e19f32, 3e25, 1e36, 1e-19, 1e-21, 1e-30, 1e-39, 1e-44];
    for level in available_levels() {
        for n in [1usize, 2, 3, 15, 16, 17, 63, 64, 65, 100, 384, 1536] {
            for (i, &sa) in scales.iter().enumerate() {
                for &sb in &[1.0f32, sa, scales[(i + 3) % scales.len()]] {
                    let a: Vec<f32> = rand_vec(n as u64 + 5, n).iter().map(|x| x * sa).collect();
                    let b: Vec<f32> = rand_vec(n as u64 + 9, n).iter().map(|x| x * sb).collect();
                    check_all("extreme", level, &a, &b);
                }
            }
            // one huge element among ordinary ones
            let mut a = rand_vec(n as u64, n);
            a[n / 2] = 2.5e19;
            let b = rand_vec(n as u64 + 1, n);
            check_all("one-huge", level, &a, &b);
            // the largest finite values
            let m = vec![f32::MAX; n];
            let mm: Vec<f32> = m.iter().map(|x| -x).collect();
            check_all("max", level, &m, &mm);
            assert_eq!(cosine_distance_at(level, &m, &mm), 2.0);
        }
    }
}

#[test]
fn f16_extremes_match_f64_at_every_level() {
    let vals = [65504.0f32, -65504.0, 6e-8, -6e-8, 6.1e-5, 1.0, -0.0, 0.0];
    for level in available_levels() {
        for n in [1usize, 7, 16, 33, 384, 1536, 16_000] {
            let mk = |seed: usize| -> Vec<f16> {
                (0..n)
                    .map(|i| f16::from_f32(vals[(i * 7 + seed) % vals.len()]))
                    .collect()
            };
            let (a, b) = (mk(0), mk(3));
            check_all("f16-extreme", level, &a, &b);
            let tiny: Vec<f16> = (0..n).map(|i| f16::from_bits(1 + (i % 5) as u16)).collect();
            check_all("f16-subnormal", level, &tiny, &a);
            check_all("f16-subnormal2", level, &tiny, &tiny);
            let neg: Vec<f16> = tiny.iter().map(|x| -*x).collect();
            assert_eq!(cosine_distance_at(level, &tiny, &neg), 2.0);
        }
    }
}

#[test]
fn known_values() {
    let a = [0.0f32, 0.0, 0.0];
    let b = [3.0f32, 4.0, 0.0];
    assert_eq!(l2_distance(&a, &b), 5.0);
    assert_eq!(l1_distance(&a, &b), 7.0);
    assert_eq!(inner_product(&b, &b), 25.0);
    assert_eq!(negative_inner_product(&b, &b), -25.0);
    assert_eq!(l2_norm(&b), 5.0);
    assert_eq!(cosine_distance(&[1.0f32, 0.0], &[0.0, 1.0]), 1.0);
    assert!(cosine_distance(&[1.0f32, 2.0], &[2.0, 4.0]).abs() < 1e-6);
    assert_eq!(cosine_distance(&[1.0f32, 0.0], &[-1.0, 0.0]), 2.0);
    let e: [f32; 0] = [];
    assert_eq!(l2_squared(&e, &e), 0.0);
    assert_eq!(cosine_distance(&e, &e), 1.0);
}

#[test]
fn cosine_with_zero_vectors_is_one() {
    let z = [0.0f32; 5];
    let v = [1.0f32, 2.0, 3.0, 4.0, 5.0];
    for level in available_levels() {
        assert_eq!(cosine_distance_at(level, &z, &v), 1.0);
        assert_eq!(cosine_distance_at(level, &v, &z), 1.0);
        assert_eq!(cosine_distance_at(level, &z, &z), 1.0);
        let zh = [f16::from_f32(-0.0); 3];
        assert_eq!(cosine_distance_at(level, &zh, &zh), 1.0);
        // a subnormal vector is not the zero vector
        let s = [1e-45f32, 0.0];
        assert_eq!(cosine_distance_at(level, &s, &s), 0.0);
        assert_eq!(cosine_distance_at(level, &s, &[0.0, 1e-45]), 1.0);
    }
    assert_eq!(scalar::cosine_distance(&z, &z), 1.0);
}

#[test]
#[should_panic(expected = "equal length")]
fn length_mismatch_panics() {
    l2_squared(&[1.0f32, 2.0], &[1.0]);
}

#[test]
fn simd_info_names_the_level() {
    let s = simd_info();
    assert!(
        s.starts_with(&format!("codevec-simd: {}", codevec_simd::level().name())),
        "{s}"
    );
}

#[test]
fn soft_fma_is_correctly_rounded() {
    let check = |a: f32, b: f32, c: f32| {
        let (got, want) = (kernels::soft_fma(a, b, c), a.mul_add(b, c));
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "fma({a:e}, {b:e}, {c:e}): {got:e} != {want:e}"
        );
    };
    // random bit patterns (all magnitudes, subnormals included)
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..300_000 {
        let r = next();
        let (a, b) = (f32::from_bits(r as u32), f32::from_bits((r >> 32) as u32));
        let c = f32::from_bits(next() as u32);
        check(a, b, c);
        // c close to -a·b: cancellation and exact zeros
        check(a, b, -(a * b));
        check(a, b, -(a * b).next_up());
    }
    // the kernels' typical operands, and halfway cases
    for _ in 0..300_000 {
        let r = next();
        let a = ((r & 0xFFFF) as f32 - 32768.0) / 4096.0;
        let b = (((r >> 16) & 0xFFFF) as f32 - 32768.0) / 4096.0;
        let c = (((r >> 32) & 0xFFFFFF) as f32 - 8e6) * 1e-3;
        check(a, b, c);
        check(
            1.0 + f32::EPSILON * (r % 7) as f32,
            1.0 - f32::EPSILON / 2.0,
            c,
        );
    }
    for (a, b, c) in [
        (1e-45, 1e-45, 0.0),
        (1e-45, 0.5, 1e-45),
        (1e-20, 1e-20, 0.0),
        (f32::MAX, 2.0, -f32::MAX),
        (f32::MAX, 1.0, f32::MAX),
        (f32::INFINITY, 0.0, 1.0),
        (1.0, 1.0, f32::NEG_INFINITY),
        (-0.0, 1.0, 0.0),
        (-0.0, 1.0, -0.0),
        (0.0, -1.0, -0.0),
    ] {
        check(a, b, c);
    }
}
