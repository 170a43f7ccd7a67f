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

    #[pg_test]
    fn ivf_page_header_is_the_one_page_init_writes() {
        use codevec_ivf::pages::format::{kind, Page, DATA_OFF, DATA_SIZE, SPECIAL_SIZE};
        // The crate lays out the page header itself (its in-memory store has no PageInit);
        // it must be byte for byte PostgreSQL's, with pd_lower at the end of our data area.
        let mut ours = Page::zeroed();
        ours.init(kind::CODE);
        let mut pg = Page::zeroed();
        // SAFETY: `pg` is a BLCKSZ page buffer owned here.
        unsafe {
            pgrx::pg_sys::PageInit(pg.0.as_mut_ptr().cast(), pg.0.len(), SPECIAL_SIZE);
            let hdr = pg.0.as_mut_ptr() as *mut pgrx::pg_sys::PageHeaderData;
            (*hdr).pd_lower = (DATA_OFF + DATA_SIZE) as u16;
        }
        pg.set_special(ours.special());
        assert_eq!(ours.0[..], pg.0[..]);
        assert_eq!(
            DATA_OFF,
            std::mem::offset_of!(pgrx::pg_sys::PageHeaderData, pd_linp)
        );
    }
}
