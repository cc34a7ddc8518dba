//! The architecture's rules, checked on the sources (docs/architecture.md has the layers):
//!
//! - dependencies run one way: from the commands, through the stages, down to `model`,
//!   `pg` and `sqlite`. Each top-level module has a layer; a `use` of a module in a higher
//!   layer is a back-pointing import, and at most [`MAX_BACK_POINTING`] are allowed, each
//!   listed in [`ALLOWED_BACK_POINTING`] with its reason;
//! - no import circles between files (a `mod.rs` re-exporting its own children is its
//!   facade, not a dependency) nor between top-level modules;
//! - `clap` only in `cli.rs`, `copy_in` only under `src/copy/`, `LITE2PG_*` variables read
//!   only by the binary (`cli.rs`, `main.rs`) and the failpoints;
//! - sizes: no source file over 800 lines, median at most 250.
//!
//! `LITE2PG_ARCH=1 cargo test --test architecture -- --nocapture` prints the figures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may use modules of its own or a lower layer.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("failpoint", 0),
    ("output", 0),
    ("model", 0),
    ("pg", 1),
    ("sqlite", 1),
    ("embedded", 1),
    ("plan", 2),
    ("translate", 3),
    ("copy", 3),
    ("verify", 4),
    ("migrate", 5),
    ("capture", 6),
    ("demo", 7),
];

/// Back-pointing imports that are there on purpose: (from file, to file, why).
const ALLOWED_BACK_POINTING: &[(&str, &str, &str)] = &[];

/// The ceiling; the list above is the real rule.
const MAX_BACK_POINTING: usize = 2;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = entry.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/verify/canon.rs` → `["verify", "canon"]`.
fn module_path(file: &str) -> Vec<String> {
    let rel = file.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

fn is_facade(file: &str) -> bool {
    file.ends_with("mod.rs") || file.ends_with("lib.rs") || file.ends_with("main.rs")
}

/// Source text without `//` comments and string literals, so a path in a doc comment or a
/// message is not an import.
fn code_only(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_str {
                if c == '"' && prev != '\\' {
                    in_str = false;
                }
                prev = if prev == '\\' && c == '\\' { ' ' } else { c };
                continue;
            }
            if c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\'' {
                in_str = true;
            }
            out.push(c);
            prev = c;
        }
        out.push('\n');
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts at `at` (just after `crate`, `super` or a child module name):
/// `::a::b` and, for `::{x, y::z}`, one path per member.
fn paths_after(code: &str, at: usize) -> Vec<Vec<String>> {
    let b = code.as_bytes();
    let mut i = at;
    let mut base = Vec::new();
    while code[i..].starts_with("::") {
        i += 2;
        if b.get(i) == Some(&b'{') {
            let end = code[i..].find('}').map(|e| i + e).unwrap_or(code.len());
            let mut out = vec![base.clone()];
            for member in code[i + 1..end].split(',') {
                let parts: Vec<String> = member
                    .split("::")
                    .map(|p| p.trim().trim_matches(|c| c == '{' || c == '}').trim())
                    .filter(|p| !p.is_empty() && *p != "self")
                    .map(str::to_string)
                    .collect();
                let mut p = base.clone();
                p.extend(parts);
                out.push(p);
            }
            return out;
        }
        let start = i;
        while i < b.len() && ident_char(b[i] as char) {
            i += 1;
        }
        if start == i {
            break;
        }
        base.push(code[start..i].to_string());
    }
    vec![base]
}

struct Tree {
    /// File → its code without comments and strings.
    code: BTreeMap<String, String>,
    /// Module path → file.
    modules: BTreeMap<Vec<String>, String>,
}

impl Tree {
    fn read() -> Tree {
        let mut files = Vec::new();
        rust_files(Path::new("src"), &mut files);
        let mut code = BTreeMap::new();
        let mut modules = BTreeMap::new();
        for f in files {
            let name = f.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&f).expect("a readable source file");
            modules.insert(module_path(&name), name.clone());
            code.insert(name, code_only(&text));
        }
        Tree { code, modules }
    }

    /// The file a module path lands in: the longest prefix that is a module.
    fn resolve(&self, path: &[String]) -> Option<&String> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.modules.get(&path[..n]))
    }

    /// File-level imports: `crate::…`, `super::…`, and paths through a file's own child
    /// modules. A facade's edges to its own descendants are left out.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (file, code) in &self.code {
            let me = module_path(file);
            let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
            let children: Vec<String> = code
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let l = l
                        .strip_prefix("pub(crate) ")
                        .or_else(|| l.strip_prefix("pub "))
                        .unwrap_or(l);
                    l.strip_prefix("mod ")?
                        .strip_suffix(';')
                        .map(|n| n.trim().to_string())
                })
                .collect();
            let mut roots: Vec<(String, Vec<String>)> = vec![
                ("crate".into(), Vec::new()),
                ("super".into(), parent.clone()),
            ];
            for ch in &children {
                let mut p = me.clone();
                p.push(ch.clone());
                roots.push((ch.clone(), p));
            }
            let out = edges.entry(file.clone()).or_default();
            for (word, base) in roots {
                let mut from = 0;
                while let Some(pos) = code[from..].find(&word) {
                    let at = from + pos;
                    from = at + word.len();
                    let before = code[..at].chars().next_back();
                    if before.is_some_and(|c| ident_char(c) || c == ':') {
                        continue;
                    }
                    if !code[from..].starts_with("::") {
                        continue;
                    }
                    for rest in paths_after(code, from) {
                        let mut p = base.clone();
                        p.extend(rest);
                        if let Some(t) = self.resolve(&p) {
                            if t != file {
                                out.insert(t.clone());
                            }
                        }
                    }
                }
            }
            if is_facade(file) {
                out.retain(|t| !module_path(t).starts_with(&me));
            }
        }
        edges
    }
}

/// Strongly connected components with more than one member.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    let nodes: Vec<&String> = edges.keys().collect();
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for n in &nodes {
        let mut stack = vec![((*n).clone(), false)];
        while let Some((v, done)) = stack.pop() {
            if done {
                order.push(v);
                continue;
            }
            if !seen.insert(v.clone()) {
                continue;
            }
            stack.push((v.clone(), true));
            for w in edges.get(&v).into_iter().flatten() {
                if !seen.contains(w) {
                    stack.push((w.clone(), false));
                }
            }
        }
    }
    let mut reverse: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for (a, bs) in edges {
        for b in bs {
            reverse.entry(b).or_default().push(a);
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for v in order.iter().rev() {
        if assigned.contains(v) {
            continue;
        }
        let mut comp = Vec::new();
        let mut stack = vec![v];
        assigned.insert(v.clone());
        while let Some(x) = stack.pop() {
            comp.push(x.clone());
            for w in reverse.get(x).into_iter().flatten() {
                if assigned.insert((*w).clone()) {
                    stack.push(w);
                }
            }
        }
        if comp.len() > 1 {
            comp.sort();
            out.push(comp);
        }
    }
    out
}

fn top(file: &str) -> String {
    module_path(file).first().cloned().unwrap_or_default()
}

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn show() -> bool {
    std::env::var_os("LITE2PG_ARCH").is_some()
}

#[test]
fn imports_run_one_way_without_circles() {
    let tree = Tree::read();
    let edges = tree.edges();
    let file_circles = circles(&edges);
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut back = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            let (a, b) = (top(from), top(to));
            if a.is_empty() || b.is_empty() || a == b {
                continue;
            }
            modules.entry(a.clone()).or_default().insert(b.clone());
            if let (Some(la), Some(lb)) = (layer(&a), layer(&b)) {
                if lb > la {
                    back.push((from.clone(), to.clone()));
                }
            }
        }
    }
    let module_circles = circles(&modules);
    if show() {
        println!("file-level circles: {file_circles:?}");
        println!("module-level circles: {module_circles:?}");
        println!("back-pointing imports: {back:?}");
    }
    let unlayered: Vec<String> = tree
        .code
        .keys()
        .map(|f| top(f))
        .filter(|m| !m.is_empty() && m != "cli" && layer(m).is_none())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        unlayered.is_empty(),
        "give these top-level modules a layer in LAYERS (and docs/architecture.md): {unlayered:?}"
    );
    assert!(
        file_circles.len() + module_circles.len() <= 1,
        "import circles: files {file_circles:?}, modules {module_circles:?}"
    );
    let unexplained: Vec<_> = back
        .iter()
        .filter(|(f, t)| {
            !ALLOWED_BACK_POINTING
                .iter()
                .any(|(a, b, _)| a == f && b == t)
        })
        .collect();
    assert!(
        unexplained.is_empty() && back.len() <= MAX_BACK_POINTING,
        "imports pointing up the layers (move the type down, or list the import with a \
         reason): {unexplained:?}"
    );
}

#[test]
fn clap_is_used_only_by_the_cli() {
    let tree = Tree::read();
    let users: Vec<&String> = tree
        .code
        .iter()
        .filter(|(f, code)| code.contains("use clap") && f.as_str() != "src/cli.rs")
        .map(|(f, _)| f)
        .collect();
    assert!(users.is_empty(), "clap outside src/cli.rs: {users:?}");
}

/// Files that may read a `LITE2PG_*` variable besides the binary, with why.
const ENV_READERS: &[(&str, &str)] = &[
    (
        "src/failpoint.rs",
        "crash and delay points are armed from the environment of the process under test",
    ),
    (
        "src/embedded.rs",
        "LITE2PG_PG_BIN says where the server binaries are, like PATH; the test harness \
         starts its cluster through the library, not the binary",
    ),
];

#[test]
fn knobs_arrive_in_requests_not_from_the_environment() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut readers = Vec::new();
    for f in files {
        let name = f.to_string_lossy().replace('\\', "/");
        if name == "src/cli.rs" || name == "src/main.rs" {
            continue;
        }
        // Strings are the point here, so read the raw text (comments excluded).
        let text = std::fs::read_to_string(&f).expect("a readable source file");
        let reads = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .any(|l| l.contains("\"LITE2PG_"));
        if reads && !ENV_READERS.iter().any(|(r, _)| *r == name) {
            readers.push(name);
        }
    }
    assert!(
        readers.is_empty(),
        "these read LITE2PG_* variables: make them request fields set in src/cli.rs: {readers:?}"
    );
}

#[test]
fn copy_in_is_called_only_by_the_copy_stage() {
    let tree = Tree::read();
    let callers: Vec<&String> = tree
        .code
        .iter()
        .filter(|(f, code)| code.contains(".copy_in(") && !f.starts_with("src/copy/"))
        .map(|(f, _)| f)
        .collect();
    assert!(
        callers.is_empty(),
        "COPY FROM STDIN outside src/copy/ (use copy::copy_in::send, which checks the row \
         count): {callers:?}"
    );
}

/// Every function in `src/`, with its length in lines and the doc comment above it.
fn functions() -> Vec<(String, String, usize, String)> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a readable source file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let rest = trimmed
                .strip_prefix("pub(crate) ")
                .or_else(|| trimmed.strip_prefix("pub "))
                .unwrap_or(trimmed);
            let rest = rest.strip_prefix("async ").unwrap_or(rest);
            let Some(name) = rest.strip_prefix("fn ") else {
                continue;
            };
            let name: String = name.chars().take_while(|c| ident_char(*c)).collect();
            let close = format!("{}}}", " ".repeat(indent));
            let Some(end) = lines[i..].iter().position(|l| l.trim_end() == close) else {
                continue;
            };
            let mut doc = Vec::new();
            let mut k = i;
            while k > 0 && lines[k - 1].trim_start().starts_with("///") {
                k -= 1;
                doc.push(lines[k].trim_start());
            }
            out.push((
                f.to_string_lossy().into_owned(),
                name,
                end + 1,
                doc.join(" "),
            ));
        }
    }
    out
}

#[test]
fn no_function_is_over_150_lines_without_a_stated_reason() {
    let long: Vec<String> = functions()
        .into_iter()
        .filter(|(_, _, n, doc)| *n > 150 && !doc.contains("Length:"))
        .map(|(f, name, n, _)| format!("{f}: {name} ({n} lines)"))
        .collect();
    assert!(
        long.is_empty(),
        "split these along their jobs, or say why not in a `/// Length:` line: {long:?}"
    );
}

#[test]
fn no_source_file_is_over_800_lines_and_the_median_is_at_most_250() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut sizes: Vec<(usize, String)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("a readable source file");
            (text.lines().count(), f.to_string_lossy().into_owned())
        })
        .collect();
    sizes.sort();
    let n = sizes.len();
    let median = if n % 2 == 1 {
        sizes[n / 2].0 as f64
    } else {
        (sizes[n / 2 - 1].0 + sizes[n / 2].0) as f64 / 2.0
    };
    if show() {
        println!(
            "files {n}, median {median} lines, largest {:?}",
            sizes.last()
        );
    }
    let big: Vec<&(usize, String)> = sizes.iter().filter(|(l, _)| *l > 800).collect();
    assert!(big.is_empty(), "files over 800 lines: {big:?}");
    assert!(median <= 250.0, "median file {median} lines, over 250");
}
