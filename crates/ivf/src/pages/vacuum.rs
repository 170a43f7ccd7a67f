//! Bulk delete: remove dead row ids from the code pages (compacting each page in place under
//! its exclusive lock, one page at a time) and fix the lists' counts. The `f16` slots of
//! removed entries stay allocated until REINDEX (see docs/ivf.md).

use super::format::{CodeLayout, INVALID_BLOCK};
use super::read::{read_directory, read_meta};
use super::store::{Lock, PageGuard, PageRecord, PageStore, StoreError};

/// What one bulk-delete pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteStats {
    /// Entries removed.
    pub removed: u64,
    /// Entries left.
    pub live: u64,
}

/// Removes every entry whose row id `is_dead` says is dead. `is_dead` runs while the
/// entry's page is locked exclusively (it must be quick and must not touch the index).
pub fn bulk_delete<S: PageStore>(
    store: &S,
    is_dead: &mut dyn FnMut(u64) -> bool,
) -> Result<DeleteStats, StoreError> {
    let mut stats = DeleteStats::default();
    let m = read_meta(store)?;
    if m.lists == 0 {
        return Ok(stats);
    }
    let lay = CodeLayout::new(m.dims as usize);
    let dir = read_directory(store, &m)?;
    let mut dead = Vec::new();
    for (l, e) in dir.iter().enumerate() {
        let mut removed = 0u32;
        let mut blk = e.head;
        while blk != INVALID_BLOCK {
            store.checkpoint();
            let mut g = store.lock(blk, Lock::Exclusive)?;
            let (n, next) = {
                let cp = g.page().code_page(lay, blk)?;
                dead.clear();
                dead.extend(cp.tids().iter().map(|&t| is_dead(t)));
                (cp.len(), cp.next())
            };
            let ndead = dead.iter().filter(|d| **d).count();
            if ndead > 0 {
                let mut rec = store.record();
                let r = rec.register(&mut g, false);
                rec.page(r).code_page_mut(lay, blk)?.retain(n, |i| !dead[i]);
                rec.commit();
                removed += ndead as u32;
            }
            stats.removed += ndead as u64;
            stats.live += (n - ndead) as u64;
            drop(g);
            blk = next;
        }
        if removed > 0 {
            // fix the list's count (lock order: no code page is held here)
            let (dblk, di) = m.dir_location(l);
            let mut dg = store.lock(dblk, Lock::Exclusive)?;
            dg.page().dir_entries(dblk)?;
            let mut rec = store.record();
            let r = rec.register(&mut dg, false);
            let ent = &mut rec.page(r).dir_entries_mut()[di];
            ent.count = ent.count.saturating_sub(removed);
            rec.commit();
        }
    }
    Ok(stats)
}

/// Entries of a trained index according to its directory (0 when untrained).
pub fn count_entries<S: PageStore>(store: &S) -> Result<u64, StoreError> {
    let m = read_meta(store)?;
    if m.lists == 0 {
        return Ok(0);
    }
    Ok(read_directory(store, &m)?
        .iter()
        .map(|e| e.count as u64)
        .sum())
}
