//! The on-disk and in-memory layout of `embedding` and `halfembedding` values, and their
//! pgrx argument/return wrappers.
//!
//! Layout (pgvector's): a 4-byte varlena header, `u16` dimension count, `u16` reserved
//! (zero), then the packed elements (f32 or IEEE binary16). See `docs/types.md`.

use core::marker::PhantomData;
use core::ptr::NonNull;

use codevec_vector::Element;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;

use crate::error::{raise, vector_error};

/// The fixed part of a stored vector.
#[repr(C)]
pub struct VectorHeader {
    vl_len: u32,
    dim: u16,
    reserved: u16,
}

/// Bytes before the first element.
pub const HEADER_SIZE: usize = std::mem::size_of::<VectorHeader>();

/// Total datum size for `dim` elements of `E`.
pub fn datum_size<E: Element>(dim: usize) -> usize {
    HEADER_SIZE + dim * E::SIZE
}

/// A vector built by codevec and handed to Postgres (palloc'd in the current memory
/// context).
pub struct VectorOut<E: Element>(NonNull<VectorHeader>, PhantomData<E>);

impl<E: Element> VectorOut<E> {
    /// Copy `x` into a new datum. `x` must already be checked (1..=MAX_DIM elements).
    pub fn new(x: &[E]) -> Self {
        if let Err(e) = codevec_vector::check_dims(E::TYPE_NAME, x.len()) {
            vector_error(e);
        }
        let size = datum_size::<E>(x.len());
        // SAFETY: palloc0 returns a zeroed block of `size` bytes (or raises ERROR); we
        // write the varlena length, the dimension count and exactly `x.len()` elements,
        // which fit because size = HEADER_SIZE + len * E::SIZE and the header is 8 bytes
        // (so f32 and f16 elements are aligned within the MAXALIGNed palloc block).
        unsafe {
            let ptr = pg_sys::palloc0(size) as *mut VectorHeader;
            pgrx::set_varsize_4b(ptr.cast(), size as i32);
            (*ptr).dim = x.len() as u16;
            let data = (ptr as *mut u8).add(HEADER_SIZE) as *mut E;
            std::ptr::copy_nonoverlapping(x.as_ptr(), data, x.len());
            VectorOut(NonNull::new_unchecked(ptr), PhantomData)
        }
    }

    /// The raw datum.
    pub fn into_datum_raw(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.0.as_ptr())
    }
}

/// A detoasted vector argument, borrowed for the duration of the call.
pub struct VectorIn<'a, E: Element>(NonNull<VectorHeader>, PhantomData<&'a E>);

/// `VARATT_IS_4B_U`: a varlena with a 4-byte header, not compressed, not external (the
/// two low bits of the first byte are 0 on little-endian, the high bit on big-endian).
///
/// # Safety
/// `p` must point to the first byte of a varlena.
#[inline(always)]
unsafe fn is_4b_uncompressed(p: *const u8) -> bool {
    // SAFETY: a varlena has at least its first header byte.
    let b = unsafe { *p };
    if cfg!(target_endian = "little") {
        b & 0x03 == 0
    } else {
        b & 0xC0 == 0
    }
}

impl<'a, E: Element> VectorIn<'a, E> {
    /// Detoast and validate a datum.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of this vector type.
    pub unsafe fn from_datum_raw(datum: pg_sys::Datum) -> Self {
        // SAFETY: the caller guarantees a varlena of our type. A plain 4-byte-header value
        // (what a heap tuple holds for any vector of 32+ dimensions, and every value we
        // return) is used in place, as PG_DETOAST_DATUM does: the operators run once per
        // row of an exact scan, and the call into pg_detoast_datum (through pgrx's FFI
        // guard) was a measurable share of that. pg_detoast_datum handles the compressed,
        // external and short-header forms, returning a 4-byte-header copy.
        let p = unsafe {
            let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
            if is_4b_uncompressed(raw as *const u8) {
                raw
            } else {
                pg_sys::pg_detoast_datum(raw)
            }
        } as *mut VectorHeader;
        // SAFETY: p is a plain (4-byte header) copy or the datum itself.
        unsafe { VectorIn::from_plain(p) }
    }

    /// Wraps and validates a plain (4-byte-header, uncompressed, inline) varlena.
    ///
    /// # Safety
    /// `p` must point to such a varlena of our type that lives for `'a`.
    unsafe fn from_plain(p: *mut VectorHeader) -> Self {
        let v = VectorIn(
            NonNull::new(p).expect("detoasted datum is not null"),
            PhantomData,
        );
        v.validate();
        v
    }

    /// As [`VectorIn::from_datum_raw`], but an out-of-line (TOASTed) value comes from the
    /// per-statement cache of [`super::detoast`]: for the distance functions only, whose
    /// out-of-line query vector would otherwise be fetched once per row.
    ///
    /// # Safety
    /// As [`VectorIn::from_datum_raw`]; the value must not be returned as a result (the
    /// cache may free it after the call).
    pub unsafe fn from_datum_for_distance(datum: pg_sys::Datum) -> Self {
        let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
        // SAFETY: the caller guarantees a varlena of our type.
        unsafe {
            if super::detoast::is_external_ondisk(raw) {
                VectorIn::from_plain(super::detoast::detoast(raw) as *mut VectorHeader)
            } else {
                VectorIn::from_datum_raw(datum)
            }
        }
    }

    fn validate(&self) {
        // SAFETY: the pointer is a detoasted varlena with at least a 4-byte header.
        let (size, dim) = unsafe {
            (
                pgrx::varsize(self.0.as_ptr().cast()),
                (*self.0.as_ptr()).dim as usize,
            )
        };
        if size < HEADER_SIZE || size != datum_size::<E>(dim) || dim == 0 {
            raise(
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!("corrupt {} value: {size} bytes for {dim} dimensions", E::TYPE_NAME),
                None,
                Some("The stored value does not match the embedding layout; restore it from a backup or re-insert it."),
            );
        }
    }

    /// Hint the CPU to fetch this column of the next rows of this value's heap page, when
    /// the value lives in a shared buffer (a row handed to an operator by a scan); see
    /// `codevec_distance::heap_prefetch`. Values outside the buffer pool (constants,
    /// copies, sort tuples, local buffers) and short values are left alone.
    #[inline(always)]
    pub fn prefetch_next_rows(&self) {
        use codevec_distance::heap_prefetch::{next_rows, MIN_PREFETCH_BYTES, ROWS_AHEAD};
        // The line pointer found by this backend's previous call. A plain static, not a
        // thread-local (whose lookup in a shared library is a call): only the backend's
        // main thread runs SQL functions, and a lost update only costs one search.
        static HINT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
        let p = self.0.as_ptr() as usize;
        // SAFETY: `BufferBlocks` and `NBuffers` are set once at postmaster start, before
        // any backend runs SQL, and never change; reading them is a plain load.
        let (base, nbuf) = unsafe { (pg_sys::BufferBlocks as usize, pg_sys::NBuffers as usize) };
        let blcksz = pg_sys::BLCKSZ as usize;
        if p < base || p >= base + nbuf * blcksz {
            return;
        }
        // SAFETY: validated header: the datum's size.
        let len = unsafe { pgrx::varsize(self.0.as_ptr().cast()) };
        if len < MIN_PREFETCH_BYTES {
            return;
        }
        let page = base + (p - base) / blcksz * blcksz;
        let mut out = [(0, 0); ROWS_AHEAD];
        let mut hint = HINT.load(core::sync::atomic::Ordering::Relaxed);
        // SAFETY: `page` is the start of one BLCKSZ-byte buffer of the pool, mapped for
        // the life of the backend; the scan that handed us this row holds a pin on it.
        let n = unsafe {
            next_rows(
                page as *const u8,
                blcksz,
                p - page,
                len,
                &mut hint,
                &mut out,
            )
        };
        HINT.store(hint, core::sync::atomic::Ordering::Relaxed);
        for &(off, bytes) in &out[..n] {
            codevec_simd::prefetch((page + off) as *const u8, bytes);
        }
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        // SAFETY: validated header.
        unsafe { (*self.0.as_ptr()).dim as usize }
    }

    /// Return this (already detoasted) value itself as a result, without copying.
    pub fn into_out(self) -> VectorOut<E> {
        VectorOut(self.0, PhantomData)
    }

    /// The elements.
    pub fn as_slice(&self) -> &'a [E] {
        // SAFETY: `validate` checked that the datum holds exactly `dims` elements after
        // the 8-byte header; the datum lives in a memory context that outlives the call.
        unsafe {
            let data = (self.0.as_ptr() as *const u8).add(HEADER_SIZE) as *const E;
            std::slice::from_raw_parts(data, self.dims())
        }
    }
}

// No `IntoDatum` for `VectorOut`: its `type_oid()` would have to find the type by name,
// which goes through `search_path` (a `pg_temp.embedding` domain would hijack it). Arrays
// of vectors are built by [`VectorArray`] with the element type of the function's own
// declared result type.

/// A one-dimensional array of vectors (NULL elements allowed) returned by a function
/// declared `RETURNS embedding[]` / `halfembedding[]`. The element type is taken from the
/// called function's declared result type (its `pg_proc.prorettype`), never looked up by
/// name, and checked to have the varlena layout of our types.
pub struct VectorArray<E: Element>(pub Vec<Option<VectorOut<E>>>);

// SAFETY: box_into returns, through `return_raw_datum`, a one-dimensional array built with
// the element type of the called function's declared result type, after checking that the
// type has our varlena layout (length -1, by reference, int alignment); every element is a
// valid palloc'd vector of `E`.
unsafe impl<E: Element> BoxRet for VectorArray<E> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: the FcInfo wraps the live call's FunctionCallInfo; its flinfo is set by
        // fmgr for every call of a C function.
        let fn_oid = unsafe { (*(*fcinfo.as_mut_ptr()).flinfo).fn_oid };
        // SAFETY: catalog lookups of an existing function and type (syscache).
        let (elem, len, byval, align) = unsafe {
            let ret = pg_sys::get_func_rettype(fn_oid);
            let elem = pg_sys::get_element_type(ret);
            let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
            if elem != pg_sys::InvalidOid {
                pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
            }
            (elem, len, byval, align)
        };
        if elem == pg_sys::InvalidOid || len != -1 || byval || align as u8 != b'i' {
            raise(
                PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                format!(
                    "function {} must be declared to return {}[]",
                    fn_oid.to_u32(),
                    E::TYPE_NAME
                ),
                None,
                Some("Recreate the extension's functions with ALTER EXTENSION codevec UPDATE or DROP/CREATE EXTENSION."),
            );
        }
        let n = self.0.len();
        let mut datums = Vec::with_capacity(n);
        let mut nulls = Vec::with_capacity(n);
        for v in self.0 {
            match v {
                Some(v) => {
                    datums.push(v.into_datum_raw());
                    nulls.push(false);
                }
                None => {
                    datums.push(pg_sys::Datum::from(0usize));
                    nulls.push(true);
                }
            }
        }
        let mut dims = [n as i32];
        let mut lbs = [1i32];
        // SAFETY: datums/nulls hold n entries; the element type's layout was checked above
        // to be that of our varlena types (length -1, by reference, int alignment).
        let arr = unsafe {
            pg_sys::construct_md_array(
                datums.as_mut_ptr(),
                nulls.as_mut_ptr(),
                1,
                dims.as_mut_ptr(),
                lbs.as_mut_ptr(),
                elem,
                len as i32,
                byval,
                align,
            )
        };
        // SAFETY: a palloc'd array in the current memory context.
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(arr)) }
    }
}

// SAFETY: a VectorOut is a complete palloc'd varlena of `E`'s vector type (built by
// `VectorOut::new` or taken from a VectorIn), returned unchanged through `return_raw_datum`.
unsafe impl<E: Element> BoxRet for VectorOut<E> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: the datum is a valid palloc'd varlena in the current memory context.
        unsafe { fcinfo.return_raw_datum(self.into_datum_raw()) }
    }
}

impl<'a, E: Element> FromDatum for VectorIn<'a, E> {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            None
        } else {
            // SAFETY: not null, and the caller (pgrx) promises a datum of the declared type.
            Some(unsafe { VectorIn::from_datum_raw(datum) })
        }
    }
}

// SAFETY: VectorIn<E> is only mapped to `E`'s own SQL type (SqlTranslatable below), so the
// argument's datum is a vector of `E`; it is read through FromDatum (detoasted by
// `from_datum_raw`), and it borrows for 'fcx, the lifetime of the call's arguments.
unsafe impl<'fcx, E: Element> ArgAbi<'fcx> for VectorIn<'fcx, E> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: all functions taking vectors are STRICT, so the argument is not null.
        unsafe {
            arg.unbox_arg_using_from_datum()
                .unwrap_or_else(|| panic!("argument {index} must not be null"))
        }
    }
}

/// A vector argument of a distance function: a [`VectorIn`] whose out-of-line value is read
/// through the per-statement cache ([`VectorIn::from_datum_for_distance`]).
pub struct DistanceArg<'a, E: Element>(VectorIn<'a, E>);

impl<'a, E: Element> core::ops::Deref for DistanceArg<'a, E> {
    type Target = VectorIn<'a, E>;
    fn deref(&self) -> &VectorIn<'a, E> {
        &self.0
    }
}

// SAFETY: as for VectorIn: DistanceArg<E> is only mapped to `E`'s own SQL type, so the
// argument is a vector of `E`; the functions taking it return numbers, never the value.
unsafe impl<'fcx, E: Element> ArgAbi<'fcx> for DistanceArg<'fcx, E> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: all distance functions are STRICT, so the argument is not null, and its
        // datum is a vector of E (see above).
        unsafe {
            let d: pg_sys::Datum = arg
                .unbox_arg_using_from_datum()
                .unwrap_or_else(|| panic!("argument {index} must not be null"));
            DistanceArg(VectorIn::from_datum_for_distance(d))
        }
    }
}

/// SQL type mapping for both wrappers of one element type. The types themselves are
/// created by `sql/types.sql` (bootstrap), so they count as external to pgrx's graph.
macro_rules! sql_type {
    ($elem:ty, $name:literal) => {
        // SAFETY: VectorOut<$elem> is a varlena with $elem's layout, which is what the SQL
        // type $name (created by sql/types.sql with these I/O functions) stores.
        unsafe impl SqlTranslatable for VectorOut<$elem> {
            const TYPE_IDENT: &'static str = concat!("codevec::", $name);
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
                Ok(SqlMappingRef::literal($name));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
                Ok(ReturnsRef::One(SqlMappingRef::literal($name)));
        }
        sql_type!(@borrowed VectorIn, $elem, $name);
        sql_type!(@borrowed DistanceArg, $elem, $name);
    };
    (@borrowed $t:ident, $elem:ty, $name:literal) => {
        // SAFETY: as for VectorOut<$elem>: the same layout, borrowed.
        unsafe impl<'a> SqlTranslatable for $t<'a, $elem> {
            const TYPE_IDENT: &'static str = concat!("codevec::", $name);
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
                Ok(SqlMappingRef::literal($name));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
                Ok(ReturnsRef::One(SqlMappingRef::literal($name)));
        }
    };
}

macro_rules! sql_array_type {
    ($elem:ty, $name:literal) => {
        // SAFETY: a VectorArray<$elem> is returned as a one-dimensional array whose element
        // type is checked at run time to be the function's declared $name[] element type.
        unsafe impl SqlTranslatable for VectorArray<$elem> {
            const TYPE_IDENT: &'static str = concat!("codevec::", $name, "[]");
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
                Ok(SqlMappingRef::literal(concat!($name, "[]")));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(
                SqlMappingRef::literal(concat!($name, "[]")),
            ));
        }
    };
}

sql_array_type!(f32, "embedding");

sql_type!(f32, "embedding");
sql_type!(half::f16, "halfembedding");
