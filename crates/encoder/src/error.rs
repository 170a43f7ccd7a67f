//! Error type of the encoder. Every file-related variant names the file path so that a
//! Postgres `ERROR` raised from it tells the administrator exactly what to fix.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while loading the model or encoding text.
#[derive(Debug)]
pub enum EncoderError {
    /// The model directory itself does not exist or is not a directory.
    ModelDirMissing { dir: PathBuf },
    /// A required model file is absent.
    ModelFileMissing { path: PathBuf },
    /// A model file exists but could not be read (permissions, I/O error …).
    ModelFileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A model file was read but its contents are not what the encoder expects.
    ModelFileCorrupt { path: PathBuf, reason: String },
    /// The options passed to [`crate::Encoder::load`] are not usable.
    InvalidOptions(String),
    /// The worker thread pool could not be started.
    ThreadPool(String),
    /// The tokenizer failed on an input (should not happen for valid UTF-8 input).
    Tokenizer(String),
    /// The caller asked to stop (cancel flag set or interrupt callback returned `true`).
    Cancelled,
}

impl EncoderError {
    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        EncoderError::ModelFileCorrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unreadable(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EncoderError::ModelFileUnreadable {
            path: path.into(),
            source,
        }
    }
}

const INSTALL_HINT: &str = "run `make install` (or copy the all-MiniLM-L6-v2 model files \
model.safetensors, tokenizer.json and config.json into that directory)";

impl fmt::Display for EncoderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncoderError::ModelDirMissing { dir } => {
                write!(
                    f,
                    "model directory {} does not exist: {INSTALL_HINT}",
                    dir.display()
                )
            }
            EncoderError::ModelFileMissing { path } => {
                write!(
                    f,
                    "model file {} is missing: {INSTALL_HINT}",
                    path.display()
                )
            }
            EncoderError::ModelFileUnreadable { path, source } => {
                write!(f, "model file {} cannot be read: {source}", path.display())
            }
            EncoderError::ModelFileCorrupt { path, reason } => write!(
                f,
                "model file {} is corrupt: {reason} (reinstall it with `make install`)",
                path.display()
            ),
            EncoderError::InvalidOptions(msg) => write!(f, "invalid encoder options: {msg}"),
            EncoderError::ThreadPool(msg) => {
                write!(f, "cannot start encoder worker threads: {msg}")
            }
            EncoderError::Tokenizer(msg) => write!(f, "tokenizer failed: {msg}"),
            EncoderError::Cancelled => write!(f, "encoding was cancelled"),
        }
    }
}

impl std::error::Error for EncoderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EncoderError::ModelFileUnreadable { source, .. } => Some(source),
            _ => None,
        }
    }
}
