//! The page format of an `ivf` index, in one place: the page header, the special area, the
//! page kinds and the layouts of the directory, code and vector pages.
//!
//! Every page is a standard PostgreSQL page of [`PAGE_SIZE`] bytes: the 24-byte page header
//! (`PageInit`'s), the data area, and an 8-byte special area ([`Special`]: next block of a
//! chain, page kind, entry count). `pd_lower` is set to the end of the data area, so
//! GenericXLog never takes our data for the free "hole" between `pd_lower` and `pd_upper`.
//! The golden-page test (`tests/golden_pages.rs`) pins every byte of this format; any
//! change to it must bump [`super::meta::VERSION`].

use crate::bound::F16Factors;
use crate::quant::rabitq::CodeFactors;
use crate::quant::scan as blocks;

use super::store::StoreError;

/// Size of a page (PostgreSQL's default `BLCKSZ`; the extension checks its server's).
pub const PAGE_SIZE: usize = 8192;
/// Offset of the data area (the MAXALIGNed page header).
pub const DATA_OFF: usize = 24;
/// Bytes of the special area.
pub const SPECIAL_SIZE: usize = 8;
/// Usable bytes per page.
pub const DATA_SIZE: usize = PAGE_SIZE - DATA_OFF - SPECIAL_SIZE;
/// No block.
pub const INVALID_BLOCK: u32 = u32::MAX;
/// `PG_PAGE_LAYOUT_VERSION` of the page header.
const PAGE_LAYOUT_VERSION: u16 = 4;

/// Page kinds (in [`Special::kind`]).
pub mod kind {
    /// Metapage.
    pub const META: u16 = 1;
    /// Centroid page.
    pub const CENTROID: u16 = 2;
    /// List directory page.
    pub const DIR: u16 = 3;
    /// Code page.
    pub const CODE: u16 = 4;
    /// Vector (`f16` copy) page.
    pub const VEC: u16 = 5;
}

/// One page, aligned like PostgreSQL's buffers and GenericXLog's page images (8 bytes).
#[repr(C, align(8))]
pub struct Page(pub [u8; PAGE_SIZE]);

impl Page {
    /// An all-zero page (what extending a relation yields).
    pub fn zeroed() -> Box<Page> {
        Box::new(Page([0; PAGE_SIZE]))
    }

    /// Initialises the page as an empty page of `kind`: the header `PageInit` writes, with
    /// `pd_lower` at the end of the data area, and the special area.
    pub fn init(&mut self, kind: u16) {
        self.0.fill(0);
        let special = (PAGE_SIZE - SPECIAL_SIZE) as u16;
        self.put_u16(12, (DATA_OFF + DATA_SIZE) as u16); // pd_lower
        self.put_u16(14, special); // pd_upper
        self.put_u16(16, special); // pd_special
        self.put_u16(18, PAGE_SIZE as u16 | PAGE_LAYOUT_VERSION); // pd_pagesize_version
        self.set_special(Special {
            next: INVALID_BLOCK,
            kind,
            count: 0,
        });
    }

    fn put_u16(&mut self, off: usize, v: u16) {
        self.0[off..off + 2].copy_from_slice(&v.to_ne_bytes());
    }

    /// The special area.
    pub fn special(&self) -> Special {
        let s = &self.0[PAGE_SIZE - SPECIAL_SIZE..];
        Special {
            next: u32::from_ne_bytes(s[0..4].try_into().expect("4 bytes")),
            kind: u16::from_ne_bytes(s[4..6].try_into().expect("2 bytes")),
            count: u16::from_ne_bytes(s[6..8].try_into().expect("2 bytes")),
        }
    }

    /// Writes the special area.
    pub fn set_special(&mut self, sp: Special) {
        let s = &mut self.0[PAGE_SIZE - SPECIAL_SIZE..];
        s[0..4].copy_from_slice(&sp.next.to_ne_bytes());
        s[4..6].copy_from_slice(&sp.kind.to_ne_bytes());
        s[6..8].copy_from_slice(&sp.count.to_ne_bytes());
    }

    /// Sets the entry count.
    pub fn set_count(&mut self, count: usize) {
        let mut sp = self.special();
        sp.count = count as u16;
        self.set_special(sp);
    }

    /// Sets the next block of a chain.
    pub fn set_next(&mut self, next: u32) {
        let mut sp = self.special();
        sp.next = next;
        self.set_special(sp);
    }

    /// The data area.
    pub fn data(&self) -> &[u8] {
        &self.0[DATA_OFF..DATA_OFF + DATA_SIZE]
    }

    /// The data area, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.0[DATA_OFF..DATA_OFF + DATA_SIZE]
    }

    /// The data area as `n` values of `T` from byte `off` (8-byte aligned page, `off` a
    /// multiple of `align_of::<T>()`).
    fn slice<T: Plain>(&self, off: usize, n: usize) -> &[T] {
        let bytes = &self.data()[off..off + n * std::mem::size_of::<T>()];
        assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<T>(), 0);
        // SAFETY: the range lies inside the data area (the slice above is bounds-checked)
        // and is aligned for T (asserted); T is plain old data (every bit pattern valid).
        unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, n) }
    }

    /// Writable version of [`Page::slice`].
    fn slice_mut<T: Plain>(&mut self, off: usize, n: usize) -> &mut [T] {
        let bytes = &mut self.data_mut()[off..off + n * std::mem::size_of::<T>()];
        assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<T>(), 0);
        // SAFETY: as in `slice`, and the borrow of `self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr() as *mut T, n) }
    }

    /// Checks the page's kind and that its count fits `capacity`; returns the special area.
    /// Every reader of an on-page count goes through this (or a typed view built on it), so
    /// a corrupt count is an error, never a read past the page.
    pub fn check(&self, want: u16, blk: u32, capacity: usize) -> Result<Special, StoreError> {
        let sp = self.special();
        if sp.kind != want {
            return Err(StoreError::corrupt(format!(
                "ivf index block {blk} has page kind {}, expected {want}",
                sp.kind
            )));
        }
        if sp.count as usize > capacity {
            return Err(StoreError::corrupt(format!(
                "ivf index block {blk} claims {} entries, but at most {capacity} fit",
                sp.count
            )));
        }
        Ok(sp)
    }

    /// `f32` values of a centroid page (checked count).
    pub fn centroid_values(&self, blk: u32) -> Result<&[f32], StoreError> {
        let n = self.check(kind::CENTROID, blk, F32_PER_PAGE)?.count as usize;
        Ok(self.slice::<f32>(0, n))
    }

    /// Writes `vals` (≤ [`F32_PER_PAGE`]) as the values of a centroid page.
    pub fn set_centroid_values(&mut self, vals: &[f32]) {
        self.slice_mut::<f32>(0, vals.len()).copy_from_slice(vals);
        self.set_count(vals.len());
    }

    /// Directory entries of a directory page (checked count).
    pub fn dir_entries(&self, blk: u32) -> Result<&[DirEntry], StoreError> {
        let n = self.check(kind::DIR, blk, DIR_PER_PAGE)?.count as usize;
        Ok(self.slice::<DirEntry>(0, n))
    }

    /// Writable directory entries (the whole page's capacity).
    pub fn dir_entries_mut(&mut self) -> &mut [DirEntry] {
        self.slice_mut::<DirEntry>(0, DIR_PER_PAGE)
    }

    /// A read view of a code page (kind and count checked).
    pub fn code_page(&self, lay: CodeLayout, blk: u32) -> Result<CodePage<'_>, StoreError> {
        let sp = self.check(kind::CODE, blk, lay.capacity())?;
        Ok(CodePage {
            page: self,
            lay,
            n: sp.count as usize,
            next: sp.next,
        })
    }

    /// A write view of a code page (kind and count checked).
    pub fn code_page_mut(
        &mut self,
        lay: CodeLayout,
        blk: u32,
    ) -> Result<CodePageMut<'_>, StoreError> {
        self.check(kind::CODE, blk, lay.capacity())?;
        Ok(CodePageMut { page: self, lay })
    }

    /// Slot `slot` of a vector page: the row id it holds ([`FREE_SLOT`] once VACUUM freed
    /// it), its factors and `f16` copy (kind and slot checked).
    pub fn vector_slot(
        &self,
        lay: VecLayout,
        blk: u32,
        slot: usize,
    ) -> Result<(u64, F16Factors, &[half::f16]), StoreError> {
        let n = self.check(kind::VEC, blk, lay.per_page)?.count as usize;
        if slot >= n {
            return Err(StoreError::corrupt(format!(
                "ivf vector locator points to slot {slot} of block {blk}, which holds {n}"
            )));
        }
        let off = slot * lay.slot;
        let tid = self.slice::<u64>(off, 1)[0];
        let f = self.slice::<f32>(off + 8, 2);
        let v = self.slice::<half::f16>(off + 16, lay.dims);
        Ok((
            tid,
            F16Factors {
                norm: f[0],
                eps: f[1],
            },
            v,
        ))
    }

    /// Hints the CPU to fetch slot `slot` of a vector page (nothing if it lies outside the
    /// data area): the rerank asks for its next candidate's slot while it computes one.
    pub fn prefetch_vector_slot(&self, lay: VecLayout, slot: usize) {
        let off = slot * lay.slot;
        if off + lay.slot <= DATA_SIZE {
            crate::simd::prefetch(self.data()[off..].as_ptr(), lay.slot);
        }
    }

    /// Writes slot `slot` of a vector page (row id `tid`, factors, copy) and counts it: the
    /// count is the high-water mark of the slots used (new slots fill in order, a freed slot
    /// below it is reused in place).
    pub fn set_vector_slot(
        &mut self,
        lay: VecLayout,
        slot: usize,
        tid: u64,
        f: F16Factors,
        v: &[half::f16],
    ) {
        assert!(slot < lay.per_page && v.len() == lay.dims && tid != FREE_SLOT);
        let off = slot * lay.slot;
        self.slice_mut::<u64>(off, 1)[0] = tid;
        self.slice_mut::<f32>(off + 8, 2)
            .copy_from_slice(&[f.norm, f.eps]);
        self.slice_mut::<half::f16>(off + 16, lay.dims)
            .copy_from_slice(v);
        let count = self.special().count as usize;
        self.set_count(count.max(slot + 1));
    }

    /// Frees slot `slot` (below the count) of a vector page: its row id becomes
    /// [`FREE_SLOT`] and its factors and copy read as zero.
    pub fn free_vector_slot(&mut self, lay: VecLayout, slot: usize) {
        assert!(slot < lay.per_page);
        let off = slot * lay.slot;
        self.data_mut()[off..off + lay.slot].fill(0);
        self.slice_mut::<u64>(off, 1)[0] = FREE_SLOT;
    }

    /// A slot of vector page `blk` an insert may write: the first never used, else the
    /// first freed one, else `None` (kind and count checked).
    pub fn vacant_vector_slot(
        &self,
        lay: VecLayout,
        blk: u32,
    ) -> Result<Option<usize>, StoreError> {
        let n = self.check(kind::VEC, blk, lay.per_page)?.count as usize;
        if n < lay.per_page {
            return Ok(Some(n));
        }
        Ok((0..n).find(|&s| self.slice::<u64>(s * lay.slot, 1)[0] == FREE_SLOT))
    }

    /// The first `size_of::<T>()` bytes of the data area as a `T` (the metapage).
    pub fn read_struct<T: Plain>(&self) -> T {
        self.slice::<T>(0, 1)[0]
    }

    /// Writes `v` at the start of the data area (the metapage).
    pub fn write_struct<T: Plain>(&mut self, v: &T) {
        self.slice_mut::<T>(0, 1)[0] = *v;
    }
}

/// Plain old data that may be read from any bit pattern of a page.
///
/// # Safety
/// Implementors must be `repr(C)` types of integers and floats only (no padding that
/// matters, every bit pattern valid).
pub unsafe trait Plain: Copy {}
// SAFETY: primitive numbers.
unsafe impl Plain for f32 {}
// SAFETY: primitive numbers.
unsafe impl Plain for u64 {}
// SAFETY: a 16-bit float; every bit pattern is a value.
unsafe impl Plain for half::f16 {}
// SAFETY: repr(C), four u32.
unsafe impl Plain for DirEntry {}

/// The special area of every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Special {
    /// Next page of the chain (code pages), or [`INVALID_BLOCK`].
    pub next: u32,
    /// [`kind`].
    pub kind: u16,
    /// Entries used on the page.
    pub count: u16,
}

/// One list of the directory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// First code page.
    pub head: u32,
    /// Last code page (where inserts append once no page before it has room).
    pub tail: u32,
    /// Entries in the list.
    pub count: u32,
    /// A page of the chain before the tail with free entries (set by VACUUM, the first
    /// such page; advanced by the inserts that fill it), or 0: none.
    pub room: u32,
}

impl DirEntry {
    /// An empty list.
    pub const EMPTY: DirEntry = DirEntry {
        head: INVALID_BLOCK,
        tail: INVALID_BLOCK,
        count: 0,
        room: 0,
    };
}

/// Directory entries per page.
pub const DIR_PER_PAGE: usize = DATA_SIZE / std::mem::size_of::<DirEntry>();
/// `f32` per centroid page.
pub const F32_PER_PAGE: usize = DATA_SIZE / 4;

/// Layout of a code page for a dimension: `records` 8-lane records stored as four regions,
/// codes (`records × 8 × words` `u64`, the kernels' word-major block layout, so a page is
/// scanned in place), factor blocks (`records × 32` `f32`), heap TIDs (`records × 8` `u64`)
/// and locators of the `f16` copies (`records × 8` `u64`). `count` entries, dense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeLayout {
    /// `u64` words per code.
    pub words: usize,
    /// 8-lane records per page.
    pub records: usize,
    off_factors: usize,
    off_tids: usize,
    off_locs: usize,
}

impl CodeLayout {
    /// Layout for `dims` dimensions.
    pub fn new(dims: usize) -> CodeLayout {
        let words = blocks::words_for_dim(dims).max(1);
        let rec = 64 * words + 128 + 64 + 64;
        let records = (DATA_SIZE / rec).max(1);
        let off_factors = records * 64 * words;
        let off_tids = off_factors + records * 128;
        let off_locs = off_tids + records * 64;
        CodeLayout {
            words,
            records,
            off_factors,
            off_tids,
            off_locs,
        }
    }
    /// Entries per page.
    pub fn capacity(&self) -> usize {
        self.records * blocks::BLOCK
    }
}

/// A read view of a code page; its count was checked against the capacity.
pub struct CodePage<'a> {
    page: &'a Page,
    lay: CodeLayout,
    n: usize,
    next: u32,
}

impl<'a> CodePage<'a> {
    /// Entries on the page.
    pub fn len(&self) -> usize {
        self.n
    }
    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Next page of the chain.
    pub fn next(&self) -> u32 {
        self.next
    }
    /// Code blocks covering the entries.
    pub fn codes(&self) -> &'a [u64] {
        self.page
            .slice::<u64>(0, blocks::blocks_len(self.n, self.lay.words))
    }
    /// Factor blocks covering the entries.
    pub fn factors(&self) -> &'a [f32] {
        self.page.slice::<f32>(
            self.lay.off_factors,
            self.n.div_ceil(blocks::BLOCK) * blocks::FACTOR_BLOCK,
        )
    }
    /// Heap TIDs of the entries.
    pub fn tids(&self) -> &'a [u64] {
        self.page.slice::<u64>(self.lay.off_tids, self.n)
    }
    /// Locators of the entries' `f16` copies.
    pub fn locs(&self) -> &'a [u64] {
        self.page.slice::<u64>(self.lay.off_locs, self.n)
    }
    /// Code of entry `i`.
    pub fn code(&self, i: usize) -> Vec<u64> {
        blocks::read_code(self.codes(), self.lay.words, i)
    }
    /// Factors of entry `i`.
    pub fn code_factors(&self, i: usize) -> CodeFactors {
        blocks::read_factors(self.factors(), i)
    }
}

/// A write view of a code page.
pub struct CodePageMut<'a> {
    page: &'a mut Page,
    lay: CodeLayout,
}

impl CodePageMut<'_> {
    /// Writes entry `i` (`i < capacity`).
    pub fn set(&mut self, i: usize, code: &[u64], f: &CodeFactors, tid: u64, loc: u64) {
        let lay = self.lay;
        assert!(i < lay.capacity() && code.len() == lay.words);
        let cap = lay.capacity();
        blocks::write_code(
            self.page.slice_mut::<u64>(0, cap * lay.words),
            lay.words,
            i,
            code,
        );
        blocks::write_factors(
            self.page
                .slice_mut::<f32>(lay.off_factors, lay.records * blocks::FACTOR_BLOCK),
            i,
            f,
        );
        self.page.slice_mut::<u64>(lay.off_tids, cap)[i] = tid;
        self.page.slice_mut::<u64>(lay.off_locs, cap)[i] = loc;
    }

    /// Keeps only the entries `keep(tid)` is true for, in order, and clears the rest of the
    /// page's entry bytes (vacuum compaction). Returns the number kept.
    pub fn retain(&mut self, n: usize, mut keep: impl FnMut(usize) -> bool) -> usize {
        let lay = self.lay;
        let cap = lay.capacity();
        assert!(n <= cap);
        let mut w = 0;
        for i in 0..n {
            if !keep(i) {
                continue;
            }
            if w != i {
                let codes = self.page.slice::<u64>(0, cap * lay.words);
                let code = blocks::read_code(codes, lay.words, i);
                let f = blocks::read_factors(
                    self.page
                        .slice::<f32>(lay.off_factors, lay.records * blocks::FACTOR_BLOCK),
                    i,
                );
                let tid = self.page.slice::<u64>(lay.off_tids, cap)[i];
                let loc = self.page.slice::<u64>(lay.off_locs, cap)[i];
                self.set(w, &code, &f, tid, loc);
            }
            w += 1;
        }
        // padding lanes and freed entries read as zero (the kernels' layout demands zero
        // padding lanes in a partly used block)
        let zero_code = vec![0u64; lay.words];
        let zero_f = CodeFactors {
            add: 0.0,
            scale: 0.0,
            pop: 0,
            err: 0.0,
        };
        for i in w..n {
            self.set(i, &zero_code, &zero_f, 0, 0);
        }
        self.page.set_count(w);
        w
    }
}

/// Layout of a vector page: `per_page` slots of the row id (`u64`, [`FREE_SLOT`] when
/// freed), `F16Factors` (8 B) and `dims` `f16`, 8-byte aligned. The row id lets a reader
/// tell that a locator it holds still points to its row's copy: a slot freed by VACUUM
/// (the row is dead) may be reused by an insert at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VecLayout {
    /// Dimensions.
    pub dims: usize,
    /// Bytes per slot.
    pub slot: usize,
    /// Slots per page.
    pub per_page: usize,
}

impl VecLayout {
    /// Layout for `dims` dimensions.
    pub fn new(dims: usize) -> VecLayout {
        let slot = (16 + 2 * dims).div_ceil(8) * 8;
        VecLayout {
            dims,
            slot,
            per_page: (DATA_SIZE / slot).max(1),
        }
    }
}

/// The row id of a freed vector slot (no packed heap TID is: their top 16 bits are 0).
pub const FREE_SLOT: u64 = u64::MAX;

/// Packs a vector locator: `block << 16 | slot`.
pub fn loc_pack(block: u32, slot: usize) -> u64 {
    ((block as u64) << 16) | slot as u64
}

/// Unpacks a vector locator into (block, slot).
pub fn loc_unpack(loc: u64) -> (u32, usize) {
    ((loc >> 16) as u32, (loc & 0xFFFF) as usize)
}
