//! Tidiness checks on the repository's own text, in rust-analyzer's manner
//! (its `tidy.rs`): the architecture map names every module, every file a
//! comment or document cites exists, and the map holds no measured figures
//! (figures live in benches and module docs, next to what they measure).

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`,
/// skipping build output and VCS data.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "proptest-regressions") {
                out.extend(files(&path, exts));
            }
        } else if exts.iter().any(|ext| name.ends_with(ext)) {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn architecture() -> String {
    fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// Every top-level module of `src/`, every test binary and the macros crate
/// have their place on the map.
#[test]
fn every_module_is_on_the_map() {
    let map = architecture();
    let mut missing = Vec::new();
    for entry in fs::read_dir(root().join("src")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let named = if entry.path().is_dir() { format!("`src/{name}/`") } else { format!("`src/{name}`") };
        if name != "lib.rs" && !map.contains(&named) {
            missing.push(named);
        }
    }
    for test in files(&root().join("tests"), &[".rs"]) {
        let relative = test.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
        if test.parent() == Some(&root().join("tests")) && !map.contains(&format!("`{relative}`")) {
            missing.push(relative);
        }
    }
    if !map.contains("`macros/`") {
        missing.push("macros/".into());
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md does not name: {missing:?}");
}

/// Candidate tokens that look like a cited file: `a/b.rs`, `docs/x.md`,
/// `run.sh`, `Cargo.toml`.
fn cited(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let is_path = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-');
    let mut start = 0;
    while start < bytes.len() {
        if !is_path(bytes[start]) {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < bytes.len() && is_path(bytes[end]) {
            end += 1;
        }
        let token = text[start..end].trim_end_matches('.');
        let before = if start > 0 { bytes[start - 1] } else { b' ' };
        let cites = [".md", ".rs", ".sh", ".toml"].iter().any(|ext| token.ends_with(ext));
        // Globs (`src/**/tests.rs`), URLs and Rust paths (`a::b.rs` never
        // occurs; `::` stops the token) are not citations.
        let stem = token.rsplit_once('.').map_or("", |(stem, _)| stem);
        if cites
            && !stem.is_empty()
            && !stem.ends_with('/')
            && !matches!(before, b'*' | b':' | b'{' | b',' | b'$')
            && !token.starts_with('/')
            && !token.contains("//")
        {
            out.push(token.to_owned());
        }
        start = end;
    }
    out
}

/// Every file a comment or a document cites is in the repository (the peer
/// harness, which lives beside it by design, is the one exception); no text
/// cites the design documents that stay outside it.
#[test]
fn cited_files_exist() {
    let root = root();
    // Prose and comments; scripts name the files they create, and this
    // file names what it forbids.
    let mut texts = files(&root.join("src"), &[".rs"]);
    for dir in ["macros", "tests", "benches", "examples", "docs"] {
        texts.extend(files(&root.join(dir), &[".rs", ".md"]));
    }
    texts.retain(|path| !path.ends_with("tests/tidy.rs"));
    for file in ["README.md", "ARCHITECTURE.md"] {
        texts.push(root.join(file));
    }
    let everything: Vec<PathBuf> = files(&root, &[".rs", ".md", ".sh", ".toml", "run"]);
    let mut broken = Vec::new();
    for path in &texts {
        let text = fs::read_to_string(path).unwrap_or_default();
        let here = path.parent().unwrap();
        for forbidden in ["otp-semantics", "testing.md", "BRIEF.md", "shared/reference"] {
            if text.contains(forbidden) {
                broken.push(format!("{}: cites {forbidden}, which is not in the repository", path.display()));
            }
        }
        for token in cited(&text) {
            if token.starts_with("../shared/peers-bench") || token.contains("fw-") {
                continue;
            }
            let found = if token.contains('/') {
                let token = token.trim_start_matches("./");
                [root.join(token), here.join(token), root.join("src").join(token), root.join("macros/src").join(token)]
                    .iter()
                    .any(|candidate| candidate.exists())
            } else {
                everything.iter().any(|file| file.file_name().is_some_and(|name| name == token.as_str()))
            };
            if !found {
                broken.push(format!(
                    "{}: cites {token}, which does not exist",
                    path.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken citations:\n{}", broken.join("\n"));
}

/// The map says where things are and which rules hold; a measured figure
/// there goes stale unseen, so figures live next to what they measure.
#[test]
fn the_map_holds_no_measured_figures() {
    let map = architecture();
    let units = ["ns", "µs", "us", "ms", "KB", "KiB", "MB", "MiB", "GB", "GiB", "%", "M/s", "k/s", "msgs/s"];
    let mut figures = Vec::new();
    for line in map.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (index, word) in words.iter().enumerate() {
            let number = word.trim_start_matches(['(', '~']).trim_end_matches([',', ')']);
            let (digits, attached) =
                number.split_at(number.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(number.len()));
            if digits.is_empty() || !digits.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let unit = if attached.is_empty() { words.get(index + 1).copied().unwrap_or("") } else { attached };
            let unit = unit.trim_end_matches(['.', ',', ')', ';']);
            if units.contains(&unit) {
                figures.push(format!("{word} {unit} in: {line}"));
            }
        }
    }
    assert!(
        figures.is_empty(),
        "measured figures in ARCHITECTURE.md (move them to the module they measure):\n{}",
        figures.join("\n")
    );
}

/// The leaves of the map depend on nothing else in the crate (not even
/// through a doc link): the journal only stores bytes, and the topic
/// grammar, exit reasons, the event trait and the sync shims stand alone.
#[test]
fn the_leaves_depend_on_nothing_in_the_crate() {
    let src = root().join("src");
    let mut modules: Vec<String> = fs::read_dir(&src)
        .expect("src")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().trim_end_matches(".rs").to_owned())
        .filter(|name| name != "lib")
        .collect();
    modules.sort();
    modules.dedup(); // `x.rs` and `x/`
    let mut found = Vec::new();
    for leaf in ["journal", "topic", "exit", "event", "sync"] {
        let mut paths = files(&src.join(leaf), &[".rs"]);
        paths.push(src.join(format!("{leaf}.rs")));
        for path in paths {
            let Ok(text) = fs::read_to_string(&path) else { continue };
            for other in modules.iter().filter(|other| *other != leaf) {
                let needle = format!("crate::{other}");
                let uses = text
                    .match_indices(&needle)
                    .any(|(at, _)| !text[at + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'));
                if uses {
                    found.push(format!("{} names crate::{other}", path.strip_prefix(root()).unwrap().display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "a leaf depends on the crate: {found:#?}");
}
