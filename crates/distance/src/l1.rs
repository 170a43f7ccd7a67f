//! L1 distance kernels (simsimd has none): AVX-512F and AVX2+F16C+FMA on x86_64 with
//! run-time detection, a portable loop elsewhere. f16 inputs are widened 8 or 16 lanes at a
//! time inside registers.

use half::f16;

/// Which L1 kernel this CPU uses.
pub fn backend() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            return "avx2";
        }
    }
    "serial"
}

/// Sum of |a[i] - b[i]| over f32 slices of equal length.
pub fn l1_f32(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "operands have equal length");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above); lengths are equal.
            return unsafe { x86::l1_f32_avx512(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above); lengths are equal.
            return unsafe { x86::l1_f32_avx2(a, b) };
        }
    }
    serial_f32(a, b)
}

/// Sum of |a[i] - b[i]| over f16 slices of equal length.
pub fn l1_f16(a: &[f16], b: &[f16]) -> f64 {
    assert_eq!(a.len(), b.len(), "operands have equal length");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (which includes the f16->f32 conversion
            // vcvtph2ps on zmm registers); lengths are equal.
            return unsafe { x86::l1_f16_avx512(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: AVX2 and F16C are available (checked just above); lengths are equal.
            return unsafe { x86::l1_f16_avx2(a, b) };
        }
    }
    serial_f16(a, b)
}

fn serial_f32(a: &[f32], b: &[f32]) -> f64 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        s += (x - y).abs();
    }
    s as f64
}

fn serial_f16(a: &[f16], b: &[f16]) -> f64 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        s += (x.to_f32() - y.to_f32()).abs();
    }
    s as f64
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use half::f16;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn l1_f32_avx512(a: &[f32], b: &[f32]) -> f64 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = _mm512_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, so 16 floats from offset i are in bounds of both slices.
            let d =
                unsafe { _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
            acc = _mm512_add_ps(acc, _mm512_abs_ps(d));
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u32 << (n - i)).wrapping_sub(1) as __mmask16;
            // SAFETY: masked loads touch only the n - i remaining in-bounds lanes.
            let d = unsafe {
                _mm512_sub_ps(
                    _mm512_maskz_loadu_ps(mask, pa.add(i)),
                    _mm512_maskz_loadu_ps(mask, pb.add(i)),
                )
            };
            acc = _mm512_add_ps(acc, _mm512_abs_ps(d));
        }
        _mm512_reduce_add_ps(acc) as f64
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn l1_f32_avx2(a: &[f32], b: &[f32]) -> f64 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let sign = _mm256_set1_ps(-0.0);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, so 8 floats from offset i are in bounds of both slices.
            let d =
                unsafe { _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
            acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, d));
            i += 8;
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` has room for 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut s: f32 = lanes.iter().sum();
        while i < n {
            s += (a[i] - b[i]).abs();
            i += 1;
        }
        s as f64
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn l1_f16_avx512(a: &[f16], b: &[f16]) -> f64 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr().cast::<u16>(), b.as_ptr().cast::<u16>());
        let mut acc = _mm512_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n: 16 u16 halves (32 bytes) from offset i are in bounds.
            let (x, y) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(pa.add(i).cast())),
                    _mm512_cvtph_ps(_mm256_loadu_si256(pb.add(i).cast())),
                )
            };
            acc = _mm512_add_ps(acc, _mm512_abs_ps(_mm512_sub_ps(x, y)));
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(acc);
        while i < n {
            s += (a[i].to_f32() - b[i].to_f32()).abs();
            i += 1;
        }
        s as f64
    }

    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn l1_f16_avx2(a: &[f16], b: &[f16]) -> f64 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr().cast::<u16>(), b.as_ptr().cast::<u16>());
        let sign = _mm256_set1_ps(-0.0);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n: 8 u16 halves (16 bytes) from offset i are in bounds.
            let (x, y) = unsafe {
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i).cast())),
                    _mm256_cvtph_ps(_mm_loadu_si128(pb.add(i).cast())),
                )
            };
            acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, _mm256_sub_ps(x, y)));
            i += 8;
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` has room for 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut s: f32 = lanes.iter().sum();
        while i < n {
            s += (a[i].to_f32() - b[i].to_f32()).abs();
            i += 1;
        }
        s as f64
    }
}

/// Force a specific back-end (tests only): compares every available kernel with the loop.
#[cfg(test)]
pub(crate) fn all_backends_f32(a: &[f32], b: &[f32]) -> Vec<(&'static str, f64)> {
    let mut out = vec![("serial", serial_f32(a, b))];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available.
            out.push(("avx512f", unsafe { x86::l1_f32_avx512(a, b) }));
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available.
            out.push(("avx2", unsafe { x86::l1_f32_avx2(a, b) }));
        }
    }
    out
}

/// Every available f16 kernel's answer (tests only).
#[cfg(test)]
pub(crate) fn all_backends_f16(a: &[f16], b: &[f16]) -> Vec<(&'static str, f64)> {
    let mut out = vec![("serial", serial_f16(a, b))];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available.
            out.push(("avx512f", unsafe { x86::l1_f16_avx512(a, b) }));
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: AVX2 and F16C are available.
            out.push(("avx2", unsafe { x86::l1_f16_avx2(a, b) }));
        }
    }
    out
}
