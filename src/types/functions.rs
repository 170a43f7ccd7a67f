//! Vector functions: dims, subvector, l2_normalize, element-wise + - *, and the btree
//! comparison support.

use codevec_vector::math;
use half::f16;
use pgrx::prelude::*;

use super::{VectorIn, VectorOut};
use crate::error::OrRaise;

macro_rules! vector_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _dims>](a: VectorIn<'_, $e>) -> i32 {
                a.dims() as i32
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _subvector>](a: VectorIn<'_, $e>, start: i32, count: i32) -> VectorOut<$e> {
                VectorOut::new(&math::subvector(a.as_slice(), start, count).or_raise())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_normalize>](a: VectorIn<'_, $e>) -> VectorOut<$e> {
                VectorOut::new(&math::normalize(a.as_slice()))
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _add>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> VectorOut<$e> {
                VectorOut::new(&math::add(a.as_slice(), b.as_slice()).or_raise())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _sub>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> VectorOut<$e> {
                VectorOut::new(&math::sub(a.as_slice(), b.as_slice()).or_raise())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _mul>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> VectorOut<$e> {
                VectorOut::new(&math::mul(a.as_slice(), b.as_slice()).or_raise())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _cmp>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> i32 {
                math::compare(a.as_slice(), b.as_slice()) as i32
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _lt>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> bool {
                math::compare(a.as_slice(), b.as_slice()).is_lt()
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _le>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> bool {
                math::compare(a.as_slice(), b.as_slice()).is_le()
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _eq>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> bool {
                math::compare(a.as_slice(), b.as_slice()).is_eq()
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _ne>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> bool {
                math::compare(a.as_slice(), b.as_slice()).is_ne()
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _ge>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> bool {
                math::compare(a.as_slice(), b.as_slice()).is_ge()
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _gt>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> bool {
                math::compare(a.as_slice(), b.as_slice()).is_gt()
            }
        }
    };
}

vector_functions!(embedding, f32);
vector_functions!(halfembedding, f16);
