//! The golden-page test: every byte of the `ivf` page format, pinned.
//!
//! Pages of each kind are written with fixed contents through the format API and compared
//! byte for byte (their non-zero runs) with `tests/golden/pages-v{VERSION}.txt`. A change to the
//! format fails here: then bump `pages::meta::VERSION` (old indexes need a REINDEX, which
//! the version check tells their users) and bless a new file with
//! `CODEVEC_BLESS=1 cargo test -p codevec-ivf --test golden_pages`.
#![cfg(target_endian = "little")]

use codevec_ivf::half::f16;
use codevec_ivf::pages::format::{
    kind, loc_pack, CodeLayout, DirEntry, Page, VecLayout, FREE_SLOT,
};
use codevec_ivf::pages::meta::{MetaData, VERSION};
use codevec_ivf::quant::rabitq::CodeFactors;
use codevec_ivf::{F16Factors, Metric};

fn pages() -> Vec<(&'static str, Box<Page>)> {
    let mut out = vec![];

    let mut p = Page::zeroed();
    p.init(kind::META);
    let m = MetaData {
        lists: 2,
        seed: 0x0123_4567_89AB_CDEF,
        centroid_start: 1,
        centroid_pages: 1,
        dir_start: 2,
        dir_pages: 1,
        vec_tail: 4,
        build_rows: 3,
        build_id: 0xFEDC_BA98_7654_3210,
        ..MetaData::untrained(Metric::Cosine, 1, 72, 2)
    };
    m.write(&mut p);
    out.push(("meta", p));

    let mut p = Page::zeroed();
    p.init(kind::CENTROID);
    p.set_centroid_values(&[0.5, -1.25, 3.0, 1e-3]);
    out.push(("centroid", p));

    let mut p = Page::zeroed();
    p.init(kind::DIR);
    p.dir_entries_mut()[..2].copy_from_slice(&[
        DirEntry {
            head: 3,
            tail: 3,
            count: 3,
            room: 5,
        },
        DirEntry::EMPTY,
    ]);
    p.set_count(2);
    out.push(("directory", p));

    let lay = CodeLayout::new(72);
    let mut p = Page::zeroed();
    p.init(kind::CODE);
    p.set_next(9);
    {
        let mut cp = p.code_page_mut(lay, 3).unwrap();
        for i in 0..3u64 {
            let code = [0x8000_0000_0000_0001 | (i << 8), 0x00FF_0000 >> i];
            let f = CodeFactors {
                add: 1.5 + i as f32,
                scale: -0.25,
                pop: 3 + i as u32,
                err: 0.125,
            };
            cp.set(
                i as usize,
                &code,
                &f,
                (7u64 << 16) | (i + 1),
                loc_pack(4, i as usize),
            );
        }
    }
    p.set_count(3);
    out.push(("code", p));

    let vl = VecLayout::new(5);
    let mut p = Page::zeroed();
    p.init(kind::VEC);
    for s in 0..3 {
        let v: Vec<f16> = (0..5)
            .map(|j| f16::from_f32(j as f32 - s as f32 * 0.5))
            .collect();
        p.set_vector_slot(
            vl,
            s,
            (7u64 << 16) | (s as u64 + 1),
            F16Factors {
                norm: 2.0 + s as f32,
                eps: 1e-4,
            },
            &v,
        );
    }
    p.free_vector_slot(vl, 2);
    out.push(("vector", p));
    out
}

/// The non-zero byte runs of a page, one `offset: hex` line each.
fn dump(name: &str, p: &Page) -> String {
    let mut s = format!("[{name}]\n");
    let b = &p.0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        // a run ends at 8 zero bytes in a row (or 32 bytes per line)
        let mut end = i;
        while end < b.len() && end - start < 32 {
            if b[end] != 0 {
                end += 1;
                continue;
            }
            let z = b[end..].iter().take(8).take_while(|x| **x == 0).count();
            if z >= 8 || end + z == b.len() {
                break;
            }
            end += z;
        }
        let hex: String = b[start..end].iter().map(|x| format!("{x:02x}")).collect();
        s += &format!("{start:5}: {hex}\n");
        i = end;
    }
    s
}

#[test]
fn pages_match_the_golden_file() {
    let got: String = format!("format version {VERSION}\n")
        + &pages().iter().map(|(n, p)| dump(n, p)).collect::<String>();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/golden/pages-v{VERSION}.txt"));
    if std::env::var_os("CODEVEC_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file (bless with CODEVEC_BLESS=1)");
    assert!(
        got == want,
        "the ivf page format changed (bump pages::meta::VERSION and bless a new golden file):\n{got}"
    );
}

#[test]
fn golden_pages_read_back() {
    let ps = pages();
    let m = MetaData::read(&ps[0].1).unwrap();
    assert_eq!(
        (m.dims, m.lists, m.elem, m.metric()),
        (72, 2, 1, Metric::Cosine)
    );
    assert_eq!(
        ps[1].1.centroid_values(1).unwrap(),
        &[0.5, -1.25, 3.0, 1e-3]
    );
    assert_eq!(ps[2].1.dir_entries(2).unwrap()[0].count, 3);
    let cp = ps[3].1.code_page(CodeLayout::new(72), 3).unwrap();
    assert_eq!((cp.len(), cp.next()), (3, 9));
    assert_eq!(cp.code(2), vec![0x8000_0000_0000_0201, 0x00FF_0000 >> 2]);
    assert_eq!(cp.code_factors(1).pop, 4);
    assert_eq!(cp.tids()[2], (7 << 16) | 3);
    assert_eq!(cp.locs()[1], loc_pack(4, 1));
    assert_eq!(ps[2].1.dir_entries(2).unwrap()[0].room, 5);
    let vl = VecLayout::new(5);
    let (tid, f, v) = ps[4].1.vector_slot(vl, 4, 1).unwrap();
    assert_eq!((tid, f.norm, v[4].to_f32()), ((7 << 16) | 2, 3.0, 3.5));
    let (tid, f, v) = ps[4].1.vector_slot(vl, 4, 2).unwrap();
    assert_eq!((tid, f.norm, v[4].to_f32()), (FREE_SLOT, 0.0, 0.0));
    assert_eq!(ps[4].1.vacant_vector_slot(vl, 4).unwrap(), Some(3));
}
