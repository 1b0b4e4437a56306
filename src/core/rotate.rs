//! `rotate`: which key to make room with, and what happens to the old one, decided from what
//! ListAccessKeys (and GetAccessKeyLastUsed) report. Pure: `aws::apply::rotate` runs the result.
//!
//! The rule behind every choice: the user is never left without a working key. The key deleted to
//! make room is never the only Active one, and the old key is only deactivated (or deleted) after the
//! new one authenticated and was printed.

use super::time;
use crate::error::{Error, Result};
use serde::Serialize;
use std::time::SystemTime;

/// An existing access key of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub access_key_id: String,
    pub active: bool,
    pub created: Option<SystemTime>,
    /// GetAccessKeyLastUsed: when and for which service; `None` when never used (or not asked).
    pub last_used: Option<SystemTime>,
    pub last_used_service: Option<String>,
}

/// `--replace-inactive` / `--replace-oldest`, for a user that already has two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    Neither,
    Inactive,
    Oldest,
}

/// What `rotate` will do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    pub user_name: String,
    /// Deleted first to make room for the new key (IAM allows two).
    pub make_room_by_deleting: Option<String>,
    /// The keys that remain beside the new one: deactivated (or deleted) once the new key works.
    pub old_keys: Vec<OldKey>,
    pub delete_old: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OldKey {
    pub access_key_id: String,
    pub active: bool,
}

impl Rotation {
    /// What happens to the old keys once the new one works, as (key, delete?) pairs. An inactive
    /// old key is only touched by `--delete-old`.
    pub fn retire(&self) -> Vec<(String, bool)> {
        self.old_keys
            .iter()
            .filter(|k| self.delete_old || k.active)
            .map(|k| (k.access_key_id.clone(), self.delete_old))
            .collect()
    }
}

/// Decide the rotation of `user_name`, whose keys are `keys`.
pub fn plan_rotation(
    user_name: &str,
    keys: &[KeyFacts],
    replace: Replace,
    delete_old: bool,
) -> Result<Rotation> {
    let make_room = if keys.len() < 2 {
        None
    } else {
        Some(choose_key_to_delete(user_name, keys, replace)?)
    };
    let old_keys = keys
        .iter()
        .filter(|k| Some(&k.access_key_id) != make_room.as_ref())
        .map(|k| OldKey {
            access_key_id: k.access_key_id.clone(),
            active: k.active,
        })
        .collect();
    Ok(Rotation {
        user_name: user_name.to_string(),
        make_room_by_deleting: make_room,
        old_keys,
        delete_old,
    })
}

fn choose_key_to_delete(user_name: &str, keys: &[KeyFacts], replace: Replace) -> Result<String> {
    let active = keys.iter().filter(|k| k.active).count();
    match replace {
        Replace::Neither => Err(Error::invalid_with_hint(
            format!(
                "user {user_name} already has {} access keys, the most IAM allows: {}",
                keys.len(),
                keys.iter().map(describe).collect::<Vec<_>>().join("; ")
            ),
            "pass --replace-inactive to delete an inactive key first, or --replace-oldest to \
             delete the oldest",
        )),
        Replace::Inactive => keys
            .iter()
            .filter(|k| !k.active)
            .min_by_key(|k| age_order(k))
            .map(|k| k.access_key_id.clone())
            .ok_or_else(|| {
                Error::invalid_with_hint(
                    format!(
                        "--replace-inactive: both access keys of user {user_name} are active: {}",
                        keys.iter().map(describe).collect::<Vec<_>>().join("; ")
                    ),
                    "use --replace-oldest, or deactivate the key to replace first",
                )
            }),
        Replace::Oldest => {
            let oldest = keys.iter().min_by_key(|k| age_order(k)).expect("two keys");
            // Deleting the only Active key would leave the user without a working key until the new
            // one authenticates, and for good if it never does.
            if oldest.active && active == 1 {
                return Err(Error::invalid_with_hint(
                    format!(
                        "--replace-oldest: the oldest key {} is the only active key of user \
                         {user_name}; deleting it could leave the user without a working key",
                        oldest.access_key_id
                    ),
                    "use --replace-inactive to replace the inactive key instead",
                ));
            }
            Ok(oldest.access_key_id.clone())
        }
    }
}

/// Oldest first; a key without a creation date counts as oldest; the ID breaks ties.
fn age_order(key: &KeyFacts) -> (u64, String) {
    (
        key.created.map(time::unix_seconds).unwrap_or(0),
        key.access_key_id.clone(),
    )
}

/// `AKIA... (Active, created 2026-01-01T00:00:00Z, last used 2026-02-01T00:00:00Z by s3)`.
pub fn describe(key: &KeyFacts) -> String {
    let when = |t: Option<SystemTime>| t.and_then(|t| time::rfc3339(t).ok());
    let created = when(key.created).unwrap_or_else(|| "?".into());
    let used = match (when(key.last_used), &key.last_used_service) {
        (Some(at), Some(service)) => format!("last used {at} by {service}"),
        (Some(at), None) => format!("last used {at}"),
        (None, _) => "never used".to_string(),
    };
    format!(
        "{} ({}, created {created}, {used})",
        key.access_key_id,
        if key.active { "Active" } else { "Inactive" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;
    use std::time::{Duration, UNIX_EPOCH};

    fn key(id: &str, active: bool, created: u64) -> KeyFacts {
        KeyFacts {
            access_key_id: id.into(),
            active,
            created: Some(UNIX_EPOCH + Duration::from_secs(created)),
            last_used: None,
            last_used_service: None,
        }
    }

    #[test]
    fn one_key_is_retired_after_the_new_one_works() {
        let rotation = plan_rotation("u", &[key("A", true, 1)], Replace::Neither, false).unwrap();
        assert_eq!(rotation.make_room_by_deleting, None);
        assert_eq!(rotation.retire(), [("A".to_string(), false)]);
        let rotation = plan_rotation("u", &[key("A", true, 1)], Replace::Neither, true).unwrap();
        assert_eq!(rotation.retire(), [("A".to_string(), true)]);
        let none = plan_rotation("u", &[], Replace::Neither, false).unwrap();
        assert!(none.retire().is_empty());
        let inactive = plan_rotation("u", &[key("A", false, 1)], Replace::Neither, false).unwrap();
        assert!(
            inactive.retire().is_empty(),
            "an inactive key stays as it is"
        );
    }

    #[test]
    fn two_keys_need_a_choice_that_never_leaves_no_working_key() {
        let mut used = key("OLD", true, 100);
        used.last_used = Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        used.last_used_service = Some("s3".into());
        let both_active = [used, key("NEW", true, 200)];
        let error = plan_rotation("u", &both_active, Replace::Neither, false).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
        let text = error.to_string();
        assert!(
            text.contains(
                "OLD (Active, created 1970-01-01T00:01:40Z, last used 2027-01-15T08:00:00Z by s3)"
            ) && text.contains("NEW (Active, created 1970-01-01T00:03:20Z, never used)"),
            "{text}"
        );
        assert!(plan_rotation("u", &both_active, Replace::Inactive, false).is_err());
        let oldest = plan_rotation("u", &both_active, Replace::Oldest, false).unwrap();
        assert_eq!(oldest.make_room_by_deleting.as_deref(), Some("OLD"));
        assert_eq!(oldest.retire(), [("NEW".to_string(), false)]);

        let old_active_new_inactive = [key("OLD", true, 100), key("NEW", false, 200)];
        let error =
            plan_rotation("u", &old_active_new_inactive, Replace::Oldest, false).unwrap_err();
        assert!(error.to_string().contains("only active key"), "{error}");
        let inactive =
            plan_rotation("u", &old_active_new_inactive, Replace::Inactive, false).unwrap();
        assert_eq!(inactive.make_room_by_deleting.as_deref(), Some("NEW"));
        assert_eq!(inactive.retire(), [("OLD".to_string(), false)]);

        let both_inactive = [key("B", false, 200), key("A", false, 100)];
        let oldest = plan_rotation("u", &both_inactive, Replace::Oldest, true).unwrap();
        assert_eq!(oldest.make_room_by_deleting.as_deref(), Some("A"));
        assert_eq!(oldest.retire(), [("B".to_string(), true)]);
        let inactive = plan_rotation("u", &both_inactive, Replace::Inactive, false).unwrap();
        assert_eq!(inactive.make_room_by_deleting.as_deref(), Some("A"));
        assert!(inactive.retire().is_empty());
    }
}
