//! Distance functions and the operators built on them: `<->` L2, `<=>` cosine distance,
//! `<#>` negative inner product, `<+>` L1. All return double precision.

use codevec_distance as d;
use half::f16;
use pgrx::prelude::*;

use super::{check_same_dims, VectorIn};

macro_rules! distance_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_distance>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> f64 {
                check_same_dims(a.as_slice(), b.as_slice());
                d::l2_distance(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_squared_distance>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> f64 {
                check_same_dims(a.as_slice(), b.as_slice());
                d::l2_squared(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _cosine_distance>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> f64 {
                check_same_dims(a.as_slice(), b.as_slice());
                d::cosine_distance(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _inner_product>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> f64 {
                check_same_dims(a.as_slice(), b.as_slice());
                d::inner_product(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _negative_inner_product>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> f64 {
                check_same_dims(a.as_slice(), b.as_slice());
                d::negative_inner_product(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l1_distance>](a: VectorIn<'_, $e>, b: VectorIn<'_, $e>) -> f64 {
                check_same_dims(a.as_slice(), b.as_slice());
                d::l1_distance(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_norm>](a: VectorIn<'_, $e>) -> f64 {
                d::l2_norm(a.as_slice())
            }
        }
    };
}

distance_functions!(embedding, f32);
distance_functions!(halfembedding, f16);
