//! Builds a held-back query → code set the way python-dev was built, from code on this
//! machine: for every documented function, the first sentence of its doc comment (≥ 4
//! words, light markup removal, boilerplate rejected) is the query and the function without
//! its doc comment (attributes / decorators kept, dedented) is the code; body ≥ 3 non-blank
//! lines; the query text must not occur in the code; deduplicated by code and by query;
//! a seeded sample of up to 2,000 pairs, kept in walk order.
//!
//! cargo run --release -p codevec-lexical --features eval --example build_set -- \
//!     rust|js [--root DIR]... [--out FILE] [--limit 2000] [--seed 20240509]
//!
//! `rust` walks the newest version of every crate in `~/.cargo/registry/src/*/`; `js` walks
//! `/usr/lib/node_modules` (`.js`, `.mjs`, `.cjs`, `.ts`, `.tsx`; no `.d.ts`, no `.min.js`).
//! Output: jsonl with `id, query, code, lang, source, path, symbol` in
//! `/root/.cache/codevec/eval/codesearch-<set>.jsonl`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tree_sitter::{Language, Node, Parser};

/// Files above this size are generated code or bundles; skipped.
const MAX_FILE_BYTES: u64 = 512 * 1024;

struct Pair {
    id: String,
    query: String,
    code: String,
    path: String,
    symbol: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Rust,
    JavaScript,
    TypeScript,
    Tsx,
}

impl Lang {
    fn language(self) -> Language {
        match self {
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::JavaScript => "javascript",
            Lang::TypeScript | Lang::Tsx => "typescript",
        }
    }
}

/// SplitMix64: a tiny seeded generator for the sample (no dependency, stable forever).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `name-1.2.3` → (`name`, [1, 2, 3]); None when the directory is not `name-version`.
fn crate_version(dir: &str) -> Option<(String, Vec<u64>)> {
    let bytes = dir.as_bytes();
    let i = (1..bytes.len()).find(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit())?;
    let version: Vec<u64> = dir[i..]
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0))
        .collect();
    Some((dir[..i - 1].to_string(), version))
}

/// The newest version directory of every crate under the registry's source folders.
fn newest_crates() -> Vec<PathBuf> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let mut best: HashMap<String, (Vec<u64>, PathBuf)> = HashMap::new();
    let Ok(indexes) = std::fs::read_dir(Path::new(&home).join(".cargo/registry/src")) else {
        return Vec::new();
    };
    for index in indexes.flatten() {
        let Ok(crates) = std::fs::read_dir(index.path()) else {
            continue;
        };
        for c in crates.flatten() {
            let dir = c.file_name().to_string_lossy().to_string();
            let Some((name, ver)) = crate_version(&dir) else {
                continue;
            };
            match best.get(&name) {
                Some((v, _)) if *v >= ver => {}
                _ => {
                    best.insert(name, (ver, c.path()));
                }
            }
        }
    }
    let mut out: Vec<PathBuf> = best.into_values().map(|(_, p)| p).collect();
    out.sort();
    out
}

/// Every file under `dir` (sorted, recursively) accepted by `keep`.
fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if p.file_name().is_some_and(|n| n == "target" || n == ".git") {
                continue;
            }
            walk(&p, keep, out);
        } else if meta.is_file() && meta.len() <= MAX_FILE_BYTES && keep(&p) {
            out.push(p);
        }
    }
}

fn text<'s>(src: &'s str, n: Node) -> &'s str {
    src.get(n.byte_range()).unwrap_or("")
}

/// Removes the first line's indentation (`col` columns) from every following line.
fn dedent(code: &str, col: usize) -> String {
    let mut out = String::with_capacity(code.len());
    for (i, line) in code.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            let ws = line.len() - line.trim_start_matches([' ', '\t']).len();
            out.push_str(&line[ws.min(col)..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Non-blank lines inside a `{ … }` block.
fn body_lines(block: &str) -> usize {
    let inner = block.trim();
    let inner = inner.strip_prefix('{').unwrap_or(inner);
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    inner.lines().filter(|l| !l.trim().is_empty()).count()
}

/// Doc-comment text → its first paragraph's lines (Rust `///`, `/** */`, JSDoc).
fn doc_lines(comments: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    for c in comments {
        let c = c.trim();
        if let Some(block) = c.strip_prefix("/**") {
            let block = block.strip_suffix("*/").unwrap_or(block);
            for l in block.lines() {
                let l = l.trim();
                let l = l.strip_prefix('*').unwrap_or(l);
                lines.push(l.trim().to_string());
            }
        } else {
            for l in c.lines() {
                let l = l.trim();
                let l = l.strip_prefix("///").unwrap_or(l);
                lines.push(l.trim().to_string());
            }
        }
    }
    let mut para = Vec::new();
    for l in lines {
        if l.is_empty() {
            if para.is_empty() {
                continue;
            }
            break;
        }
        if l.starts_with('@') || l.starts_with('#') || l.starts_with("```") {
            break;
        }
        para.push(l);
    }
    para
}

/// Light markup removal: `` `x` `` → x, `[x](url)` / `[x][ref]` / `[x]` → x, `{@link X}` → X,
/// `**`/`__` emphasis dropped, white space collapsed.
fn strip_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars[i..].starts_with(&['{', '@']) {
            // {@link Foo bar} → Foo bar
            let end = chars[i..].iter().position(|&c| c == '}').map(|p| i + p);
            if let Some(end) = end {
                let inner: String = chars[i + 2..end].iter().collect();
                let inner = inner.split_once(char::is_whitespace).map_or("", |(_, r)| r);
                out.push_str(inner.trim());
                i = end + 1;
                continue;
            }
        }
        if c == ']' && i + 1 < chars.len() && (chars[i + 1] == '(' || chars[i + 1] == '[') {
            let close = if chars[i + 1] == '(' { ')' } else { ']' };
            if let Some(p) = chars[i + 2..].iter().position(|&x| x == close) {
                i = i + 2 + p + 1;
                continue;
            }
        }
        if c == '`' || c == '[' || c == ']' {
            i += 1;
            continue;
        }
        if (c == '*' || c == '_') && i + 1 < chars.len() && chars[i + 1] == c {
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first sentence: up to the first `.`/`!`/`?` followed by white space or the end
/// (not after `e.g`, `i.e`, `etc`, `vs`).
fn first_sentence(para: &str) -> String {
    let bytes = para.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'.' | b'!' | b'?') && (i + 1 == bytes.len() || bytes[i + 1] == b' ') {
            let before = para[..i].rsplit(' ').next().unwrap_or("").to_lowercase();
            if matches!(before.as_str(), "e.g" | "i.e" | "etc" | "vs" | "eg" | "ie") {
                continue;
            }
            return para[..=i].to_string();
        }
    }
    para.to_string()
}

const BOILERPLATE: &[&str] = &[
    "todo",
    "fixme",
    "xxx",
    "deprecated",
    "see",
    "note",
    "safety",
    "hack",
    "internal",
    "private",
    "copyright",
    "license",
    "eslint",
    "jshint",
    "istanbul",
    "generated",
    "@",
];

/// The query of a doc comment, or None if it does not qualify.
fn query_of(comments: &[&str]) -> Option<String> {
    let para = doc_lines(comments).join(" ");
    let q = first_sentence(&strip_markup(&para));
    let words = q.split_whitespace().count();
    let first = q
        .split(|c: char| !c.is_alphanumeric() && c != '@')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_lowercase();
    if words < 4 || BOILERPLATE.iter().any(|b| first.starts_with(b)) {
        return None;
    }
    if q.to_lowercase().contains("deprecated") || !q.chars().any(|c| c.is_alphabetic()) {
        return None;
    }
    Some(q)
}

/// One documented function found in a file, before the set-wide filters.
struct Found {
    line: usize,
    symbol: String,
    comments: Vec<String>,
    code: String,
    body_lines: usize,
}

fn is_doc_comment(kind: &str, t: &str) -> bool {
    match kind {
        "line_comment" => t.starts_with("///") && !t.starts_with("////"),
        "block_comment" | "comment" => {
            t.starts_with("/**") && !t.starts_with("/***") && t != "/**/"
        }
        _ => false,
    }
}

/// The doc comments directly above `node` (adjacent, no blank line), with the attributes
/// / decorators in between kept for the code. Returns (doc comments top-down, first node of
/// the code).
fn attached<'t>(src: &str, node: Node<'t>, lang: Lang) -> (Vec<String>, Node<'t>) {
    let mut docs = Vec::new();
    let mut first = node;
    let mut cur = node;
    let mut seen_doc = false;
    while let Some(prev) = cur.prev_sibling() {
        let adjacent = prev.end_position().row + 1 >= cur.start_position().row;
        if !adjacent {
            break;
        }
        let t = text(src, prev);
        if is_doc_comment(prev.kind(), t) {
            docs.push(t.to_string());
            seen_doc = true;
        } else if lang == Lang::Rust && prev.kind() == "attribute_item" {
            if t.starts_with("#[doc") {
                break;
            }
            if !seen_doc {
                first = prev;
            }
        } else if prev.kind() == "decorator" {
            if !seen_doc {
                first = prev;
            }
        } else {
            break;
        }
        cur = prev;
    }
    docs.reverse();
    (docs, first)
}

fn code_from(src: &str, first: Node, last: Node) -> String {
    let start = first.start_byte();
    let code = src.get(start..last.end_byte()).unwrap_or("");
    dedent(code, first.start_position().column)
}

fn rust_visit(src: &str, node: Node, scope: &mut Vec<String>, out: &mut Vec<Found>) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    for child in children {
        match child.kind() {
            "function_item" => {
                let (Some(name), Some(body)) = (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("body"),
                ) else {
                    continue;
                };
                let (docs, first) = attached(src, child, Lang::Rust);
                if docs.is_empty() {
                    continue;
                }
                let mut symbol = scope.join("::");
                if !symbol.is_empty() {
                    symbol.push_str("::");
                }
                symbol.push_str(text(src, name));
                out.push(Found {
                    line: child.start_position().row + 1,
                    symbol,
                    comments: docs,
                    code: code_from(src, first, child),
                    body_lines: body_lines(text(src, body)),
                });
            }
            "impl_item" | "trait_item" | "mod_item" => {
                let name = if child.kind() == "impl_item" {
                    child.child_by_field_name("type").map(|t| {
                        let t = text(src, t);
                        t.split('<')
                            .next()
                            .unwrap_or(t)
                            .trim_start_matches('&')
                            .trim()
                            .to_string()
                    })
                } else {
                    child
                        .child_by_field_name("name")
                        .map(|n| text(src, n).to_string())
                };
                if let (Some(name), Some(body)) = (name, child.child_by_field_name("body")) {
                    scope.push(name);
                    rust_visit(src, body, scope, out);
                    scope.pop();
                }
            }
            _ => {}
        }
    }
}

fn is_js_function(n: Node) -> bool {
    matches!(
        n.kind(),
        "arrow_function" | "function_expression" | "function" | "generator_function"
    )
}

/// The node whose text forms the snippet: the declaration, or the `export` around it.
fn with_export(n: Node) -> Node {
    match n.parent() {
        Some(p) if p.kind() == "export_statement" => p,
        _ => n,
    }
}

fn js_visit(src: &str, lang: Lang, node: Node, scope: &mut Vec<String>, out: &mut Vec<Found>) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    for child in children {
        // (the node carrying the doc comment, the function node, its name)
        let mut hit: Option<(Node, Node, String)> = None;
        match child.kind() {
            "function_declaration" | "generator_function_declaration" => {
                if let Some(name) = child.child_by_field_name("name") {
                    hit = Some((with_export(child), child, text(src, name).to_string()));
                }
            }
            "method_definition" => {
                if let Some(name) = child.child_by_field_name("name") {
                    hit = Some((child, child, text(src, name).to_string()));
                }
            }
            "lexical_declaration" | "variable_declaration" => {
                let mut c = child.walk();
                let decls: Vec<Node> = child
                    .named_children(&mut c)
                    .filter(|n| n.kind() == "variable_declarator")
                    .collect();
                if let [d] = decls[..] {
                    if let (Some(name), Some(value)) = (
                        d.child_by_field_name("name"),
                        d.child_by_field_name("value"),
                    ) {
                        if is_js_function(value) {
                            hit = Some((with_export(child), value, text(src, name).to_string()));
                        }
                    }
                }
            }
            "expression_statement" => {
                let mut c = child.walk();
                let expr = child.named_children(&mut c).next();
                if let Some(e) = expr.filter(|e| e.kind() == "assignment_expression") {
                    if let (Some(l), Some(r)) = (
                        e.child_by_field_name("left"),
                        e.child_by_field_name("right"),
                    ) {
                        if is_js_function(r) {
                            hit = Some((child, r, text(src, l).to_string()));
                        }
                    }
                }
            }
            "pair" => {
                if let (Some(k), Some(v)) = (
                    child.child_by_field_name("key"),
                    child.child_by_field_name("value"),
                ) {
                    if is_js_function(v) {
                        let k = text(src, k).trim_matches(['"', '\'', '`']).to_string();
                        hit = Some((child, v, k));
                    } else if v.kind() == "object" {
                        scope.push(text(src, k).trim_matches(['"', '\'', '`']).to_string());
                        js_visit(src, lang, v, scope, out);
                        scope.pop();
                    }
                }
            }
            "class_declaration" | "abstract_class_declaration" | "class" => {
                if let (Some(name), Some(body)) = (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("body"),
                ) {
                    scope.push(text(src, name).to_string());
                    js_visit(src, lang, body, scope, out);
                    scope.pop();
                }
            }
            "export_statement" | "program" | "statement_block" | "if_statement" | "else_clause" => {
                js_visit(src, lang, child, scope, out)
            }
            // `module.exports = { ... }`, IIFE wrappers `(function () { ... })()`.
            "object" | "parenthesized_expression" | "call_expression" | "arguments" => {
                js_visit(src, lang, child, scope, out)
            }
            _ => {}
        }
        // Function bodies of IIFEs hold the module's code in older packages.
        if matches!(child.kind(), "function_expression" | "arrow_function") && hit.is_none() {
            if let Some(body) = child.child_by_field_name("body") {
                js_visit(src, lang, body, scope, out);
            }
        }
        if child.kind() == "expression_statement" && hit.is_none() {
            let mut c = child.walk();
            let inner: Vec<Node> = child.named_children(&mut c).collect();
            for e in inner {
                if e.kind() == "assignment_expression" {
                    if let Some(r) = e.child_by_field_name("right") {
                        if r.kind() == "object" {
                            js_visit(src, lang, r, scope, out);
                        }
                    }
                } else {
                    js_visit(src, lang, e, scope, out);
                }
            }
        }
        let Some((doc_node, func, name)) = hit else {
            continue;
        };
        let Some(body) = func
            .child_by_field_name("body")
            .filter(|b| b.kind() == "statement_block")
        else {
            continue;
        };
        let (docs, first) = attached(src, doc_node, lang);
        if docs.is_empty() {
            continue;
        }
        let mut symbol = scope.join(".");
        if !symbol.is_empty() {
            symbol.push('.');
        }
        symbol.push_str(&name);
        out.push(Found {
            line: doc_node.start_position().row + 1,
            symbol,
            comments: docs,
            code: code_from(src, first, doc_node),
            body_lines: body_lines(text(src, body)),
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let set = args
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("usage: build_set rust|js [...]"));
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut out_file: Option<PathBuf> = None;
    let (mut limit, mut seed) = (2000usize, 20240509u64);
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--root" => roots.push(v.into()),
            "--out" => out_file = Some(v.into()),
            "--limit" => limit = v.parse().expect("--limit N"),
            "--seed" => seed = v.parse().expect("--seed N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let (files, base): (Vec<PathBuf>, PathBuf) = match set.as_str() {
        "rust" => {
            let crates = if roots.is_empty() {
                newest_crates()
            } else {
                roots.clone()
            };
            let mut files = Vec::new();
            for c in &crates {
                walk(c, &|p| p.extension().is_some_and(|e| e == "rs"), &mut files);
            }
            eprintln!("rust: {} crates, {} files", crates.len(), files.len());
            let base = crates
                .first()
                .and_then(|c| c.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            (files, base)
        }
        "js" => {
            if roots.is_empty() {
                roots.push("/usr/lib/node_modules".into());
            }
            let keep = |p: &Path| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                (n.ends_with(".js")
                    || n.ends_with(".mjs")
                    || n.ends_with(".cjs")
                    || n.ends_with(".ts")
                    || n.ends_with(".tsx"))
                    && !n.ends_with(".d.ts")
                    && !n.ends_with(".min.js")
            };
            let mut files = Vec::new();
            for r in &roots {
                walk(r, &keep, &mut files);
            }
            eprintln!("js: {} files", files.len());
            (files, roots[0].clone())
        }
        other => panic!("unknown set {other} (rust|js)"),
    };

    let mut parsers: HashMap<&'static str, Parser> = HashMap::new();
    let mut candidates: Vec<(Lang, Pair)> = Vec::new();
    let (mut documented, mut short, mut no_query, mut in_code) = (0usize, 0usize, 0usize, 0usize);
    for f in &files {
        let Ok(src) = std::fs::read_to_string(f) else {
            continue;
        };
        let name = f.to_string_lossy();
        let lang = if set == "rust" {
            Lang::Rust
        } else if name.ends_with(".tsx") {
            Lang::Tsx
        } else if name.ends_with(".ts") {
            Lang::TypeScript
        } else {
            Lang::JavaScript
        };
        let key = match lang {
            Lang::Tsx => "tsx",
            l => l.name(),
        };
        let parser = parsers.entry(key).or_insert_with(|| {
            let mut p = Parser::new();
            p.set_language(&lang.language()).expect("grammar");
            p
        });
        let Some(tree) = parser.parse(&src, None) else {
            continue;
        };
        let mut found = Vec::new();
        if lang == Lang::Rust {
            rust_visit(&src, tree.root_node(), &mut Vec::new(), &mut found);
        } else {
            js_visit(&src, lang, tree.root_node(), &mut Vec::new(), &mut found);
        }
        let rel = f
            .strip_prefix(&base)
            .unwrap_or(f)
            .to_string_lossy()
            .to_string();
        for fd in found {
            documented += 1;
            if fd.body_lines < 3 {
                short += 1;
                continue;
            }
            let comments: Vec<&str> = fd.comments.iter().map(String::as_str).collect();
            let Some(query) = query_of(&comments) else {
                no_query += 1;
                continue;
            };
            let bare = query.trim_end_matches(['.', '!', '?']).to_lowercase();
            if fd.code.to_lowercase().contains(&bare) {
                in_code += 1;
                continue;
            }
            let prefix = if set == "rust" { "rs" } else { "js" };
            candidates.push((
                lang,
                Pair {
                    id: format!("{prefix}/{rel}:{}:{}", fd.line, fd.symbol),
                    query,
                    code: fd.code,
                    path: rel.clone(),
                    symbol: fd.symbol,
                },
            ));
        }
    }
    let n_found = candidates.len();
    let (mut seen_code, mut seen_query) = (HashSet::new(), HashSet::new());
    candidates.retain(|(_, p)| {
        seen_code.insert(p.code.clone()) & seen_query.insert(p.query.to_lowercase())
    });
    eprintln!(
        "{set}: {documented} documented functions; {short} with a body under 3 lines, {no_query} without a usable first sentence, {in_code} whose query occurs in the code; {n_found} candidates, {} after dedupe",
        candidates.len()
    );
    // Seeded sample, kept in walk order.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    let mut rng = SplitMix(seed);
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order.truncate(limit);
    order.sort_unstable();
    let out_file = out_file.unwrap_or_else(|| {
        PathBuf::from(format!("/root/.cache/codevec/eval/codesearch-{set}.jsonl"))
    });
    std::fs::create_dir_all(out_file.parent().unwrap_or(Path::new("."))).expect("output dir");
    let mut out = String::new();
    let mut by_lang: HashMap<&str, usize> = HashMap::new();
    for &i in &order {
        let (lang, p) = &candidates[i];
        *by_lang.entry(lang.name()).or_insert(0) += 1;
        let row = serde_json::json!({
            "id": p.id, "query": p.query, "code": p.code, "lang": lang.name(),
            "source": p.path, "path": p.path, "symbol": p.symbol,
        });
        out.push_str(&row.to_string());
        out.push('\n');
    }
    std::fs::write(&out_file, out).expect("writing the set");
    eprintln!(
        "{set}: wrote {} pairs to {} ({by_lang:?})",
        order.len(),
        out_file.display()
    );
}
