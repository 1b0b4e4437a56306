//! `s3creds completions SHELL`: the shell code that sets up tab completion.
//!
//! The code is clap_complete's "environment" kind: on TAB the shell runs `s3creds` again with
//! `_S3CREDS_COMPLETE` set and the words typed so far, and s3creds answers from its own command line
//! definition (`Cli`) plus the dynamic values of `crate::completion`. So completions never go stale
//! after an upgrade or a `plugin install`, and there is one definition of the command line, not a
//! generated script per shell to keep in step.

use crate::cli::{CompletionsArgs, Shell};
use crate::completion::COMPLETE_VAR;
use crate::error::{Error, Result};
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use std::path::PathBuf;

pub fn run(args: &CompletionsArgs) -> Result<()> {
    let shell: &dyn EnvCompleter = match args.shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Powershell => &Powershell,
        Shell::Elvish => &Elvish,
    };
    let mut script = Vec::new();
    shell
        .write_registration(
            COMPLETE_VAR,
            "s3creds",
            "s3creds",
            &completer_program(),
            &mut script,
        )
        .map_err(|e| Error::Internal(format!("cannot write the completion code: {e}")))?;
    crate::output::write_stdout(&String::from_utf8_lossy(&script))
}

/// The program the shell calls back: the `s3creds` binary beside this one (also when this is
/// `cargo-s3creds`), by absolute path so that completion works whatever PATH the shell has; else
/// `s3creds` as found on PATH.
fn completer_program() -> String {
    let beside = std::env::current_exe().ok().and_then(|exe| {
        let candidate = exe.with_file_name(format!("s3creds{}", std::env::consts::EXE_SUFFIX));
        candidate.is_file().then_some(candidate)
    });
    beside
        .unwrap_or_else(|| PathBuf::from("s3creds"))
        .to_string_lossy()
        .into_owned()
}
