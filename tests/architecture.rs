//! The architecture test: every dependency between accord's modules follows the layer table in
//! `docs/ARCHITECTURE.md` (the fenced block marked `layers`), and no module imports one that
//! imports it back. It parses every file under `src/` with `syn`: `use` items, paths written
//! inline (`crate::x::y`, `super::`, `self::`, a child module by name) and re-exports through
//! `lib.rs`. A planted violation (`tests/fixtures/architecture/`) must be reported, so the
//! test cannot pass by reading nothing.
//!
//! The layer block's grammar, one rule a line (`#` starts a comment):
//!
//! ```text
//! lib <n> <name>: <module> <module> ...      a layer of the library (higher n = higher layer)
//! bin <n> <name>: <module> <module> ...      a layer of the binary's `cli` modules
//! forbid <layer name> <path prefix>          no module of that layer may use that path
//! only <crate> <module> <module> ...         only these modules may use an external crate
//! ```
//!
//! A module may use modules of its own layer or of lower layers. Units are the library's
//! top-level modules (`crate::store`, `crate::codec` with all its files) and the binary's
//! `cli` modules (`cli::commands`, ...); `main` and `cli` (its `mod.rs`) sit on top.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layer rules read from ARCHITECTURE.md.
#[derive(Debug, Default)]
struct Rules {
    /// Unit → (crate side "lib"/"bin", layer number, layer name).
    layer: BTreeMap<String, (String, u32, String)>,
    /// (layer name, forbidden path prefix).
    forbid: Vec<(String, String)>,
    /// External crate → the units that may use it.
    only: BTreeMap<String, BTreeSet<String>>,
}

fn parse_rules(markdown: &str) -> Rules {
    let block = markdown
        .split("```layers\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("no ```layers block in ARCHITECTURE.md");
    let mut r = Rules::default();
    for line in block.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            side @ ("lib" | "bin") => {
                let n: u32 = words[1].parse().expect("layer number");
                let name = words[2].trim_end_matches(':').to_string();
                for m in &words[3..] {
                    let unit = if side == "bin" && *m != "main" && *m != "cli" {
                        format!("cli::{m}")
                    } else {
                        m.to_string()
                    };
                    let old = r.layer.insert(unit.clone(), (side.to_string(), n, name.clone()));
                    assert!(old.is_none(), "{unit} is in two layers");
                }
            }
            "forbid" => r.forbid.push((words[1].to_string(), words[2].to_string())),
            "only" => {
                r.only.insert(
                    words[1].to_string(),
                    words[2..].iter().map(|s| s.to_string()).collect(),
                );
            }
            other => panic!("unknown rule {other:?} in the layers block"),
        }
    }
    r
}

/// One source file: its module path and what it refers to.
struct Module {
    file: PathBuf,
    /// "lib" or "bin".
    side: &'static str,
    /// Module path segments below the crate root (`["cli", "commands"]`).
    path: Vec<String>,
    /// Paths it uses, made absolute where they are internal (`crate::...`), else as written.
    uses: Vec<Vec<String>>,
    /// As collected: (inline module depth, path as written).
    raw: Vec<(usize, Vec<String>)>,
}

/// Collects every path a file writes: use trees and inline paths, each with the depth of
/// inline modules (`mod tests { ... }`) it sits in, so that `super::` resolves right.
struct Collector {
    paths: Vec<(usize, Vec<String>)>,
    depth: usize,
}

impl Collector {
    fn use_tree(&mut self, prefix: &mut Vec<String>, t: &syn::UseTree) {
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut v = prefix.clone();
                if n.ident != "self" {
                    v.push(n.ident.to_string());
                }
                self.paths.push((self.depth, v));
            }
            syn::UseTree::Rename(n) => {
                let mut v = prefix.clone();
                v.push(n.ident.to_string());
                self.paths.push((self.depth, v));
            }
            syn::UseTree::Glob(_) => self.paths.push((self.depth, prefix.clone())),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.depth += 1;
        syn::visit::visit_item_mod(self, m);
        self.depth -= 1;
    }
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if u.leading_colon.is_some() {
            prefix.push("::".to_string());
        }
        self.use_tree(&mut prefix, &u.tree);
    }
    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() && p.segments.len() > 1 {
            self.paths.push((
                self.depth,
                p.segments.iter().map(|s| s.ident.to_string()).collect(),
            ));
        }
        syn::visit::visit_path(self, p);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Paths inside macro arguments (format!, matches!, ...) are tokens: look for
        // `crate :: x` and `super :: x` sequences in them.
        let toks: Vec<String> = m.tokens.clone().into_iter().map(|t| t.to_string()).collect();
        for (i, t) in toks.iter().enumerate() {
            if (t == "crate" || t == "super") && toks.get(i + 1).is_some_and(|c| c == ":") {
                let mut v = vec![t.clone()];
                let mut j = i + 1;
                while toks.get(j).is_some_and(|c| c == ":") && toks.get(j + 1).is_some_and(|c| c == ":") {
                    if let Some(seg) = toks.get(j + 2) {
                        v.push(seg.clone());
                    }
                    j += 3;
                }
                self.paths.push((self.depth, v));
            }
        }
        syn::visit::visit_macro(self, m);
    }
}

/// Every `.rs` file under `src`, with its module path.
fn modules(src: &Path) -> Vec<Module> {
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let mut path: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        let side = if path.first().is_some_and(|f| f == "main" || f == "cli") {
            "bin"
        } else {
            "lib"
        };
        if path == ["lib"] || path == ["main"] {
            path.clear();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut c = Collector {
            paths: Vec::new(),
            depth: 0,
        };
        c.visit_file(&ast);
        out.push(Module {
            file,
            side,
            path,
            uses: Vec::new(),
            raw: c.paths,
        });
    }
    // Make internal paths absolute: `super::`, `self::`, and a child module named directly.
    let known: BTreeSet<(&'static str, Vec<String>)> = out.iter().map(|m| (m.side, m.path.clone())).collect();
    for m in &mut out {
        let mut abs = Vec::new();
        for (depth, p) in &m.raw {
            let mut depth = *depth;
            let mut base = m.path.clone();
            let mut rest: &[String] = p;
            let mut internal = false;
            if rest.first().is_some_and(|s| s == "crate") {
                base.clear();
                rest = &rest[1..];
                internal = true;
            } else {
                while rest.first().is_some_and(|s| s == "super" || s == "self") {
                    if rest[0] == "super" {
                        // `super` inside an inline module leaves that module first.
                        if depth > 0 {
                            depth -= 1;
                        } else {
                            base.pop();
                        }
                    }
                    rest = &rest[1..];
                    internal = true;
                }
                if internal && depth > 0 {
                    // A path into an inline module of this file: the file itself.
                    rest = &[];
                }
                if !internal && depth == 0 {
                    let mut child = m.path.clone();
                    child.push(rest.first().cloned().unwrap_or_default());
                    internal = known.contains(&(m.side, child));
                }
            }
            if internal {
                let mut v = vec!["crate".to_string()];
                v.extend(base);
                v.extend(rest.iter().cloned());
                abs.push(v);
            } else {
                abs.push(p.clone());
            }
        }
        m.uses = abs;
    }
    out
}

/// The unit a path belongs to: `crate::store::x` → `store`, `crate::cli::commands::x` →
/// `cli::commands`; the roots are `lib`, `main` and `cli` (its `mod.rs`). `is_module` says
/// whether a module path exists (so that `crate::cli::run`, a function, is `cli`).
fn unit_of(side: &str, path: &[String], is_module: &dyn Fn(&str, &[String]) -> bool) -> String {
    match (side, path) {
        ("lib", []) => "lib".into(),
        ("lib", [first, ..]) if is_module("lib", std::slice::from_ref(first)) => first.clone(),
        ("lib", _) => "lib".into(),
        ("bin", [cli, second, ..]) if cli == "cli" && is_module("bin", &path[..2]) => {
            format!("cli::{second}")
        }
        ("bin", [cli, ..]) if cli == "cli" => "cli".into(),
        _ => "main".into(),
    }
}

/// Every violation of the rules in the tree at `src`, as readable lines.
fn check(src: &Path, rules: &Rules) -> Vec<String> {
    let mods = modules(src);
    let known: BTreeSet<(String, Vec<String>)> = mods
        .iter()
        .map(|m| (m.side.to_string(), m.path.clone()))
        .collect();
    let is_module = |side: &str, p: &[String]| known.contains(&(side.to_string(), p.to_vec()));
    let unit_of = |side: &str, p: &[String]| unit_of(side, p, &is_module);
    let units_of_side = |side: &str| -> BTreeSet<String> {
        mods.iter()
            .filter(|m| m.side == side)
            .map(|m| unit_of(side, &m.path))
            .collect()
    };
    let lib_units = units_of_side("lib");
    // Re-exports in lib.rs: `pub use x::Name` makes `crate::Name` mean `x`.
    let mut reexport: BTreeMap<String, String> = BTreeMap::new();
    if let Some(lib) = mods.iter().find(|m| m.side == "lib" && m.path.is_empty()) {
        for u in &lib.uses {
            if u.len() >= 3 && u[0] == "crate" && lib_units.contains(&u[1]) {
                reexport.insert(u.last().unwrap().clone(), u[1].clone());
            }
        }
    }
    let mut bad = Vec::new();
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    // Sibling edges inside one folder: (folder, from file, to file).
    let mut siblings: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for m in &mods {
        let from = unit_of(m.side, &m.path);
        let rel = m.file.strip_prefix(src).unwrap_or(&m.file).display().to_string();
        let Some((_, from_layer, from_name)) = rules.layer.get(&from).cloned().or_else(|| {
            if from == "lib" || from == "main" || from == "cli" {
                Some((m.side.to_string(), u32::MAX, "root".into()))
            } else {
                None
            }
        }) else {
            bad.push(format!("{rel}: module {from} is in no layer of ARCHITECTURE.md"));
            continue;
        };
        for u in &m.uses {
            let text = u.join("::");
            for (layer, prefix) in &rules.forbid {
                if layer == &from_name && (text == *prefix || text.starts_with(&format!("{prefix}::"))) {
                    bad.push(format!(
                        "{rel}: {from} ({from_name}) uses {text}: forbidden in that layer"
                    ));
                }
            }
            let first = u.first().cloned().unwrap_or_default();
            if let Some(allowed) = rules.only.get(&first) {
                if !allowed.contains(&from) {
                    bad.push(format!(
                        "{rel}: {from} uses the crate {first}, which only {allowed:?} may use"
                    ));
                }
            }
            let to = if u[0] == "crate" {
                let inner = &u[1..];
                let mut t = unit_of(m.side, inner);
                if m.side == "lib" {
                    if let Some(r) = inner.first().and_then(|f| reexport.get(f)) {
                        if !lib_units.contains(&inner[0]) {
                            t = r.clone();
                        }
                    }
                }
                // Inside one folder, remember which sibling file uses which.
                if inner.len() > m.path.len().min(1)
                    && m.path.len() >= 2
                    && inner.starts_with(&m.path[..m.path.len() - 1])
                {
                    let folder = m.path[..m.path.len() - 1].to_vec();
                    if let Some(target) = inner.get(folder.len()) {
                        let me = m.path.last().unwrap().clone();
                        if target != &me && (m.side == "lib" || folder != ["cli"]) {
                            siblings
                                .entry(folder)
                                .or_default()
                                .entry(me)
                                .or_default()
                                .insert(target.clone());
                        }
                    }
                }
                t
            } else if m.side == "bin" && u[0] == "accord" {
                continue; // the binary uses the library: always downward
            } else {
                continue;
            };
            let root = |u: &str| u == "lib" || u == "main" || u == "cli";
            if to == from || to == "lib" || (root(&from) && root(&to)) {
                continue;
            }
            if (to == "cli" || to == "main") && from != "cli" && from != "main" {
                bad.push(format!(
                    "{rel}: {from} uses {text} of the binary's root {to}: the root parses and dispatches; nothing below it may use it"
                ));
                continue;
            }
            let Some((_, to_layer, to_name)) = rules.layer.get(&to) else {
                bad.push(format!(
                    "{rel}: {from} uses {text}, in module {to}, which is in no layer"
                ));
                continue;
            };
            if *to_layer > from_layer {
                bad.push(format!(
                    "{rel}: {from} (layer {from_layer} {from_name}) uses {text} of {to} (layer {to_layer} {to_name}): a dependency against the layers"
                ));
            }
            edges
                .entry((from.clone(), to.clone()))
                .or_default()
                .insert(rel.clone());
        }
    }
    // No two units may use each other, directly or around a circle.
    let units: BTreeSet<String> = edges.keys().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
    for u in &units {
        if let Some(cycle) = find_cycle(u, &edges) {
            let key = cycle.join(" -> ");
            if !bad.iter().any(|b| b.contains(&key)) && cycle.first() == cycle.iter().min() {
                bad.push(format!("import cycle: {key}"));
            }
        }
    }
    for (folder, g) in &siblings {
        let e: BTreeMap<(String, String), BTreeSet<String>> = g
            .iter()
            .flat_map(|(a, bs)| bs.iter().map(move |b| ((a.clone(), b.clone()), BTreeSet::new())))
            .collect();
        for a in g.keys() {
            if let Some(cycle) = find_cycle(a, &e) {
                if cycle.first() == cycle.iter().min() {
                    bad.push(format!(
                        "import cycle inside {}: {}",
                        folder.join("/"),
                        cycle.join(" -> ")
                    ));
                }
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

/// A path of edges from `start` back to `start`, if there is one.
fn find_cycle(start: &str, edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Option<Vec<String>> {
    let next = |n: &str| -> Vec<String> {
        edges
            .keys()
            .filter(|(a, _)| a == n)
            .map(|(_, b)| b.clone())
            .collect()
    };
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((n, path)) = stack.pop() {
        for m in next(&n) {
            if m == start {
                let mut p = path.clone();
                p.push(m);
                return Some(p);
            }
            if seen.insert(m.clone()) {
                let mut p = path.clone();
                p.push(m.clone());
                stack.push((m, p));
            }
        }
    }
    None
}

#[test]
fn a_planted_violation_is_reported() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/architecture");
    let rules = parse_rules(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    let bad = check(&root.join("src"), &rules);
    let has = |s: &str| bad.iter().any(|b| b.contains(s));
    // codec (layer 0) reaching up into store (layer 2), in a `use` and inline.
    assert!(has("codec (layer 0 base) uses crate::store::Store"), "{bad:#?}");
    assert!(has("codec (layer 0 base) uses crate::store::open"), "{bad:#?}");
    // Through a re-export of lib.rs.
    assert!(has("uses crate::Ledger of ledger"), "{bad:#?}");
    // A cycle between two modules of one layer, one against the layers, and one between two
    // cli modules.
    assert!(has("import cycle: entry -> rules -> entry"), "{bad:#?}");
    assert!(has("import cycle: codec -> store -> codec"), "{bad:#?}");
    assert!(
        has("import cycle: cli::demo -> cli::shared -> cli::demo"),
        "{bad:#?}"
    );
    // I/O in a format, and redb outside store.
    assert!(has("entry (formats) uses std::fs::read: forbidden"), "{bad:#?}");
    assert!(has("uses the crate redb"), "{bad:#?}");
    // A module in no layer.
    assert!(has("module stray is in no layer"), "{bad:#?}");
    // And nothing else: the well-behaved files of the fixture are not reported.
    assert_eq!(bad.len(), 9, "{bad:#?}");
}

#[test]
fn the_source_tree_follows_the_layers_of_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let rules = parse_rules(&doc);
    // ACCORD_ARCH_SRC checks another tree against today's table (e.g. an old checkout).
    let src = std::env::var_os("ACCORD_ARCH_SRC").map_or_else(|| root.join("src"), std::path::PathBuf::from);
    let bad = check(&src, &rules);
    assert!(
        bad.is_empty(),
        "the code breaks docs/ARCHITECTURE.md:\n{}",
        bad.join("\n")
    );
    // The check read the tree: every library module and cli module is in the table.
    let mods = modules(&src);
    assert!(mods.len() > 20, "read only {} files", mods.len());
}
