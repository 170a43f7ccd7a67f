//! Go: functions and methods; a method is qualified with its receiver's base
//! type (`func (s *Server) Handle()` gives `Server.Handle`, generic receivers
//! `(l *List[T])` give `List.Push`). Doc comments directly above are included;
//! they are also the doc, without the `//` markers and tool directives.

use super::{doc, named_children, Collector};
use tree_sitter::Node;

fn attached(kind: &str) -> bool {
    kind == "comment"
}

/// The doc text of the comment block `leading` a declaration.
fn docs(out: &Collector, leading: &[Node]) -> Option<String> {
    let texts: Vec<&str> = leading.iter().map(|n| out.text(*n)).collect();
    doc::go_doc(&texts)
}

/// Extracts the functions and methods of a Go source file.
pub(crate) fn extract(root: Node, out: &mut Collector) {
    for child in named_children(root) {
        let Some(name) = child.child_by_field_name("name") else {
            continue;
        };
        let name = out.text(name);
        match child.kind() {
            "function_declaration" => out.emit(name.to_string(), child, attached, docs),
            "method_declaration" => {
                let symbol = match receiver_type(child, out) {
                    Some(recv) => format!("{recv}.{name}"),
                    None => name.to_string(),
                };
                out.emit(symbol, child, attached, docs);
            }
            _ => {}
        }
    }
}

/// The base type name of a method's receiver.
fn receiver_type(method: Node, out: &Collector) -> Option<String> {
    let list = method.child_by_field_name("receiver")?;
    let param = named_children(list)
        .into_iter()
        .find(|n| n.kind() == "parameter_declaration")?;
    let mut ty = param.child_by_field_name("type")?;
    loop {
        match ty.kind() {
            "pointer_type" | "parenthesized_type" => {
                ty = *named_children(ty).first()?;
            }
            "generic_type" => ty = ty.child_by_field_name("type")?,
            _ => return Some(out.text(ty).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lang::Grammar;
    use crate::split::testutil::some;

    fn docs(src: &str) -> Vec<(String, Option<String>)> {
        crate::split::testutil::docs(Grammar::Go, src)
    }

    #[test]
    fn comment_blocks_above_funcs_and_methods() {
        let src = "// Package vec does vectors.
package vec

// Cosine returns the cosine distance between a and b.
//
// Both must have the same length:
//
//\td := Cosine(a, b)
//
//go:noinline
func Cosine(a, b []float32) float32 {
\t// inside: not a doc
\tf := func() {}
\t_ = f
\treturn 0
}

func undocumented() {}

// Detached by a blank line.

func detached() {}

/*
Parse reads a vector
from text.
*/
func Parse(s string) ([]float32, error) { return nil, nil }

// Push appends v.
func (l *List[T]) Push(v T) {}

x := 1 // trailing comment, not above
func (s Server) Close() error { return nil }
";
        assert_eq!(
            docs(src),
            vec![
                (
                    "Cosine".into(),
                    some(
                        "Cosine returns the cosine distance between a and b.\n\n\
                         Both must have the same length:\n\n\td := Cosine(a, b)"
                    )
                ),
                ("undocumented".into(), None),
                ("detached".into(), None),
                ("Parse".into(), some("Parse reads a vector\nfrom text.")),
                ("List.Push".into(), some("Push appends v.")),
                ("Server.Close".into(), None),
            ]
        );
    }
}
