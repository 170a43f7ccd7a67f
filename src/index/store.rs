//! The crate's [`PageStore`] over PostgreSQL: pages of an index relation's fork in shared
//! buffers, guards that own a pin and a content lock (released on drop, also when an ERROR
//! unwinds through them), and GenericXLog records.
//!
//! The list algorithms (build writer, insert, bulk delete, the scan's list source) live in
//! `codevec_ivf::pages` and are unit-tested there over an in-memory store; this file is the
//! only place where they touch buffers.

use std::marker::PhantomData;

use codevec_ivf::pages::format::{Page, PAGE_SIZE};
use codevec_ivf::pages::store::{Lock, PageGuard, PageRecord, PageStore, StoreError};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;

const _: () = assert!(
    pg_sys::BLCKSZ as usize == PAGE_SIZE,
    "codevec's ivf pages are laid out for 8 KB blocks"
);

/// What [`PageStore::checkpoint`] does between units of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// `CHECK_FOR_INTERRUPTS()` (scans, builds, inserts).
    Interrupts,
    /// `vacuum_delay_point()` (cost-based vacuum delay; also checks for interrupts).
    Vacuum,
}

/// One fork of an open index relation.
pub struct BufferStore {
    index: pg_sys::Relation,
    fork: pg_sys::ForkNumber::Type,
    pause: Pause,
    /// Blocks known to exist (the fork only grows while the index is open).
    known: std::cell::Cell<u32>,
}

impl BufferStore {
    /// The main fork of `index`.
    ///
    /// # Safety
    /// `index` must be an open `ivf` index relation for as long as the store is used.
    pub unsafe fn main(index: pg_sys::Relation, pause: Pause) -> BufferStore {
        BufferStore {
            index,
            fork: pg_sys::ForkNumber::MAIN_FORKNUM,
            pause,
            known: std::cell::Cell::new(0),
        }
    }

    /// The init fork of an unlogged `index` (written once by `ambuildempty`).
    ///
    /// # Safety
    /// As [`BufferStore::main`].
    pub unsafe fn init_fork(index: pg_sys::Relation) -> BufferStore {
        BufferStore {
            index,
            fork: pg_sys::ForkNumber::INIT_FORKNUM,
            pause: Pause::Interrupts,
            known: std::cell::Cell::new(0),
        }
    }

    /// Whether block `blk` exists (asks the storage manager only past the known end).
    fn exists(&self, blk: u32) -> bool {
        if blk < self.known.get() {
            return true;
        }
        // SAFETY: the relation is open (the constructor's contract).
        let n = unsafe { pg_sys::RelationGetNumberOfBlocksInFork(self.index, self.fork) };
        self.known.set(n);
        blk < n
    }
}

/// A pinned, content-locked buffer. Dropping it unlocks and unpins.
pub struct BufferGuard {
    buf: pg_sys::Buffer,
    blk: u32,
    mode: Lock,
}

impl PageGuard for BufferGuard {
    fn block(&self) -> u32 {
        self.blk
    }
    fn page(&self) -> &Page {
        // SAFETY: the buffer is pinned and locked while the guard lives and the view borrows
        // the guard; a buffer page is BLCKSZ = PAGE_SIZE bytes, aligned for Page (8 B).
        unsafe { &*(pg_sys::BufferGetPage(self.buf) as *const Page) }
    }
}

impl Drop for BufferGuard {
    fn drop(&mut self) {
        // SAFETY: the buffer is pinned and locked by this guard and by nothing else of ours.
        unsafe { pg_sys::UnlockReleaseBuffer(self.buf) };
    }
}

/// A GenericXLog record: pages registered with it are modified on GenericXLog's copies and
/// WAL-logged atomically by [`PageRecord::commit`]. Dropped uncommitted it aborts, leaving
/// the buffers untouched.
pub struct BufferRecord<'g> {
    state: *mut pg_sys::GenericXLogState,
    pages: Vec<*mut Page>,
    done: bool,
    _guards: PhantomData<&'g mut BufferGuard>,
}

impl<'g> PageRecord<'g> for BufferRecord<'g> {
    type Guard = BufferGuard;

    fn register(&mut self, g: &'g mut BufferGuard, fresh: bool) -> usize {
        assert_eq!(g.mode, Lock::Exclusive, "registered a share-locked page");
        assert!(self.pages.len() < pg_sys::MAX_GENERIC_XLOG_PAGES as usize);
        let flags = if fresh {
            pg_sys::GENERIC_XLOG_FULL_IMAGE as i32
        } else {
            0
        };
        // SAFETY: the state is live; the guard keeps the buffer pinned and exclusively
        // locked for at least as long as the record borrows it.
        let p = unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, g.buf, flags) };
        self.pages.push(p as *mut Page);
        self.pages.len() - 1
    }

    fn page(&mut self, i: usize) -> &mut Page {
        // SAFETY: GenericXLog's copy of a registered page (BLCKSZ bytes, MAXALIGNed), alive
        // until the record ends; the &mut self borrow makes the access exclusive.
        unsafe { &mut *self.pages[i] }
    }

    fn commit(mut self) {
        self.done = true;
        // SAFETY: the state is live; the registered buffers are still locked (borrowed).
        unsafe { pg_sys::GenericXLogFinish(self.state) };
    }
}

impl Drop for BufferRecord<'_> {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: the state is live; abort frees it without touching the buffers.
            unsafe { pg_sys::GenericXLogAbort(self.state) };
        }
    }
}

impl PageStore for BufferStore {
    type Guard = BufferGuard;
    type Record<'g> = BufferRecord<'g>;

    fn lock(&self, blk: u32, mode: Lock) -> Result<BufferGuard, StoreError> {
        // A block number read from a page can be garbage: past the end it is corruption,
        // not ReadBuffer's "could not read block" (which would also be an ERROR, XX001).
        if !self.exists(blk) {
            return Err(StoreError::corrupt(format!(
                "ivf index block {blk} is past the end of the index ({} blocks)",
                self.known.get()
            )));
        }
        // SAFETY: the relation is open and blk exists; the content lock mode is valid.
        let buf = unsafe {
            let b = pg_sys::ReadBufferExtended(
                self.index,
                self.fork,
                blk,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            pg_sys::LockBuffer(
                b,
                match mode {
                    Lock::Share => pg_sys::BUFFER_LOCK_SHARE as i32,
                    Lock::Exclusive => pg_sys::BUFFER_LOCK_EXCLUSIVE as i32,
                },
            );
            b
        };
        Ok(BufferGuard { buf, blk, mode })
    }

    fn extend(&self) -> Result<BufferGuard, StoreError> {
        // SAFETY: the relation extension lock serialises concurrent extenders; P_NEW appends
        // a zeroed block, returned pinned, which we lock before anyone else can find it
        // (no page points to it yet).
        let (buf, blk) = unsafe {
            pg_sys::LockRelationForExtension(self.index, pg_sys::ExclusiveLock as i32);
            let b = pg_sys::ReadBufferExtended(
                self.index,
                self.fork,
                pg_sys::InvalidBlockNumber,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            pg_sys::LockBuffer(b, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            pg_sys::UnlockRelationForExtension(self.index, pg_sys::ExclusiveLock as i32);
            (b, pg_sys::BufferGetBlockNumber(b))
        };
        Ok(BufferGuard {
            buf,
            blk,
            mode: Lock::Exclusive,
        })
    }

    fn record(&self) -> BufferRecord<'_> {
        // SAFETY: the relation is open; the state is allocated in the current context and
        // freed by GenericXLogFinish / GenericXLogAbort.
        let state = unsafe { pg_sys::GenericXLogStart(self.index) };
        BufferRecord {
            state,
            pages: Vec::with_capacity(pg_sys::MAX_GENERIC_XLOG_PAGES as usize),
            done: false,
            _guards: PhantomData,
        }
    }

    fn note_free(&self, blk: u32) {
        if self.fork == pg_sys::ForkNumber::MAIN_FORKNUM {
            // SAFETY: the relation is open; the index's free space map takes the block as a
            // hint (not WAL-logged; a later VACUUM that frees a slot here records it again).
            unsafe { pg_sys::RecordFreeIndexPage(self.index, blk) };
        }
    }

    fn take_free(&self) -> Option<u32> {
        if self.fork != pg_sys::ForkNumber::MAIN_FORKNUM {
            return None;
        }
        loop {
            // SAFETY: the relation is open; GetFreeIndexPage hands a recorded block out once
            // (it marks it used) and returns InvalidBlockNumber when none is left.
            let blk = unsafe { pg_sys::GetFreeIndexPage(self.index) };
            if blk == pg_sys::InvalidBlockNumber {
                return None;
            }
            // a free space map left from before a crash may name blocks that are gone
            if self.exists(blk) {
                return Some(blk);
            }
        }
    }

    fn checkpoint(&self) {
        match self.pause {
            Pause::Interrupts => {
                pg_sys::check_for_interrupts!();
            }
            // SAFETY: no buffer lock is held here (the trait's contract).
            Pause::Vacuum => unsafe { pg_sys::vacuum_delay_point() },
        }
    }
}

/// Raises a store error with its SQLSTATE (index corruption: XX002 with the REINDEX hint).
pub fn raise(e: StoreError) -> ! {
    match e {
        StoreError::Corrupt(msg) => crate::error::raise(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            msg,
            None,
            Some("REINDEX the index."),
        ),
        StoreError::Dims { got, index } => super::dims_mismatch("vector", got, index),
        StoreError::OutOfMemory(what) => crate::error::raise(
            PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
            format!("out of memory: {what}"),
            None,
            None,
        ),
    }
}

/// `r`'s value, or its error raised.
pub fn ok<T>(r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| raise(e))
}
