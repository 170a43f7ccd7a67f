//! JavaScript, TypeScript and TSX (one module: the TypeScript grammars extend
//! the JavaScript one).
//!
//! Reported: function and generator declarations; class methods
//! (`Class.method`, also getters/setters, `#private` and static ones); class
//! fields holding a function (`Class.handler = () => ...`); `const`/`let`/`var`
//! names bound to an arrow function, a function expression, or a call that
//! wraps one (`const C = memo(() => ...)`); methods and function-valued
//! properties of object literals bound to a name (`api.get`); assignments of
//! a function to a member (`module.exports.run = ...`, `Foo.prototype.bar = ...`);
//! TypeScript namespaces qualify their contents (`NS.f`). `export` and
//! decorators are part of the snippet; `export default function () {}` is
//! reported as `default`. Anonymous functions otherwise are not reported.
//!
//! The doc is the last JSDoc block (`/** ... */`) among the comments and
//! decorators directly above, without the `*` gutter; block tags such as
//! `@param x the input` are kept as text (they describe the function too).

use super::{doc, named_children, qualify, Collector};
use tree_sitter::Node;

fn attached(kind: &str) -> bool {
    // TypeScript puts method decorators before the method in the class body.
    matches!(kind, "comment" | "decorator")
}

/// The doc text: the JSDoc block nearest above among the `leading` nodes.
fn docs(out: &Collector, leading: &[Node]) -> Option<String> {
    leading
        .iter()
        .rev()
        .filter(|n| n.kind() == "comment")
        .find_map(|n| doc::jsdoc(out.text(*n)))
}

/// Extracts the functions of a JavaScript / TypeScript / TSX file.
pub(crate) fn extract(root: Node, out: &mut Collector) {
    visit(root, &mut Vec::new(), out);
}

fn is_function(node: Node) -> bool {
    matches!(
        node.kind(),
        "arrow_function" | "function_expression" | "function" | "generator_function"
    )
}

/// A value that is a function, or a call with a function among its arguments
/// (`memo(() => ...)`, `debounce(function () {...}, 100)`).
fn is_function_like(node: Node) -> bool {
    if is_function(node) {
        return true;
    }
    if node.kind() == "call_expression" {
        if let Some(args) = node.child_by_field_name("arguments") {
            return named_children(args).into_iter().any(is_function_like);
        }
    }
    matches!(
        node.kind(),
        "parenthesized_expression" | "as_expression" | "satisfies_expression"
    ) && named_children(node)
        .first()
        .is_some_and(|n| is_function_like(*n))
}

/// The node whose text forms the snippet: the declaration itself, or the
/// `export` statement wrapping it.
fn with_export(node: Node) -> Node {
    match node.parent() {
        Some(p) if p.kind() == "export_statement" => p,
        _ => node,
    }
}

/// A property / method name as written, with string quotes removed.
fn prop_name<'s>(node: Node, out: &Collector<'s>) -> &'s str {
    let text = out.text(node);
    if node.kind() == "string" {
        text.trim_matches(|c| c == '"' || c == '\'' || c == '`')
    } else {
        text
    }
}

fn visit(node: Node, scope: &mut Vec<String>, out: &mut Collector) {
    for child in named_children(node) {
        match child.kind() {
            "function_declaration" | "generator_function_declaration" => {
                let name = match child.child_by_field_name("name") {
                    Some(n) => out.text(n).to_string(),
                    None if with_export(child) != child => "default".to_string(),
                    None => continue,
                };
                out.emit(
                    qualify(scope, &name, "."),
                    with_export(child),
                    attached,
                    docs,
                );
            }
            "class_declaration" | "abstract_class_declaration" | "class" => {
                if let Some(name) = child.child_by_field_name("name") {
                    let name = out.text(name).to_string();
                    class_body(child, name, scope, out);
                }
            }
            "lexical_declaration" | "variable_declaration" => declaration(child, scope, out),
            "method_definition" if child.child_by_field_name("body").is_some() => {
                if let Some(name) = child.child_by_field_name("name") {
                    out.emit(
                        qualify(scope, prop_name(name, out), "."),
                        child,
                        attached,
                        docs,
                    );
                }
            }
            "field_definition" | "public_field_definition" => {
                let name = child
                    .child_by_field_name("property")
                    .or_else(|| child.child_by_field_name("name"));
                let value = child.child_by_field_name("value");
                if let (Some(name), Some(value)) = (name, value) {
                    if is_function_like(value) {
                        out.emit(
                            qualify(scope, prop_name(name, out), "."),
                            child,
                            attached,
                            docs,
                        );
                    }
                }
            }
            "pair" => {
                let (Some(key), Some(value)) = (
                    child.child_by_field_name("key"),
                    child.child_by_field_name("value"),
                ) else {
                    continue;
                };
                let key = prop_name(key, out).to_string();
                if is_function_like(value) {
                    out.emit(qualify(scope, &key, "."), child, attached, docs);
                } else if value.kind() == "object" {
                    nested(value, key, scope, out);
                }
            }
            "export_statement" => {
                // `export default { ... }` / `export default () => ...`
                match child.child_by_field_name("value") {
                    Some(v) if v.kind() == "object" => nested(v, "default".into(), scope, out),
                    Some(v) if is_function_like(v) => {
                        out.emit(qualify(scope, "default", "."), child, attached, docs)
                    }
                    _ => visit(child, scope, out),
                }
            }
            "expression_statement" => {
                let Some(expr) = named_children(child).into_iter().next() else {
                    continue;
                };
                if expr.kind() == "internal_module" {
                    namespace(expr, scope, out);
                    continue;
                }
                if expr.kind() != "assignment_expression" {
                    continue;
                }
                let (Some(left), Some(right)) = (
                    expr.child_by_field_name("left"),
                    expr.child_by_field_name("right"),
                ) else {
                    continue;
                };
                if matches!(left.kind(), "member_expression" | "identifier")
                    && is_function_like(right)
                {
                    out.emit(qualify(scope, out.text(left), "."), child, attached, docs);
                }
            }
            "internal_module" | "module" => namespace(child, scope, out),
            // Blocks of `if`, `try`, ... at container level can hold
            // declarations too; function bodies and `declare` blocks are
            // never searched.
            "if_statement" | "else_clause" | "try_statement" | "finally_clause"
            | "catch_clause" | "statement_block" | "labeled_statement" => visit(child, scope, out),
            _ => {}
        }
    }
}

/// TypeScript `namespace NS { ... }` / `module NS { ... }`.
fn namespace(ns: Node, scope: &mut Vec<String>, out: &mut Collector) {
    if let (Some(name), Some(body)) = (
        ns.child_by_field_name("name"),
        ns.child_by_field_name("body"),
    ) {
        let name = prop_name(name, out).to_string();
        nested(body, name, scope, out);
    }
}

/// Visits the members of a class (or class expression) named `name`.
fn class_body(class: Node, name: String, scope: &mut Vec<String>, out: &mut Collector) {
    if let Some(body) = class.child_by_field_name("body") {
        nested(body, name, scope, out);
    }
}

/// Visits `node` with `name` pushed on the scope.
fn nested(node: Node, name: String, scope: &mut Vec<String>, out: &mut Collector) {
    scope.push(name);
    visit(node, scope, out);
    scope.pop();
}

/// `const a = () => {}`, `let b = function () {}`, `const C = class {...}`,
/// `const api = { get() {} }`.
fn declaration(decl: Node, scope: &mut Vec<String>, out: &mut Collector) {
    let declarators: Vec<Node> = named_children(decl)
        .into_iter()
        .filter(|n| n.kind() == "variable_declarator")
        .collect();
    let single = declarators.len() == 1;
    for d in declarators {
        let (Some(name), Some(value)) = (
            d.child_by_field_name("name"),
            d.child_by_field_name("value"),
        ) else {
            continue;
        };
        if name.kind() != "identifier" {
            continue;
        }
        let name = out.text(name).to_string();
        if is_function_like(value) {
            let outer = if single { with_export(decl) } else { d };
            out.emit(qualify(scope, &name, "."), outer, attached, docs);
        } else if value.kind() == "class" {
            class_body(value, name, scope, out);
        } else if value.kind() == "object" {
            nested(value, name, scope, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lang::Grammar;
    use crate::split::testutil::{docs, some};

    #[test]
    fn jsdoc_above_functions_methods_and_arrows() {
        let src = r#"/** @module http: detached by a blank line */

/**
 * Fetch a URL and return its body.
 *
 * @param {string} url - the address
 * @returns {Promise<string>}
 */
export async function fetchText(url) {
  /** nested: part of fetchText */
  const inner = () => 1;
  return (await fetch(url)).text();
}

// A line comment is no JSDoc.
function plain() {}

/* Nor is a plain block. */
const arrow = (x) => x * 2;

/** Doubles. */
// eslint-disable-next-line no-unused-vars
const doubled = memo(() => 2);

class Parser {
  /**
   * Parses the input.
   */
  parse() {}

  /** A handler field. */
  handler = () => {};

  other() {}
}

const api = {
  /** Gets a thing. */
  get(id) {},
};

/** Runs it. */
module.exports.run = function () {};
"#;
        assert_eq!(
            docs(Grammar::JavaScript, src),
            vec![
                (
                    "fetchText".into(),
                    some(
                        "Fetch a URL and return its body.\n\n\
                         @param {string} url - the address\n@returns {Promise<string>}"
                    )
                ),
                ("plain".into(), None),
                ("arrow".into(), None),
                ("doubled".into(), some("Doubles.")),
                ("Parser.parse".into(), some("Parses the input.")),
                ("Parser.handler".into(), some("A handler field.")),
                ("Parser.other".into(), None),
                ("api.get".into(), some("Gets a thing.")),
                ("module.exports.run".into(), some("Runs it.")),
            ]
        );
    }

    #[test]
    fn typescript_decorators_and_namespaces() {
        let src = r#"export class Widget {
  /**
   * Handles clicks.
   * @param ev the event
   */
  @HostListener("click")
  onClick(ev: MouseEvent): void {}

  @Input()
  /** Below the decorator. */
  set size(v: number) {}
}

namespace Geometry {
  /** Euclidean distance. */
  export function distance(a: number, b: number): number {
    return Math.abs(a - b);
  }
}

function overloaded(x: string): string;
/** The implementation. */
function overloaded(x: any) { return x; }
"#;
        assert_eq!(
            docs(Grammar::TypeScript, src),
            vec![
                (
                    "Widget.onClick".into(),
                    some("Handles clicks.\n@param ev the event")
                ),
                ("Widget.size".into(), some("Below the decorator.")),
                ("Geometry.distance".into(), some("Euclidean distance.")),
                ("overloaded".into(), some("The implementation.")),
            ]
        );
        let tsx = "/** A greeting. */\nexport const Hello = () => <p>hi</p>;\n";
        assert_eq!(
            docs(Grammar::Tsx, tsx),
            vec![("Hello".into(), some("A greeting."))]
        );
    }
}
