//! Storage of the packed weights: every array the forward pass reads is a [`Buf`], which
//! owns a 64-byte-aligned heap allocation. The kernels see a plain `&[T]` (`Deref`).
//!
//! Every array starts on a 64-byte boundary: a 128-byte panel row of the f32
//! kernel or a 128-byte group of the int8 kernel then never straddles a cache line more than
//! it must (the allocator's default alignment for large blocks is 16 bytes).

use std::alloc::Layout;
use std::ptr::NonNull;

/// Alignment of every array, owned or mapped.
pub(crate) const ALIGN: usize = 64;

/// The element types a [`Buf`] can hold: plain numbers, valid for every bit pattern.
///
/// # Safety
/// Implementors must be `Copy` types without padding for which every bit pattern is a valid
/// value, with `align_of <= ALIGN`.
pub(crate) unsafe trait Element: Copy + Send + Sync + 'static {}
// SAFETY: plain numbers, every bit pattern valid, alignment 4 or 1.
unsafe impl Element for f32 {}
// SAFETY: as above.
unsafe impl Element for i8 {}
// SAFETY: as above.
unsafe impl Element for i32 {}

/// An immutable array of `T` (once built), owned and aligned.
pub(crate) struct Buf<T: Element> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: a Buf is the unique owner of its heap block; T is Send + Sync.
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
            };
        }
        let layout = layout::<T>(len);
        // SAFETY: the layout has a non-zero size (len > 0, T not zero-sized).
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(p.cast::<T>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        Buf { ptr, len }
    }

    /// An owned, aligned copy of `values`.
    pub(crate) fn from_slice(values: &[T]) -> Buf<T> {
        let mut b = Buf::zeroed(values.len());
        b.as_mut().copy_from_slice(values);
        b
    }

    /// The values, writable (while they are being built).
    pub(crate) fn as_mut(&mut self) -> &mut [T] {
        // SAFETY: the buffer is this value's own allocation of len initialised values
        // (zero-filled, valid for T), and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Element> std::ops::Deref for Buf<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: ptr points to len initialised values, aligned for T, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Element> Drop for Buf<T> {
    fn drop(&mut self) {
        if self.len > 0 && std::mem::size_of::<T>() > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_buffers_are_aligned() {
        let b = Buf::from_slice(&[1.0f32, 2.0, 3.0]);
        assert_eq!(&*b, &[1.0, 2.0, 3.0]);
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
        let e = Buf::<i8>::zeroed(0);
        assert!(e.is_empty());
    }
}
