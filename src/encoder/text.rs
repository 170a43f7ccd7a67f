//! Reading `text` values for the encoder: in the server's encoding converted to UTF-8, and
//! for long values only a prefix, detoasted as a slice, since the model sees at most 256
//! tokens anyway.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;

use codevec_encoder::{Encoder, MAX_INPUT_BYTES, MAX_TOKENS};

/// First slice read of a long text; grows ×4 while 256 tokens are not reached.
const FIRST_SLICE: usize = 64 * 1024;

/// A `text` argument kept as its (possibly toasted) datum.
pub struct TextArg(pub pg_sys::Datum);

impl FromDatum for TextArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            None
        } else {
            Some(TextArg(datum))
        }
    }
}

// SAFETY: a TextArg is just the datum itself (a pointer to a text varlena inside the array
// or argument it came from), so unboxing copies the Datum unchanged.
unsafe impl pgrx::datum::UnboxDatum for TextArg {
    type As<'src> = TextArg;
    #[inline]
    unsafe fn unbox<'src>(datum: pgrx::datum::Datum<'src>) -> TextArg
    where
        Self: 'src,
    {
        TextArg(datum.sans_lifetime())
    }
}

// SAFETY: TextArg is only declared for SQL `text` arguments (its SqlTranslatable below), so
// the argument's datum is a text varlena, which is all a TextArg claims; it is taken
// through FromDatum, which keeps the datum unchanged and maps SQL NULL to None.
unsafe impl<'fcx> ArgAbi<'fcx> for TextArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the functions taking TextArg are STRICT.
        unsafe {
            arg.unbox_arg_using_from_datum()
                .unwrap_or_else(|| panic!("argument {index} must not be null"))
        }
    }
}

// SAFETY: a TextArg holds exactly a `text` datum, so mapping it to SQL `text` (argument and
// return) is what the value is.
unsafe impl SqlTranslatable for TextArg {
    const TYPE_IDENT: &'static str = "codevec::TextArg";
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("text"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("text")));
}

/// The first `limit` bytes of a text datum (all of it for `None`) as UTF-8, clipped to a
/// whole character; and whether that is the whole value.
///
/// # Safety
/// `datum` must be a non-null `text` datum.
unsafe fn prefix(datum: pg_sys::Datum, limit: Option<usize>) -> (String, bool) {
    // SAFETY: (whole body) `datum` is a text varlena (caller); toast_raw_datum_size reads
    // only its header; the slice/detoast calls return a palloc'd (or the original) varlena
    // whose VARDATA_ANY holds VARSIZE_ANY_EXHDR bytes; pg_mbcliplen and pg_server_to_any
    // read within those bytes; the converted string is NUL-terminated.
    unsafe {
        let total = pg_sys::toast_raw_datum_size(datum) - pg_sys::VARHDRSZ;
        let (v, complete) = match limit {
            Some(n) if n < total => (
                pg_sys::pg_detoast_datum_slice(datum.cast_mut_ptr(), 0, n as i32),
                false,
            ),
            _ => (pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr()), true),
        };
        let data = pgrx::vardata_any(v.cast()) as *const core::ffi::c_char;
        let mut len = pgrx::varsize_any_exhdr(v.cast()) as i32;
        if !complete {
            len = pg_sys::pg_mbcliplen(data, len, len); // drop a cut multibyte character
        }
        let bytes: &[u8] = if pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 {
            std::slice::from_raw_parts(data.cast(), len as usize)
        } else {
            let conv = pg_sys::pg_server_to_any(data, len, pg_sys::pg_enc::PG_UTF8 as i32);
            let n = if std::ptr::eq(conv, data) {
                len as usize
            } else {
                core::ffi::CStr::from_ptr(conv).to_bytes().len()
            };
            std::slice::from_raw_parts(conv.cast(), n)
        };
        (String::from_utf8_lossy(bytes).into_owned(), complete)
    }
}

/// The whole text of a datum as UTF-8 (converted from the server encoding; invalid bytes,
/// which a UTF-8 database never holds, become U+FFFD).
///
/// # Safety
/// `datum` must be a non-null `text` datum.
pub unsafe fn whole_text(datum: pg_sys::Datum) -> String {
    // SAFETY: forwarded from the caller.
    unsafe { prefix(datum, None) }.0
}

/// The text the model sees for `datum`: the whole value, or a prefix (cut at white space)
/// that already yields the full 256 tokens, so truncation gives the same tokens.
///
/// # Safety
/// `datum` must be a non-null `text` datum.
pub unsafe fn model_text(enc: &Encoder, datum: pg_sys::Datum) -> String {
    let mut limit = FIRST_SLICE;
    loop {
        // SAFETY: forwarded from the caller.
        let (s, complete) = unsafe { prefix(datum, Some(limit)) };
        if complete {
            return s;
        }
        if let Some(cut) = s.rfind(char::is_whitespace) {
            if enc.token_count(&s[..cut]) >= MAX_TOKENS {
                let mut s = s;
                s.truncate(cut);
                return s;
            }
        }
        if limit >= MAX_INPUT_BYTES {
            // the encoder reads no further into a text than this (its tokenizer cap)
            return s;
        }
        limit = limit.saturating_mul(4).min(MAX_INPUT_BYTES);
    }
}
