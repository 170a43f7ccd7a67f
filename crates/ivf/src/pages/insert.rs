//! Inserting one vector: nearest list, encode, write the `f16` copy into a vacant slot of
//! a vector page (the one inserts fill, else one VACUUM freed slots on, else a new one) and
//! the code into the list's first page with room (a page VACUUM left with room, else the
//! tail, else a new page linked after it).
//!
//! Everything slow happens before the metapage's exclusive lock, which every scan and plan
//! needs (share) and which cannot be cancelled while waiting: the caller reads the value
//! (detoast) first, and the model (all centroid pages, rotated: a backend's first insert)
//! is loaded under no lock at all. Then the metapage is taken exclusively for the page
//! changes only (inserters serialise; tens of µs); a model trained meanwhile by another
//! inserter is re-read under the lock. Lock order: meta → vector page → directory page →
//! code page with room (released if full) → tail code page → new code page.

use std::ops::Deref;

use crate::model::IvfModel;

use super::format::{kind, loc_pack, CodeLayout, DirEntry, VecLayout, INVALID_BLOCK};
use super::meta::{MetaData, META_BLOCK};
use super::read::{read_meta, write_centroids, write_directory};
use super::store::{Lock, PageGuard, PageRecord, PageStore, StoreError};

/// Most pages of a list's chain an insert looks at for room before it appends to the tail.
const ROOM_WALK: usize = 64;

/// Inserts vector `x` (finite, checked by the caller) with row id `tid`.
///
/// `model_of(meta)` returns the trained model of a metapage (the caller caches it);
/// `new_build_id()` a fresh random model identity, used when this insert trains the first
/// list of an empty index. Returns whether it did.
pub fn insert<S, M, D>(
    store: &S,
    x: &[f32],
    tid: u64,
    model_of: &mut M,
    new_build_id: &mut dyn FnMut() -> u64,
) -> Result<bool, StoreError>
where
    S: PageStore,
    M: FnMut(&MetaData) -> Result<D, StoreError>,
    D: Deref<Target = IvfModel>,
{
    let seen = read_meta(store)?;
    check_dims(&seen, x)?;
    let early = if seen.lists > 0 {
        Some(model_of(&seen)?)
    } else {
        None
    };
    let mut mg = store.lock(META_BLOCK, Lock::Exclusive)?;
    let mut m = MetaData::read(mg.page())?;
    check_dims(&m, x)?;
    let mut trained = false;
    if m.lists == 0 {
        train_first(store, &mut mg, &mut m, x, new_build_id())?;
        trained = true;
    }
    let model = match early {
        Some(mdl) if !trained && seen.model_identity() == m.model_identity() => mdl,
        _ => model_of(&m)?,
    };
    append(store, &mut mg, &mut m, &model, x, tid)?;
    Ok(trained)
}

/// The dimension error unless `x` fits an index with metapage `m`.
fn check_dims(m: &MetaData, x: &[f32]) -> Result<(), StoreError> {
    if m.dims != 0 && x.len() != m.dims as usize {
        return Err(StoreError::Dims {
            got: x.len(),
            index: m.dims as usize,
        });
    }
    Ok(())
}

/// Trains a one-list model on the first vector of an empty index (centroid = the vector,
/// unit length for the spherical metrics) and writes its centroid and directory pages and
/// the metapage. The caller holds the metapage exclusively (`mg`).
fn train_first<S: PageStore>(
    store: &S,
    mg: &mut S::Guard,
    m: &mut MetaData,
    x: &[f32],
    build_id: u64,
) -> Result<(), StoreError> {
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
    let (cs, cp) = write_centroids(store, &floats)?;
    let (ds, dp) = write_directory(store, &[DirEntry::EMPTY])?;
    m.dims = dims as u32;
    m.lists = 1;
    m.build_id = build_id;
    m.centroid_start = cs;
    m.centroid_pages = cp;
    m.dir_start = ds;
    m.dir_pages = dp;
    let mut rec = store.record();
    let r = rec.register(mg, false);
    m.write(rec.page(r));
    rec.commit();
    Ok(())
}

/// Appends one encoded vector. The caller holds the metapage exclusively (`mg`).
fn append<S: PageStore>(
    store: &S,
    mg: &mut S::Guard,
    m: &mut MetaData,
    model: &IvfModel,
    x: &[f32],
    tid: u64,
) -> Result<(), StoreError> {
    let dims = m.dims as usize;
    let list = model.assign(x) as usize;
    let mut code = vec![0u64; model.code_words()];
    let mut v16 = vec![half::f16::ZERO; dims];
    let (cf, ff) = model.encode_into(list, x, &mut code, &mut v16);

    // 1. the f16 copy: a vacant slot of the vector page inserts fill, else of a page with
    // slots freed by VACUUM (then inserts fill that one), else of a new page
    let vl = VecLayout::new(dims);
    let loc = {
        let mut target = None;
        if m.vec_tail != INVALID_BLOCK {
            let g = store.lock(m.vec_tail, Lock::Exclusive)?;
            if let Some(slot) = g.page().vacant_vector_slot(vl, m.vec_tail)? {
                target = Some((g, slot, false));
            }
        }
        while target.is_none() {
            let Some(blk) = store.take_free() else { break };
            if blk == META_BLOCK || blk == m.vec_tail {
                continue;
            }
            let g = store.lock(blk, Lock::Exclusive)?;
            // a hint: it may be stale (its slots reused already) or lost
            if g.page().special().kind != kind::VEC {
                continue;
            }
            if let Some(slot) = g.page().vacant_vector_slot(vl, blk)? {
                target = Some((g, slot, false));
            }
        }
        let (mut g, slot, fresh) = match target {
            Some(t) => t,
            None => (store.extend()?, 0, true),
        };
        let blk = g.block();
        let mut rec = store.record();
        let r = rec.register(&mut g, fresh);
        let p = rec.page(r);
        if fresh {
            p.init(kind::VEC);
        }
        p.set_vector_slot(vl, slot, tid, ff, &v16);
        if blk != m.vec_tail {
            m.vec_tail = blk;
            let mr = rec.register(mg, false);
            m.write(rec.page(mr));
        }
        rec.commit();
        loc_pack(blk, slot)
    };

    // 2. the code: the list's tail code page, or a new page linked after it
    let cl = CodeLayout::new(dims);
    let (dblk, di) = m.dir_location(list);
    let mut db = store.lock(dblk, Lock::Exclusive)?;
    let e = {
        let ents = db.page().dir_entries(dblk)?;
        match ents.get(di) {
            Some(e) => *e,
            None => {
                return Err(StoreError::corrupt(format!(
                    "ivf directory block {dblk} has {} entries, list {list} needs entry {di}",
                    ents.len()
                )))
            }
        }
    };
    // 2a. pages before the tail that VACUUM left with room: filled first, from the first
    // one the directory names on (a walk of at most ROOM_WALK pages, one lock at a time)
    let mut room = if e.room == e.tail || e.room == INVALID_BLOCK {
        0
    } else {
        e.room
    };
    for _ in 0..ROOM_WALK {
        if room == 0 {
            break;
        }
        let mut g = store.lock(room, Lock::Exclusive)?;
        let sp = g.page().check(kind::CODE, room, cl.capacity())?;
        let used = sp.count as usize;
        // a later page with room comes after this one (the tail is 2b's)
        let after = if sp.next == e.tail || sp.next == INVALID_BLOCK {
            0
        } else {
            sp.next
        };
        if used < cl.capacity() {
            let mut rec = store.record();
            let dr = rec.register(&mut db, false);
            let r = rec.register(&mut g, false);
            rec.page(r)
                .code_page_mut(cl, room)?
                .set(used, &code, &cf, tid, loc);
            rec.page(r).set_count(used + 1);
            let ent = &mut rec.page(dr).dir_entries_mut()[di];
            ent.count += 1;
            ent.room = if used + 1 == cl.capacity() {
                after
            } else {
                room
            };
            rec.commit();
            return Ok(());
        }
        drop(g);
        room = after;
    }

    // 2b. the list's tail code page, or a new page linked after it
    let mut tail = None;
    let mut used = 0;
    if e.tail != INVALID_BLOCK {
        let t = store.lock(e.tail, Lock::Exclusive)?;
        used = t.page().check(kind::CODE, e.tail, cl.capacity())?.count as usize;
        tail = Some(t);
    }
    let mut fresh = if tail.is_none() || used >= cl.capacity() {
        Some(store.extend()?)
    } else {
        None
    };
    let mut rec = store.record();
    let dr = rec.register(&mut db, false);
    rec.page(dr).dir_entries_mut()[di].room = room;
    let (target, pos, tblk) = match fresh.as_mut() {
        Some(np) => {
            let nblk = np.block();
            let nr = rec.register(np, true);
            rec.page(nr).init(kind::CODE);
            let ent = &mut rec.page(dr).dir_entries_mut()[di];
            if ent.head == INVALID_BLOCK {
                ent.head = nblk;
            }
            ent.tail = nblk;
            if let Some(t) = tail.as_mut() {
                let tblk = t.block();
                let tr = rec.register(t, false);
                rec.page(tr).set_next(nblk);
                debug_assert_ne!(tblk, nblk);
            }
            (nr, 0, nblk)
        }
        None => {
            let t = tail.as_mut().expect("a tail with room");
            let tblk = t.block();
            (rec.register(t, false), used, tblk)
        }
    };
    rec.page(target)
        .code_page_mut(cl, tblk)?
        .set(pos, &code, &cf, tid, loc);
    rec.page(target).set_count(pos + 1);
    rec.page(dr).dir_entries_mut()[di].count += 1;
    rec.commit();
    Ok(())
}
