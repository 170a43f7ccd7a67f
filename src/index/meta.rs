//! The metapage (block 0), the centroid and directory pages, and the per-backend cache of
//! trained models (rebuilding an `IvfModel` derives the rotated centroids: not per query).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use codevec_ivf::{IvfModel, Metric};
use pgrx::pg_sys;

use super::page::{self, kind, DirEntry, Wal, DIR_PER_PAGE, F32_PER_PAGE, INVALID_BLOCK};
use super::{metric_from_code, Elem};

/// "IVF1".
pub const MAGIC: u32 = 0x4956_4631;
/// On-disk format version.
pub const VERSION: u32 = 1;
/// Block of the metapage.
pub const META_BLOCK: u32 = 0;

/// Contents of the metapage.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MetaData {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`VERSION`].
    pub version: u32,
    /// Dimensions (0 = not known yet: empty index on an unconstrained column).
    pub dims: u32,
    /// Metric code ([`super::metric_code`]).
    pub metric: u32,
    /// Element type ([`Elem`]).
    pub elem: u32,
    /// Lists (0 = not trained yet: the first insert trains a one-list model).
    pub lists: u32,
    /// Rotation / k-means seed.
    pub seed: u64,
    /// The `lists` option as given (-1 = default rule).
    pub opt_lists: i32,
    /// First centroid page.
    pub centroid_start: u32,
    /// Centroid pages.
    pub centroid_pages: u32,
    /// First directory page.
    pub dir_start: u32,
    /// Directory pages.
    pub dir_pages: u32,
    /// Vector page that inserts fill (or `INVALID_BLOCK`).
    pub vec_tail: u32,
    /// Rows indexed by the build.
    pub build_rows: u64,
    /// Random identity of the trained model, new at every build and first-insert training
    /// (the per-backend model cache keys on it). 0 on metapages written before it existed
    /// (the page was zeroed by `PageInit`), which still works as a key part.
    pub build_id: u64,
}

impl MetaData {
    /// A fresh, untrained metapage.
    pub fn untrained(metric: Metric, elem: Elem, dims: usize, opt_lists: i32) -> MetaData {
        MetaData {
            magic: MAGIC,
            version: VERSION,
            dims: dims as u32,
            metric: super::metric_code(metric),
            elem: elem as u32,
            lists: 0,
            seed: codevec_ivf::defaults::SEED,
            opt_lists,
            centroid_start: INVALID_BLOCK,
            centroid_pages: 0,
            dir_start: INVALID_BLOCK,
            dir_pages: 0,
            vec_tail: INVALID_BLOCK,
            build_rows: 0,
            build_id: 0,
        }
    }
    /// Metric.
    pub fn metric(&self) -> Metric {
        metric_from_code(self.metric)
    }
    /// Element type.
    pub fn elem(&self) -> Elem {
        Elem::from_u32(self.elem)
    }

    /// What identifies the trained model of a metapage: its centroid block, list count and
    /// build identity. A model read for one identity serves every metapage with the same
    /// one (the per-backend cache keys on it, with the relation).
    pub fn model_identity(&self) -> (u32, u32, u64) {
        (self.centroid_start, self.lists, self.build_id)
    }

    /// Checks the metapage's numbers against each other before anything is sized by them
    /// (a corrupt `lists` or `dims` must be an `ERROR`, not a huge allocation).
    fn validate(&self) {
        let dims = self.dims as usize;
        let lists = self.lists as usize;
        let bad = |what: &str| -> ! {
            page::corrupt(format!(
                "ivf metapage is inconsistent: {what} (dims {}, lists {}, centroid pages {}, directory pages {})",
                self.dims, self.lists, self.centroid_pages, self.dir_pages
            ))
        };
        if dims > codevec_vector::MAX_DIM {
            bad("too many dimensions");
        }
        if self.elem > 1 || self.metric > 2 {
            bad("unknown metric or element type");
        }
        if lists == 0 {
            return;
        }
        if dims == 0 || lists > MAX_LISTS {
            bad("lists or dimensions out of range");
        }
        if self.centroid_pages as usize != (dims * (1 + lists)).div_ceil(F32_PER_PAGE) {
            bad("centroid page count");
        }
        if self.dir_pages as usize != lists.div_ceil(DIR_PER_PAGE) {
            bad("directory page count");
        }
    }
}

/// Reads the metapage of a locked page.
///
/// # Safety
/// `page` must be the locked metapage.
pub unsafe fn read_meta_page(page: pg_sys::Page) -> MetaData {
    // SAFETY: the metapage data area holds a MetaData (checked by magic below).
    let m = unsafe {
        page::check_kind(page, kind::META, META_BLOCK);
        *(page::data(page) as *const MetaData)
    };
    if m.magic != MAGIC || m.version != VERSION {
        crate::error::raise(
            pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!(
                "ivf index has magic {:#x} version {}, expected {MAGIC:#x} version {VERSION}",
                m.magic, m.version
            ),
            None,
            Some("REINDEX the index."),
        );
    }
    m.validate();
    m
}

/// Most lists an index can have (the `lists` option's maximum is far below).
pub const MAX_LISTS: usize = 1 << 20;

/// Writes `m` into a metapage copy registered with a WAL record.
///
/// # Safety
/// `page` must be a registered metapage copy.
pub unsafe fn write_meta_page(page: pg_sys::Page, m: &MetaData) {
    // SAFETY: MetaData fits the data area.
    unsafe { *(page::data(page) as *mut MetaData) = *m };
}

/// Reads the metapage (share lock, released on return).
///
/// # Safety
/// `index` must be an open ivf index.
pub unsafe fn read_meta(index: pg_sys::Relation) -> MetaData {
    // SAFETY: block 0 exists in every ivf index; share lock while copying.
    unsafe {
        let b = page::lock_buffer(index, META_BLOCK, false);
        let m = read_meta_page(page::buffer_page(b));
        page::release(b);
        m
    }
}

/// Appends pages holding `floats` (centre, then centroids) as consecutive blocks. Returns
/// (first block, pages).
///
/// # Safety
/// `index` must be open; the caller holds the metapage lock or is building.
pub unsafe fn write_centroids(index: pg_sys::Relation, floats: &[f32]) -> (u32, u32) {
    let mut first = INVALID_BLOCK;
    let mut pages = 0u32;
    for chunk in floats.chunks(F32_PER_PAGE) {
        // SAFETY: a new exclusively locked buffer, logged as a full image.
        unsafe {
            let b = page::new_buffer(index, pg_sys::ForkNumber::MAIN_FORKNUM);
            let blk = pg_sys::BufferGetBlockNumber(b);
            if first == INVALID_BLOCK {
                first = blk;
            }
            assert_eq!(blk, first + pages, "centroid pages must be consecutive");
            let mut wal = Wal::start(index);
            let p = wal.register(b, true);
            page::init_page(p, kind::CENTROID);
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), page::data(p) as *mut f32, chunk.len());
            (*page::special(p)).count = chunk.len() as u16;
            wal.finish();
            page::release(b);
        }
        pages += 1;
    }
    (first, pages)
}

/// Appends the directory pages for `entries` as consecutive blocks. Returns (first, pages).
///
/// # Safety
/// As [`write_centroids`].
pub unsafe fn write_directory(index: pg_sys::Relation, entries: &[DirEntry]) -> (u32, u32) {
    let mut first = INVALID_BLOCK;
    let mut pages = 0u32;
    for chunk in entries.chunks(DIR_PER_PAGE) {
        // SAFETY: a new exclusively locked buffer, logged as a full image.
        unsafe {
            let b = page::new_buffer(index, pg_sys::ForkNumber::MAIN_FORKNUM);
            let blk = pg_sys::BufferGetBlockNumber(b);
            if first == INVALID_BLOCK {
                first = blk;
            }
            assert_eq!(blk, first + pages, "directory pages must be consecutive");
            let mut wal = Wal::start(index);
            let p = wal.register(b, true);
            page::init_page(p, kind::DIR);
            std::ptr::copy_nonoverlapping(
                chunk.as_ptr(),
                page::data(p) as *mut DirEntry,
                chunk.len(),
            );
            (*page::special(p)).count = chunk.len() as u16;
            wal.finish();
            page::release(b);
        }
        pages += 1;
    }
    (first, pages)
}

/// Block and position of list `l`'s directory entry.
pub fn dir_location(m: &MetaData, l: usize) -> (u32, usize) {
    (m.dir_start + (l / DIR_PER_PAGE) as u32, l % DIR_PER_PAGE)
}

/// Pointer to directory entry `i` of a directory page.
///
/// # Safety
/// `page` must be a locked directory page and `i < DIR_PER_PAGE`.
pub unsafe fn dir_entry(page: pg_sys::Page, i: usize) -> *mut DirEntry {
    // SAFETY: entry i lies inside the data area.
    unsafe { (page::data(page) as *mut DirEntry).add(i) }
}

/// Copies the whole directory (share lock per page).
///
/// # Safety
/// `index` must be open; `m` its current metapage.
pub unsafe fn read_directory(index: pg_sys::Relation, m: &MetaData) -> Vec<DirEntry> {
    let mut out = Vec::with_capacity(m.lists as usize);
    for p in 0..m.dir_pages {
        // SAFETY: directory blocks exist; share-locked while copying.
        unsafe {
            let b = page::lock_buffer(index, m.dir_start + p, false);
            let pg = page::buffer_page(b);
            let n = page::check_page(pg, kind::DIR, m.dir_start + p, DIR_PER_PAGE).count as usize;
            for i in 0..n {
                out.push(*dir_entry(pg, i));
            }
            page::release(b);
        }
    }
    if out.len() < m.lists as usize {
        page::corrupt(format!(
            "ivf index directory holds {} lists, the metapage says {}",
            out.len(),
            m.lists
        ));
    }
    out.truncate(m.lists as usize);
    out
}

/// A new random model identity for the metapage (never 0).
pub fn new_build_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: writes 8 bytes into `b`.
    let ok = unsafe { pg_sys::pg_strong_random(b.as_mut_ptr().cast(), b.len()) };
    let mut id = u64::from_ne_bytes(b);
    if !ok {
        // no strong random source: time and pid still differ between builds
        // SAFETY: plain reads of the clock and this backend's pid.
        id = unsafe { pg_sys::GetCurrentTimestamp() as u64 ^ ((pg_sys::MyProcPid as u64) << 40) };
    }
    id.max(1)
}

/// Cache key: database, relfilenode, [`MetaData::model_identity`].
type ModelKey = (u32, u32, (u32, u32, u64));

/// Most bytes of centroids (and their derived copies) one backend keeps cached.
const MODEL_CACHE_BYTES: usize = 256 << 20;

/// The per-backend model cache: each key's model with its size in bytes, and the total.
type ModelCache = (HashMap<ModelKey, (Rc<IvfModel>, usize)>, usize);

thread_local! {
    static MODELS: RefCell<ModelCache> =
        RefCell::new((HashMap::new(), 0));
}

/// The trained model of `index` (cached per backend by relfilenode and centroid location,
/// so REINDEX, TRUNCATE and first-insert training all produce a new key).
///
/// # Safety
/// `index` must be open; `m` its current (trained) metapage.
pub unsafe fn model(index: pg_sys::Relation, m: &MetaData) -> Rc<IvfModel> {
    assert!(m.lists > 0, "model of an untrained index");
    // SAFETY: rd_node is set for every open relation.
    let node = unsafe { (*index).rd_node };
    let key = (
        node.dbNode.to_u32(),
        node.relNode.to_u32(),
        m.model_identity(),
    );
    if let Some(mdl) = MODELS.with(|c| c.borrow().0.get(&key).map(|e| e.0.clone())) {
        return mdl;
    }
    let dims = m.dims as usize;
    let total = dims * (1 + m.lists as usize);
    let mut floats = Vec::with_capacity(total);
    for p in 0..m.centroid_pages {
        // SAFETY: centroid blocks exist; share-locked while copying.
        unsafe {
            let b = page::lock_buffer(index, m.centroid_start + p, false);
            let pg = page::buffer_page(b);
            let n = page::check_page(pg, kind::CENTROID, m.centroid_start + p, F32_PER_PAGE).count
                as usize;
            if floats.len() + n > total {
                page::corrupt(format!("ivf index has more than {total} centroid values"));
            }
            floats.extend_from_slice(std::slice::from_raw_parts(page::data(pg) as *const f32, n));
            page::release(b);
        }
    }
    if floats.len() != total {
        crate::error::raise(
            pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!(
                "ivf index has {} centroid values, expected {total}",
                floats.len()
            ),
            None,
            Some("REINDEX the index."),
        );
    }
    let center = floats[..dims].to_vec();
    let centroids = floats[dims..].to_vec();
    let mdl = Rc::new(IvfModel::new(m.metric(), dims, centroids, center, m.seed));
    // the model holds the centroids three times (plain, transposed, rotated)
    let bytes = 3 * total * 4;
    MODELS.with(|c| {
        let mut c = c.borrow_mut();
        if c.1 + bytes > MODEL_CACHE_BYTES || c.0.len() >= 16 {
            c.0.clear();
            c.1 = 0;
        }
        if bytes <= MODEL_CACHE_BYTES {
            c.0.insert(key, (mdl.clone(), bytes));
            c.1 += bytes;
        }
    });
    mdl
}
