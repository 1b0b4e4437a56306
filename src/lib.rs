//! s3creds: hand out least-privilege S3 credentials.
//!
//! The binaries `s3creds` and `cargo-s3creds` are thin wrappers around [`main_impl`]. The pure core
//! (`policy`, `plan`, `names`, `duration`) decides everything; `apply` is the only module that changes AWS.
//! `plugin::loader` is the only module allowed `unsafe` code.

#![deny(unsafe_code)]

pub mod apply;
pub mod aws;
pub mod aws_config_file;
pub mod aws_transport;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod duration;
pub mod error;
pub mod keystore;
pub mod names;
pub mod output;
pub mod plan;
pub mod plugin;
pub mod policy;
pub mod secret;
pub mod timeouts;
pub mod usage;

use clap::Parser;
use error::{exit_code, Error, Result};
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// Parse `args` (program name first), run the command, print any error, and return the exit code.
pub fn main_impl<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let typed = usage::typed_subcommand(&args);
            let serve = typed.first().is_some_and(|c| c == "serve");
            match (usage::misplaced_option(&error, &typed), serve) {
                (Some(better), true) => {
                    eprintln!("s3creds: error: {} (hint: {})", better.message, better.hint)
                }
                (Some(better), false) => {
                    eprintln!("error: {}\nhint: {}", better.message, better.hint)
                }
                // serve's stderr is read by SDKs: one line, like its other errors.
                (None, true) => eprintln!(
                    "s3creds: error: {} (hint: see `s3creds serve --help`)",
                    usage::first_line(&error)
                ),
                (None, false) => {
                    let _ = error.print();
                }
            }
            return ExitCode::from(exit_code::USAGE);
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
    // The timeouts are global options: refuse a bad one on every command, before anything else.
    timeouts::Timeouts::resolve(&cli.aws)?;
    match &cli.command {
        cli::Command::Policy(args) => commands::policy::run(args, &cli.aws),
        cli::Command::Serve(args) => commands::serve::run(args, &cli.aws),
        cli::Command::Profile(command) => commands::profile::run(command, &cli.aws),
        cli::Command::Cache(command) => commands::cache::run(command),
        cli::Command::Plugin(command) => commands::plugin::run(command),
        cli::Command::Create(args) => {
            // One thread is plenty: the work is waiting on the network, and starting fewer threads
            // keeps s3creds quick to start.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
            runtime.block_on(commands::create::run(args, &cli.aws))
        }
    }
}

/// Write to stdout; a closed pipe is reported rather than panicking.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Internal(format!("cannot write to standard output: {e}")))
}
