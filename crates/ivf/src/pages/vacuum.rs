//! Bulk delete: remove dead row ids from the code pages (compacting each page in place under
//! its exclusive lock, one page at a time), fix the lists' counts, point each list at its
//! first page before the tail with room (inserts fill it), and free the dead rows' `f16`
//! slots (inserts reuse them; the store is told which vector pages have some).

use super::format::{loc_unpack, CodeLayout, VecLayout, INVALID_BLOCK};
use super::read::{read_directory, read_meta};
use super::store::{Lock, PageGuard, PageRecord, PageStore, StoreError};

/// What one bulk-delete pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteStats {
    /// Entries removed.
    pub removed: u64,
    /// Entries left.
    pub live: u64,
    /// `f16` slots freed.
    pub slots_freed: u64,
}

/// Removes every entry whose row id `is_dead` says is dead. `is_dead` runs while the
/// entry's page is locked exclusively (it must be quick and must not touch the index).
///
/// Locks: one page at a time (a code page, then the list's directory page, then each vector
/// page holding freed slots), so it never waits for a lock while holding one.
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
    let vl = VecLayout::new(m.dims as usize);
    let dir = read_directory(store, &m)?;
    let mut dead = Vec::new();
    // (locator, row id) of the removed entries of one list
    let mut freed: Vec<(u64, u64)> = Vec::new();
    for (l, e) in dir.iter().enumerate() {
        let mut removed = 0u32;
        let mut room = None;
        let mut blk = e.head;
        freed.clear();
        while blk != INVALID_BLOCK {
            store.checkpoint();
            let mut g = store.lock(blk, Lock::Exclusive)?;
            let (n, next) = {
                let cp = g.page().code_page(lay, blk)?;
                dead.clear();
                dead.extend(cp.tids().iter().map(|&t| is_dead(t)));
                let (tids, locs) = (cp.tids(), cp.locs());
                freed.extend(
                    (0..cp.len())
                        .filter(|&i| dead[i])
                        .map(|i| (locs[i], tids[i])),
                );
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
            if room.is_none() && next != INVALID_BLOCK && n - ndead < lay.capacity() {
                room = Some(blk);
            }
            stats.removed += ndead as u64;
            stats.live += (n - ndead) as u64;
            drop(g);
            blk = next;
        }
        let room = room.unwrap_or(0);
        if removed > 0 || room != e.room {
            // fix the list's count and page with room (no code page is held here)
            let (dblk, di) = m.dir_location(l);
            let mut dg = store.lock(dblk, Lock::Exclusive)?;
            dg.page().dir_entries(dblk)?;
            let mut rec = store.record();
            let r = rec.register(&mut dg, false);
            let ent = &mut rec.page(r).dir_entries_mut()[di];
            ent.count = ent.count.saturating_sub(removed);
            // never the tail: `room` had a next page, and chains only grow at their end
            ent.room = room;
            rec.commit();
        }
        stats.slots_freed += free_slots(store, vl, &mut freed)?;
    }
    Ok(stats)
}

/// Frees the vector slots of removed entries (`(locator, row id)`, sorted here by block),
/// each only if it still holds that row, one vector page at a time; tells the store of
/// every page that got free slots. Returns the slots freed.
fn free_slots<S: PageStore>(
    store: &S,
    vl: VecLayout,
    freed: &mut [(u64, u64)],
) -> Result<u64, StoreError> {
    freed.sort_unstable();
    let mut n = 0u64;
    let mut i = 0;
    while i < freed.len() {
        let (blk, _) = loc_unpack(freed[i].0);
        let mut j = i;
        while j < freed.len() && loc_unpack(freed[j].0).0 == blk {
            j += 1;
        }
        store.checkpoint();
        let mut g = store.lock(blk, Lock::Exclusive)?;
        let mine: Vec<usize> = freed[i..j]
            .iter()
            .filter_map(|&(loc, tid)| {
                let (_, slot) = loc_unpack(loc);
                match g.page().vector_slot(vl, blk, slot) {
                    Ok((t, _, _)) if t == tid => Some(Ok(slot)),
                    // another row's copy, or a freed slot: not this entry's, left alone
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                }
            })
            .collect::<Result<_, _>>()?;
        if !mine.is_empty() {
            let mut rec = store.record();
            let r = rec.register(&mut g, false);
            for &slot in &mine {
                rec.page(r).free_vector_slot(vl, slot);
            }
            rec.commit();
            n += mine.len() as u64;
        }
        drop(g);
        if !mine.is_empty() {
            store.note_free(blk);
        }
        i = j;
    }
    Ok(n)
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
