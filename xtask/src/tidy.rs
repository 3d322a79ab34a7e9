//! Tidy checks: repository-wide rules that are cheaper to test than to review, run by `cargo test`.
//!
//! Each check walks the tree as it is, so crates added later are covered without touching this file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::repo_root;

/// Folders whose Rust files must all start with a `//!` module doc.
const DOCUMENTED_TREES: &[&str] = &["crates", "tests", "xtask", "examples", "fuzz"];
/// Folders scanned for debugging leftovers (everything with Rust in it).
const SOURCE_TREES: &[&str] = &["crates", "tests", "xtask", "examples", "fuzz"];
/// Dependencies that would give llm-stream IO or an async runtime.
const RUNTIME_CRATES: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "async-std",
    "smol",
    "async-io",
    "futures-executor",
    "futures",
    "mio",
];

/// Every `.rs` file below `dir`, skipping build output and hidden folders.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target"
                    && !name.starts_with('.')
                    && name != "corpus"
                    && name != "artifacts"
                {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn files_in(trees: &[&str]) -> Vec<PathBuf> {
    let root = repo_root();
    trees
        .iter()
        .flat_map(|tree| rust_files(&root.join(tree)))
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The manifests of the workspace members: `crates/*`, `xtask` and `tests`.
fn member_manifests() -> Vec<PathBuf> {
    let root = repo_root();
    let mut manifests: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("Cargo.toml"))
                .collect()
        })
        .unwrap_or_default();
    manifests.push(root.join("xtask").join("Cargo.toml"));
    manifests.push(root.join("tests").join("Cargo.toml"));
    manifests.retain(|m| m.is_file());
    manifests.sort();
    manifests
}

fn parse_manifest(path: &Path) -> toml::Table {
    read(path)
        .parse()
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let files = files_in(DOCUMENTED_TREES);
    assert!(
        files.iter().any(|f| f.ends_with("xtask/src/tidy.rs")),
        "the walk found no files: {files:?}"
    );
    let undocumented: Vec<String> = files
        .iter()
        .filter(|f| !read(f).trim_start().starts_with("//!"))
        .map(|f| relative(f))
        .collect();
    assert!(
        undocumented.is_empty(),
        "these files do not start with a `//!` module doc: {undocumented:#?}"
    );
}

#[test]
fn no_debugging_leftovers() {
    // Built from pieces so this file does not match itself.
    let needle = ["dbg", "!("].concat();
    let offenders: Vec<String> = files_in(SOURCE_TREES)
        .iter()
        .filter(|f| read(f).contains(&needle))
        .map(|f| relative(f))
        .collect();
    assert!(
        offenders.is_empty(),
        "remove `{needle}` from: {offenders:#?}"
    );
}

#[test]
fn llm_stream_depends_on_no_runtime() {
    let manifest = repo_root()
        .join("crates")
        .join("llm-stream")
        .join("Cargo.toml");
    if !manifest.exists() {
        // The crate has not been written yet; the check applies from the moment it exists.
        return;
    }
    let offenders = runtime_dependencies(&parse_manifest(&manifest));
    assert!(
        offenders.is_empty(),
        "llm-stream must stay sans-IO, but depends on {offenders:?}"
    );
}

/// The runtime crates among the normal (non-dev) dependencies of a manifest, target-specific ones included.
fn runtime_dependencies(manifest: &toml::Table) -> Vec<String> {
    let mut tables: Vec<&toml::Table> = Vec::new();
    for key in ["dependencies", "build-dependencies"] {
        tables.extend(manifest.get(key).and_then(toml::Value::as_table));
    }
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for target in targets.values().filter_map(toml::Value::as_table) {
            for key in ["dependencies", "build-dependencies"] {
                tables.extend(target.get(key).and_then(toml::Value::as_table));
            }
        }
    }
    let mut found = Vec::new();
    for table in tables {
        for (name, spec) in table {
            // `foo = { package = "tokio" }` renames a dependency; check the real crate name.
            let real = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(name);
            if RUNTIME_CRATES.contains(&real) {
                found.push(real.to_string());
            }
        }
    }
    found
}

#[test]
fn runtime_dependency_detection() {
    let manifest: toml::Table = r#"
        [dependencies]
        memchr = "2"
        rt = { package = "tokio", version = "1" }
        [dev-dependencies]
        reqwest = "0.13"
        [target.'cfg(unix)'.dependencies]
        smol = "2"
    "#
    .parse()
    .expect("valid toml");
    assert_eq!(runtime_dependencies(&manifest), ["tokio", "smol"]);
}

#[test]
fn every_member_inherits_the_workspace_settings() {
    let manifests = member_manifests();
    assert!(
        manifests.len() >= 2,
        "expected at least xtask and tests, found {manifests:?}"
    );
    let mut problems = Vec::new();
    for path in &manifests {
        let manifest = parse_manifest(path);
        let workspace_true = |v: Option<&toml::Value>| {
            v.and_then(|v| v.get("workspace"))
                .and_then(toml::Value::as_bool)
                == Some(true)
        };
        if !workspace_true(manifest.get("lints")) {
            problems.push(format!(
                "{}: needs `[lints] workspace = true`",
                relative(path)
            ));
        }
        let package = manifest.get("package");
        for field in ["version", "edition", "rust-version", "license"] {
            if !workspace_true(package.and_then(|p| p.get(field))) {
                problems.push(format!(
                    "{}: needs `{field}.workspace = true`",
                    relative(path)
                ));
            }
        }
        if package.and_then(|p| p.get("description")).is_none() {
            problems.push(format!("{}: needs a `description`", relative(path)));
        }
        let publish = package.and_then(|p| p.get("publish"));
        let internal = publish.and_then(toml::Value::as_bool) == Some(false);
        if !internal && !workspace_true(publish) {
            problems.push(format!(
                "{}: needs `publish.workspace = true` (or `publish = false` for an internal crate)",
                relative(path)
            ));
        }
        if !internal {
            // A published crate's page on crates.io and docs.rs is built from these.
            for field in ["keywords", "categories", "readme"] {
                if package.and_then(|p| p.get(field)).is_none() {
                    problems.push(format!(
                        "{}: a published crate needs `{field}`",
                        relative(path)
                    ));
                }
            }
            if !workspace_true(package.and_then(|p| p.get("repository"))) {
                problems.push(format!(
                    "{}: needs `repository.workspace = true`",
                    relative(path)
                ));
            }
            let readme = path.with_file_name("README.md");
            if !readme.is_file() {
                problems.push(format!("{}: has no README.md", relative(path)));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The crates that are a provider's wire format: pure codecs, driven by llm-http.
const PROVIDER_CRATES: &[&str] = &[
    "llm-openai",
    "llm-openrouter",
    "llm-claude",
    "llm-ollama",
    "llm-llamacpp",
];

/// Names that would mean llm-core knows a provider.
const PROVIDER_NAMES: &[&str] = &[
    "openai",
    "anthropic",
    "claude",
    "ollama",
    "llama",
    "openrouter",
    "gemini",
    "vertex",
    "azure",
    "vllm",
];

/// The code of `source` without its comments and doc comments (line comments only: the house style).
fn code_lines(source: &str) -> impl Iterator<Item = (usize, &str)> {
    source.lines().enumerate().filter_map(|(i, line)| {
        let code = line.split("//").next().unwrap_or_default();
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

#[test]
fn no_provider_crate_drives_a_body_stream_of_its_own() {
    let root = repo_root();
    let mut problems = Vec::new();
    for krate in PROVIDER_CRATES {
        for path in rust_files(&root.join("crates").join(krate).join("src")) {
            let source = read(&path);
            for (n, line) in code_lines(&source) {
                if line.contains("impl") && line.contains(" Stream for ")
                    || line.contains("fn poll_next")
                {
                    problems.push(format!("{}:{n}: {}", relative(&path), line.trim()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "provider crates are codecs; llm-http's EventStream drives every body: {problems:#?}"
    );
}

#[test]
fn llm_core_names_no_provider() {
    let root = repo_root();
    let mut problems = Vec::new();
    for path in rust_files(&root.join("crates/llm-core/src")) {
        // Test fixtures may borrow real providers' names and tables.
        if path.to_string_lossy().ends_with("_tests.rs") {
            continue;
        }
        let source = read(&path);
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code_lines(code) {
            let lower = line.to_ascii_lowercase();
            if let Some(name) = PROVIDER_NAMES.iter().find(|name| lower.contains(*name)) {
                problems.push(format!(
                    "{}:{n}: `{name}` in {}",
                    relative(&path),
                    line.trim()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "llm-core is the vocabulary; each provider's tables live in its own crate: {problems:#?}"
    );
}

#[test]
fn code_lines_skip_comments() {
    let lines: Vec<_> =
        code_lines("//! doc\nlet a = 1; // openai\n   /// more\nfn b() {}\n").collect();
    assert_eq!(lines, [(2, "let a = 1; "), (4, "fn b() {}")]);
}
