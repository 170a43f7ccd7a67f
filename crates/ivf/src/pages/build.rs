//! Writing a new index: the metapage first (block 0), then, once the in-memory index is
//! trained, its centroid pages, vector pages (list after list, so a list's `f16` copies are
//! close together), each list's chain of code pages, the directory, and the final metapage.
//! The builder is the only writer; every page is a fresh page of its own record.

use crate::index::IvfIndex;

use super::format::{kind, loc_pack, CodeLayout, DirEntry, VecLayout, INVALID_BLOCK};
use super::meta::{MetaData, META_BLOCK};
use super::read::{write_centroids, write_directory};
use super::store::{Lock, PageGuard, PageRecord, PageStore, StoreError};

/// Writes block 0 of an empty relation: the metapage `m` (untrained).
pub fn write_first_meta<S: PageStore>(store: &S, m: &MetaData) -> Result<(), StoreError> {
    let mut g = store.extend()?;
    assert_eq!(g.block(), META_BLOCK, "the metapage must be block 0");
    let mut rec = store.record();
    let i = rec.register(&mut g, true);
    let p = rec.page(i);
    p.init(kind::META);
    m.write(p);
    rec.commit();
    Ok(())
}

/// Replaces the metapage's contents with `m`.
pub fn rewrite_meta<S: PageStore>(store: &S, m: &MetaData) -> Result<(), StoreError> {
    let mut g = store.lock(META_BLOCK, Lock::Exclusive)?;
    MetaData::read(g.page())?;
    let mut rec = store.record();
    let i = rec.register(&mut g, false);
    m.write(rec.page(i));
    rec.commit();
    Ok(())
}

/// Writes the pages of a trained in-memory index after the metapage written by
/// [`write_first_meta`], then the final metapage (`template` with the trained fields).
/// `progress(rows)` is told how many rows' pages are written.
pub fn write_index<S: PageStore>(
    store: &S,
    ivf: &IvfIndex,
    template: &MetaData,
    build_id: u64,
    progress: &mut dyn FnMut(usize),
) -> Result<MetaData, StoreError> {
    let model = ivf.model();
    let dims = model.dim();
    let mut floats = Vec::new();
    floats
        .try_reserve_exact(dims * (1 + model.nlists()))
        .map_err(|_| StoreError::OutOfMemory("ivf build: centroid pages".into()))?;
    floats.extend_from_slice(model.center());
    floats.extend_from_slice(model.centroids());
    let (cstart, cpages) = write_centroids(store, &floats)?;
    drop(floats);

    // vector pages: every list's f16 copies, list after list
    let vl = VecLayout::new(dims);
    let total = ivf.len();
    let mut vec_blocks = Vec::new();
    vec_blocks
        .try_reserve_exact(total.div_ceil(vl.per_page))
        .map_err(|_| StoreError::OutOfMemory("ivf build: vector pages".into()))?;
    {
        let mut lists = ivf
            .lists()
            .iter()
            .flat_map(|l| (0..l.len()).map(move |i| (l, i)));
        let mut left = total;
        while left > 0 {
            store.checkpoint();
            let n = left.min(vl.per_page);
            let mut g = store.extend()?;
            vec_blocks.push(g.block());
            let mut rec = store.record();
            let r = rec.register(&mut g, true);
            let p = rec.page(r);
            p.init(kind::VEC);
            for slot in 0..n {
                let (l, i) = lists.next().expect("rows counted above");
                p.set_vector_slot(
                    vl,
                    slot,
                    l.ids[i],
                    l.f16f[i],
                    &l.vecs[i * dims..(i + 1) * dims],
                );
            }
            rec.commit();
            left -= n;
        }
    }
    progress(total / 2);

    // code pages: one chain per list (each page allocated before the previous one is
    // written, so that its `next` pointer is known)
    let cl = CodeLayout::new(dims);
    let cap = cl.capacity();
    let mut dir = Vec::new();
    dir.try_reserve_exact(ivf.lists().len())
        .map_err(|_| StoreError::OutOfMemory("ivf build: directory".into()))?;
    let mut g_index = 0usize; // global row index: the vector pages' order above
    for list in ivf.lists() {
        store.checkpoint();
        let n = list.len();
        let mut entry = DirEntry {
            count: n as u32,
            ..DirEntry::EMPTY
        };
        let npages = n.div_ceil(cap);
        let mut cur = if npages > 0 {
            Some(store.extend()?)
        } else {
            None
        };
        for pg_i in 0..npages {
            let mut g = cur.take().expect("page allocated before");
            let next = if pg_i + 1 < npages {
                Some(store.extend()?)
            } else {
                None
            };
            let blk = g.block();
            if entry.head == INVALID_BLOCK {
                entry.head = blk;
            }
            entry.tail = blk;
            let mut rec = store.record();
            let r = rec.register(&mut g, true);
            let p = rec.page(r);
            p.init(kind::CODE);
            p.set_next(next.as_ref().map_or(INVALID_BLOCK, |ng| ng.block()));
            let lo = pg_i * cap;
            let hi = (lo + cap).min(n);
            {
                let mut cp = p.code_page_mut(cl, blk)?;
                for i in lo..hi {
                    let code = crate::quant::scan::read_code(&list.codes, cl.words, i);
                    let gi = g_index + i;
                    let loc = loc_pack(vec_blocks[gi / vl.per_page], gi % vl.per_page);
                    cp.set(i - lo, &code, &list.code_factors(i), list.ids[i], loc);
                }
            }
            p.set_count(hi - lo);
            rec.commit();
            drop(g);
            cur = next;
        }
        g_index += n;
        dir.push(entry);
    }
    progress(total);
    let (dstart, dpages) = write_directory(store, &dir)?;

    let m = MetaData {
        lists: model.nlists() as u32,
        seed: model.seed(),
        dims: dims as u32,
        centroid_start: cstart,
        centroid_pages: cpages,
        dir_start: dstart,
        dir_pages: dpages,
        vec_tail: vec_blocks.last().copied().unwrap_or(INVALID_BLOCK),
        build_rows: total as u64,
        build_id,
        ..*template
    };
    rewrite_meta(store, &m)?;
    Ok(m)
}
