//! Every GUC of codevec, registered in `_PG_init`. All are namespaced `codevec.*` and
//! settable per session or with `SET LOCAL` (except the model directory, superuser only),
//! so they travel to postgres_fdw shards (`options '-c codevec.probes=…'`) and Citus workers.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Worker threads the encoder may use in one backend (1 = the backend thread only).
pub static ENCODER_THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);
/// Texts per encoder mini-batch (bounds memory per backend).
pub static ENCODER_BATCH: GucSetting<i32> = GucSetting::<i32>::new(32);
/// Where the model files are; empty = `$sharedir/extension/codevec/models/all-MiniLM-L6-v2`.
pub static MODEL_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Register the GUCs (called once per backend from `_PG_init`).
pub fn register() {
    GucRegistry::define_int_guc(
        c"codevec.encoder_threads",
        c"Threads codevec.embed may use in one backend.",
        c"1 runs the encoder on the backend's own thread. More threads make one large batch faster but take CPU from other queries.",
        &ENCODER_THREADS,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"codevec.encoder_batch_size",
        c"Texts per encoder mini-batch.",
        c"Larger batches are slightly faster and use more memory per backend (about 10 MB per text).",
        &ENCODER_BATCH,
        1,
        256,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"codevec.model_dir",
        c"Directory holding the encoder's model files (superuser only).",
        c"Empty means the directory make install writes: $sharedir/extension/codevec/models/all-MiniLM-L6-v2.",
        &MODEL_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
}
