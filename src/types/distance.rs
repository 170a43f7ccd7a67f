//! Distance functions and the operators built on them: `<->` L2, `<=>` cosine distance,
//! `<#>` negative inner product, `<+>` L1. All return double precision.

use codevec_distance as d;
use half::f16;
use pgrx::prelude::*;

use super::{check_same_dims, DistanceArg, VectorIn};

/// Every distance function first asks for the next rows of a scan to be fetched (see
/// [`VectorIn::prefetch_next_rows`]): in an exact scan over a table larger than the CPU's
/// caches, memory, not arithmetic, is the cost of a row. Either operand may be the column.
#[inline(always)]
fn prefetch_next_rows<E: codevec_vector::Element>(a: &VectorIn<'_, E>, b: &VectorIn<'_, E>) {
    a.prefetch_next_rows();
    b.prefetch_next_rows();
}

macro_rules! distance_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_distance>](a: DistanceArg<'_, $e>, b: DistanceArg<'_, $e>) -> f64 {
                prefetch_next_rows(&a, &b);
                check_same_dims(a.as_slice(), b.as_slice());
                d::l2_distance(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_squared_distance>](a: DistanceArg<'_, $e>, b: DistanceArg<'_, $e>) -> f64 {
                prefetch_next_rows(&a, &b);
                check_same_dims(a.as_slice(), b.as_slice());
                d::l2_squared(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _cosine_distance>](a: DistanceArg<'_, $e>, b: DistanceArg<'_, $e>) -> f64 {
                prefetch_next_rows(&a, &b);
                check_same_dims(a.as_slice(), b.as_slice());
                d::cosine_distance(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _inner_product>](a: DistanceArg<'_, $e>, b: DistanceArg<'_, $e>) -> f64 {
                prefetch_next_rows(&a, &b);
                check_same_dims(a.as_slice(), b.as_slice());
                d::inner_product(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _negative_inner_product>](a: DistanceArg<'_, $e>, b: DistanceArg<'_, $e>) -> f64 {
                prefetch_next_rows(&a, &b);
                check_same_dims(a.as_slice(), b.as_slice());
                d::negative_inner_product(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l1_distance>](a: DistanceArg<'_, $e>, b: DistanceArg<'_, $e>) -> f64 {
                prefetch_next_rows(&a, &b);
                check_same_dims(a.as_slice(), b.as_slice());
                d::l1_distance(a.as_slice(), b.as_slice())
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _l2_norm>](a: DistanceArg<'_, $e>) -> f64 {
                a.prefetch_next_rows();
                d::l2_norm(a.as_slice())
            }
        }
    };
}

distance_functions!(embedding, f32);
distance_functions!(halfembedding, f16);
