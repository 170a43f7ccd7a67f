//! `WITH (lists = N)`: the reloption of an ivf index.

use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Largest accepted `lists`.
pub const MAX_LISTS: i32 = 32768;

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// The parsed options (a varlena built by `build_reloptions`).
#[repr(C)]
pub struct IvfOptions {
    vl_len_: i32,
    /// `lists`, or -1 for the default rule.
    pub lists: i32,
}

/// Registers the reloption kind and `lists` (from `_PG_init`).
pub fn register() {
    // SAFETY: called once per backend from _PG_init; the strings are static.
    unsafe {
        let k = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(k as u32, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            k,
            c"lists".as_ptr(),
            c"Number of inverted lists (default: round(sqrt(rows)), at least 1)".as_ptr(),
            -1,
            1,
            MAX_LISTS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

/// `amoptions`: parse and validate `WITH (...)` (out-of-range values raise 22023).
#[pg_guard]
pub unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    let tab = [pg_sys::relopt_parse_elt {
        optname: c"lists".as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
        offset: std::mem::offset_of!(IvfOptions, lists) as i32,
    }];
    // SAFETY: tab describes IvfOptions; build_reloptions palloc's the result.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed) as pg_sys::relopt_kind::Type,
            std::mem::size_of::<IvfOptions>(),
            tab.as_ptr(),
            tab.len() as i32,
        ) as *mut pg_sys::bytea
    }
}

/// The `lists` option of an index (-1 when not given).
///
/// # Safety
/// `index` must be an open ivf index.
pub unsafe fn lists_option(index: pg_sys::Relation) -> i32 {
    // SAFETY: rd_options is NULL or the IvfOptions built by amoptions.
    unsafe {
        let o = (*index).rd_options as *const IvfOptions;
        if o.is_null() {
            -1
        } else {
            (*o).lists
        }
    }
}
