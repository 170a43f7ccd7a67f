//! Counters collected during a run and the summary printed at the end.

use crate::lang::Language;
use crate::walk::SkipReason;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Per-language totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LanguageCount {
    /// Files of this language that produced rows.
    pub files: u64,
    /// Rows (functions and methods).
    pub rows: u64,
}

/// Everything counted during a `load` or a dry run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Files found by the walk (after `.gitignore` and vendored-directory pruning).
    pub files_seen: u64,
    /// Files whose rows were loaded (or would be, in a dry run).
    pub files_loaded: u64,
    /// Files parsed that contain no function (nothing to load).
    pub files_without_functions: u64,
    /// Files skipped, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Vendored / generated directories pruned.
    pub pruned_dirs: u64,
    /// Functions dropped by `--min-lines`.
    pub rows_too_short: u64,
    /// Loaded rows and files per language.
    pub per_language: BTreeMap<Language, LanguageCount>,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl Summary {
    /// Counts a skipped file.
    pub fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Total number of skipped files.
    pub fn files_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Total rows over all languages.
    pub fn rows(&self) -> u64 {
        self.per_language.values().map(|c| c.rows).sum()
    }

    /// Counts a file loaded with `rows` rows.
    pub fn loaded(&mut self, language: Language, rows: u64) {
        self.files_loaded += 1;
        let c = self.per_language.entry(language).or_default();
        c.files += 1;
        c.rows += rows;
    }

    /// The multi-line report; `verb` is `loaded` or `would load`.
    pub fn render(&self, verb: &str) -> String {
        let mut s = String::new();
        let mut line = |indent: usize, label: &str, value: u64| {
            let _ = writeln!(s, "{:indent$}{label:<w$}{value:>9}", "", w = 30 - indent);
        };
        line(0, "files seen:", self.files_seen);
        line(0, &format!("files {verb}:"), self.files_loaded);
        line(0, "files without functions:", self.files_without_functions);
        line(0, "files skipped:", self.files_skipped());
        for reason in SkipReason::ALL {
            if let Some(&n) = self.skipped.get(&reason) {
                line(2, reason.label(), n);
            }
        }
        if self.pruned_dirs > 0 {
            line(0, "vendored/generated dirs pruned:", self.pruned_dirs);
        }
        if self.rows_too_short > 0 {
            line(0, "functions below --min-lines:", self.rows_too_short);
        }
        line(0, &format!("rows {verb}:"), self.rows());
        for (lang, c) in &self.per_language {
            let _ = writeln!(
                s,
                "  {:<28}{:>9} rows in {} files",
                lang.name(),
                c.rows,
                c.files
            );
        }
        let _ = writeln!(s, "elapsed: {:.2} s", self.elapsed.as_secs_f64());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts() {
        let mut s = Summary {
            files_seen: 5,
            ..Summary::default()
        };
        s.skip(SkipReason::Binary);
        s.skip(SkipReason::NotUtf8);
        s.skip(SkipReason::NotUtf8);
        s.loaded(Language::Python, 3);
        s.loaded(Language::Go, 2);
        assert_eq!(s.files_skipped(), 3);
        assert_eq!(s.rows(), 5);
        let text = s.render("loaded");
        assert!(text.contains("not UTF-8"), "{text}");
        assert!(text.contains("python"), "{text}");
        assert!(
            text.contains("rows loaded:                          5"),
            "{text}"
        );
    }
}
