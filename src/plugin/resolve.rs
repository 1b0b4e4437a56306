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

    pub fn render(&self, credentials: &IssuedCredentials) -> Result<String> {
        match self {
            CredentialFormat::BuiltIn(format) => output::render(credentials, *format),
            CredentialFormat::Plugin { name, plugin } => {
                let json = output::to_json(credentials)?;
                let secrets: Vec<&str> = ["SecretAccessKey", "SessionToken"]
                    .iter()
                    .filter_map(|key| json.get(*key).and_then(Value::as_str))
                    .collect();
                let mut text = plugin.format(name, &json.to_string(), &secrets)?;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                Ok(text)
            }
        }
    }
}
