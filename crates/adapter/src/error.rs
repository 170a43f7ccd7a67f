//! The one error type of the crate: every failure is a value, never a panic.

use std::fmt;

/// Why training, applying or decoding an adapter failed.
#[derive(Clone, Debug, PartialEq)]
pub enum AdapterError {
    /// Fewer training pairs (or distinct documents among them) than a held-out split needs.
    TooFewPairs {
        /// Pairs given.
        pairs: usize,
        /// Distinct documents among them.
        distinct_docs: usize,
        /// The minimum for both.
        need: usize,
    },
    /// A vector or matrix has the wrong length for the adapter's dimensions.
    DimensionMismatch {
        /// What was measured (`"query"`, `"documents"`, …).
        what: &'static str,
        /// The length expected.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Dimensions outside `1..=MAX_DIMS`.
    BadDimensions(usize),
    /// A NaN or an infinity in an input.
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row (vector) number within it.
        row: usize,
    },
    /// A query vector of length zero (it has no direction to adapt).
    ZeroVector {
        /// Which input.
        what: &'static str,
        /// Row number within it.
        row: usize,
    },
    /// A pair names a document that does not exist.
    DocumentOutOfRange {
        /// Pair number.
        pair: usize,
        /// The document id it names.
        doc: u32,
        /// Documents given.
        n_docs: usize,
    },
    /// An option outside its range.
    InvalidOption {
        /// The option's name.
        name: &'static str,
        /// What is allowed.
        allowed: &'static str,
    },
    /// Training diverged (a non-finite loss or parameter).
    Diverged {
        /// Epoch (1-based) in which it happened.
        epoch: usize,
    },
    /// The `should_stop` callback asked to stop.
    Cancelled,
    /// The worker pool could not be started.
    ThreadPool(String),
    /// A serialised adapter that is not one, is damaged or is cut short.
    Corrupt(&'static str),
    /// A serialised adapter of a format version this build does not read.
    UnsupportedVersion(u16),
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AdapterError::*;
        match self {
            TooFewPairs {
                pairs,
                distinct_docs,
                need,
            } => write!(
                f,
                "too few training pairs: {pairs} pairs over {distinct_docs} distinct documents, at least {need} of each are needed"
            ),
            DimensionMismatch {
                what,
                expected,
                got,
            } => write!(f, "{what}: expected {expected} values, got {got}"),
            BadDimensions(d) => write!(
                f,
                "adapter dimensions must be between 1 and {}, got {d}",
                crate::MAX_DIMS
            ),
            NonFinite { what, row } => write!(f, "{what} row {row} has a NaN or infinite element"),
            ZeroVector { what, row } => write!(f, "{what} row {row} is the zero vector"),
            DocumentOutOfRange { pair, doc, n_docs } => write!(
                f,
                "pair {pair} names document {doc}, but only {n_docs} documents were given"
            ),
            InvalidOption { name, allowed } => write!(f, "option {name} must be {allowed}"),
            Diverged { epoch } => write!(
                f,
                "training diverged in epoch {epoch} (non-finite loss); lower the learning rate"
            ),
            Cancelled => write!(f, "training cancelled"),
            ThreadPool(e) => write!(f, "could not start the adapter's worker threads: {e}"),
            Corrupt(why) => write!(f, "corrupt adapter blob: {why}"),
            UnsupportedVersion(v) => write!(f, "adapter blob has format version {v}, this build reads version {}", crate::format::FORMAT_VERSION),
        }
    }
}

impl std::error::Error for AdapterError {}
