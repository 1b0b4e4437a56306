//! `s3creds rotate NAME`: a new access key, printed once it authenticates, then the old key
//! deactivated (or deleted with --delete-old).
//!
//! The new key is printed before the old one is touched: its secret is shown only once, so a failure
//! or a crash afterwards must not lose it, and until it works the old key stays as it was.

use crate::aws::apply::{iam_delete, rotate, Progress};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::RotateArgs;
use crate::commands::create::print_or_withdraw;
use crate::core::names;
use crate::core::request::parse_wait;
use crate::core::rotate::{plan_rotation, Replace};
use crate::credentials::IssuedCredentials;
use crate::error::{Error, Result};
use crate::plugin::resolve::CredentialFormat;
use std::time::Duration;

pub fn run(args: &RotateArgs, aws_options: &AwsOptions) -> Result<()> {
    names::validate_user_name(&args.name)?;
    // Zero would mean "retire the old key without knowing the new one works": wait at least once.
    let wait = parse_wait(&args.wait_timeout)?.max(Duration::from_secs(1));
    // Resolved before anything changes: a broken format plugin must not cost the user a key.
    let format = CredentialFormat::resolve(&args.format)?;
    let replace = match (args.replace_inactive, args.replace_oldest) {
        (true, _) => Replace::Inactive,
        (_, true) => Replace::Oldest,
        _ => Replace::Neither,
    };
    let progress = Progress {
        silent: args.silent,
    };
    let user_name = &args.name;
    crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        if !iam_delete::user_exists(&aws, user_name).await? {
            return Err(Error::invalid_with_hint(
                format!("no IAM user named {user_name}"),
                "check the name with `aws iam list-users`",
            ));
        }
        if !args.force && iam_delete::managed_tags(&aws, user_name).await?.is_none() {
            return Err(Error::invalid_with_hint(
                format!("user {user_name} was not created by s3creds (no s3creds:managed tag)"),
                "check the name, or pass --force to rotate its key anyway",
            ));
        }
        let keys = rotate::keys(&aws, user_name).await?;
        let rotation = plan_rotation(user_name, &keys, replace, args.delete_old)?;
        let new = rotate::create_new_key(&rotation, &aws, wait, progress).await?;
        let new_id = new.key.access_key_id.clone();
        let made_room = new.made_room;
        print_or_withdraw(&aws, &format, &IssuedCredentials::AccessKey(new.key))
            .await
            .map_err(|e| e.after_deleting(&made_room))?;
        if !new.authenticated {
            let old: Vec<String> = rotation
                .old_keys
                .iter()
                .map(|k| k.access_key_id.clone())
                .collect();
            eprintln!(
                "warning: the new access key {new_id} (printed above; its secret cannot be shown \
                 again) did not authenticate within {}s",
                wait.as_secs()
            );
            let hint = match old.first() {
                Some(id) => format!(
                    "IAM is eventually consistent: once the new key works, retire the old one with \
                     `aws iam update-access-key --user-name {user_name} --access-key-id {id} \
                     --status Inactive`"
                ),
                None => "IAM is eventually consistent: the new key should work shortly".to_string(),
            };
            return Err(Error::aws(
                "WaitForAccessKey",
                format!(
                    "the new access key {new_id} did not authenticate within {}s; the old key was \
                     left untouched{}",
                    wait.as_secs(),
                    if old.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", old.join(", "))
                    }
                ),
            )
            .with_hint(hint)
            .after_deleting(&made_room));
        }
        rotate::retire_old_keys(&rotation, &aws, progress)
            .await
            .map_err(|e| e.after_deleting(&made_room))?;
        Ok(())
    })?
}
