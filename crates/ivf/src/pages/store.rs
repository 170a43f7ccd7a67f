//! The page store: what the list algorithms need from where the pages live.
//!
//! A [`PageStore`] hands out pages of 8 KB behind guards that own their lock
//! ([`PageStore::lock`] for existing blocks, [`PageStore::extend`] for a new one), and
//! atomic change sets ([`PageRecord`]): pages registered with a record are modified on a
//! copy, and [`PageRecord::commit`] applies all of them at once; a record dropped without
//! commit (an error, a panic) leaves every page as it was. A page view borrows its guard, so
//! it cannot outlive the lock, and a registered guard is borrowed by its record, so its
//! stale view cannot be read while the record is open.
//!
//! Two implementations: [`super::mem::MemStore`] (in memory, with lock bookkeeping the unit
//! tests assert on) and, in the extension, PostgreSQL's shared buffers with GenericXLog
//! records (`src/index/store.rs`).

use super::format::Page;

/// Lock mode of a guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Readers (many at once).
    Share,
    /// One writer.
    Exclusive,
}

/// What can go wrong in the list algorithms (the extension maps these to SQLSTATEs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// A page or the metapage contradicts itself (`ERRCODE_INDEX_CORRUPTED`, REINDEX).
    Corrupt(String),
    /// A vector of another dimension than the index's.
    Dims {
        /// Dimensions of the vector.
        got: usize,
        /// Dimensions of the index.
        index: usize,
    },
    /// Memory for the request could not be reserved.
    OutOfMemory(String),
}

impl StoreError {
    /// A corruption error.
    pub fn corrupt(msg: String) -> StoreError {
        StoreError::Corrupt(msg)
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Corrupt(m) | StoreError::OutOfMemory(m) => f.write_str(m),
            StoreError::Dims { got, index } => write!(
                f,
                "vector has {got} dimensions but the ivf index has {index}"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// A locked page (share or exclusive); dropping it releases the lock.
pub trait PageGuard {
    /// Its block number.
    fn block(&self) -> u32;
    /// The page as it is now (under the guard's lock).
    fn page(&self) -> &Page;
}

/// An atomic change set over exclusively locked pages (at most [`MAX_RECORD_PAGES`]).
pub trait PageRecord<'g> {
    /// The store's guard type.
    type Guard: PageGuard + 'g;
    /// Registers an exclusively locked page; `fresh` says it is new (its whole image is
    /// logged, its old contents are irrelevant). Returns the index of its copy.
    fn register(&mut self, g: &'g mut Self::Guard, fresh: bool) -> usize;
    /// The copy of registered page `i`, to modify.
    fn page(&mut self, i: usize) -> &mut Page;
    /// Applies (and logs) every change at once.
    fn commit(self);
}

/// Most pages one record may register (GenericXLog's `MAX_GENERIC_XLOG_PAGES`).
pub const MAX_RECORD_PAGES: usize = 4;

/// Where an index's pages live.
pub trait PageStore {
    /// A locked page.
    type Guard: PageGuard;
    /// A change set.
    type Record<'g>: PageRecord<'g, Guard = Self::Guard>
    where
        Self: 'g;
    /// Locks existing block `blk`. A block past the end is an error (corruption: every
    /// block number the algorithms follow comes from a page).
    fn lock(&self, blk: u32, mode: Lock) -> Result<Self::Guard, StoreError>;
    /// Appends a new zeroed block and returns it exclusively locked. Concurrent extenders
    /// get distinct blocks.
    fn extend(&self) -> Result<Self::Guard, StoreError>;
    /// Starts a change set.
    fn record(&self) -> Self::Record<'_>;
    /// Called between units of work (a page of a long loop): the place to check for
    /// cancellation or take a vacuum delay. Never called with a lock held.
    fn checkpoint(&self) {}
    /// Remembers that block `blk` (a vector page) has freed slots. A hint: it may be lost
    /// (a crash) or stale, so whoever takes it checks the page under its lock.
    fn note_free(&self, blk: u32);
    /// A block remembered by [`PageStore::note_free`], each handed out once per note, or
    /// `None`. Only blocks that exist are returned.
    fn take_free(&self) -> Option<u32>;
}
