//! Splitting source files into functions and methods with tree-sitter.
//!
//! Each language module walks the syntax tree of one file and reports every
//! function or method it finds as a [`Snippet`]. The rules shared by all
//! languages:
//!
//! * Only functions at "container" level are reported: the top of the file,
//!   class / impl / trait / module / namespace bodies and object literals
//!   assigned to a name. A function nested inside another function's body is
//!   part of that function's snippet and is not reported on its own.
//! * Declarations without a body (trait method signatures, TypeScript
//!   overloads and `declare`s, abstract methods) are not reported.
//! * The snippet starts at the attached decorators / attributes and at the
//!   comments directly above it (no blank line in between, comment on a line
//!   of its own), and ends where the function ends.
//! * Line numbers are 1-based and inclusive.
//! * Nothing is dropped for being small; the loader's `--min-lines` option
//!   can do that.
//! * [`Snippet::doc`] is the function's documentation as plain text (see
//!   [`doc`]): Python's docstring, the `///` / `/** */` / `#[doc]` docs of
//!   Rust, the JSDoc block of JavaScript and TypeScript, the comment block of
//!   Go, taken from the comments attached to the snippet; `None` without one.

mod doc;
mod go;
mod js;
mod python;
mod rust;
#[cfg(test)]
mod testutil;

use crate::lang::Grammar;
use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use tree_sitter::{Node, Parser};

/// One function or method extracted from a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// Qualified name, e.g. `Parser.parse`, `Foo::bar`, `Server.Handle`.
    pub symbol: String,
    /// First line (1-based, inclusive), including attached comments and
    /// decorators.
    pub start_line: usize,
    /// Last line (1-based, inclusive).
    pub end_line: usize,
    /// The source text from `start_line` to `end_line`.
    pub code: String,
    /// The docstring / doc comment as plain text, without comment markers or
    /// quotes; `None` when the function has none.
    pub doc: Option<String>,
}

impl Snippet {
    /// Number of lines the snippet spans.
    pub fn line_count(&self) -> usize {
        self.end_line + 1 - self.start_line
    }
}

/// Parses files and extracts their functions; keeps one tree-sitter parser
/// per grammar so that repeated calls do not rebuild them.
#[derive(Default)]
pub struct Splitter {
    parsers: Vec<(Grammar, Parser)>,
}

impl Splitter {
    /// Creates a splitter with no parsers yet; they are made on first use.
    pub fn new() -> Splitter {
        Splitter::default()
    }

    /// Extracts every function and method in `source`, in source order.
    pub fn split(&mut self, grammar: Grammar, source: &str) -> Result<Vec<Snippet>> {
        let parser = self.parser(grammar)?;
        let tree = parser
            .parse(source, None)
            .ok_or_else(|| anyhow!("tree-sitter gave up parsing ({grammar:?})"))?;
        let mut out = Collector {
            src: source,
            snippets: Vec::new(),
        };
        let root = tree.root_node();
        match grammar {
            Grammar::Python => python::extract(root, &mut out),
            Grammar::Rust => rust::extract(root, &mut out),
            Grammar::JavaScript | Grammar::TypeScript | Grammar::Tsx => js::extract(root, &mut out),
            Grammar::Go => go::extract(root, &mut out),
        }
        out.snippets.sort_by_key(|s| (s.start_line, s.end_line));
        Ok(out.snippets)
    }

    fn parser(&mut self, grammar: Grammar) -> Result<&mut Parser> {
        let idx = match self.parsers.iter().position(|(g, _)| *g == grammar) {
            Some(i) => i,
            None => {
                let mut parser = Parser::new();
                parser
                    .set_language(&grammar.ts_language())
                    .with_context(|| format!("loading the {grammar:?} grammar"))?;
                self.parsers.push((grammar, parser));
                self.parsers.len() - 1
            }
        };
        Ok(&mut self.parsers[idx].1)
    }
}

/// Convenience wrapper: splits one source text with a fresh [`Splitter`].
pub fn split(grammar: Grammar, source: &str) -> Result<Vec<Snippet>> {
    Splitter::new().split(grammar, source)
}

/// Accumulates snippets for one file; shared by the language modules.
pub(crate) struct Collector<'s> {
    src: &'s str,
    snippets: Vec<Snippet>,
}

impl<'s> Collector<'s> {
    /// The text of `node`, or `""` if it is not valid UTF-8 (it always is:
    /// the source is a `&str`, and tree-sitter splits on character
    /// boundaries).
    pub(crate) fn text(&self, node: Node) -> &'s str {
        self.src.get(node.byte_range()).unwrap_or("")
    }

    /// Records a snippet named `symbol` spanning `outer`, extended upwards
    /// over the preceding siblings for which `attached` holds (comments,
    /// decorators, attributes) as long as they sit directly above. `doc`
    /// gets those leading nodes (in source order) and returns the snippet's
    /// doc text.
    pub(crate) fn emit<D>(
        &mut self,
        symbol: String,
        outer: Node,
        attached: fn(&str) -> bool,
        doc: D,
    ) where
        D: FnOnce(&Collector<'s>, &[Node]) -> Option<String>,
    {
        let leading = self.leading(outer, attached);
        let first = leading.first().copied().unwrap_or(outer);
        let start = if self.starts_line(first) {
            self.line_start(first.start_byte())
        } else {
            first.start_byte()
        };
        let end = outer.end_byte();
        let end_row = last_row(outer);
        let code = self.src[start..end]
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let doc = doc(self, &leading);
        self.snippets.push(Snippet {
            symbol,
            start_line: first.start_position().row + 1,
            end_line: end_row + 1,
            code,
            doc,
        });
    }

    /// The comments, decorators or attributes (the nodes for which
    /// `attached` holds) directly above `outer`, each on a line of its own
    /// with no blank line in between, in source order.
    fn leading<'t>(&self, outer: Node<'t>, attached: fn(&str) -> bool) -> Vec<Node<'t>> {
        let mut leading = Vec::new();
        let mut first = outer;
        let mut cursor = outer;
        loop {
            let prev = match cursor.prev_sibling() {
                Some(p) => p,
                // Some grammars hang comments before a body's first
                // statement off the enclosing node (Python's class
                // comments precede the `block`): look there too.
                None => match cursor.parent() {
                    Some(parent) if parent.start_byte() == cursor.start_byte() => {
                        cursor = parent;
                        continue;
                    }
                    _ => break,
                },
            };
            let adjacent = last_row(prev) + 1 >= first.start_position().row;
            if !(prev.is_named() && attached(prev.kind()) && adjacent && self.starts_line(prev)) {
                break;
            }
            leading.push(prev);
            first = prev;
            cursor = prev;
        }
        leading.reverse();
        leading
    }

    /// Whether only whitespace precedes `node` on its first line.
    fn starts_line(&self, node: Node) -> bool {
        let start = node.start_byte();
        self.src[self.line_start(start)..start]
            .chars()
            .all(|c| c == ' ' || c == '\t')
    }

    fn line_start(&self, byte: usize) -> usize {
        self.src[..byte].rfind('\n').map_or(0, |i| i + 1)
    }
}

/// The 0-based row of the last character of `node`: a node that ends with
/// its line break (some grammars include it) ends on the previous row.
fn last_row(node: Node) -> usize {
    let end = node.end_position();
    if end.column == 0 && end.row > node.start_position().row {
        end.row - 1
    } else {
        end.row
    }
}

/// Joins a scope path and a name with `sep`, e.g. `["Outer", "Inner"]` and
/// `m` with `.` gives `Outer.Inner.m`.
pub(crate) fn qualify(scope: &[String], name: &str, sep: &str) -> String {
    let mut s = String::new();
    for part in scope {
        s.push_str(part);
        s.push_str(sep);
    }
    s.push_str(name);
    s
}

/// Iterates the named children of `node` (collected, so callers can recurse).
pub(crate) fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}
