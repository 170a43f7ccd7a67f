//! Finding the source files under the paths given on the command line.
//!
//! Uses the `ignore` crate, so `.gitignore`, `.ignore` and `.git/info/exclude`
//! rules apply (even outside a git checkout) and hidden files and directories
//! are skipped. Vendored and generated directories ([`SKIPPED_DIRS`]) are
//! pruned. Symbolic links are not followed. Paths given explicitly on the
//! command line are always walked, even if they would be pruned or ignored
//! below another root.

use crate::lang::Grammar;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Directory names that are never descended into: vendored dependencies,
/// build output and caches.
pub const SKIPPED_DIRS: &[&str] = &[
    "vendor",
    "node_modules",
    "third_party",
    "target",
    "dist",
    "build",
    ".git",
    "__pycache__",
];

/// Default for [`WalkOptions::max_file_size`]: 1 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Why a file was not loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The extension is not one of a supported language.
    UnknownExtension,
    /// Minified JavaScript (`*.min.js`) or similar generated file.
    Generated,
    /// Larger than the configured maximum size.
    TooLarge,
    /// Contains NUL bytes.
    Binary,
    /// Not valid UTF-8.
    NotUtf8,
    /// Could not be read (permissions, vanished, ...).
    Unreadable,
    /// tree-sitter could not parse it at all.
    ParseFailed,
}

impl SkipReason {
    /// Every reason, in summary order.
    pub const ALL: [SkipReason; 7] = [
        SkipReason::UnknownExtension,
        SkipReason::Generated,
        SkipReason::TooLarge,
        SkipReason::Binary,
        SkipReason::NotUtf8,
        SkipReason::Unreadable,
        SkipReason::ParseFailed,
    ];

    /// Human-readable label used in the summary.
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::UnknownExtension => "unknown extension",
            SkipReason::Generated => "minified/generated",
            SkipReason::TooLarge => "too large",
            SkipReason::Binary => "binary",
            SkipReason::NotUtf8 => "not UTF-8",
            SkipReason::Unreadable => "unreadable",
            SkipReason::ParseFailed => "parse failed",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Settings for [`walk`].
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Files larger than this many bytes are skipped as [`SkipReason::TooLarge`].
    pub max_file_size: u64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }
}

/// One file found by the walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A file in a supported language, to be read and split.
    Source {
        /// Path as walked (root as given, joined with the relative path).
        path: PathBuf,
        /// Grammar chosen from the extension.
        grammar: Grammar,
    },
    /// A file that is skipped without being read.
    Skipped {
        /// Path as walked.
        path: PathBuf,
        /// Why.
        reason: SkipReason,
    },
}

impl Entry {
    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            Entry::Source { path, .. } | Entry::Skipped { path, .. } => path,
        }
    }
}

/// Everything a walk found.
#[derive(Debug, Default)]
pub struct WalkResult {
    /// Files, in a stable order (sorted by name within each directory).
    pub entries: Vec<Entry>,
    /// Vendored / generated directories that were pruned.
    pub pruned_dirs: Vec<PathBuf>,
    /// Problems walking (unreadable directories, missing roots), as messages.
    pub errors: Vec<String>,
}

/// Walks `roots` and classifies every file found. A file reached from two
/// overlapping roots is listed once.
pub fn walk<P: AsRef<Path>>(roots: &[P], opts: &WalkOptions) -> WalkResult {
    let mut result = WalkResult::default();
    let mut seen = std::collections::HashSet::new();
    let pruned = Arc::new(Mutex::new(Vec::new()));
    for root in roots {
        let root = root.as_ref();
        let pruned_here = Arc::clone(&pruned);
        let walker = ignore::WalkBuilder::new(root)
            .standard_filters(true)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(move |e| {
                let vendored = e.depth() > 0
                    && e.file_type().is_some_and(|t| t.is_dir())
                    && e.file_name()
                        .to_str()
                        .is_some_and(|n| SKIPPED_DIRS.contains(&n));
                if vendored {
                    if let Ok(mut p) = pruned_here.lock() {
                        p.push(e.path().to_path_buf());
                    }
                }
                !vendored
            })
            .build();
        for item in walker {
            match item {
                Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => {
                    let path = clean(e.path());
                    let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                    if !seen.insert(key) {
                        continue;
                    }
                    let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                    result.entries.push(classify(path, size, opts));
                }
                Ok(_) => {}
                Err(err) => result.errors.push(err.to_string()),
            }
        }
    }
    result.pruned_dirs = std::mem::take(&mut *pruned.lock().unwrap_or_else(|e| e.into_inner()));
    result
}

/// Classifies one file by name and size (without reading it).
pub fn classify(path: PathBuf, size: u64, opts: &WalkOptions) -> Entry {
    let Some(grammar) = Grammar::from_path(&path) else {
        return Entry::Skipped {
            path,
            reason: SkipReason::UnknownExtension,
        };
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let reason = if is_minified_name(name) {
        Some(SkipReason::Generated)
    } else if size > opts.max_file_size {
        Some(SkipReason::TooLarge)
    } else {
        None
    };
    match reason {
        Some(reason) => Entry::Skipped { path, reason },
        None => Entry::Source { path, grammar },
    }
}

/// `app.min.js`, `vendor.bundle.min.mjs`, ...
fn is_minified_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains(".min.")
}

/// Drops a leading `./` so `codevec load .` stores `src/x.py`, not `./src/x.py`.
fn clean(path: &Path) -> PathBuf {
    path.strip_prefix(".")
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}
