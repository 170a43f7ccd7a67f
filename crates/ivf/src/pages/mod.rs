//! The paged index: the on-disk format of an `ivf` index and the list algorithms over it
//! (build writer, insert, bulk delete, the ordered scan's list source), written once against
//! the [`store::PageStore`] trait. The extension implements the trait over PostgreSQL's
//! buffers and GenericXLog (`src/index/store.rs`); [`mem::MemStore`] implements it in memory,
//! so every algorithm here is unit-tested with plain `cargo test`.

pub mod build;
pub mod format;
pub mod insert;
pub mod mem;
pub mod meta;
pub mod read;
pub mod source;
pub mod store;
pub mod vacuum;

#[cfg(test)]
mod tests;
