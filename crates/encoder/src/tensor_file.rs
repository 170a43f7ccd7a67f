//! A `.safetensors` file read tensor by tensor: the header is parsed once, every tensor is
//! read with a positioned read straight into its own buffer when asked for. Loading thus
//! never holds the whole file (~90 MB) next to the weights built from it, and the file is
//! read, not memory-mapped, so replacing it on disk can never crash a backend.
//!
//! Format: an 8-byte little-endian header length `n`, `n` bytes of JSON
//! (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`, plus an
//! optional `"__metadata__"`), then the data; offsets are relative to the end of the header.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::EncoderError;
use crate::storage::Buf;

/// Upper bound for the JSON header (the model's is ~8 KB).
const MAX_HEADER: u64 = 16 << 20;

struct Entry {
    dtype: String,
    shape: Vec<usize>,
    /// Absolute byte range in the file.
    begin: u64,
    end: u64,
}

pub(crate) struct TensorFile {
    path: PathBuf,
    file: File,
    tensors: HashMap<String, Entry>,
}

impl TensorFile {
    /// Opens `path` and validates its header: every tensor lies inside the file.
    pub(crate) fn open(path: &Path) -> Result<TensorFile, EncoderError> {
        let unreadable = |e| EncoderError::unreadable(path, e);
        let corrupt = |reason: String| EncoderError::corrupt(path, reason);
        let file = File::open(path).map_err(unreadable)?;
        let len = file.metadata().map_err(unreadable)?.len();
        let mut n = [0u8; 8];
        if len < 8 {
            return Err(corrupt(format!(
                "{len} bytes, too short for a safetensors file"
            )));
        }
        file.read_exact_at(&mut n, 0).map_err(unreadable)?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER || 8 + n > len {
            return Err(corrupt(format!(
                "header length {n} does not fit the file ({len} bytes): not a safetensors file, or truncated"
            )));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact_at(&mut header, 8).map_err(unreadable)?;
        let json: serde_json::Value = serde_json::from_slice(&header)
            .map_err(|e| corrupt(format!("header is not valid JSON: {e}")))?;
        let obj = json
            .as_object()
            .ok_or_else(|| corrupt("header is not a JSON object".into()))?;
        let data_start = 8 + n;
        let mut tensors = HashMap::with_capacity(obj.len());
        for (name, v) in obj {
            if name == "__metadata__" {
                continue;
            }
            let bad = || corrupt(format!("header entry of tensor \"{name}\" is malformed"));
            let dtype = v.get("dtype").and_then(|d| d.as_str()).ok_or_else(bad)?;
            let shape = v
                .get("shape")
                .and_then(|s| s.as_array())
                .ok_or_else(bad)?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(bad)?;
            let offsets = v
                .get("data_offsets")
                .and_then(|o| o.as_array())
                .filter(|o| o.len() == 2)
                .ok_or_else(bad)?;
            let (b, e) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
                (Some(b), Some(e)) if b <= e => (b, e),
                _ => return Err(bad()),
            };
            if data_start.checked_add(e).is_none_or(|end| end > len) {
                return Err(corrupt(format!(
                    "tensor \"{name}\" extends past the end of the file ({len} bytes): truncated"
                )));
            }
            tensors.insert(
                name.clone(),
                Entry {
                    dtype: dtype.to_owned(),
                    shape,
                    begin: data_start + b,
                    end: data_start + e,
                },
            );
        }
        Ok(TensorFile {
            path: path.to_owned(),
            file,
            tensors,
        })
    }

    /// Reads the f32 tensor `name`, which must have exactly `shape` and only finite values,
    /// into an aligned buffer of its own.
    pub(crate) fn f32(&self, name: &str, shape: &[usize]) -> Result<Buf<f32>, EncoderError> {
        let corrupt = |reason: String| EncoderError::corrupt(&self.path, reason);
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| corrupt(format!("tensor \"{name}\" is missing")))?;
        if t.dtype != "F32" {
            return Err(corrupt(format!(
                "tensor \"{name}\" has dtype {}, expected F32",
                t.dtype
            )));
        }
        if t.shape != shape {
            return Err(corrupt(format!(
                "tensor \"{name}\" has shape {:?}, expected {shape:?}",
                t.shape
            )));
        }
        let count: usize = shape.iter().product();
        if t.end - t.begin != count as u64 * 4 {
            return Err(corrupt(format!(
                "tensor \"{name}\" holds {} bytes, expected {}",
                t.end - t.begin,
                count * 4
            )));
        }
        let mut buf = Buf::<f32>::zeroed(count);
        let out = buf.as_mut();
        // SAFETY: the byte view covers exactly the `count` f32s of `out` (u8 has alignment 1)
        // and lives only for the read below; every bit pattern is a valid f32.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), count * 4) };
        self.file
            .read_exact_at(bytes, t.begin)
            .map_err(|e| EncoderError::unreadable(&self.path, e))?;
        // the file is little-endian (a no-op on x86_64)
        for v in out.iter_mut() {
            *v = f32::from_bits(u32::from_le(v.to_bits()));
        }
        if let Some(i) = out.iter().position(|x| !x.is_finite()) {
            return Err(corrupt(format!(
                "tensor \"{name}\" holds a non-finite value at {i}"
            )));
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, header: &str, data: &[u8]) -> PathBuf {
        let p = dir.join("t.safetensors");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_tensors_and_rejects_bad_headers_and_data() {
        let dir = std::env::temp_dir().join(format!("codevec-tf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let vals = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0];
        let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let h = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
        let tf = TensorFile::open(&write(&dir, h, &data)).unwrap();
        assert_eq!(&*tf.f32("a", &[2, 3]).unwrap(), &vals);
        let err = |r: Result<Buf<f32>, EncoderError>| r.unwrap_err().to_string();
        assert!(err(tf.f32("a", &[3, 2])).contains("has shape [2, 3]"));
        assert!(err(tf.f32("b", &[2])).contains("dtype F16"));
        assert!(err(tf.f32("c", &[1])).contains("\"c\" is missing"));

        let open_err = |h: &str, d: &[u8]| match TensorFile::open(&write(&dir, h, d)) {
            Ok(_) => panic!("accepted {h}"),
            Err(e) => e.to_string(),
        };
        // past the end (truncated), malformed entries, not JSON
        let past = r#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,48]}}"#;
        assert!(open_err(past, &data).contains("past the end"));
        let rev = r#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[24,0]}}"#;
        assert!(open_err(rev, &data).contains("malformed"));
        assert!(open_err("[1,2]", &data).contains("not a JSON object"));
        assert!(open_err("{nope", &data).contains("not valid JSON"));
        // a non-finite value
        let mut nan = data.clone();
        nan[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        let h = r#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#;
        let tf = TensorFile::open(&write(&dir, h, &nan)).unwrap();
        assert!(err(tf.f32("a", &[2, 3])).contains("non-finite value at 1"));
        // a header length beyond the file
        let p = dir.join("short.safetensors");
        std::fs::write(&p, b"this is not a safetensors file").unwrap();
        let e = TensorFile::open(&p).err().unwrap().to_string();
        assert!(e.contains("header length"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
