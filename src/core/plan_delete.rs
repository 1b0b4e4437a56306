//! `delete-user`: from what discovery found about each user to the exact, ordered list of calls that
//! delete it. Pure like `core::plan`: `--dry-run` prints this plan and `aws::apply::iam_delete` runs
//! it and nothing else.
//!
//! IAM refuses DeleteUser while the user still has access keys, inline or attached policies, group
//! memberships, a console password, MFA devices, signing certificates or SSH keys, so those go first.
//! Access keys go first of all: they are what someone outside may still be using.

use super::expiry;
use super::tags::ManagedTags;
use crate::error::{Error, Result};
use serde::Serialize;
use std::fmt::Write;

/// Everything discovery learned about one user named on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UserFacts {
    pub user_name: String,
    pub exists: bool,
    /// `None`: no `s3creds:managed` tag, a person's or another tool's user.
    pub managed: Option<ManagedTags>,
    pub access_keys: Vec<String>,
    pub inline_policies: Vec<String>,
    pub attached_policies: Vec<String>,
    pub groups: Vec<String>,
    pub login_profile: bool,
    pub mfa_devices: Vec<String>,
    pub signing_certificates: Vec<String>,
    pub ssh_public_keys: Vec<String>,
}

/// The read-only calls discovery makes for each user, in the order `--dry-run` lists them.
pub const DISCOVERY_CALLS: [&str; 10] = [
    "GetUser",
    "ListUserTags",
    "ListAccessKeys",
    "ListUserPolicies",
    "ListAttachedUserPolicies",
    "ListGroupsForUser",
    "GetLoginProfile",
    "ListMFADevices",
    "ListSigningCertificates",
    "ListSSHPublicKeys",
];

/// One deleting call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action")]
pub enum DeleteAction {
    DeleteAccessKey {
        user_name: String,
        access_key_id: String,
    },
    DeleteUserPolicy {
        user_name: String,
        policy_name: String,
    },
    DetachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    RemoveUserFromGroup {
        user_name: String,
        group_name: String,
    },
    DeleteLoginProfile {
        user_name: String,
    },
    DeactivateMFADevice {
        user_name: String,
        serial_number: String,
    },
    /// Only for virtual devices (their serial is an ARN); hardware devices belong to the account.
    DeleteVirtualMFADevice {
        serial_number: String,
    },
    DeleteSigningCertificate {
        user_name: String,
        certificate_id: String,
    },
    DeleteSSHPublicKey {
        user_name: String,
        ssh_public_key_id: String,
    },
    DeleteUser {
        user_name: String,
    },
}

impl DeleteAction {
    /// The AWS operation.
    pub fn name(&self) -> &'static str {
        match self {
            DeleteAction::DeleteAccessKey { .. } => "DeleteAccessKey",
            DeleteAction::DeleteUserPolicy { .. } => "DeleteUserPolicy",
            DeleteAction::DetachUserPolicy { .. } => "DetachUserPolicy",
            DeleteAction::RemoveUserFromGroup { .. } => "RemoveUserFromGroup",
            DeleteAction::DeleteLoginProfile { .. } => "DeleteLoginProfile",
            DeleteAction::DeactivateMFADevice { .. } => "DeactivateMFADevice",
            DeleteAction::DeleteVirtualMFADevice { .. } => "DeleteVirtualMFADevice",
            DeleteAction::DeleteSigningCertificate { .. } => "DeleteSigningCertificate",
            DeleteAction::DeleteSSHPublicKey { .. } => "DeleteSSHPublicKey",
            DeleteAction::DeleteUser { .. } => "DeleteUser",
        }
    }

    /// What is gone once the call succeeded: the progress line and the "deleted so far" list.
    pub fn describe(&self) -> String {
        match self {
            DeleteAction::DeleteAccessKey {
                user_name,
                access_key_id,
            } => format!("access key {access_key_id} of user {user_name}"),
            DeleteAction::DeleteUserPolicy {
                user_name,
                policy_name,
            } => format!("inline policy {policy_name} of user {user_name}"),
            DeleteAction::DetachUserPolicy {
                user_name,
                policy_arn,
            } => format!("attachment of {policy_arn} to user {user_name}"),
            DeleteAction::RemoveUserFromGroup {
                user_name,
                group_name,
            } => format!("membership of user {user_name} in group {group_name}"),
            DeleteAction::DeleteLoginProfile { user_name } => {
                format!("console password of user {user_name}")
            }
            DeleteAction::DeactivateMFADevice {
                user_name,
                serial_number,
            } => format!("MFA device {serial_number} of user {user_name} (deactivated)"),
            DeleteAction::DeleteVirtualMFADevice { serial_number } => {
                format!("virtual MFA device {serial_number}")
            }
            DeleteAction::DeleteSigningCertificate {
                user_name,
                certificate_id,
            } => format!("signing certificate {certificate_id} of user {user_name}"),
            DeleteAction::DeleteSSHPublicKey {
                user_name,
                ssh_public_key_id,
            } => format!("SSH public key {ssh_public_key_id} of user {user_name}"),
            DeleteAction::DeleteUser { user_name } => format!("IAM user {user_name}"),
        }
    }
}

/// Everything `delete-user` will delete, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletePlan {
    pub users: Vec<String>,
    /// The read-only calls already made for each user to build this plan.
    pub discovered_with: Vec<&'static str>,
    pub steps: Vec<DeleteAction>,
}

/// Refuse the run unless every user exists and (without `--force`) carries the s3creds tag. All users
/// are judged before anything is deleted, and every offender is named at once.
pub fn check_deletable(users: &[UserFacts], force: bool) -> Result<()> {
    let missing: Vec<&str> = users
        .iter()
        .filter(|u| !u.exists)
        .map(|u| u.user_name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("no IAM user named {}", missing.join(", ")),
            "nothing was deleted; check the names with `aws iam list-users`",
        ));
    }
    let foreign: Vec<&str> = users
        .iter()
        .filter(|u| u.managed.is_none())
        .map(|u| u.user_name.as_str())
        .collect();
    if !force && !foreign.is_empty() {
        return Err(Error::invalid_with_hint(
            format!(
                "not created by s3creds (no s3creds:managed tag): {}",
                foreign.join(", ")
            ),
            "nothing was deleted; check the names, or pass --force to delete them anyway",
        ));
    }
    Ok(())
}

/// Names given twice would be deleted twice (the second time failing half-way): refuse them.
pub fn check_distinct(names: &[String]) -> Result<()> {
    // IAM user names are unique regardless of case: `U3` and `u3` are one user.
    for (index, name) in names.iter().enumerate() {
        if let Some(first) = names[..index]
            .iter()
            .find(|earlier| earlier.eq_ignore_ascii_case(name))
        {
            return Err(Error::invalid_with_hint(
                format!("user {name:?} is named twice ({first:?}: IAM names ignore case)"),
                "name each user once",
            ));
        }
    }
    Ok(())
}

/// The deletion plan of users that passed [`check_deletable`].
pub fn deletion_plan(users: &[UserFacts]) -> DeletePlan {
    let mut steps = Vec::new();
    for user in users {
        let user_name = || user.user_name.clone();
        for id in &user.access_keys {
            steps.push(DeleteAction::DeleteAccessKey {
                user_name: user_name(),
                access_key_id: id.clone(),
            });
        }
        for name in &user.inline_policies {
            steps.push(DeleteAction::DeleteUserPolicy {
                user_name: user_name(),
                policy_name: name.clone(),
            });
        }
        for arn in &user.attached_policies {
            steps.push(DeleteAction::DetachUserPolicy {
                user_name: user_name(),
                policy_arn: arn.clone(),
            });
        }
        for group in &user.groups {
            steps.push(DeleteAction::RemoveUserFromGroup {
                user_name: user_name(),
                group_name: group.clone(),
            });
        }
        if user.login_profile {
            steps.push(DeleteAction::DeleteLoginProfile {
                user_name: user_name(),
            });
        }
        for serial in &user.mfa_devices {
            steps.push(DeleteAction::DeactivateMFADevice {
                user_name: user_name(),
                serial_number: serial.clone(),
            });
            // Only virtual devices have an ARN with `:mfa/`; a FIDO security key's is `:u2f/`, and
            // a hardware device's serial is no ARN. Only the virtual ones are deleted.
            if serial.starts_with("arn:") && serial.contains(":mfa/") {
                steps.push(DeleteAction::DeleteVirtualMFADevice {
                    serial_number: serial.clone(),
                });
            }
        }
        for id in &user.signing_certificates {
            steps.push(DeleteAction::DeleteSigningCertificate {
                user_name: user_name(),
                certificate_id: id.clone(),
            });
        }
        for id in &user.ssh_public_keys {
            steps.push(DeleteAction::DeleteSSHPublicKey {
                user_name: user_name(),
                ssh_public_key_id: id.clone(),
            });
        }
        steps.push(DeleteAction::DeleteUser {
            user_name: user_name(),
        });
    }
    DeletePlan {
        users: users.iter().map(|u| u.user_name.clone()).collect(),
        discovered_with: DISCOVERY_CALLS.to_vec(),
        steps,
    }
}

/// `delete-user --expired`: the managed users whose `s3creds:expires` is at or before `now_unix`
/// (seconds since 1970). Users whose tag cannot be read are returned apart, to be reported.
pub fn expired_users(
    users: &[(String, Option<ManagedTags>)],
    now_unix: u64,
) -> (Vec<String>, Vec<String>) {
    let mut expired = Vec::new();
    let mut unreadable = Vec::new();
    for (name, managed) in users {
        let Some(expires) = managed.as_ref().and_then(|m| m.expires.as_deref()) else {
            continue;
        };
        match expiry::parse_rfc3339(expires) {
            Some(at) if at <= now_unix => expired.push(name.clone()),
            Some(_) => {}
            None => unreadable.push(name.clone()),
        }
    }
    (expired, unreadable)
}

/// `--dry-run` as a person reads it.
pub fn render_text(plan: &DeletePlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dry run: delete IAM user{} {}. Nothing will be changed.",
        if plan.users.len() == 1 { "" } else { "s" },
        plan.users.join(", ")
    );
    let _ = writeln!(
        out,
        "\ndiscover (done, read-only, per user): {}",
        plan.discovered_with.join(", ")
    );
    let mut current_user = None;
    for (index, step) in plan.steps.iter().enumerate() {
        let user = step_user(step);
        if user.is_some() && user != current_user {
            let _ = writeln!(out, "\nuser {}:", user.unwrap_or_default());
            current_user = user;
        }
        let _ = writeln!(
            out,
            "{:>3}. [would] {}: {}",
            index + 1,
            step.name(),
            step.describe()
        );
    }
    out
}

fn step_user(step: &DeleteAction) -> Option<&str> {
    match step {
        DeleteAction::DeleteAccessKey { user_name, .. }
        | DeleteAction::DeleteUserPolicy { user_name, .. }
        | DeleteAction::DetachUserPolicy { user_name, .. }
        | DeleteAction::RemoveUserFromGroup { user_name, .. }
        | DeleteAction::DeleteLoginProfile { user_name }
        | DeleteAction::DeactivateMFADevice { user_name, .. }
        | DeleteAction::DeleteSigningCertificate { user_name, .. }
        | DeleteAction::DeleteSSHPublicKey { user_name, .. }
        | DeleteAction::DeleteUser { user_name } => Some(user_name),
        DeleteAction::DeleteVirtualMFADevice { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn managed() -> Option<ManagedTags> {
        Some(ManagedTags::new(Some("read-only"), None))
    }

    fn user(name: &str) -> UserFacts {
        UserFacts {
            user_name: name.into(),
            exists: true,
            managed: managed(),
            ..UserFacts::default()
        }
    }

    #[test]
    fn everything_iam_requires_goes_before_the_user_keys_first() {
        let mut full = user("full");
        full.access_keys = vec!["AKIA1".into(), "AKIA2".into()];
        full.inline_policies = vec!["p".into()];
        full.attached_policies = vec!["arn:aws:iam::aws:policy/X".into()];
        full.groups = vec!["g".into()];
        full.login_profile = true;
        // A virtual device, a hardware one and a FIDO security key: only the first is deleted.
        full.mfa_devices = vec![
            "arn:aws:iam::1:mfa/v".into(),
            "GAHT1234".into(),
            "arn:aws:iam::1:u2f/user/full/key-ABC".into(),
        ];
        full.signing_certificates = vec!["C1".into()];
        full.ssh_public_keys = vec!["APKA1".into()];
        let plan = deletion_plan(&[full, user("bare")]);
        let names: Vec<&str> = plan.steps.iter().map(DeleteAction::name).collect();
        assert_eq!(
            names,
            [
                "DeleteAccessKey",
                "DeleteAccessKey",
                "DeleteUserPolicy",
                "DetachUserPolicy",
                "RemoveUserFromGroup",
                "DeleteLoginProfile",
                "DeactivateMFADevice",
                "DeleteVirtualMFADevice",
                "DeactivateMFADevice",
                "DeactivateMFADevice",
                "DeleteSigningCertificate",
                "DeleteSSHPublicKey",
                "DeleteUser",
                "DeleteUser"
            ]
        );
        let json = serde_json::to_value(&plan).unwrap();
        for (step, name) in json["steps"].as_array().unwrap().iter().zip(&names) {
            assert_eq!(step["action"], *name);
        }
        let text = render_text(&plan);
        assert_eq!(text.matches("[would]").count(), names.len(), "{text}");
        assert!(text.contains("\nuser full:\n") && text.contains("\nuser bare:\n"));
        assert!(text.starts_with("Dry run: delete IAM users full, bare."));
    }

    #[test]
    fn missing_and_foreign_users_are_all_named_before_anything_is_deleted() {
        let mut gone = user("gone");
        gone.exists = false;
        let mut person = user("alice");
        person.managed = None;
        let error = check_deletable(&[user("ok"), gone.clone(), person.clone()], true).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
        assert_eq!(error.to_string(), "no IAM user named gone");
        let error = check_deletable(&[user("ok"), person.clone()], false).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
        assert!(error.to_string().ends_with(": alice"), "{error}");
        assert!(error.hint().unwrap().contains("--force"));
        assert!(check_deletable(&[user("ok"), person], true).is_ok());
        assert!(check_distinct(&["a".into(), "b".into(), "a".into()]).is_err());
        assert!(check_distinct(&["a".into(), "b".into()]).is_ok());
        let error = check_distinct(&["U3".into(), "u3".into()]).unwrap_err();
        assert!(error.to_string().contains("ignore case"), "{error}");
    }

    #[test]
    fn expired_users_are_the_managed_ones_past_their_expiry() {
        let tagged = |expires: Option<&str>| {
            Some(ManagedTags::new(
                Some("read-only"),
                expires.map(str::to_string),
            ))
        };
        let now = 1_800_000_000; // 2027-01-15T08:00:00Z
        let users = vec![
            ("past".to_string(), tagged(Some("2027-01-01T00:00:00Z"))),
            ("future".to_string(), tagged(Some("2027-02-01T00:00:00Z"))),
            ("never".to_string(), tagged(None)),
            ("person".to_string(), None),
            ("garbled".to_string(), tagged(Some("soon"))),
        ];
        let (expired, unreadable) = expired_users(&users, now);
        assert_eq!(expired, ["past"]);
        assert_eq!(unreadable, ["garbled"]);
    }
}
