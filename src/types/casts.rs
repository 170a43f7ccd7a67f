//! Casts: arrays (real[], double precision[], integer[], numeric[]) to vectors, vectors to
//! real[] and double precision[], and embedding <-> halfembedding.

use codevec_vector::element::convert_all;
use codevec_vector::Element;
use half::f16;
use pgrx::prelude::*;
use pgrx::AnyNumeric;

use super::io::check_typmod;
use super::{VectorIn, VectorOut};
use crate::error::{raise, OrRaise};

/// Rejects a multi-dimensional array argument (`ARRAY[[1,2],[3,4]]` is not a vector;
/// flattening it silently would hide a mistake, and pgvector rejects it too).
fn check_one_dim(fcinfo: pg_sys::FunctionCallInfo, type_name: &'static str, len: usize) {
    // Only the array header is fetched (pgrx's `Array` argument already detoasted the
    // whole value once; a second full detoast would copy a toasted array again).
    const HEADER_DATA: i32 = (std::mem::size_of::<pg_sys::ArrayType>() - 4) as i32;
    // SAFETY: argument 0 of the array casts is a non-null array datum (STRICT); the slice
    // is a new 4-byte-header varlena holding the first bytes after the array's varlena
    // header, so it reads as an ArrayType header.
    let ndim = unsafe {
        let d = (*fcinfo).args.as_slice(1)[0].value;
        let head = pg_sys::pg_detoast_datum_slice(d.cast_mut_ptr(), 0, HEADER_DATA)
            as *const pg_sys::ArrayType;
        (*head).ndim
    };
    if ndim > 1 {
        raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("array must be one-dimensional to be cast to {type_name}, not {ndim}-dimensional"),
            None,
            Some("Cast each row of the array separately, or flatten it explicitly (e.g. with unnest)."),
        );
    }
    // before the elements are collected: no allocation sized by an oversized input
    codevec_vector::check_dims(type_name, len).or_raise();
}

/// Build a vector from array elements, rejecting NULLs, checking range and typmod.
fn from_elements<E: Element>(it: impl Iterator<Item = Option<f64>>, typmod: i32) -> VectorOut<E> {
    let vals: Vec<f64> = it
        .map(|x| {
            x.unwrap_or_else(|| {
                raise(
                    PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    format!(
                        "array must not contain nulls to be cast to {}",
                        E::TYPE_NAME
                    ),
                    None,
                    None,
                )
            })
        })
        .collect();
    codevec_vector::check_dims(E::TYPE_NAME, vals.len()).or_raise();
    let v = convert_all::<E>(vals).or_raise();
    check_typmod::<E>(v.len(), typmod);
    VectorOut::new(&v)
}

fn numeric_to_f64(n: AnyNumeric) -> Option<f64> {
    // NaN and ±Infinity numerics become non-finite f64s, which convert_all rejects;
    // numerics beyond f64's range become ±inf as well.
    Some(f64::try_from(n).unwrap_or(f64::INFINITY))
}

macro_rules! cast_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<float4_array_to_ $t>](a: Array<'_, f32>, typmod: i32, _explicit: bool, fcinfo: pg_sys::FunctionCallInfo) -> VectorOut<$e> {
                check_one_dim(fcinfo, <$e as Element>::TYPE_NAME, a.len());
                from_elements::<$e>(a.iter().map(|x| x.map(|x| x as f64)), typmod)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<float8_array_to_ $t>](a: Array<'_, f64>, typmod: i32, _explicit: bool, fcinfo: pg_sys::FunctionCallInfo) -> VectorOut<$e> {
                check_one_dim(fcinfo, <$e as Element>::TYPE_NAME, a.len());
                from_elements::<$e>(a.iter(), typmod)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<int4_array_to_ $t>](a: Array<'_, i32>, typmod: i32, _explicit: bool, fcinfo: pg_sys::FunctionCallInfo) -> VectorOut<$e> {
                check_one_dim(fcinfo, <$e as Element>::TYPE_NAME, a.len());
                from_elements::<$e>(a.iter().map(|x| x.map(|x| x as f64)), typmod)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<numeric_array_to_ $t>](a: Array<'_, AnyNumeric>, typmod: i32, _explicit: bool, fcinfo: pg_sys::FunctionCallInfo) -> VectorOut<$e> {
                check_one_dim(fcinfo, <$e as Element>::TYPE_NAME, a.len());
                from_elements::<$e>(a.iter().map(|x| x.and_then(numeric_to_f64)), typmod)
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _to_float4_array>](v: VectorIn<'_, $e>, _typmod: i32, _explicit: bool) -> Vec<f32> {
                v.as_slice().iter().map(|x| x.to_f32()).collect()
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _to_float8_array>](v: VectorIn<'_, $e>, _typmod: i32, _explicit: bool) -> Vec<f64> {
                v.as_slice().iter().map(|x| x.to_f32() as f64).collect()
            }
        }
    };
}

cast_functions!(embedding, f32);
cast_functions!(halfembedding, f16);

/// `embedding -> halfembedding`: an element beyond ±65504 is an error, not infinity.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn embedding_to_halfembedding(
    v: VectorIn<'_, f32>,
    typmod: i32,
    _explicit: bool,
) -> VectorOut<f16> {
    check_typmod::<f16>(v.dims(), typmod);
    let h = convert_all::<f16>(v.as_slice().iter().map(|&x| x as f64)).or_raise();
    VectorOut::new(&h)
}

/// `halfembedding -> embedding` (exact).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfembedding_to_embedding(
    v: VectorIn<'_, f16>,
    typmod: i32,
    _explicit: bool,
) -> VectorOut<f32> {
    check_typmod::<f32>(v.dims(), typmod);
    let f: Vec<f32> = v.as_slice().iter().map(|x| x.to_f32()).collect();
    VectorOut::new(&f)
}
