//! `s3creds exec [serve's options] [--env] -- CMD [ARGS...]`: run a command with scoped temporary
//! credentials.
//!
//! By default the command gets a credentials endpoint of its own (`crate::endpoint`, on a random
//! loopback port with a fresh token) through `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`: every AWS SDK asks it again before its credentials expire, so
//! a command running for hours keeps working. With `--env` it gets plain variables instead.
//!
//! Everything is validated, and the first credentials fetched, before anything starts: bad input or a
//! role that cannot be assumed starts nothing. Then the command takes this process's place (as
//! `aws-vault exec` does), so its signals and exit status are its own and it starts with nothing added
//! but the cache hit and the endpoint's start. The endpoint is a second s3creds process, started just
//! before, in a process group of its own: its stdin is the listening socket, its stdout a pipe that
//! hands it the token and the credentials already fetched (so its first answer comes from memory, and
//! `--no-cache` costs one AssumeRole, not two). It ends when the command does (see
//! `wait_for_the_command`), so no process and no port outlive it. On Windows, where a process cannot
//! take another's place, s3creds serves the endpoint itself and waits for the command.

use crate::aws::AwsOptions;
use crate::cli::ExecArgs;
use crate::commands::serve::Session;
use crate::credentials::SessionCredentials;
use crate::endpoint::{self, Provider, Token};
use crate::error::{Error, Result};
use std::net::{Ipv4Addr, SocketAddr};

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
    #[cfg(unix)]
    if let Some(served) = std::env::var_os(crate::env::EXEC_ENDPOINT) {
        return endpoint_process::serve(args, aws_options, &served);
    }
    // Read before anything changes the environment: the child gets it if its own is unset.
    let region = aws_options.region_hint();
    let session = Session::new(&args.serve, aws_options)?;
    let provider = Provider::new(session);
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

    // Fetched before anything starts, in both modes: a request that fails starts nothing at all.
    let first = provider.prime()?;
    if args.env {
        set_plain_variables(&mut command, &first)?;
        tell_removed(&removed);
        return replace_this_process(command, program);
    }
    // The endpoint. The socket is bound before the command starts, so a request made at once waits in
    // the listen queue until the server takes it.
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
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
    #[cfg(unix)]
    {
        // Started after the fetch, not beside it on another thread: that saves nothing measurable,
        // since creating a second process costs the same wherever it happens (`scripts/bench-exec.sh`).
        endpoint_process::start(listener, &token, &first)?;
        tell_removed(&removed);
        replace_this_process(command, program)
    }
    #[cfg(not(unix))]
    {
        // The provider keeps its own copy, and serves from it in this process.
        drop(first);
        tell_removed(&removed);
        serve_beside(command, program, listener, token, provider)
    }
}

/// The command is told which of its variables it does not get.
fn tell_removed(removed: &[&str]) {
    if !removed.is_empty() {
        eprintln!(
            "s3creds exec: removed from the command's environment (they would override the scoped \
             credentials): {}",
            removed.join(", ")
        );
    }
}

/// The endpoint as a process of its own, beside the command that takes this process's place.
#[cfg(unix)]
mod endpoint_process {
    use super::*;
    use crate::secret::Secret;
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::time::Duration;

    /// Where no pidfd tells the endpoint process that the command has ended: how often it checks, and
    /// so how long its port can outlive the command.
    const COMMAND_CHECK: Duration = Duration::from_millis(50);
    /// The handover is a token and one credentials record (a few KiB); more is not from s3creds.
    const MAX_HANDOVER_BYTES: u64 = 64 * 1024;

    /// Start it with this run's own command line: the listening socket as its stdin, and as its
    /// stdout the read end of a pipe holding the token and the credentials fetched (secrets never go
    /// through the environment or the command line). In a process group of its own, a terminal's
    /// Ctrl+C reaches the command only.
    pub fn start(
        listener: std::net::TcpListener,
        token: &Token,
        first: &SessionCredentials,
    ) -> Result<()> {
        let not_started = |e: std::io::Error| {
            Error::Internal(format!("cannot start the credentials endpoint: {e}"))
        };
        let (reader, mut writer) = std::io::pipe().map_err(not_started)?;
        // Written before the start: a pipe holds 64 KiB unread, and the endpoint reads to the end,
        // which comes when `writer` is dropped here (it is close-on-exec, so no child holds it open).
        let handover = Secret::new(format!(
            "{}\n{}\n",
            token.expose(),
            crate::cache::encode_record(first)
        ));
        writer
            .write_all(handover.expose().as_bytes())
            .map_err(not_started)?;
        drop(writer);
        let program = std::env::current_exe().map_err(not_started)?;
        std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .env(crate::env::EXEC_ENDPOINT, std::process::id().to_string())
            .env_remove(crate::env::SERVING_MARKER)
            .stdin(std::process::Stdio::from(OwnedFd::from(listener)))
            .stdout(std::process::Stdio::from(OwnedFd::from(reader)))
            .process_group(0)
            .spawn()
            .map_err(not_started)?;
        // Not waited for: it ends after the command, and whoever reaps orphans reaps it.
        Ok(())
    }

    /// The endpoint process: serve until the process it was started for ends.
    pub fn serve(
        args: &ExecArgs,
        aws_options: &AwsOptions,
        served: &std::ffi::OsStr,
    ) -> Result<()> {
        // Taken out of the environment while this process is still single-threaded, so nothing it
        // starts (a source profile's credential_process) takes itself for an endpoint.
        std::env::remove_var(crate::env::EXEC_ENDPOINT);
        let (token, first) = read_handover()?;
        // The command is this process's parent (it took the place of the s3creds that started this
        // one). When it ends, nothing is left to serve, and the port closes with this process.
        let served = served.to_str().and_then(|pid| pid.parse::<u32>().ok());
        let Some(served) = served.filter(|pid| *pid == std::os::unix::process::parent_id()) else {
            return Ok(());
        };
        std::thread::spawn(move || {
            wait_for_the_command(served);
            std::process::exit(0);
        });
        let listener = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::net::TcpListener::from)
            .map_err(|e| Error::Internal(format!("the endpoint's socket is not usable: {e}")))?;
        let provider = Provider::new(Session::new(&args.serve, aws_options)?);
        provider.remember(first)?;
        serve_until_exit(listener, token, provider)
    }

    /// Return when the command, this process's parent `served`, has ended. On Linux at once, through
    /// a pidfd (the kernel's parent-death signal would not do: it fires when the thread that forked
    /// ends, and a command may end its main thread before its others); elsewhere, or on kernels
    /// before 5.3, within `COMMAND_CHECK`, by noticing that this process was adopted by another.
    fn wait_for_the_command(served: u32) {
        #[cfg(target_os = "linux")]
        if let Some(command) = pidfd_of_parent(served) {
            use rustix::event::{poll, PollFd, PollFlags};
            let mut ended = [PollFd::new(&command, PollFlags::IN)];
            loop {
                match poll(&mut ended, None) {
                    Ok(_) => return,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => break,
                }
            }
        }
        while std::os::unix::process::parent_id() == served {
            std::thread::sleep(COMMAND_CHECK);
        }
    }

    /// A pidfd of this process's parent, if it is still `served`: opened first and checked after, so
    /// it cannot name another process that took over a freed PID.
    #[cfg(target_os = "linux")]
    fn pidfd_of_parent(served: u32) -> Option<OwnedFd> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(served).ok()?)?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
        (std::os::unix::process::parent_id() == served).then_some(pidfd)
    }

    /// The token and the first credentials, from the pipe on stdout that `start` filled.
    fn read_handover() -> Result<(Token, SessionCredentials)> {
        let not_handed = |what: &str| {
            Error::Internal(format!(
                "the endpoint process was not handed {what} (it is started by `s3creds exec` only)"
            ))
        };
        let pipe = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|_| not_handed("its pipe"))?;
        let pipe = std::fs::File::from(pipe);
        // Anything else (a terminal) would wait for input instead of failing.
        let is_pipe = pipe
            .metadata()
            .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
        if !is_pipe {
            return Err(not_handed("its pipe"));
        }
        let mut handover = Vec::new();
        pipe.take(MAX_HANDOVER_BYTES)
            .read_to_end(&mut handover)
            .map_err(|_| not_handed("its pipe"))?;
        // Nothing should print to stdout here, but if something did, it must not fail on a pipe's
        // read end: stdout becomes /dev/null, as it would be for a detached process.
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .and_then(|null| Ok(rustix::stdio::dup2_stdout(null)?))
            .map_err(|e| Error::Internal(format!("cannot detach the endpoint's stdout: {e}")))?;
        let handover = Secret::new(String::from_utf8(handover).map_err(|_| not_handed("text"))?);
        let mut lines = handover.expose().lines();
        let token = Token::from_generated(lines.next().unwrap_or_default().to_string())?;
        let first = lines
            .next()
            .and_then(|record| crate::cache::decode_record(record, std::time::SystemTime::now()))
            .ok_or_else(|| not_handed("credentials"))?;
        Ok((token, first))
    }
}

/// Answer on `listener` (bound before the command started) until this process ends.
fn serve_until_exit(
    listener: std::net::TcpListener,
    token: Token,
    provider: Arc<Provider>,
) -> Result<()> {
    crate::aws::block_on(endpoint::serve(
        listener,
        Arc::new(token),
        provider,
        std::future::pending(),
    ))?
}

/// Windows: no process can take another's place, so s3creds serves the endpoint itself, waits for
/// the command and exits with its status. A console's Ctrl+C reaches the command by itself.
#[cfg(not(unix))]
fn serve_beside(
    mut command: std::process::Command,
    program: &std::ffi::OsStr,
    listener: std::net::TcpListener,
    token: Token,
    provider: Arc<Provider>,
) -> Result<()> {
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => std::process::exit(not_started(program, &error)),
    };
    std::thread::spawn(move || {
        if let Err(error) = serve_until_exit(listener, token, provider) {
            eprintln!("{}", error.render_one_line());
        }
    });
    let status = child
        .wait()
        .map_err(|e| Error::Internal(format!("cannot wait for the command: {e}")))?;
    std::process::exit(exit_code_of(status))
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
#[cfg(any(not(unix), test))]
fn exit_code_of(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return 128 + signal;
    }
    1
}

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
        use std::process::ExitStatus;
        assert_eq!(exit_code_of(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code_of(ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code_of(ExitStatus::from_raw(0)), 0);
    }
}
