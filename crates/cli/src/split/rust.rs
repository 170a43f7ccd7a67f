//! Rust: free functions, methods in `impl` blocks (`impl Foo { fn bar }` and
//! `impl Trait for Foo { fn bar }` both give `Foo::bar`), default methods of
//! traits (`Trait::method`), and functions in inline modules (`tests::it_works`).
//! Attributes (`#[test]`) and doc comments directly above are included.

use super::{named_children, qualify, Collector};
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
                    out.emit(qualify(scope, out.text(name), "::"), child, attached);
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
