//! Every GUC of codevec, registered in `_PG_init`. All are namespaced `codevec.*` and
//! settable per session or with `SET LOCAL` (except the model directory, superuser only),
//! so they travel to postgres_fdw shards (`options '-c codevec.probes=…'`) and Citus workers.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

/// How an ivf scan continues past its first batch (`codevec.iterative_scan`).
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum IterativeScan {
    /// Only the first batch: at most `codevec.rerank` rows, exactly ordered.
    #[name = c"off"]
    Off,
    /// A row found after a farther one was returned is left out, so the output is always
    /// in ORDER BY order.
    #[name = c"strict_order"]
    StrictOrder,
    /// A row found late is returned anyway: every row of the probed lists once, possibly
    /// out of order (re-sort in an outer query).
    #[name = c"relaxed_order"]
    RelaxedOrder,
}

/// `codevec.iterative_scan`.
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> =
    GucSetting::<IterativeScan>::new(IterativeScan::StrictOrder);
/// Superuser cap on `codevec.encoder_threads` (0 = the number of CPUs).
pub static MAX_ENCODER_THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);

/// The encoder threads a backend may use: `codevec.encoder_threads`, capped by
/// `codevec.max_encoder_threads` (default: the number of CPUs).
pub fn encoder_threads() -> usize {
    let want = ENCODER_THREADS.get().max(1) as usize;
    let cap = match MAX_ENCODER_THREADS.get() {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n.max(1) as usize,
    };
    want.min(cap)
}

/// Worker threads the encoder may use in one backend (1 = the backend thread only).
pub static ENCODER_THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);
/// Most texts per encoder mini-batch (bounds memory per backend).
pub static ENCODER_BATCH: GucSetting<i32> = GucSetting::<i32>::new(32);
/// Where the model files are; empty = `$sharedir/extension/codevec/models/all-MiniLM-L6-v2`.
pub static MODEL_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Where the packed-weights cache files are; empty = `$PGDATA/codevec_weights`, `off` = none.
pub static WEIGHTS_CACHE_DIR: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

/// Lists an ivf scan probes before it starts reranking (0 = the default for the index's
/// list count and rows, `codevec_ivf::defaults::nprobe_for`).
pub static IVF_PROBES: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Candidates of the first window whose `f16` copy an ivf scan reads before its first row
/// (later windows double it; 0 = `rerank_for_k(10)` = 150).
pub static IVF_RERANK: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Most lists an ivf scan probes in total when the executor keeps asking for rows (filtered
/// queries, cursors); 0 = all lists.
pub static IVF_MAX_PROBES: GucSetting<i32> = GucSetting::<i32>::new(0);

/// Background sync workers per database with synced tables (`shared_preload_libraries`).
pub static SYNC_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(1);
/// How long an idle sync worker (and the launcher) sleeps between looks at the queue, in ms.
pub static SYNC_NAPTIME: GucSetting<i32> = GucSetting::<i32>::new(1000);
/// How often sync tries a text before it parks it in codevec.sync_failed.
pub static SYNC_MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(3);

/// Register the GUCs (called once per backend from `_PG_init`).
pub fn register() {
    GucRegistry::define_int_guc(
        c"codevec.probes",
        c"Lists an ivf index scan probes first (0 = default for the index's list count).",
        c"More probes raise recall and cost time. 0 uses ceil(lists/3) up to 256 lists, ceil(sqrt(256*lists)/3) above, times (rows/rows at build)^(1/6) (at most 2) once inserts have grown the index.",
        &IVF_PROBES,
        0,
        32768,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.rerank",
        c"Candidates an ivf index scan reranks with their f16 copies before its first row (0 = 150).",
        c"The candidates of the probed lists with the smallest estimated lower bounds are reranked by a rigorous lower bound of the exact distance; later windows, when the executor asks for more rows, are twice as wide each time. The executor then rechecks the exact distance.",
        &IVF_RERANK,
        0,
        1000000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.max_probes",
        c"Most lists an ivf index scan probes when the executor asks for more rows (0 = all).",
        c"Filtered ORDER BY ... LIMIT queries and cursors continue list after list until the executor stops or this many lists were probed.",
        &IVF_MAX_PROBES,
        0,
        32768,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"codevec.iterative_scan",
        c"How an ivf index scan continues when the executor asks for more rows than its first batch: strict_order (default), relaxed_order or off.",
        c"strict_order keeps ORDER BY order exact (rows that would break it are left out); relaxed_order returns every probed row, possibly out of order; off stops after the first batch.",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.max_encoder_threads",
        c"Most encoder threads any session may use (superuser only; 0 = the number of CPUs).",
        c"Caps codevec.encoder_threads, which every user may set.",
        &MAX_ENCODER_THREADS,
        0,
        1024,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.encoder_threads",
        c"Threads codevec.embed may use in one backend.",
        c"1 runs the encoder on the backend's own thread. More threads make one large batch faster but take CPU from other queries. Capped by codevec.max_encoder_threads.",
        &ENCODER_THREADS,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.encoder_batch_size",
        c"Most texts per encoder mini-batch.",
        c"A call is embedded in mini-batches of at most this many texts (with several encoder threads, in about four per thread); each text in a mini-batch takes about 1 MB of backend memory.",
        &ENCODER_BATCH,
        1,
        256,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"codevec.model_dir",
        c"Directory holding the encoder's model files (superuser only).",
        c"Empty means the directory make install writes: $sharedir/extension/codevec/models/all-MiniLM-L6-v2.",
        &MODEL_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"codevec.weights_cache_dir",
        c"Directory of the encoder's packed-weights cache files, shared by every backend (superuser only).",
        c"Empty means codevec_weights in the data directory; off means every backend packs its own private copy of the weights. Each backend memory-maps the file for its model and kernel layout read-only, so the weights are in memory once per server; a stale or damaged file is rebuilt.",
        &WEIGHTS_CACHE_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.sync_workers",
        c"Background workers that embed the sync queue of each database with synced tables (0 = none).",
        c"Needs shared_preload_libraries = 'codevec'. Each worker embeds on one core (codevec.encoder_threads applies); the workers of a database share its queues. Each takes a max_worker_processes slot.",
        &SYNC_WORKERS,
        0,
        64,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.sync_naptime",
        c"How long an idle sync worker sleeps before it looks at the queue again.",
        c"Also how often the sync launcher checks for new databases and restarts workers that stopped.",
        &SYNC_NAPTIME,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"codevec.sync_max_retries",
        c"How often sync tries to embed a text before it parks it in codevec.sync_failed.",
        c"A failed text waits 1, 2, 4, ... seconds (at most 10 minutes) before the next try; the rows behind it go on.",
        &SYNC_MAX_RETRIES,
        1,
        100,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SET codevec.prbes = 10 is an ERROR from now on instead of a silent placeholder.
    // SAFETY: called from _PG_init with a static C string.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"codevec".as_ptr()) };
}
