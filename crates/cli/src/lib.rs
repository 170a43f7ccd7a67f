//! `codevec` command-line loader: splits source trees into functions and
//! methods with tree-sitter and COPYs them into a PostgreSQL table, where the
//! codevec extension can embed them; `codevec search` asks the extension's
//! hybrid search about the table.
//!
//! The binary is a thin layer over this library (see `src/main.rs`); the
//! modules are public so the tests can drive each step on its own.

pub mod cli;
pub mod copy;
pub mod dsn;
pub mod lang;
pub mod load;
pub mod pipeline;
pub mod progress;
pub mod schema;
pub mod search;
pub mod source;
pub mod split;
pub mod summary;
pub mod sync;
pub mod tls;
pub mod walk;
