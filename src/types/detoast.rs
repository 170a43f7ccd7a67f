//! A per-statement cache of detoasted out-of-line vectors, for the distance functions.
//!
//! A query vector read from a row wide enough to be TOASTed (`ORDER BY emb <=> (SELECT emb
//! FROM snippets WHERE id = 5)`, "more like this") reaches the operator as an external TOAST
//! pointer. Postgres functions detoast their arguments on every call, so an exact scan over
//! 50k rows fetched that one value from the TOAST table 50k times: 93 ms against 39 ms with
//! a constant (measured in session 10). Here, a distance function's out-of-line argument is
//! fetched once per statement and then read from the cached copy.
//!
//! **Why a cached copy is the value.** The key is the whole on-disk TOAST pointer: the TOAST
//! relation, the value's OID (unique among that relation's live values), its sizes and
//! compression. A TOAST value is never changed in place. Its OID could only name another
//! value after the first was deleted, vacuumed away and the OID counter wrapped around to
//! it. Within one statement that cannot happen: the statement's snapshot still sees the
//! row that points to the value, so VACUUM keeps it. So entries are valid only within the
//! statement that made them, identified by the backend's local transaction id and the
//! statement's start time. Any other statement misses and fetches again.
//!
//! **Memory.** Two entries, each a palloc'd copy in `TopMemoryContext`, least recently used
//! first out. A call has at most two vector arguments. The argument a call has just found or
//! stored is the most recently used, so storing the other argument can never free it during
//! the call. The copies are read only by distance functions, which return a number: no copy
//! ever becomes a result datum that could outlive its eviction.
//!
//! **Errors.** The fetch (`pg_detoast_datum`, which may raise ERROR) and the copy run with no
//! borrow of the cache held. An ERROR on the way leaves the cache as it was.

use core::cell::RefCell;

use pgrx::pg_sys;

/// Bytes of an on-disk external TOAST pointer: the 1-byte header, the tag (`VARTAG_ONDISK`),
/// and `varatt_external` (raw size, external size and compression, value OID, TOAST relid).
const ONDISK_POINTER: usize = 2 + 16;

/// One cached value.
struct Entry {
    key: [u8; ONDISK_POINTER],
    scope: (u32, i64),
    copy: *mut pg_sys::varlena,
    used: u64,
}

#[derive(Default)]
struct Cache {
    entries: [Option<Entry>; 2],
    tick: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Whether `p` is an on-disk external TOAST pointer (`VARATT_IS_EXTERNAL_ONDISK`).
///
/// # Safety
/// `p` must point to the first byte of a varlena.
#[inline]
pub unsafe fn is_external_ondisk(p: *const pg_sys::varlena) -> bool {
    // SAFETY: a varlena has at least its first header byte; an external one (1B_E) has
    // its tag byte next.
    unsafe {
        pgrx::varlena::varatt_is_1b_e(p)
            && pgrx::varlena::vartag_external(p) as u32 == pg_sys::vartag_external::VARTAG_ONDISK
    }
}

/// The statement a cached entry belongs to.
fn scope() -> (u32, i64) {
    // SAFETY: MyProc is this backend's PGPROC, set before any SQL runs; reading lxid and the
    // statement start time has no side effect.
    unsafe {
        (
            (*pg_sys::MyProc).lxid,
            pg_sys::GetCurrentStatementStartTimestamp(),
        )
    }
}

/// The detoasted value of the on-disk external pointer `raw`, from the cache of this
/// statement when it holds it, else fetched, copied into the cache and returned.
///
/// # Safety
/// `raw` must be an on-disk external TOAST pointer ([`is_external_ondisk`]) of a live value.
/// The returned pointer is valid until the cache evicts it: at the earliest when another
/// value is stored after the next one, which a caller using at most two values per call
/// never sees within the call.
pub unsafe fn detoast(raw: *mut pg_sys::varlena) -> *mut pg_sys::varlena {
    let mut key = [0u8; ONDISK_POINTER];
    // SAFETY: an on-disk external pointer is exactly ONDISK_POINTER bytes.
    unsafe { core::ptr::copy_nonoverlapping(raw as *const u8, key.as_mut_ptr(), ONDISK_POINTER) };
    let now = scope();
    let hit = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.tick += 1;
        let tick = c.tick;
        c.entries
            .iter_mut()
            .flatten()
            .find(|e| e.key == key && e.scope == now)
            .map(|e| {
                e.used = tick;
                e.copy
            })
    });
    if let Some(p) = hit {
        return p;
    }
    // SAFETY: raw is a live external value; pg_detoast_datum returns a palloc'd plain copy in
    // the current memory context (or raises ERROR, leaving the cache untouched).
    let plain = unsafe { pg_sys::pg_detoast_datum(raw) };
    // SAFETY: plain is a 4-byte-header varlena of varsize bytes; the copy lives in
    // TopMemoryContext until this cache frees it.
    let copy = unsafe {
        let size = pgrx::varsize(plain as *const pg_sys::varlena);
        let copy =
            pg_sys::MemoryContextAlloc(pg_sys::TopMemoryContext, size) as *mut pg_sys::varlena;
        core::ptr::copy_nonoverlapping(plain as *const u8, copy as *mut u8, size);
        if plain != raw {
            pg_sys::pfree(plain.cast());
        }
        copy
    };
    let evicted = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.tick += 1;
        let tick = c.tick;
        // an empty slot, else the least recently used one
        let slot = (0..2)
            .min_by_key(|&i| c.entries[i].as_ref().map_or(0, |e| e.used))
            .expect("two slots");
        c.entries[slot]
            .replace(Entry {
                key,
                scope: now,
                copy,
                used: tick,
            })
            .map(|e| e.copy)
    });
    if let Some(old) = evicted {
        // SAFETY: `old` was allocated above by an earlier call and is no longer in the cache;
        // no caller holds it (see the module doc).
        unsafe { pg_sys::pfree(old.cast()) };
    }
    copy
}
