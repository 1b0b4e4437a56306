//! The pure core stays pure: no module under `src/core/` may reach the commands, the AWS executor, the
//! credential cache, plugins, the environment, files or the network. This test reads the sources, so
//! the layering holds for the next person without anyone having to remember it.

use std::path::{Path, PathBuf};

/// What the core must not name: the layers above it, and every way to do I/O.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "crate::commands",
    "crate::aws",
    "crate::cache",
    "crate::plugin",
    "crate::request",
    "crate::policy_input",
    "crate::output",
    "crate::env",
    "crate::cli",
    "crate::aws_config_file",
    "std::fs",
    "std::env",
    // Parsing an address (names.rs refuses bucket names that look like IPs) is pure; sockets are not.
    "std::net::Tcp",
    "std::net::Udp",
    "std::os::unix::net",
    "std::process",
    "std::io::stdin",
    "tokio",
    "aws_sdk_",
    "aws_config",
    "aws_smithy",
    "keyring",
    "libloading",
    "directories",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The forbidden names `source` uses, outside comments.
fn violations(source: &str) -> Vec<String> {
    source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .flat_map(|code| {
            FORBIDDEN_IN_CORE
                .iter()
                .filter(move |name| {
                    code.match_indices(*name).any(|(at, _)| {
                        // A whole path segment: `crate::aws::x` counts, `crate::aws_config_file` is
                        // its own entry.
                        let next = code[at + name.len()..].chars().next();
                        name.ends_with('_')
                            || !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                })
                .map(|name| name.to_string())
        })
        .collect()
}

#[test]
fn the_core_imports_nothing_from_the_layers_above_or_from_io() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    assert!(files.len() >= 5, "src/core has moved? {files:?}");
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in violations(&text) {
            problems.push(format!("{} uses {name}", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "the pure core must not depend on these:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_what_it_is_meant_to() {
    assert_eq!(
        violations("use crate::commands::serve;"),
        ["crate::commands"]
    );
    assert_eq!(violations("use crate::aws::apply;"), ["crate::aws"]);
    assert_eq!(
        violations("let x = crate::cache::CredentialCache::open(true);"),
        ["crate::cache"]
    );
    assert_eq!(violations("let t = std::fs::read(p);"), ["std::fs"]);
    assert!(violations("// crate::aws is mentioned in a comment").is_empty());
    assert!(violations("use crate::core::policy;").is_empty());
    assert!(violations("use crate::aws_config_file;") == ["crate::aws_config_file"]);
}
