//! The lists of a paged index as a [`ListSource`] for the ordered scan: chains of code pages
//! from the directory's heads, `f16` copies on vector pages, each page share-locked while it
//! is read, one lock at a time.

use crate::bound::BoundQuery;
use crate::model::QueryState;
use crate::ordered::{scan_keys, Candidate, KeySink, ListSource};

use super::format::{loc_unpack, CodeLayout, VecLayout, INVALID_BLOCK};
use super::store::{Lock, PageGuard, PageStore, StoreError};

/// A [`ListSource`] over a [`PageStore`]. A corrupt page stops the list it is in and is
/// kept in [`PagedLists::error`]: the caller must check it after every step of the scan
/// (and raise it) before using what the step returned.
pub struct PagedLists<'s, S: PageStore> {
    store: &'s S,
    heads: &'s [u32],
    code: CodeLayout,
    vecs: VecLayout,
    error: Option<StoreError>,
}

impl<'s, S: PageStore> PagedLists<'s, S> {
    /// The lists whose chains start at `heads`, of vectors of `dims` dimensions.
    pub fn new(store: &'s S, heads: &'s [u32], dims: usize) -> Self {
        PagedLists {
            store,
            heads,
            code: CodeLayout::new(dims),
            vecs: VecLayout::new(dims),
            error: None,
        }
    }

    /// The first error met, if any.
    pub fn error(&mut self) -> Option<StoreError> {
        self.error.take()
    }

    fn scan_chain<K: KeySink>(
        &self,
        qs: &QueryState,
        list: usize,
        confidence: f32,
        sink: &mut K,
        entries: &mut usize,
    ) -> Result<(), StoreError> {
        let mut blk = *self.heads.get(list).ok_or_else(|| {
            StoreError::corrupt(format!("ivf list {list} is not in the directory"))
        })?;
        while blk != INVALID_BLOCK {
            let g = self.store.lock(blk, Lock::Share)?;
            let cp = g.page().code_page(self.code, blk)?;
            let n = cp.len();
            *entries += n;
            if n > 0 {
                let (tids, locs) = (cp.tids(), cp.locs());
                scan_keys(
                    qs,
                    list,
                    cp.codes(),
                    n,
                    cp.factors(),
                    confidence,
                    |i| (tids[i], locs[i]),
                    sink,
                );
            }
            blk = cp.next();
        }
        Ok(())
    }

    fn rerank_pages(
        &self,
        bq: &BoundQuery<'_>,
        cands: &mut [Candidate],
        emit: &mut dyn FnMut(f32, u64),
    ) -> Result<(), StoreError> {
        cands.sort_unstable_by_key(|c| c.loc);
        let mut i = 0;
        while i < cands.len() {
            let (blk, _) = loc_unpack(cands[i].loc);
            let g = self.store.lock(blk, Lock::Share)?;
            while i < cands.len() && loc_unpack(cands[i].loc).0 == blk {
                let (_, slot) = loc_unpack(cands[i].loc);
                if let Some(next) = cands.get(i + 1).map(|c| loc_unpack(c.loc)) {
                    if next.0 == blk {
                        g.page().prefetch_vector_slot(self.vecs, next.1);
                    }
                }
                let (tid, f, v) = g.page().vector_slot(self.vecs, blk, slot)?;
                // another row id: VACUUM removed the candidate's entry after this scan
                // read it (the row is dead to every snapshot) and freed, perhaps reused,
                // its slot. The row is left out; its copy is not its row's.
                if tid == cands[i].id {
                    emit(bq.lower_bound(v, f), cands[i].id);
                }
                i += 1;
            }
        }
        Ok(())
    }
}

impl<S: PageStore> ListSource for PagedLists<'_, S> {
    fn scan_list<K: KeySink>(
        &mut self,
        qs: &QueryState,
        list: usize,
        confidence: f32,
        sink: &mut K,
    ) -> usize {
        let mut entries = 0;
        if self.error.is_none() {
            if let Err(e) = self.scan_chain(qs, list, confidence, sink, &mut entries) {
                self.error = Some(e);
            }
        }
        entries
    }

    fn rerank(
        &mut self,
        bq: &BoundQuery<'_>,
        cands: &mut [Candidate],
        emit: &mut dyn FnMut(f32, u64),
    ) {
        if self.error.is_none() {
            if let Err(e) = self.rerank_pages(bq, cands, emit) {
                self.error = Some(e);
            }
        }
    }

    fn checkpoint(&mut self) {
        self.store.checkpoint();
    }
}
