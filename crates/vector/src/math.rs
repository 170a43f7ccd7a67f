//! Element-wise arithmetic, normalisation, sub-vectors, ordering and the aggregate state.

use crate::element::Element;
use crate::VectorError;
use std::cmp::Ordering;

/// Fail unless both operands have the same dimension count.
pub fn same_dims<E: Element>(a: &[E], b: &[E]) -> Result<(), VectorError> {
    if a.len() != b.len() {
        return Err(VectorError::DimMismatch {
            type_name: E::TYPE_NAME,
            left: a.len(),
            right: b.len(),
        });
    }
    Ok(())
}

fn zip_with<E: Element>(
    a: &[E],
    b: &[E],
    op: &'static str,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Vec<E>, VectorError> {
    same_dims(a, b)?;
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let r = f(x.to_f32() as f64, y.to_f32() as f64);
            let v = E::from_f64_checked(r, &String::new).map_err(|_| VectorError::Overflow {
                type_name: E::TYPE_NAME,
                op,
            })?;
            if v.to_f32().is_finite() {
                Ok(v)
            } else {
                Err(VectorError::Overflow {
                    type_name: E::TYPE_NAME,
                    op,
                })
            }
        })
        .collect()
}

/// `a + b`.
pub fn add<E: Element>(a: &[E], b: &[E]) -> Result<Vec<E>, VectorError> {
    zip_with(a, b, "addition", |x, y| x + y)
}

/// `a - b`.
pub fn sub<E: Element>(a: &[E], b: &[E]) -> Result<Vec<E>, VectorError> {
    zip_with(a, b, "subtraction", |x, y| x - y)
}

/// Element-wise (Hadamard) product.
pub fn mul<E: Element>(a: &[E], b: &[E]) -> Result<Vec<E>, VectorError> {
    zip_with(a, b, "multiplication", |x, y| x * y)
}

/// `a / ‖a‖`; the zero vector stays zero.
pub fn normalize<E: Element>(a: &[E]) -> Vec<E> {
    let norm = a
        .iter()
        .map(|x| (x.to_f32() as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return a.to_vec();
    }
    a.iter()
        .map(|x| {
            E::from_f64_checked(x.to_f32() as f64 / norm, &String::new).expect("|x|/norm <= 1")
        })
        .collect()
}

/// Elements `start .. start+count-1` (1-based, as pgvector's `subvector`), clipped to the
/// vector; an empty result is an error.
pub fn subvector<E: Element>(a: &[E], start: i32, count: i32) -> Result<Vec<E>, VectorError> {
    if count < 1 {
        return Err(VectorError::InvalidArgument {
            detail: format!(
                "{} must have at least 1 dimension (count is {count})",
                E::TYPE_NAME
            ),
        });
    }
    let first = (start as i64).max(1);
    let end = (start as i64 + count as i64).min(a.len() as i64 + 1); // exclusive, 1-based
    if end <= first {
        return Err(VectorError::InvalidArgument {
            detail: format!(
                "{} must have at least 1 dimension (start {start} is past dimension {})",
                E::TYPE_NAME,
                a.len()
            ),
        });
    }
    Ok(a[(first - 1) as usize..(end - 1) as usize].to_vec())
}

/// Total order for btree: element-wise, then by length (as pgvector).
pub fn compare<E: Element>(a: &[E], b: &[E]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.to_f32().partial_cmp(&y.to_f32()) {
            Some(Ordering::Equal) | None => continue,
            Some(o) => return o,
        }
    }
    a.len().cmp(&b.len())
}

/// Add `v` into the aggregate state `[count, sum_1, ..., sum_n]` (f64 sums).
pub fn accumulate<E: Element>(state: &mut Vec<f64>, v: &[E]) -> Result<(), VectorError> {
    if state.is_empty() {
        state.push(0.0);
    }
    if state[0] == 0.0 && state.len() == 1 {
        state.resize(v.len() + 1, 0.0);
    } else if state.len() - 1 != v.len() {
        return Err(VectorError::DimMismatch {
            type_name: E::TYPE_NAME,
            left: state.len() - 1,
            right: v.len(),
        });
    }
    state[0] += 1.0;
    for (s, x) in state[1..].iter_mut().zip(v) {
        *s += x.to_f32() as f64;
    }
    Ok(())
}

/// Merge two aggregate states (for parallel aggregation).
pub fn combine(type_name: &'static str, a: &[f64], b: &[f64]) -> Result<Vec<f64>, VectorError> {
    let count = |s: &[f64]| s.first().copied().unwrap_or(0.0);
    if count(a) == 0.0 {
        return Ok(b.to_vec());
    }
    if count(b) == 0.0 {
        return Ok(a.to_vec());
    }
    if a.len() != b.len() {
        return Err(VectorError::DimMismatch {
            type_name,
            left: a.len() - 1,
            right: b.len() - 1,
        });
    }
    Ok(a.iter().zip(b).map(|(x, y)| x + y).collect())
}

/// The sum of an aggregate state; `None` for no rows.
pub fn state_sum<E: Element>(state: &[f64]) -> Result<Option<Vec<E>>, VectorError> {
    finish(state, false, "sum")
}

/// The mean of an aggregate state; `None` for no rows.
pub fn state_avg<E: Element>(state: &[f64]) -> Result<Option<Vec<E>>, VectorError> {
    finish(state, true, "avg")
}

fn invalid_state<E: Element>(detail: String) -> VectorError {
    VectorError::InvalidState {
        type_name: E::TYPE_NAME,
        detail,
    }
}

/// Checks a state `[count, sum_1, ..., sum_n]` as SQL users can pass any
/// `double precision[]` to the final functions: `Ok(None)` for the empty state (count 0,
/// no rows), else the count, which must be a positive integer, with `1 ≤ n ≤ MAX_DIM`
/// finite sums.
fn check_state<E: Element>(state: &[f64]) -> Result<Option<f64>, VectorError> {
    let Some(&count) = state.first() else {
        return Ok(None);
    };
    if count == 0.0 {
        return Ok(None);
    }
    if !(count.is_finite() && count > 0.0 && count.fract() == 0.0) {
        return Err(invalid_state::<E>(format!(
            "count {count} is not a positive integer"
        )));
    }
    let dims = state.len() - 1;
    if dims == 0 {
        return Err(invalid_state::<E>(format!(
            "count {count} but no sums (the state needs at least 2 elements)"
        )));
    }
    if dims > crate::MAX_DIM {
        return Err(VectorError::TooManyDims {
            type_name: E::TYPE_NAME,
            dims,
        });
    }
    if let Some(i) = state[1..].iter().position(|s| !s.is_finite()) {
        return Err(invalid_state::<E>(format!(
            "sum {} is {}",
            i + 1,
            state[i + 1]
        )));
    }
    Ok(Some(count))
}

/// The sums (or, with `mean`, the sums divided by the count) of a checked state.
fn finish<E: Element>(
    state: &[f64],
    mean: bool,
    op: &'static str,
) -> Result<Option<Vec<E>>, VectorError> {
    let Some(count) = check_state::<E>(state)? else {
        return Ok(None);
    };
    let div = if mean { count } else { 1.0 };
    state[1..]
        .iter()
        .map(|s| {
            E::from_f64_checked(s / div, &String::new).map_err(|_| VectorError::Overflow {
                type_name: E::TYPE_NAME,
                op,
            })
        })
        .collect::<Result<Vec<E>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn arithmetic() {
        assert_eq!(add(&[1.0f32, 2.0], &[3.0, 4.0]).unwrap(), vec![4.0, 6.0]);
        assert_eq!(sub(&[1.0f32, 2.0], &[3.0, 4.0]).unwrap(), vec![-2.0, -2.0]);
        assert_eq!(mul(&[1.0f32, 2.0], &[3.0, 4.0]).unwrap(), vec![3.0, 8.0]);
        assert!(matches!(
            add(&[1.0f32], &[1.0, 2.0]),
            Err(VectorError::DimMismatch {
                left: 1,
                right: 2,
                ..
            })
        ));
        assert!(matches!(
            mul(&[3e38f32], &[10.0]),
            Err(VectorError::Overflow { .. })
        ));
        let h = [f16::from_f32(60000.0)];
        assert!(matches!(add(&h, &h), Err(VectorError::Overflow { .. })));
    }

    #[test]
    fn normalize_and_subvector() {
        assert_eq!(normalize(&[3.0f32, 4.0]), vec![0.6, 0.8]);
        assert_eq!(normalize(&[0.0f32, 0.0]), vec![0.0, 0.0]);
        let v = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(subvector(&v, 2, 3).unwrap(), vec![2.0, 3.0, 4.0]);
        assert_eq!(subvector(&v, 4, 10).unwrap(), vec![4.0, 5.0]);
        assert_eq!(subvector(&v, -1, 3).unwrap(), vec![1.0]);
        assert!(subvector(&v, 6, 1).is_err());
        assert!(subvector(&v, 1, 0).is_err());
        assert!(subvector(&v, i32::MAX, i32::MAX).is_err());
    }

    #[test]
    fn ordering() {
        assert_eq!(compare(&[1.0f32, 2.0], &[1.0, 3.0]), Ordering::Less);
        assert_eq!(compare(&[1.0f32, 2.0], &[1.0, 2.0]), Ordering::Equal);
        assert_eq!(compare(&[1.0f32, 2.0], &[1.0, 2.0, 0.0]), Ordering::Less);
        assert_eq!(compare(&[2.0f32], &[1.0, 2.0]), Ordering::Greater);
    }

    #[test]
    fn aggregate_state() {
        let mut s = vec![0.0];
        accumulate(&mut s, &[1.0f32, 2.0]).unwrap();
        accumulate(&mut s, &[3.0f32, 4.0]).unwrap();
        assert!(accumulate(&mut s, &[1.0f32]).is_err());
        let mut t = vec![0.0];
        accumulate(&mut t, &[5.0f32, 6.0]).unwrap();
        let c = combine("embedding", &s, &t).unwrap();
        assert_eq!(state_avg::<f32>(&c).unwrap().unwrap(), vec![3.0, 4.0]);
        assert_eq!(state_sum::<f32>(&c).unwrap().unwrap(), vec![9.0, 12.0]);
        assert_eq!(state_avg::<f32>(&[0.0]).unwrap(), None);
        assert_eq!(combine("embedding", &[0.0], &c).unwrap(), c);
        assert_eq!(state_sum::<f32>(&[]).unwrap(), None);
    }

    /// Reliability review #5: the final functions take any `double precision[]`.
    #[test]
    fn final_functions_validate_the_state() {
        let bad_state = |s: &[f64]| {
            for r in [
                state_sum::<f32>(s).map(|_| ()),
                state_avg::<f32>(s).map(|_| ()),
                state_sum::<f16>(s).map(|_| ()),
                state_avg::<f16>(s).map(|_| ()),
            ] {
                assert!(
                    matches!(r, Err(VectorError::InvalidState { .. })),
                    "{s:?}: {r:?}"
                );
            }
        };
        bad_state(&[1.0, f64::NAN, f64::INFINITY]);
        bad_state(&[1.0, f64::NAN, 1.0]);
        bad_state(&[2.0, 1.0, f64::NEG_INFINITY]);
        bad_state(&[0.0000001, 1.0]);
        bad_state(&[-1.0, 1.0]);
        bad_state(&[1.5, 1.0]);
        bad_state(&[f64::NAN, 1.0]);
        bad_state(&[f64::INFINITY, 1.0]);
        bad_state(&[1.0]);
        let e = state_avg::<f32>(&[0.0000001, 1.0]).unwrap_err().to_string();
        assert!(e.contains("not a positive integer"), "{e}");
        // finite sums whose result overflows the element type
        assert!(matches!(
            state_sum::<f32>(&[1.0, 1e39]),
            Err(VectorError::Overflow { .. })
        ));
        assert!(matches!(
            state_avg::<f16>(&[2.0, 1e6]),
            Err(VectorError::Overflow { .. })
        ));
        assert!(matches!(
            state_sum::<f32>(&vec![1.0; crate::MAX_DIM + 2]),
            Err(VectorError::TooManyDims { .. })
        ));
        // large integer counts are fine
        assert_eq!(state_avg::<f32>(&[1e15, 2e15]).unwrap().unwrap(), vec![2.0]);
        // every result element is finite
        assert_eq!(
            state_sum::<f16>(&[3.0, 65504.0]).unwrap().unwrap(),
            vec![f16::MAX]
        );
    }
}
