//! The element types: `f32` for `embedding`, `half::f16` for `halfembedding`.

use crate::VectorError;
use half::f16;

/// An element type of a stored vector.
pub trait Element: Copy + PartialOrd + Send + Sync + 'static {
    /// SQL type name of vectors of this element, for messages.
    const TYPE_NAME: &'static str;
    /// Bytes per element on disk and on the wire.
    const SIZE: usize;
    /// Widen to f32 (exact for both types).
    fn to_f32(self) -> f32;
    /// Narrow from f64 with round-to-nearest; `Err` whenever the result is not finite:
    /// [`VectorError::NotFinite`] for a NaN or infinite `x`, [`VectorError::OutOfRange`]
    /// for a finite `x` beyond the type's range. `text` is only used for the message.
    /// No constructor of this crate can therefore make a NaN or infinite element.
    fn from_f64_checked(x: f64, text: &dyn Fn() -> String) -> Result<Self, VectorError>;
    /// Big-endian bytes.
    fn write_be(self, out: &mut Vec<u8>);
    /// From big-endian bytes (`bytes.len() == SIZE`).
    fn read_be(bytes: &[u8]) -> Self;
    /// Shortest decimal text that reads back to the same value.
    fn write_text(self, out: &mut String);
}

impl Element for f32 {
    const TYPE_NAME: &'static str = "embedding";
    const SIZE: usize = 4;
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f64_checked(x: f64, text: &dyn Fn() -> String) -> Result<f32, VectorError> {
        reject_non_finite::<f32>(x)?;
        let y = x as f32;
        if !y.is_finite() {
            return Err(VectorError::OutOfRange {
                type_name: Self::TYPE_NAME,
                value: text(),
            });
        }
        Ok(y)
    }
    fn write_be(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_be_bytes());
    }
    fn read_be(bytes: &[u8]) -> f32 {
        f32::from_bits(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
    fn write_text(self, out: &mut String) {
        crate::text::write_f32(self, out)
    }
}

impl Element for f16 {
    const TYPE_NAME: &'static str = "halfembedding";
    const SIZE: usize = 2;
    #[inline]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline]
    fn from_f64_checked(x: f64, text: &dyn Fn() -> String) -> Result<f16, VectorError> {
        reject_non_finite::<f16>(x)?;
        let y = f16::from_f64(x);
        if !y.is_finite() {
            return Err(VectorError::OutOfRange {
                type_name: Self::TYPE_NAME,
                value: text(),
            });
        }
        Ok(y)
    }
    fn write_be(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_be_bytes());
    }
    fn read_be(bytes: &[u8]) -> f16 {
        f16::from_bits(u16::from_be_bytes([bytes[0], bytes[1]]))
    }
    fn write_text(self, out: &mut String) {
        crate::text::write_f16(self, out)
    }
}

/// `Err(NotFinite)` for a NaN or infinite `x`.
#[inline]
fn reject_non_finite<E: Element>(x: f64) -> Result<(), VectorError> {
    if x.is_nan() {
        Err(VectorError::NotFinite {
            type_name: E::TYPE_NAME,
            what: "NaN",
        })
    } else if x.is_infinite() {
        Err(VectorError::NotFinite {
            type_name: E::TYPE_NAME,
            what: "infinite value",
        })
    } else {
        Ok(())
    }
}

/// Reject NaN and infinities.
#[inline]
pub fn check_finite<E: Element>(x: E) -> Result<E, VectorError> {
    let v = x.to_f32();
    if v.is_nan() {
        Err(VectorError::NotFinite {
            type_name: E::TYPE_NAME,
            what: "NaN",
        })
    } else if v.is_infinite() {
        Err(VectorError::NotFinite {
            type_name: E::TYPE_NAME,
            what: "infinite value",
        })
    } else {
        Ok(x)
    }
}

/// Convert every element of `src` to `E`, checking range and finiteness.
pub fn convert_all<E: Element>(src: impl IntoIterator<Item = f64>) -> Result<Vec<E>, VectorError> {
    src.into_iter()
        .map(|x| {
            E::from_f64_checked(x, &|| {
                if x.abs() >= 1e15 {
                    format!("{x:e}")
                } else {
                    format!("{x}")
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> String {
        "x".into()
    }

    #[test]
    fn from_f64_checked_rejects_every_non_finite_result() {
        for x in [f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                f32::from_f64_checked(x, &t),
                Err(VectorError::NotFinite { .. })
            ));
            assert!(matches!(
                f16::from_f64_checked(x, &t),
                Err(VectorError::NotFinite { .. })
            ));
        }
        for x in [1e39, -1e39, f64::MAX] {
            assert!(matches!(
                f32::from_f64_checked(x, &t),
                Err(VectorError::OutOfRange { .. })
            ));
        }
        for x in [65520.0, -65520.0, 1e10] {
            assert!(matches!(
                f16::from_f64_checked(x, &t),
                Err(VectorError::OutOfRange { .. })
            ));
        }
        assert_eq!(f32::from_f64_checked(3.4028235e38, &t).unwrap(), f32::MAX);
        assert_eq!(f16::from_f64_checked(65504.0, &t).unwrap(), f16::MAX);
        assert_eq!(f32::from_f64_checked(1e-50, &t).unwrap(), 0.0);
        assert!(matches!(
            convert_all::<f32>([1.0, f64::NAN]),
            Err(VectorError::NotFinite { what: "NaN", .. })
        ));
        assert!(matches!(
            convert_all::<f16>([f64::NEG_INFINITY]),
            Err(VectorError::NotFinite {
                what: "infinite value",
                ..
            })
        ));
    }
}
