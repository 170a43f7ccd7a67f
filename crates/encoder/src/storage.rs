//! Storage of the packed weights: every array the forward pass reads is a [`Buf`], which
//! either owns a 64-byte-aligned heap allocation (a private load) or borrows a slice of a
//! shared, read-only [`Region`] (the memory-mapped weights cache file, see
//! [`crate::cache`]). The kernels see a plain `&[T]` either way (`Deref`), so their hot
//! loops do not change.
//!
//! Both kinds start every array on a 64-byte boundary: a 128-byte panel row of the f32
//! kernel or a 128-byte group of the int8 kernel then never straddles a cache line more than
//! it must (the allocator's default alignment for large blocks is 16 bytes).

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::Arc;

/// Alignment of every array, owned or mapped.
pub(crate) const ALIGN: usize = 64;

/// The element types a [`Buf`] can hold: plain numbers, valid for every bit pattern.
///
/// # Safety
/// Implementors must be `Copy` types without padding for which every bit pattern is a valid
/// value, with `align_of <= ALIGN`.
pub(crate) unsafe trait Element: Copy + Send + Sync + 'static {
    /// Type tag in the cache file's array table.
    const TAG: u32;
}
// SAFETY: plain numbers, every bit pattern valid, alignment 4 or 1.
unsafe impl Element for f32 {
    const TAG: u32 = 1;
}
// SAFETY: as above.
unsafe impl Element for i8 {
    const TAG: u32 = 2;
}
// SAFETY: as above.
unsafe impl Element for i32 {
    const TAG: u32 = 3;
}

/// Who keeps a [`Buf`]'s memory alive.
enum Owner {
    /// The buffer's own aligned heap block (freed on drop; none for an empty buffer).
    Heap,
    /// A slice of a shared region, kept alive by the `Arc`.
    Shared(#[allow(dead_code)] Arc<Region>),
}

/// An immutable array of `T` (once built): owned and aligned, or a slice of a shared region.
pub(crate) struct Buf<T: Element> {
    ptr: NonNull<T>,
    len: usize,
    owner: Owner,
}

// SAFETY: a Buf is either the unique owner of its heap block or a read-only view of a region
// that nobody writes (see `Region`); T is Send + Sync.
unsafe impl<T: Element> Send for Buf<T> {}
// SAFETY: as above; `&Buf` gives only shared reads.
unsafe impl<T: Element> Sync for Buf<T> {}

fn layout<T>(len: usize) -> Layout {
    Layout::from_size_align(len * std::mem::size_of::<T>(), ALIGN).expect("array size overflow")
}

impl<T: Element> Buf<T> {
    /// A zero-filled owned buffer of `len` values (to be filled through [`Buf::as_mut`]).
    pub(crate) fn zeroed(len: usize) -> Buf<T> {
        if len == 0 || std::mem::size_of::<T>() == 0 {
            return Buf {
                ptr: NonNull::dangling(),
                len,
                owner: Owner::Heap,
            };
        }
        let layout = layout::<T>(len);
        // SAFETY: the layout has a non-zero size (len > 0, T not zero-sized).
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(p.cast::<T>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        Buf {
            ptr,
            len,
            owner: Owner::Heap,
        }
    }

    /// An owned, aligned copy of `values`.
    pub(crate) fn from_slice(values: &[T]) -> Buf<T> {
        let mut b = Buf::zeroed(values.len());
        b.as_mut().copy_from_slice(values);
        b
    }

    /// A view of `len` values at byte `offset` of `region`, or `None` if that range is not
    /// inside the region or not aligned to [`ALIGN`].
    pub(crate) fn in_region(region: &Arc<Region>, offset: usize, len: usize) -> Option<Buf<T>> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        if !offset.is_multiple_of(ALIGN) || offset.checked_add(bytes)? > region.len {
            return None;
        }
        // SAFETY: offset + bytes <= region.len, so the pointer stays inside the region (or
        // one past its end for an empty slice).
        let p = unsafe { region.ptr.as_ptr().add(offset) };
        Some(Buf {
            ptr: NonNull::new(p.cast::<T>())?,
            len,
            owner: Owner::Shared(region.clone()),
        })
    }

    /// The values, writable: owned buffers only (while they are being built).
    ///
    /// Panics on a shared buffer: the region is read-only.
    pub(crate) fn as_mut(&mut self) -> &mut [T] {
        assert!(
            matches!(self.owner, Owner::Heap),
            "a shared weights buffer is read-only"
        );
        // SAFETY: an owned buffer is this value's own allocation of len initialised values
        // (zero-filled, valid for T), and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The values as bytes (native byte order), for writing the cache file.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the same memory as `deref`, viewed as bytes (u8 has alignment 1, and
        // Element types have no padding).
        unsafe {
            std::slice::from_raw_parts(
                self.ptr.as_ptr().cast::<u8>(),
                self.len * std::mem::size_of::<T>(),
            )
        }
    }

    /// Whether the values live in a shared region.
    #[cfg(test)]
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self.owner, Owner::Shared(_))
    }
}

impl<T: Element> std::ops::Deref for Buf<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: ptr points to len initialised, immutable (while shared) values, aligned for
        // T, kept alive by `owner` for as long as self lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Element> Drop for Buf<T> {
    fn drop(&mut self) {
        if matches!(self.owner, Owner::Heap) && self.len > 0 && std::mem::size_of::<T>() > 0 {
            // SAFETY: allocated in `zeroed` with exactly this layout and not freed before.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), layout::<T>(self.len)) };
        }
    }
}

impl<T: Element + std::fmt::Debug> std::fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buf[{}]", self.len)
    }
}

/// Returns memory freed by private weights that were replaced by a mapping to the operating
/// system: glibc keeps large freed blocks of its heap otherwise (its mmap threshold grows
/// with every freed mapped block, so many of the weights' buffers come from the heap), and a
/// process that built the weights, then mapped the cache file, would keep both resident.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A read-only byte region holding a whole cache file: a shared memory mapping on unix,
/// an aligned private copy elsewhere. Nobody writes it while it exists (the mapping is
/// `PROT_READ`, and cache files are only ever replaced by `rename`, never written in place).
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
    mapped: bool,
}

// SAFETY: the region is immutable for its whole life (see the type's doc) and freed once.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `file` (of `len` bytes, `len > 0`) read-only and shared; reads it into an
    /// aligned heap block where mapping is not available.
    pub(crate) fn map(file: &std::fs::File, len: usize) -> std::io::Result<Region> {
        if len == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "empty file",
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: a fresh read-only shared mapping of an open file descriptor; the
            // kernel picks the (page-aligned) address. The mapping stays valid after the
            // descriptor is closed.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    file.as_raw_fd(),
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let ptr = NonNull::new(p.cast::<u8>())
                .ok_or_else(|| std::io::Error::other("mmap returned null"))?;
            Ok(Region {
                ptr,
                len,
                mapped: true,
            })
        }
        #[cfg(not(unix))]
        {
            Region::read_private(file, len)
        }
    }

    /// Reads `file` (of `len` bytes) into an aligned private heap block: the region on
    /// targets without `mmap` (compiled everywhere so that the unix tests cover it).
    #[cfg_attr(unix, allow(dead_code))]
    pub(crate) fn read_private(file: &std::fs::File, len: usize) -> std::io::Result<Region> {
        use std::io::Read;
        if len == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "empty file",
            ));
        }
        let layout = layout::<u8>(len);
        // SAFETY: the layout has a non-zero size (len > 0).
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(p) else {
            std::alloc::handle_alloc_error(layout)
        };
        // freed by Region's drop if the read fails
        let region = Region {
            ptr,
            len,
            mapped: false,
        };
        // SAFETY: the region's own fresh allocation of len zeroed bytes, not shared yet.
        let bytes = unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) };
        let mut f = file;
        f.read_exact(bytes)?;
        Ok(region)
    }

    /// The whole region.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: ptr points to len readable bytes that nobody writes while self lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Whether the region is a shared file mapping (pages shared between processes).
    pub(crate) fn is_mapped(&self) -> bool {
        self.mapped
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.mapped {
            #[cfg(unix)]
            // SAFETY: the mapping made in `map`, of len bytes, unmapped once; no Buf borrows
            // it any more (each holds an Arc to this region).
            unsafe {
                libc::munmap(self.ptr.as_ptr().cast(), self.len);
            }
        } else {
            // SAFETY: allocated in `map` with exactly this layout, freed once.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout::<u8>(self.len)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_buffers_are_aligned_and_region_views_are_checked() {
        let b = Buf::from_slice(&[1.0f32, 2.0, 3.0]);
        assert_eq!(&*b, &[1.0, 2.0, 3.0]);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        assert!(!b.is_shared());
        assert_eq!(b.bytes().len(), 12);
        let e = Buf::<i8>::zeroed(0);
        assert!(e.is_empty());

        let dir = std::env::temp_dir().join(format!("codevec-storage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.bin");
        let data: Vec<u8> = (0..256u32).map(|i| i as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let r = Arc::new(Region::map(&f, data.len()).unwrap());
        drop(f);
        assert_eq!(r.bytes(), &data[..]);
        let v = Buf::<i8>::in_region(&r, 64, 128).unwrap();
        assert!(v.is_shared());
        assert_eq!(v[0], 64);
        assert!(Buf::<i8>::in_region(&r, 65, 1).is_none(), "unaligned");
        assert!(Buf::<f32>::in_region(&r, 192, 17).is_none(), "past the end");
        assert!(Buf::<f32>::in_region(&r, 192, 16).is_some());
        drop(r); // v keeps the region alive
        assert_eq!(v[127], 191u8 as i8);
        // the private copy of targets without mmap
        let f = std::fs::File::open(&p).unwrap();
        let r = Arc::new(Region::read_private(&f, data.len()).unwrap());
        assert!(!r.is_mapped());
        assert_eq!(r.bytes(), &data[..]);
        assert_eq!(r.bytes().as_ptr() as usize % ALIGN, 0);
        assert_eq!(
            Buf::<i32>::in_region(&r, 128, 4).unwrap()[0],
            0x8382_8180u32 as i32
        );
        assert!(
            Region::read_private(&f, data.len() + 1).is_err(),
            "short file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
