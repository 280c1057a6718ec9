//! The build's guard on the shape of `shared/`: the domain modules depend on
//! each other without cycles, index and TTL attributes are named only where
//! their items are shaped, and no source file grows past 500 lines. A tie
//! that breaks one of these belongs in a lower layer or behind a listener
//! trait (see `battles::results::ResultListener`). That the foundation (ids,
//! clock, table keys, errors, DynamoDB plumbing) sees no domain is the
//! compiler's to check: it is a crate of its own (`shared/foundation`).
//!
//! The reading is textual: every `use` tree and every `crate::`/`super::`
//! path in a file (its `#[cfg(test)]` tail excluded) is resolved to the
//! deepest module file it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

#[test]
fn shared_modules_form_no_cycle() {
    let graph = module_graph();
    let cycles = strongly_connected(&graph);
    let report: Vec<String> = cycles
        .iter()
        .map(|members| {
            let ties: Vec<String> = members
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|to| members.contains(to))
                        .map(move |to| format!("  {from} -> {to}"))
                })
                .collect();
            format!("{}\n{}", members.join(", "), ties.join("\n"))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles among shared/ modules (members, then the ties inside):\n{}",
        report.join("\n")
    );
}

#[test]
fn no_source_file_over_500_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rust_files(&root.join("src"));
    files.extend(rust_files(&root.join("http/src")));
    files.extend(rust_files(&root.join("foundation/src")));
    if let Ok(functions) = std::fs::read_dir(root.join("../functions")) {
        for f in functions.flatten() {
            files.extend(rust_files(&f.path().join("src")));
        }
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines})", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

/// The attributes that put an item in an index, and the TTL attribute:
/// named only by the modules that own the items' shapes (`keys/`, and the
/// SMS log's own module for its `due` and `provider_message` indexes), so
/// that a writer cannot set one by hand and forget the rest.
const INDEX_AND_TTL_ATTRIBUTES: &[&str] = &[
    "expires_at",
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "online_shard",
    "online_until",
    "leaderboard_shard",
    "active_date",
    "streak_alert_hour",
    "due_shard",
    "due_at",
    "provider_message_id",
];

#[test]
fn index_and_ttl_attributes_are_named_only_where_items_are_shaped() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rust_files(&root.join("src"));
    files.extend(rust_files(&root.join("foundation/src")));
    if let Ok(functions) = std::fs::read_dir(root.join("../functions")) {
        for f in functions.flatten() {
            files.extend(rust_files(&f.path().join("src")));
        }
    }
    let owners = [
        root.join("foundation/src/keys"),
        root.join("src/sms/log.rs"),
    ];
    let mut offending = Vec::new();
    for file in files
        .iter()
        .filter(|f| !owners.iter().any(|o| f.starts_with(o)))
    {
        let source = std::fs::read_to_string(file).unwrap();
        for (line, text) in attribute_namings(&source) {
            offending.push(format!("{}:{line}: {text}", file.display()));
        }
    }
    assert!(
        offending.is_empty(),
        "index or TTL attributes named outside their item's module: {offending:#?}"
    );
}

/// The lines (before the `#[cfg(test)]` tail, comments aside) that name an
/// index or TTL attribute as a string of its own (not a JSON field of a
/// response, `"name": ...`), or in the SET or REMOVE clause of an expression.
fn attribute_namings(source: &str) -> Vec<(usize, String)> {
    let source = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        let named = INDEX_AND_TTL_ATTRIBUTES.iter().any(|attr| {
            let quoted = format!("\"{attr}\"");
            let literal = code
                .match_indices(&quoted)
                .any(|(at, _)| !code[at + quoted.len()..].trim_start().starts_with(':'));
            let in_clause = code.contains('"')
                && ["SET ", "REMOVE "].iter().any(|clause| {
                    code.split(clause).skip(1).any(|rest| {
                        rest.split('"')
                            .next()
                            .unwrap_or("")
                            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .any(|word| word == *attr)
                    })
                });
            literal || in_clause
        });
        if named {
            found.push((i + 1, code.to_string()));
        }
    }
    found
}

#[test]
fn attribute_namings_are_found_as_strings_and_clauses_only() {
    let source = r#"
        item.insert("expires_at".into(), n(1)); // "gsi1pk" in a comment
        json!({ "expires_at": when });
        let due_at = 3;
        .update_expression("SET last_at = :now, expires_at = :exp")
        .update_expression("SET #exp = :exp")
        .key_condition_expression("online_shard = :shard")
        #[cfg(test)]
        item.insert("gsi1pk".into(), s("x"));
    "#;
    let lines: Vec<usize> = attribute_namings(source)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(lines, [2, 5]);
}

#[test]
fn the_reader_sees_use_trees_and_inline_paths() {
    let modules: BTreeSet<String> = ["", "a", "a::b", "a::b::e", "a::d", "c", "d"]
        .map(String::from)
        .into();
    let source = "use crate::{a::b::{self, X}, c};\nuse e::F;\nfn f() { super::d::g(); let s = \"crate::zz\"; } // crate::zz\n#[cfg(test)]\nmod tests { use crate::d; }";
    assert_eq!(
        dependencies("a::b", source, &modules),
        ["a::b::e", "a::d", "c"].map(String::from).into()
    );
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<(String, PathBuf)> = rust_files(&src)
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap().with_extension("");
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let is_dir_module = matches!(parts.last().map(String::as_str), Some("mod" | "lib"));
            let name = if is_dir_module {
                parts[..parts.len() - 1].join("::")
            } else {
                parts.join("::")
            };
            (name, f)
        })
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    files
        .iter()
        .map(|(module, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            let deps = dependencies(module, &text, &modules);
            (module.clone(), deps)
        })
        .collect()
}

/// The modules `module`'s source refers to, itself excluded.
fn dependencies(module: &str, source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_only(source);
    let mut paths = Vec::new();
    let (statements, code) = use_statements(&code);
    let mut facade = Vec::new();
    for (is_pub, statement) in statements {
        expand_use_tree(
            &statement,
            "",
            if is_pub { &mut facade } else { &mut paths },
        );
    }
    paths.extend(inline_paths(&code));
    // A `pub use` of the module's own children only names them for callers
    // (a facade); the module's code does not depend on them. Any other
    // re-export is a dependency like an import.
    let own_child = |p: &str| {
        p.split("::")
            .next()
            .is_some_and(|first| first == "self" || modules.contains(&join(module, first)))
    };
    paths.extend(facade.into_iter().filter(|p| !own_child(p)));
    let mut deps = BTreeSet::new();
    for path in paths {
        // A bare path (`use child::Item;`) names a child module of this one.
        let path = match path.split("::").next() {
            Some("crate" | "super" | "self") => path,
            Some(first) if modules.contains(&join(module, first)) => format!("self::{path}"),
            _ => continue,
        };
        let Some(segments) = absolute(module, &path) else {
            continue;
        };
        let mut target = None;
        for len in (0..=segments.len()).rev() {
            let candidate = segments[..len].join("::");
            if modules.contains(&candidate) {
                target = Some(candidate);
                break;
            }
        }
        if let Some(t) = target {
            if t != module {
                deps.insert(t);
            }
        }
    }
    deps
}

fn join(module: &str, child: &str) -> String {
    if module.is_empty() {
        child.to_string()
    } else {
        format!("{module}::{child}")
    }
}

/// `crate::a::b`, `super::x`, `self::y` as module segments from the crate root.
fn absolute(module: &str, path: &str) -> Option<Vec<String>> {
    let mut current: Vec<String> = if module.is_empty() {
        vec![]
    } else {
        module.split("::").map(String::from).collect()
    };
    let mut parts = path.split("::").filter(|p| !p.is_empty()).peekable();
    match parts.peek().copied() {
        Some("crate") => {
            parts.next();
            current.clear();
        }
        Some("super" | "self") => {}
        _ => return None,
    }
    for part in parts {
        match part {
            "super" => {
                current.pop()?;
            }
            "self" => {}
            other => current.push(other.to_string()),
        }
    }
    Some(current)
}

/// The source without comments, string and char literals, and without the
/// `#[cfg(test)]` tail (its `super` is the file's own module).
fn code_only(source: &str) -> String {
    let source = match source.find("#[cfg(test)]") {
        Some(i) => &source[..i],
        None => source,
    };
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char(chars.get(i.wrapping_sub(1)).copied())
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Each `use ...;` as (is it `pub`, its tree), and the code without them.
fn use_statements(code: &str) -> (Vec<(bool, String)>, String) {
    let mut out = Vec::new();
    let mut rest = String::with_capacity(code.len());
    let bytes = code.as_bytes();
    let mut search = 0;
    let mut copied = 0;
    while let Some(found) = code[search..].find("use ") {
        let start = search + found;
        search = start + 4;
        if start > 0 && ident_char(Some(bytes[start - 1] as char)) {
            continue;
        }
        let Some(end) = code[start..].find(';') else {
            break;
        };
        let before = code[..start].trim_end();
        let is_pub = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        out.push((
            is_pub,
            code[start + 4..start + end].split_whitespace().collect(),
        ));
        rest.push_str(&code[copied..start]);
        copied = start + end;
        search = start + end;
    }
    rest.push_str(&code[copied..]);
    (out, rest)
}

/// `a::{b, c::{self, D}}` into `a::b`, `a::c`, `a::c::D`.
fn expand_use_tree(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree
            .split(" as ")
            .next()
            .unwrap_or(tree)
            .trim_end_matches("::*");
        let path = path.trim_end_matches("::self");
        if path == "self" {
            out.push(prefix.trim_end_matches("::").to_string());
        } else {
            out.push(format!("{prefix}{path}"));
        }
        return;
    };
    let head = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut depth = 0;
    let mut piece = String::new();
    for c in inner.chars().chain(std::iter::once(',')) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if !piece.trim().is_empty() {
                    expand_use_tree(&piece, &format!("{prefix}{head}"), out);
                }
                piece.clear();
                continue;
            }
            _ => {}
        }
        piece.push(c);
    }
}

/// Every `crate::…`, `super::…` or `self::…` path written in expressions and types.
fn inline_paths(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if ident_char(Some(chars[i])) && !ident_char(i.checked_sub(1).map(|p| chars[p])) {
            let mut j = i;
            let mut path = String::new();
            loop {
                let start = j;
                while j < chars.len() && ident_char(Some(chars[j])) {
                    j += 1;
                }
                if start == j {
                    break;
                }
                path.extend(&chars[start..j]);
                if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                    path.push_str("::");
                    j += 2;
                } else {
                    break;
                }
            }
            let path = path.trim_end_matches("::").to_string();
            let first = path.split("::").next().unwrap_or("");
            if matches!(first, "crate" | "super") && path.contains("::") {
                out.push(path);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Tarjan's strongly connected components with more than one member.
fn strongly_connected(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}
