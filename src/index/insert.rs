//! `aminsert`: the glue around `codevec_ivf::pages::insert` (nearest list, encode, append the
//! `f16` copy and the code; the lock discipline is documented there and in docs/ivf.md).

use codevec_ivf::pages::insert::insert;
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::meta;
use super::store::{ok, BufferStore, Pause};
use super::{check_max_dims, read_vector, tid_pack};

/// `aminsert`.
#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _index_unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one key column.
    if unsafe { *isnull } {
        return false;
    }
    // The value is detoasted before any page is locked (the crate's insert also loads the
    // model under no lock and keeps the metapage's exclusive section short).
    // SAFETY: index is open; its operator class tells the element type.
    let (_, elem) = unsafe { super::index_kind(index) };
    let mut x = Vec::new();
    // SAFETY: values[0] is a non-null datum of the indexed type.
    unsafe { read_vector(*values, elem, &mut x) };
    check_max_dims(x.len());
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        crate::error::raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!(
                "ivf index cannot hold a non-finite value (element {})",
                i + 1
            ),
            None,
            Some("Such a value cannot be dumped and restored either: fix or delete the row."),
        );
    }
    // SAFETY: index is open for the call; heap_tid is the new row's TID.
    unsafe {
        let store = BufferStore::main(index, Pause::Interrupts);
        let mut model_of = |m: &meta::MetaData| meta::model_in(index, &store, m);
        ok(insert(
            &store,
            &x,
            tid_pack(&*heap_tid),
            &mut model_of,
            &mut meta::new_build_id,
        ));
    }
    false
}
