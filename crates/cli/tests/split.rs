//! Splitting fixtures: symbols, line numbers and snippet text per language.

use codevec_cli::lang::Grammar;
use codevec_cli::split::{split, Snippet};
use std::path::Path;

fn fixture(name: &str) -> String {
    let path = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("tests/fixtures/split")
    .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Splits a fixture and checks the invariants every snippet must satisfy:
/// 1-based inclusive lines inside the file, and `code` equal to the text of
/// those lines (or a suffix of the first line when the definition does not
/// start a line).
fn split_fixture(name: &str) -> Vec<Snippet> {
    let src = fixture(name);
    let grammar = Grammar::from_path(Path::new(name)).expect("known extension");
    let snippets = split(grammar, &src).expect("parses");
    let lines: Vec<&str> = src.lines().collect();
    for s in &snippets {
        assert!(s.start_line >= 1 && s.start_line <= s.end_line, "{s:?}");
        assert!(s.end_line <= lines.len(), "{s:?}");
        let span = lines[s.start_line - 1..s.end_line].join("\n");
        assert!(
            span.contains(&s.code) && span.lines().count() == s.code.lines().count(),
            "{name} {}: code is not the text of its lines\n{span}\n---\n{}",
            s.symbol,
            s.code
        );
        assert!(!s.code.is_empty());
    }
    snippets
}

fn summary(snippets: &[Snippet]) -> Vec<(String, usize, usize)> {
    snippets
        .iter()
        .map(|s| (s.symbol.clone(), s.start_line, s.end_line))
        .collect()
}

fn expect(snippets: &[Snippet], want: &[(&str, usize, usize)]) {
    let want: Vec<(String, usize, usize)> = want
        .iter()
        .map(|(s, a, b)| (s.to_string(), *a, *b))
        .collect();
    assert_eq!(summary(snippets), want);
}

fn code_of<'a>(snippets: &'a [Snippet], symbol: &str) -> &'a str {
    &snippets
        .iter()
        .find(|s| s.symbol == symbol)
        .unwrap_or_else(|| panic!("no {symbol}"))
        .code
}

#[test]
fn python_functions_methods_decorators_nested_classes() {
    let s = split_fixture("sample.py");
    expect(
        &s,
        &[
            ("top_level", 5, 6),
            ("decorated", 9, 13),
            ("Parser.__init__", 19, 20),
            ("Parser.size", 22, 24),
            ("Parser.parse", 26, 29),
            ("Parser.Inner.deep", 32, 33),
            ("conditional", 37, 38),
            ("after_statement", 41, 42),
        ],
    );
    // Comment and both decorators belong to the function.
    assert!(code_of(&s, "decorated").starts_with("# Parses things.\n@functools.lru_cache"));
    assert!(code_of(&s, "Parser.size").starts_with("    @property\n    def size"));
    // The nested helper stays inside its function.
    assert!(code_of(&s, "Parser.parse").contains("def helper(z):"));
    // A trailing comment of the previous statement is not attached.
    assert!(code_of(&s, "after_statement").starts_with("def after_statement"));
}

#[test]
fn python_comment_before_first_method_is_attached() {
    let src = "class A:\n    # leading comment\n    def f(self):\n        pass\n";
    let s = split(Grammar::Python, src).unwrap();
    expect(&s, &[("A.f", 2, 4)]);
    assert_eq!(
        s[0].code,
        "    # leading comment\n    def f(self):\n        pass"
    );
}

#[test]
fn rust_impls_traits_modules_attributes() {
    let s = split_fixture("sample.rs");
    expect(
        &s,
        &[
            ("add_one", 3, 7),
            ("Foo::new", 14, 18),
            ("Foo::get", 20, 22),
            ("Foo::fmt", 26, 28),
            ("Greet::greet", 34, 36),
            ("str::name", 42, 44),
            ("tests::it_works", 49, 52),
        ],
    );
    assert!(code_of(&s, "add_one").starts_with("/// Adds one.\n#[inline]\npub fn add_one"));
    assert!(code_of(&s, "tests::it_works").starts_with("    #[test]\n    fn it_works"));
    assert!(code_of(&s, "Foo::new").contains("fn inner() {}"));
}

#[test]
fn rust_blank_line_detaches_comment() {
    let s = split(
        Grammar::Rust,
        "fn a() {}\n\n// x\n\n/* block */\n#[test]\nfn b() {}\n",
    )
    .unwrap();
    expect(&s, &[("a", 1, 1), ("b", 5, 7)]);
}

#[test]
fn javascript_functions_classes_arrows_objects() {
    let s = split_fixture("sample.js");
    expect(
        &s,
        &[
            ("add", 3, 8),
            ("double", 10, 10),
            ("triple", 12, 14),
            ("a", 16, 16),
            ("b", 16, 16),
            ("default", 18, 20),
            ("Parser.handler", 24, 26),
            ("Parser.constructor", 28, 30),
            ("Parser.create", 32, 34),
            ("Parser.length", 36, 38),
            ("Parser.#hidden", 40, 42),
            ("Parser.parse", 44, 47),
            ("api.get", 51, 53),
            ("api.post", 54, 56),
            ("api.nested.deep", 58, 58),
            ("module.exports.run", 62, 64),
            ("Parser.prototype.extra", 66, 66),
            ("Memo", 68, 70),
            ("gen", 72, 74),
        ],
    );
    assert!(code_of(&s, "add").starts_with("/**\n * Adds numbers.\n */\nfunction add"));
    assert_eq!(code_of(&s, "double"), "export const double = (n) => n * 2;");
    assert_eq!(code_of(&s, "a"), "a = () => 1");
}

#[test]
fn javascript_default_exports() {
    let s = split(
        Grammar::JavaScript,
        "export default {\n  methods: {\n    go() {}\n  },\n};\n",
    )
    .unwrap();
    expect(&s, &[("default.methods.go", 3, 3)]);
    let s = split(
        Grammar::JavaScript,
        "export default async () => {\n  return 1;\n};\n",
    )
    .unwrap();
    expect(&s, &[("default", 1, 3)]);
}

#[test]
fn typescript_classes_decorators_overloads_namespaces() {
    let s = split_fixture("sample.ts");
    expect(
        &s,
        &[
            ("overloaded", 7, 9),
            ("Base.log", 16, 18),
            ("Widget.handler", 23, 25),
            ("Widget.onClick", 31, 34),
            ("Widget.area", 36, 38),
            ("Widget.describe", 40, 42),
            ("Geometry.distance", 46, 48),
            ("typed", 51, 51),
        ],
    );
    // Method decorators sit before the method in TypeScript's class body.
    assert!(code_of(&s, "Widget.onClick").starts_with("  @HostListener(\"click\")\n  onClick()"));
}

#[test]
fn typescript_nested_namespaces() {
    let src = "namespace A.B {\n  function f() {}\n}\nmodule M { export const g = () => 1; }\n";
    let s = split(Grammar::TypeScript, src).unwrap();
    expect(&s, &[("A.B.f", 2, 2), ("M.g", 4, 4)]);
}

#[test]
fn tsx_components() {
    let s = split_fixture("sample.tsx");
    expect(
        &s,
        &[("Hello", 5, 7), ("Card", 9, 13), ("App.render", 16, 18)],
    );
    assert!(code_of(&s, "Card").contains("<h1>{title}</h1>"));
}

#[test]
fn tsx_needs_its_own_grammar() {
    // JSX inside a .ts file is a syntax error; the TSX grammar handles it.
    let src = "export const C = () => <div>{1}</div>;\n";
    let s = split(Grammar::Tsx, src).unwrap();
    expect(&s, &[("C", 1, 1)]);
}

#[test]
fn go_functions_and_receivers() {
    let s = split_fixture("sample.go");
    expect(
        &s,
        &[
            ("Add", 5, 8),
            ("Server.Handle", 12, 18),
            ("Server.String", 20, 22),
            ("List.Push", 26, 28),
            ("Map", 30, 36),
        ],
    );
    assert!(code_of(&s, "Server.Handle")
        .starts_with("// Handle handles a request.\n// Second line of the doc.\nfunc (s *Server)"));
}

#[test]
fn empty_and_broken_files() {
    for g in [
        Grammar::Python,
        Grammar::Rust,
        Grammar::JavaScript,
        Grammar::TypeScript,
        Grammar::Tsx,
        Grammar::Go,
    ] {
        assert!(split(g, "").unwrap().is_empty());
    }
    // Syntax errors elsewhere do not hide the functions that parse.
    let s = split(
        Grammar::Python,
        "def ok():\n    return 1\n\nthis is ( not python\n",
    )
    .unwrap();
    assert_eq!(s.first().map(|s| s.symbol.as_str()), Some("ok"));
}

#[test]
fn crlf_line_endings() {
    let s = split(Grammar::Go, "package p\r\n\r\nfunc A() {\r\n}\r\n").unwrap();
    expect(&s, &[("A", 3, 4)]);
    assert_eq!(s[0].code, "func A() {\r\n}");
}
