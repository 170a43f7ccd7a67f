//! Python: functions, methods (qualified with their enclosing classes, e.g.
//! `Outer.Inner.method`), async functions, decorated definitions. The doc is
//! the docstring: a string literal as the first statement of the body
//! (comments above the `def` are part of the snippet, not of the doc).

use super::{doc, named_children, qualify, Collector};
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
        out.emit(symbol, outer, attached, |out, _| docstring(def, out));
    }
}

/// The docstring of the function `def`: its body's first statement, when
/// that is a string literal on its own (comments before it do not count).
fn docstring(def: Node, out: &Collector) -> Option<String> {
    let body = def.child_by_field_name("body")?;
    let first = named_children(body)
        .into_iter()
        .find(|n| n.kind() != "comment")?;
    if first.kind() != "expression_statement" {
        return None;
    }
    match named_children(first).as_slice() {
        [s] if s.kind() == "string" => doc::python_docstring(out.text(*s)),
        _ => None,
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

#[cfg(test)]
mod tests {
    use crate::lang::Grammar;
    use crate::split::testutil::some;

    fn docs(src: &str) -> Vec<(String, Option<String>)> {
        crate::split::testutil::docs(Grammar::Python, src)
    }

    #[test]
    fn docstrings_of_functions_methods_and_decorated_ones() {
        let src = r#""""Module docstring: not a function's."""
import datetime


# A comment above is not the docstring.
def parse_date(s):
    """Parse an ISO date such as ``2024-01-31``.

    Args:
        s: the text.
    """
    return datetime.date.fromisoformat(s)


def undocumented(x):
    return x  # "not a docstring"


class Client:
    """The class docstring is not a method's."""

    @functools.cache
    @staticmethod
    def fetch(url, timeout=10):
        '''Fetch ``url`` and return the body.'''
        def helper():
            """Nested: stays inside fetch."""
        return helper()

    async def close(self):
        # a comment first
        """Close the connection."""

    def later(self):
        x = 1
        """A string after a statement is no docstring."""

    def one_liner(self): "Inline docstring."
"#;
        assert_eq!(
            docs(src),
            vec![
                (
                    "parse_date".into(),
                    some("Parse an ISO date such as ``2024-01-31``.\n\nArgs:\n    s: the text.")
                ),
                ("undocumented".into(), None),
                (
                    "Client.fetch".into(),
                    some("Fetch ``url`` and return the body.")
                ),
                ("Client.close".into(), some("Close the connection.")),
                ("Client.later".into(), None),
                ("Client.one_liner".into(), some("Inline docstring.")),
            ]
        );
    }

    #[test]
    fn raw_strings_count_bytes_and_fstrings_do_not() {
        let src = "def a():\n    r\"\"\"Match \\d+.\"\"\"\n\ndef b():\n    b\"bytes\"\n\ndef c():\n    f\"{x}\"\n\ndef d():\n    \"\"\"\"\"\"\n";
        assert_eq!(
            docs(src),
            vec![
                ("a".into(), some("Match \\d+.")),
                ("b".into(), None),
                ("c".into(), None),
                ("d".into(), None),
            ]
        );
    }
}
