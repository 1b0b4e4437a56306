//! `delete-user`'s AWS side: discovery (read-only calls, to build the plan) and the execution of a
//! [`DeletePlan`], one call at a time in plan order, so a failure can say exactly what is gone.

use super::Progress;
use crate::aws::{call_error, AwsClients, CallFailure};
use crate::core::plan_delete::{DeleteAction, DeletePlan, UserFacts};
use crate::core::tags::ManagedTags;
use crate::error::{Error, Result};
use futures::{StreamExt, TryStreamExt};

/// Users looked at concurrently: enough to hide latency, few enough not to be throttled by IAM.
pub const CONCURRENT_USERS: usize = 8;

/// The tags of a user as s3creds reads them: `None` when it does not manage the user.
pub async fn managed_tags(aws: &AwsClients, user_name: &str) -> Result<Option<ManagedTags>> {
    let tags = crate::aws::inventory::user_tags(aws, user_name).await?;
    Ok(ManagedTags::from_tags(
        tags.iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    ))
}

/// Whether the user exists (GetUser), mapping only "no such entity" to `false`.
pub async fn user_exists(aws: &AwsClients, user_name: &str) -> Result<bool> {
    match aws.iam.get_user().user_name(user_name).send().await {
        Ok(_) => Ok(true),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.is_not_found() {
                Ok(false)
            } else {
                Err(failure.into_error(&format!("GetUser {user_name}")))
            }
        }
    }
}

/// Everything that must go before DeleteUser. The list calls run concurrently.
pub async fn discover(aws: &AwsClients, user_name: &str) -> Result<UserFacts> {
    if !user_exists(aws, user_name).await? {
        return Ok(UserFacts {
            user_name: user_name.to_string(),
            ..UserFacts::default()
        });
    }
    let operation = |name: &str| format!("{name} {user_name}");
    let iam = &aws.iam;
    let (managed, keys, permissions, login, mfa, certificates, ssh) = futures::try_join!(
        managed_tags(aws, user_name),
        async {
            iam.list_access_keys()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListAccessKeys")))
        },
        super::iam::permissions_of_user(aws, user_name),
        async {
            match iam.get_login_profile().user_name(user_name).send().await {
                Ok(_) => Ok(true),
                Err(error) => {
                    let failure = CallFailure::from_sdk(&error);
                    if failure.is_not_found() {
                        Ok(false)
                    } else {
                        Err(failure.into_error(&operation("GetLoginProfile")))
                    }
                }
            }
        },
        async {
            iam.list_mfa_devices()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListMFADevices")))
        },
        async {
            iam.list_signing_certificates()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListSigningCertificates")))
        },
        async {
            iam.list_ssh_public_keys()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListSSHPublicKeys")))
        },
    )?;
    Ok(UserFacts {
        user_name: user_name.to_string(),
        exists: true,
        managed,
        access_keys: keys
            .iter()
            .filter_map(|k| k.access_key_id().map(str::to_string))
            .collect(),
        inline_policies: permissions.inline_policies,
        attached_policies: permissions.attached_policies,
        groups: permissions.groups,
        login_profile: login,
        mfa_devices: mfa.iter().map(|d| d.serial_number().to_string()).collect(),
        signing_certificates: certificates
            .iter()
            .map(|c| c.certificate_id().to_string())
            .collect(),
        ssh_public_keys: ssh
            .iter()
            .map(|k| k.ssh_public_key_id().to_string())
            .collect(),
    })
}

/// Every IAM user with the tags s3creds reads (for `--expired`).
pub async fn all_users_with_tags(aws: &AwsClients) -> Result<Vec<(String, Option<ManagedTags>)>> {
    let users = aws
        .iam
        .list_users()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error("ListUsers"))?;
    futures::stream::iter(users.iter().map(|user| async move {
        let name = user.user_name().to_string();
        let managed = managed_tags(aws, &name).await?;
        Ok::<_, Error>((name, managed))
    }))
    .buffered(CONCURRENT_USERS)
    .try_collect()
    .await
}

/// Run `plan` in order. A failure reports everything already deleted.
pub async fn apply(plan: &DeletePlan, aws: &AwsClients, progress: Progress) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    for step in &plan.steps {
        if let Err(mut error) = run_step(aws, step).await {
            if let DeleteAction::DeleteUser { user_name } = step {
                if error.to_string().contains("DeleteConflict") {
                    // Discovery does not cover service-specific credentials (CodeCommit,
                    // Keyspaces): s3creds never creates them, and the test server cannot list them.
                    error = error.with_hint(format!(
                        "IAM still holds something of the user that s3creds does not remove; see \
                         `aws iam list-service-specific-credentials --user-name {user_name}`"
                    ));
                }
            }
            if let DeleteAction::DeleteVirtualMFADevice { serial_number } = step {
                // Deactivated already, the device is no longer the user's: a new run would not find
                // it, so the way to finish is said here.
                error = error.with_hint(format!(
                    "the device is already detached from the user, so running delete-user again \
                     will not find it: delete it with `aws iam delete-virtual-mfa-device \
                     --serial-number {serial_number}`, then run delete-user again"
                ));
            }
            return Err(error.after_deleting(&deleted));
        }
        let what = step.describe();
        progress.say(format!("Deleted {what}"));
        deleted.push(what);
    }
    Ok(deleted)
}

async fn run_step(aws: &AwsClients, step: &DeleteAction) -> Result<()> {
    let iam = &aws.iam;
    let operation = format!("{} ({})", step.name(), step.describe());
    match step {
        DeleteAction::DeleteAccessKey {
            user_name,
            access_key_id,
        } => {
            iam.delete_access_key()
                .user_name(user_name)
                .access_key_id(access_key_id)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeleteUserPolicy {
            user_name,
            policy_name,
        } => {
            iam.delete_user_policy()
                .user_name(user_name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DetachUserPolicy {
            user_name,
            policy_arn,
        } => {
            iam.detach_user_policy()
                .user_name(user_name)
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::RemoveUserFromGroup {
            user_name,
            group_name,
        } => {
            iam.remove_user_from_group()
                .user_name(user_name)
                .group_name(group_name)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeleteLoginProfile { user_name } => {
            iam.delete_login_profile()
                .user_name(user_name)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeactivateMFADevice {
            user_name,
            serial_number,
        } => {
            iam.deactivate_mfa_device()
                .user_name(user_name)
                .serial_number(serial_number)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeleteVirtualMFADevice { serial_number } => {
            iam.delete_virtual_mfa_device()
                .serial_number(serial_number)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeleteSigningCertificate {
            user_name,
            certificate_id,
        } => {
            iam.delete_signing_certificate()
                .user_name(user_name)
                .certificate_id(certificate_id)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeleteSSHPublicKey {
            user_name,
            ssh_public_key_id,
        } => {
            iam.delete_ssh_public_key()
                .user_name(user_name)
                .ssh_public_key_id(ssh_public_key_id)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
        DeleteAction::DeleteUser { user_name } => {
            iam.delete_user()
                .user_name(user_name)
                .send()
                .await
                .map_err(call_error(&operation))?;
        }
    }
    Ok(())
}
