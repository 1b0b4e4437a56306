//! `s3creds create`: validate, plan, then (unless --dry-run) apply and print the credentials.

use crate::aws::apply::{apply, Progress};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::{CreateArgs, PlanFormat};
use crate::core::plan;
use crate::credentials::IssuedCredentials;
use crate::error::{Error, Result};
use crate::output::{self, write_stdout, Format};
use crate::plugin::resolve::CredentialFormat;

pub fn run(args: &CreateArgs, aws_options: &AwsOptions) -> Result<()> {
    let request = crate::request::create(args, aws_options)?;
    // Resolved before anything is created: an unknown or broken format plugin must not leave behind
    // credentials nobody can see.
    let format = CredentialFormat::resolve(&args.format)?;
    let given_role = crate::request::given_role(&args.role)?;
    let plan = plan::plan(&request)?;
    let plan = match &given_role {
        Some(role) => role.apply_to(plan),
        None => plan,
    };
    match args.dry_run {
        Some(PlanFormat::Text) => return write_stdout(&plan::render_text(&plan)),
        Some(PlanFormat::Json) => {
            let json = serde_json::to_value(&plan).map_err(|e| Error::Internal(e.to_string()))?;
            return write_stdout(&format!("{}\n", output::pretty_json(&json)));
        }
        None => {}
    }
    let applied = crate::aws::block_on(async {
        let aws = match AwsClients::load(aws_options).await {
            Ok(aws) => aws,
            Err(error) => {
                return Err(crate::aws::apply::Failed {
                    error,
                    action: "load the AWS configuration",
                    issued: None,
                })
            }
        };
        apply(
            &plan,
            &aws,
            Progress {
                silent: args.silent,
            },
        )
        .await
    })?;
    match applied {
        Ok(applied) => print(&format, &applied.credentials),
        Err(failed) => {
            // AWS issued credentials before the failure: their secret is shown only once, so it is
            // printed (as JSON) before the error is reported.
            if let Some(credentials) = &failed.issued {
                print(&CredentialFormat::BuiltIn(Format::Json), credentials)?;
            }
            match (&given_role, failed.action) {
                (Some(role), "AssumeRole") => Err(role.explain_failure(failed.error)),
                _ => Err(failed.error),
            }
        }
    }
}

/// Print issued credentials in `format`. If a plugin format fails, the credentials still reach stdout
/// as JSON and the failure is reported: an issued secret must never be lost to a formatting problem.
pub(crate) fn print(format: &CredentialFormat, credentials: &IssuedCredentials) -> Result<()> {
    let text = match format.render(credentials) {
        Ok(text) => text,
        Err(error) => {
            let json = output::render(credentials, Format::Json)?;
            write_stdout(&json).map_err(|e| unprinted(e, credentials))?;
            return Err(error.with_hint(format!(
                "credentials {} were issued and printed above as JSON instead",
                credentials.access_key_id()
            )));
        }
    };
    write_stdout(&text).map_err(|e| unprinted(e, credentials))
}

/// The secret is shown only once: if it could not be written, say which key to delete.
fn unprinted(error: Error, credentials: &IssuedCredentials) -> Error {
    error.with_hint(format!(
        "credentials {} were issued but could not be printed; delete them and run again",
        credentials.access_key_id()
    ))
}
