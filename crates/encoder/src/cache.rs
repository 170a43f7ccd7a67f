//! The packed-weights cache: one file per model directory and kernel layout holding every
//! array the forward pass reads, already packed (f32 panels, or int8 strips with their
//! scales and column sums), each array 64-byte aligned. Processes map it read-only and the
//! kernels read straight from the mapping, so the pages are shared through the page cache:
//! one copy of the weights per server instead of one per backend.
//!
//! File format (all header integers little-endian; the arrays in native byte order, which
//! the layout id names):
//!
//! ```text
//! 0    magic "CVWEIGHT"
//! 8    u32 format version (FORMAT_VERSION)
//! 12   u32 header length h = 160 + 24 n + 4
//! 16   u32 precision (0 f32, 1 int8)
//! 20   u32 n, number of arrays
//! 24   [32] layout id, ASCII, NUL-padded (e.g. "f32-panel32-p1-le")
//! 56   [16] crate version, ASCII, NUL-padded
//! 72   u64 size of model.safetensors      80  u64 size of config.json
//! 88   u32 CRC-32 of model.safetensors    92  u32 CRC-32 of config.json
//! 96   u64 payload offset (h rounded up to 4096)
//! 104  u64 payload length (file length - payload offset)
//! 112  u32 CRC-32 of the payload
//! 116  [12] zero
//! 128  model.safetensors as stat(2) saw it when its CRC was taken: u64 st_dev,
//!      u64 st_ino, i64 mtime and i64 ctime in nanoseconds (all zero: not recorded)
//! 160  n x { u32 type tag (1 f32, 2 i8, 3 i32), u32 0, u64 file offset, u64 count }
//! h-4  u32 CRC-32 of bytes 0..h-4
//! payload: the arrays in the order of `Weights::arrays`, each at a multiple of 64 bytes,
//!          zero padding between
//! ```
//!
//! A file is used only if everything matches: magic, version, header checksum, layout id,
//! precision, crate version, the fingerprint of the model files (size and CRC-32 of
//! `model.safetensors` and `config.json`), the length, the payload checksum and every
//! table entry (type, count, alignment, bounds). Anything else is rebuilt.
//!
//! `config.json` is read and checksummed at every load. The 90 MB `model.safetensors` is
//! read and checksummed again only when its stat(2) identity differs from the one recorded
//! with its CRC: the device, inode, size, mtime **and ctime**. Reading it took half of a
//! mapped load. A file replaced by a rename has a new inode. A file written in place has a
//! new ctime even when its size and mtime are put back: the kernel sets ctime on every
//! change, and no system call sets it to a chosen value. Such files are therefore still
//! detected and rebuilt. Only a change of the system clock combined with a raw write to the
//! block device could slip past, and the payload checksum still guards the cache file
//! itself.
//!
//! Creation is safe with many processes starting at once: each builds into its own
//! temporary file in the cache directory (`.<name>.<pid>.<random>.tmp`, mode 0444), fsyncs
//! it and publishes it with `link` (fails if the file exists: the loser maps the winner's
//! file) or, to replace a stale file, `rename` (atomic), then fsyncs the directory. No
//! process ever maps a half-written file. Cache files are never written in place; a file
//! truncated in place by someone else while mapped would fault the processes mapping it.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::kernels::{Int8Kernel, Kernels};
use crate::storage::{trim_heap, Buf, Element, Region, ALIGN};
use crate::weights::{self, ArraySource, Config, Weights};
use crate::{EncoderError, Precision, WeightsSource};

pub(crate) const MAGIC: [u8; 8] = *b"CVWEIGHT";
/// Version of the file format above.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Version of the packing and quantisation code: bump it whenever the packed bytes of the
/// same model could change (panel layout, column scales, rounding …), so that old cache
/// files are rebuilt.
pub(crate) const PACK_VERSION: u32 = 1;
const FIXED: usize = 160;
const ENTRY: usize = 24;
const PAGE: usize = 4096;
/// Temporary files of crashed writers older than this are removed by the next writer.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(600);

/// What determines the packed byte layout: precision, panel/strip width, the int8 strip
/// variant (4-deep byte groups for the SIMD kernels, row-major for the portable one), the
/// packing version and the byte order.
pub(crate) fn layout_id(precision: Precision, kernels: Kernels) -> String {
    let endian = if cfg!(target_endian = "little") {
        "le"
    } else {
        "be"
    };
    match precision {
        Precision::F32 => format!("f32-panel{}-p{PACK_VERSION}-{endian}", crate::dense::NR),
        Precision::Int8 if kernels.int8() == Int8Kernel::Scalar => {
            format!("int8-rows{}-p{PACK_VERSION}-{endian}", crate::int8::NS)
        }
        Precision::Int8 => format!("int8-quad{}-p{PACK_VERSION}-{endian}", crate::int8::NS),
    }
}

/// Size and CRC-32 of the model files the weights are built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    model_len: u64,
    model_crc: u32,
    config_len: u64,
    config_crc: u32,
}

impl Fingerprint {
    pub(crate) fn of(weights: &Path, config: &Path) -> std::io::Result<Fingerprint> {
        let (model_len, model_crc) = file_crc(weights)?;
        let (config_len, config_crc) = file_crc(config)?;
        Ok(Fingerprint {
            model_len,
            model_crc,
            config_len,
            config_crc,
        })
    }
}

/// A file's identity as stat(2) reports it: device, inode, size, mtime and ctime (see the
/// module doc). `None` where the platform has no such fields or stat fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stamp {
    #[cfg(unix)]
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        let ns = |s: i64, n: i64| s.checked_mul(1_000_000_000)?.checked_add(n);
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec())?,
            ctime_ns: ns(m.ctime(), m.ctime_nsec())?,
        })
        .filter(Stamp::recordable)
    }

    #[cfg(not(unix))]
    pub(crate) fn of(_path: &Path) -> Option<Stamp> {
        None
    }

    /// What an unrecorded stamp reads as.
    const NONE: Stamp = Stamp {
        dev: 0,
        ino: 0,
        len: 0,
        mtime_ns: 0,
        ctime_ns: 0,
    };

    /// Whether the header bytes of this stamp differ from an unrecorded one (all zero).
    fn recordable(&self) -> bool {
        (self.dev, self.ino, self.mtime_ns, self.ctime_ns) != (0, 0, 0, 0)
    }

    fn write(stamp: Option<Stamp>, h: &mut [u8]) {
        let s = stamp.unwrap_or(Stamp::NONE);
        h[0..8].copy_from_slice(&s.dev.to_le_bytes());
        h[8..16].copy_from_slice(&s.ino.to_le_bytes());
        h[16..24].copy_from_slice(&s.mtime_ns.to_le_bytes());
        h[24..32].copy_from_slice(&s.ctime_ns.to_le_bytes());
    }

    /// The stamp recorded in a header (its size is the fingerprint's `model_len`).
    fn read(h: &[u8], len: u64) -> Option<Stamp> {
        let s = Stamp {
            dev: u64_at(h, 0),
            ino: u64_at(h, 8),
            len,
            mtime_ns: u64_at(h, 16) as i64,
            ctime_ns: u64_at(h, 24) as i64,
        };
        Some(s).filter(Stamp::recordable)
    }
}

/// The model files a cache file must match: the config's size and CRC (always computed),
/// the model file's stamp, and its full fingerprint, computed on first need.
pub(crate) struct Sources<'a> {
    weights: &'a Path,
    config_fp: (u64, u32),
    stamp: Option<Stamp>,
    fingerprint: std::cell::OnceCell<Result<Fingerprint, String>>,
}

impl<'a> Sources<'a> {
    pub(crate) fn new(weights: &'a Path, config: &'a Path) -> std::io::Result<Sources<'a>> {
        // the stamp first: a change after it shows as a different stamp next time
        let stamp = Stamp::of(weights);
        Ok(Sources {
            weights,
            config_fp: file_crc(config)?,
            stamp,
            fingerprint: std::cell::OnceCell::new(),
        })
    }

    /// The model files' size and CRC-32, read and computed once.
    pub(crate) fn fingerprint(&self) -> Result<Fingerprint, String> {
        self.fingerprint
            .get_or_init(|| {
                let (model_len, model_crc) =
                    file_crc(self.weights).map_err(|e| format!("cannot read the model: {e}"))?;
                Ok(Fingerprint {
                    model_len,
                    model_crc,
                    config_len: self.config_fp.0,
                    config_crc: self.config_fp.1,
                })
            })
            .clone()
    }

    /// Whether a file recording `stored` (and the model's `stamp`) was built from these
    /// files: by the stamp when it matches, else by reading the model.
    fn matches(&self, stored: Fingerprint, stamp: Option<Stamp>) -> Result<bool, String> {
        if (stored.config_len, stored.config_crc) != self.config_fp {
            return Ok(false);
        }
        if self.stamp.is_some() && stamp == self.stamp {
            return Ok(true);
        }
        Ok(self.fingerprint()? == stored)
    }

    /// The stamp to record with a file written now: only if the model file is unchanged
    /// since this process first looked at it.
    fn stamp_to_record(&self) -> Option<Stamp> {
        self.stamp.filter(|s| Stamp::of(self.weights) == Some(*s))
    }
}

fn file_crc(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        crc.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, crc.finalize()))
}

/// What a cache file must match to be used.
pub(crate) struct Expect<'a> {
    pub precision: Precision,
    pub kernels: Kernels,
    pub layout: &'a str,
    pub sources: &'a Sources<'a>,
    pub config: &'a Config,
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

fn put_str(out: &mut [u8], s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(out.len());
    out[..n].copy_from_slice(&b[..n]);
}

fn precision_code(p: Precision) -> u32 {
    match p {
        Precision::F32 => 0,
        Precision::Int8 => 1,
    }
}

/// Writes the cache file for `w` into `file` (empty, opened for writing) and fsyncs it.
pub(crate) fn write_file(
    file: &mut File,
    w: &Weights,
    precision: Precision,
    layout: &str,
    fp: Fingerprint,
    stamp: Option<Stamp>,
) -> std::io::Result<()> {
    let arrays = w.arrays();
    let header_len = FIXED + arrays.len() * ENTRY + 4;
    let payload_offset = round_up(header_len, PAGE);
    let mut offsets = Vec::with_capacity(arrays.len());
    let mut end = payload_offset;
    for a in &arrays {
        let at = round_up(end, ALIGN);
        offsets.push(at);
        end = at + a.bytes.len();
    }
    let mut out = BufWriter::with_capacity(1 << 20, &mut *file);
    // the header goes in last, once the payload's checksum is known
    out.write_all(&vec![0u8; payload_offset])?;
    let mut crc = crc32fast::Hasher::new();
    let zeros = [0u8; ALIGN];
    let mut at = payload_offset;
    for (a, &off) in arrays.iter().zip(&offsets) {
        let pad = &zeros[..off - at];
        crc.update(pad);
        out.write_all(pad)?;
        crc.update(a.bytes);
        out.write_all(a.bytes)?;
        at = off + a.bytes.len();
    }
    let mut h = vec![0u8; header_len];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(header_len as u32).to_le_bytes());
    h[16..20].copy_from_slice(&precision_code(precision).to_le_bytes());
    h[20..24].copy_from_slice(&(arrays.len() as u32).to_le_bytes());
    put_str(&mut h[24..56], layout);
    put_str(&mut h[56..72], env!("CARGO_PKG_VERSION"));
    h[72..80].copy_from_slice(&fp.model_len.to_le_bytes());
    h[80..88].copy_from_slice(&fp.config_len.to_le_bytes());
    h[88..92].copy_from_slice(&fp.model_crc.to_le_bytes());
    h[92..96].copy_from_slice(&fp.config_crc.to_le_bytes());
    h[96..104].copy_from_slice(&(payload_offset as u64).to_le_bytes());
    h[104..112].copy_from_slice(&((end - payload_offset) as u64).to_le_bytes());
    h[112..116].copy_from_slice(&crc.finalize().to_le_bytes());
    Stamp::write(stamp, &mut h[128..160]);
    for (i, (a, &off)) in arrays.iter().zip(&offsets).enumerate() {
        let e = &mut h[FIXED + i * ENTRY..FIXED + (i + 1) * ENTRY];
        e[0..4].copy_from_slice(&a.tag.to_le_bytes());
        e[8..16].copy_from_slice(&(off as u64).to_le_bytes());
        e[16..24].copy_from_slice(&(a.count as u64).to_le_bytes());
    }
    let hcrc = crc32fast::hash(&h[..header_len - 4]);
    h[header_len - 4..].copy_from_slice(&hcrc.to_le_bytes());
    out.seek(SeekFrom::Start(0))?;
    out.write_all(&h)?;
    out.flush()?;
    drop(out);
    file.sync_all()
}

/// Why an existing cache file was not used.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// There is no file.
    Missing,
    /// The file is stale, corrupt or unreadable (the reason).
    Bad(String),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn str_at(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The arrays of a validated file, in table order.
struct TableSource<'a> {
    region: &'a Arc<Region>,
    /// Where the payload starts: no array may lie in the header.
    payload_offset: usize,
    header: &'a [u8],
    n: usize,
    next: usize,
}

impl ArraySource for TableSource<'_> {
    fn next<T: Element>(&mut self, count: usize) -> Result<Buf<T>, String> {
        let i = self.next;
        if i >= self.n {
            return Err(format!(
                "the table holds {} arrays, more are needed",
                self.n
            ));
        }
        self.next += 1;
        let e = &self.header[FIXED + i * ENTRY..FIXED + (i + 1) * ENTRY];
        let (tag, off, cnt) = (u32_at(e, 0), u64_at(e, 8), u64_at(e, 16));
        if tag != T::TAG || cnt != count as u64 {
            return Err(format!(
                "array {i} is type {tag} x {cnt}, expected type {} x {count}",
                T::TAG
            ));
        }
        usize::try_from(off)
            .ok()
            .filter(|&off| off >= self.payload_offset)
            .and_then(|off| Buf::in_region(self.region, off, count))
            .ok_or_else(|| format!("array {i} at offset {off} is misaligned or out of bounds"))
    }
}

/// Maps the cache file at `path` and checks it against `expect` (see the module doc);
/// returns the weights reading from the mapping and whether it is a shared mapping.
pub(crate) fn open_valid(path: &Path, expect: &Expect<'_>) -> Result<(Weights, bool), Invalid> {
    let bad = |what: String| Invalid::Bad(what);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(Invalid::Missing)
        }
        Err(e) => return Err(bad(format!("cannot open: {e}"))),
    };
    let len = file
        .metadata()
        .map_err(|e| bad(format!("cannot stat: {e}")))?
        .len();
    if len < (FIXED + 4) as u64 {
        return Err(bad(format!("{len} bytes: truncated")));
    }
    let len = usize::try_from(len).map_err(|_| bad("too large".into()))?;
    let region = Arc::new(Region::map(&file, len).map_err(|e| bad(format!("cannot map: {e}")))?);
    drop(file);
    let b = region.bytes();
    if b[0..8] != MAGIC {
        return Err(bad("not a codevec weights file (magic)".into()));
    }
    let version = u32_at(b, 8);
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {version}, this build reads {FORMAT_VERSION}"
        )));
    }
    let (header_len, n) = (u32_at(b, 12) as usize, u32_at(b, 20) as usize);
    if n > 4096 || header_len != FIXED + n * ENTRY + 4 || header_len > len {
        return Err(bad(format!(
            "header length {header_len} for {n} arrays does not fit ({len} bytes)"
        )));
    }
    let h = &b[..header_len];
    if crc32fast::hash(&h[..header_len - 4]) != u32_at(h, header_len - 4) {
        return Err(bad("header checksum mismatch: corrupt".into()));
    }
    let layout = str_at(&h[24..56]);
    if layout != expect.layout {
        return Err(bad(format!(
            "layout {layout}, this process needs {}",
            expect.layout
        )));
    }
    if u32_at(h, 16) != precision_code(expect.precision) {
        return Err(bad("precision differs".into()));
    }
    let built_by = str_at(&h[56..72]);
    if built_by != env!("CARGO_PKG_VERSION") {
        return Err(bad(format!(
            "written by codevec-encoder {built_by}, this is {}",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let fp = Fingerprint {
        model_len: u64_at(h, 72),
        config_len: u64_at(h, 80),
        model_crc: u32_at(h, 88),
        config_crc: u32_at(h, 92),
    };
    if !expect
        .sources
        .matches(fp, Stamp::read(&h[128..160], fp.model_len))
        .map_err(bad)?
    {
        return Err(bad(
            "stale: model.safetensors or config.json changed since it was written".into(),
        ));
    }
    let (payload_offset, payload_len) = (u64_at(h, 96), u64_at(h, 104));
    if payload_offset != round_up(header_len, PAGE) as u64
        || payload_offset.checked_add(payload_len) != Some(len as u64)
    {
        return Err(bad(format!(
            "payload {payload_offset}+{payload_len} does not match the file length {len}: truncated or corrupt"
        )));
    }
    if crc32fast::hash(&b[payload_offset as usize..]) != u32_at(h, 112) {
        return Err(bad("payload checksum mismatch: corrupt".into()));
    }
    let mut src = TableSource {
        region: &region,
        payload_offset: payload_offset as usize,
        header: h,
        n,
        next: 0,
    };
    let w = Weights::assemble(
        expect.config.clone(),
        expect.precision,
        expect.kernels,
        &mut src,
    )
    .map_err(bad)?;
    if src.next != n {
        return Err(bad(format!(
            "the table holds {n} arrays, {} are used",
            src.next
        )));
    }
    Ok((w, region.is_mapped()))
}

/// The cache file's name for a model directory and layout: the model's name, a hash of the
/// directory's path (so two model directories do not evict each other) and the layout id.
pub(crate) fn file_name(model_dir: &Path, layout: &str) -> String {
    let dir = std::fs::canonicalize(model_dir).unwrap_or_else(|_| model_dir.to_owned());
    let h = crc32fast::hash(dir.to_string_lossy().as_bytes());
    format!("{}-{h:08x}.{layout}.weights", crate::MODEL_NAME)
}

/// Weights loaded through the cache, and how.
pub(crate) struct Loaded {
    pub weights: Weights,
    pub source: WeightsSource,
    pub shared: bool,
    pub file: Option<PathBuf>,
    pub note: Option<String>,
}

/// Loads the weights through the cache in `cache_dir`: maps a valid file, or builds the
/// weights privately, writes the file and maps it. Any problem with the cache falls back to
/// the private weights (`source` Private, `note` says why); only errors of the model files
/// themselves are returned.
pub(crate) fn load(
    cache_dir: &Path,
    model_dir: &Path,
    config_path: &Path,
    weights_path: &Path,
    config: Config,
    precision: Precision,
    kernels: Kernels,
) -> Result<Loaded, EncoderError> {
    let layout = layout_id(precision, kernels);
    let path = cache_dir.join(file_name(model_dir, &layout));
    let private = |note: String| -> Result<Loaded, EncoderError> {
        Ok(Loaded {
            weights: weights::load_weights(weights_path, config.clone(), precision, kernels)?,
            source: WeightsSource::Private,
            shared: false,
            file: None,
            note: Some(note),
        })
    };
    let sources = match Sources::new(weights_path, config_path) {
        Ok(s) => s,
        // the private load reports the model file's problem
        Err(e) => return private(format!("cannot fingerprint the model files: {e}")),
    };
    let expect = Expect {
        precision,
        kernels,
        layout: &layout,
        sources: &sources,
        config: &config,
    };
    let why_built = match open_valid(&path, &expect) {
        Ok((weights, shared)) => {
            return Ok(Loaded {
                weights,
                source: WeightsSource::Mapped,
                shared,
                file: Some(path),
                note: None,
            })
        }
        Err(Invalid::Missing) => "no cache file yet".to_string(),
        Err(Invalid::Bad(why)) => format!("rebuilt: {why}"),
    };
    let fingerprint = match sources.fingerprint() {
        Ok(f) => f,
        Err(e) => return private(format!("cannot fingerprint the model files: {e}")),
    };
    let weights = weights::load_weights(weights_path, config.clone(), precision, kernels)?;
    let fallback = |weights: Weights, note: String| Loaded {
        weights,
        source: WeightsSource::Private,
        shared: false,
        file: None,
        note: Some(note),
    };
    // the model must not have changed while it was read
    match Fingerprint::of(weights_path, config_path) {
        Ok(f) if f == fingerprint => {}
        _ => {
            return Ok(fallback(
                weights,
                "the model files changed while loading: cache not written".into(),
            ))
        }
    }
    match write_and_publish(cache_dir, &path, &weights, &expect) {
        Ok(Published::Won) => {}
        Ok(Published::Lost(theirs, shared)) => {
            drop(weights);
            trim_heap();
            return Ok(Loaded {
                weights: theirs,
                source: WeightsSource::Mapped,
                shared,
                file: Some(path),
                note: Some("another process wrote the cache file first".into()),
            });
        }
        Err(e) => {
            return Ok(fallback(
                weights,
                format!(
                    "{why_built}; cannot write the cache file in {}: {e}",
                    cache_dir.display()
                ),
            ))
        }
    }
    match open_valid(&path, &expect) {
        Ok((mapped, shared)) => {
            drop(weights);
            trim_heap();
            Ok(Loaded {
                weights: mapped,
                source: WeightsSource::Written,
                shared,
                file: Some(path),
                note: Some(why_built),
            })
        }
        Err(e) => Ok(fallback(
            weights,
            format!("the cache file just written does not validate: {e:?}"),
        )),
    }
}

enum Published {
    /// This process's file is at the final path.
    Won,
    /// Another process's valid file was there first: its weights.
    Lost(Weights, bool),
}

/// A temporary file removed on drop unless disarmed.
struct Temp {
    path: PathBuf,
    keep: bool,
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Removes temporary files of writers that died before publishing (older than
/// [`STALE_TEMP`]).
fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(prefix) && name.ends_with(".tmp")) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn write_and_publish(
    dir: &Path,
    path: &Path,
    weights: &Weights,
    expect: &Expect<'_>,
) -> std::io::Result<Published> {
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .expect("the cache path has a file name")
        .to_string_lossy()
        .into_owned();
    let prefix = format!(".{name}.");
    remove_stale_temps(dir, &prefix);
    let tmp = Temp {
        path: dir.join(format!(
            "{prefix}{}.{:016x}.tmp",
            std::process::id(),
            nonce()
        )),
        keep: false,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // read-only for everyone: a cache file is replaced, never written in place
        opts.mode(0o444);
    }
    let mut file = opts.open(&tmp.path)?;
    write_file(
        &mut file,
        weights,
        expect.precision,
        expect.layout,
        expect
            .sources
            .fingerprint()
            .map_err(std::io::Error::other)?,
        expect.sources.stamp_to_record(),
    )?;
    drop(file);
    let published = match std::fs::hard_link(&tmp.path, path) {
        // no file there: ours is published (the temporary name goes with `tmp`)
        Ok(()) => Published::Won,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            match open_valid(path, expect) {
                // someone was faster: use theirs, drop ours
                Ok((w, shared)) => return Ok(Published::Lost(w, shared)),
                // a stale or corrupt file: replace it atomically
                Err(_) => {
                    std::fs::rename(&tmp.path, path)?;
                    Published::Won
                }
            }
        }
        // a file system without hard links
        Err(_) => {
            std::fs::rename(&tmp.path, path)?;
            Published::Won
        }
    };
    // best effort: the file is published either way, and an entry lost in a crash only
    // means a rebuild (some file systems refuse fsync on a directory)
    #[cfg(unix)]
    let _ = File::open(dir).and_then(|d| d.sync_all());
    drop(tmp);
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("codevec-stamp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn a_matching_stamp_skips_reading_the_model_and_any_change_reads_it() {
        let d = scratch("skip");
        let (model, config) = (d.join("model.safetensors"), d.join("config.json"));
        std::fs::write(&model, vec![7u8; 100_000]).unwrap();
        std::fs::write(&config, b"{}").unwrap();
        let src = Sources::new(&model, &config).unwrap();
        let stamp = src.stamp;
        assert!(stamp.is_some());
        let truth = Fingerprint::of(&model, &config).unwrap();
        // A recorded fingerprint whose model CRC is wrong: trusted by its stamp, so the
        // model is not read. This is what lets a mapped load skip the 90 MB read.
        let wrong = Fingerprint {
            model_crc: truth.model_crc ^ 1,
            ..truth
        };
        assert_eq!(src.matches(wrong, stamp), Ok(true));
        assert!(src.fingerprint.get().is_none(), "the model was read");
        // No recorded stamp, or another one: the model is read and the CRC decides.
        assert_eq!(src.matches(wrong, None), Ok(false));
        assert!(src.fingerprint.get().is_some());
        let src = Sources::new(&model, &config).unwrap();
        let other = Some(Stamp {
            ino: stamp.unwrap().ino ^ 1,
            ..stamp.unwrap()
        });
        assert_eq!(src.matches(truth, other), Ok(true));
        assert_eq!(src.matches(wrong, other), Ok(false));
        // A changed config is never trusted by the model's stamp.
        let cfg = Fingerprint {
            config_crc: truth.config_crc ^ 1,
            ..truth
        };
        assert_eq!(src.matches(cfg, stamp), Ok(false));
        // The stamp round-trips through the header bytes.
        let mut h = [0u8; 32];
        Stamp::write(stamp, &mut h);
        assert_eq!(Stamp::read(&h, truth.model_len), stamp);
        Stamp::write(None, &mut h);
        assert_eq!(Stamp::read(&h, truth.model_len), None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn an_in_place_write_that_restores_size_and_mtime_still_changes_the_stamp() {
        use std::io::Write as _;
        let d = scratch("inplace");
        let model = d.join("model.safetensors");
        std::fs::write(&model, vec![7u8; 4096]).unwrap();
        let before = Stamp::of(&model).unwrap();
        let mtime = std::fs::metadata(&model).unwrap().modified().unwrap();
        // ctime has the file system's clock resolution: make sure it can move
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&model)
            .unwrap();
        f.write_all(&[8u8]).unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        let after = Stamp::of(&model).unwrap();
        assert_eq!((after.len, after.mtime_ns), (before.len, before.mtime_ns));
        assert_ne!(after, before, "ctime must differ");
        // and a writer that saw the change does not record the old stamp
        let config = d.join("config.json");
        std::fs::write(&config, b"{}").unwrap();
        let mut src = Sources::new(&model, &config).unwrap();
        src.stamp = Some(before);
        assert_eq!(src.stamp_to_record(), None);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
