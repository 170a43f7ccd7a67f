//! Reading an index's metapage, directory and centroids (one share lock at a time).

use super::format::{DirEntry, F32_PER_PAGE};
use super::meta::{MetaData, META_BLOCK};
use super::store::{Lock, PageGuard, PageStore, StoreError};

/// The metapage (share lock, released on return).
pub fn read_meta<S: PageStore>(store: &S) -> Result<MetaData, StoreError> {
    let g = store.lock(META_BLOCK, Lock::Share)?;
    MetaData::read(g.page())
}

/// The whole directory of a trained index (one share lock per page).
pub fn read_directory<S: PageStore>(store: &S, m: &MetaData) -> Result<Vec<DirEntry>, StoreError> {
    let lists = m.lists as usize;
    let mut out = Vec::new();
    out.try_reserve_exact(lists)
        .map_err(|_| StoreError::OutOfMemory(format!("ivf directory of {lists} lists")))?;
    for p in 0..m.dir_pages {
        let blk = m.dir_start + p;
        let g = store.lock(blk, Lock::Share)?;
        out.extend_from_slice(g.page().dir_entries(blk)?);
    }
    if out.len() < lists {
        return Err(StoreError::corrupt(format!(
            "ivf index directory holds {} lists, the metapage says {lists}",
            out.len()
        )));
    }
    out.truncate(lists);
    Ok(out)
}

/// The centre then the `lists × dims` centroids of a trained index.
pub fn read_centroids<S: PageStore>(store: &S, m: &MetaData) -> Result<Vec<f32>, StoreError> {
    let total = m.dims as usize * (1 + m.lists as usize);
    let mut floats = Vec::new();
    floats
        .try_reserve_exact(total)
        .map_err(|_| StoreError::OutOfMemory(format!("ivf centroids ({total} values)")))?;
    for p in 0..m.centroid_pages {
        let blk = m.centroid_start + p;
        let g = store.lock(blk, Lock::Share)?;
        let vals = g.page().centroid_values(blk)?;
        if floats.len() + vals.len() > total {
            return Err(StoreError::corrupt(format!(
                "ivf index has more than {total} centroid values"
            )));
        }
        floats.extend_from_slice(vals);
    }
    if floats.len() != total {
        return Err(StoreError::corrupt(format!(
            "ivf index has {} centroid values, expected {total}",
            floats.len()
        )));
    }
    Ok(floats)
}

/// Appends one new page of `kind` per chunk, as consecutive blocks, each filled by `fill`.
/// Returns (first block, pages). The caller holds the metapage exclusively or is building,
/// so no other extender can interleave.
fn write_consecutive<S: PageStore, T>(
    store: &S,
    chunks: std::slice::Chunks<'_, T>,
    kind: u16,
    what: &str,
    fill: impl Fn(&mut super::format::Page, &[T]),
) -> Result<(u32, u32), StoreError> {
    use super::store::PageRecord;
    let mut first = None;
    let mut pages = 0u32;
    for chunk in chunks {
        let mut g = store.extend()?;
        let blk = g.block();
        let start = *first.get_or_insert(blk);
        assert_eq!(blk, start + pages, "{what} pages must be consecutive");
        let mut rec = store.record();
        let i = rec.register(&mut g, true);
        let p = rec.page(i);
        p.init(kind);
        fill(p, chunk);
        rec.commit();
        pages += 1;
    }
    Ok((first.unwrap_or(super::format::INVALID_BLOCK), pages))
}

/// Appends pages holding `floats` (centre, then centroids) as consecutive blocks. Returns
/// (first block, pages).
pub fn write_centroids<S: PageStore>(store: &S, floats: &[f32]) -> Result<(u32, u32), StoreError> {
    write_consecutive(
        store,
        floats.chunks(F32_PER_PAGE),
        super::format::kind::CENTROID,
        "centroid",
        |p, chunk| p.set_centroid_values(chunk),
    )
}

/// Appends the directory pages for `entries` as consecutive blocks. Returns (first, pages).
pub fn write_directory<S: PageStore>(
    store: &S,
    entries: &[DirEntry],
) -> Result<(u32, u32), StoreError> {
    write_consecutive(
        store,
        entries.chunks(super::format::DIR_PER_PAGE),
        super::format::kind::DIR,
        "directory",
        |p, chunk| {
            p.dir_entries_mut()[..chunk.len()].copy_from_slice(chunk);
            p.set_count(chunk.len());
        },
    )
}
