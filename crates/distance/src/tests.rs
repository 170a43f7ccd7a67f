//! SIMD kernels against the scalar references, for every length 1..=1024 (all SIMD tails).

use super::*;

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

fn close(what: &str, n: usize, got: f64, want: f64, scale: f64) {
    let tol = 1e-5 * scale.max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what} n={n}: got {got}, want {want} (tol {tol})"
    );
}

#[test]
fn f32_kernels_match_scalar_for_every_length() {
    for n in 1..=1024 {
        let a = rand_vec(n as u64, n);
        let b = rand_vec(n as u64 + 7919, n);
        let scale = scalar::dot(&a, &a).max(scalar::dot(&b, &b)) + scalar::l1(&a, &b);
        close(
            "l2sq",
            n,
            l2_squared(&a, &b),
            scalar::l2_squared(&a, &b),
            scale,
        );
        close("dot", n, inner_product(&a, &b), scalar::dot(&a, &b), scale);
        close("l1", n, l1_distance(&a, &b), scalar::l1(&a, &b), scale);
        close(
            "cos",
            n,
            cosine_distance(&a, &b),
            scalar::cosine_distance(&a, &b),
            1.0,
        );
        for (name, v) in l1::all_backends_f32(&a, &b) {
            close(name, n, v, scalar::l1(&a, &b), scale);
        }
    }
}

#[test]
fn f16_kernels_match_scalar_for_every_length() {
    for n in 1..=1024 {
        let a: Vec<f16> = rand_vec(n as u64, n)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        let b: Vec<f16> = rand_vec(n as u64 + 31, n)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        // the references widen the same f16 values, so only accumulation order differs
        let scale = scalar::dot(&a, &a).max(scalar::dot(&b, &b)) + scalar::l1(&a, &b);
        close(
            "l2sq16",
            n,
            l2_squared(&a, &b),
            scalar::l2_squared(&a, &b),
            scale,
        );
        close(
            "dot16",
            n,
            inner_product(&a, &b),
            scalar::dot(&a, &b),
            scale,
        );
        close("l1_16", n, l1_distance(&a, &b), scalar::l1(&a, &b), scale);
        close(
            "cos16",
            n,
            cosine_distance(&a, &b),
            scalar::cosine_distance(&a, &b),
            1.0,
        );
        for (name, v) in l1::all_backends_f16(&a, &b) {
            close(name, n, v, scalar::l1(&a, &b), scale);
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
    assert!((cosine_distance(&[1.0f32, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
    assert!(cosine_distance(&[1.0f32, 2.0], &[2.0, 4.0]).abs() < 1e-6);
    assert!((cosine_distance(&[1.0f32, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-6);
}

#[test]
fn cosine_with_zero_vectors_is_one() {
    let z = [0.0f32; 5];
    let v = [1.0f32, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(cosine_distance(&z, &v), 1.0);
    assert_eq!(cosine_distance(&v, &z), 1.0);
    assert_eq!(cosine_distance(&z, &z), 1.0);
    let zh = [f16::from_f32(-0.0); 3];
    assert_eq!(cosine_distance(&zh, &zh), 1.0);
    assert_eq!(scalar::cosine_distance(&z, &z), 1.0);
}

#[test]
fn simd_info_names_a_backend() {
    let s = simd_info();
    assert!(s.starts_with("simsimd: ") && s.contains("; l1: "), "{s}");
}
