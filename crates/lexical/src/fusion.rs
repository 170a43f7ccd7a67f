//! Fusing the ranked lists of several legs (vector, BM25) into one.
//!
//! Each leg hands in its top-N as `(id, score)`, best first, higher score = better (turn a
//! distance into a similarity first, e.g. `1 - cosine distance`). A document missing from a
//! leg contributes nothing (0) for that leg. Output: every document of the union, best
//! first, equal fused scores by ascending id, so the result never depends on hash order.

use std::collections::BTreeMap;

/// The vector leg's weight (BM25 gets `1 − w`) for [`weighted_min_max`] followed by the
/// default priors ([`crate::priors::PriorWeights::default`]), tuned jointly with them on
/// python-dev. Without priors the best weight there was 0.60 (0.5997 vs 0.5981 at 0.65).
pub const DEFAULT_VECTOR_WEIGHT: f64 = 0.65;

/// Sorts fused `(id, score)` pairs best first, ties by ascending id.
fn sorted<I: Ord + Copy>(acc: BTreeMap<I, f64>) -> Vec<(I, f64)> {
    let mut out: Vec<(I, f64)> = acc.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Reciprocal-rank fusion: `Σ_leg 1 / (k + rank)`, rank 1-based within each leg's list
/// (Cormack et al. use k = 60). Only ranks matter, not the scores.
pub fn rrf<I: Ord + Copy>(legs: &[&[(I, f64)]], k: f64) -> Vec<(I, f64)> {
    let mut acc = BTreeMap::new();
    for leg in legs {
        for (rank, &(id, _)) in leg.iter().enumerate() {
            *acc.entry(id).or_insert(0.0) += 1.0 / (k + rank as f64 + 1.0);
        }
    }
    sorted(acc)
}

/// Scores of one leg mapped linearly onto [0, 1]: its best to 1, its worst to 0. A leg
/// whose scores are all equal (or one document) maps them all to 1. Order is kept.
pub fn min_max_normalise<I: Copy>(leg: &[(I, f64)]) -> Vec<(I, f64)> {
    let (lo, hi) = leg
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, s)| {
            (lo.min(s), hi.max(s))
        });
    let span = hi - lo;
    leg.iter()
        .map(|&(id, s)| {
            let v = if span > 0.0 && span.is_finite() {
                (s - lo) / span
            } else {
                1.0
            };
            (id, v)
        })
        .collect()
}

/// Weighted fusion of min-max-normalised scores: `Σ_leg weight · normalised score`, a
/// document missing from a leg getting 0 there. With two legs and weights `w`, `1 - w` the
/// fused score stays in [0, 1].
pub fn weighted_min_max<I: Ord + Copy>(legs: &[(&[(I, f64)], f64)]) -> Vec<(I, f64)> {
    let mut acc = BTreeMap::new();
    for &(leg, weight) in legs {
        for (id, s) in min_max_normalise(leg) {
            *acc.entry(id).or_insert(0.0) += weight * s;
        }
    }
    sorted(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_sums_reciprocal_ranks() {
        let a = [(1u32, 9.0), (2, 8.0), (3, 7.0)];
        let b = [(3u32, 0.9), (1, 0.1)];
        let f = rrf(&[&a, &b], 60.0);
        let s = |r: f64| 1.0 / (60.0 + r);
        assert_eq!(f[0].0, 1);
        assert!((f[0].1 - (s(1.0) + s(2.0))).abs() < 1e-15);
        assert_eq!(f[1].0, 3);
        assert!((f[1].1 - (s(3.0) + s(1.0))).abs() < 1e-15);
        assert_eq!(f[2], (2, s(2.0)));
    }

    #[test]
    fn rrf_ties_break_by_id() {
        // 7 is first in one leg, 4 first in the other: equal fused scores.
        let a = [(7u32, 1.0)];
        let b = [(4u32, 1.0)];
        let f = rrf(&[&a, &b], 60.0);
        assert_eq!(f.iter().map(|h| h.0).collect::<Vec<_>>(), [4, 7]);
        assert_eq!(f[0].1, f[1].1);
    }

    #[test]
    fn min_max_maps_onto_unit_interval() {
        let n = min_max_normalise(&[(1u32, 3.0), (2, 2.0), (3, 1.0)]);
        assert_eq!(n, [(1, 1.0), (2, 0.5), (3, 0.0)]);
        assert_eq!(min_max_normalise(&[(1u32, 5.0)]), [(1, 1.0)]);
        assert_eq!(
            min_max_normalise(&[(1u32, 2.0), (2, 2.0)]),
            [(1, 1.0), (2, 1.0)]
        );
        assert!(min_max_normalise::<u32>(&[]).is_empty());
    }

    #[test]
    fn weighted_fusion_missing_document_gets_zero() {
        let vec_leg = [(1u32, 0.9), (2, 0.5), (3, 0.1)];
        let bm25_leg = [(2u32, 12.0), (4, 2.0)];
        let f = weighted_min_max(&[(&vec_leg, 0.6), (&bm25_leg, 0.4)]);
        // 1: 0.6·1; 2: 0.6·0.5 + 0.4·1 = 0.7; 3: 0; 4: 0.
        assert_eq!(f[0].0, 2);
        assert!((f[0].1 - 0.7).abs() < 1e-12);
        assert_eq!(f[1], (1, 0.6));
        assert_eq!(f.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 1, 3, 4]);
    }

    #[test]
    fn weighted_fusion_ties_break_by_id() {
        let a = [(9u32, 1.0), (5, 0.0)];
        let b = [(5u32, 1.0), (9, 0.0)];
        let f = weighted_min_max(&[(&a, 0.5), (&b, 0.5)]);
        assert_eq!(f, [(5, 0.5), (9, 0.5)]);
    }
}
