//! The metapage as the extension reads it, and the per-backend cache of trained models
//! (rebuilding an `IvfModel` derives the rotated centroids: not per query). The page format
//! itself (`MetaData`, every page kind) is `codevec_ivf::pages`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use codevec_ivf::pages::read;
use codevec_ivf::pages::store::StoreError;
use codevec_ivf::IvfModel;
use pgrx::pg_sys;

pub use codevec_ivf::pages::meta::MetaData;

use super::store::{ok, BufferStore, Pause};

/// Reads the metapage (share lock, released on return).
///
/// # Safety
/// `index` must be an open ivf index.
pub unsafe fn read_meta(index: pg_sys::Relation) -> MetaData {
    // SAFETY: see the contract.
    let store = unsafe { BufferStore::main(index, Pause::Interrupts) };
    ok(read::read_meta(&store))
}

/// A new random model identity for the metapage (never 0).
pub fn new_build_id() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: writes 8 bytes into `b`.
    let ok = unsafe { pg_sys::pg_strong_random(b.as_mut_ptr().cast(), b.len()) };
    let mut id = u64::from_ne_bytes(b);
    if !ok {
        // no strong random source: time and pid still differ between builds
        // SAFETY: plain reads of the clock and this backend's pid.
        id = unsafe { pg_sys::GetCurrentTimestamp() as u64 ^ ((pg_sys::MyProcPid as u64) << 40) };
    }
    id.max(1)
}

/// Cache key: database, relfilenode, [`MetaData::model_identity`].
type ModelKey = (u32, u32, (u32, u32, u64));

/// Most bytes of centroids (and their derived copies) one backend keeps cached.
const MODEL_CACHE_BYTES: usize = 256 << 20;

/// The per-backend model cache: each key's model with its size in bytes, and the total.
type ModelCache = (HashMap<ModelKey, (Rc<IvfModel>, usize)>, usize);

thread_local! {
    static MODELS: RefCell<ModelCache> =
        RefCell::new((HashMap::new(), 0));
}

/// The trained model of the index behind `store` (cached per backend by relfilenode and
/// model identity, so REINDEX, TRUNCATE and first-insert training all produce a new key).
///
/// # Safety
/// `index` must be the open relation of `store`; `m` a trained metapage of it.
pub unsafe fn model_in(
    index: pg_sys::Relation,
    store: &BufferStore,
    m: &MetaData,
) -> Result<Rc<IvfModel>, StoreError> {
    assert!(m.lists > 0, "model of an untrained index");
    // SAFETY: rd_node is set for every open relation.
    let node = unsafe { (*index).rd_node };
    let key = (
        node.dbNode.to_u32(),
        node.relNode.to_u32(),
        m.model_identity(),
    );
    if let Some(mdl) = MODELS.with(|c| c.borrow().0.get(&key).map(|e| e.0.clone())) {
        return Ok(mdl);
    }
    let dims = m.dims as usize;
    let mut floats = read::read_centroids(store, m)?;
    let centroids = floats.split_off(dims);
    let total = floats.len() + centroids.len();
    let mdl = Rc::new(IvfModel::new(m.metric(), dims, centroids, floats, m.seed));
    // the model holds the centroids three times (plain, transposed, rotated)
    let bytes = 3 * total * 4;
    MODELS.with(|c| {
        let mut c = c.borrow_mut();
        if c.1 + bytes > MODEL_CACHE_BYTES || c.0.len() >= 16 {
            c.0.clear();
            c.1 = 0;
        }
        if bytes <= MODEL_CACHE_BYTES {
            c.0.insert(key, (mdl.clone(), bytes));
            c.1 += bytes;
        }
    });
    Ok(mdl)
}

/// [`model_in`] over the main fork, raising errors.
///
/// # Safety
/// `index` must be an open ivf index; `m` its trained metapage.
pub unsafe fn model(index: pg_sys::Relation, m: &MetaData) -> Rc<IvfModel> {
    // SAFETY: see the contract.
    unsafe {
        let store = BufferStore::main(index, Pause::Interrupts);
        ok(model_in(index, &store, m))
    }
}
