//! Introspection functions in the `codevec` schema.

use pgrx::prelude::*;

#[pg_schema]
mod codevec {
    use pgrx::prelude::*;

    /// The SIMD level the distance kernels (and every other kernel family) use, e.g.
    /// `codevec-simd: avx512; f32 accumulation in 16 lanes × 4, bit-identical on every level; …`.
    // STABLE, not IMMUTABLE: the answer depends on the CPU the server runs on.
    #[pg_extern(stable, parallel_safe)]
    fn simd_info() -> String {
        codevec_distance::simd_info()
    }
}

extension_sql!(
    r#"COMMENT ON SCHEMA codevec IS 'codevec''s functions: the encoder, recall checks and introspection';
COMMENT ON FUNCTION codevec.simd_info() IS 'the SIMD kernels codevec uses for distances on this CPU';"#,
    name = "info_comments",
    requires = [codevec::simd_info],
);
