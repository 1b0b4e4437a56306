//! `s3creds profile add|remove`: a profile in the AWS config file whose credential_process is
//! `s3creds serve ...`, so every SDK and the AWS CLI get scoped temporary credentials.

use crate::aws::AwsOptions;
use crate::aws_config_file::{self as config, config_header};
use crate::cli::{ProfileAddArgs, ProfileCommand, ServeArgs};
use crate::error::{Error, Result};
use std::path::Path;

pub fn run(command: &ProfileCommand, aws: &AwsOptions) -> Result<()> {
    let path = config::config_path().ok_or_else(|| {
        Error::Internal("cannot find the AWS config file (HOME is not set)".into())
    })?;
    match command {
        ProfileCommand::Add(args) => add(args, aws, &path),
        ProfileCommand::Remove { name, force } => remove(name, *force, &path),
    }
}

fn add(args: &ProfileAddArgs, aws: &AwsOptions, path: &Path) -> Result<()> {
    validate_profile_name(&args.name)?;
    if aws.profile.as_deref() == Some(args.name.as_str()) {
        return Err(Error::invalid_with_hint(
            format!(
                "profile {} cannot get its own credentials from itself",
                args.name
            ),
            "pass --profile with the identity that may assume the role, e.g. --profile default",
        ));
    }
    // Check the request now, so a broken profile is never written.
    crate::commands::policy::policy_request(&args.serve.buckets, &args.serve.policy, aws)?;
    if args.serve.policy.policy.as_deref() == Some("-") {
        return Err(Error::invalid(
            "--policy - cannot be used: a credential_process has no standard input; pass a file path",
        ));
    }
    let line = credential_process_line(&args.serve, aws)?;
    let header = config_header(&args.name);
    let section = format!("{header}\ncredential_process = {line}\n");
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
    write_private(path, &config::upsert_section(&text, &header, &section))?;
    eprintln!("Wrote {header} to {}", path.display());
    warn_about_static_keys(&args.name);
    Ok(())
}

fn remove(name: &str, force: bool, path: &Path) -> Result<()> {
    let header = config_header(name);
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
    write_private(path, &updated)?;
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

/// `"/abs/path/s3creds" serve BUCKET... --options`, quoted so that botocore (shlex split), the Rust SDK
/// (`sh -c`) and Go read the same words: an element is double-quoted only when it contains a space, and
/// anything a shell or an INI reader would reinterpret is refused.
pub fn credential_process_line(serve: &ServeArgs, aws: &AwsOptions) -> Result<String> {
    let binary = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::Internal(format!("cannot find the running binary: {e}")))?;
    let mut words = vec![binary.to_string_lossy().into_owned(), "serve".to_string()];
    // The identity that assumes the role. Always explicit: otherwise an SDK started with
    // AWS_PROFILE=<this profile> would make serve resolve its own profile again.
    words.push("--profile".into());
    words.push(aws.profile.clone().unwrap_or_else(|| "default".to_string()));
    if let Some(region) = &aws.region {
        words.extend(["--region".into(), region.clone()]);
    }
    if let Some(url) = &aws.endpoint_url {
        words.extend(["--endpoint-url".into(), url.clone()]);
    }
    // Timeouts given to `profile add` are meant for the `serve` it writes.
    for (option, value) in [
        ("--connect-timeout", &aws.connect_timeout),
        ("--read-timeout", &aws.read_timeout),
        ("--operation-timeout", &aws.operation_timeout),
    ] {
        if let Some(value) = value {
            words.extend([option.to_string(), value.clone()]);
        }
    }
    words.extend(serve.buckets.iter().cloned());
    let policy = &serve.policy;
    if policy.read_only {
        words.push("--read-only".into());
    }
    if policy.write_only {
        words.push("--write-only".into());
    }
    for prefix in &policy.prefixes {
        words.extend(["--prefix".into(), prefix.clone()]);
    }
    if let Some(file) = &policy.policy {
        let absolute = std::path::absolute(file)
            .map_err(|e| Error::invalid(format!("--policy {file:?}: {e}")))?;
        words.extend(["--policy".into(), absolute.to_string_lossy().into_owned()]);
    }
    for preset in &policy.presets {
        words.extend(["--preset".into(), preset.clone()]);
    }
    for statement in &policy.statements {
        words.extend(["--statement".into(), statement.clone()]);
    }
    words.extend(["--duration".into(), serve.duration.clone()]);
    words.extend(["--refresh-window".into(), serve.refresh_window.clone()]);
    if serve.no_cache {
        words.push("--no-cache".into());
    }
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
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn backup(path: &Path) -> Result<()> {
    let stamp = crate::cache::unix_seconds(std::time::SystemTime::now());
    let backup = path.with_file_name(format!(
        "{}.s3creds-backup-{stamp}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config")
    ));
    std::fs::copy(path, &backup)
        .map_err(|e| Error::invalid(format!("cannot back up {}: {e}", path.display())))?;
    eprintln!("Backed up {} to {}", path.display(), backup.display());
    Ok(())
}

/// Write through a temporary file and rename, keeping the file's permissions (0600 when new).
fn write_private(path: &Path, text: &str) -> Result<()> {
    let fail = |e: std::io::Error| Error::invalid(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        crate::cache::private_dir(parent).map_err(fail)?;
    }
    let temporary = path.with_extension("s3creds-tmp");
    std::fs::write(&temporary, text).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o600);
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode))
            .map_err(fail)?;
    }
    std::fs::rename(&temporary, path).map_err(fail)
}

/// botocore prefers static keys in the credentials file over credential_process for the same profile.
fn warn_about_static_keys(name: &str) {
    let Some(path) = config::credentials_path() else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
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
