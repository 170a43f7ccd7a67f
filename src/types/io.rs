//! Text input/output, binary send/receive, type modifiers and the length-coercion cast.

use std::ffi::{CStr, CString};

use codevec_vector::{binary, text, Element};
use pgrx::prelude::*;
use pgrx::Internal;

use super::{VectorIn, VectorOut};
use crate::error::{raise, OrRaise};

/// Enforce a typmod (`-1` means none).
pub fn check_typmod<E: Element>(dims: usize, typmod: i32) {
    if typmod >= 0 && dims != typmod as usize {
        raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("expected {typmod} dimensions, not {dims}"),
            None,
            Some(&format!(
                "The column or cast is declared {}({typmod}).",
                E::TYPE_NAME
            )),
        );
    }
}

fn input<E: Element>(s: &CStr, typmod: i32) -> VectorOut<E> {
    let s = s.to_str().unwrap_or_else(|_| {
        raise(
            PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
            format!("invalid byte sequence in {} input", E::TYPE_NAME),
            None,
            None,
        )
    });
    let v = text::parse::<E>(s).or_raise();
    check_typmod::<E>(v.len(), typmod);
    VectorOut::new(&v)
}

fn output<E: Element>(v: &VectorIn<'_, E>) -> CString {
    CString::new(text::format(v.as_slice())).expect("formatted vectors contain no NUL")
}

fn receive<E: Element>(mut buf: Internal, typmod: i32) -> VectorOut<E> {
    // SAFETY: Postgres passes a StringInfo for a type's receive function.
    let si =
        unsafe { buf.get_mut::<pg_sys::StringInfoData>() }.expect("receive buffer is not null");
    let (start, len) = (si.cursor as usize, si.len as usize);
    // SAFETY: `data` holds `len` bytes and cursor <= len (a StringInfo invariant).
    let bytes = unsafe {
        std::slice::from_raw_parts((si.data as *const u8).add(start), len.saturating_sub(start))
    };
    let v = binary::decode::<E>(bytes).or_raise();
    si.cursor = si.len; // consumed everything
    check_typmod::<E>(v.len(), typmod);
    VectorOut::new(&v)
}

fn typmod_in<E: Element>(list: Array<&CStr>) -> i32 {
    let bad = |msg: String| -> ! {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            msg,
            None,
            Some("Write the type as e.g. embedding(384)."),
        )
    };
    if list.len() != 1 {
        bad(format!(
            "invalid type modifier: {} takes exactly one, the number of dimensions",
            E::TYPE_NAME
        ));
    }
    let d: i64 = list
        .get(0)
        .flatten()
        .and_then(|c| c.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            bad("invalid type modifier: the number of dimensions must be an integer".into())
        });
    if d < 1 {
        bad(format!(
            "dimensions for type {} must be at least 1",
            E::TYPE_NAME
        ));
    }
    if d as usize > codevec_vector::MAX_DIM {
        bad(format!(
            "dimensions for type {} cannot exceed {}",
            E::TYPE_NAME,
            codevec_vector::MAX_DIM
        ));
    }
    d as i32
}

fn typmod_out(typmod: i32) -> CString {
    CString::new(if typmod < 0 {
        String::new()
    } else {
        format!("({typmod})")
    })
    .expect("no NUL")
}

macro_rules! io_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _in>](input: &CStr, _oid: pg_sys::Oid, typmod: i32) -> VectorOut<$e> {
                self::input::<$e>(input, typmod)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _out>](v: VectorIn<'_, $e>) -> CString {
                output(&v)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _recv>](buf: Internal, _oid: pg_sys::Oid, typmod: i32) -> VectorOut<$e> {
                receive::<$e>(buf, typmod)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _send>](v: VectorIn<'_, $e>) -> Vec<u8> {
                binary::encode(v.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _typmod_in>](list: Array<&CStr>) -> i32 {
                typmod_in::<$e>(list)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _typmod_out>](typmod: i32) -> CString {
                typmod_out(typmod)
            }

            /// Length-coercion cast `x::embedding(n)`, also applied on INSERT/UPDATE.
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _coerce>](v: VectorIn<'_, $e>, typmod: i32, _explicit: bool) -> VectorOut<$e> {
                check_typmod::<$e>(v.dims(), typmod);
                v.into_out()
            }
        }
    };
}

io_functions!(embedding, f32);
io_functions!(halfembedding, half::f16);
