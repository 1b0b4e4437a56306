//! `s3creds profile add|remove`: a profile in the AWS config file whose credential_process is
//! `s3creds serve ...`, so every SDK and the AWS CLI get scoped temporary credentials.

use crate::aws::AwsOptions;
use crate::aws_config_file::{self as config, config_header};
use crate::cli::{ProfileAddArgs, ProfileCommand, ServeArgs};
use crate::error::{Error, Result};
use crate::files;
use crate::policy_input::InputSource;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn run(command: &ProfileCommand, aws: &AwsOptions) -> Result<()> {
    let path = config::config_path()
        .ok_or_else(|| Error::no_home("the AWS config file", crate::env::AWS_CONFIG_FILE))?;
    match command {
        ProfileCommand::Add(args) => add(args, aws, &path),
        ProfileCommand::Remove { name, force } => remove(name, *force, &path),
    }
}

fn add(args: &ProfileAddArgs, aws: &AwsOptions, path: &Path) -> Result<()> {
    validate_profile_name(&args.name)?;
    // Before the request is checked, which would read standard input.
    let options = &args.serve.policy;
    let reads_stdin = |source: &String| InputSource::of(source) == InputSource::Stdin;
    if options
        .policy
        .iter()
        .chain(&options.statements)
        .any(reads_stdin)
    {
        return Err(Error::invalid(
            "--policy - and --statement - cannot be used: a credential_process has no standard \
             input; pass a file path",
        ));
    }
    // Bad input is reported as every command reports it, before anything else is looked at.
    crate::request::serve(&args.serve, aws)?;
    let text = read_or_empty(path)?;
    let source = source_identity(args, aws, &text)?;
    // Again with the source's region, which decides the partition of the ARNs.
    let request = crate::request::serve(&args.serve, &source)?;
    check_buckets(&request, &source)?;
    let line = credential_process_line(&args.serve, &source)?;
    let header = config_header(&args.name);
    // A region of its own: the AWS CLI v1 and some SDKs fail without one, and the profile should
    // work in a shell that has no AWS_REGION.
    let region = source
        .region
        .clone()
        .unwrap_or_else(|| crate::core::plan::FALLBACK_REGION.to_string());
    let section = format!("{header}\ncredential_process = {line}\nregion = {region}\n");
    // Held until the new file is in place: a concurrent add or remove reads the result, not the
    // state before it. (The checks above ran without it: they may wait on the network.)
    let (real_path, _lock) = lock_config(path)?;
    let text = read_or_empty(path)?;
    if config::find_section(&text, &header).is_some() {
        if !args.force {
            return Err(Error::invalid_with_hint(
                format!("profile {} already exists in {}", args.name, path.display()),
                "pass --force to replace it (the file is backed up first)",
            ));
        }
        backup(path)?;
    }
    write_config(
        &real_path,
        &config::upsert_section(&text, &header, &section),
    )?;
    eprintln!("Wrote {header} to {}", path.display());
    warn_about_static_keys(&args.name);
    Ok(())
}

/// The identity `serve` will assume the role with, made explicit for the profile: `--profile`, else
/// `AWS_PROFILE` (as the help says), else the `default` profile when one exists. Without any, the
/// profile would only work in shells that happen to export keys, so it is refused. The region is
/// `--region`, else the environment's, else the source profile's.
fn source_identity(
    args: &ProfileAddArgs,
    aws: &AwsOptions,
    config_text: &str,
) -> Result<AwsOptions> {
    let profile = match aws
        .profile
        .clone()
        .or_else(|| crate::env::var(crate::env::AWS_PROFILE))
    {
        Some(profile) => profile,
        None if has_default_profile(config_text) => "default".to_string(),
        None => return Err(Error::invalid_with_hint(
            "no source profile: the new profile needs a profile whose credentials may assume the \
                 s3creds role, and there is no --profile, no AWS_PROFILE and no default profile",
            "create one with `aws configure --profile NAME` (or `aws configure sso`) and pass \
                 --profile NAME",
        )),
    };
    if profile == args.name {
        return Err(Error::invalid_with_hint(
            format!(
                "profile {} cannot get its own credentials from itself",
                args.name
            ),
            "pass --profile with the identity that may assume the role, e.g. --profile default",
        ));
    }
    let region = aws
        .region_hint()
        .or_else(|| config::section_value(config_text, &config_header(&profile), "region"));
    Ok(AwsOptions {
        profile: Some(profile),
        region,
        ..aws.clone()
    })
}

fn has_default_profile(config_text: &str) -> bool {
    config::find_section(config_text, "[default]").is_some()
        || config::credentials_path()
            .and_then(|p| files::read_own_file(&p).ok())
            .is_some_and(|text| config::find_section(&text, "[default]").is_some())
}

/// The buckets must exist (the same check `serve` makes on every fetch), so a typo is caught now and
/// not by the first SDK call. If the check cannot run at all (no network, expired SSO session), the
/// profile is still written, with a warning: it is configuration, and may be written ahead of time.
fn check_buckets(request: &crate::core::request::ServeRequest, source: &AwsOptions) -> Result<()> {
    let plan = crate::core::plan::bucket_check_plan(&request.scope);
    let outcome = crate::aws::block_on(async {
        let aws = crate::aws::AwsClients::load(source).await?;
        crate::aws::apply::check(&plan, &aws).await
    })?;
    match outcome {
        Ok(()) => Ok(()),
        Err(error) if error.to_string().contains("does not exist") => Err(error),
        Err(error) if error.exit_code() == crate::error::exit_code::AWS_AUTH => Err(error),
        Err(error) => {
            eprintln!(
                "warning: could not check that the buckets exist ({}); writing the profile anyway",
                error
            );
            Ok(())
        }
    }
}

fn remove(name: &str, force: bool, path: &Path) -> Result<()> {
    let header = config_header(name);
    let (real_path, _lock) = lock_config(path)?;
    let text = read_or_empty(path)?;
    let Some(range) = config::find_section(&text, &header) else {
        return Err(Error::invalid(format!(
            "no profile {name} in {}",
            path.display()
        )));
    };
    if !text[range].contains(" serve ") && !force {
        return Err(Error::invalid_with_hint(
            format!("profile {name} was not written by s3creds"),
            "pass --force to remove it anyway (the file is backed up first)",
        ));
    }
    backup(path)?;
    let updated = config::remove_section(&text, &header).expect("the section was found");
    write_config(&real_path, &updated)?;
    eprintln!("Removed {header} from {}", path.display());
    Ok(())
}

/// IAM-style profile names: no brackets, spaces or control characters, which would break the header.
fn validate_profile_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.@+=,/".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid profile name {name:?}: use letters, digits and _ - . @ + = , /"
        )))
    }
}

/// `"/abs/path/s3creds" serve --profile SRC ... BUCKET... --options`, written from the same types that
/// parse it (`AwsOptions::to_argv`, `ServeArgs::to_argv`), quoted so that botocore (shlex split), the
/// Rust SDK (`sh -c`) and Go read the same words: an element is double-quoted only when it contains a
/// space, and anything a shell or an INI reader would reinterpret is refused.
pub fn credential_process_line(serve: &ServeArgs, aws: &AwsOptions) -> Result<String> {
    let binary = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::Internal(format!("cannot find the running binary: {e}")))?;
    // The identity that assumes the role (`source_identity`), always explicit: otherwise an SDK
    // started with AWS_PROFILE=<this profile> would make serve resolve its own profile again.
    let source = aws;
    // The helper runs from whatever directory the SDK's process is in: files are named by their
    // absolute paths.
    let mut serve = serve.clone();
    let absolute = |option: &str, source: &str| -> Result<String> {
        Ok(match InputSource::of(source) {
            InputSource::File(file) => std::path::absolute(file)
                .map_err(|e| Error::invalid(format!("{option} {source:?}: {e}")))?
                .to_string_lossy()
                .into_owned(),
            InputSource::Json(_) | InputSource::Stdin => source.to_string(),
        })
    };
    if let Some(file) = &serve.policy.policy {
        serve.policy.policy = Some(absolute("--policy", file)?);
    }
    serve.policy.statements = serve
        .policy
        .statements
        .iter()
        .map(|statement| absolute("--statement", statement))
        .collect::<Result<_>>()?;
    let mut words = vec![binary.to_string_lossy().into_owned(), "serve".to_string()];
    words.extend(source.to_argv());
    words.extend(serve.to_argv());
    words
        .iter()
        .map(|w| quote(w))
        .collect::<Result<Vec<_>>>()
        .map(|w| w.join(" "))
}

fn quote(word: &str) -> Result<String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Ok(word.to_string());
    }
    let quotable = |c: char| plain(c) || c == ' ';
    if word.chars().all(quotable) && !word.contains(" #") && !word.contains(" ;") {
        return Ok(format!("\"{word}\""));
    }
    Err(Error::invalid_with_hint(
        format!("{word:?} cannot be written safely into a credential_process line"),
        "put custom statements in a policy file and pass --policy FILE",
    ))
}

fn read_or_empty(path: &Path) -> Result<String> {
    match files::read_own_file(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// How long `profile add|remove` waits for another one editing the same file.
const CONFIG_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Check the folders of the config file (and of the file a link there points to), then lock it for a
/// read-modify-write. Returns the file to write: the link's target when the config is a link.
fn lock_config(path: &Path) -> Result<(PathBuf, std::fs::File)> {
    let context = format!("cannot write {}", path.display());
    let real_path = files::resolve_symlinks(path).map_err(|e| files::to_error(e, &context))?;
    for file in [path, real_path.as_path()] {
        if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
            files::private_dir(folder).map_err(|e| files::to_error(e, &context))?;
        }
    }
    let lock = files::lock_file_for(&real_path, CONFIG_LOCK_WAIT)
        .map_err(|e| files::to_error(e, &context))?;
    Ok((real_path, lock))
}

/// A copy of the current file that is never overwritten, e.g. `config.s3creds-backup-2026-11-28T15-52-44Z`.
fn backup(path: &Path) -> Result<()> {
    let backup = files::backup(path)
        .map_err(|e| files::to_error(e, &format!("cannot back up {}", path.display())))?;
    eprintln!("Backed up {} to {}", path.display(), backup.display());
    Ok(())
}

/// Replace the file atomically, keeping its permissions (0600 when new). A file its owner made
/// read-only is refused: a rename would replace it all the same, against what the mode says (and
/// the AWS CLI, which writes into the file, fails there too).
fn write_config(real_path: &Path, text: &str) -> Result<()> {
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::metadata(real_path) {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o200 == 0 {
            return Err(Error::invalid_with_hint(
                format!(
                    "{} is read-only (mode {:o}): it was left as it is",
                    real_path.display(),
                    metadata.permissions().mode() & 0o777
                ),
                format!("make it writable first (chmod u+w {})", real_path.display()),
            ));
        }
    }
    files::write_atomic(real_path, text.as_bytes())
        .map_err(|e| files::to_error(e, &format!("cannot write {}", real_path.display())))
}

/// botocore prefers static keys in the credentials file over credential_process for the same profile.
fn warn_about_static_keys(name: &str) {
    let Some(path) = config::credentials_path() else {
        return;
    };
    let Ok(text) = files::read_own_file(&path) else {
        return;
    };
    if config::section_has_key(&text, &format!("[{name}]"), "aws_access_key_id") {
        eprintln!(
            "warning: {} has static keys for [{name}]; the AWS CLI and boto3 use those instead of \
             credential_process: remove them",
            path.display()
        );
    }
}
