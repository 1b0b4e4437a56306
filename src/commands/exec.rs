//! `s3creds exec [serve's options] [--env] -- CMD [ARGS...]`: run a command with scoped temporary
//! credentials.
//!
//! By default the command gets a credentials endpoint of its own (`crate::endpoint`, on a random
//! loopback port with a fresh token) through `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`: every AWS SDK asks it again before its credentials expire, so
//! a command running for hours keeps working. With `--env` it gets plain variables instead.
//!
//! Everything is validated, and the first credentials fetched, before anything starts: bad input, a
//! command that cannot start or a role that cannot be assumed starts nothing. With an endpoint, the
//! shared credentials and config files the command sees offer it no credentials of the user's
//! ([`CommandFiles`]): SDKs read them before they ask an endpoint. Then the command takes this process's place (as
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
#[cfg(unix)]
use std::path::Path;
use std::sync::Arc;

/// Variables through which the command's SDK would pick other credentials than the scoped ones: a
/// profile, static keys, another container endpoint, web identity. Region and endpoint variables stay.
/// The shared files are dealt with by [`CommandFiles`] (with an endpoint; plain variables come before
/// the files in every SDK's chain).
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
    let (program, arguments) = args
        .command
        .split_first()
        .ok_or_else(|| Error::invalid("name the command to run after --"))?;
    // A command that cannot start starts nothing else either: no AWS call, no endpoint.
    if let Err(error) = find_program(program) {
        std::process::exit(not_started(program, &error));
    }
    #[cfg(unix)]
    let inputs = PolicyInputs::of(&session)?;
    let provider = Provider::new(session);
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
    // Plain variables come first in every SDK's credential chain; an endpoint comes after the
    // shared files, so in that mode the files must offer the command no credentials of their own.
    let files = if args.env {
        None
    } else {
        Some(CommandFiles::prepare(&mut command)?)
    };

    // Fetched before anything starts, in both modes: a request that fails starts nothing at all.
    let first = provider.prime()?;
    let Some(files) = files else {
        set_plain_variables(&mut command, &first)?;
        tell_removed(&removed);
        return replace_this_process(command, program);
    };
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
        let handover = endpoint_process::Handover {
            token,
            first,
            inputs,
            config_copy: files.config_copy().map(Path::to_path_buf),
        };
        endpoint_process::start(listener, &handover)?;
        // From here the endpoint process removes the config copy, when the command ends.
        files.hand_over();
        tell_removed(&removed);
        replace_this_process(command, program)
    }
    #[cfg(not(unix))]
    {
        // The provider keeps its own copy, and serves from it in this process.
        drop(first);
        tell_removed(&removed);
        files.tell();
        serve_beside(command, program, listener, token, provider, files)
    }
}

/// Whether `program` can start, found as the exec family finds it (a name with a slash as it is,
/// else the first match on `PATH`; an empty `PATH` entry is the current folder): a missing or
/// unrunnable command is reported before anything else is done.
#[cfg(unix)]
fn find_program(program: &std::ffi::OsStr) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;
    let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
    if program.is_empty() {
        return Err(not_found());
    }
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![PathBuf::from(program)]
    } else {
        let path =
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        std::env::split_paths(&path)
            .map(|folder| {
                if folder.as_os_str().is_empty() {
                    PathBuf::from(".").join(program)
                } else {
                    folder.join(program)
                }
            })
            .collect()
    };
    // As execvp: a candidate that exists but may not be run does not end the search, but is what is
    // reported if nothing else is found.
    let mut refused = None;
    for candidate in candidates {
        match rustix::fs::access(&candidate, rustix::fs::Access::EXEC_OK) {
            Ok(()) if candidate.is_file() => return Ok(()),
            Ok(()) => refused = Some(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
            Err(rustix::io::Errno::ACCESS) => refused = Some(rustix::io::Errno::ACCESS.into()),
            Err(_) => {}
        }
    }
    Err(refused.unwrap_or_else(not_found))
}

/// Windows resolves commands with its own rules (extensions, the current folder first): the start
/// itself reports a missing one.
#[cfg(not(unix))]
fn find_program(_program: &std::ffi::OsStr) -> std::io::Result<()> {
    Ok(())
}

/// The policy inputs as this run read them (files, standard input) and expanded them (presets), as
/// JSON text: the endpoint process builds its request from these and reads no input a second time
/// (standard input is its socket, a pipe is already drained, a file may have changed since).
#[cfg(unix)]
struct PolicyInputs {
    policy: Option<String>,
    statements: Vec<String>,
}

#[cfg(unix)]
impl PolicyInputs {
    fn of(session: &Session) -> Result<PolicyInputs> {
        let request = session.request.scope.request();
        let json = |value: &serde_json::Value| {
            serde_json::to_string(value)
                .map_err(|e| Error::Internal(format!("cannot hand over the policy: {e}")))
        };
        Ok(PolicyInputs {
            policy: request.custom_policy.as_ref().map(json).transpose()?,
            statements: request
                .extra_statements
                .iter()
                .map(json)
                .collect::<Result<_>>()?,
        })
    }

    /// `args` with these inputs as JSON text in place of the files, `-` and presets they came from.
    fn apply_to(self, args: &mut crate::cli::ServeArgs) {
        args.policy.policy = self.policy;
        args.policy.statements = self.statements;
        args.policy.presets.clear();
    }
}

/// The AWS files as the command sees them with an endpoint: every SDK looks in the shared
/// credentials and config files before it asks a container endpoint, so keys, a
/// `credential_process`, a role or SSO in the `[default]` profile would win over the scoped
/// credentials. The command gets no credentials file (`AWS_SHARED_CREDENTIALS_FILE` is the null
/// device) and, if the config file has credential settings, a private copy without them
/// (`AWS_CONFIG_FILE`): region, endpoints, S3 and other settings stay. The copy holds no secret, and
/// is removed when the command ends.
struct CommandFiles {
    config_copy: Option<std::path::PathBuf>,
    /// The credentials file the command does not see, if there is one.
    hidden_credentials: Option<std::path::PathBuf>,
    removed_settings: Vec<String>,
}

impl CommandFiles {
    #[cfg(unix)]
    const NULL_DEVICE: &'static str = "/dev/null";
    #[cfg(not(unix))]
    const NULL_DEVICE: &'static str = "NUL";

    fn prepare(command: &mut std::process::Command) -> Result<CommandFiles> {
        command.env(crate::env::AWS_SHARED_CREDENTIALS_FILE, Self::NULL_DEVICE);
        let hidden_credentials =
            crate::aws_config_file::credentials_path().filter(|path| path.is_file());
        let mut files = CommandFiles {
            config_copy: None,
            hidden_credentials,
            removed_settings: Vec::new(),
        };
        let Some(config) = crate::aws_config_file::config_path() else {
            return Ok(files);
        };
        // `AWS_CONFIG_FILE=/dev/null` is the usual way to say "no config file": a device holds no
        // settings to remove (a pipe or anything else that is not a file is refused below).
        if is_device(&config) {
            return Ok(files);
        }
        let text = match crate::files::read_own_file(&config) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
            Err(e) => {
                return Err(Error::invalid_with_hint(
                    format!(
                        "cannot read the AWS config file {} to keep its credentials from the \
                         command: {e}",
                        config.display()
                    ),
                    "fix the file, or point AWS_CONFIG_FILE at another one",
                ))
            }
        };
        let (kept, removed) = crate::aws_config_file::without_credential_settings(&text);
        if removed.is_empty() {
            return Ok(files);
        }
        let folder = crate::env::var_os("XDG_RUNTIME_DIR")
            .map(std::path::PathBuf::from)
            .filter(|folder| folder.is_absolute())
            .unwrap_or_else(std::env::temp_dir);
        let cannot = |e: std::io::Error| {
            Error::Internal(format!(
                "cannot write the command's copy of the AWS config file in {}: {e}",
                folder.display()
            ))
        };
        let (path, mut file) =
            crate::files::create_unique(&folder, "s3creds-exec-config").map_err(cannot)?;
        files.config_copy = Some(path.clone());
        let header = format!(
            "# {} for a command run by `s3creds exec`, without its credential settings.\n\
             # Removed when the command ends.\n",
            config.display()
        );
        std::io::Write::write_all(&mut file, format!("{header}{kept}").as_bytes())
            .map_err(cannot)?;
        command.env(crate::env::AWS_CONFIG_FILE, &path);
        files.removed_settings = removed;
        Ok(files)
    }

    #[cfg(unix)]
    fn config_copy(&self) -> Option<&Path> {
        self.config_copy.as_deref()
    }

    /// Say what the command does not see (names only, never a value).
    fn tell(&self) {
        if let Some(credentials) = &self.hidden_credentials {
            eprintln!(
                "s3creds exec: the command does not see the credentials file {}",
                credentials.display()
            );
        }
        if !self.removed_settings.is_empty() {
            eprintln!(
                "s3creds exec: the command sees the AWS config file without its credential \
                 settings ({})",
                self.removed_settings.join(", ")
            );
        }
    }

    /// The endpoint process removes the copy from now on; say what the command does not see.
    #[cfg(unix)]
    fn hand_over(mut self) {
        self.tell();
        self.config_copy = None;
    }
}

/// Whether `path` is a character device (`/dev/null`, or `NUL` on Windows).
fn is_device(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
    }
    #[cfg(not(unix))]
    {
        path.as_os_str().eq_ignore_ascii_case("NUL")
    }
}

impl Drop for CommandFiles {
    fn drop(&mut self) {
        if let Some(copy) = &self.config_copy {
            let _ = std::fs::remove_file(copy);
        }
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
    /// The handover: a token, one credentials record (a few KiB) and the policy inputs, each at most
    /// `policy_input::MAX_INPUT_BYTES` when read; more is not from s3creds.
    const MAX_HANDOVER_BYTES: u64 = 4 * 1024 * 1024;

    /// What the endpoint process is handed through its pipe: secrets never go through the
    /// environment or the command line, and the inputs this run read are not read again.
    pub struct Handover {
        pub token: Token,
        pub first: SessionCredentials,
        pub inputs: PolicyInputs,
        /// The command's copy of the AWS config file, removed when the command ends.
        pub config_copy: Option<std::path::PathBuf>,
    }

    impl Handover {
        /// Lines: the token, the credentials record, the config copy's path (JSON, or empty), the
        /// `--policy` document (JSON, or empty), then one statement per line. Compact JSON has no
        /// line breaks.
        fn encode(&self) -> Result<Secret> {
            let config_copy =
                match &self.config_copy {
                    Some(path) => serde_json::to_string(path.to_str().ok_or_else(|| {
                        Error::Internal(format!("{} is not UTF-8", path.display()))
                    })?)
                    .map_err(|e| Error::Internal(format!("cannot hand over a path: {e}")))?,
                    None => String::new(),
                };
            let mut lines = vec![
                self.token.expose().to_string(),
                crate::cache::encode_record(&self.first),
                config_copy,
                self.inputs.policy.clone().unwrap_or_default(),
            ];
            lines.extend(self.inputs.statements.iter().cloned());
            let mut text = lines.join("\n");
            text.push('\n');
            Ok(Secret::new(text))
        }

        fn decode(text: &str) -> Option<Handover> {
            let mut lines = text.lines();
            let token = Token::from_generated(lines.next()?.to_string()).ok()?;
            let first = crate::cache::decode_record(lines.next()?, std::time::SystemTime::now())?;
            let config_copy = match lines.next()? {
                "" => None,
                path => Some(serde_json::from_str::<String>(path).ok()?.into()),
            };
            let policy = match lines.next()? {
                "" => None,
                policy => Some(policy.to_string()),
            };
            let statements = lines.map(str::to_string).collect();
            Some(Handover {
                token,
                first,
                inputs: PolicyInputs { policy, statements },
                config_copy,
            })
        }
    }

    /// Start it with this run's own command line: the listening socket as its stdin, and as its
    /// stdout the read end of a pipe carrying the handover. In a process group of its own, a
    /// terminal's Ctrl+C reaches the command only.
    pub fn start(listener: std::net::TcpListener, handover: &Handover) -> Result<()> {
        let not_started = |e: std::io::Error| {
            Error::Internal(format!("cannot start the credentials endpoint: {e}"))
        };
        let handover = handover.encode()?;
        let (reader, mut writer) = std::io::pipe().map_err(not_started)?;
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
        // Written once the endpoint runs, since it may be more than a pipe holds unread; it reads to
        // the end, which comes when `writer` is dropped here (it is close-on-exec, so no child holds
        // it open). Not waited for: it ends after the command, and whoever reaps orphans reaps it.
        writer
            .write_all(handover.expose().as_bytes())
            .map_err(not_started)?;
        drop(writer);
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
        let handover = read_handover()?;
        // The command is this process's parent (it took the place of the s3creds that started this
        // one). When it ends, nothing is left to serve, and the port closes with this process.
        let served = served.to_str().and_then(|pid| pid.parse::<u32>().ok());
        let config_copy = handover.config_copy.clone();
        let Some(served) = served.filter(|pid| *pid == std::os::unix::process::parent_id()) else {
            remove_copy(config_copy.as_deref());
            return Ok(());
        };
        std::thread::spawn(move || {
            wait_for_the_command(served);
            remove_copy(config_copy.as_deref());
            std::process::exit(0);
        });
        let listener = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(std::net::TcpListener::from)
            .map_err(|e| Error::Internal(format!("the endpoint's socket is not usable: {e}")))?;
        let mut args = args.serve.clone();
        handover.inputs.apply_to(&mut args);
        let provider = Provider::new(Session::new(&args, aws_options)?);
        provider.remember(handover.first)?;
        serve_until_exit(listener, handover.token, provider)
    }

    fn remove_copy(copy: Option<&Path>) {
        if let Some(copy) = copy {
            let _ = std::fs::remove_file(copy);
        }
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

    /// The handover, from the pipe on stdout that `start` fills.
    fn read_handover() -> Result<Handover> {
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
        Handover::decode(handover.expose()).ok_or_else(|| not_handed("its credentials and inputs"))
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
    files: CommandFiles,
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
    drop(files);
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
