//! `avg` and `sum` aggregates. The transition state is `double precision[]` holding
//! `[count, sum_1, …, sum_n]`, shared by both element types and both aggregates, with a
//! combine function for parallel aggregation.

use codevec_vector::math;
use half::f16;
use pgrx::prelude::*;

use super::{VectorIn, VectorOut};
use crate::error::OrRaise;

/// Merge two states (parallel aggregation).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn embedding_agg_combine(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    math::combine("embedding", &a, &b).or_raise()
}

macro_rules! aggregate_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _accum>](state: Vec<f64>, v: VectorIn<'_, $e>) -> Vec<f64> {
                let mut state = state;
                math::accumulate(&mut state, v.as_slice()).or_raise();
                state
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _avg_final>](state: Vec<f64>) -> Option<VectorOut<$e>> {
                math::state_avg::<$e>(&state).or_raise().map(|v| VectorOut::new(&v))
            }

            #[pg_extern(immutable, strict, parallel_safe, sql = false)]
            fn [<$t _sum_final>](state: Vec<f64>) -> Option<VectorOut<$e>> {
                math::state_sum::<$e>(&state).or_raise().map(|v| VectorOut::new(&v))
            }
        }
    };
}

aggregate_functions!(embedding, f32);
aggregate_functions!(halfembedding, f16);
