//! The command line: clap definitions only. Values are validated into domain types by the commands.

use crate::aws::AwsOptions;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "s3creds",
    version,
    about = "Hand out least-privilege S3 credentials: a scoped IAM user, or temporary STS credentials",
    after_help = "Exit codes: 0 success, 1 internal error, 2 usage, 3 invalid input, \
                  4 AWS authentication/permission, 5 other AWS error."
)]
pub struct Cli {
    #[command(flatten)]
    pub aws: AwsOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line of `serve` alone ([`ExecCli`] is the same for `exec`). A credential_process
/// helper runs at every SDK client start, and `exec` before every command it wraps; building clap's
/// definition of every command costs about a millisecond there (measured: a cache hit went from 2.4 to
/// 3.4 ms as commands were added, and `exec -- true` spent 1.1 ms more than `serve` in its parse).
/// Each is parsed with its own grammar first: a strict subset of [`Cli`] (the same global options and
/// the same command), so what it accepts means the same. Anything else, `--help` included, goes
/// through [`Cli`] for the full parse and its error messages.
#[derive(Debug, Parser)]
#[command(name = "s3creds")]
struct ServeCli {
    #[command(flatten)]
    aws: AwsOptions,
    #[command(subcommand)]
    command: ServeOnly,
}

#[derive(Debug, Subcommand)]
enum ServeOnly {
    Serve(ServeCommandArgs),
}

/// The same short way for `exec` (its own grammar, so that `serve`'s stays as small as it was).
#[derive(Debug, Parser)]
#[command(name = "s3creds")]
struct ExecCli {
    #[command(flatten)]
    aws: AwsOptions,
    #[command(subcommand)]
    command: ExecOnly,
}

#[derive(Debug, Subcommand)]
enum ExecOnly {
    Exec(ExecArgs),
}

impl Cli {
    /// The whole command line definition (for completion and man pages).
    pub fn definition() -> clap::Command {
        <Cli as clap::CommandFactory>::command()
    }

    /// An AWS option given to a command where it does nothing: the option and the command's name.
    pub fn refused_aws_option(&self) -> Option<(String, &'static str)> {
        let (refused, command) = match &self.command {
            Command::Cache(args) => (&args.refused, "cache"),
            Command::Plugin(args) => (&args.refused, "plugin"),
            Command::Completions(args) => (&args.refused, "completions"),
            Command::Man(args) => (&args.refused, "man"),
            _ => return None,
        };
        // After the subcommand it was parsed into `refused`; before it, into the global `aws`.
        let given = AwsOptions::from(refused)
            .to_argv()
            .into_iter()
            .chain(self.aws.to_argv())
            .next()?;
        Some((given, command))
    }

    /// Parse the command line, taking the short way for `serve` and `exec` (see [`ServeCli`]).
    pub fn parse_args(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
        let words = || args.iter().skip(1);
        if words().any(|arg| arg == "serve") {
            if let Ok(ServeCli {
                aws,
                command: ServeOnly::Serve(serve),
            }) = ServeCli::try_parse_from(args)
            {
                return Ok(Cli {
                    aws,
                    command: Command::Serve(serve),
                });
            }
        }
        if words().any(|arg| arg == "exec") {
            if let Ok(ExecCli {
                aws,
                command: ExecOnly::Exec(exec),
            }) = ExecCli::try_parse_from(args)
            {
                return Ok(Cli {
                    aws,
                    command: Command::Exec(exec),
                });
            }
        }
        Cli::try_parse_from(args)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create credentials scoped to the named buckets (permanent, or temporary with --duration).
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// Print the policy `create` would use, without calling AWS.
    Policy(PolicyArgs),
    /// AWS credential_process helper: print cached, scoped temporary credentials (or, with --http, serve
    /// them to AWS SDKs' container credentials provider).
    Serve(ServeCommandArgs),
    /// Write or remove an ~/.aws/config profile whose credential_process is `s3creds serve`.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Inspect or empty the credential cache of `serve`.
    Cache(CacheArgs),
    /// Install, list, inspect and remove plugins (presets and output formats).
    Plugin(PluginArgs),
    /// Print the shell code that sets up tab completion (bash, zsh, fish, powershell, elvish).
    #[command(after_long_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Write the man pages of s3creds and every subcommand (or print s3creds(1) to standard output).
    #[command(after_long_help = MAN_HELP)]
    Man(ManArgs),
    /// Internal: render credentials (JSON on stdin) with a plugin format, isolated from `create`.
    #[command(name = "__format", hide = true)]
    FormatChild {
        #[arg(value_name = "FORMAT")]
        name: String,
    },
    /// Delete IAM users s3creds created: access keys, policies, groups, login profile, then the user.
    DeleteUser(DeleteUserArgs),
    /// Give an IAM user a new access key, printed once it works, then deactivate the old one.
    Rotate(RotateArgs),
    /// Run a command with scoped temporary credentials (a credentials endpoint of its own, or --env).
    Exec(ExecArgs),
    /// Print the AWS identity in use (sts:GetCallerIdentity) as JSON: UserId, Account, Arn.
    Whoami,
    /// List the IAM users s3creds manages (--all: every user): buckets, access, keys and their last
    /// use, expiry; and the role temporary credentials come from.
    List(ListArgs),
    /// List every IAM user of the account (as s3-credentials list-users).
    ListUsers(ListUsersArgs),
    /// List IAM roles (as s3-credentials list-roles).
    ListRoles(ListRolesArgs),
    /// Print the inline policies of the named users, or of every user (as s3-credentials
    /// list-user-policies).
    ListUserPolicies(ListUserPoliciesArgs),
    /// List S3 buckets (as s3-credentials list-buckets).
    ListBuckets(ListBucketsArgs),
    /// List the contents of a bucket (JSON, or --nl / --csv / --tsv).
    ListBucket(ListBucketArgs),
    /// Print a bucket's policy as JSON.
    GetBucketPolicy(BucketArgs),
    /// Set a bucket's policy from a file, or let anyone GET its objects (--allow-all-get).
    SetBucketPolicy(SetBucketPolicyArgs),
    /// Print a bucket's public access block as JSON.
    GetPublicAccessBlock(BucketArgs),
    /// Change a bucket's public access block settings (unnamed settings keep their values).
    SetPublicAccessBlock(SetPublicAccessBlockArgs),
    /// Print a bucket's CORS rules as JSON.
    GetCorsPolicy(BucketArgs),
    /// Set a bucket's CORS rule (default: GET from any origin).
    SetCorsPolicy(SetCorsPolicyArgs),
    /// Print a bucket's ACL, policy status and public access block.
    DebugBucket(BucketArgs),
    /// Download one object to standard output or a file.
    GetObject(GetObjectArgs),
    /// Download many objects (all, named keys, or --pattern globs) into a folder, concurrently.
    GetObjects(GetObjectsArgs),
    /// Upload a file (or standard input with -) as one object; multipart above 8 MiB.
    PutObject(PutObjectArgs),
    /// Upload files and folders (recursively), concurrently.
    PutObjects(PutObjectsArgs),
    /// Delete named keys, or every key under --prefix.
    DeleteObjects(DeleteObjectsArgs),
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// The buckets the credentials are for.
    #[arg(required = true, value_name = "BUCKET")]
    pub buckets: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyOptions,
    /// How long the credentials last: 15m ... 12h.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub duration: String,
    /// Fetch new credentials when the cached ones have less than this left (SDKs such as botocore ask
    /// again on every call below 15 minutes).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub refresh_window: String,
    /// Do not use the OS keyring cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Boxed: every command holding `ServeArgs` stays small (clippy's large_enum_variant).
    #[command(flatten)]
    pub role: Box<RoleOptions>,
}

/// An option and its value as words that parse back: `--flag=value` when the value starts with `-`
/// (as two words it would be read as another option), else `--flag value`.
pub fn option_words(flag: &str, value: &str) -> Vec<String> {
    if value.starts_with('-') {
        vec![format!("{flag}={value}")]
    } else {
        vec![flag.to_string(), value.to_string()]
    }
}

impl ServeArgs {
    /// The words after `serve` that parse back into exactly these arguments. `profile add` writes its
    /// credential_process line from this. Every field is destructured, so a new `serve` option does not
    /// compile until it is written here too (and `tests::serve_args_round_trip` covers it).
    pub fn to_argv(&self) -> Vec<String> {
        let ServeArgs {
            buckets,
            policy,
            duration,
            refresh_window,
            no_cache,
            role,
        } = self;
        let mut words = buckets.clone();
        words.extend(policy.to_argv());
        words.extend(option_words("--duration", duration));
        words.extend(option_words("--refresh-window", refresh_window));
        if *no_cache {
            words.push("--no-cache".into());
        }
        words.extend(role.to_argv());
        words
    }
}

impl PolicyOptions {
    fn to_argv(&self) -> Vec<String> {
        let PolicyOptions {
            read_only,
            write_only,
            prefixes,
            policy,
            statements,
            presets,
        } = self;
        let mut words = Vec::new();
        if *read_only {
            words.push("--read-only".to_string());
        }
        if *write_only {
            words.push("--write-only".to_string());
        }
        for prefix in prefixes {
            words.extend(option_words("--prefix", prefix));
        }
        if let Some(policy) = policy {
            words.extend(option_words("--policy", policy));
        }
        for statement in statements {
            words.extend(option_words("--statement", statement));
        }
        for preset in presets {
            words.extend(option_words("--preset", preset));
        }
        words
    }
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Add `[profile NEW_PROFILE]` with `credential_process = /abs/path/s3creds serve BUCKET...`.
    #[command(
        long_about = "Add `[profile NEW_PROFILE]` to ~/.aws/config with `credential_process = \
                      /abs/path/s3creds serve BUCKET...`.\n\n\
                      NEW_PROFILE is the profile written, for programs to use (`aws --profile NEW_PROFILE`). \
                      The global --profile is a different one: the identity `serve` fetches the scoped \
                      credentials with, written into the credential_process line."
    )]
    Add(ProfileAddArgs),
    /// Remove a profile written by `profile add`.
    Remove {
        /// The profile to remove.
        #[arg(value_name = "PROFILE", add = clap_complete::ArgValueCompleter::new(crate::completion::profile_names))]
        name: String,
        /// Remove it even if s3creds did not write it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct ProfileAddArgs {
    /// The name of the profile to write (programs then use `--profile NEW_PROFILE`).
    #[arg(value_name = "NEW_PROFILE")]
    pub name: String,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Replace an existing profile of that name (after a backup of the config file).
    #[arg(long)]
    pub force: bool,
}

/// Where the AWS options would do nothing (`cache`, `plugin`, `completions`, `man`), this takes their
/// place: the same names, hidden from help, so that the global options do not reach these commands and a
/// use of one is refused (`Cli::refused_aws_option`) instead of silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct AwsOptionsRefused {
    #[arg(long, hide = true)]
    profile: Option<String>,
    #[arg(long, hide = true)]
    region: Option<String>,
    #[arg(long, hide = true)]
    endpoint_url: Option<String>,
    #[arg(long, hide = true)]
    connect_timeout: Option<String>,
    #[arg(long, hide = true)]
    read_timeout: Option<String>,
    #[arg(long, hide = true)]
    operation_timeout: Option<String>,
}

impl From<&AwsOptionsRefused> for AwsOptions {
    fn from(refused: &AwsOptionsRefused) -> Self {
        let AwsOptionsRefused {
            profile,
            region,
            endpoint_url,
            connect_timeout,
            read_timeout,
            operation_timeout,
        } = refused.clone();
        AwsOptions {
            profile,
            region,
            endpoint_url,
            connect_timeout,
            read_timeout,
            operation_timeout,
        }
    }
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(flatten)]
    pub refused: AwsOptionsRefused,
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Args)]
pub struct PluginArgs {
    #[command(flatten)]
    pub refused: AwsOptionsRefused,
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// The shells `completions` writes for (clap_complete's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completion code for.
    #[arg(value_enum)]
    pub shell: Shell,
    #[command(flatten)]
    pub refused: AwsOptionsRefused,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write s3creds.1 and one page per subcommand (s3creds-create.1, ...) into this folder, which
    /// must exist. Without it, s3creds.1 goes to standard output.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub refused: AwsOptionsRefused,
}

const CREATE_EXAMPLES: &str = "\
Examples:
  s3creds create my-bucket                       an IAM user and access key for my-bucket (read-write)
  s3creds create my-bucket --read-only --prefix reports/
  s3creds create my-bucket --duration 1h         temporary credentials (STS AssumeRole)
  s3creds create my-bucket --expires 30d         a permanent key that stops working in 30 days
  s3creds create my-bucket --dry-run             every AWS call and policy, nothing changed
  s3creds create new-bucket -c --format ini      create the bucket too; credentials as INI";

const COMPLETIONS_HELP: &str = "\
Set-up (the code calls s3creds back to complete, so profile names, presets and formats are current):
  bash:        echo 'source <(s3creds completions bash)' >> ~/.bashrc
  zsh:         echo 'source <(s3creds completions zsh)' >> ~/.zshrc
  fish:        s3creds completions fish > ~/.config/fish/completions/s3creds.fish
  powershell:  s3creds completions powershell | Out-String | Invoke-Expression   (in $PROFILE)
  elvish:      eval (s3creds completions elvish | slurp)   (in ~/.config/elvish/rc.elv)";

const MAN_HELP: &str = "\
Install for your user:
  mkdir -p ~/.local/share/man/man1 && s3creds man --dir ~/.local/share/man/man1
Read one without installing:
  s3creds man | man -l -";

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached credentials: key, buckets, expiry. Never a secret.
    List,
    /// Delete every cached credential and remembered role.
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Install a plugin: a built library (.so/.dylib/.dll), or a plugin crate folder to build with
    /// `cargo build --release`. The library is copied into the data folder and its SHA-256 recorded.
    Install {
        /// The library file or the crate folder.
        #[arg(value_name = "PATH")]
        path: std::path::PathBuf,
    },
    /// List installed plugins: name, version, ABI, what they provide, and whether their file is intact.
    List,
    /// Load an installed plugin and describe it.
    Info {
        #[arg(value_name = "NAME", add = clap_complete::ArgValueCompleter::new(crate::completion::plugin_names))]
        name: String,
    },
    /// Uninstall a plugin and delete its library.
    Remove {
        #[arg(value_name = "NAME", add = clap_complete::ArgValueCompleter::new(crate::completion::plugin_names))]
        name: String,
    },
}

/// The options that decide what the credentials may do; shared by every command that builds a policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct PolicyOptions {
    /// Only allow reading from the buckets.
    #[arg(long, conflicts_with = "write_only")]
    pub read_only: bool,
    /// Only allow writing to the buckets (PutObject), not reading.
    #[arg(long)]
    pub write_only: bool,
    /// Only allow keys starting with this prefix (repeatable); `foo/` grants `foo/*`.
    #[arg(long = "prefix", value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    /// A custom policy document: a file path, a JSON string, or - for standard input.
    /// `$!BUCKET_NAME!$` is replaced by each bucket name.
    #[arg(
        long,
        value_name = "FILE|JSON|-",
        conflicts_with_all = ["read_only", "write_only", "prefixes"]
    )]
    pub policy: Option<String>,
    /// A statement to add to the policy (repeatable): a JSON object, e.g.
    /// '{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}', a file path, or - for standard
    /// input (only one --policy/--statement can read standard input).
    #[arg(long = "statement", value_name = "JSON|FILE|-")]
    pub statements: Vec<String>,
    /// Add the statements of an installed plugin's preset (repeatable), e.g. `textract`.
    /// See `s3creds plugin list`.
    #[arg(long = "preset", value_name = "NAME",
          add = clap_complete::ArgValueCompleter::new(crate::completion::preset_names))]
    pub presets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The buckets the policy covers.
    #[arg(required = true, value_name = "BUCKET")]
    pub buckets: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyOptions,
    /// Show the policy as `create --expires` would make it: 30d, 2027-01-31 or 2027-01-31T12:00:00Z.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
}

/// How `--dry-run` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The buckets the credentials are for.
    #[arg(required = true, value_name = "BUCKET")]
    pub buckets: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyOptions,
    /// Output format of the credentials: json, ini, or a format of an installed plugin.
    #[arg(long, value_name = "FORMAT", default_value = "json",
          add = clap_complete::ArgValueCompleter::new(crate::completion::format_names))]
    pub format: String,
    /// Issue temporary credentials lasting this long: 900, 1200s, 15m, 1h ... 12h.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// The IAM user to create or reuse (default: s3.<access>.<buckets>). With --duration, the role
    /// session name.
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Create the buckets if they do not exist.
    #[arg(short = 'c', long)]
    pub create_bucket: bool,
    /// Make buckets created now publicly readable (public access block off + public-read bucket policy).
    #[arg(long, requires = "create_bucket")]
    pub public: bool,
    /// Make buckets created now public websites (index.html, error.html); implies --public.
    #[arg(long, requires = "create_bucket")]
    pub website: bool,
    /// The region to create buckets in; an existing bucket must already be in it.
    #[arg(long, value_name = "REGION")]
    pub bucket_region: Option<String>,
    /// Only print the credentials: no progress lines on stderr.
    #[arg(long)]
    pub silent: bool,
    /// Print the plan (every AWS call, every policy) and change nothing; needs no AWS credentials.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    pub dry_run: Option<PlanFormat>,
    /// Permissions boundary for a user created now: a managed policy ARN, or `none`
    /// (default: S3 read-only or full access; none for --policy/--statement).
    #[arg(long, value_name = "ARN|none", conflicts_with = "duration")]
    pub user_permissions_boundary: Option<String>,
    /// How long to wait for IAM to make a new access key or role usable before giving up.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub wait_timeout: String,
    /// Do not wait for a new access key to authenticate; print it at once.
    #[arg(long, conflicts_with = "wait_timeout")]
    pub no_wait: bool,
    /// Permanent credentials that stop working at this time: a duration (30d, 12h, 90m), a date
    /// (2027-01-31, midnight UTC) or an RFC 3339 time (2027-01-31T12:00:00Z). Not with --duration.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    #[command(flatten)]
    pub role: RoleOptions,
}

/// `--role-arn` / `--external-id`: assume a role the user already has (with the generated session
/// policy) instead of s3creds' own role. Shared by `create --duration`, `serve`, `exec`, `profile add`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct RoleOptions {
    /// Assume this existing role (arn:aws:iam::ACCOUNT:role/NAME) with the session policy; s3creds
    /// neither looks up nor creates its own role.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// The external ID the role's trust policy asks for (with --role-arn).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
}

impl RoleOptions {
    fn to_argv(&self) -> Vec<String> {
        let RoleOptions {
            role_arn,
            external_id,
        } = self;
        let mut words = Vec::new();
        if let Some(arn) = role_arn {
            words.extend(option_words("--role-arn", arn));
        }
        if let Some(id) = external_id {
            words.extend(option_words("--external-id", id));
        }
        words
    }
}

/// `serve`'s command line: the credential options every `serve` has (and `profile add` writes back),
/// plus `--http` and its options, which only a standalone `serve` has.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ServeCommandArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub http: HttpOptions,
}

/// Code written for `serve`'s `ServeArgs` keeps working on the whole command line.
impl std::ops::Deref for ServeCommandArgs {
    type Target = ServeArgs;
    fn deref(&self) -> &ServeArgs {
        &self.serve
    }
}

/// `serve --http`: the credentials endpoint as a standalone process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct HttpOptions {
    /// Serve the credentials over HTTP to AWS SDKs' container credentials provider (prints the
    /// AWS_CONTAINER_* variables to give the client), until SIGINT/SIGTERM.
    #[arg(long)]
    pub http: bool,
    /// The address to listen on (with --http); default 127.0.0.1 on a free port.
    #[arg(long, value_name = "ADDR:PORT", requires = "http")]
    pub listen: Option<String>,
    /// Write the token to this file (mode 0600) instead of printing it (with --http).
    #[arg(long, value_name = "FILE", requires = "http")]
    pub token_file: Option<std::path::PathBuf>,
    /// Accept a --listen address other than loopback (anyone who can reach it and has the token gets
    /// the credentials, in clear text).
    #[arg(long, requires = "listen")]
    pub allow_non_loopback: bool,
}

/// `s3creds exec [serve's options] [--env] -- CMD [ARGS...]`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Give the command plain AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
    /// AWS_CREDENTIAL_EXPIRATION (not refreshed) instead of a credentials endpoint.
    #[arg(long)]
    pub env: bool,
    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct DeleteUserArgs {
    /// The IAM users to delete.
    #[arg(
        value_name = "NAME",
        required_unless_present = "expired",
        conflicts_with = "expired"
    )]
    pub names: Vec<String>,
    /// Delete users that s3creds did not create (no s3creds:managed tag).
    #[arg(long)]
    pub force: bool,
    /// Delete every s3creds user whose --expires time has passed.
    #[arg(long)]
    pub expired: bool,
    /// Print the calls that would be made (after the read-only discovery) and change nothing.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    pub dry_run: Option<PlanFormat>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub silent: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The IAM user whose access key to replace.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Delete the old key instead of deactivating it.
    #[arg(long)]
    pub delete_old: bool,
    /// With two keys: delete the inactive one first to make room.
    #[arg(long, conflicts_with = "replace_oldest")]
    pub replace_inactive: bool,
    /// With two keys: delete the oldest first (refused if it is the only active one).
    #[arg(long)]
    pub replace_oldest: bool,
    /// How long to wait for the new key to authenticate before leaving the old key active.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub wait_timeout: String,
    /// Output format of the new key: json, ini, or a format of an installed plugin.
    #[arg(long, value_name = "FORMAT", default_value = "json",
          add = clap_complete::ArgValueCompleter::new(crate::completion::format_names))]
    pub format: String,
    /// Rotate a user that s3creds did not create (no s3creds:managed tag).
    #[arg(long)]
    pub force: bool,
    /// Only print the credentials: no progress lines on stderr.
    #[arg(long)]
    pub silent: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short way for `serve` and `exec` must mean exactly what the full grammar means, or defer.
    #[test]
    fn the_hot_path_parses_as_the_full_grammar_does() {
        let lines: &[&[&str]] = &[
            &["serve", "b"],
            &[
                "--profile",
                "p",
                "serve",
                "b",
                "--read-only",
                "--duration",
                "2h",
            ],
            &[
                "serve",
                "b",
                "--prefix",
                "x/",
                "--refresh-window",
                "5m",
                "--no-cache",
            ],
            &["serve", "b", "--http", "--listen", "127.0.0.1:0"],
            &["--region", "serve", "serve", "b"],
            &[
                "serve",
                "b",
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
            ],
            &["create", "serve"],
            &["policy", "serve", "--read-only"],
            &["serve", "b", "--no-such-option"],
            &["serve", "--help"],
            &["serve"],
            &["exec", "b", "--", "true"],
            &["exec", "b", "--env", "--read-only", "--", "serve", "b"],
            &["--profile", "p", "exec", "b", "--duration", "1h", "--", "x"],
            &["exec", "b", "--", "exec", "--help"],
            &["exec", "b"],
            &["exec", "--help"],
            &["exec", "b", "--http", "--", "true"],
            &["create", "exec"],
            &["list", "exec"],
        ];
        for words in lines {
            let args: Vec<std::ffi::OsString> = std::iter::once("s3creds")
                .chain(words.iter().copied())
                .map(Into::into)
                .collect();
            let fast = format!("{:?}", Cli::parse_args(&args).map_err(|e| e.to_string()));
            let full = format!(
                "{:?}",
                Cli::try_parse_from(&args).map_err(|e| e.to_string())
            );
            assert_eq!(fast, full, "{words:?}");
        }
    }

    fn parse(words: &[String]) -> Cli {
        Cli::try_parse_from(
            ["s3creds".to_string()]
                .into_iter()
                .chain(words.iter().cloned()),
        )
        .unwrap_or_else(|e| panic!("{words:?}: {e}"))
    }

    fn serve_args(cli: Cli) -> (AwsOptions, ServeCommandArgs) {
        match cli.command {
            Command::Serve(args) => (cli.aws, args),
            other => panic!("not serve: {other:?}"),
        }
    }

    /// parse -> write -> parse gives the same request, for every `serve` option at once and for the
    /// defaults.
    #[test]
    fn serve_args_round_trip() {
        let every_option: Vec<String> = [
            "--profile",
            "src",
            "--region",
            "eu-west-2",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "serve",
            "b-one",
            "b-two",
            "--read-only",
            "--prefix",
            "a/",
            "--prefix",
            "b/*",
            "--statement",
            r#"{"Effect":"Allow","Action":"textract:*","Resource":"*"}"#,
            "--preset",
            "textract",
            "--duration",
            "2h",
            "--refresh-window",
            "20m",
            "--no-cache",
            "--role-arn",
            "arn:aws:iam::123456789012:role/dev/Given",
            "--external-id",
            "ext-42",
        ]
        .iter()
        .map(|w| w.to_string())
        .collect();
        let with_policy: Vec<String> = [
            "serve",
            "b-one",
            "--policy",
            "/abs/p.json",
            "--statement",
            "{}",
        ]
        .iter()
        .map(|w| w.to_string())
        .collect();
        let defaults: Vec<String> = ["serve", "b-one"].iter().map(|w| w.to_string()).collect();
        // Values that start with `-`, given as `--flag=value`: written back the same way, since as
        // two words they would be read as options.
        let dashed: Vec<String> = [
            "--profile=-p",
            "serve",
            "b-one",
            "--prefix=-x/",
            "--statement=-",
            "--external-id=-ext",
            "--role-arn",
            "arn:aws:iam::123456789012:role/r",
        ]
        .iter()
        .map(|w| w.to_string())
        .collect();
        for words in [every_option, with_policy, defaults, dashed] {
            let (aws, args) = serve_args(parse(&words));
            let mut written = aws.to_argv();
            written.push("serve".into());
            written.extend(args.to_argv());
            let (aws_again, args_again) = serve_args(parse(&written));
            assert_eq!(args_again, args, "{written:?}");
            assert_eq!(aws_again, aws, "{written:?}");
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List every IAM user, not only those s3creds created (tagged s3creds:managed).
    #[arg(long)]
    pub all: bool,
    /// How many users to read at once (each user's policies and keys are read side by side).
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::aws::inventory::DEFAULT_CONCURRENCY,
        value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=64), usize::from)
    )]
    pub concurrency: usize,
    #[command(flatten)]
    pub output: crate::listing_output::OutputFlags,
}

#[derive(Debug, Args)]
pub struct ListUsersArgs {
    #[command(flatten)]
    pub output: crate::listing_output::OutputFlags,
}

#[derive(Debug, Args)]
pub struct ListRolesArgs {
    /// Only these roles.
    #[arg(value_name = "ROLE_NAME")]
    pub role_names: Vec<String>,
    /// Include each role's inline and attached policies (more AWS calls).
    #[arg(long)]
    pub details: bool,
    #[command(flatten)]
    pub output: crate::listing_output::OutputFlags,
}

#[derive(Debug, Args)]
pub struct ListUserPoliciesArgs {
    /// The users (default: every user).
    #[arg(value_name = "USERNAME")]
    pub usernames: Vec<String>,
    /// Default: s3-credentials' text (`User:`, `PolicyName:`, the document); with a flag, rows of
    /// UserName, PolicyName, PolicyDocument.
    #[command(flatten)]
    pub output: crate::listing_output::OutputFlags,
}

#[derive(Debug, Args)]
pub struct ListBucketsArgs {
    /// Only these buckets.
    #[arg(value_name = "BUCKET")]
    pub buckets: Vec<String>,
    /// Include each bucket's region, ACL, public access block and website (more AWS calls).
    #[arg(long)]
    pub details: bool,
    #[command(flatten)]
    pub output: crate::listing_output::OutputFlags,
}

/// Credentials for the bucket and object commands, as the Python tool takes them: a file that `create`
/// printed, or the keys themselves. Without any, the usual AWS configuration is used.
#[derive(Debug, Clone, Default, Args)]
pub struct CredentialArgs {
    /// A JSON or INI credentials file as `create` prints it (`-` for standard input).
    #[arg(short = 'a', long = "auth", value_name = "FILE|-",
          conflicts_with_all = ["access_key", "secret_key", "session_token"])]
    pub auth: Option<String>,
    /// AWS access key ID.
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// AWS secret access key. Visible to every user in `ps`: prefer -a FILE or AWS_SECRET_ACCESS_KEY.
    #[arg(long, value_name = "SECRET", value_parser = secret_arg, requires = "access_key")]
    pub secret_key: Option<crate::secret::Secret>,
    /// AWS session token. Visible to every user in `ps`: prefer -a FILE or AWS_SESSION_TOKEN.
    #[arg(long, value_name = "TOKEN", value_parser = secret_arg, requires = "secret_key")]
    pub session_token: Option<crate::secret::Secret>,
}

/// Secrets from the command line are held as [`crate::secret::Secret`] at once, so `Debug` of the
/// parsed arguments never shows them.
fn secret_arg(text: &str) -> Result<crate::secret::Secret, String> {
    Ok(crate::secret::Secret::new(text))
}

/// Python `click`'s BOOLEAN values: true/false, 1/0, yes/no, y/n, on/off, t/f (any case).
fn click_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" | "t" => Ok(true),
        "false" | "0" | "no" | "n" | "off" | "f" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (true or false)")),
    }
}

#[derive(Debug, Args)]
pub struct BucketArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct ListBucketArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// List keys starting with this prefix.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Add a URL field to each key.
    #[arg(long)]
    pub urls: bool,
    /// Output newline-delimited JSON.
    #[arg(long, conflicts_with_all = ["csv", "tsv"])]
    pub nl: bool,
    /// Output CSV.
    #[arg(long, conflicts_with = "tsv")]
    pub csv: bool,
    /// Output TSV.
    #[arg(long)]
    pub tsv: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct SetBucketPolicyArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// The policy document (JSON file, or - for standard input).
    #[arg(long, value_name = "FILE|-", conflicts_with = "allow_all_get")]
    pub policy_file: Option<String>,
    /// Let anyone on the internet GET every object (s3:GetObject for Principal *).
    #[arg(long)]
    pub allow_all_get: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct SetPublicAccessBlockArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Block public ACLs for the bucket (true/false).
    #[arg(long, value_name = "BOOLEAN", value_parser = click_bool)]
    pub block_public_acls: Option<bool>,
    /// Ignore public ACLs for the bucket (true/false).
    #[arg(long, value_name = "BOOLEAN", value_parser = click_bool)]
    pub ignore_public_acls: Option<bool>,
    /// Block public bucket policies (true/false).
    #[arg(long, value_name = "BOOLEAN", value_parser = click_bool)]
    pub block_public_policy: Option<bool>,
    /// Restrict public buckets (true/false).
    #[arg(long, value_name = "BOOLEAN", value_parser = click_bool)]
    pub restrict_public_buckets: Option<bool>,
    /// Set all four to false (allows full public access).
    #[arg(long, conflicts_with_all = ["block_public_acls", "ignore_public_acls",
                                      "block_public_policy", "restrict_public_buckets"])]
    pub allow_public_access: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// `-h` is `--allowed-header` here, as in the Python tool, so help is `--help` only.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct SetCorsPolicyArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Allowed method, e.g. GET (repeatable; default GET).
    #[arg(short = 'm', long = "allowed-method", value_name = "METHOD")]
    pub allowed_methods: Vec<String>,
    /// Allowed header, e.g. Authorization (repeatable).
    #[arg(short = 'h', long = "allowed-header", value_name = "HEADER")]
    pub allowed_headers: Vec<String>,
    /// Allowed origin, e.g. https://www.example.com/ (repeatable; default *).
    #[arg(short = 'o', long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Header to expose, e.g. ETag (repeatable).
    #[arg(short = 'e', long = "expose-header", value_name = "HEADER")]
    pub expose_headers: Vec<String>,
    /// How long browsers may cache preflight requests.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub max_age_seconds: Option<i64>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

#[derive(Debug, Args)]
pub struct GetObjectArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// The object's key.
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// No progress bar.
    #[arg(short = 's', long)]
    pub silent: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct GetObjectsArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Keys to download (default: every key, or those matching --pattern).
    #[arg(value_name = "KEYS")]
    pub keys: Vec<String>,
    /// Write into this folder (default: the current folder).
    #[arg(short = 'o', long, value_name = "DIRECTORY")]
    pub output: Option<std::path::PathBuf>,
    /// Glob pattern for keys to download, e.g. '*/*.js' (repeatable).
    #[arg(short = 'p', long = "pattern", value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// No progress bar.
    #[arg(short = 's', long)]
    pub silent: bool,
    /// Downloads at once.
    #[arg(long, value_name = "N", default_value_t = crate::core::objects::DEFAULT_CONCURRENCY,
          value_parser = concurrency)]
    pub concurrency: usize,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct PutObjectArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// The object's key.
    #[arg(value_name = "KEY")]
    pub key: String,
    /// The file to upload, or - for standard input.
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Content-Type (default: guessed from the file name).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// No progress bar.
    #[arg(short = 's', long)]
    pub silent: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct PutObjectsArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Files and folders to upload (folders recursively, keyed by their name).
    #[arg(required = true, value_name = "OBJECTS")]
    pub objects: Vec<std::path::PathBuf>,
    /// Prefix for the keys in the bucket (a / is added if missing).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// No progress bar.
    #[arg(short = 's', long)]
    pub silent: bool,
    /// Print what would be uploaded where; upload nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Uploads at once.
    #[arg(long, value_name = "N", default_value_t = crate::core::objects::DEFAULT_CONCURRENCY,
          value_parser = concurrency)]
    pub concurrency: usize,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

#[derive(Debug, Args)]
pub struct DeleteObjectsArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Keys to delete.
    #[arg(value_name = "KEYS")]
    pub keys: Vec<String>,
    /// Delete every key starting with this prefix ('' with --all: everything).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Confirm that --prefix '' is meant to delete every object in the bucket.
    #[arg(long, requires = "prefix")]
    pub all: bool,
    /// No informational output.
    #[arg(short = 's', long)]
    pub silent: bool,
    /// Print the keys that would be deleted; delete nothing.
    #[arg(short = 'd', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// `--concurrency N`: 1 to 64 transfers at once.
fn concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number from 1 to 64")),
    }
}
