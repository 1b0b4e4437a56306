//! s3creds: hand out least-privilege S3 credentials.
//!
//! The binaries `s3creds` and `cargo-s3creds` are thin wrappers around [`main_impl`]. The layers, from
//! the bottom up:
//!
//! * `core`: pure. The validated request, policy documents, the plan of AWS calls, the verdicts on what
//!   AWS reports. No I/O (enforced by `tests/layering.rs`).
//! * `request`: the command line into `core`'s request types; `policy_input` reads `--policy` and
//!   `--statement` (bounded, exact JSON).
//! * `aws`: configuration, clients, and `apply`, the only code that changes AWS.
//! * `cache`: the credential cache (keyring, index, single flight).
//! * `plugin`: presets and formats from dynamic libraries; `plugin::loader` is the only `unsafe` code.
//! * `output`, `credentials`, `secret`, `error`, `env`, `aws_config_file`: shared pieces.
//! * `commands`: one thin module per subcommand.

#![deny(unsafe_code)]

mod aws;
mod aws_config_file;
mod cache;
mod cli;
mod commands;
pub mod core;
mod credentials;
mod env;
pub mod error;
mod files;
mod output;
mod plugin;
mod policy_input;
mod request;
mod secret;

use clap::Parser;
use error::{exit_code, Result};
use std::ffi::OsString;
use std::process::ExitCode;

/// Parse `args` (program name first), run the command, print any error, and return the exit code.
pub fn main_impl<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::SUCCESS
            });
        }
    };
    // A credential_process helper's stderr is read by SDKs: there, one line says it all.
    let one_line = matches!(cli.command, cli::Command::Serve(_));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if one_line {
                eprintln!("{}", error.render_one_line());
            } else {
                eprintln!("{}", error.render());
            }
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: cli::Cli) -> Result<()> {
    match &cli.command {
        cli::Command::Policy(args) => commands::policy::run(args, &cli.aws),
        cli::Command::Serve(args) => commands::serve::run(args, &cli.aws),
        cli::Command::Profile(command) => commands::profile::run(command, &cli.aws),
        cli::Command::Cache(command) => commands::cache::run(command),
        cli::Command::Plugin(command) => commands::plugin::run(command),
        cli::Command::FormatChild { name } => plugin::resolve::format_child(name),
        cli::Command::Create(args) => commands::create::run(args, &cli.aws),
    }
}
