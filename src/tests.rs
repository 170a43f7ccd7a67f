//! In-process `#[pg_test]`s: glue that is easiest to check from inside a backend.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn simd_info_reports_a_kernel() {
        let s = Spi::get_one::<String>("SELECT codevec.simd_info()")
            .unwrap()
            .unwrap();
        assert!(s.starts_with("codevec-simd: "), "{s}");
        let level = codevec_simd::level().name();
        assert!(s.contains(level), "{s} names the level in use ({level})");
    }

    #[pg_test]
    fn distances_through_spi() {
        let d = Spi::get_one::<f64>("SELECT '[0,0,0]'::embedding <-> '[3,4,0]'")
            .unwrap()
            .unwrap();
        assert_eq!(d, 5.0);
        let d = Spi::get_one::<f64>("SELECT '[0,0,0]'::halfembedding <+> '[3,4,0]'")
            .unwrap()
            .unwrap();
        assert_eq!(d, 7.0);
    }

    #[pg_test(error = "expected 2 dimensions, not 3")]
    fn typmod_is_enforced_on_insert() {
        Spi::run("CREATE TABLE t (v embedding(2)); INSERT INTO t VALUES ('[1,2,3]')").unwrap();
    }

    #[pg_test(error = "different embedding dimensions 2 and 3")]
    fn operand_dimensions_must_match() {
        Spi::run("SELECT '[1,2]'::embedding <=> '[1,2,3]'::embedding").unwrap();
    }
}
