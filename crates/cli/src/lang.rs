//! Source languages the loader understands and how files map onto them.

use std::fmt;
use std::path::Path;

/// The language recorded in the `language` column.
///
/// TSX files are recorded as `typescript` and JSX files as `javascript`, so a
/// `WHERE language = 'typescript'` filter finds both; the parser still uses
/// the dialect-specific grammar (see [`Grammar`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// Python (`.py`, `.pyw`).
    Python,
    /// Rust (`.rs`).
    Rust,
    /// JavaScript (`.js`, `.mjs`, `.cjs`, `.jsx`).
    JavaScript,
    /// TypeScript (`.ts`, `.mts`, `.cts`, `.tsx`).
    TypeScript,
    /// Go (`.go`).
    Go,
}

impl Language {
    /// Every supported language, in display order.
    pub const ALL: [Language; 5] = [
        Language::Python,
        Language::Rust,
        Language::JavaScript,
        Language::TypeScript,
        Language::Go,
    ];

    /// The lower-case name stored in the database (`python`, `rust`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Go => "go",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tree-sitter grammar used to parse a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grammar {
    /// tree-sitter-python.
    Python,
    /// tree-sitter-rust.
    Rust,
    /// tree-sitter-javascript (also parses JSX).
    JavaScript,
    /// tree-sitter-typescript, plain TypeScript dialect.
    TypeScript,
    /// tree-sitter-typescript, TSX dialect.
    Tsx,
    /// tree-sitter-go.
    Go,
}

impl Grammar {
    /// Picks the grammar from a file name's extension, or `None` when the
    /// extension is not one the loader handles.
    pub fn from_path(path: &Path) -> Option<Grammar> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Grammar::from_extension(&ext)
    }

    /// Picks the grammar for a bare extension (without the dot), case-sensitive
    /// lower case.
    pub fn from_extension(ext: &str) -> Option<Grammar> {
        Some(match ext {
            "py" | "pyw" => Grammar::Python,
            "rs" => Grammar::Rust,
            "js" | "mjs" | "cjs" | "jsx" => Grammar::JavaScript,
            "ts" | "mts" | "cts" => Grammar::TypeScript,
            "tsx" => Grammar::Tsx,
            "go" => Grammar::Go,
            _ => return None,
        })
    }

    /// Picks the grammar from a user-supplied language name such as `python`,
    /// `ts` or `tsx`.
    pub fn from_name(name: &str) -> Option<Grammar> {
        match name.to_ascii_lowercase().as_str() {
            "python" => Some(Grammar::Python),
            "rust" => Some(Grammar::Rust),
            "javascript" => Some(Grammar::JavaScript),
            "typescript" => Some(Grammar::TypeScript),
            "golang" => Some(Grammar::Go),
            other => Grammar::from_extension(other),
        }
    }

    /// The language recorded for files parsed with this grammar.
    pub fn language(self) -> Language {
        match self {
            Grammar::Python => Language::Python,
            Grammar::Rust => Language::Rust,
            Grammar::JavaScript => Language::JavaScript,
            Grammar::TypeScript | Grammar::Tsx => Language::TypeScript,
            Grammar::Go => Language::Go,
        }
    }

    /// The tree-sitter language object for this grammar.
    pub fn ts_language(self) -> tree_sitter::Language {
        match self {
            Grammar::Python => tree_sitter_python::LANGUAGE.into(),
            Grammar::Rust => tree_sitter_rust::LANGUAGE.into(),
            Grammar::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Grammar::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Grammar::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Grammar::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_languages() {
        let lang = |p: &str| Grammar::from_path(Path::new(p)).map(Grammar::language);
        assert_eq!(lang("a/b.py"), Some(Language::Python));
        assert_eq!(lang("lib.rs"), Some(Language::Rust));
        assert_eq!(lang("x.JSX"), Some(Language::JavaScript));
        assert_eq!(lang("x.mjs"), Some(Language::JavaScript));
        assert_eq!(lang("x.tsx"), Some(Language::TypeScript));
        assert_eq!(Grammar::from_path(Path::new("x.tsx")), Some(Grammar::Tsx));
        assert_eq!(lang("main.go"), Some(Language::Go));
        assert_eq!(lang("README.md"), None);
        assert_eq!(lang("Makefile"), None);
    }

    #[test]
    fn names_parse() {
        assert_eq!(Grammar::from_name("Python"), Some(Grammar::Python));
        assert_eq!(Grammar::from_name("ts"), Some(Grammar::TypeScript));
        assert_eq!(Grammar::from_name("tsx"), Some(Grammar::Tsx));
        assert_eq!(Grammar::from_name("cobol"), None);
    }
}
