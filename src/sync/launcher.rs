//! The sync launcher: one background worker per server (registered in `_PG_init` when the
//! library is preloaded) that starts and restarts the per-database workers, like the
//! autovacuum launcher. It is not connected to any database: it reads `pg_database`
//! directly and learns from the workers (through shared memory) which databases have
//! synced tables. It starts only once recovery has finished, so never on a standby.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime,
    DynamicBackgroundWorker, SignalWakeFlags,
};
use pgrx::prelude::*;

use super::shared::{DbState, SHARED};
use crate::gucs;

/// At most this many workers look at unknown databases at once.
const MAX_SCOUTS: usize = 2;
/// Every this many naps, databases without workers are looked at again (a scout starts,
/// and leaves at once if nothing is queued): the safety net for a wake that never came,
/// e.g. rows queued by a prepared transaction, whose COMMIT PREPARED runs no callback of ours.
const SWEEP_NAPS: u32 = 300;

pub fn register() {
    BackgroundWorkerBuilder::new("codevec sync launcher")
        .set_type("codevec sync launcher")
        .set_function("codevec_sync_launcher")
        .set_library("codevec")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

pub fn naptime() -> Duration {
    Duration::from_millis(gucs::SYNC_NAPTIME.get().max(10) as u64)
}

/// Databases that accept connections (not templates, not half-dropped ones).
fn databases() -> Vec<u32> {
    let mut out = vec![];
    // SAFETY: inside a transaction (BackgroundWorker::transaction); pg_database is a shared
    // catalog readable without a database connection, as the autovacuum launcher does:
    // heap_getnext returns tuples whose data are FormData_pg_database at t_hoff.
    unsafe {
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, pg_sys::AccessShareLock as _);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tup = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tup.is_null() {
                break;
            }
            let header = (*tup).t_data;
            let form = header
                .cast::<u8>()
                .add((*header).t_hoff as usize)
                .cast::<pg_sys::FormData_pg_database>();
            if (*form).datallowconn && !(*form).datistemplate && (*form).datconnlimit != -2 {
                out.push((*form).oid.to_u32());
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as _);
    }
    out
}

fn start_worker(db: u32, index: usize) -> Option<DynamicBackgroundWorker> {
    BackgroundWorkerBuilder::new(&format!("codevec sync worker {index} for database {db}"))
        .set_type("codevec sync worker")
        .set_function("codevec_sync_worker")
        .set_library("codevec")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(None)
        .set_argument(Some(pg_sys::Datum::from(db as usize)))
        .set_extra(&index.to_string())
        // SAFETY: a process global.
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic()
        .ok()
}

fn alive(h: &DynamicBackgroundWorker) -> bool {
    match h.pid() {
        Ok(_) => true,
        Err(BackgroundWorkerStatus::NotYetStarted) => true,
        Err(_) => false,
    }
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn codevec_sync_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    // SAFETY: MyLatch is this process's PGPROC latch (shared memory) once connected.
    SHARED.exclusive().launcher_latch = unsafe { pg_sys::MyLatch } as usize;
    log!("codevec sync launcher started");

    let mut running: HashMap<(u32, usize), DynamicBackgroundWorker> = HashMap::new();
    let mut last_start: HashMap<(u32, usize), Instant> = HashMap::new();
    let mut last_sweep = Instant::now();
    loop {
        if BackgroundWorker::sighup_received() {
            // SAFETY: the documented way for a background worker to reload its configuration.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let dbs = BackgroundWorker::transaction(databases);
        running.retain(|_, h| alive(h));
        let wanted = gucs::SYNC_WORKERS.get().max(0) as usize;
        let states: Vec<(u32, DbState)> = {
            let mut s = SHARED.exclusive();
            for d in s.dbs.iter_mut() {
                if d.state != DbState::Free && !dbs.contains(&d.oid) {
                    *d = Default::default(); // dropped database
                }
            }
            for &db in &dbs {
                if s.db(db).is_none() {
                    s.set_db(db, DbState::Unknown);
                }
            }
            if last_sweep.elapsed() >= naptime() * SWEEP_NAPS {
                last_sweep = Instant::now();
                for d in s.dbs.iter_mut() {
                    if d.state == DbState::Inactive {
                        d.state = DbState::Unknown;
                    }
                }
            }
            s.dbs
                .iter()
                .filter(|d| d.state != DbState::Free)
                .map(|d| (d.oid, d.state))
                .collect()
        };
        let mut scouts = running
            .keys()
            .filter(|(db, _)| {
                states
                    .iter()
                    .any(|(o, st)| o == db && *st == DbState::Unknown)
            })
            .count();
        let pause = naptime();
        for (db, state) in states {
            let n = match state {
                DbState::Active => wanted,
                DbState::Unknown if wanted > 0 => 1,
                _ => 0,
            };
            for index in 0..n {
                let key = (db, index);
                if running.contains_key(&key) {
                    continue;
                }
                if state == DbState::Unknown {
                    if scouts >= MAX_SCOUTS {
                        continue;
                    }
                    scouts += 1;
                }
                // a worker that keeps failing is restarted once per naptime, not in a loop
                if last_start.get(&key).is_some_and(|t| t.elapsed() < pause) {
                    continue;
                }
                last_start.insert(key, Instant::now());
                match start_worker(db, index) {
                    Some(h) => {
                        running.insert(key, h);
                    }
                    None => {
                        // no free background worker slot (max_worker_processes): next round
                        break;
                    }
                }
            }
        }
        if !BackgroundWorker::wait_latch(Some(pause)) {
            break;
        }
    }
    SHARED.exclusive().launcher_latch = 0;
    log!("codevec sync launcher stopping");
    // exit code 1: restarted after bgw_restart_time if it was terminated on its own (a
    // server shutdown does not restart it)
    // SAFETY: ends this background worker process.
    unsafe { pg_sys::proc_exit(1) };
}
