//! An in-memory [`PageStore`] for the unit tests: pages in a vector, real share/exclusive
//! locks (threads wait for each other), copy-on-write records, and bookkeeping of the locks
//! each thread holds, so a test can assert what is locked at any point of an algorithm.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;

use super::format::Page;
use super::store::{Lock, PageGuard, PageRecord, PageStore, StoreError, MAX_RECORD_PAGES};

#[derive(Default)]
struct LockState {
    shared: Vec<ThreadId>,
    exclusive: Option<ThreadId>,
}

#[derive(Default)]
struct Inner {
    pages: Vec<Box<Page>>,
    locks: HashMap<u32, LockState>,
    /// Blocks appended.
    extends: usize,
    /// Records committed.
    commits: usize,
    /// Blocks noted free (a set, handed out lowest first).
    free: std::collections::BTreeSet<u32>,
}

/// In-memory pages. Cloning shares the pages (for threads).
#[derive(Clone, Default)]
pub struct MemStore {
    inner: Arc<(Mutex<Inner>, Condvar)>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn state(&self) -> MutexGuard<'_, Inner> {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of blocks.
    pub fn blocks(&self) -> u32 {
        self.state().pages.len() as u32
    }

    /// Blocks appended and records committed so far.
    pub fn counters(&self) -> (usize, usize) {
        let s = self.state();
        (s.extends, s.commits)
    }

    /// The locks the calling thread holds, sorted by block.
    pub fn held_by_me(&self) -> Vec<(u32, Lock)> {
        let me = std::thread::current().id();
        let s = self.state();
        let mut v: Vec<(u32, Lock)> = s
            .locks
            .iter()
            .flat_map(|(&b, l)| {
                let sh = l
                    .shared
                    .iter()
                    .filter(|t| **t == me)
                    .map(move |_| (b, Lock::Share));
                let ex = (l.exclusive == Some(me)).then_some((b, Lock::Exclusive));
                sh.chain(ex)
            })
            .collect();
        v.sort_by_key(|e| e.0);
        v
    }

    /// Locks held by any thread.
    pub fn locks_held(&self) -> usize {
        self.state()
            .locks
            .values()
            .map(|l| l.shared.len() + l.exclusive.is_some() as usize)
            .sum()
    }

    /// A copy of block `blk` (no lock: for tests that inspect or corrupt pages).
    pub fn snapshot(&self, blk: u32) -> Box<Page> {
        let s = self.state();
        let mut p = Page::zeroed();
        p.0.copy_from_slice(&s.pages[blk as usize].0);
        p
    }

    /// Overwrites block `blk` (no lock: for tests that corrupt pages).
    pub fn overwrite(&self, blk: u32, page: &Page) {
        let mut s = self.state();
        s.pages[blk as usize].0.copy_from_slice(&page.0);
    }

    fn acquire(&self, blk: u32, mode: Lock) {
        let me = std::thread::current().id();
        let (m, cv) = &*self.inner;
        let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let l = s.locks.entry(blk).or_default();
            assert!(
                l.exclusive != Some(me) && !(mode == Lock::Exclusive && l.shared.contains(&me)),
                "thread locks block {blk} it already holds (self-deadlock)"
            );
            let free = match mode {
                Lock::Share => l.exclusive.is_none(),
                Lock::Exclusive => l.exclusive.is_none() && l.shared.is_empty(),
            };
            if free {
                match mode {
                    Lock::Share => l.shared.push(me),
                    Lock::Exclusive => l.exclusive = Some(me),
                }
                return;
            }
            s = cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn release(&self, blk: u32, mode: Lock) {
        let me = std::thread::current().id();
        let (m, cv) = &*self.inner;
        let mut s = m.lock().unwrap_or_else(|p| p.into_inner());
        let l = s.locks.get_mut(&blk).expect("lock state of a held block");
        match mode {
            Lock::Share => {
                let i = l
                    .shared
                    .iter()
                    .position(|t| *t == me)
                    .expect("held share lock");
                l.shared.swap_remove(i);
            }
            Lock::Exclusive => l.exclusive = None,
        }
        cv.notify_all();
    }
}

/// A locked page of a [`MemStore`]: a copy taken under the lock (no writer can change the
/// block while the guard lives), written back by a committed record.
pub struct MemGuard {
    store: MemStore,
    blk: u32,
    mode: Lock,
    page: Box<Page>,
}

impl PageGuard for MemGuard {
    fn block(&self) -> u32 {
        self.blk
    }
    fn page(&self) -> &Page {
        &self.page
    }
}

impl Drop for MemGuard {
    fn drop(&mut self) {
        self.store.release(self.blk, self.mode);
    }
}

/// A copy-on-write change set of a [`MemStore`].
pub struct MemRecord<'g> {
    store: MemStore,
    regs: Vec<(&'g mut MemGuard, Box<Page>)>,
}

impl<'g> PageRecord<'g> for MemRecord<'g> {
    type Guard = MemGuard;

    fn register(&mut self, g: &'g mut MemGuard, fresh: bool) -> usize {
        assert_eq!(g.mode, Lock::Exclusive, "registered a share-locked page");
        assert!(
            self.regs.len() < MAX_RECORD_PAGES,
            "too many pages in one record"
        );
        assert!(
            self.regs.iter().all(|(r, _)| r.blk != g.blk),
            "block {} registered twice",
            g.blk
        );
        let mut copy = Page::zeroed();
        if !fresh {
            copy.0.copy_from_slice(&g.page.0);
        }
        self.regs.push((g, copy));
        self.regs.len() - 1
    }

    fn page(&mut self, i: usize) -> &mut Page {
        &mut self.regs[i].1
    }

    fn commit(self) {
        let mut s = self.store.state();
        for (g, copy) in self.regs {
            s.pages[g.blk as usize].0.copy_from_slice(&copy.0);
            g.page.0.copy_from_slice(&copy.0);
        }
        s.commits += 1;
    }
}

impl PageStore for MemStore {
    type Guard = MemGuard;
    type Record<'g> = MemRecord<'g>;

    fn lock(&self, blk: u32, mode: Lock) -> Result<MemGuard, StoreError> {
        if blk >= self.blocks() {
            return Err(StoreError::corrupt(format!(
                "ivf index block {blk} is past the end ({} blocks)",
                self.blocks()
            )));
        }
        self.acquire(blk, mode);
        let page = self.snapshot(blk);
        Ok(MemGuard {
            store: self.clone(),
            blk,
            mode,
            page,
        })
    }

    fn extend(&self) -> Result<MemGuard, StoreError> {
        // appended and locked under one hold of the state: nobody else can lock it first
        let blk = {
            let mut s = self.state();
            s.pages.push(Page::zeroed());
            s.extends += 1;
            let blk = (s.pages.len() - 1) as u32;
            s.locks.entry(blk).or_default().exclusive = Some(std::thread::current().id());
            blk
        };
        Ok(MemGuard {
            store: self.clone(),
            blk,
            mode: Lock::Exclusive,
            page: Page::zeroed(),
        })
    }

    fn record(&self) -> MemRecord<'_> {
        MemRecord {
            store: self.clone(),
            regs: Vec::new(),
        }
    }

    fn note_free(&self, blk: u32) {
        self.state().free.insert(blk);
    }

    fn take_free(&self) -> Option<u32> {
        let mut s = self.state();
        let n = s.pages.len() as u32;
        while let Some(b) = s.free.pop_first() {
            if b < n {
                return Some(b);
            }
        }
        None
    }
}
