//! The lexical column: a code text's tokens as a `tsvector`, so that PostgreSQL's own GIN
//! `tsvector_ops` index finds the rows holding a query term.
//!
//! Layout (PostgreSQL's `tsvector`, built here directly): one lexeme per distinct token
//! (`codevec_lexical::tokenize::tokenize_code`), sorted bytewise, each with exactly one
//! position whose *value* is the token's count in the text (capped at 16,383, the largest
//! position a `tsvector` holds). BM25 needs term frequencies and the document length, not
//! positions, and this keeps them exact for every realistic text in 4 bytes per lexeme. The
//! value is not meant for `ts_rank` or phrase search. See docs/search.md.

use codevec_lexical::bm25::DocTerms;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;

/// Largest position value a `tsvector` stores (`MAXENTRYPOS - 1`).
pub const MAX_TF: u32 = (1 << 14) - 1;
/// The lexeme area is addressed by 20-bit offsets (`MAXSTRPOS`).
const MAX_STR_POS: usize = (1 << 20) - 1;
/// `offsetof(TSVectorData, entries)`.
const HEADER: usize = 8;
/// `sizeof(WordEntry)`.
const ENTRY: usize = 4;

fn short_align(x: usize) -> usize {
    (x + 1) & !1
}

/// The distinct terms of a document that fit a `tsvector`: all of them unless their bytes
/// pass the 1 MB lexeme area (a pathological text); then the most frequent ones are kept,
/// ties by term, so the result is deterministic.
fn fitting_terms(doc: &DocTerms) -> Vec<(&str, u32)> {
    let all: Vec<(&str, u32)> = doc.terms().iter().map(|(t, n)| (t.as_str(), *n)).collect();
    let need = |ts: &[(&str, u32)]| {
        ts.iter()
            .map(|(t, _)| short_align(t.len()) + 4)
            .sum::<usize>()
    };
    if need(&all) <= MAX_STR_POS {
        return all;
    }
    let mut by_tf = all;
    by_tf.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut kept = Vec::new();
    let mut used = 0usize;
    for t in by_tf {
        let add = short_align(t.0.len()) + 4;
        if used + add > MAX_STR_POS {
            continue;
        }
        used += add;
        kept.push(t);
    }
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept
}

/// A `tsvector` built by codevec (palloc'd in the current memory context).
pub struct LexOut(pg_sys::Datum);

impl LexOut {
    /// The lexical vector of a document.
    pub fn new(doc: &DocTerms) -> LexOut {
        let terms = fitting_terms(doc);
        let data_len: usize = terms.iter().map(|(t, _)| short_align(t.len()) + 4).sum();
        let size = HEADER + ENTRY * terms.len() + data_len;
        // SAFETY: palloc0 gives `size` zeroed bytes (or raises ERROR). We write the varlena
        // header, the entry count, `terms.len()` 4-byte entries and, in the data area that
        // follows, each lexeme's bytes, a pad byte to an even offset and two u16 (npos = 1
        // and the position); `data_len` counts exactly those bytes, so every write stays
        // inside the block. Entries are sorted bytewise with no duplicates (DocTerms keeps
        // distinct sorted terms), which is the order tsvector's binary search relies on.
        unsafe {
            let base = pg_sys::palloc0(size) as *mut u8;
            pgrx::set_varsize_4b(base.cast(), size as i32);
            let tsv = base as *mut pg_sys::TSVectorData;
            (*tsv).size = terms.len() as i32;
            let entries = base.add(HEADER) as *mut pg_sys::WordEntry;
            let strs = base.add(HEADER + ENTRY * terms.len());
            let mut off = 0usize;
            for (i, (term, tf)) in terms.iter().enumerate() {
                let e = &mut *entries.add(i);
                e.set_haspos(1);
                e.set_len(term.len() as u32);
                e.set_pos(off as u32);
                std::ptr::copy_nonoverlapping(term.as_ptr(), strs.add(off), term.len());
                off = short_align(off + term.len());
                let npos: u16 = 1;
                let pos: u16 = (*tf).clamp(1, MAX_TF) as u16;
                std::ptr::write_unaligned(strs.add(off) as *mut u16, npos);
                std::ptr::write_unaligned(strs.add(off + 2) as *mut u16, pos);
                off += 4;
            }
            debug_assert_eq!(off, data_len);
            LexOut(pg_sys::Datum::from(base))
        }
    }
}

// SAFETY: a LexOut is a complete palloc'd tsvector varlena, returned unchanged.
unsafe impl BoxRet for LexOut {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: a valid palloc'd varlena in the current memory context.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

/// A detoasted `tsvector` argument, borrowed for the call.
pub struct LexIn<'a> {
    size: usize,
    entries: *const pg_sys::WordEntry,
    strs: *const u8,
    end: *const u8,
    _life: std::marker::PhantomData<&'a u8>,
}

impl<'a> LexIn<'a> {
    /// # Safety
    /// `datum` must be a non-null `tsvector` datum.
    pub unsafe fn from_datum_raw(datum: pg_sys::Datum) -> LexIn<'a> {
        // SAFETY: the caller promises a tsvector varlena; pg_detoast_datum returns a
        // 4-byte-header, uncompressed copy (or the datum itself), alive for the call.
        unsafe {
            let p = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *const u8;
            let total = pgrx::varsize_any(p.cast());
            let size = (*(p as *const pg_sys::TSVectorData)).size.max(0) as usize;
            let strs_off = HEADER + ENTRY * size;
            if strs_off > total {
                crate::error::raise(
                    PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                    "invalid tsvector: entries exceed its length",
                    None,
                    None,
                );
            }
            LexIn {
                size,
                entries: p.add(HEADER) as *const pg_sys::WordEntry,
                strs: p.add(strs_off),
                end: p.add(total),
                _life: std::marker::PhantomData,
            }
        }
    }

    fn data_len(&self) -> usize {
        // SAFETY: both pointers are into the same detoasted datum, end ≥ strs (checked).
        unsafe { self.end.offset_from(self.strs) as usize }
    }

    /// Entry `i`'s lexeme offset and length, when they lie inside the lexeme area (a corrupt
    /// or foreign value may point outside it).
    fn span(&self, i: usize) -> Option<(&pg_sys::WordEntry, usize, usize)> {
        debug_assert!(i < self.size);
        // SAFETY: i < size, and the entry array lies inside the datum (checked on entry).
        let e = unsafe { &*self.entries.add(i) };
        let (pos, len) = (e.pos() as usize, e.len() as usize);
        (pos + len <= self.data_len()).then_some((e, pos, len))
    }

    /// Lexeme `i` (empty when its offsets are out of range).
    fn lexeme(&self, i: usize) -> &'a [u8] {
        match self.span(i) {
            // SAFETY: [pos, pos + len) is inside the lexeme area (checked by span).
            Some((_, pos, len)) => unsafe { std::slice::from_raw_parts(self.strs.add(pos), len) },
            None => &[],
        }
    }

    /// Lexeme `i`'s count: the value of its first position (1 when it has none, 0 when its
    /// offsets are out of range).
    fn count(&self, i: usize) -> u32 {
        let Some((e, pos, len)) = self.span(i) else {
            return 0;
        };
        if e.haspos() == 0 {
            return 1;
        }
        let at = short_align(pos + len);
        if at + 4 > self.data_len() {
            return 1;
        }
        // SAFETY: at + 4 ≤ the lexeme area's length (checked): npos and the first position,
        // read unaligned.
        let (npos, first) = unsafe {
            (
                std::ptr::read_unaligned(self.strs.add(at) as *const u16),
                std::ptr::read_unaligned(self.strs.add(at + 2) as *const u16),
            )
        };
        if npos > 0 {
            u32::from(first & 0x3fff).max(1)
        } else {
            1
        }
    }

    /// The count of `term` (0 when absent), by binary search over the sorted lexemes; only
    /// the match's count is read.
    pub fn tf(&self, term: &[u8]) -> u32 {
        let (mut lo, mut hi) = (0usize, self.size);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.lexeme(mid).cmp(term) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.count(mid),
            }
        }
        0
    }

    /// The document length: the sum of the counts.
    pub fn doc_len(&self) -> u64 {
        (0..self.size).map(|i| u64::from(self.count(i))).sum()
    }
}

impl FromDatum for LexIn<'_> {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            None
        } else {
            // SAFETY: not null; pgrx promises a datum of the declared type (tsvector).
            Some(unsafe { LexIn::from_datum_raw(datum) })
        }
    }
}

// SAFETY: LexIn is only declared for `tsvector` arguments (SqlTranslatable below) of STRICT
// functions; it is read through FromDatum, which detoasts it for the call's lifetime.
unsafe impl<'fcx> ArgAbi<'fcx> for LexIn<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the functions taking LexIn are STRICT.
        unsafe {
            arg.unbox_arg_using_from_datum()
                .unwrap_or_else(|| panic!("argument {index} must not be null"))
        }
    }
}

/// Maps a wrapper to PostgreSQL's `tsvector` (a type pgrx does not know).
macro_rules! tsvector_sql {
    ($t:ty) => {
        // SAFETY: both wrappers hold PostgreSQL `tsvector` values.
        unsafe impl SqlTranslatable for $t {
            const TYPE_IDENT: &'static str = "pg_catalog::tsvector";
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
                Ok(SqlMappingRef::literal("tsvector"));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
                Ok(ReturnsRef::One(SqlMappingRef::literal("tsvector")));
        }
    };
}

tsvector_sql!(LexOut);
tsvector_sql!(LexIn<'_>);
