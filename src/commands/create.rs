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
    crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        let applied = apply(
            &plan,
            &aws,
            Progress {
                silent: args.silent,
            },
        )
        .await;
        match applied {
            Ok(applied) => print_or_withdraw(&aws, &format, &applied.credentials).await,
            Err(failed) => {
                // AWS issued credentials before the failure: their secret is shown only once, so it
                // is printed (as JSON) before the error is reported.
                if let Some(credentials) = &failed.issued {
                    let json = CredentialFormat::BuiltIn(Format::Json);
                    if let Err(unprinted) = print_or_withdraw(&aws, &json, credentials).await {
                        // Both are said: what failed first, and what exists now.
                        eprintln!("{}", failed.error.render());
                        let created = match &failed.error {
                            Error::Partial { created, .. } => created.clone(),
                            _ => Vec::new(),
                        };
                        return Err(unprinted.after_creating(&created));
                    }
                }
                match (&given_role, failed.action) {
                    (Some(role), "AssumeRole") => Err(role.explain_failure(failed.error)),
                    _ => Err(failed.error),
                }
            }
        }
    })?
}

/// How issued credentials reached standard output.
pub(crate) enum Printed {
    AsAsked,
    /// A plugin format failed: they were printed as JSON instead, and this says why.
    AsJsonInstead(Error),
}

/// Print issued credentials in `format`. If a plugin format fails, the credentials still reach stdout
/// as JSON and the failure is reported: an issued secret must never be lost to a formatting problem.
/// An error means nothing reached standard output.
pub(crate) fn print(format: &CredentialFormat, credentials: &IssuedCredentials) -> Result<Printed> {
    let text = match format.render(credentials) {
        Ok(text) => text,
        Err(error) => {
            let json = output::render(credentials, Format::Json)?;
            write_stdout(&json)?;
            return Ok(Printed::AsJsonInstead(error.with_hint(format!(
                "credentials {} were issued and printed above as JSON instead",
                credentials.access_key_id()
            ))));
        }
    };
    write_stdout(&text)?;
    Ok(Printed::AsAsked)
}

/// [`print`]; if nothing reached standard output, the secret is lost, so a new access key is deleted
/// again (it could never be used) and the error says so, or names the key and the command that deletes
/// it if that fails too. Temporary credentials expire by themselves.
pub(crate) async fn print_or_withdraw(
    aws: &AwsClients,
    format: &CredentialFormat,
    credentials: &IssuedCredentials,
) -> Result<()> {
    let error = match print(format, credentials) {
        Ok(Printed::AsAsked) => return Ok(()),
        Ok(Printed::AsJsonInstead(error)) => return Err(error),
        Err(error) => error,
    };
    let IssuedCredentials::AccessKey(key) = credentials else {
        return Err(error.with_hint(format!(
            "the temporary credentials {} could not be printed; they expire by themselves: run \
             the command again",
            credentials.access_key_id()
        )));
    };
    let (user, id) = (&key.user_name, &key.access_key_id);
    Err(
        match crate::aws::apply::rotate::delete_key(aws, user, id).await {
            Ok(()) => error
                .with_hint(format!(
                    "the new access key {id} could not be printed, so it was deleted again; run \
                     the command again"
                ))
                .after_deleting(&[format!("access key {id} of user {user} (never printed)")]),
            Err(why) => error.with_hint(format!(
                "the new access key {id} could not be printed, and deleting it failed ({why}): \
                 delete it with `aws iam delete-access-key --user-name {user} --access-key-id {id}`"
            )),
        },
    )
}
