//! Reading and splitting files on a background thread, so parsing overlaps
//! with sending rows to the server.

use crate::lang::Language;
use crate::source::decode_source;
use crate::split::{Snippet, Splitter};
use crate::walk::{Entry, SkipReason};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

/// How many processed files may wait for the consumer.
const QUEUE_DEPTH: usize = 64;

/// The result of handling one walked file.
#[derive(Debug)]
pub enum Outcome {
    /// Read and split (the list may be empty: a file with no functions).
    Parsed {
        /// Path as walked.
        path: PathBuf,
        /// Language recorded for the rows.
        language: Language,
        /// Functions and methods, in source order.
        snippets: Vec<Snippet>,
    },
    /// Not loaded.
    Skipped {
        /// Path as walked.
        path: PathBuf,
        /// Why.
        reason: SkipReason,
        /// Extra detail worth a warning (I/O or parser errors), if any.
        detail: Option<String>,
    },
}

/// Handles one entry: reads, checks and splits a source file.
pub fn process_entry(entry: Entry, splitter: &mut Splitter) -> Outcome {
    match entry {
        Entry::Skipped { path, reason } => Outcome::Skipped {
            path,
            reason,
            detail: None,
        },
        Entry::Source { path, grammar } => {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    return Outcome::Skipped {
                        path,
                        reason: SkipReason::Unreadable,
                        detail: Some(e.to_string()),
                    }
                }
            };
            let text = match decode_source(bytes) {
                Ok(t) => t,
                Err(reason) => {
                    return Outcome::Skipped {
                        path,
                        reason,
                        detail: None,
                    }
                }
            };
            match splitter.split(grammar, &text) {
                Ok(snippets) => Outcome::Parsed {
                    path,
                    language: grammar.language(),
                    snippets,
                },
                Err(e) => Outcome::Skipped {
                    path,
                    reason: SkipReason::ParseFailed,
                    detail: Some(format!("{e:#}")),
                },
            }
        }
    }
}

/// Processes `entries` in order on a background thread; the returned
/// receiver yields one [`Outcome`] per entry. Dropping the receiver stops
/// the thread after its current file.
pub fn spawn(entries: Vec<Entry>) -> mpsc::Receiver<Outcome> {
    let (tx, rx) = mpsc::sync_channel(QUEUE_DEPTH);
    thread::spawn(move || {
        let mut splitter = Splitter::new();
        for entry in entries {
            if tx.send(process_entry(entry, &mut splitter)).is_err() {
                break;
            }
        }
    });
    rx
}
