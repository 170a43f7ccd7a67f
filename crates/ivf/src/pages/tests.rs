//! Unit tests of the list algorithms over the in-memory page store.

use std::ops::ControlFlow;
use std::rc::Rc;

use crate::index::{BuildConfig, IvfIndex};
use crate::metric::Metric;
use crate::model::{IvfModel, QueryState};
use crate::ordered::{OrderMode, OrderedScan, ScanParams};
use crate::rng::Rng;

use super::build::{write_first_meta, write_index};
use super::format::{kind, CodeLayout, Page, INVALID_BLOCK};
use super::insert::insert;
use super::mem::MemStore;
use super::meta::{MetaData, META_BLOCK, VERSION};
use super::read::{read_centroids, read_directory, read_meta};
use super::source::PagedLists;
use super::store::{Lock, PageGuard, PageRecord, PageStore, StoreError};
use super::vacuum::{bulk_delete, count_entries};

fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    // a few clusters, so lists differ
    let centres: Vec<f32> = (0..8 * dim).map(|_| r.normal() as f32 * 3.0).collect();
    (0..n)
        .flat_map(|i| {
            let c = (i * 7919) % 8;
            let base = centres[c * dim..(c + 1) * dim].to_vec();
            base.into_iter()
                .map(|b| b + r.normal() as f32)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn built(store: &MemStore, x: &[f32], dim: usize, lists: usize, metric: Metric) -> MetaData {
    let n = x.len() / dim;
    let ids: Vec<u64> = (0..n as u64).map(|i| 1000 + i * 3).collect();
    let mut cfg = BuildConfig::new(metric);
    cfg.lists = Some(lists);
    cfg.threads = Some(1);
    let ivf = IvfIndex::build(x, dim, Some(&ids), &cfg, &|_| ControlFlow::Continue(())).unwrap();
    let template = MetaData::untrained(metric, 0, dim, lists as i32);
    write_first_meta(store, &template).unwrap();
    write_index(store, &ivf, &template, 42, &mut |_| {}).unwrap()
}

/// The model of a metapage, read from the store (what the extension's cache does).
fn model_of(store: &MemStore) -> impl FnMut(&MetaData) -> Result<Rc<IvfModel>, StoreError> + '_ {
    move |m: &MetaData| {
        let f = read_centroids(store, m)?;
        let d = m.dims as usize;
        Ok(Rc::new(IvfModel::new(
            m.metric(),
            d,
            f[d..].to_vec(),
            f[..d].to_vec(),
            m.seed,
        )))
    }
}

/// Every (id, lower bound) a scan of the paged index yields.
fn scan_all(store: &MemStore, q: &[f32], mode: OrderMode, nprobe: usize) -> Vec<(u64, f32)> {
    let out = scan(store, q, mode, nprobe);
    assert_eq!(store.locks_held(), 0, "a scan left a lock behind");
    out
}

/// [`scan_all`] without the check that no lock is left (other threads may hold some).
fn scan(store: &MemStore, q: &[f32], mode: OrderMode, nprobe: usize) -> Vec<(u64, f32)> {
    let m = read_meta(store).unwrap();
    let mut model = model_of(store);
    let mdl = model(&m).unwrap();
    let mut qs = QueryState::new();
    mdl.prepare_query(q, &mut qs);
    let heads: Vec<u32> = read_directory(store, &m)
        .unwrap()
        .iter()
        .map(|e| e.head)
        .collect();
    let mut src = PagedLists::new(store, &heads, m.dims as usize);
    let lists = m.lists as usize;
    let mut scan = OrderedScan::new(&qs, ScanParams::new(nprobe.min(lists), 40, lists, mode));
    let mut out = vec![];
    while let Some(r) = scan.next(&mut src, &qs) {
        assert!(src.error().is_none());
        out.push(r);
    }
    assert!(src.error().is_none());
    out
}

fn sorted(mut v: Vec<(u64, f32)>) -> Vec<(u64, u32)> {
    let mut s: Vec<(u64, u32)> = v.drain(..).map(|(i, d)| (i, d.to_bits())).collect();
    s.sort();
    s
}

#[test]
fn paged_scan_yields_what_the_in_memory_index_yields() {
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let dim = 72; // two code words, odd padding
        let x = data(1500, dim, 7);
        let store = MemStore::new();
        let m = built(&store, &x, dim, 12, metric);
        assert_eq!(m.lists, 12);
        assert_eq!(count_entries(&store).unwrap(), 1500);
        // the same in-memory index (same seed and data) scanned directly
        let ids: Vec<u64> = (0..1500u64).map(|i| 1000 + i * 3).collect();
        let mut cfg = BuildConfig::new(metric);
        cfg.lists = Some(12);
        cfg.threads = Some(1);
        let ivf =
            IvfIndex::build(&x, dim, Some(&ids), &cfg, &|_| ControlFlow::Continue(())).unwrap();
        for qi in [3usize, 500, 1499] {
            let q = &x[qi * dim..(qi + 1) * dim];
            for mode in [OrderMode::Relaxed, OrderMode::Strict] {
                let paged = scan_all(&store, q, mode, 3);
                let mem: Vec<(u64, f32)> =
                    ivf.iter_with(q, ScanParams::new(3, 40, 12, mode)).collect();
                assert_eq!(sorted(paged.clone()), sorted(mem), "{metric:?} {mode:?}");
                if mode == OrderMode::Relaxed {
                    assert_eq!(paged.len(), 1500, "relaxed order returns every row once");
                } else {
                    assert!(
                        paged.windows(2).all(|w| w[0].1 <= w[1].1),
                        "strict is sorted"
                    );
                }
            }
        }
    }
}

#[test]
fn inserts_into_an_empty_index_train_one_list_and_chain_pages() {
    let dim = 40;
    let x = data(700, dim, 11);
    let store = MemStore::new();
    write_first_meta(&store, &MetaData::untrained(Metric::Cosine, 0, 0, -1)).unwrap();
    let mut model = model_of(&store);
    let mut ids = 1u64;
    let mut next_id = || {
        ids += 1;
        ids
    };
    for i in 0..700 {
        let trained = insert(
            &store,
            &x[i * dim..(i + 1) * dim],
            i as u64,
            &mut model,
            &mut next_id,
        )
        .unwrap();
        assert_eq!(trained, i == 0);
        assert_eq!(store.locks_held(), 0);
    }
    let m = read_meta(&store).unwrap();
    assert_eq!((m.lists, m.dims, m.build_id), (1, dim as u32, 2));
    let dir = read_directory(&store, &m).unwrap();
    assert_eq!(dir[0].count, 700);
    // the chain: more pages than one, linked head to tail, counts adding up
    let cap = CodeLayout::new(dim).capacity();
    let mut blk = dir[0].head;
    let (mut pages, mut total, mut last) = (0, 0, INVALID_BLOCK);
    while blk != INVALID_BLOCK {
        let g = store.lock(blk, Lock::Share).unwrap();
        let cp = g.page().code_page(CodeLayout::new(dim), blk).unwrap();
        total += cp.len();
        pages += 1;
        last = blk;
        blk = cp.next();
    }
    assert_eq!(
        (total, pages, last),
        (700, 700usize.div_ceil(cap), dir[0].tail)
    );
    let got = scan_all(&store, &x[..dim], OrderMode::Relaxed, 1);
    let mut ids: Vec<u64> = got.iter().map(|r| r.0).collect();
    ids.sort();
    assert_eq!(ids, (0..700).collect::<Vec<u64>>());
    // a vector of another dimension is refused before anything is locked or written
    let before = store.counters();
    let e = insert(&store, &[1.0; 3], 9, &mut model, &mut next_id).unwrap_err();
    assert_eq!(e, StoreError::Dims { got: 3, index: dim });
    assert_eq!(store.counters(), before);
}

#[test]
fn inserts_after_a_build_land_in_their_lists_and_are_found() {
    let dim = 64;
    let x = data(900, dim, 5);
    let store = MemStore::new();
    built(&store, &x[..600 * dim], dim, 8, Metric::L2);
    let mut model = model_of(&store);
    let mut no_id = || -> u64 { panic!("a trained index is not retrained") };
    for i in 600..900 {
        insert(
            &store,
            &x[i * dim..(i + 1) * dim],
            1000 + i as u64 * 3,
            &mut model,
            &mut no_id,
        )
        .unwrap();
    }
    assert_eq!(count_entries(&store).unwrap(), 900);
    // every row (built and inserted) is found once when every list is probed
    let got = scan_all(&store, &x[700 * dim..701 * dim], OrderMode::Relaxed, 8);
    let mut ids: Vec<u64> = got.iter().map(|r| r.0).collect();
    ids.sort();
    assert_eq!(ids, (0..900u64).map(|i| 1000 + i * 3).collect::<Vec<_>>());
    // an inserted row is its own nearest neighbour in strict order
    let got = scan_all(&store, &x[850 * dim..851 * dim], OrderMode::Strict, 2);
    assert_eq!(got[0].0, 1000 + 850 * 3);
}

#[test]
fn the_model_is_loaded_with_no_lock_held() {
    // issue #10 item 11: the slow part of an insert (the model load: every centroid page,
    // rotated) must not run under the metapage's exclusive lock, which scans need
    let dim = 32;
    let x = data(400, dim, 3);
    let store = MemStore::new();
    built(&store, &x[..300 * dim], dim, 4, Metric::L2);
    let mut loads = vec![];
    let mut model = |m: &MetaData| {
        loads.push(store.held_by_me());
        model_of(&store)(m)
    };
    let mut no_id = || -> u64 { unreachable!() };
    for i in 300..310 {
        insert(
            &store,
            &x[i * dim..(i + 1) * dim],
            i as u64,
            &mut model,
            &mut no_id,
        )
        .unwrap();
    }
    assert_eq!(loads.len(), 10);
    assert!(
        loads.iter().all(|held| held.is_empty()),
        "locks held during a model load: {loads:?}"
    );
}

#[test]
fn a_model_trained_meanwhile_is_reread_under_the_lock() {
    // the metapage changes between the insert's first look and its exclusive lock: the
    // model of the first look must not be used
    let dim = 16;
    let x = data(300, dim, 9);
    let store = MemStore::new();
    built(&store, &x[..200 * dim], dim, 4, Metric::L2);
    let mut calls = 0;
    let mut under_lock = vec![];
    let mut model = |m: &MetaData| {
        calls += 1;
        under_lock.push(store.held_by_me().contains(&(META_BLOCK, Lock::Exclusive)));
        if calls == 1 {
            // a REINDEX-like change lands right after the first look: new identity
            let mut m2 = read_meta(&store).unwrap();
            m2.build_id ^= 1;
            super::build::rewrite_meta(&store, &m2).unwrap();
        }
        model_of(&store)(m)
    };
    let mut no_id = || -> u64 { unreachable!() };
    insert(&store, &x[250 * dim..251 * dim], 7, &mut model, &mut no_id).unwrap();
    assert_eq!(calls, 2, "the changed metapage's model is loaded again");
    assert_eq!(
        under_lock,
        [false, true],
        "only the re-read runs under the metapage lock"
    );
}

#[test]
fn bulk_delete_compacts_pages_and_fixes_counts() {
    let dim = 48;
    let x = data(1200, dim, 13);
    let store = MemStore::new();
    built(&store, &x, dim, 6, Metric::L2);
    let before = read_directory(&store, &read_meta(&store).unwrap()).unwrap();
    let dead = |id: u64| ((id - 1000) / 3).is_multiple_of(3);
    let st = bulk_delete(&store, &mut |id| dead(id)).unwrap();
    assert_eq!(st.removed, 400);
    assert_eq!(st.live, 800);
    assert_eq!(count_entries(&store).unwrap(), 800);
    let after = read_directory(&store, &read_meta(&store).unwrap()).unwrap();
    assert_eq!(
        before.iter().map(|e| (e.head, e.tail)).collect::<Vec<_>>(),
        after.iter().map(|e| (e.head, e.tail)).collect::<Vec<_>>(),
        "compaction keeps the chains"
    );
    let got = scan_all(&store, &x[..dim], OrderMode::Relaxed, 6);
    let mut ids: Vec<u64> = got.iter().map(|r| r.0).collect();
    ids.sort();
    let want: Vec<u64> = (0..1200u64)
        .map(|i| 1000 + i * 3)
        .filter(|&i| !dead(i))
        .collect();
    assert_eq!(ids, want);
    // the entries left behind are cleared (the kernels read whole 8-lane blocks)
    let lay = CodeLayout::new(dim);
    for e in &after {
        let mut blk = e.head;
        while blk != INVALID_BLOCK {
            let g = store.lock(blk, Lock::Share).unwrap();
            let cp = g.page().code_page(lay, blk).unwrap();
            let n = cp.len();
            let lanes = n.div_ceil(8) * 8;
            let codes = cp.codes();
            for i in n..lanes {
                assert!(
                    cp.code(i).iter().all(|w| *w == 0),
                    "padding lane {i} of {n}"
                );
            }
            assert_eq!(codes.len(), lanes * lay.words);
            blk = cp.next();
        }
    }
    // a second pass finds nothing more
    let st = bulk_delete(&store, &mut |id| dead(id)).unwrap();
    assert_eq!((st.removed, st.live), (0, 800));
}

fn err<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Corrupt(msg)) => msg,
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

fn corrupt_block(store: &MemStore, blk: u32, f: impl FnOnce(&mut Page)) {
    let mut p = store.snapshot(blk);
    f(&mut p);
    store.overwrite(blk, &p);
}

#[test]
fn corrupt_counts_and_versions_are_errors_not_reads_past_the_page() {
    let dim = 32;
    let x = data(500, dim, 17);
    let store = MemStore::new();
    let m = built(&store, &x, dim, 4, Metric::L2);
    let dir = read_directory(&store, &m).unwrap();
    // a code page claiming 65535 entries
    let head = dir[0].head;
    corrupt_block(&store, head, |p| p.set_count(65535));
    let msg = err(bulk_delete(&store, &mut |_| false));
    assert!(
        msg.contains(&format!("block {head} claims 65535 entries")),
        "{msg}"
    );
    assert_eq!(store.locks_held(), 0);
    // the scan stops and reports it
    let mut model = model_of(&store);
    let mdl = model(&m).unwrap();
    let mut qs = QueryState::new();
    mdl.prepare_query(&x[..dim], &mut qs);
    let heads: Vec<u32> = dir.iter().map(|e| e.head).collect();
    let mut src = PagedLists::new(&store, &heads, dim);
    let mut scan = OrderedScan::new(&qs, ScanParams::new(4, 40, 4, OrderMode::Relaxed));
    while scan.next(&mut src, &qs).is_some() {}
    assert!(matches!(src.error(), Some(StoreError::Corrupt(_))));
    // an insert appends to some list's tail: corrupt every tail, then insert
    for e in &dir {
        corrupt_block(&store, e.tail, |p| p.set_count(65535));
    }
    let mut no_id = || -> u64 { unreachable!() };
    err(insert(&store, &x[..dim], 1, &mut model, &mut no_id));
    assert_eq!(store.locks_held(), 0, "an error releases every lock");
    // a wrong page kind where the metapage says the directory is
    corrupt_block(&store, m.dir_start, |p| p.init(kind::VEC));
    err(read_directory(&store, &m));
    // a metapage of another format version: an index built by an older codevec (version
    // 1: no row ids in the vector slots) or a newer one
    for v in [1, VERSION + 1] {
        corrupt_block(&store, META_BLOCK, |p| {
            let mut mm: MetaData = p.read_struct();
            mm.version = v;
            p.write_struct(&mm);
        });
        let msg = err(read_meta(&store));
        assert!(
            msg.contains(&format!(
                "page format version {v}, this build of codevec reads version {VERSION}"
            )),
            "{msg}"
        );
    }
    // a metapage whose numbers disagree
    corrupt_block(&store, META_BLOCK, |p| {
        let mut mm: MetaData = p.read_struct();
        mm.version = VERSION;
        mm.lists = 1 << 30;
        p.write_struct(&mm);
    });
    err(read_meta(&store));
}

#[test]
fn a_vector_locator_past_the_page_count_is_an_error() {
    let dim = 16;
    let x = data(100, dim, 19);
    let store = MemStore::new();
    let m = built(&store, &x, dim, 2, Metric::L2);
    // shrink the count of the vector tail page: its slots' locators now point past it
    corrupt_block(&store, m.vec_tail, |p| p.set_count(0));
    let mut model = model_of(&store);
    let mdl = model(&m).unwrap();
    let mut qs = QueryState::new();
    mdl.prepare_query(&x[..dim], &mut qs);
    let heads: Vec<u32> = read_directory(&store, &m)
        .unwrap()
        .iter()
        .map(|e| e.head)
        .collect();
    let mut src = PagedLists::new(&store, &heads, dim);
    let mut scan = OrderedScan::new(&qs, ScanParams::new(2, 200, 2, OrderMode::Relaxed));
    while scan.next(&mut src, &qs).is_some() {}
    match src.error() {
        Some(StoreError::Corrupt(msg)) => assert!(msg.contains("vector locator"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_uncommitted_record_changes_nothing() {
    let store = MemStore::new();
    write_first_meta(&store, &MetaData::untrained(Metric::L2, 0, 8, -1)).unwrap();
    let before = store.snapshot(META_BLOCK);
    {
        let mut g = store.lock(META_BLOCK, Lock::Exclusive).unwrap();
        let mut rec = store.record();
        let i = rec.register(&mut g, false);
        rec.page(i).set_count(77);
        rec.page(i).data_mut()[0] = 0xFF;
        // dropped: an error or panic between the change and the commit
    }
    assert_eq!(store.snapshot(META_BLOCK).0, before.0);
    assert_eq!(store.locks_held(), 0);
}

#[test]
fn concurrent_inserts_scans_and_vacuum_lose_nothing() {
    let dim = 24;
    let x = std::sync::Arc::new(data(2400, dim, 23));
    let store = MemStore::new();
    built(&store, &x[..400 * dim], dim, 5, Metric::L2);
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let (store, x) = (store.clone(), x.clone());
            s.spawn(move || {
                let mut model = model_of(&store);
                let mut no_id = || -> u64 { unreachable!() };
                for i in (400 + t as usize..2400).step_by(3) {
                    insert(
                        &store,
                        &x[i * dim..(i + 1) * dim],
                        1000 + i as u64 * 3,
                        &mut model,
                        &mut no_id,
                    )
                    .unwrap();
                }
            });
        }
        let (st2, x2) = (store.clone(), x.clone());
        s.spawn(move || {
            for r in 0..30 {
                let got = scan(&st2, &x2[r * dim..(r + 1) * dim], OrderMode::Relaxed, 5);
                let mut ids: Vec<u64> = got.iter().map(|g| g.0).collect();
                ids.sort();
                let n = ids.len();
                ids.dedup();
                assert_eq!(ids.len(), n, "a row returned twice");
            }
        });
        let st3 = store.clone();
        s.spawn(move || {
            for _ in 0..5 {
                // the built rows with odd positions are "dead"
                bulk_delete(&st3, &mut |id| {
                    id < 1000 + 400 * 3 && (id - 1000) / 3 % 2 == 1
                })
                .unwrap();
            }
        });
    });
    let got = scan_all(&store, &x[..dim], OrderMode::Relaxed, 5);
    let mut ids: Vec<u64> = got.iter().map(|r| r.0).collect();
    ids.sort();
    let want: Vec<u64> = (0..2400u64)
        .filter(|&i| i >= 400 || i % 2 == 0)
        .map(|i| 1000 + i * 3)
        .collect();
    assert_eq!(ids, want);
    assert_eq!(count_entries(&store).unwrap(), want.len() as u64);
}

/// The code pages of every list as (block, entries, next), head to tail.
fn chains(store: &MemStore, dim: usize) -> Vec<Vec<(u32, usize, u32)>> {
    let m = read_meta(store).unwrap();
    let lay = CodeLayout::new(dim);
    read_directory(store, &m)
        .unwrap()
        .iter()
        .map(|e| {
            let mut v = vec![];
            let mut blk = e.head;
            while blk != INVALID_BLOCK {
                let g = store.lock(blk, Lock::Share).unwrap();
                let cp = g.page().code_page(lay, blk).unwrap();
                v.push((blk, cp.len(), cp.next()));
                blk = cp.next();
            }
            v
        })
        .collect()
}

#[test]
fn vacuum_frees_slots_and_holes_that_inserts_fill_before_the_index_grows() {
    let dim = 48; // 200 entries per code page, 72 f16 copies per vector page
    let n = 3000;
    let x = data(n, dim, 31);
    let store = MemStore::new();
    built(&store, &x, dim, 6, Metric::L2);
    let cap = CodeLayout::new(dim).capacity();
    assert!(
        chains(&store, dim).iter().all(|c| c.len() >= 2),
        "every list spans pages"
    );
    let id = |i: usize| 1000 + i as u64 * 3;
    // two rows of three die, everywhere in the chains
    let dies = |i: usize| !i.is_multiple_of(3);
    let st = bulk_delete(&store, &mut |t| dies(((t - 1000) / 3) as usize)).unwrap();
    let gone = (0..n).filter(|&i| dies(i)).count() as u64;
    assert_eq!(
        (st.removed, st.live, st.slots_freed),
        (gone, n as u64 - gone, gone)
    );
    let m = read_meta(&store).unwrap();
    for (e, c) in read_directory(&store, &m)
        .unwrap()
        .iter()
        .zip(chains(&store, dim))
    {
        assert_eq!(e.room, c[0].0, "the list's first page has room now");
    }
    // a scan skips nothing live and finds nothing dead
    let got = scan_all(&store, &x[..dim], OrderMode::Relaxed, 6);
    let mut ids: Vec<u64> = got.iter().map(|r| r.0).collect();
    ids.sort();
    assert_eq!(
        ids,
        (0..n).filter(|&i| !dies(i)).map(id).collect::<Vec<_>>()
    );

    // the dead rows' vectors come back under new ids: they go to the same lists, so the
    // freed slots and entries hold them all and the index does not grow
    let blocks = store.blocks();
    let mut model = model_of(&store);
    let mut no_id = || -> u64 { unreachable!() };
    let new_id = |i: usize| 1_000_000 + i as u64;
    for i in (0..n).filter(|&i| dies(i)) {
        insert(
            &store,
            &x[i * dim..(i + 1) * dim],
            new_id(i),
            &mut model,
            &mut no_id,
        )
        .unwrap();
        assert_eq!(store.locks_held(), 0);
    }
    assert_eq!(store.blocks(), blocks, "inserts reused the freed space");
    for c in chains(&store, dim) {
        let (tail, body) = c.split_last().unwrap();
        assert!(
            body.iter().all(|p| p.1 == cap),
            "holes before the tail filled: {c:?}"
        );
        assert_eq!(tail.2, INVALID_BLOCK);
    }
    let m = read_meta(&store).unwrap();
    assert!(read_directory(&store, &m)
        .unwrap()
        .iter()
        .all(|e| e.room == 0));
    // every row is found once, with a lower bound from its own vector (a reused slot
    // holds the new row's copy, not the dead one's)
    let q = &x[7 * dim..8 * dim];
    let got = scan_all(&store, q, OrderMode::Relaxed, 6);
    assert_eq!(got.len(), n);
    for &(rid, lb) in &got {
        let i = if rid >= 1_000_000 {
            (rid - 1_000_000) as usize
        } else {
            ((rid - 1000) / 3) as usize
        };
        assert_eq!(rid, if dies(i) { new_id(i) } else { id(i) });
        let exact = x[i * dim..(i + 1) * dim]
            .iter()
            .zip(q)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            lb as f64 <= exact * (1.0 + 1e-5) + 1e-6 && lb as f64 >= exact * 0.98 - 1e-3,
            "row {rid}: bound {lb}, distance {exact}"
        );
    }
}

#[test]
fn a_candidate_whose_slot_was_freed_or_reused_is_left_out() {
    use crate::ordered::{Candidate, KeySink, ListSource};
    struct All<'a>(&'a mut Vec<Candidate>);
    impl KeySink for All<'_> {
        fn threshold(&self) -> f32 {
            f32::INFINITY
        }
        fn push(&mut self, key: f32, id: u64, loc: u64) {
            self.0.push(Candidate { key, id, loc });
        }
    }
    let dim = 24;
    let per_page = super::format::VecLayout::new(dim).per_page;
    let n = 3 * per_page; // full vector pages: the next insert takes a freed slot
    let x = data(n, dim, 3);
    let store = MemStore::new();
    built(&store, &x, dim, 2, Metric::L2);
    let m = read_meta(&store).unwrap();
    let heads: Vec<u32> = read_directory(&store, &m)
        .unwrap()
        .iter()
        .map(|e| e.head)
        .collect();
    let mdl = model_of(&store)(&m).unwrap();
    let q = &x[5 * dim..6 * dim];
    let mut qs = QueryState::new();
    mdl.prepare_query(q, &mut qs);
    let bq = qs.bound_query();
    let mut src = PagedLists::new(&store, &heads, dim);
    let rerank = |src: &mut PagedLists<'_, MemStore>, cands: &[Candidate]| {
        let mut c = cands.to_vec();
        let mut out = vec![];
        src.rerank(&bq, &mut c, &mut |lb, id| out.push((id, lb)));
        assert!(src.error().is_none());
        out
    };
    // a scan has read every entry, and reranks later (a cursor, say)
    let mut cands = vec![];
    for l in 0..2 {
        src.scan_list(&qs, l, 0.0, &mut All(&mut cands));
    }
    assert_eq!(cands.len(), n);
    let dead = 1000 + 5 * 3;
    assert_eq!(rerank(&mut src, &cands).len(), n);
    // meanwhile VACUUM removes row 5 and frees its slot ...
    let st = bulk_delete(&store, &mut |t| t == dead).unwrap();
    assert_eq!(st.slots_freed, 1);
    let got = rerank(&mut src, &cands);
    assert_eq!(got.len(), n - 1, "a freed slot's candidate is left out");
    assert!(got.iter().all(|e| e.0 != dead));
    // ... and an insert reuses it for another vector
    let blocks = store.blocks();
    let far: Vec<f32> = q.iter().map(|v| v + 100.0).collect();
    let mut model = model_of(&store);
    insert(&store, &far, 77, &mut model, &mut || unreachable!()).unwrap();
    assert_eq!(store.blocks(), blocks, "the insert took the freed slot");
    let got = rerank(&mut src, &cands);
    assert_eq!(
        got.len(),
        n - 1,
        "a reused slot's old candidate is left out"
    );
    assert!(got.iter().all(|e| e.0 != dead && e.0 != 77));
}
