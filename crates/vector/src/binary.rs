//! The binary send/receive format, as pgvector's: `int16 dim`, `int16 0`, then `dim`
//! big-endian elements (IEEE binary32 for `embedding`, binary16 for `halfembedding`).

use crate::element::{check_finite, Element};
use crate::{check_dims, VectorError};

/// Encode a vector.
pub fn encode<E: Element>(v: &[E]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + v.len() * E::SIZE);
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    for &x in v {
        x.write_be(&mut out);
    }
    out
}

fn bad<E: Element>(detail: String) -> VectorError {
    VectorError::Binary {
        type_name: E::TYPE_NAME,
        detail,
    }
}

/// Decode a vector, checking the length, the reserved field and every element.
pub fn decode<E: Element>(buf: &[u8]) -> Result<Vec<E>, VectorError> {
    if buf.len() < 4 {
        return Err(bad::<E>(format!(
            "{} bytes is too short for the header",
            buf.len()
        )));
    }
    let dim = i16::from_be_bytes([buf[0], buf[1]]);
    let unused = i16::from_be_bytes([buf[2], buf[3]]);
    if dim < 0 {
        return Err(bad::<E>(format!("negative dimension count {dim}")));
    }
    let dim = dim as usize;
    check_dims(E::TYPE_NAME, dim)?;
    if unused != 0 {
        return Err(bad::<E>(format!("reserved field is {unused}, expected 0")));
    }
    let want = 4 + dim * E::SIZE;
    if buf.len() != want {
        return Err(bad::<E>(format!(
            "{} bytes for {dim} dimensions, expected {want}",
            buf.len()
        )));
    }
    buf[4..]
        .chunks_exact(E::SIZE)
        .map(|c| check_finite(E::read_be(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn round_trip() {
        let v = vec![1.5f32, -0.0, 3.4028235e38, 1e-45];
        assert_eq!(
            decode::<f32>(&encode(&v))
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let h = vec![f16::from_f32(0.1), f16::from_f32(-65504.0)];
        assert_eq!(decode::<f16>(&encode(&h)).unwrap(), h);
    }

    #[test]
    fn rejects_garbage() {
        let good = encode(&[1.0f32, 2.0]);
        assert!(decode::<f32>(&good[..3]).is_err());
        assert!(decode::<f32>(&good[..good.len() - 1]).is_err());
        let mut extra = good.clone();
        extra.push(0);
        assert!(decode::<f32>(&extra).is_err());
        let mut reserved = good.clone();
        reserved[3] = 1;
        assert!(decode::<f32>(&reserved).is_err());
        assert!(matches!(
            decode::<f32>(&[0, 0, 0, 0]),
            Err(VectorError::Empty { .. })
        ));
        assert!(matches!(
            decode::<f32>(&[0xff, 0xff, 0, 0]),
            Err(VectorError::Binary { .. })
        ));
        let nan = encode(&[f32::NAN]);
        assert!(matches!(
            decode::<f32>(&nan),
            Err(VectorError::NotFinite { .. })
        ));
        let mut big = vec![0x3e, 0x81, 0, 0]; // 16001 dims
        big.resize(4 + 16001 * 4, 0);
        assert!(matches!(
            decode::<f32>(&big),
            Err(VectorError::TooManyDims { .. })
        ));
    }
}
