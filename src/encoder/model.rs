//! The per-backend encoder cache.

use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codevec_encoder::{Encoder, EncoderError, EncoderOptions, Precision};
use pgrx::prelude::*;

use crate::error::raise;
use crate::gucs;

/// A loaded encoder and the settings it was loaded with.
pub struct Loaded {
    pub encoder: Arc<Encoder>,
    pub dir: PathBuf,
    pub threads: usize,
    pub batch: usize,
    pub precision: Precision,
    pub load_time: Duration,
}

/// At most one loaded encoder per precision (f32, int8).
static CACHE: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

/// The model directory in effect.
pub fn model_dir() -> PathBuf {
    if let Some(dir) = gucs::MODEL_DIR.get() {
        let s = dir.to_string_lossy();
        if !s.trim().is_empty() {
            return PathBuf::from(s.trim());
        }
    }
    let mut buf = [0 as core::ffi::c_char; pg_sys::MAXPGPATH as usize];
    // SAFETY: my_exec_path is the backend's NUL-terminated executable path; get_share_path
    // writes at most MAXPGPATH bytes (NUL-terminated) into `buf`.
    let share = unsafe {
        pg_sys::get_share_path(
            core::ptr::addr_of!(pg_sys::my_exec_path).cast(),
            buf.as_mut_ptr(),
        );
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    };
    PathBuf::from(share).join("extension/codevec/models/all-MiniLM-L6-v2")
}

/// The packed-weights cache directory in effect (`None`: private weights per backend).
pub fn weights_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = gucs::WEIGHTS_CACHE_DIR.get() {
        let s = dir.to_string_lossy();
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return None;
        }
        if !s.is_empty() {
            return Some(PathBuf::from(s));
        }
    }
    // SAFETY: DataDir is the backend's NUL-terminated data directory path, set at startup.
    let data = unsafe {
        let d = pg_sys::DataDir;
        if d.is_null() {
            return None;
        }
        CStr::from_ptr(d).to_string_lossy().into_owned()
    };
    Some(PathBuf::from(data).join("codevec_weights"))
}

/// Resident set size of this process in bytes (Linux), or 0.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// Raise an encoder load error with a fitting SQLSTATE and hint.
pub fn raise_load_error(e: EncoderError) -> ! {
    let code = match &e {
        EncoderError::ModelDirMissing { .. } | EncoderError::ModelFileMissing { .. } => {
            PgSqlErrorCode::ERRCODE_UNDEFINED_FILE
        }
        EncoderError::ModelFileCorrupt { .. } => PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        EncoderError::ModelFileUnreadable { .. } => PgSqlErrorCode::ERRCODE_IO_ERROR,
        _ => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    };
    raise(
        code,
        format!("codevec encoder: {e}"),
        None,
        Some("Install the model with `make install`, or point codevec.model_dir (superuser) at a directory holding model.safetensors, tokenizer.json and config.json."),
    )
}

/// Parses a precision argument of the SQL functions ('f32' or 'int8'), raising a clear
/// ERROR for anything else. int8 runs on every CPU (AVX-512 VNNI, AVX-VNNI, AVX2 or
/// portable kernels with the same integer sums).
pub fn parse_precision(s: &str) -> Precision {
    let p: Precision = s.parse().unwrap_or_else(|_| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid encoder precision: \"{s}\""),
            None,
            Some("Use 'f32' (full precision, the default) or 'int8' (about twice as fast, cosine >= 0.995 to the reference)."),
        )
    });
    p
}

/// The full-precision encoder for the current settings, loading it on first use.
pub fn encoder() -> Arc<Encoder> {
    encoder_with(Precision::F32)
}

/// The encoder of the given precision for the current settings, loading it on first use.
pub fn encoder_with(precision: Precision) -> Arc<Encoder> {
    let dir = model_dir();
    let threads = gucs::encoder_threads();
    let batch = gucs::ENCODER_BATCH.get().max(1) as usize;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = cache.iter().find(|l| l.precision == precision) {
        if l.dir == dir && l.threads == threads && l.batch == batch {
            return l.encoder.clone();
        }
    }
    // drop a stale one (and its threads) before loading anew
    cache.retain(|l| l.precision != precision);
    let opts = EncoderOptions {
        threads,
        max_batch: batch,
        precision,
        cache_dir: weights_cache_dir(),
    };
    let enc = Encoder::load(&dir, opts).unwrap_or_else(|e| raise_load_error(e));
    let load_time = enc.info().load_time;
    let loaded = Loaded {
        encoder: Arc::new(enc),
        dir,
        threads,
        batch,
        precision,
        load_time,
    };
    let e = loaded.encoder.clone();
    cache.push(loaded);
    e
}

/// Run `f` on the cached entry of a precision (loading it first).
pub fn with_loaded<R>(precision: Precision, f: impl FnOnce(&Loaded) -> R) -> R {
    let _ = encoder_with(precision);
    let cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    f(cache
        .iter()
        .find(|l| l.precision == precision)
        .expect("loaded just above"))
}
