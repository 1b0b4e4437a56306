//! `rotate`'s AWS side. The order is the point: make room (if asked), create the new key, wait until
//! it authenticates, hand it to the caller to print, and only then retire the old key. A failure at
//! any step leaves at least one working key.

use super::{iam, sts, Progress};
use crate::aws::inventory::KeyUse;
use crate::aws::{call_error, AwsClients, CallFailure};
use crate::core::rotate::{KeyFacts, Rotation};
use crate::credentials::AccessKey;
use crate::error::Result;
use std::time::{Duration, SystemTime};

/// The user's keys, with when and where each was last used (the reads `list` makes too).
pub async fn keys(aws: &AwsClients, user_name: &str) -> Result<Vec<KeyFacts>> {
    use crate::aws::inventory::{access_key_list, key_last_used};
    let listed = access_key_list(aws, user_name).await?;
    // Last use only describes the keys when two of them need a choice: a single key is rotated
    // without asking (so `iam:GetAccessKeyLastUsed` is not needed for it), and a refused question
    // leaves the description without it rather than stopping the rotation.
    let describe = listed.len() >= 2;
    let keys = futures::future::join_all(listed.into_iter().map(|key| async move {
        let last_used = match (describe, key.access_key_id()) {
            (true, Some(id)) => key_last_used(aws, id).await.ok().flatten(),
            _ => None,
        };
        KeyUse {
            key,
            last_used,
            as_of: None,
        }
    }))
    .await;
    Ok(keys
        .into_iter()
        .map(|KeyUse { key, last_used, .. }| {
            let used = last_used.as_ref();
            let last_used = used
                .and_then(|u| u.last_used_date())
                .and_then(|d| SystemTime::try_from(*d).ok());
            // AWS says "N/A" for a key never used.
            let last_used_service = used
                .map(|u| u.service_name().to_string())
                .filter(|s| last_used.is_some() && !s.is_empty() && s != "N/A");
            KeyFacts {
                access_key_id: key.access_key_id().unwrap_or("?").to_string(),
                active: key.status().is_some_and(|s| s.as_str() == "Active"),
                created: key
                    .create_date()
                    .and_then(|d| SystemTime::try_from(*d).ok()),
                last_used,
                last_used_service,
            }
        })
        .collect())
}

/// The new key, and whether it authenticated within the wait.
pub struct NewKey {
    pub key: AccessKey,
    pub authenticated: bool,
    /// What was deleted to make room for it (said again if a later step fails).
    pub made_room: Vec<String>,
}

/// Make room if needed, create the new key and wait for it. Retiring the old key is
/// [`retire_old_keys`], called after the new key was printed.
pub async fn create_new_key(
    rotation: &Rotation,
    aws: &AwsClients,
    wait: Duration,
    progress: Progress,
) -> Result<NewKey> {
    let user_name = &rotation.user_name;
    let mut deleted = Vec::new();
    if let Some(id) = &rotation.make_room_by_deleting {
        delete_key(aws, user_name, id).await?;
        progress.say(format!(
            "Deleted access key {id} of user {user_name} to make room"
        ));
        deleted.push(format!("access key {id} of user {user_name}"));
    }
    let key = iam::create_access_key(aws, user_name)
        .await
        .map_err(|e| e.after_deleting(&deleted))?;
    progress.say(format!(
        "Created access key {} for user {user_name}",
        key.access_key_id
    ));
    let (authenticated, attempts) =
        sts::key_authenticates(aws, &key.access_key_id, &key.secret_access_key, wait).await;
    if authenticated && attempts > 1 {
        progress.say("The new access key authenticates");
    }
    Ok(NewKey {
        key,
        authenticated,
        made_room: deleted,
    })
}

/// Deactivate (or with `--delete-old` delete) the old keys. Returns what was done; a failure says
/// what was already done before it.
pub async fn retire_old_keys(
    rotation: &Rotation,
    aws: &AwsClients,
    progress: Progress,
) -> Result<Vec<String>> {
    let user_name = &rotation.user_name;
    let mut done = Vec::new();
    for (id, delete) in rotation.retire() {
        let outcome = if delete {
            let answer = aws
                .iam
                .delete_access_key()
                .user_name(user_name)
                .access_key_id(&id)
                .send()
                .await;
            unless_gone(answer.map(|_| ()), &format!("DeleteAccessKey {id}"))
        } else {
            let answer = aws
                .iam
                .update_access_key()
                .user_name(user_name)
                .access_key_id(&id)
                .status(aws_sdk_iam::types::StatusType::Inactive)
                .send()
                .await;
            unless_gone(answer.map(|_| ()), &format!("UpdateAccessKey {id}"))
        };
        let what = if delete {
            format!("deleted old access key {id}")
        } else {
            format!("deactivated old access key {id}")
        };
        match outcome {
            // Deleted since it was listed (another rotate, or someone else): nothing to retire, but
            // it is said, since what this run printed is then not the only change.
            Ok(false) => {
                progress.say(format!(
                    "Old access key {id} of user {user_name} was already gone"
                ));
                done.push(format!("old access key {id} was already gone"));
            }
            Ok(true) => {
                progress.say(format!("{} of user {user_name}", capitalised(&what)));
                done.push(what);
            }
            Err(error) => {
                return Err(error.with_hint(format!(
                    "the new key works and was printed; {id} is still there: retire it with \
                     `aws iam update-access-key --user-name {user_name} --access-key-id {id} \
                     --status Inactive`"
                )))
            }
        }
    }
    Ok(done)
}

/// `Ok(true)` for a call that succeeded, `Ok(false)` if IAM no longer knows the key.
fn unless_gone<E, R>(
    answer: std::result::Result<(), aws_sdk_iam::error::SdkError<E, R>>,
    operation: &str,
) -> Result<bool>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: crate::aws::HasStatus + std::fmt::Debug + 'static,
{
    match answer {
        Ok(()) => Ok(true),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.is_not_found() {
                Ok(false)
            } else {
                Err(failure.into_error(operation))
            }
        }
    }
}

pub async fn delete_key(aws: &AwsClients, user_name: &str, id: &str) -> Result<()> {
    aws.iam
        .delete_access_key()
        .user_name(user_name)
        .access_key_id(id)
        .send()
        .await
        .map(|_| ())
        .map_err(call_error(&format!("DeleteAccessKey {id}")))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
