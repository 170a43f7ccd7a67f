//! `codevec.text_digest(text)`: how a queued row is found again.

use pgrx::prelude::*;
use sha2::{Digest, Sha256};

/// SHA-256 of a text's bytes (in the database encoding).
///
/// # Safety
/// `datum` must be a non-null `text` (or `varchar`) datum.
pub unsafe fn digest_text(datum: pg_sys::Datum) -> [u8; 32] {
    // SAFETY: a text varlena (caller); pg_detoast_datum_packed returns it or a palloc'd
    // copy whose VARDATA_ANY holds VARSIZE_ANY_EXHDR bytes.
    unsafe {
        let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let data = pgrx::vardata_any(v.cast()) as *const u8;
        let len = pgrx::varsize_any_exhdr(v.cast());
        Sha256::digest(std::slice::from_raw_parts(data, len)).into()
    }
}
