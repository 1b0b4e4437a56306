//! `s3creds exec [serve's options] [--env] -- CMD [ARGS...]`: run a command with scoped temporary
//! credentials.
//!
//! By default the command gets a credentials endpoint of its own (`crate::endpoint`, on a random
//! loopback port with a fresh token) through `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`: every AWS SDK asks it again before its credentials expire, so
//! a command running for hours keeps working. With `--env` it gets plain variables instead, and
//! replaces s3creds in its process (nothing has to be served).
//!
//! Everything is validated, and the first credentials fetched, before the command starts: bad input
//! or a role that cannot be assumed starts nothing. With the endpoint, the command's exit status
//! becomes s3creds's, SIGINT, SIGTERM and SIGHUP are passed on to it, and the endpoint ends when it
//! ends.

use crate::aws::AwsOptions;
use crate::cli::ExecArgs;
use crate::commands::serve::Session;
use crate::credentials::SessionCredentials;
use crate::endpoint::{self, Provider, Token};
use crate::error::{Error, Result};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitStatus;
use std::sync::Arc;

/// Variables through which the command's SDK would pick other credentials than the scoped ones: a
/// profile, static keys, another container endpoint, web identity. The config and credentials file
/// variables stay: with the profile variables gone they select nothing, and tools read other settings
/// from those files. Region and endpoint variables stay too.
pub const OVERRIDING_VARIABLES: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// Exit statuses of a command that could not be started, as shells and env(1) use them.
const NOT_FOUND: i32 = 127;
const NOT_RUNNABLE: i32 = 126;

pub fn run(args: &ExecArgs, aws_options: &AwsOptions) -> Result<()> {
    // Read before anything changes the environment: the child gets it if its own is unset.
    let region = aws_options.region_hint();
    let session = Session::new(&args.serve, aws_options)?;
    let provider = Provider::new(session);
    let first = provider.prime()?;

    let (program, arguments) = args
        .command
        .split_first()
        .ok_or_else(|| Error::invalid("name the command to run after --"))?;
    let mut command = std::process::Command::new(program);
    command.args(arguments);
    let removed: Vec<&str> = OVERRIDING_VARIABLES
        .iter()
        .copied()
        .filter(|name| crate::env::is_set(name))
        .collect();
    for name in OVERRIDING_VARIABLES {
        command.env_remove(name);
    }
    // Set for this process only (see `Session::new`); the command may well run `s3creds serve`.
    command.env_remove(crate::env::SERVING_MARKER);
    if let Some(region) = region {
        if !crate::env::is_set(crate::env::AWS_REGION) {
            command.env(crate::env::AWS_REGION, region);
        }
    }
    if !removed.is_empty() {
        eprintln!(
            "s3creds exec: removed from the command's environment (they would override the scoped \
             credentials): {}",
            removed.join(", ")
        );
    }

    if args.env {
        set_plain_variables(&mut command, &first)?;
        return replace_this_process(command, program);
    }
    // The endpoint. The command starts first, so that its own start (exec, loading, its runtime) runs
    // beside the endpoint's: the socket is bound before it, so a request made at once waits in the
    // listen queue until the server takes it. Signals are held back across the fork until their
    // handlers exist, then delivered to them; the command starts with none held back (std resets it).
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|e| Error::Internal(format!("cannot listen on 127.0.0.1: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("the endpoint has no address: {e}")))?;
    let token = Token::generate()?;
    command
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("http://{address}{}", endpoint::CREDENTIALS_PATH),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.expose());
    let held = HeldSignals::hold()?;
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => std::process::exit(not_started(program, &error)),
    };
    let pid = child.id();
    let (exited, exit) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let status = crate::aws::block_on(async {
        let mut signals = Signals::register()?;
        drop(held);
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| Error::Internal(format!("cannot serve the endpoint: {e}")))?;
        tokio::spawn(endpoint::serve(
            listener,
            Arc::new(token),
            Arc::clone(&provider),
            std::future::pending(),
        ));
        tokio::pin!(exit);
        loop {
            tokio::select! {
                status = &mut exit => break status
                    .map_err(|_| Error::Internal("the command's waiter stopped".into()))?
                    .map_err(|e| Error::Internal(format!("cannot wait for the command: {e}"))),
                Some(signal) = signals.next() => forward(signal, pid),
            }
        }
    })??;
    // The command's status is s3creds's: leave at once, which also closes the endpoint's port, since
    // `main_impl` only knows s3creds's own exit codes.
    std::process::exit(exit_code_of(status))
}

/// SIGINT, SIGTERM and SIGHUP held back from this thread (and the threads it starts) until dropped;
/// one arriving meanwhile is delivered then.
#[cfg(unix)]
struct HeldSignals(nix::sys::signal::SigSet);

#[cfg(unix)]
impl HeldSignals {
    fn hold() -> Result<HeldSignals> {
        use nix::sys::signal::{SigSet, Signal};
        let mut set = SigSet::empty();
        for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(signal);
        }
        set.thread_block()
            .map_err(|e| Error::Internal(format!("cannot hold signals back: {e}")))?;
        Ok(HeldSignals(set))
    }
}

#[cfg(unix)]
impl Drop for HeldSignals {
    fn drop(&mut self) {
        let _ = self.0.thread_unblock();
    }
}

#[cfg(not(unix))]
struct HeldSignals;

#[cfg(not(unix))]
impl HeldSignals {
    fn hold() -> Result<HeldSignals> {
        Ok(HeldSignals)
    }
}

/// `--env`: nothing of s3creds has to outlive the start (plain variables are not refreshed), so the
/// command takes this process's place, as `aws-vault exec` does without its server: it starts with
/// nothing added but the cache hit, gets signals and keeps its exit status by itself.
#[cfg(unix)]
fn replace_this_process(
    mut command: std::process::Command,
    program: &std::ffi::OsStr,
) -> Result<()> {
    use std::os::unix::process::CommandExt;
    // Only returns when the command could not be started.
    let error = command.exec();
    std::process::exit(not_started(program, &error))
}

#[cfg(not(unix))]
fn replace_this_process(
    mut command: std::process::Command,
    program: &std::ffi::OsStr,
) -> Result<()> {
    let code = match command.status() {
        Ok(status) => exit_code_of(status),
        Err(error) => not_started(program, &error),
    };
    std::process::exit(code)
}

/// The exit status for a command that could not be started, after saying why.
fn not_started(program: &std::ffi::OsStr, error: &std::io::Error) -> i32 {
    let program = program.to_string_lossy();
    eprintln!("error: cannot run {program:?}: {error}");
    if error.kind() == std::io::ErrorKind::NotFound {
        NOT_FOUND
    } else {
        NOT_RUNNABLE
    }
}

/// `--env`: the credentials as plain variables, for tools that read only those. They are not
/// refreshed: `AWS_CREDENTIAL_EXPIRATION` says until when they work.
fn set_plain_variables(
    command: &mut std::process::Command,
    credentials: &SessionCredentials,
) -> Result<()> {
    command
        .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.expose(),
        )
        .env("AWS_SESSION_TOKEN", credentials.session_token.expose())
        .env(
            "AWS_CREDENTIAL_EXPIRATION",
            crate::core::time::rfc3339(credentials.expiration)?,
        );
    Ok(())
}

/// A child's status as a shell reports it: its exit code, or 128 + the signal that killed it.
fn exit_code_of(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return 128 + signal;
    }
    1
}

/// The signals passed on to the command.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    /// Registered before the command starts, so a signal arriving at once is not lost (nor kills
    /// s3creds, leaving the command behind).
    fn register() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| Error::Internal(format!("cannot handle signals: {e}")))
        };
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hang_up: listen(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Option<rustix::process::Signal> {
        use rustix::process::Signal;
        tokio::select! {
            Some(()) = self.interrupt.recv() => Some(Signal::INT),
            Some(()) = self.terminate.recv() => Some(Signal::TERM),
            Some(()) = self.hang_up.recv() => Some(Signal::HUP),
            else => None,
        }
    }
}

#[cfg(unix)]
fn forward(signal: rustix::process::Signal, pid: u32) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        // The command may have ended a moment ago: then there is nobody left to tell.
        let _ = rustix::process::kill_process(pid, signal);
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn register() -> Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) -> Option<()> {
        std::future::pending().await
    }
}

#[cfg(not(unix))]
fn forward(_signal: (), _pid: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removed_variables_are_every_credential_source_and_nothing_else() {
        for name in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ] {
            assert!(OVERRIDING_VARIABLES.contains(&name), "{name}");
        }
        for kept in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ] {
            assert!(!OVERRIDING_VARIABLES.contains(&kept), "{kept}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_command_killed_by_a_signal_exits_128_plus_the_signal() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code_of(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code_of(ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code_of(ExitStatus::from_raw(0)), 0);
    }
}
