//! Minimal `.npy` reader (format versions 1.0–3.0) for little-endian
//! `float32` / `int32` C-order arrays — enough for the benchmark data.

use std::io::Read;
use std::path::Path;

/// A loaded array.
#[derive(Clone, Debug, PartialEq)]
pub struct Npy<T> {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major data.
    pub data: Vec<T>,
}

impl<T> Npy<T> {
    /// Rows (first axis).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
    /// Columns (product of the other axes).
    pub fn cols(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[T] {
        let c = self.cols();
        &self.data[i * c..(i + 1) * c]
    }
}

/// Element types the reader understands.
pub trait NpyElem: Sized + Copy {
    /// The `descr` string (`"<f4"`, `"<i4"`).
    const DESCR: &'static str;
    /// Decodes from 4 little-endian bytes.
    fn from_le(b: [u8; 4]) -> Self;
}

impl NpyElem for f32 {
    const DESCR: &'static str = "<f4";
    fn from_le(b: [u8; 4]) -> Self {
        f32::from_le_bytes(b)
    }
}

impl NpyElem for i32 {
    const DESCR: &'static str = "<i4";
    fn from_le(b: [u8; 4]) -> Self {
        i32::from_le_bytes(b)
    }
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Parses `.npy` bytes.
pub fn parse<T: NpyElem>(bytes: &[u8]) -> std::io::Result<Npy<T>> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file"));
    }
    let major = bytes[6];
    let (hlen, hstart) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let hend = hstart + hlen;
    if bytes.len() < hend {
        return Err(bad("truncated header"));
    }
    let header =
        std::str::from_utf8(&bytes[hstart..hend]).map_err(|_| bad("header is not UTF-8"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad("no descr"))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let want = T::DESCR;
    // '|' / '=' byte orders are fine on little-endian machines only for 1-byte types; accept '<'
    if descr != want {
        return Err(bad(format!("dtype {descr}, expected {want}")));
    }
    let fortran = dict_value(header, "fortran_order").ok_or_else(|| bad("no fortran_order"))?;
    if fortran.trim().starts_with("True") {
        return Err(bad("fortran_order arrays are not supported"));
    }
    let shape_s = dict_value(header, "shape").ok_or_else(|| bad("no shape"))?;
    let inner = shape_s.trim().trim_start_matches('(');
    let inner = &inner[..inner.find(')').ok_or_else(|| bad("bad shape"))?];
    let shape: Vec<usize> = inner
        .split(',')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("bad shape entry {s}")))
        })
        .collect::<Result<_, _>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[hend..];
    if body.len() < count * 4 {
        return Err(bad(format!(
            "data has {} bytes, shape needs {}",
            body.len(),
            count * 4
        )));
    }
    let data = body[..count * 4]
        .chunks_exact(4)
        .map(|c| T::from_le([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Npy { shape, data })
}

/// The raw text after `'key':` up to the next top-level comma or closing brace.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat1 = format!("'{key}':");
    let pat2 = format!("\"{key}\":");
    let pos = header
        .find(&pat1)
        .map(|p| p + pat1.len())
        .or_else(|| header.find(&pat2).map(|p| p + pat2.len()))?;
    let rest = &header[pos..];
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

/// Reads an `.npy` file.
pub fn read<T: NpyElem>(path: &Path) -> std::io::Result<Npy<T>> {
    let mut f = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    parse(&bytes).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(descr: &str, shape: &str, payload: &[u8], version: u8) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let pre = if version == 1 { 10 } else { 12 };
        while (pre + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut v = b"\x93NUMPY".to_vec();
        v.push(version);
        v.push(0);
        if version == 1 {
            v.extend((header.len() as u16).to_le_bytes());
        } else {
            v.extend((header.len() as u32).to_le_bytes());
        }
        v.extend(header.as_bytes());
        v.extend(payload);
        v
    }

    #[test]
    fn parses_2d_f32_and_i32() {
        let vals = [1.0f32, -2.5, 3.0, 4.0, 5.0, 6.0];
        let payload: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let a: Npy<f32> = parse(&make("<f4", "(2, 3)", &payload, 1)).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.row(1), &[4.0, 5.0, 6.0]);
        let ints: Vec<u8> = [7i32, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        let b: Npy<i32> = parse(&make("<i4", "(2,)", &ints, 2)).unwrap();
        assert_eq!(b.shape, vec![2]);
        assert_eq!(b.data, vec![7, -1]);
        assert!(parse::<i32>(&make("<f4", "(2, 3)", &payload, 1)).is_err());
        assert!(parse::<f32>(&make("<f4", "(3, 3)", &payload, 1)).is_err());
        assert!(parse::<f32>(b"garbage").is_err());
    }
}
