//! Where the next rows of a Postgres heap page lie, so that an operator called once per row
//! of a sequential scan can prefetch them while it computes the current one.
//!
//! An exact scan (`ORDER BY v <=> q LIMIT k` without an index) calls the distance operator
//! once per row, and with a table larger than the CPU's caches every call first waits for
//! its vector to come from memory: measured, that wait was most of the scan. A sequential
//! scan visits a page's line pointers in order, so when the operator knows where the row
//! it was handed sits on its page, it knows the next rows the scan will hand it, and can
//! fetch their vectors ahead of time.
//!
//! The layout read here is Postgres's page format (`bufpage.h`, `itemid.h`), unchanged
//! since 8.3: a 24-byte header whose `pd_lower` (a `u16` at byte 12) ends the line-pointer
//! array that starts at byte 24; each line pointer is a little-endian `u32` with
//! `lp_off:15, lp_flags:2, lp_len:15` from the low bit up (`LP_NORMAL` = 1).
//!
//! The page is pinned by the scan but not locked while the operator runs, so another
//! backend may be appending line pointers to it. Every word is therefore read with a
//! volatile load, every value read is bounds-checked against the page, and the result is
//! used only as a prefetch address: a stale or torn read can only make a prefetch useless,
//! never wrong.

/// `SizeOfPageHeaderData`.
const PAGE_HEADER: usize = 24;
/// `LP_NORMAL`.
const LP_NORMAL: u32 = 1;
/// Values shorter than this are left to the hardware prefetchers: a few cache lines each,
/// and pages of many small rows would make the line-pointer search the larger cost.
pub const MIN_PREFETCH_BYTES: usize = 256;
/// How many rows ahead are fetched.
pub const ROWS_AHEAD: usize = 2;

/// One line pointer: (offset, flags, length).
///
/// # Safety
/// `page` must point to `page_size` readable bytes and `i` must satisfy
/// `PAGE_HEADER + 4 * (i + 1) <= page_size`.
#[inline(always)]
unsafe fn line_pointer(page: *const u8, i: usize) -> (usize, u32, usize) {
    // SAFETY: in bounds by the caller's contract; a volatile read of 4 bytes (no
    // alignment needed for a byte array).
    let b = unsafe { std::ptr::read_volatile(page.add(PAGE_HEADER + 4 * i) as *const [u8; 4]) };
    let w = u32::from_le_bytes(b);
    ((w & 0x7fff) as usize, (w >> 15) & 3, (w >> 17) as usize)
}

/// The byte ranges, relative to the page, of the next [`ROWS_AHEAD`] rows' copies of the
/// value at byte `off` (`len` bytes) of `page`: the same position within each of the next
/// normal line pointers' tuples (exact when the columns before it have fixed widths, close
/// otherwise), clamped to that tuple. Writes them to `out` and returns how many there are.
/// `hint` is the line-pointer index found by the previous call and is updated: a scan's
/// consecutive calls then look at one or two line pointers instead of searching.
///
/// Returns 0 when the value is not found inside a normal tuple of the page (it is then not
/// a heap row, or the page is not a heap page).
///
/// # Safety
/// `page` must point to `page_size` readable bytes (other processes may write them).
pub unsafe fn next_rows(
    page: *const u8,
    page_size: usize,
    off: usize,
    len: usize,
    hint: &mut usize,
    out: &mut [(usize, usize); ROWS_AHEAD],
) -> usize {
    if page_size < PAGE_HEADER || off >= page_size {
        return 0;
    }
    // SAFETY: the header lies within the page; unaligned volatile read of pd_lower.
    let lower =
        u16::from_le_bytes(unsafe { std::ptr::read_volatile(page.add(12) as *const [u8; 2]) });
    let lower = (lower as usize).min(page_size);
    if lower < PAGE_HEADER {
        return 0;
    }
    let n = (lower - PAGE_HEADER) / 4;
    let holds = |i: usize| {
        // SAFETY: i < n, so the line pointer lies below pd_lower <= page_size.
        let (o, f, l) = unsafe { line_pointer(page, i) };
        f == LP_NORMAL && o <= off && off < o + l && o + l <= page_size
    };
    let here = if *hint + 1 < n && holds(*hint + 1) {
        *hint + 1
    } else if *hint < n && holds(*hint) {
        *hint
    } else {
        match (0..n).find(|&i| holds(i)) {
            Some(i) => i,
            None => return 0,
        }
    };
    *hint = here;
    // SAFETY: here < n.
    let (cur, _, _) = unsafe { line_pointer(page, here) };
    let rel = off - cur;
    let mut found = 0;
    for j in here + 1..n {
        if found == ROWS_AHEAD {
            break;
        }
        // SAFETY: j < n.
        let (o, f, l) = unsafe { line_pointer(page, j) };
        if f != LP_NORMAL || l == 0 || o + l > page_size {
            continue;
        }
        // The same position in that tuple, a cache line early for a longer header or
        // null bitmap, clamped to the tuple.
        let start = (o + rel).saturating_sub(64).max(o);
        let end = (o + rel + len).min(o + l);
        if start < end {
            out[found] = (start, end - start);
            found += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 8192;

    /// A page laid out as `PageAddItem` does: tuples from the end downwards, line pointers
    /// from the header upwards. `flags` per tuple (1 normal, 0 unused, 3 dead).
    fn page(tuples: &[(usize, u32)]) -> (Vec<u8>, Vec<usize>) {
        let mut p = vec![0u8; PAGE];
        let mut upper = PAGE;
        let mut offs = vec![];
        for (i, &(size, flags)) in tuples.iter().enumerate() {
            let (o, l) = if flags == LP_NORMAL {
                upper -= size.div_ceil(8) * 8;
                (upper, size)
            } else {
                (0, 0)
            };
            offs.push(o);
            let w = (o as u32) | (flags << 15) | ((l as u32) << 17);
            p[PAGE_HEADER + 4 * i..PAGE_HEADER + 4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        let lower = (PAGE_HEADER + 4 * tuples.len()) as u16;
        p[12..14].copy_from_slice(&lower.to_le_bytes());
        (p, offs)
    }

    fn run(p: &[u8], off: usize, len: usize, hint: &mut usize) -> Vec<(usize, usize)> {
        let mut out = [(0, 0); ROWS_AHEAD];
        // SAFETY: `p` is a PAGE-byte buffer.
        let n = unsafe { next_rows(p.as_ptr(), p.len(), off, len, hint, &mut out) };
        out[..n].to_vec()
    }

    #[test]
    fn finds_the_same_column_in_the_next_two_rows() {
        // id int + vector(384): 24-byte header, 4-byte id, 1544-byte value at byte 28.
        let (p, offs) = page(&[(1572, 1); 5]);
        let mut hint = 0;
        for i in 0..5 {
            let got = run(&p, offs[i] + 28, 1544, &mut hint);
            let want: Vec<_> = offs[i + 1..].iter().take(2).map(|&o| (o, 1572)).collect();
            assert_eq!(got, want, "row {i}");
            assert_eq!(hint, i);
        }
    }

    #[test]
    fn skips_unused_and_dead_line_pointers_and_clamps_to_the_tuple() {
        let (p, offs) = page(&[(1000, 1), (0, 0), (600, 1), (0, 3), (2000, 1)]);
        let mut hint = 0;
        // Value at byte 100 of row 0, 800 bytes long: row 2 is shorter and is clamped.
        let got = run(&p, offs[0] + 100, 800, &mut hint);
        assert_eq!(got, vec![(offs[2] + 36, 600 - 36), (offs[4] + 36, 864)]);
    }

    #[test]
    fn a_stale_hint_falls_back_to_a_search_and_outsiders_get_nothing() {
        let (p, offs) = page(&[(1572, 1); 4]);
        let mut hint = 3;
        assert_eq!(run(&p, offs[1] + 28, 1544, &mut hint).len(), 2);
        assert_eq!(hint, 1);
        // The last row has no next row; the line-pointer array itself is no tuple.
        assert!(run(&p, offs[3] + 28, 1544, &mut hint).is_empty());
        assert!(run(&p, 30, 8, &mut hint).is_empty());
        // A page whose pd_lower is garbage: nothing, no out-of-bounds read.
        let mut bad = p.clone();
        bad[12..14].copy_from_slice(&u16::MAX.to_le_bytes());
        let _ = run(&bad, offs[0] + 28, 1544, &mut hint);
        bad[12..14].copy_from_slice(&3u16.to_le_bytes());
        assert!(run(&bad, offs[0] + 28, 1544, &mut hint).is_empty());
    }
}
