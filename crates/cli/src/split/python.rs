//! Python: functions, methods (qualified with their enclosing classes, e.g.
//! `Outer.Inner.method`), async functions, decorated definitions.

use super::{named_children, qualify, Collector};
use tree_sitter::Node;

/// Comments directly above a definition are part of its snippet.
fn attached(kind: &str) -> bool {
    kind == "comment"
}

/// Extracts the functions of a Python module.
pub(crate) fn extract(root: Node, out: &mut Collector) {
    visit(root, &mut Vec::new(), out);
}

fn visit(node: Node, scope: &mut Vec<String>, out: &mut Collector) {
    for child in named_children(node) {
        match child.kind() {
            "function_definition" => function(child, child, scope, out),
            "class_definition" => class(child, scope, out),
            "decorated_definition" => match child.child_by_field_name("definition") {
                Some(def) if def.kind() == "function_definition" => {
                    function(def, child, scope, out)
                }
                Some(def) if def.kind() == "class_definition" => class(def, scope, out),
                _ => {}
            },
            // Statements that cannot hold definitions: no need to descend.
            "expression_statement"
            | "import_statement"
            | "import_from_statement"
            | "comment"
            | "return_statement"
            | "pass_statement" => {}
            // `if`, `try`, `with`, blocks, ...: definitions inside still
            // belong to the current scope.
            _ => visit(child, scope, out),
        }
    }
}

/// `def` is the function node, `outer` the node whose text is the snippet
/// (the decorated definition when there are decorators).
fn function(def: Node, outer: Node, scope: &[String], out: &mut Collector) {
    if let Some(name) = def.child_by_field_name("name") {
        let symbol = qualify(scope, out.text(name), ".");
        out.emit(symbol, outer, attached);
    }
}

fn class(def: Node, scope: &mut Vec<String>, out: &mut Collector) {
    let (Some(name), Some(body)) = (
        def.child_by_field_name("name"),
        def.child_by_field_name("body"),
    ) else {
        return;
    };
    scope.push(out.text(name).to_string());
    visit(body, scope, out);
    scope.pop();
}
