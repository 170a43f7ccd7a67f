mod common;

use codevec_ivf::index::{
    build_memory_bytes, BuildConfig, BuildError, BuildProgress, IvfIndex, SearchParams,
};
use codevec_ivf::ordered::{OrderMode, ScanParams};
use codevec_ivf::Metric;
use std::collections::HashSet;
use std::ops::ControlFlow;

fn build(data: &[f32], dim: usize, metric: Metric, lists: Option<usize>) -> IvfIndex {
    let mut cfg = BuildConfig::new(metric);
    cfg.lists = lists;
    IvfIndex::build(data, dim, None, &cfg, &|_| ControlFlow::Continue(())).unwrap()
}

#[test]
fn recall_on_synthetic_clustered_data_all_metrics() {
    let (dim, n) = (48, 12_000);
    let (mut data, _, _) = common::blobs(n, dim, 60, 0.35, 10);
    let (mut queries, _, _) = common::blobs(100, dim, 60, 0.35, 10); // same centres (same seed)
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        if metric == Metric::InnerProduct {
            // MIPS on unit vectors is cosine; use normalised data so the
            // neighbourhoods are well defined
            common::normalize_rows(&mut data, dim);
            common::normalize_rows(&mut queries, dim);
        }
        let index = build(&data, dim, metric, None);
        let p = index.default_params(10);
        let mut res = vec![];
        let mut truth = vec![];
        for q in queries.chunks_exact(dim) {
            let r = index.search(q, &p);
            // reported values are lower bounds of the exact distances
            for &(id, lb) in &r {
                let x = &data[id as usize * dim..(id as usize + 1) * dim];
                assert!(
                    (lb as f64) <= metric.distance_f64(q, x),
                    "{metric:?}: lb {lb} above exact"
                );
            }
            res.push(r.into_iter().map(|x| x.0).collect::<Vec<_>>());
            truth.push(common::exact_topk(&data, dim, metric, q, 10));
        }
        let rec = common::recall(&res, &truth, 10);
        assert!(rec >= 0.95, "{metric:?}: recall@10 {rec}");
    }
}

#[test]
fn ordered_scan_modes_yield_valid_bounds_in_their_order() {
    let (dim, n) = (32, 3000);
    let (data, _, _) = common::blobs(n, dim, 20, 0.5, 11);
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        let index = build(&data, dim, metric, Some(40));
        let p = SearchParams {
            k: 10,
            nprobe: 4,
            rerank: 50,
        };
        for qi in [5usize, 777, 2001] {
            let q = &data[qi * dim..(qi + 1) * dim];
            let check = |id: u64, lb: f32| {
                let x = &data[id as usize * dim..(id as usize + 1) * dim];
                assert!(lb.is_finite());
                assert!(
                    (lb as f64) <= metric.distance_f64(q, x),
                    "{metric:?}: not a lower bound"
                );
            };
            // relaxed: every vector exactly once (the scan goes on to every list)
            let mut seen = HashSet::new();
            for (id, lb) in index.iter(q, &p, OrderMode::Relaxed) {
                assert!(seen.insert(id), "{id} yielded twice");
                check(id, lb);
            }
            assert_eq!(seen.len(), n, "{metric:?}: relaxed scan lost vectors");
            // strict: sorted lower bounds; what it leaves out it counts
            let mut it = index.iter(q, &p, OrderMode::Strict);
            let mut seen = HashSet::new();
            let mut last = f32::NEG_INFINITY;
            let mut strict10 = vec![];
            for (id, lb) in it.by_ref() {
                assert!(seen.insert(id), "{id} yielded twice");
                check(id, lb);
                assert!(
                    lb >= last,
                    "{metric:?}: strict order broken: {lb} after {last}"
                );
                last = lb;
                if strict10.len() < 10 {
                    strict10.push(id);
                }
            }
            assert_eq!(
                seen.len() + it.dropped(),
                n,
                "{metric:?}: strict scan lost vectors"
            );
            assert!(
                it.dropped() * 20 <= n,
                "{metric:?}: strict dropped {}",
                it.dropped()
            );
            // off: the first `rerank` candidates, sorted, then the end
            let first: Vec<(u64, f32)> = index.iter(q, &p, OrderMode::FirstBatch).collect();
            assert_eq!(first.len(), 50);
            assert!(first.windows(2).all(|w| w[0].1 <= w[1].1));
            assert_eq!(index.iter(q, &p, OrderMode::FirstBatch).lists_probed(), 0);
            // the strict top-10 is at least as good as the top-k search's
            let truth = common::exact_topk(&data, dim, metric, q, 10);
            let s10: Vec<u64> = index.search(q, &p).into_iter().map(|x| x.0).collect();
            let hits = |r: &[u64]| r.iter().filter(|id| truth.contains(id)).count();
            assert!(
                hits(&strict10) >= hits(&s10),
                "{metric:?}: strict {strict10:?} vs search {s10:?}"
            );
        }
    }
}

#[test]
fn search_is_deterministic_and_handles_edge_parameters() {
    let (dim, n) = (16, 500);
    let (data, _, _) = common::blobs(n, dim, 5, 0.3, 12);
    let a = build(&data, dim, Metric::L2, Some(8));
    let b = build(&data, dim, Metric::L2, Some(8));
    let q = &data[..dim];
    let p = SearchParams {
        k: 5,
        nprobe: 2,
        rerank: 20,
    };
    assert_eq!(a.search(q, &p), b.search(q, &p));
    // the query itself is in the index: found first with lower bound ~0
    let r = a.search(q, &p);
    assert_eq!(r[0].0, 0);
    assert!(r[0].1 >= 0.0 && r[0].1 < 1e-3);
    // nprobe / rerank larger than everything, k larger than n
    let all = a.search(
        q,
        &SearchParams {
            k: 1000,
            nprobe: 100,
            rerank: 10_000,
        },
    );
    assert_eq!(all.len(), n);
    assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
    // zero parameters are clamped, never panic
    assert_eq!(
        a.search(
            q,
            &SearchParams {
                k: 0,
                nprobe: 0,
                rerank: 0
            }
        )
        .len(),
        0
    );
    assert_eq!(
        a.search(
            q,
            &SearchParams {
                k: 3,
                nprobe: 0,
                rerank: 0
            }
        )
        .len(),
        3
    );
}

#[test]
fn insert_appends_and_is_found() {
    let (dim, n) = (16, 800);
    let (data, _, _) = common::blobs(n, dim, 6, 0.4, 13);
    let mut index = build(&data[..(n - 100) * dim], dim, Metric::Cosine, Some(10));
    for i in n - 100..n {
        index.insert(i as u64, &data[i * dim..(i + 1) * dim]);
    }
    assert_eq!(index.len(), n);
    let total: usize = index.lists().iter().map(|l| l.len()).sum();
    assert_eq!(total, n);
    for i in [n - 100, n - 50, n - 1] {
        let q = &data[i * dim..(i + 1) * dim];
        let r = index.search(
            q,
            &SearchParams {
                k: 1,
                nprobe: 3,
                rerank: 20,
            },
        );
        assert_eq!(r[0].0, i as u64);
    }
}

#[test]
fn build_reports_progress_and_can_be_cancelled() {
    let (dim, n) = (8, 2000);
    let (data, _, _) = common::blobs(n, dim, 4, 0.4, 14);
    let me = std::thread::current().id();
    let stages = std::cell::RefCell::new(vec![]);
    let cfg = BuildConfig::new(Metric::L2);
    IvfIndex::build(&data, dim, None, &cfg, &|p| {
        assert_eq!(std::thread::current().id(), me);
        stages.borrow_mut().push(p);
        ControlFlow::Continue(())
    })
    .unwrap();
    let st = stages.borrow();
    assert!(st.iter().any(|p| matches!(p, BuildProgress::KMeans(_))));
    assert!(st
        .iter()
        .any(|p| matches!(p, BuildProgress::Assigned { rows: 2000 })));
    assert!(matches!(st.last(), Some(BuildProgress::Encoded { .. })));
    let err = IvfIndex::build(&data, dim, None, &cfg, &|p| {
        if matches!(p, BuildProgress::Assigned { .. }) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap_err();
    assert_eq!(err, BuildError::Cancelled);
    let bad = IvfIndex::build(&[1.0, f32::INFINITY], 2, None, &cfg, &|_| {
        ControlFlow::Continue(())
    });
    assert!(matches!(bad, Err(BuildError::InvalidInput(_))));
}

#[test]
fn custom_ids_and_zero_vectors() {
    let dim = 8;
    let mut data = vec![0.0f32; 50 * dim];
    for i in 1..50 {
        data[i * dim + i % dim] = i as f32;
    }
    let ids: Vec<u64> = (0..50).map(|i| 1000 + i).collect();
    let cfg = BuildConfig::new(Metric::Cosine);
    let index =
        IvfIndex::build(&data, dim, Some(&ids), &cfg, &|_| ControlFlow::Continue(())).unwrap();
    // a zero query: cosine distance is 1 for everything, bounds must say <= 1
    let z = vec![0.0f32; dim];
    let r = index.search(
        &z,
        &SearchParams {
            k: 50,
            nprobe: 100,
            rerank: 100,
        },
    );
    assert_eq!(r.len(), 50);
    assert!(r
        .iter()
        .all(|&(id, lb)| (1000..1050).contains(&id) && lb <= 1.0));
    // the zero vector (id 1000) against any query: exactly 1
    let q: Vec<f32> = (0..dim).map(|i| i as f32 + 1.0).collect();
    let r = index.search(
        &q,
        &SearchParams {
            k: 50,
            nprobe: 100,
            rerank: 100,
        },
    );
    let zero = r.iter().find(|x| x.0 == 1000).unwrap();
    assert_eq!(zero.1, 1.0);
}

#[test]
fn build_memory_estimate_covers_the_index() {
    let (dim, n) = (64, 5000);
    let (data, _, _) = common::blobs(n, dim, 10, 0.3, 15);
    let index = build(&data, dim, Metric::Cosine, None);
    let est = build_memory_bytes(n, dim, index.model().nlists());
    let b = index.bytes().total();
    assert!(est >= b, "estimate {est} below the index size {b}");
    assert!(
        est < 4 * b + (8 << 20),
        "estimate {est} implausibly large vs {b}"
    );
}

#[test]
fn ordered_scan_never_reads_more_lists_than_max_lists() {
    let (dim, n) = (16, 2000);
    let (data, _, _) = common::blobs(n, dim, 10, 0.5, 13);
    let index = build(&data, dim, Metric::L2, Some(20));
    let q = &data[..dim];
    // nprobe above max_lists: the first window too stays within the 3 nearest lists
    let mut p = ScanParams::new(10, 50, 3, OrderMode::Relaxed);
    p.max_pending = usize::MAX;
    let got: HashSet<u64> = index.iter_with(q, p).map(|x| x.0).collect();
    let mut qs = codevec_ivf::QueryState::new();
    index.model().prepare_query(q, &mut qs);
    let mut order = vec![];
    qs.probe_order(3, &mut order);
    let allowed: HashSet<u64> = order
        .iter()
        .flat_map(|&(l, _)| index.lists()[l as usize].ids.iter().copied())
        .collect();
    assert_eq!(got, allowed, "rows outside the 3 lists allowed");
}
