//! `s3creds plugin install FOLDER`: build the plugin crate with cargo and find the library it produced.

use crate::error::{Error, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run `cargo build --release` for the crate in `folder` and return the path of its cdylib.
///
/// The library's path is read from cargo's JSON messages rather than guessed, so `CARGO_TARGET_DIR`,
/// workspaces and `build.target-dir` settings are all honoured. Cargo's own progress and compiler
/// diagnostics go to stderr as usual.
pub fn build_crate(folder: &Path) -> Result<PathBuf> {
    let manifest = folder.join("Cargo.toml");
    let manifest = manifest
        .canonicalize()
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", manifest.display())))?;
    // `CARGO` is set when s3creds itself runs under cargo; otherwise the one on PATH.
    let cargo = crate::env::var_os(crate::env::CARGO).unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--lib",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Error::invalid_with_hint(
                format!("cannot run cargo to build {}: {e}", folder.display()),
                "install Rust (https://rustup.rs) or pass the built library instead of the folder",
            )
        })?;
    let mut libraries = Vec::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| Error::Internal(format!("reading cargo's output: {e}")))?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_this_crate = message["manifest_path"]
            .as_str()
            .is_some_and(|path| Path::new(path) == manifest);
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"));
        if !(is_this_crate && is_cdylib) {
            continue;
        }
        for file in message["filenames"].as_array().into_iter().flatten() {
            if let Some(file) = file.as_str() {
                if file.ends_with(std::env::consts::DLL_SUFFIX) {
                    libraries.push(PathBuf::from(file));
                }
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Internal(format!("waiting for cargo: {e}")))?;
    if !status.success() {
        return Err(Error::invalid(format!(
            "`cargo build --release` failed in {} ({status})",
            folder.display()
        )));
    }
    match libraries.as_slice() {
        [library] => Ok(library.clone()),
        [] => Err(Error::invalid_with_hint(
            format!("building {} produced no dynamic library", folder.display()),
            "a plugin crate needs `[lib] crate-type = [\"cdylib\"]` in its Cargo.toml",
        )),
        _ => Err(Error::Internal(format!(
            "building {} produced several libraries: {libraries:?}",
            folder.display()
        ))),
    }
}
