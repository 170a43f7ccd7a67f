//! End-to-end tests against a real server started by `scripts/test.sh` (which exports
//! CODEVEC_PGHOST / CODEVEC_PGPORT). Run with `cargo test --features itest --test e2e`.

mod common;
mod encoder;
mod hardening;
mod ivf;
mod ivf_cluster;
mod search;
mod sync;
mod types_binary;
mod types_robustness;
