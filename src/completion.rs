//! Values that tab completion offers beyond what the command line's definition knows: the profiles of
//! the AWS config and credentials files, and the presets, formats and names of installed plugins.
//!
//! They are computed when the shell asks (clap_complete calls `s3creds` back with
//! `_S3CREDS_COMPLETE` set), so they are always current. Each reads local files only: completion must
//! answer at once and must never reach AWS, so IAM user names (`delete-user`, `rotate`) are not
//! offered. Any failure means no candidates, never an error on the user's terminal.

use clap_complete::CompletionCandidate;
use std::ffi::OsStr;

/// The environment variable that switches s3creds into answering the shell. Not clap's default
/// `COMPLETE`: a variable of that common name in a credential_process's environment must not turn
/// `serve` into a completion engine.
pub const COMPLETE_VAR: &str = "_S3CREDS_COMPLETE";

/// Profile names from the AWS config file (`[default]`, `[profile NAME]`) and the shared credentials
/// file (`[NAME]`), in file order, without repeats.
pub fn profile_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut names = Vec::new();
    if let Some(text) = crate::aws_config_file::config_path().and_then(read_small) {
        names.extend(crate::aws_config_file::profile_names(&text, true));
    }
    if let Some(text) = crate::aws_config_file::credentials_path().and_then(read_small) {
        names.extend(crate::aws_config_file::profile_names(&text, false));
    }
    candidates(names, current)
}

/// Presets of installed plugins.
pub fn preset_names(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(
        installed().into_iter().flat_map(|p| p.presets).collect(),
        current,
    )
}

/// The built-in formats and those of installed plugins.
pub fn format_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut names: Vec<String> = crate::output::BUILT_IN_FORMATS
        .iter()
        .map(|f| f.to_string())
        .collect();
    names.extend(installed().into_iter().flat_map(|p| p.formats));
    candidates(names, current)
}

/// Names of installed plugins.
pub fn plugin_names(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(installed().into_iter().map(|p| p.name).collect(), current)
}

fn installed() -> Vec<crate::plugin::registry::InstalledPlugin> {
    crate::plugin::registry::Registry::locate()
        .and_then(|registry| registry.manifest())
        .map(|manifest| manifest.plugins)
        .unwrap_or_default()
}

/// A config file is read for completion only if it is a regular file of a sane size.
fn read_small(path: std::path::PathBuf) -> Option<String> {
    crate::files::read_own_file(&path).ok()
}

fn candidates(names: Vec<String>, current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|name| name.starts_with(prefix.as_ref()) && seen.insert(name.clone()))
        .map(CompletionCandidate::new)
        .collect()
}
