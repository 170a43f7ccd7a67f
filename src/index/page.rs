//! Page layouts of an `ivf` index and the WAL guard every page change goes through.
//!
//! Every page is a standard Postgres page (`PageInit`) with an 8-byte special area
//! ([`Special`]: next block of a chain, page kind, entry count). `pd_lower` is set to the end
//! of the data area so GenericXLog never treats our data as the free "hole". Layouts:
//!
//! * **meta** (block 0): [`crate::index::meta::MetaData`].
//! * **centroid** pages (consecutive blocks): an `f32` stream, the centre then the
//!   `lists × dims` centroids.
//! * **directory** pages (consecutive blocks): per list a [`DirEntry`] (head, tail, count).
//! * **code** pages (one chain per list): `records` 8-lane records laid out as four regions,
//!   codes (`records × 8 × words` `u64`, the crate's block layout), factor blocks
//!   (`records × 32` `f32`), heap TIDs (`records × 8` `u64`) and locators of the `f16` copies
//!   (`records × 8` `u64`, `block << 16 | slot`). `count` entries, dense.
//! * **vector** pages: `count` slots of `F16Factors` (8 B) + `dims` `f16`, 8-byte aligned.

use pgrx::pg_sys;

/// Size of a page.
pub const BLCKSZ: usize = pg_sys::BLCKSZ as usize;
/// Offset of the data area (MAXALIGNed page header).
pub const DATA_OFF: usize = 24;
/// Bytes of the special area.
pub const SPECIAL_SIZE: usize = std::mem::size_of::<Special>();
/// Usable bytes per page.
pub const DATA_SIZE: usize = BLCKSZ - DATA_OFF - SPECIAL_SIZE;
/// No block.
pub const INVALID_BLOCK: u32 = pg_sys::InvalidBlockNumber;

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

/// The special area of every page.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Special {
    /// Next page of the chain (code pages), or `INVALID_BLOCK`.
    pub next: u32,
    /// [`kind`].
    pub kind: u16,
    /// Entries used on the page.
    pub count: u16,
}

/// One list of the directory.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DirEntry {
    /// First code page.
    pub head: u32,
    /// Last code page (where inserts append).
    pub tail: u32,
    /// Entries in the list.
    pub count: u32,
    /// Zero.
    pub reserved: u32,
}

/// Directory entries per page.
pub const DIR_PER_PAGE: usize = DATA_SIZE / std::mem::size_of::<DirEntry>();
/// `f32` per centroid page.
pub const F32_PER_PAGE: usize = DATA_SIZE / 4;

/// Initialises `page` as an empty page of `kind`.
///
/// # Safety
/// `page` must point to a writable `BLCKSZ` page (e.g. from [`Wal::register`]).
pub unsafe fn init_page(page: pg_sys::Page, kind: u16) {
    // SAFETY: PageInit writes the header and reserves the special area inside the page.
    unsafe {
        pg_sys::PageInit(page, BLCKSZ, SPECIAL_SIZE);
        let hdr = page as *mut pg_sys::PageHeaderData;
        (*hdr).pd_lower = (DATA_OFF + DATA_SIZE) as u16;
        *special(page) = Special {
            next: INVALID_BLOCK,
            kind,
            count: 0,
        };
    }
}

/// The special area of `page`.
///
/// # Safety
/// `page` must be a page initialised by [`init_page`].
pub unsafe fn special(page: pg_sys::Page) -> *mut Special {
    // SAFETY: the special area is the last SPECIAL_SIZE bytes of the page.
    unsafe { (page as *mut u8).add(BLCKSZ - SPECIAL_SIZE) as *mut Special }
}

/// The data area of `page` (8-byte aligned: buffers are at least MAXALIGNed).
///
/// # Safety
/// `page` must point to a `BLCKSZ` page.
pub unsafe fn data(page: pg_sys::Page) -> *mut u8 {
    // SAFETY: DATA_OFF is inside the page.
    unsafe { (page as *mut u8).add(DATA_OFF) }
}

/// Checks that a page has the expected kind (corruption guard).
///
/// # Safety
/// `page` must point to a `BLCKSZ` page.
pub unsafe fn check_kind(page: pg_sys::Page, want: u16, blk: u32) {
    // SAFETY: reading the special area of a page (kind check validates it).
    let k = unsafe { (*special(page)).kind };
    if k != want {
        crate::error::raise(
            pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!("ivf index block {blk} has page kind {k}, expected {want}"),
            None,
            Some("REINDEX the index."),
        );
    }
}

/// Raises `ERRCODE_INDEX_CORRUPTED` with the REINDEX hint.
#[track_caller]
pub fn corrupt(msg: String) -> ! {
    crate::error::raise(
        pgrx::PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        msg,
        None,
        Some("REINDEX the index."),
    )
}

/// Checks a locked page's kind and that its entry count fits `capacity`; returns a copy of
/// its special area. Every reader of an on-page count goes through this, so a corrupt
/// count is an `ERROR`, never a read past the page.
///
/// # Safety
/// `page` must point to a locked `BLCKSZ` page.
pub unsafe fn check_page(page: pg_sys::Page, want: u16, blk: u32, capacity: usize) -> Special {
    // SAFETY: see the contract.
    let sp = unsafe {
        check_kind(page, want, blk);
        *special(page)
    };
    if sp.count as usize > capacity {
        corrupt(format!(
            "ivf index block {blk} claims {} entries, but at most {capacity} fit",
            sp.count
        ));
    }
    sp
}

/// Layout of a code page for a dimension.
#[derive(Clone, Copy, Debug)]
pub struct CodeLayout {
    /// `u64` words per code.
    pub words: usize,
    /// 8-lane records per page.
    pub records: usize,
    /// Byte offsets of the regions inside the data area.
    off_factors: usize,
    off_tids: usize,
    off_locs: usize,
}

impl CodeLayout {
    /// Layout for `dims` dimensions.
    pub fn new(dims: usize) -> CodeLayout {
        let words = dims.div_ceil(64).max(1);
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
        self.records * 8
    }
}

/// A view of a code page's data area.
pub struct CodePage {
    data: *mut u8,
    lay: CodeLayout,
}

impl CodePage {
    /// View of `page`.
    ///
    /// # Safety
    /// `page` must be a code page of this layout, locked for as long as the view is used
    /// (share lock to read, exclusive lock through [`Wal`] to write).
    pub unsafe fn new(page: pg_sys::Page, lay: CodeLayout) -> CodePage {
        // SAFETY: `page` is a locked code page of this layout (the function's contract).
        let data = unsafe { data(page) };
        CodePage { data, lay }
    }
    /// Code blocks covering the first `n` entries.
    pub fn codes(&self, n: usize) -> &[u64] {
        self.check_n(n);
        let len = n.div_ceil(8) * 8 * self.lay.words;
        // SAFETY: n ≤ capacity, so len u64 fit in the codes region; 8-byte aligned.
        unsafe { std::slice::from_raw_parts(self.data as *const u64, len) }
    }
    /// Mutable code region (all records).
    pub fn codes_mut(&mut self) -> &mut [u64] {
        let len = self.lay.records * 8 * self.lay.words;
        // SAFETY: the codes region is records × 8 × words u64, 8-byte aligned.
        unsafe { std::slice::from_raw_parts_mut(self.data as *mut u64, len) }
    }
    /// Raises a corruption error unless `n` entries fit the page.
    #[inline]
    fn check_n(&self, n: usize) {
        if n > self.lay.capacity() {
            corrupt(format!(
                "ivf code page entry {n} is beyond its capacity {}",
                self.lay.capacity()
            ));
        }
    }
    /// Factor blocks covering the first `n` entries.
    pub fn factors(&self, n: usize) -> &[f32] {
        self.check_n(n);
        let len = n.div_ceil(8) * 32;
        // SAFETY: inside the factor region, 4-byte aligned.
        unsafe {
            std::slice::from_raw_parts(self.data.add(self.lay.off_factors) as *const f32, len)
        }
    }
    /// Mutable factor region.
    pub fn factors_mut(&mut self) -> &mut [f32] {
        // SAFETY: the factor region is records × 32 f32.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.data.add(self.lay.off_factors) as *mut f32,
                self.lay.records * 32,
            )
        }
    }
    fn u64s(&self, off: usize) -> *mut u64 {
        // SAFETY: off is a region offset inside the data area.
        unsafe { self.data.add(off) as *mut u64 }
    }
    /// Heap TID of entry `i`.
    pub fn tid(&self, i: usize) -> u64 {
        self.check_n(i + 1);
        // SAFETY: i < capacity; the tid region holds capacity u64.
        unsafe { *self.u64s(self.lay.off_tids).add(i) }
    }
    /// Locator of entry `i`'s `f16` copy.
    pub fn loc(&self, i: usize) -> u64 {
        self.check_n(i + 1);
        // SAFETY: i < capacity; the locator region holds capacity u64.
        unsafe { *self.u64s(self.lay.off_locs).add(i) }
    }
    /// Writes entry `i`.
    pub fn set(
        &mut self,
        i: usize,
        code: &[u64],
        f: &codevec_ivf::quant::rabitq::CodeFactors,
        tid: u64,
        loc: u64,
    ) {
        assert!(i < self.lay.capacity());
        let words = self.lay.words;
        codevec_ivf::quant::scan::write_code(self.codes_mut(), words, i, code);
        codevec_ivf::quant::scan::write_factors(self.factors_mut(), i, f);
        // SAFETY: i < capacity (asserted).
        unsafe {
            *self.u64s(self.lay.off_tids).add(i) = tid;
            *self.u64s(self.lay.off_locs).add(i) = loc;
        }
    }
    /// Copies entry `from` to position `to` (vacuum compaction).
    pub fn move_entry(&mut self, from: usize, to: usize) {
        let words = self.lay.words;
        let code =
            codevec_ivf::quant::scan::read_code(self.codes(self.lay.capacity()), words, from);
        let f = codevec_ivf::quant::scan::read_factors(self.factors(self.lay.capacity()), from);
        let (tid, loc) = (self.tid(from), self.loc(from));
        self.set(to, &code, &f, tid, loc);
    }
}

/// Layout of a vector page.
#[derive(Clone, Copy, Debug)]
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
        let slot = (8 + 2 * dims).div_ceil(8) * 8;
        VecLayout {
            dims,
            slot,
            per_page: (DATA_SIZE / slot).max(1),
        }
    }

    /// Slot `i` of a vector page: factors and `f16` copy.
    ///
    /// # Safety
    /// `page` must be a locked vector page of this layout and `i < per_page`.
    pub unsafe fn read<'a>(
        &self,
        page: pg_sys::Page,
        i: usize,
    ) -> (codevec_ivf::F16Factors, &'a [half::f16]) {
        if i >= self.per_page {
            corrupt(format!(
                "ivf vector locator points to slot {i}, but a page holds {}",
                self.per_page
            ));
        }
        // SAFETY: slot i lies inside the data area; f32/f16 alignment holds (slot is 8-aligned).
        unsafe {
            let p = data(page).add(i * self.slot);
            let f = codevec_ivf::F16Factors {
                norm: *(p as *const f32),
                eps: *(p.add(4) as *const f32),
            };
            (
                f,
                std::slice::from_raw_parts(p.add(8) as *const half::f16, self.dims),
            )
        }
    }

    /// Writes slot `i`.
    ///
    /// # Safety
    /// `page` must be a vector page registered with a [`Wal`] record, `i < per_page`.
    pub unsafe fn write(
        &self,
        page: pg_sys::Page,
        i: usize,
        f: codevec_ivf::F16Factors,
        v: &[half::f16],
    ) {
        assert!(i < self.per_page && v.len() == self.dims);
        // SAFETY: slot i lies inside the data area.
        unsafe {
            let p = data(page).add(i * self.slot);
            *(p as *mut f32) = f.norm;
            *(p.add(4) as *mut f32) = f.eps;
            std::ptr::copy_nonoverlapping(v.as_ptr(), p.add(8) as *mut half::f16, self.dims);
        }
    }
}

/// Packs a vector locator.
pub fn loc_pack(block: u32, slot: usize) -> u64 {
    ((block as u64) << 16) | slot as u64
}

/// Unpacks a vector locator into (block, slot).
pub fn loc_unpack(loc: u64) -> (u32, usize) {
    ((loc >> 16) as u32, (loc & 0xFFFF) as usize)
}

/// A GenericXLog record under construction: pages registered with it are modified on a
/// copy and WAL-logged atomically by [`Wal::finish`]. Dropped unfinished (an error, a
/// panic) it aborts, leaving the buffers untouched.
pub struct Wal {
    state: *mut pg_sys::GenericXLogState,
    done: bool,
}

impl Wal {
    /// Starts a record for `index`.
    ///
    /// # Safety
    /// `index` must be an open index relation.
    pub unsafe fn start(index: pg_sys::Relation) -> Wal {
        // SAFETY: `index` is an open index relation (the function's contract);
        // GenericXLogStart allocates the state in the current memory context.
        let state = unsafe { pg_sys::GenericXLogStart(index) };
        Wal { state, done: false }
    }

    /// Registers exclusively locked `buf` (at most 4 per record); `fresh` logs a full
    /// image (a new page). Returns the page copy to modify.
    ///
    /// # Safety
    /// `buf` must be pinned and exclusively locked until [`Wal::finish`] returns.
    pub unsafe fn register(&mut self, buf: pg_sys::Buffer, fresh: bool) -> pg_sys::Page {
        let flags = if fresh {
            pg_sys::GENERIC_XLOG_FULL_IMAGE as i32
        } else {
            0
        };
        // SAFETY: see the contract.
        unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, buf, flags) }
    }

    /// Applies and WAL-logs the changes.
    pub fn finish(mut self) {
        self.done = true;
        // SAFETY: the state is live (not finished or aborted yet).
        unsafe {
            pg_sys::GenericXLogFinish(self.state);
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: the state is live; abort frees it without touching the buffers.
            unsafe { pg_sys::GenericXLogAbort(self.state) };
        }
    }
}

/// Reads block `blk` of the main fork, pinned (not locked).
///
/// # Safety
/// `index` must be open and `blk` must exist.
pub unsafe fn read_buffer(index: pg_sys::Relation, blk: u32) -> pg_sys::Buffer {
    // SAFETY: see the contract.
    unsafe {
        pg_sys::ReadBufferExtended(
            index,
            pg_sys::ForkNumber::MAIN_FORKNUM,
            blk,
            pg_sys::ReadBufferMode::RBM_NORMAL,
            std::ptr::null_mut(),
        )
    }
}

/// Reads block `blk` and takes a share (`false`) or exclusive (`true`) content lock.
///
/// # Safety
/// As [`read_buffer`]; the caller must not hold a lock that breaks the lock order
/// (see `docs/ivf.md`).
pub unsafe fn lock_buffer(index: pg_sys::Relation, blk: u32, exclusive: bool) -> pg_sys::Buffer {
    // SAFETY: see the contract.
    unsafe {
        let b = read_buffer(index, blk);
        pg_sys::LockBuffer(
            b,
            if exclusive {
                pg_sys::BUFFER_LOCK_EXCLUSIVE as i32
            } else {
                pg_sys::BUFFER_LOCK_SHARE as i32
            },
        );
        b
    }
}

/// Unlocks and unpins.
///
/// # Safety
/// `buf` must be pinned and locked by us.
pub unsafe fn release(buf: pg_sys::Buffer) {
    // SAFETY: see the contract.
    unsafe { pg_sys::UnlockReleaseBuffer(buf) }
}

/// Appends a new block to `fork` of `index` (under the relation extension lock) and returns
/// it pinned and exclusively locked.
///
/// # Safety
/// `index` must be open.
pub unsafe fn new_buffer(
    index: pg_sys::Relation,
    fork: pg_sys::ForkNumber::Type,
) -> pg_sys::Buffer {
    // SAFETY: the extension lock serialises concurrent extenders; P_NEW appends a zeroed block.
    unsafe {
        pg_sys::LockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
        let b = pg_sys::ReadBufferExtended(
            index,
            fork,
            pg_sys::InvalidBlockNumber,
            pg_sys::ReadBufferMode::RBM_NORMAL,
            std::ptr::null_mut(),
        );
        pg_sys::LockBuffer(b, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
        pg_sys::UnlockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
        b
    }
}

/// Page of a pinned buffer.
///
/// # Safety
/// `buf` must be pinned.
pub unsafe fn buffer_page(buf: pg_sys::Buffer) -> pg_sys::Page {
    // SAFETY: see the contract.
    unsafe { pg_sys::BufferGetPage(buf) }
}
