//! The layout stays acyclic: no module of the hub library uses another that uses it back,
//! directly or through others (tests aside). Read from the sources: `crate::<module>` outside
//! comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `hub/src` and the top-level modules its non-test code names.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            // `tests.rs`: a module's tests (`#[cfg(test)] mod tests;`), not its code.
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("tests.rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).expect("under src");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .expect("name")
                .trim_end_matches(".rs")
                .to_owned();
            if top == "lib" || top == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let targets = graph.entry(top.clone()).or_default();
            for line in code.lines() {
                let line = line.split("//").next().unwrap_or("");
                for (i, _) in line.match_indices("crate::") {
                    let name: String = line[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != top {
                        targets.insert(name);
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn no_module_of_the_hub_uses_one_that_uses_it_back() {
    let graph = uses();
    assert!(
        graph.contains_key("node") && graph.contains_key("store"),
        "{graph:?}"
    );
    // Depth-first from each module: reaching it again is a cycle.
    for start in graph.keys() {
        let mut todo: Vec<Vec<&str>> = vec![vec![start.as_str()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = todo.pop() {
            let last = *path.last().expect("non-empty");
            for next in graph.get(last).into_iter().flatten() {
                assert_ne!(next, start, "import cycle: {} -> {next}", path.join(" -> "));
                if seen.insert(next.as_str()) {
                    let mut longer = path.clone();
                    longer.push(next);
                    todo.push(longer);
                }
            }
        }
    }
}

/// Sessions and HTTP handlers reach the node through its door (`node/door.rs`): none of them
/// names the store trait, the registry or the AI fence, so the node's invariants (the fence
/// learns every change of control a session reads) stay the node's.
#[test]
fn sessions_and_handlers_go_through_the_nodes_door() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for dir in ["session", "api"] {
        for entry in std::fs::read_dir(src.join(dir)).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 4, "{files:?}");
    let forbidden = [
        "store::Store;",
        "store::Store,",
        "dyn Store",
        "Registry",
        "crate::drafts",
        ".store.",
        "registry.",
        "fence.",
    ];
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            for word in forbidden {
                assert!(
                    !line.contains(word),
                    "{}:{}: `{word}` reaches past the node's door: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}
