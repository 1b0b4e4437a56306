//! What the commands use: `--preset` names into validated statements, `--format` names into renderers.

use super::loader::{plugin_error, LoadedPlugin};
use super::registry::Registry;
use crate::core::policy::{self, PolicyRequest};
use crate::credentials::IssuedCredentials;
use crate::error::{Error, Result};
use crate::output::{self, Format, BUILT_IN_FORMATS};
use serde_json::{json, Value};

/// The statements of every `--preset`, in order, each validated like a `--statement`.
///
/// The request sent to the plugin is `{"buckets", "access", "prefixes", "partition"}`; the statements
/// it returns are appended to the policy by the caller, so they count against AWS's size limits.
pub fn preset_statements(presets: &[String], request: &PolicyRequest) -> Result<Vec<Value>> {
    if presets.is_empty() {
        return Ok(Vec::new());
    }
    let registry = Registry::locate()?;
    let input = json!({
        "buckets": request.buckets,
        "access": request.access.label(),
        "prefixes": request.prefixes,
        "partition": request.partition,
    })
    .to_string();
    let mut statements = Vec::new();
    for name in presets {
        let plugin = registry.preset_provider(name)?;
        let output = plugin.preset(name, &input)?;
        let returned: Vec<Value> = serde_json::from_str(&output).map_err(|e| {
            plugin_error(
                &plugin.path,
                format!("preset {name:?} returned something other than a list of statements: {e}"),
            )
        })?;
        if returned.is_empty() {
            return Err(plugin_error(
                &plugin.path,
                format!("preset {name:?} returned no statement"),
            ));
        }
        let origin = format!(
            "--preset {name} (plugin {} {})",
            plugin.description.name,
            plugin.path.display()
        );
        for statement in &returned {
            policy::validate_statement(statement, &origin)?;
        }
        statements.extend(returned);
    }
    Ok(statements)
}

/// How issued credentials are printed: a built-in format, or a format of an installed plugin.
#[derive(Debug, Clone)]
pub enum CredentialFormat {
    BuiltIn(Format),
    Plugin { name: String, plugin: LoadedPlugin },
}

impl CredentialFormat {
    /// Built-in formats first; only an unknown name reads the plugin manifest (and loads the plugin).
    pub fn resolve(name: &str) -> Result<CredentialFormat> {
        if let Some(format) = Format::from_name(name) {
            return Ok(CredentialFormat::BuiltIn(format));
        }
        let registry = Registry::locate()?;
        if let Some(plugin) = registry.format_provider(name)? {
            return Ok(CredentialFormat::Plugin {
                name: name.to_string(),
                plugin,
            });
        }
        let mut available: Vec<String> = BUILT_IN_FORMATS.iter().map(|f| f.to_string()).collect();
        available.extend(registry.format_names()?);
        Err(Error::invalid_with_hint(
            format!("unknown format {name:?}"),
            format!("available formats: {}", available.join(", ")),
        ))
    }

    /// The credentials as text. A plugin format runs in a child process (see [`format_in_child`]):
    /// the credentials already exist, and a plugin that calls `exit`, aborts, or writes to stdout
    /// itself must not take their only copy with it.
    pub fn render(&self, credentials: &IssuedCredentials) -> Result<String> {
        match self {
            CredentialFormat::BuiltIn(format) => output::render(credentials, *format),
            CredentialFormat::Plugin { name, plugin } => {
                let json = output::to_json(credentials)?;
                let secrets = secret_values(&json);
                render_in_child(name, &plugin.path, &json.to_string(), &secrets)
            }
        }
    }
}

fn secret_values(json: &Value) -> Vec<&str> {
    ["SecretAccessKey", "SessionToken"]
        .iter()
        .filter_map(|key| json.get(*key).and_then(Value::as_str))
        .collect()
}

/// Marks the start of the child's result on its stdout; anything a plugin printed itself comes
/// before it. A fresh nonce per run means plugin output cannot end up inside the result by accident.
const RESULT_MARKER: &str = "\u{0}s3creds-format-result:";
/// The variable that hands the child its nonce.
const NONCE_VARIABLE: &str = "S3CREDS_FORMAT_NONCE";

/// Run `s3creds __format NAME` with the credentials JSON on its stdin (never in its arguments), and
/// take the text after the marker from its stdout. The child's stderr is passed on, secrets blanked.
fn render_in_child(
    name: &str,
    expected_library: &std::path::Path,
    credentials_json: &str,
    secrets: &[&str],
) -> Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let nonce = nonce();
    let failed = |why: String| {
        Error::invalid(format!(
            "format {name:?} (plugin {}): {why}",
            expected_library.display()
        ))
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::Internal(format!("cannot find the running binary: {e}")))?;
    let mut child = Command::new(exe)
        .args(["__format", name])
        .env(NONCE_VARIABLE, &nonce)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot start the formatting process: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that died early closes the pipe; its exit status says why.
        let _ = stdin.write_all(credentials_json.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("the formatting process failed: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(stderr.into_owned(), |text, secret| {
            text.replace(secret, "(redacted)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let marker = format!("{RESULT_MARKER}{nonce}\n");
    match (output.status.success(), stdout.rfind(&marker)) {
        (true, Some(at)) => {
            let mut text = stdout[at + marker.len()..].to_string();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            Ok(text)
        }
        (true, None) => Err(failed(
            "the plugin ended the process without a result".into(),
        )),
        (false, _) => {
            // The child reports a refused or panicking format as one `error:` line.
            let reason = stderr
                .lines()
                .find_map(|l| l.strip_prefix("error: "))
                .map(str::to_string)
                .unwrap_or_else(|| match output.status.code() {
                    Some(code) => format!("the plugin ended the process with exit code {code}"),
                    None => "the plugin crashed the formatting process (killed by a signal)".into(),
                });
            Err(failed(reason))
        }
    }
}

/// 128 bits from the OS's hash seeds: unpredictable enough to frame a result.
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..2)
        .map(|i| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u32(i);
            hasher.write_u32(std::process::id());
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

/// The child side (`s3creds __format NAME`): load the plugin like any command would, format the
/// credentials from stdin, and write the marker and the result to stdout.
pub fn format_child(name: &str) -> Result<()> {
    use std::io::Read;
    let nonce = crate::env::var(NONCE_VARIABLE)
        .ok_or_else(|| Error::invalid("__format is internal to s3creds"))?;
    let mut input = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut input)
        .map_err(|e| Error::Internal(format!("cannot read the credentials: {e}")))?;
    let json: Value = serde_json::from_str(&input)
        .map_err(|e| Error::Internal(format!("bad credentials JSON: {e}")))?;
    let registry = Registry::locate()?;
    let plugin = registry
        .format_provider(name)?
        .ok_or_else(|| Error::invalid(format!("no installed plugin provides format {name:?}")))?;
    let text = plugin.format(name, &input, &secret_values(&json))?;
    output::write_stdout(&format!("{RESULT_MARKER}{nonce}\n{text}"))
}
