//! Default parameters. The reasoning and the measurements behind them are
//! in the crate documentation ("Defaults").

/// Default seed (sampling, k-means, rotation).
pub const SEED: u64 = 0x00C0_DE7E_C001;

/// Default maximum Lloyd iterations.
pub const KMEANS_ITERS: usize = 10;

/// Default number of lists for `rows` vectors: `round(√rows)`, at least 1.
///
/// `√rows` balances the two per-query costs of IVF — ranking the centroids
/// (`lists × dim`) and scanning the probed lists (`rows/lists` codes each) —
/// and keeps k-means cheap (`sample × lists × dim`). On the 50k real set it
/// gave the same recall-vs-time curve as `2√rows` at half the build time,
/// and a clearly better one than pgvector's `rows/1000` (50 lists).
pub fn lists_for_rows(rows: usize) -> usize {
    ((rows as f64).sqrt().round() as usize).clamp(1, rows.max(1))
}

/// Default training sample: `64 × lists`, at least 10 000, at most all rows.
pub fn training_sample(lists: usize, rows: usize) -> usize {
    (lists * 64).max(10_000).min(rows)
}

/// Default number of probed lists: a third of the lists up to 256 lists,
/// growing like `√lists` above (`⌈√(256·lists)/3⌉`), so the probed
/// fraction of a large table shrinks slowly.
pub fn nprobe_for_lists(lists: usize) -> usize {
    let p = if lists <= 256 {
        (lists as f64 / 3.0).ceil()
    } else {
        ((256.0 * lists as f64).sqrt() / 3.0).ceil()
    };
    (p as usize).clamp(1, lists.max(1))
}

/// Default number of probed lists for an index of `lists` lists built on `build_rows` rows
/// that holds `rows` now: [`nprobe_for_lists`], raised once inserts have grown the lists past
/// their build size, by `(rows / build_rows)^⅙` (as `(√rows / lists)^⅓` for an index built
/// with the default `lists = round(√build_rows)`), at most 2×. An index whose build set its
/// lists (`build_rows` = 0: trained by its first insert) is left at the list rule.
///
/// Coarser lists need a larger share of them probed for the same recall. Measured on the
/// real 50k set (cosine, 500 queries): built on 10k rows (100 lists) and grown to 50k by
/// inserts, ⌈100/3⌉ = 34 probes gave recall@10 0.958 against 0.972 for a fresh 224-list
/// build at its 75; 40 gave 0.968, 44 0.974, 45 (this rule: 9,945 rows at build) 0.976,
/// 50 0.981. A pgvector ivfflat of 100 lists shows the same (32 probes: 0.956). Without the cap, an index grown 1000× from a
/// tiny build would probe all of its lists on every query; REINDEX is the fix there.
pub fn nprobe_for(lists: usize, rows: usize, build_rows: usize) -> usize {
    let base = nprobe_for_lists(lists);
    if build_rows == 0 || rows <= build_rows {
        return base;
    }
    let factor = (rows as f64 / build_rows as f64).powf(1.0 / 6.0).min(2.0);
    // rounded, not ceiled: the planner's row estimate is a little off, and a growth of a
    // few rows must not add a list
    ((base as f64 * factor).round() as usize).clamp(base, lists.max(1))
}

/// Default rerank depth (candidates whose `f16` copy is read) for `k` results:
/// `max(150, 10·k)`.
pub fn rerank_for_k(k: usize) -> usize {
    (10 * k).max(150)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(lists_for_rows(0), 1);
        assert_eq!(lists_for_rows(1), 1);
        assert_eq!(lists_for_rows(50_000), 224);
        assert_eq!(lists_for_rows(1_000_000), 1000);
        assert_eq!(nprobe_for_lists(1), 1);
        assert_eq!(nprobe_for_lists(224), 75);
        assert_eq!(nprobe_for_lists(256), 86);
        assert_eq!(nprobe_for_lists(1000), 169);
        assert_eq!(rerank_for_k(10), 150);
        // a fresh build gets the list rule; a grown one more; a huge growth at most 2×
        assert_eq!(nprobe_for(224, 50_000, 50_000), 75);
        assert_eq!(nprobe_for(224, 10_000, 50_000), 75);
        assert_eq!(
            nprobe_for(20, 2_000, 2_000),
            7,
            "lists chosen at build: the list rule"
        );
        assert_eq!(nprobe_for(100, 50_000, 10_000), 44);
        assert_eq!(
            nprobe_for(20, 2_010, 2_000),
            7,
            "a few more rows: no more probes"
        );
        assert_eq!(nprobe_for(32, 1_000_000, 1_000), 22);
        assert_eq!(nprobe_for(1, 5, 0), 1);
        assert_eq!(nprobe_for(3, 0, 9), 1);
        assert_eq!(rerank_for_k(100), 1000);
        assert_eq!(training_sample(224, 50_000), 14_336);
        assert_eq!(training_sample(224, 5_000), 5_000);
    }
}
