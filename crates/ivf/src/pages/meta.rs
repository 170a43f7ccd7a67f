//! The metapage (block 0): what the index is (dimensions, metric, element type), where its
//! centroid and directory pages are, and the vector page inserts fill.

use crate::metric::Metric;

use super::format::{kind, Page, Plain, DIR_PER_PAGE, F32_PER_PAGE, INVALID_BLOCK};
use super::store::StoreError;

/// "IVF1".
pub const MAGIC: u32 = 0x4956_4631;
/// On-disk format version: the format of every page kind (`format.rs`, pinned by the
/// golden-page test). A metapage of another version is refused with a REINDEX hint.
/// Version 2: vector slots carry their row id, directory entries a page with room.
pub const VERSION: u32 = 2;
/// Block of the metapage.
pub const META_BLOCK: u32 = 0;
/// Most dimensions an index holds (one `f16` copy must fit a vector page, one 8-lane code
/// record a code page).
pub const MAX_DIMS: usize = 4000;
/// Most lists an index can have (the `lists` option's maximum is far below).
pub const MAX_LISTS: usize = 1 << 20;

/// Contents of the metapage.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaData {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`VERSION`].
    pub version: u32,
    /// Dimensions (0 = not known yet: empty index on an unconstrained column).
    pub dims: u32,
    /// Metric code ([`metric_code`]).
    pub metric: u32,
    /// Element type (0 = `f32` embedding, 1 = `f16` halfembedding).
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

// SAFETY: repr(C) of u32/i32/u64 fields only, each naturally aligned in this order, so there
// is no padding (the size assertion below) and every bit pattern is a value.
unsafe impl Plain for MetaData {}
const _: () = assert!(std::mem::size_of::<MetaData>() == 72);

/// Metric to metapage code.
pub fn metric_code(m: Metric) -> u32 {
    match m {
        Metric::L2 => 0,
        Metric::Cosine => 1,
        Metric::InnerProduct => 2,
    }
}

/// Metapage code to metric (validated codes only).
pub fn metric_from_code(c: u32) -> Metric {
    match c {
        1 => Metric::Cosine,
        2 => Metric::InnerProduct,
        _ => Metric::L2,
    }
}

impl MetaData {
    /// A fresh, untrained metapage.
    pub fn untrained(metric: Metric, elem: u32, dims: usize, opt_lists: i32) -> MetaData {
        MetaData {
            magic: MAGIC,
            version: VERSION,
            dims: dims as u32,
            metric: metric_code(metric),
            elem,
            lists: 0,
            seed: crate::defaults::SEED,
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

    /// What identifies the trained model of a metapage: its centroid block, list count and
    /// build identity. A model read for one identity serves every metapage with the same
    /// one (the per-backend cache keys on it, with the relation).
    pub fn model_identity(&self) -> (u32, u32, u64) {
        (self.centroid_start, self.lists, self.build_id)
    }

    /// Block and position of list `l`'s directory entry.
    pub fn dir_location(&self, l: usize) -> (u32, usize) {
        (self.dir_start + (l / DIR_PER_PAGE) as u32, l % DIR_PER_PAGE)
    }

    /// Reads and validates the metapage of a locked page.
    pub fn read(page: &Page) -> Result<MetaData, StoreError> {
        page.check(kind::META, META_BLOCK, usize::MAX)?;
        let m: MetaData = page.read_struct();
        if m.magic == MAGIC && m.version != VERSION {
            return Err(StoreError::corrupt(format!(
                "ivf index has page format version {}, this build of codevec reads version {VERSION}",
                m.version
            )));
        }
        if m.magic != MAGIC {
            return Err(StoreError::corrupt(format!(
                "ivf index has magic {:#x} version {}, expected {MAGIC:#x} version {VERSION}",
                m.magic, m.version
            )));
        }
        m.validate()?;
        Ok(m)
    }

    /// Writes the metapage into a (registered) page.
    pub fn write(&self, page: &mut Page) {
        page.write_struct(self);
    }

    /// Checks the metapage's numbers against each other before anything is sized by them
    /// (a corrupt `lists` or `dims` must be an error, not a huge allocation).
    pub fn validate(&self) -> Result<(), StoreError> {
        let dims = self.dims as usize;
        let lists = self.lists as usize;
        let bad = |what: &str| {
            Err(StoreError::corrupt(format!(
                "ivf metapage is inconsistent: {what} (dims {}, lists {}, centroid pages {}, directory pages {})",
                self.dims, self.lists, self.centroid_pages, self.dir_pages
            )))
        };
        if dims > MAX_DIMS {
            return bad("too many dimensions");
        }
        if self.elem > 1 || self.metric > 2 {
            return bad("unknown metric or element type");
        }
        if lists == 0 {
            return Ok(());
        }
        if dims == 0 || lists > MAX_LISTS {
            return bad("lists or dimensions out of range");
        }
        if self.centroid_pages as usize != (dims * (1 + lists)).div_ceil(F32_PER_PAGE) {
            return bad("centroid page count");
        }
        if self.dir_pages as usize != lists.div_ceil(DIR_PER_PAGE) {
            return bad("directory page count");
        }
        Ok(())
    }
}
