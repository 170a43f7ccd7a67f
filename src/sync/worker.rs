//! A per-database sync worker: drains the queues of every synced table of its database in
//! batches (`codevec.sync_batch`, one transaction each), each batch as the table's owner in a
//! security-restricted operation (as autovacuum runs index expressions), so that a table's
//! triggers and index expressions never run with the worker's superuser rights. With
//! `codevec.sync_workers` > 1 the workers of a database share its tables' queues (the batch
//! takes its entries `FOR UPDATE SKIP LOCKED`).

use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;

use super::launcher::naptime;
use super::shared::{DbState, WorkerSlot, MAX_WORKERS, SHARED};

// The signal handlers of a standard background worker, as the C functions themselves
// (pg_sys wraps them as Rust functions, which cannot be installed as handlers).
extern "C-unwind" {
    fn die(signal: i32);
    fn SignalHandlerForConfigReload(signal: i32);
}

/// Naps with an empty queue after which a worker leaves (so that an idle database has no
/// connection from us: DROP DATABASE works without FORCE); the next commit that queues a
/// row starts workers again.
const IDLE_NAPS: u32 = 30;

/// This process's worker slot (set once at start).
static mut SLOT: Option<usize> = None;

fn slot() -> Option<usize> {
    // SAFETY: written once at worker start on the only thread that reads it.
    unsafe { *core::ptr::addr_of!(SLOT) }
}

/// Record the batch in progress (called from `codevec.sync_report_claim` inside the batch).
pub fn report_claim(relid: u32, rows: i32) {
    if let Some(i) = slot() {
        let mut s = SHARED.exclusive();
        s.workers[i].relid = relid;
        s.workers[i].rows = rows;
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn release_slot(_code: i32, _arg: pg_sys::Datum) {
    if let Some(i) = slot() {
        SHARED.exclusive().workers[i] = WorkerSlot::default();
    }
}

/// The synced tables of this database and their owners, and whether the queue is empty;
/// None when the extension is not installed. Configuration rows of dropped tables are
/// removed on the way.
type Tables = (Vec<(pg_sys::Oid, pg_sys::Oid)>, bool);

fn tables() -> Option<Tables> {
    let installed = Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'codevec')",
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !installed {
        return None;
    }
    Spi::connect_mut(|c| {
        c.update(
            "SELECT codevec.sync_forget(pg_catalog.array_agg(s.relid::pg_catalog.oid))
             FROM codevec.sync_config s WHERE NOT EXISTS (
                 SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) s.relid::pg_catalog.oid)",
            None,
            &[],
        )?;
        let rows = c.select(
            "SELECT s.relid::pg_catalog.oid, r.relowner FROM codevec.sync_config s
             JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) s.relid::pg_catalog.oid
             ORDER BY 1",
            None,
            &[],
        )?;
        let mut out = vec![];
        for row in rows {
            let rel: Option<pg_sys::Oid> = row.get(1)?;
            let owner: Option<pg_sys::Oid> = row.get(2)?;
            if let (Some(rel), Some(owner)) = (rel, owner) {
                out.push((rel, owner));
            }
        }
        let empty = c
            .select(
                "SELECT NOT EXISTS (SELECT 1 FROM codevec.sync_queue)",
                None,
                &[],
            )?
            .first()
            .get_one::<bool>()?
            .unwrap_or(false);
        Ok::<_, pgrx::spi::SpiError>((out, empty))
    })
    .ok()
}

/// Runs `sql` (one `$1` = the table's oid, one integer result) as the table's owner, in a
/// security-restricted operation and a GUC nest level of its own.
fn as_owner(sql: &str, relid: pg_sys::Oid, owner: pg_sys::Oid) -> i64 {
    let mut save_uid = pg_sys::Oid::INVALID;
    let mut save_ctx = 0;
    // SAFETY: backend globals of this process, inside a transaction; the restricted context
    // and the GUC nest level are undone below, and by the transaction's abort on ERROR.
    let nest = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut save_uid, &mut save_ctx);
        pg_sys::SetUserIdAndSecContext(
            owner,
            save_ctx
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        pg_sys::NewGUCNestLevel()
    };
    let n = Spi::get_one_with_args::<i64>(sql, &[relid.into()])
        .ok()
        .flatten()
        .unwrap_or(0);
    // SAFETY: see above.
    unsafe {
        pg_sys::AtEOXact_GUC(false, nest);
        pg_sys::SetUserIdAndSecContext(save_uid, save_ctx);
    }
    n
}

/// One batch of one table, as its owner; returns the queue entries it settled.
fn batch(relid: pg_sys::Oid, owner: pg_sys::Oid) -> i64 {
    as_owner(
        "SELECT claimed::pg_catalog.int8 FROM codevec.sync_batch($1::pg_catalog.oid::pg_catalog.regclass)",
        relid,
        owner,
    )
}

/// Queue what waits but has no entry (after a restore, or a queue emptied by hand).
fn requeue(relid: pg_sys::Oid, owner: pg_sys::Oid) -> i64 {
    as_owner(
        "SELECT codevec.sync_requeue($1::pg_catalog.oid::pg_catalog.regclass)",
        relid,
        owner,
    )
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn codevec_sync_worker(arg: pg_sys::Datum) {
    let db = pg_sys::Oid::from(arg.value() as u32);
    let index: usize = BackgroundWorker::get_extra().parse().unwrap_or(0);
    // SAFETY: standard background worker signal set-up: SIGTERM ends the worker through
    // CHECK_FOR_INTERRUPTS (also inside the encoder, which polls for it), SIGHUP reloads.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGHUP as i32, Some(SignalHandlerForConfigReload));
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(die));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    {
        let mut s = SHARED.exclusive();
        if let Some(i) = (0..MAX_WORKERS).find(|&i| s.workers[i].pid == 0) {
            // SAFETY: a process global.
            let pid = unsafe { pg_sys::MyProcPid };
            s.workers[i] = WorkerSlot {
                pid,
                database: db.to_u32(),
                relid: 0,
                rows: 0,
            };
            // SAFETY: single-threaded start-up of this process.
            unsafe { SLOT = Some(i) };
        }
    }
    // SAFETY: registers a callback run at process exit.
    unsafe { pg_sys::on_shmem_exit(Some(release_slot), pg_sys::Datum::from(0)) };

    let mut idle_naps = 0u32;
    let mut first_round = true;
    loop {
        // SAFETY: reads and clears the reload flag set by the SIGHUP handler, on this thread.
        unsafe {
            pg_sys::check_for_interrupts!();
            if core::ptr::read_volatile(core::ptr::addr_of!(pg_sys::ConfigReloadPending)) != 0 {
                pg_sys::ConfigReloadPending = 0;
                pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
            }
        }
        if index >= crate::gucs::SYNC_WORKERS.get().max(0) as usize {
            return; // codevec.sync_workers was lowered
        }
        let wakes_before = SHARED.exclusive().db(db.to_u32()).map(|d| d.wakes);
        let list = BackgroundWorker::transaction(tables);
        let (list, queue_empty) = match list {
            Some(l) if !l.0.is_empty() => l,
            _ => {
                // nothing to do in this database until enable_sync is called again
                SHARED.exclusive().set_db(db.to_u32(), DbState::Inactive);
                return;
            }
        };
        let mut requeued = 0;
        if first_round && index == 0 {
            for &(relid, owner) in &list {
                requeued += BackgroundWorker::transaction(move || requeue(relid, owner));
            }
        }
        let mut settled = 0;
        for (relid, owner) in list {
            settled += BackgroundWorker::transaction(move || batch(relid, owner));
            report_claim(0, 0);
        }
        if settled > 0 || !queue_empty || requeued > 0 {
            idle_naps = 0;
            // a scout that found work: the launcher starts the other workers now (only from
            // Unknown: setting Active every round would undo a partner's idle exit)
            let mut s = SHARED.exclusive();
            if s.db(db.to_u32())
                .is_none_or(|d| d.state == DbState::Unknown)
            {
                s.set_db(db.to_u32(), DbState::Active);
            }
        } else if first_round {
            // a scout (or a worker whose rows another one took) with nothing to do leaves
            // at once instead of after IDLE_NAPS
            idle_naps = IDLE_NAPS;
        } else {
            idle_naps += 1;
        }
        first_round = false;
        if idle_naps >= IDLE_NAPS {
            let mut s = SHARED.exclusive();
            // leave only if nobody queued anything since we looked (else: look again)
            if s.db(db.to_u32()).map(|d| d.wakes) == wakes_before {
                s.set_db(db.to_u32(), DbState::Inactive);
                return;
            }
            idle_naps = 0;
        }
        if settled == 0 {
            // SAFETY: waits on this process's latch; exits if the postmaster dies.
            unsafe {
                pg_sys::WaitLatch(
                    pg_sys::MyLatch,
                    (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH)
                        as i32,
                    naptime().as_millis() as _,
                    pg_sys::PG_WAIT_EXTENSION,
                );
                pg_sys::ResetLatch(pg_sys::MyLatch);
            }
        }
    }
}
