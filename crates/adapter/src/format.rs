//! The serialised adapter (stored by the SQL layer as `bytea`), little-endian:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `b"CVADAPT\0"` |
//! | 8 | 2 | format version ([`FORMAT_VERSION`]) |
//! | 10 | 2 | flags, 0 |
//! | 12 | 4 | dims `d` (1 ..= [`crate::MAX_DIMS`]) |
//! | 16 | 4·d² | `W`, row-major `f32` |
//! | 16 + 4·d² | 4·d | `b`, `f32` |
//! | end − 8 | 8 | FNV-1a 64 of every byte before it |
//!
//! FNV-1a's step (`h = (h ^ byte) · prime`, prime odd) is a bijection of the state for a
//! given byte, so any change confined to one byte always changes the checksum; a
//! truncated or extended blob fails the exact-length check first. Decoding also rejects
//! non-finite elements. 384 dimensions make 591,384 bytes.

use crate::adapter::check_dims;
use crate::{Adapter, AdapterError};

/// First 8 bytes of every serialised adapter.
pub const MAGIC: [u8; 8] = *b"CVADAPT\0";
/// The version [`Adapter::to_bytes`] writes and [`Adapter::from_bytes`] reads.
pub const FORMAT_VERSION: u16 = 1;
const HEADER: usize = 16;
const TRAILER: usize = 8;

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Bytes of a serialised adapter of `dims` dimensions.
pub fn serialized_len(dims: usize) -> usize {
    HEADER + 4 * (dims * dims + dims) + TRAILER
}

impl Adapter {
    /// The adapter as a self-checking blob (see [`crate::format`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let d = self.dims();
        let mut out = Vec::with_capacity(serialized_len(d));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(d as u32).to_le_bytes());
        for x in self.matrix().iter().chain(self.bias()) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads [`Adapter::to_bytes`]'s output back; a blob that is not an adapter, of another
    /// version, cut short, extended, or damaged anywhere is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Adapter, AdapterError> {
        if bytes.len() < HEADER + TRAILER {
            return Err(AdapterError::Corrupt("shorter than the header"));
        }
        if bytes[0..8] != MAGIC {
            return Err(AdapterError::Corrupt("not a codevec adapter (bad magic)"));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return Err(AdapterError::UnsupportedVersion(version));
        }
        let dims = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        if check_dims(dims).is_err() {
            return Err(AdapterError::Corrupt("dimensions out of range"));
        }
        if bytes.len() != serialized_len(dims) {
            return Err(AdapterError::Corrupt(
                if bytes.len() < serialized_len(dims) {
                    "truncated"
                } else {
                    "trailing bytes"
                },
            ));
        }
        let body = bytes.len() - TRAILER;
        let stored = u64::from_le_bytes(bytes[body..].try_into().expect("8 bytes"));
        if fnv1a64(&bytes[..body]) != stored {
            return Err(AdapterError::Corrupt("checksum mismatch"));
        }
        if u16::from_le_bytes([bytes[10], bytes[11]]) != 0 {
            return Err(AdapterError::Corrupt("unknown flags"));
        }
        let mut vals = bytes[HEADER..body]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let w: Vec<f32> = vals.by_ref().take(dims * dims).collect();
        let b: Vec<f32> = vals.collect();
        Adapter::from_parts(dims, w, b).map_err(|_| AdapterError::Corrupt("non-finite element"))
    }
}
