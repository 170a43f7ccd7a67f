//! Go: functions and methods; a method is qualified with its receiver's base
//! type (`func (s *Server) Handle()` gives `Server.Handle`, generic receivers
//! `(l *List[T])` give `List.Push`). Doc comments directly above are included.

use super::{named_children, Collector};
use tree_sitter::Node;

fn attached(kind: &str) -> bool {
    kind == "comment"
}

/// Extracts the functions and methods of a Go source file.
pub(crate) fn extract(root: Node, out: &mut Collector) {
    for child in named_children(root) {
        let Some(name) = child.child_by_field_name("name") else {
            continue;
        };
        let name = out.text(name);
        match child.kind() {
            "function_declaration" => out.emit(name.to_string(), child, attached),
            "method_declaration" => {
                let symbol = match receiver_type(child, out) {
                    Some(recv) => format!("{recv}.{name}"),
                    None => name.to_string(),
                };
                out.emit(symbol, child, attached);
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
