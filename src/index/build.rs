//! `ambuild`: collect the vectors (table scan), train k-means on a sample (rayon workers;
//! cancellation and progress only on the backend thread), assign + encode in parallel,
//! write the pages (each a full-page-image GenericXLog record).

use std::ops::ControlFlow;

use codevec_ivf::{defaults, BuildConfig, BuildError, BuildProgress, IvfIndex, Metric};
use pgrx::pg_sys;
use pgrx::prelude::*;

use codevec_ivf::pages::build::{write_first_meta, write_index};

use super::meta::{self, MetaData};
use super::store::{ok, BufferStore, Pause};
use super::{check_max_dims, index_kind, read_vector, tid_pack, Elem};
use crate::error::raise;

/// Build sub-phases shown in `pg_stat_progress_create_index.phase`.
const PHASE_LOAD: i64 = 2;
const PHASE_TRAIN: i64 = 3;
const PHASE_ENCODE: i64 = 4;
const PHASE_WRITE: i64 = 5;

/// Names of the sub-phases.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let s: &std::ffi::CStr = match phase {
        PHASE_LOAD => c"loading tuples",
        PHASE_TRAIN => c"training k-means",
        PHASE_ENCODE => c"assigning and encoding",
        PHASE_WRITE => c"writing pages",
        _ => return std::ptr::null_mut(),
    };
    s.as_ptr() as *mut _
}

fn progress(param: u32, value: i64) {
    // SAFETY: updating our own backend's progress slot.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) };
}

/// What the table-scan callback accumulates.
struct Collect {
    elem: Elem,
    dims: usize,
    data: Vec<f32>,
    tids: Vec<u64>,
    rows: usize,
    budget: usize,
    over_budget: bool,
    buf: Vec<f32>,
    tmp_ctx: pg_sys::MemoryContext,
}

/// Bytes the build needs for `rows` vectors of `dims` (data, codes, `f16` copies, k-means).
fn bytes_needed(rows: usize, dims: usize, lists: usize) -> usize {
    let words = dims.div_ceil(64);
    let sample = defaults::training_sample(lists, rows);
    rows * (dims * 4 + 8)
        + rows * (words * 8 + 16 + 2 * dims + 24)
        + codevec_ivf::kmeans_memory_bytes(sample, dims, lists)
}

#[pg_guard]
unsafe extern "C-unwind" fn build_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: state is the Collect passed to the scan; values/isnull have one column.
    let st = unsafe { &mut *(state as *mut Collect) };
    // SAFETY: the scan passes one isnull flag per index column, and the index has one.
    if unsafe { *isnull } {
        return;
    }
    // SAFETY: detoast in a per-tuple context that we reset right after copying.
    unsafe {
        let old = pg_sys::MemoryContextSwitchTo(st.tmp_ctx);
        read_vector(*values, st.elem, &mut st.buf);
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::MemoryContextReset(st.tmp_ctx);
    }
    if st.dims == 0 {
        check_max_dims(st.buf.len());
        st.dims = st.buf.len();
    } else if st.buf.len() != st.dims {
        raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("ivf index requires vectors of one dimension, found {} and {}", st.dims, st.buf.len()),
            None,
            Some("Constrain the column, e.g. embedding(384), or make the index partial: WHERE dims(col) = 384."),
        );
    }
    st.rows += 1;
    if !st.over_budget && (st.data.len() + st.dims) * 4 + st.tids.len() * 8 > st.budget {
        // keep counting rows to report what the whole build needs
        st.over_budget = true;
        st.data = Vec::new();
        st.tids = Vec::new();
    }
    if !st.over_budget {
        // A failed Rust allocation would abort the backend (and restart the cluster): ask
        // for the memory fallibly and turn a refusal into an ERROR.
        if st.data.try_reserve(st.dims).is_err() || st.tids.try_reserve(1).is_err() {
            raise(
                PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
                format!(
                    "out of memory collecting {} vectors for the ivf index build",
                    st.rows
                ),
                None,
                Some("Lower maintenance_work_mem, or build the index when more memory is free."),
            );
        }
        st.data.extend_from_slice(&st.buf);
        // SAFETY: tid points to the heap tuple's TID.
        st.tids.push(tid_pack(unsafe { &*tid }));
    }
}

/// `ambuild`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    // SAFETY: index is the open, empty index being built.
    let (metric, elem) = unsafe { index_kind(index) };
    // SAFETY: as above.
    let opt_lists = unsafe { super::options::lists_option(index) };
    // SAFETY: the maintenance_work_mem GUC variable (kB).
    let budget = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    // SAFETY: a child of the current (build) context, deleted below.
    let tmp_ctx = unsafe {
        pg_sys::AllocSetContextCreateExtended(
            pg_sys::CurrentMemoryContext,
            c"ivf build tuple".as_ptr(),
            0,
            8 * 1024,
            8 * 1024 * 1024,
        )
    };
    let mut st = Collect {
        elem,
        dims: 0,
        data: Vec::new(),
        tids: Vec::new(),
        rows: 0,
        budget,
        over_budget: false,
        buf: Vec::new(),
        tmp_ctx,
    };
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    // SAFETY: the table AM's index_build_range_scan with our callback and state; runs the
    // index expressions / predicate of partial indexes for us. Called through a raw
    // function pointer, so it goes through pg_guard_ffi_boundary: an ERROR inside the scan
    // (ours from the callback, a cancel, a detoast or expression error) comes back as a
    // Rust panic that unwinds this frame, freeing `st`, instead of a longjmp over it.
    let heap_tuples = unsafe {
        let am = (*heap).rd_tableam;
        let scan = (*am)
            .index_build_range_scan
            .expect("table AM has index_build_range_scan");
        let stp = &mut st as *mut Collect as *mut std::ffi::c_void;
        pg_sys::ffi::pg_guard_ffi_boundary(
            // Guarded: the call through the table AM's raw `extern "C-unwind"` pointer runs
            // inside pg_guard_ffi_boundary, which turns an ERROR into a Rust panic.
            #[allow(ffi_unwind_calls)]
            || {
                scan(
                    heap,
                    index,
                    info,
                    true,
                    false,
                    true,
                    0,
                    pg_sys::InvalidBlockNumber,
                    Some(build_callback),
                    stp,
                    std::ptr::null_mut(),
                )
            },
        )
    };
    // SAFETY: created above, no longer used.
    unsafe { pg_sys::MemoryContextDelete(tmp_ctx) };
    let rows = st.rows;
    let dims = st.dims;
    let lists_wanted = if opt_lists > 0 {
        opt_lists as usize
    } else {
        defaults::lists_for_rows(rows)
    };
    if st.over_budget || (rows > 0 && bytes_needed(rows, dims, lists_wanted.min(rows)) > budget) {
        let need = bytes_needed(rows, dims, lists_wanted.min(rows.max(1)));
        raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "ivf index build needs about {} MB of maintenance_work_mem for {rows} rows of {dims} dimensions, but it is {} MB",
                need.div_ceil(1 << 20),
                budget >> 20
            ),
            None,
            Some(&format!("SET maintenance_work_mem = '{}MB' before CREATE INDEX.", need.div_ceil(1 << 20) + 1)),
        );
    }
    // SAFETY: index is open and empty.
    unsafe {
        build_pages(
            index,
            metric,
            elem,
            opt_lists,
            std::mem::take(&mut st.data),
            std::mem::take(&mut st.tids),
            dims,
            lists_wanted,
        )
    };
    // SAFETY: palloc0 of a plain C struct in the current (statement) memory context, which
    // Postgres owns once `into_pg` hands it over as ambuild's result.
    let mut r = unsafe { PgBox::<pg_sys::IndexBuildResult>::alloc0() };
    r.heap_tuples = heap_tuples;
    r.index_tuples = rows as f64;
    r.into_pg()
}

/// Typmod dimensions of the indexed column (0 when unconstrained).
unsafe fn typmod_dims(index: pg_sys::Relation) -> usize {
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    let tm = unsafe { (*(*(*index).rd_att).attrs.as_ptr()).atttypmod };
    if tm > 0 {
        tm as usize
    } else {
        0
    }
}

/// Trains and writes every page of a new index from the collected vectors.
// The one call site passes the build's options and collected data straight through; a
// struct for them would only be built to be taken apart here.
#[allow(clippy::too_many_arguments)]
unsafe fn build_pages(
    index: pg_sys::Relation,
    metric: Metric,
    elem: Elem,
    opt_lists: i32,
    data: Vec<f32>,
    tids: Vec<u64>,
    dims: usize,
    lists_wanted: usize,
) {
    let rows = tids.len();
    // metapage first: block 0
    // SAFETY: index is open and empty; we are its only writer during the build.
    let store = unsafe { BufferStore::main(index, Pause::Interrupts) };
    let d = if dims > 0 {
        dims
    } else {
        // SAFETY: index is open.
        unsafe { typmod_dims(index) }
    };
    let template = MetaData::untrained(metric, elem as u32, d, opt_lists);
    ok(write_first_meta(&store, &template));
    if rows == 0 {
        pgrx::notice!("ivf index built on an empty table: the first insert trains a single list; REINDEX after loading data to train lists = round(sqrt(rows))");
        return;
    }
    let lists = lists_wanted.min(rows);
    if lists < lists_wanted {
        pgrx::notice!("ivf index has {rows} rows but lists = {lists_wanted}: built {lists} lists instead; REINDEX after loading more data");
    }
    let mut cfg = BuildConfig::new(metric);
    cfg.lists = Some(lists);
    // SAFETY: reading an integer GUC.
    let workers = unsafe { pg_sys::max_parallel_maintenance_workers }.max(0) as usize;
    cfg.threads = Some(workers + 1);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_TRAIN);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, rows as i64);
    // The hook runs on this (backend) thread only: report progress, stop on interrupts.
    let hook = |p: BuildProgress| -> ControlFlow<()> {
        match p {
            BuildProgress::Assigned { .. } => {
                progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ENCODE)
            }
            BuildProgress::Encoded { lists_done, lists } => progress(
                pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE,
                (rows * lists_done / lists.max(1)) as i64,
            ),
            BuildProgress::KMeans(_) => {}
        }
        // Only a cancel or a termination stops the build: InterruptPending is also set by
        // client_connection_check_interval, pg_log_backend_memory_contexts, proc-signal
        // barriers..., which CHECK_FOR_INTERRUPTS handles without raising (they wait for
        // the next check_for_interrupts! below, a few pages of work away).
        if crate::interrupts::cancel_pending() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let built = IvfIndex::build(&data, dims, Some(&tids), &cfg, &hook);
    drop(data);
    drop(tids);
    let ivf = match built {
        Ok(i) => i,
        Err(BuildError::Cancelled) => {
            pg_sys::check_for_interrupts!();
            raise(
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                "ivf index build cancelled",
                None,
                None,
            )
        }
        Err(BuildError::InvalidInput(s)) => raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("ivf index build: {s}"),
            None,
            None,
        ),
    };
    pg_sys::check_for_interrupts!();
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, 0);
    let rows_done = |n: usize| progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, n as i64);
    ok(write_index(
        &store,
        &ivf,
        &template,
        meta::new_build_id(),
        &mut { rows_done },
    ));
}

/// `ambuildempty`: the init fork of an unlogged index (an untrained metapage).
///
/// GenericXLog writes no WAL for an unlogged relation, so the page is written through the
/// buffer and then WAL-logged as a full page image with `log_newpage_range` (as the core
/// index AMs do): crash recovery and standbys then rebuild the init fork from WAL, and the
/// init fork's buffer is a permanent one that checkpoints write.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    // SAFETY: index is open; the init fork is empty.
    unsafe {
        let (metric, elem) = index_kind(index);
        let opt = super::options::lists_option(index);
        let store = BufferStore::init_fork(index);
        ok(write_first_meta(
            &store,
            &MetaData::untrained(metric, elem as u32, typmod_dims(index), opt),
        ));
        let nblocks =
            pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::INIT_FORKNUM);
        pg_sys::log_newpage_range(index, pg_sys::ForkNumber::INIT_FORKNUM, 0, nblocks, true);
    }
}
