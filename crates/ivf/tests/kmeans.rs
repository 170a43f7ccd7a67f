mod common;

use codevec_ivf::kmeans::{
    kmeans, kmeans_memory_bytes, no_hook, KMeansConfig, KMeansError, Progress,
};
use codevec_ivf::metric::norm_f64;
use std::cell::Cell;
use std::ops::ControlFlow;

#[test]
fn recovers_synthetic_clusters() {
    let (dim, k, n) = (16, 8, 4000);
    let (data, label, centres) = common::blobs(n, dim, k, 0.05, 1);
    let cfg = KMeansConfig::new(k, false);
    let res = kmeans(&data, dim, &cfg, &no_hook).unwrap();
    assert_eq!(res.k(), k);
    // every true centre has a trained centroid very close to it
    for c in 0..k {
        let t = &centres[c * dim..(c + 1) * dim];
        let best = (0..k)
            .map(|j| codevec_ivf::Metric::L2.distance_f64(t, res.centroid(j)))
            .fold(f64::INFINITY, f64::min);
        assert!(best < 0.05, "centre {c}: nearest centroid at {best}");
    }
    // and the induced partition equals the generating one
    let a = codevec_ivf::assign(&data, dim, &res.centroids, codevec_ivf::Metric::L2);
    let mut map = vec![usize::MAX; k];
    for (i, &(l, _)) in a.iter().enumerate() {
        let m = &mut map[label[i]];
        if *m == usize::MAX {
            *m = l as usize;
        }
        assert_eq!(*m, l as usize, "point {i} split from its cluster");
    }
}

#[test]
fn spherical_centroids_are_unit_length() {
    let (dim, k) = (32, 12);
    let (mut data, _, _) = common::blobs(3000, dim, k, 0.2, 2);
    common::normalize_rows(&mut data, dim);
    let res = kmeans(&data, dim, &KMeansConfig::new(k, true), &no_hook).unwrap();
    for j in 0..res.k() {
        let n = norm_f64(res.centroid(j));
        assert!((n - 1.0).abs() < 1e-5, "centroid {j} norm {n}");
    }
}

#[test]
fn deterministic_for_seed_and_thread_count() {
    let (dim, k) = (24, 20);
    let (data, _, _) = common::blobs(5000, dim, 7, 0.5, 3);
    let mut cfg = KMeansConfig::new(k, false);
    cfg.seed = 42;
    let a = kmeans(&data, dim, &cfg, &no_hook).unwrap();
    let b = kmeans(&data, dim, &cfg, &no_hook).unwrap();
    assert_eq!(a.centroids, b.centroids);
    cfg.threads = Some(1);
    let c = kmeans(&data, dim, &cfg, &no_hook).unwrap();
    assert_eq!(
        a.centroids, c.centroids,
        "result depends on the number of threads"
    );
    cfg.threads = None;
    cfg.seed = 43;
    let d = kmeans(&data, dim, &cfg, &no_hook).unwrap();
    assert_ne!(a.centroids, d.centroids);
}

#[test]
fn fewer_points_than_k() {
    let dim = 4;
    let data = vec![
        1.0f32, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0,
    ];
    let res = kmeans(&data, dim, &KMeansConfig::new(10, false), &no_hook).unwrap();
    assert_eq!(res.k(), 3);
    assert_eq!(res.centroids, data);
    let sph = kmeans(&data, dim, &KMeansConfig::new(10, true), &no_hook).unwrap();
    assert_eq!(sph.k(), 3);
    assert!((norm_f64(sph.centroid(1)) - 1.0).abs() < 1e-6);
}

#[test]
fn duplicates_and_empty_clusters_are_handled() {
    // 3 distinct points repeated, k = 6: k-means++ must duplicate, the
    // empty-cluster re-seeding must terminate, every centroid must be finite.
    let dim = 3;
    let mut data = vec![];
    for i in 0..300 {
        let v = (i % 3) as f32;
        data.extend_from_slice(&[v, v * 2.0, 1.0]);
    }
    let res = kmeans(&data, dim, &KMeansConfig::new(6, false), &no_hook).unwrap();
    assert_eq!(res.k(), 6);
    assert!(res.centroids.iter().all(|v| v.is_finite()));
    assert!(res.inertia < 1e-6, "inertia {}", res.inertia);
}

#[test]
fn invalid_input() {
    assert!(matches!(
        kmeans(&[], 3, &KMeansConfig::new(2, false), &no_hook),
        Err(KMeansError::InvalidInput(_))
    ));
    assert!(matches!(
        kmeans(&[1.0; 5], 3, &KMeansConfig::new(2, false), &no_hook),
        Err(KMeansError::InvalidInput(_))
    ));
    assert!(matches!(
        kmeans(&[1.0; 6], 3, &KMeansConfig::new(0, false), &no_hook),
        Err(KMeansError::InvalidInput(_))
    ));
    assert!(matches!(
        kmeans(&[f32::NAN; 6], 3, &KMeansConfig::new(1, false), &no_hook),
        Err(KMeansError::InvalidInput(_))
    ));
}

#[test]
fn hook_runs_on_calling_thread_and_can_cancel() {
    let (dim, k) = (8, 40);
    let (data, _, _) = common::blobs(4000, dim, 10, 1.0, 4);
    let me = std::thread::current().id();
    let calls = Cell::new(0usize);
    let iters = Cell::new(0usize);
    let hook = |p: Progress| {
        assert_eq!(
            std::thread::current().id(),
            me,
            "hook called from a worker thread"
        );
        calls.set(calls.get() + 1);
        if let Progress::Iteration { .. } = p {
            iters.set(iters.get() + 1);
        }
        ControlFlow::Continue(())
    };
    let mut cfg = KMeansConfig::new(k, false);
    cfg.tol = 0.0;
    cfg.max_iters = 4;
    kmeans(&data, dim, &cfg, &hook).unwrap();
    assert!(calls.get() > 4);
    assert_eq!(iters.get(), 4);

    let seen = Cell::new(0usize);
    let cancel = |p: Progress| {
        if let Progress::Iteration { iter, .. } = p {
            seen.set(iter);
            if iter == 2 {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    };
    assert_eq!(
        kmeans(&data, dim, &cfg, &cancel).unwrap_err(),
        KMeansError::Cancelled
    );
    assert_eq!(seen.get(), 2);
    // cancelling during initialisation works too
    let init_cancel = |p: Progress| {
        if matches!(p, Progress::Init { .. }) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    assert_eq!(
        kmeans(&data, dim, &cfg, &init_cancel).unwrap_err(),
        KMeansError::Cancelled
    );
}

#[test]
fn memory_estimate_is_monotone_and_plausible() {
    let a = kmeans_memory_bytes(10_000, 384, 100);
    let b = kmeans_memory_bytes(100_000, 384, 100);
    let c = kmeans_memory_bytes(100_000, 384, 1000);
    assert!(a < b && b < c);
    // centroids alone: 1000 × 384 × (4 + 4 + 8) bytes
    assert!(c > 1000 * 384 * 16);
    assert!(c < 64 << 20);
}
