//! Rust: free functions, methods in `impl` blocks (`impl Foo { fn bar }` and
//! `impl Trait for Foo { fn bar }` both give `Foo::bar`), default methods of
//! traits (`Trait::method`), and functions in inline modules (`tests::it_works`).
//! Attributes (`#[test]`) and doc comments directly above are included.
//! The doc is the `///` and `/** */` comments and `#[doc = "..."]`
//! attributes among them (plain `//` comments and other attributes are
//! skipped, inner `//!` docs belong to the enclosing module).

use super::{doc, named_children, qualify, Collector};
use tree_sitter::Node;

fn attached(kind: &str) -> bool {
    matches!(kind, "line_comment" | "block_comment" | "attribute_item")
}

/// Extracts the functions of a Rust source file.
pub(crate) fn extract(root: Node, out: &mut Collector) {
    visit(root, &mut Vec::new(), out);
}

fn visit(node: Node, scope: &mut Vec<String>, out: &mut Collector) {
    for child in named_children(node) {
        match child.kind() {
            "function_item" => {
                if let Some(name) = child.child_by_field_name("name") {
                    out.emit(qualify(scope, out.text(name), "::"), child, attached, docs);
                }
            }
            "impl_item" => {
                let name = child.child_by_field_name("type").map(|t| type_name(t, out));
                enter(child, name, scope, out);
            }
            "trait_item" | "mod_item" => {
                let name = child
                    .child_by_field_name("name")
                    .map(|n| out.text(n).to_string());
                enter(child, name, scope, out);
            }
            _ => {}
        }
    }
}

/// The doc text of the comments and attributes `leading` an item.
fn docs(out: &Collector, leading: &[Node]) -> Option<String> {
    let pieces = leading
        .iter()
        .filter_map(|n| doc::rust_doc_piece(out.text(*n)))
        .collect();
    doc::rust_doc(pieces)
}

/// Visits the `body` of an impl / trait / mod under the scope `name`.
fn enter(item: Node, name: Option<String>, scope: &mut Vec<String>, out: &mut Collector) {
    let (Some(name), Some(body)) = (name, item.child_by_field_name("body")) else {
        return;
    };
    scope.push(name);
    visit(body, scope, out);
    scope.pop();
}

/// The name of an impl's self type without generic arguments or references:
/// `Foo<T>` gives `Foo`, `&'a mut Bar` gives `Bar`, `crate::x::Baz` stays.
fn type_name(ty: Node, out: &Collector) -> String {
    match ty.kind() {
        "generic_type" => ty
            .child_by_field_name("type")
            .map(|t| type_name(t, out))
            .unwrap_or_else(|| out.text(ty).to_string()),
        "reference_type" | "pointer_type" => ty
            .child_by_field_name("type")
            .map(|t| type_name(t, out))
            .unwrap_or_else(|| out.text(ty).to_string()),
        _ => out
            .text(ty)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use crate::lang::Grammar;
    use crate::split::testutil::some;

    fn docs(src: &str) -> Vec<(String, Option<String>)> {
        crate::split::testutil::docs(Grammar::Rust, src)
    }

    #[test]
    fn doc_comments_attributes_and_plain_comments() {
        let src = r#"//! Crate docs belong to the crate.

/// Parses an embedding from text such as `[1, 2, 3]`.
///
/// # Errors
///
/// When a value is not a number:
///
///     parse("[x]").unwrap_err();
#[inline]
#[must_use]
pub fn parse(s: &str) -> Result<Vec<f32>, Error> {
    todo!()
}

// A plain comment is no doc.
#[cfg(test)]
fn plain() {}

fn none() {}

/**
 * Cosine distance between two vectors.
 */
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    /// Nested: part of cosine's snippet.
    fn dot() {}
    0.0
}

#[doc = "Set by an attribute."]
#[doc = "Second line."]
fn attr() {}

impl<T> Store<T> {
    /// Makes an empty store.
    // TODO: capacity
    pub fn new() -> Self {
        Store(Vec::new())
    }

    /// Detached by a blank line: not the doc.

    fn get(&self) {}
}

pub trait Metric {
    /// Signature only: no row.
    fn distance(&self) -> f32;

    /// Default method.
    #[allow(unused)]
    /// More doc after an attribute.
    fn name(&self) -> &str {
        "metric"
    }
}
"#;
        assert_eq!(
            docs(src),
            vec![
                (
                    "parse".into(),
                    some(
                        "Parses an embedding from text such as `[1, 2, 3]`.\n\n# Errors\n\n\
                         When a value is not a number:\n\n    parse(\"[x]\").unwrap_err();"
                    )
                ),
                ("plain".into(), None),
                ("none".into(), None),
                (
                    "cosine".into(),
                    some("Cosine distance between two vectors.")
                ),
                ("attr".into(), some("Set by an attribute.\nSecond line.")),
                ("Store::new".into(), some("Makes an empty store.")),
                ("Store::get".into(), None),
                (
                    "Metric::name".into(),
                    some("Default method.\nMore doc after an attribute.")
                ),
            ]
        );
    }
}
