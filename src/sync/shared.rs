//! State the sync launcher, its workers and every backend share (only with
//! `shared_preload_libraries = 'codevec'`): which databases have sync enabled, the
//! launcher's latch, and what each worker is doing right now.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

/// Databases the launcher tracks at once.
pub const MAX_DATABASES: usize = 64;
/// Worker slots (one per running sync worker).
pub const MAX_WORKERS: usize = 64;

/// What the launcher knows about a database.
#[derive(Copy, Clone, Default, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum DbState {
    /// Slot unused.
    #[default]
    Free,
    /// Not looked at yet: one worker starts, checks for synced tables, and says.
    Unknown,
    /// Has synced tables: keep `codevec.sync_workers` workers running.
    Active,
    /// No worker needed: no extension, no synced table, or nothing queued (the workers left
    /// after `IDLE_NAPS` naps with an empty queue). A commit that queued rows, `enable_sync`
    /// or `sync_retry` makes it `Active` again.
    Inactive,
}

#[derive(Copy, Clone, Default, Debug)]
pub struct DbSlot {
    pub oid: u32,
    pub state: DbState,
    /// Bumped by every wake: a worker leaves only if no wake came since it last looked.
    pub wakes: u32,
}

#[derive(Copy, Clone, Default, Debug)]
pub struct WorkerSlot {
    pub pid: i32,
    pub database: u32,
    /// The table of the batch in progress (0 = between batches).
    pub relid: u32,
    /// Queue entries the batch in progress holds.
    pub rows: i32,
}

#[derive(Copy, Clone)]
pub struct Shared {
    /// `MyLatch` of the launcher (a latch in shared memory), as an address; 0 = none.
    pub launcher_latch: usize,
    pub dbs: [DbSlot; MAX_DATABASES],
    pub workers: [WorkerSlot; MAX_WORKERS],
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            launcher_latch: 0,
            dbs: [DbSlot::default(); MAX_DATABASES],
            workers: [WorkerSlot::default(); MAX_WORKERS],
        }
    }
}

// SAFETY: plain old data (integers only), no pointers into process-local memory: the latch
// address points into shared memory, mapped at the same address in every backend.
unsafe impl PGRXSharedMemory for Shared {}

// SAFETY: a unique tranche name; the lock is initialised by pg_shmem_init! in _PG_init and
// only used when `available()`.
pub static SHARED: PgLwLock<Shared> = unsafe { PgLwLock::new(c"codevec_sync") };

/// Whether this process has the shared state (the library was preloaded).
static PRELOADED: AtomicBool = AtomicBool::new(false);

// the macro tests for pgrx features of other PostgreSQL versions
#[allow(unexpected_cfgs)]
pub fn init() {
    pg_shmem_init!(SHARED);
    PRELOADED.store(true, Ordering::Relaxed);
}

pub fn available() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

impl Shared {
    pub fn db(&mut self, oid: u32) -> Option<&mut DbSlot> {
        self.dbs
            .iter_mut()
            .find(|d| d.state != DbState::Free && d.oid == oid)
    }

    /// Set a database's state, taking a free slot if it has none (silently nothing when
    /// all slots are taken: the launcher then serves the first MAX_DATABASES databases).
    pub fn set_db(&mut self, oid: u32, state: DbState) {
        if let Some(d) = self.db(oid) {
            d.state = state;
        } else if let Some(d) = self.dbs.iter_mut().find(|d| d.state == DbState::Free) {
            *d = DbSlot {
                oid,
                state,
                wakes: 0,
            };
        }
    }
}

/// Mark the current database as having synced tables and wake the launcher (a no-op
/// without preloading).
pub fn wake_launcher_for_current_db() {
    if !available() {
        return;
    }
    // SAFETY: a backend global, set once the backend is connected.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let latch = {
        let mut s = SHARED.exclusive();
        // Workers that run poll the queue every naptime and notice the new wake count
        // before they leave: only a database without workers needs the launcher now.
        let was_active = s.db(db).is_some_and(|d| d.state == DbState::Active);
        s.set_db(db, DbState::Active);
        if let Some(d) = s.db(db) {
            d.wakes = d.wakes.wrapping_add(1);
        }
        if was_active {
            0
        } else {
            s.launcher_latch
        }
    };
    if latch != 0 {
        // SAFETY: the launcher's PGPROC latch, in shared memory; SetLatch on another
        // process's latch is what it is for (a stale one only wakes whoever has that slot).
        unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
    }
}

thread_local! {
    /// Whether this transaction already asked for a wake at commit.
    static WAKE_AT_COMMIT: Cell<bool> = const { Cell::new(false) };
}

/// Wake the launcher for this database when the current transaction commits (its queue
/// entries are visible to the workers only then); nothing on abort, nothing without
/// preloading. Cheap to call once per row: one callback per transaction.
pub fn wake_at_commit() {
    if !available() || WAKE_AT_COMMIT.with(Cell::get) {
        return;
    }
    WAKE_AT_COMMIT.with(|w| w.set(true));
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, || {
        WAKE_AT_COMMIT.with(|w| w.set(false));
        wake_launcher_for_current_db();
    });
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || {
        WAKE_AT_COMMIT.with(|w| w.set(false));
    });
}
