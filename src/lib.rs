//! s3creds: hand out least-privilege S3 credentials.
//!
//! The binaries `s3creds` and `cargo-s3creds` are thin wrappers around [`main_impl`]. The layers, from
//! the bottom up:
//!
//! * `core`: pure. The validated request, policy documents, the plan of AWS calls, the verdicts on what
//!   AWS reports. No I/O (enforced by `tests/layering.rs`).
//! * `request`: the command line into `core`'s request types; `policy_input` reads `--policy` and
//!   `--statement` (bounded, exact JSON).
//! * `aws`: configuration, clients, `apply` (the only code that changes IAM and STS state: `create`,
//!   `delete-user`, `rotate`), `inventory` (read-only listings) and `objects` (bucket and object commands).
//! * `cache`: the credential cache (keyring, index, single flight).
//! * `plugin`: presets and formats from dynamic libraries; `plugin::loader` is the only `unsafe` code.
//! * `output`, `credentials`, `secret`, `error`, `env`, `aws_config_file`: shared pieces.
//! * `commands`: one thin module per subcommand.

#![deny(unsafe_code)]

mod auth_input;
mod aws;
mod aws_config_file;
mod cache;
mod cli;
mod commands;
mod completion;
pub mod core;
mod credentials;
mod endpoint;
mod env;
pub mod error;
mod files;
mod listing_output;
mod output;
mod plugin;
mod policy_input;
mod progress;
mod request;
mod secret;
mod usage;

use error::{exit_code, Result};
use std::ffi::OsString;
use std::process::ExitCode;

/// Parse `args` (program name first), run the command, print any error, and return the exit code.
pub fn main_impl<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The shell asking for completions (see `commands::completions`): one environment lookup when not.
    if std::env::var_os(completion::COMPLETE_VAR).is_some() {
        let engine = clap_complete::CompleteEnv::with_factory(cli::Cli::definition)
            .var(completion::COMPLETE_VAR);
        match engine.try_complete(args.clone(), std::env::current_dir().ok().as_deref()) {
            Ok(true) => return ExitCode::SUCCESS,
            Ok(false) => {}
            Err(error) => {
                let _ = error.print();
                return ExitCode::from(exit_code::USAGE);
            }
        }
    }
    let cli = match cli::Cli::parse_args(&args) {
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
    if let Some((flag, command)) = cli.refused_aws_option() {
        eprintln!(
            "error: {flag} does nothing for `s3creds {command}`\n\
             hint: the AWS options belong to the commands that call AWS; leave it out"
        );
        return ExitCode::from(exit_code::USAGE);
    }
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
    aws::timeouts::Timeouts::resolve(&cli.aws)?;
    match &cli.command {
        cli::Command::Policy(args) => commands::policy::run(args, &cli.aws),
        cli::Command::Serve(args) if args.http.http => commands::serve_http::run(args, &cli.aws),
        cli::Command::Serve(args) => commands::serve::run(args, &cli.aws),
        cli::Command::Profile(command) => commands::profile::run(command, &cli.aws),
        cli::Command::Cache(args) => commands::cache::run(&args.command),
        cli::Command::Plugin(args) => commands::plugin::run(&args.command),
        cli::Command::Completions(args) => commands::completions::run(args),
        cli::Command::Man(args) => commands::man::run(args),
        cli::Command::FormatChild { name } => plugin::resolve::format_child(name),
        cli::Command::Create(args) => commands::create::run(args, &cli.aws),
        cli::Command::DeleteUser(args) => commands::delete_user::run(args, &cli.aws),
        cli::Command::Rotate(args) => commands::rotate::run(args, &cli.aws),
        cli::Command::Exec(args) => commands::exec::run(args, &cli.aws),
        cli::Command::Whoami => commands::whoami::run(&cli.aws),
        cli::Command::List(args) => commands::list::run(args, &cli.aws),
        cli::Command::ListUsers(args) => commands::listings::list_users(args, &cli.aws),
        cli::Command::ListRoles(args) => commands::listings::list_roles(args, &cli.aws),
        cli::Command::ListUserPolicies(args) => {
            commands::listings::list_user_policies(args, &cli.aws)
        }
        cli::Command::ListBuckets(args) => commands::listings::list_buckets(args, &cli.aws),
        cli::Command::ListBucket(args) => commands::bucket::list_bucket(args, &cli.aws),
        cli::Command::GetBucketPolicy(args) => commands::bucket::get_bucket_policy(args, &cli.aws),
        cli::Command::SetBucketPolicy(args) => commands::bucket::set_bucket_policy(args, &cli.aws),
        cli::Command::GetPublicAccessBlock(args) => {
            commands::bucket::get_public_access_block(args, &cli.aws)
        }
        cli::Command::SetPublicAccessBlock(args) => {
            commands::bucket::set_public_access_block(args, &cli.aws)
        }
        cli::Command::GetCorsPolicy(args) => commands::bucket::get_cors_policy(args, &cli.aws),
        cli::Command::SetCorsPolicy(args) => commands::bucket::set_cors_policy(args, &cli.aws),
        cli::Command::DebugBucket(args) => commands::bucket::debug_bucket(args, &cli.aws),
        cli::Command::GetObject(args) => commands::objects::get_object(args, &cli.aws),
        cli::Command::GetObjects(args) => commands::objects::get_objects(args, &cli.aws),
        cli::Command::PutObject(args) => commands::objects::put_object(args, &cli.aws),
        cli::Command::PutObjects(args) => commands::objects::put_objects(args, &cli.aws),
        cli::Command::DeleteObjects(args) => commands::objects::delete_objects(args, &cli.aws),
    }
}
