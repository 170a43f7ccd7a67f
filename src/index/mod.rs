//! The `ivf` index access method: the handler (`IndexAmRoutine`) and what every phase shares
//! (metric and element type of an index, reading a vector datum, TID packing).
//!
//! One file per phase, like pgvector: `options` (reloptions), `meta` (metapage, model cache),
//! `store` (the crate's page store over shared buffers and GenericXLog), `build`, `insert`,
//! `scan`, `vacuum`, `cost`, `recall`. The compute (k-means, codes, bounds) and the list
//! algorithms over pages (`codevec_ivf::pages`: format, build writer, insert, bulk delete,
//! the scan's list source) are the `codevec-ivf` crate; these files are glue. See
//! `docs/ivf.md`.

pub mod build;
pub mod cost;
pub mod insert;
pub mod meta;
pub mod options;
pub mod recall;
pub mod scan;
pub mod store;
pub mod vacuum;

use codevec_ivf::Metric;
use half::f16;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;

use crate::error::raise;
use crate::types::varlena::VectorIn;

/// Largest dimension the index accepts: one `f16` copy must fit a vector page and one
/// 8-lane code record a code page.
pub use codevec_ivf::pages::meta::MAX_DIMS;

/// Element type of the indexed column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// `embedding` (float4).
    F32 = 0,
    /// `halfembedding` (float16).
    F16 = 1,
}

impl Elem {
    /// From the metapage code.
    pub fn from_u32(v: u32) -> Elem {
        if v == 1 {
            Elem::F16
        } else {
            Elem::F32
        }
    }
}

/// The metric and element type of an index, from support function 1 of its operator class
/// (the distance function: `l2_distance`, `cosine_distance` or `negative_inner_product`).
///
/// # Safety
/// `index` must be an open `ivf` index relation.
pub unsafe fn index_kind(index: pg_sys::Relation) -> (Metric, Elem) {
    // SAFETY: index is open; support procedure 1 exists for every ivf opclass (amvalidate).
    let (proc_oid, typ) = unsafe {
        let proc_oid = pg_sys::index_getprocid(index, 1, 1);
        let typ = (*(*index).rd_opcintype.add(0)).to_u32();
        (proc_oid, pg_sys::Oid::from(typ))
    };
    // SAFETY: get_func_name / format_type_be return palloc'd C strings (or NULL for a
    // missing function).
    let (fname, tname) = unsafe {
        let f = pg_sys::get_func_name(proc_oid);
        let fname = if f.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(f).to_string_lossy().into_owned()
        };
        let t = std::ffi::CStr::from_ptr(pg_sys::format_type_be(typ))
            .to_string_lossy()
            .into_owned();
        (fname, t)
    };
    let metric = match fname.as_str() {
        "l2_distance" => Metric::L2,
        "cosine_distance" => Metric::Cosine,
        "negative_inner_product" => Metric::InnerProduct,
        other => raise(
            PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
            format!("ivf operator class support function 1 must be a codevec distance function, not \"{other}\""),
            None,
            Some("Use one of the operator classes embedding_l2_ops, embedding_cosine_ops, embedding_ip_ops or their halfembedding_* versions."),
        ),
    };
    let elem = if tname.ends_with("halfembedding") {
        Elem::F16
    } else {
        Elem::F32
    };
    (metric, elem)
}

/// Reads a (non-null) vector datum of element type `elem` into `out` as `f32`.
///
/// # Safety
/// `datum` must be a non-null datum of the type `elem` describes.
pub unsafe fn read_vector(datum: pg_sys::Datum, elem: Elem, out: &mut Vec<f32>) {
    out.clear();
    match elem {
        Elem::F32 => {
            // SAFETY: the caller guarantees an embedding datum.
            let v = unsafe { VectorIn::<f32>::from_datum_raw(datum) };
            out.extend_from_slice(v.as_slice());
        }
        Elem::F16 => {
            // SAFETY: the caller guarantees a halfembedding datum.
            let v = unsafe { VectorIn::<f16>::from_datum_raw(datum) };
            out.extend(v.as_slice().iter().map(|h| h.to_f32()));
        }
    }
}

/// Raises the "different dimensions" error (SQLSTATE 22000).
pub fn dims_mismatch(what: &str, got: usize, index_dims: usize) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        format!("{what} has {got} dimensions but the ivf index has {index_dims}"),
        None,
        Some("An ivf index holds vectors of one dimension: constrain the column, e.g. embedding(384), or index an expression that filters by dims()."),
    )
}

/// Raises the "too many dimensions" error (SQLSTATE 54000).
pub fn check_max_dims(dims: usize) {
    if dims > MAX_DIMS {
        raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("ivf indexes support at most {MAX_DIMS} dimensions, got {dims}"),
            None,
            Some("Reduce the dimension (e.g. subvector()) or search without an index."),
        );
    }
}

/// Packs a heap TID into a `u64` (`block << 16 | offset`).
pub fn tid_pack(tid: &pg_sys::ItemPointerData) -> u64 {
    let blk = ((tid.ip_blkid.bi_hi as u32) << 16) | tid.ip_blkid.bi_lo as u32;
    ((blk as u64) << 16) | tid.ip_posid as u64
}

/// Unpacks a TID packed by [`tid_pack`].
pub fn tid_unpack(v: u64, tid: &mut pg_sys::ItemPointerData) {
    let blk = (v >> 16) as u32;
    tid.ip_blkid.bi_hi = (blk >> 16) as u16;
    tid.ip_blkid.bi_lo = (blk & 0xFFFF) as u16;
    tid.ip_posid = (v & 0xFFFF) as u16;
}

/// Return type that renders as `RETURNS index_am_handler`.
pub struct IndexAmHandler(*mut pg_sys::IndexAmRoutine);

// SAFETY: the SQL mapping is the literal type index_am_handler; never used as an argument.
unsafe impl SqlTranslatable for IndexAmHandler {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(IndexAmHandler);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
        Err(ArgumentError::NotValidAsArgument("index_am_handler"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("index_am_handler")));
}

// SAFETY: returns the palloc'd IndexAmRoutine pointer as the datum, as handlers must.
unsafe impl BoxRet for IndexAmHandler {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: a valid pointer datum in the current memory context.
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0)) }
    }
}

/// Postgres calls AM handlers with zero arguments although the SQL signature is
/// `(internal)`: a "virtual" argument that is never read from fcinfo.
pub struct AmHandlerInternal;

// SAFETY: never reads the (absent) argument.
unsafe impl<'fcx> ArgAbi<'fcx> for AmHandlerInternal {
    unsafe fn unbox_arg_unchecked(_arg: Arg<'_, 'fcx>) -> Self {
        AmHandlerInternal
    }
    fn is_virtual_arg() -> bool {
        true
    }
}

pgrx::impl_sql_translatable!(AmHandlerInternal, arg_only = "internal");

/// The `ivf` access method handler.
#[pg_extern(sql = false)]
fn ivf_amhandler(_internal: AmHandlerInternal) -> IndexAmHandler {
    // SAFETY: alloc_node returns a zeroed, palloc'd node of the right tag.
    let mut am =
        unsafe { PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine) };
    am.amstrategies = 0;
    am.amsupport = 1;
    am.amoptsprocnum = 0;
    am.amcanorder = false;
    am.amcanorderbyop = true;
    am.amcanbackward = false;
    am.amcanunique = false;
    am.amcanmulticol = false;
    am.amoptionalkey = true;
    am.amsearcharray = false;
    am.amsearchnulls = false;
    am.amstorage = false;
    am.amclusterable = false;
    am.ampredlocks = false;
    am.amcanparallel = false;
    am.amcaninclude = false;
    am.amusemaintenanceworkmem = false;
    am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
    am.amkeytype = pg_sys::InvalidOid;

    am.ambuild = Some(build::ambuild);
    am.ambuildempty = Some(build::ambuildempty);
    am.aminsert = Some(insert::aminsert);
    am.ambulkdelete = Some(vacuum::ambulkdelete);
    am.amvacuumcleanup = Some(vacuum::amvacuumcleanup);
    am.amcostestimate = Some(cost::amcostestimate);
    am.amoptions = Some(options::amoptions);
    am.amvalidate = Some(amvalidate);
    am.ambuildphasename = Some(build::ambuildphasename);
    am.ambeginscan = Some(scan::ambeginscan);
    am.amrescan = Some(scan::amrescan);
    am.amgettuple = Some(scan::amgettuple);
    am.amendscan = Some(scan::amendscan);
    IndexAmHandler(am.into_pg())
}

/// Operator classes are created by the extension script only; nothing to validate.
#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}
