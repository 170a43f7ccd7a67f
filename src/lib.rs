//! codevec: vector search for code inside PostgreSQL.
//!
//! This crate is the thin pgrx shell: SQL types and operators (`types/`), the `ivf` index
//! access method (`index/`), the in-database encoder (`encoder/`) and the GUCs. The
//! compute lives in the plain-Rust crates under `crates/`.

::pgrx::pg_module_magic!(name, version);

use pgrx::prelude::*;

mod encoder;
mod error;
mod gucs;
mod index;
mod info;
mod interrupts;
mod search;
mod sync;
mod types;

// The types, functions, operators, casts and aggregates of sql/types.sql come first.
pgrx::extension_sql_file!("../sql/types.sql", name = "types", bootstrap);
// The ivf access method, its operator classes and codevec.index_recall (sql/index.sql).
pgrx::extension_sql_file!(
    "../sql/index.sql",
    name = "index",
    requires = ["types", "info_comments"]
);

/// Registers the GUCs and the ivf reloptions when the library is loaded.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // pgrx puts a captured Rust backtrace into the DETAIL of every error it re-raises, and
    // std captures one whenever RUST_BACKTRACE is set in the server's environment: 35 frames
    // of internals sent to clients. RUST_LIB_BACKTRACE takes precedence for such captures
    // (panic messages in the server log keep RUST_BACKTRACE's); set it to 0 unless the
    // operator chose a value. No other thread of ours runs yet.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    gucs::register();
    index::options::register();
    sync::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
