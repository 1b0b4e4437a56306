//! The object commands' credentials: `-a/--auth FILE|-` (JSON or INI as `create` prints them) or
//! `--access-key/--secret-key/--session-token`, turned into static SDK credentials. Warnings name the
//! risk, never a value.

use crate::cli::CredentialArgs;
use crate::error::{Error, Result};
use crate::secret::Secret;
use aws_credential_types::Credentials;
use std::io::Read;

/// A credentials file is a few hundred bytes; anything beyond this is not one.
const MAX_AUTH_BYTES: u64 = 64 * 1024;

/// The static credentials the arguments name, or None to use the usual AWS configuration.
pub fn resolve(args: &CredentialArgs) -> Result<Option<Credentials>> {
    if let Some(source) = &args.auth {
        let text = read_auth(source)?;
        let (id, secret, token) = parse_auth(&text, source)?;
        return Ok(Some(credentials(id, secret, token)));
    }
    let Some(access_key) = &args.access_key else {
        return Ok(None);
    };
    let Some(secret) = &args.secret_key else {
        return Err(Error::invalid_with_hint(
            "--access-key needs --secret-key",
            "or pass both in a file with -a FILE, as `s3creds create` prints them",
        ));
    };
    eprintln!(
        "warning: a secret passed with --secret-key{} is visible to other users in the process list; \
         prefer -a FILE or the AWS_SECRET_ACCESS_KEY environment variable",
        if args.session_token.is_some() { "/--session-token" } else { "" }
    );
    Ok(Some(credentials(
        access_key.clone(),
        secret.clone(),
        args.session_token.clone(),
    )))
}

fn credentials(id: String, secret: Secret, token: Option<Secret>) -> Credentials {
    Credentials::new(
        id,
        secret.expose(),
        token.map(|t| t.expose().to_string()),
        None,
        "s3creds-auth",
    )
}

fn read_auth(source: &str) -> Result<String> {
    let mut bytes = Vec::new();
    let label = format!("-a {source:?}");
    let read = if source == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_AUTH_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        let file = std::fs::File::open(source).map_err(|e| {
            Error::invalid(format!("{label}: cannot read the credentials file: {e}"))
        })?;
        warn_if_shared(&file, source);
        file.take(MAX_AUTH_BYTES + 1).read_to_end(&mut bytes)
    };
    read.map_err(|e| Error::invalid(format!("{label}: cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_AUTH_BYTES {
        return Err(Error::invalid(format!(
            "{label}: larger than {} KiB, not a credentials file",
            MAX_AUTH_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|_| Error::invalid(format!("{label}: not UTF-8 text")))
}

#[cfg(unix)]
fn warn_if_shared(file: &std::fs::File, source: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = file.metadata() {
        if metadata.is_file() && metadata.permissions().mode() & 0o044 != 0 {
            eprintln!(
                "warning: the credentials file {source:?} is readable by other users; \
                 `chmod 600` it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_file: &std::fs::File, _source: &str) {}

/// Keys from the text: JSON (`AccessKeyId`, `SecretAccessKey`, `SessionToken`, as `create` prints) or
/// INI (the first section with `aws_access_key_id`, as `create --format ini` prints), like the Python
/// tool. Error messages name fields, never values.
fn parse_auth(text: &str, source: &str) -> Result<(String, Secret, Option<Secret>)> {
    let label = format!("-a {source:?}");
    let text = text.trim();
    let field = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_string);
    let (id, secret, token) = if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's message names a position, not the content.
            Error::invalid(format!("{label}: not valid JSON: {e}"))
        })?;
        (
            field(value["AccessKeyId"].as_str()),
            field(value["SecretAccessKey"].as_str()),
            field(value["SessionToken"].as_str()),
        )
    } else {
        let ini = ini::Ini::load_from_str(text).map_err(|_| {
            Error::invalid_with_hint(
                format!("{label}: neither JSON nor INI"),
                "pass the output of `s3creds create` (JSON) or `create --format ini`",
            )
        })?;
        let section = ini
            .iter()
            .find(|(_, props)| props.contains_key("aws_access_key_id"))
            .map(|(_, props)| props);
        match section {
            Some(props) => (
                field(props.get("aws_access_key_id")),
                field(props.get("aws_secret_access_key")),
                field(props.get("aws_session_token")),
            ),
            None => (None, None, None),
        }
    };
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((id, Secret::new(secret), token.map(Secret::new))),
        _ => Err(Error::invalid_with_hint(
            format!("{label}: no access key ID and secret access key in it"),
            "JSON needs AccessKeyId and SecretAccessKey; INI a section with aws_access_key_id and \
             aws_secret_access_key",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_ini_as_create_prints_them() {
        let (id, secret, token) = parse_auth(
            r#"{"UserName":"u","AccessKeyId":"AKIA1","Status":"Active","SecretAccessKey":"s/1","CreateDate":"x"}"#,
            "f",
        )
        .unwrap();
        assert_eq!(
            (id.as_str(), secret.expose(), token),
            ("AKIA1", "s/1", None)
        );
        let (id, secret, token) = parse_auth(
            "[default]\naws_access_key_id=ASIA2\naws_secret_access_key=s2\naws_session_token=t2\n",
            "f",
        )
        .unwrap();
        assert_eq!((id.as_str(), secret.expose()), ("ASIA2", "s2"));
        assert_eq!(token.unwrap().expose(), "t2");
    }

    #[test]
    fn incomplete_files_are_refused_without_their_values() {
        for text in [
            r#"{"AccessKeyId":"AKIA1"}"#,
            "[default]\naws_secret_access_key=topsecret\n",
            "{not json topsecret",
            "",
        ] {
            let error = parse_auth(text, "f").unwrap_err();
            assert_eq!(error.exit_code(), 3);
            assert!(!error.render().contains("topsecret"), "{}", error.render());
        }
    }
}
