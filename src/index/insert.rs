//! `aminsert`: nearest list, encode, append the `f16` copy to the vector tail page and the
//! code to the list's tail code page. Inserters serialise on the metapage's exclusive lock
//! (lock order: meta → vector page → directory page → tail code page → new code page).

use codevec_ivf::IvfModel;
use half::f16;
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::meta::{self, MetaData, META_BLOCK};
use super::page::{
    self, kind, loc_pack, CodeLayout, CodePage, DirEntry, VecLayout, Wal, DIR_PER_PAGE,
    INVALID_BLOCK,
};
use super::{check_max_dims, dims_mismatch, read_vector, tid_pack};

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
    // Everything that can take long or read other pages happens before the metapage's
    // exclusive lock, which scans and the planner need (share) and cannot be cancelled
    // while waiting: the detoast of the value, and the first model load of this backend
    // (all centroid pages, the rotated and transposed copies).
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
    // SAFETY: index is open; share lock on block 0 while copying.
    let seen = unsafe { meta::read_meta(index) };
    check_dims(&seen, &x);
    // SAFETY: as above; the model of the metapage just read.
    let mut model = (seen.lists > 0).then(|| unsafe { meta::model(index, &seen) });
    // SAFETY: index is open; block 0 is the metapage, held exclusively from here to the end.
    unsafe {
        let mb = page::lock_buffer(index, META_BLOCK, true);
        let mut m = meta::read_meta_page(page::buffer_page(mb));
        check_dims(&m, &x);
        if m.lists == 0 {
            train_first(index, mb, &mut m, &x);
            model = None;
        }
        // trained by another inserter meanwhile (or just now by us): its model, under the lock
        let model = match model {
            Some(mdl) if seen.model_identity() == m.model_identity() => mdl,
            _ => meta::model(index, &m),
        };
        insert_vector(index, mb, &mut m, &model, &x, tid_pack(&*heap_tid));
        page::release(mb);
    }
    false
}

/// Raises the dimension error unless `x` fits an index with metapage `m`.
fn check_dims(m: &MetaData, x: &[f32]) {
    if m.dims != 0 && x.len() != m.dims as usize {
        dims_mismatch("vector", x.len(), m.dims as usize);
    }
}

/// Trains a one-list model on the first vector of an empty index (centroid = the vector,
/// unit length for the spherical metrics) and writes its centroid and directory pages.
unsafe fn train_first(index: pg_sys::Relation, mb: pg_sys::Buffer, m: &mut MetaData, x: &[f32]) {
    let dims = x.len();
    let mut c = x.to_vec();
    if m.metric().is_spherical() {
        let n = c
            .iter()
            .map(|v| (*v as f64) * (*v as f64))
            .sum::<f64>()
            .sqrt();
        if n > 0.0 {
            c.iter_mut().for_each(|v| *v = (*v as f64 / n) as f32);
        } else {
            c.iter_mut().for_each(|v| *v = 0.0);
            c[0] = 1.0;
        }
    }
    let mut floats = c.clone(); // centre = the single centroid
    floats.extend_from_slice(&c);
    // SAFETY: we hold the metapage exclusively; these append new pages.
    let (cs, cp) = unsafe { meta::write_centroids(index, &floats) };
    // SAFETY: as above: the metapage is held exclusively; this appends one directory page.
    let (ds, dp) = unsafe {
        meta::write_directory(
            index,
            &[DirEntry {
                head: INVALID_BLOCK,
                tail: INVALID_BLOCK,
                count: 0,
                reserved: 0,
            }],
        )
    };
    m.dims = dims as u32;
    m.lists = 1;
    m.build_id = meta::new_build_id();
    m.centroid_start = cs;
    m.centroid_pages = cp;
    m.dir_start = ds;
    m.dir_pages = dp;
    // SAFETY: exclusive lock on the metapage held by the caller.
    unsafe {
        let mut wal = Wal::start(index);
        let p = wal.register(mb, false);
        meta::write_meta_page(p, m);
        wal.finish();
    }
}

/// Appends one encoded vector. The caller holds the metapage buffer `mb` exclusively.
pub unsafe fn insert_vector(
    index: pg_sys::Relation,
    mb: pg_sys::Buffer,
    m: &mut MetaData,
    model: &IvfModel,
    x: &[f32],
    tid: u64,
) {
    let dims = m.dims as usize;
    let list = model.assign(x) as usize;
    let mut code = vec![0u64; model.code_words()];
    let mut v16 = vec![f16::ZERO; dims];
    let (cf, ff) = model.encode_into(list, x, &mut code, &mut v16);

    // 1. the f16 copy: vector tail page, or a new one (then the metapage points to it)
    let vl = VecLayout::new(dims);
    // SAFETY: lock order meta → vector page; every change in one GenericXLog record.
    let loc = unsafe {
        let mut target = None;
        if m.vec_tail != INVALID_BLOCK {
            let b = page::lock_buffer(index, m.vec_tail, true);
            let used = page::check_page(page::buffer_page(b), kind::VEC, m.vec_tail, vl.per_page)
                .count as usize;
            if used < vl.per_page {
                target = Some((b, used, false));
            } else {
                page::release(b);
            }
        }
        let (b, slot, fresh) = match target {
            Some(t) => t,
            None => (
                page::new_buffer(index, pg_sys::ForkNumber::MAIN_FORKNUM),
                0,
                true,
            ),
        };
        let blk = pg_sys::BufferGetBlockNumber(b);
        let mut wal = Wal::start(index);
        let p = wal.register(b, fresh);
        if fresh {
            page::init_page(p, kind::VEC);
            m.vec_tail = blk;
            let mp = wal.register(mb, false);
            meta::write_meta_page(mp, m);
        }
        vl.write(p, slot, ff, &v16);
        (*page::special(p)).count = (slot + 1) as u16;
        wal.finish();
        page::release(b);
        loc_pack(blk, slot)
    };

    // 2. the code: the list's tail code page, or a new page linked after it
    let cl = CodeLayout::new(dims);
    let (dblk, di) = meta::dir_location(m, list);
    // SAFETY: lock order directory → tail code page → new code page.
    unsafe {
        let db = page::lock_buffer(index, dblk, true);
        let dsp = page::check_page(page::buffer_page(db), kind::DIR, dblk, DIR_PER_PAGE);
        if di >= dsp.count as usize {
            page::corrupt(format!(
                "ivf directory block {dblk} has {} entries, list {list} needs entry {di}",
                dsp.count
            ));
        }
        let e = *meta::dir_entry(page::buffer_page(db), di);
        let mut wal = Wal::start(index);
        let mut tail = None;
        if e.tail != INVALID_BLOCK {
            let tb = page::lock_buffer(index, e.tail, true);
            let used = page::check_page(page::buffer_page(tb), kind::CODE, e.tail, cl.capacity())
                .count as usize;
            tail = Some((tb, used));
        }
        let (target_buf, pos, extra) = match tail {
            Some((tb, used)) if used < cl.capacity() => (tb, used, None),
            other => {
                let nb = page::new_buffer(index, pg_sys::ForkNumber::MAIN_FORKNUM);
                (nb, 0, Some(other.map(|t| t.0)))
            }
        };
        let dp = wal.register(db, false);
        let de = meta::dir_entry(dp, di);
        let target_page;
        match extra {
            None => {
                target_page = wal.register(target_buf, false);
            }
            Some(old_tail) => {
                target_page = wal.register(target_buf, true);
                page::init_page(target_page, kind::CODE);
                let nblk = pg_sys::BufferGetBlockNumber(target_buf);
                if let Some(ob) = old_tail {
                    let op = wal.register(ob, false);
                    (*page::special(op)).next = nblk;
                } else {
                    (*de).head = nblk;
                }
                (*de).tail = nblk;
            }
        }
        let mut cp = CodePage::new(target_page, cl);
        cp.set(pos, &code, &cf, tid, loc);
        (*page::special(target_page)).count = (pos + 1) as u16;
        (*de).count += 1;
        wal.finish();
        page::release(target_buf);
        if let Some(Some(ob)) = extra {
            page::release(ob);
        }
        page::release(db);
    }
}
