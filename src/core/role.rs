//! `--role-arn` / `--external-id`: a role the user already has, assumed with the generated session
//! policy instead of s3creds' own role. Nothing is looked up or created: the plan loses its GetRole /
//! CreateRole steps and its AssumeRole names the given ARN.
//!
//! Both values are checked here, before any call, against the shapes STS accepts, so a typo is exit
//! code 3 and not an AWS round trip.

use super::plan::{Action, Plan};
use crate::error::{Error, Result};
use serde_json::json;

/// STS AssumeRole `RoleArn`: 20 to 2,048 characters.
const MIN_ARN: usize = 20;
const MAX_ARN: usize = 2048;
/// IAM role names: 1 to 64 characters of `[\w+=,.@-]`.
const MAX_ROLE_NAME: usize = 64;
/// IAM paths: `/` alone or `/segments/`, at most 512 characters of printable ASCII.
const MAX_PATH: usize = 512;
/// STS AssumeRole `ExternalId`: 2 to 1,224 characters of `[\w+=,.@:/-]`.
const MIN_EXTERNAL_ID: usize = 2;
const MAX_EXTERNAL_ID: usize = 1224;

/// A role to assume, as given on the command line, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenRole {
    arn: String,
    external_id: Option<String>,
}

impl GivenRole {
    /// `None` without `--role-arn`. An `--external-id` alone is refused: it would silently do nothing.
    pub fn parse(arn: Option<&str>, external_id: Option<&str>) -> Result<Option<GivenRole>> {
        let Some(arn) = arn else {
            return match external_id {
                Some(_) => Err(Error::invalid_with_hint(
                    "--external-id needs --role-arn",
                    "give the role to assume with --role-arn arn:aws:iam::ACCOUNT:role/NAME",
                )),
                None => Ok(None),
            };
        };
        validate_arn(arn)?;
        if let Some(id) = external_id {
            validate_external_id(id)?;
        }
        Ok(Some(GivenRole {
            arn: arn.to_string(),
            external_id: external_id.map(str::to_string),
        }))
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    pub fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    /// What the credential cache key records as "the role": the ARN and the external ID, so two
    /// roles (or one role with two external IDs) never share cached credentials, and neither shares
    /// with s3creds' own role (a plain role name, never JSON).
    pub fn cache_identity(&self) -> String {
        json!({"role_arn": self.arn, "external_id": self.external_id}).to_string()
    }

    /// `plan` with this role assumed directly: the role lookup and creation steps are dropped (the
    /// buckets are still checked, and created with `-c`), and every AssumeRole names the ARN and
    /// carries the external ID, with no wait for a new role (nothing is new).
    pub fn apply_to(&self, mut plan: Plan) -> Plan {
        for stage in &mut plan.stages {
            for lane in &mut stage.lanes {
                lane.retain(|step| !is_role_setup(&step.action));
                for step in lane.iter_mut() {
                    if let Action::AssumeRole {
                        role_arn,
                        external_id,
                        wait_seconds_if_role_is_new,
                        ..
                    } = &mut step.action
                    {
                        *role_arn = Some(self.arn.clone());
                        external_id.clone_from(&self.external_id);
                        *wait_seconds_if_role_is_new = 0;
                    }
                }
            }
            stage.lanes.retain(|lane| !lane.is_empty());
        }
        plan.stages.retain(|stage| !stage.lanes.is_empty());
        plan
    }
}

impl GivenRole {
    /// The error of a failed AssumeRole of this role, as one clear line: a role that does not exist,
    /// does not trust the caller or wants another external ID is a permission problem (exit 4), and
    /// STS does not say which, so the hint lists them.
    pub fn explain_failure(&self, error: Error) -> Error {
        let hint = "check that the role exists, that its trust policy lets your identity assume it \
                    (and asks for this --external-id, if any), and that you may call sts:AssumeRole";
        match error {
            Error::AwsAuth { message, .. } => Error::AwsAuth {
                operation: format!("cannot assume role {}", self.arn),
                message,
                hint: Some(hint.to_string()),
            },
            Error::Aws { message, .. } if message.starts_with("NoSuchEntity") => Error::AwsAuth {
                operation: format!("cannot assume role {}", self.arn),
                message,
                hint: Some(hint.to_string()),
            },
            Error::Partial { source, created } => Error::Partial {
                source: Box::new(self.explain_failure(*source)),
                created,
            },
            other => other,
        }
    }
}

/// The steps that find or make s3creds' own role, which a given role never needs.
fn is_role_setup(action: &Action) -> bool {
    matches!(
        action,
        Action::GetRole { .. }
            | Action::GetCallerIdentity
            | Action::CreateRole { .. }
            | Action::AttachRolePolicy { .. }
    )
}

fn bad_arn(arn: &str, problem: &str) -> Error {
    // An ARN is not a secret, but it may be long: show its start only.
    let shown: String = arn.chars().take(120).collect();
    Error::invalid_with_hint(
        format!("invalid --role-arn {shown:?}: {problem}"),
        "give a role ARN such as arn:aws:iam::123456789012:role/NAME or \
         arn:aws:iam::123456789012:role/PATH/NAME",
    )
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`. The account is 12 digits, or empty for
/// S3-compatible stores (MinIO, Ceph) whose roles belong to no AWS account.
fn validate_arn(arn: &str) -> Result<()> {
    if !(MIN_ARN..=MAX_ARN).contains(&arn.len()) {
        return Err(bad_arn(arn, "an ARN is 20 to 2048 characters long"));
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad_arn(
            arn,
            "expected arn:PARTITION:iam::ACCOUNT:role/NAME",
        ));
    };
    if prefix != "arn" {
        return Err(bad_arn(arn, "it must start with arn:"));
    }
    let partition_ok = !partition.is_empty()
        && partition.len() <= 32
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !partition_ok {
        return Err(bad_arn(
            arn,
            "the partition (aws, aws-cn, ...) is malformed",
        ));
    }
    if service != "iam" {
        return Err(bad_arn(arn, "it is not an IAM ARN (service must be iam)"));
    }
    if !region.is_empty() {
        return Err(bad_arn(arn, "IAM ARNs have no region"));
    }
    if !(account.is_empty() || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
    {
        return Err(bad_arn(arn, "the account must be 12 digits"));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(bad_arn(arn, "it is not a role ARN (role/NAME)"));
    };
    let (path, name) = match path_and_name.rfind('/') {
        Some(at) => (&path_and_name[..=at], &path_and_name[at + 1..]),
        None => ("", path_and_name),
    };
    // `role/NAME` has the implicit path `/`; an explicit path is `/PATH/`, so the text between
    // `role/` and the name is `PATH/`.
    if path.len() + 1 > MAX_PATH
        || path.contains("//")
        || !path.bytes().all(|b| (0x21..=0x7e).contains(&b))
    {
        return Err(bad_arn(arn, "the role path is malformed"));
    }
    let name_ok = !name.is_empty()
        && name.len() <= MAX_ROLE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if !name_ok {
        return Err(bad_arn(
            arn,
            "the role name must be 1-64 characters of letters, digits and _+=,.@-",
        ));
    }
    Ok(())
}

fn validate_external_id(id: &str) -> Result<()> {
    let ok = (MIN_EXTERNAL_ID..=MAX_EXTERNAL_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
    if ok {
        return Ok(());
    }
    Err(Error::invalid_with_hint(
        format!("invalid --external-id: {} characters", id.chars().count()),
        "an external ID is 2-1224 characters of letters, digits and _+=,.@:/-",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::session_plan;
    use crate::core::policy::{Access, PolicyRequest};
    use crate::core::request::{Scope, SessionDuration};
    use crate::error::exit_code;
    use std::time::Duration;

    const ARN: &str = "arn:aws:iam::123456789012:role/dev/BucketAccess";

    #[test]
    fn well_formed_role_arns_are_accepted() {
        for arn in [
            ARN,
            "arn:aws:iam::123456789012:role/Name",
            "arn:aws-cn:iam::123456789012:role/a/b/c/Name_+=,.@-",
            "arn:aws-us-gov:iam::123456789012:role/x",
            // MinIO and Ceph: no account.
            "arn:minio:iam:::role/dXNlcjE",
        ] {
            assert!(
                GivenRole::parse(Some(arn), None).unwrap().is_some(),
                "{arn}"
            );
        }
    }

    #[test]
    fn malformed_role_arns_are_invalid_input() {
        let long_name = format!("arn:aws:iam::123456789012:role/{}", "n".repeat(65));
        let long_arn = format!("arn:aws:iam::123456789012:role/{}/n", "p".repeat(2048));
        for arn in [
            "",
            "role/Name",
            "arn:aws:iam::123456789012:user/Name",
            "arn:aws:s3:::bucket-name-here",
            "arn:aws:iam:us-east-1:123456789012:role/Name",
            "arn:aws:iam::12345:role/Name",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a//Name",
            "arn:aws:iam::123456789012:role/bad name",
            "arn:AWS:iam::123456789012:role/Name",
            "xrn:aws:iam::123456789012:role/Name",
            "arn:aws:iam::123456789012:role/na\u{e9}me",
            &long_name,
            &long_arn,
        ] {
            let error = GivenRole::parse(Some(arn), None).unwrap_err();
            assert_eq!(error.exit_code(), exit_code::INVALID_INPUT, "{arn}");
            assert!(
                error.to_string().starts_with("invalid --role-arn"),
                "{error}"
            );
        }
    }

    #[test]
    fn external_ids_are_checked() {
        assert!(GivenRole::parse(Some(ARN), Some("ab")).is_ok());
        assert!(GivenRole::parse(Some(ARN), Some("tenant:42/x=y,z@w.q-_+")).is_ok());
        assert!(GivenRole::parse(Some(ARN), Some(&"x".repeat(1224))).is_ok());
        for bad in ["a", "has space", "semi;colon", &"x".repeat(1225)] {
            let error = GivenRole::parse(Some(ARN), Some(bad)).unwrap_err();
            assert_eq!(error.exit_code(), exit_code::INVALID_INPUT, "{bad}");
        }
        let alone = GivenRole::parse(None, Some("abc")).unwrap_err();
        assert_eq!(alone.to_string(), "--external-id needs --role-arn");
        assert_eq!(GivenRole::parse(None, None).unwrap(), None);
    }

    #[test]
    fn the_cache_identity_differs_by_arn_and_external_id() {
        let plain = GivenRole::parse(Some(ARN), None).unwrap().unwrap();
        let with_id = GivenRole::parse(Some(ARN), Some("one")).unwrap().unwrap();
        let other_id = GivenRole::parse(Some(ARN), Some("two")).unwrap().unwrap();
        let identities = [
            plain.cache_identity(),
            with_id.cache_identity(),
            other_id.cache_identity(),
            crate::core::plan::ROLE_NAME.to_string(),
        ];
        for (i, a) in identities.iter().enumerate() {
            for b in &identities[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_role_that_cannot_be_assumed_is_a_permission_error() {
        let role = GivenRole::parse(Some(ARN), None).unwrap().unwrap();
        for error in [
            Error::AwsAuth {
                operation: "AssumeRole x".into(),
                message: "AccessDenied: not authorized".into(),
                hint: None,
            },
            Error::aws("AssumeRole x", "NoSuchEntity: no such role"),
        ] {
            let explained = role.explain_failure(error);
            assert_eq!(explained.exit_code(), exit_code::AWS_AUTH);
            assert!(explained
                .to_string()
                .starts_with(&format!("cannot assume role {ARN}: ")));
            assert!(explained.hint().unwrap().contains("trust policy"));
        }
        let other = role.explain_failure(Error::aws("AssumeRole x", "Throttling: slow down"));
        assert_eq!(other.exit_code(), exit_code::AWS_OTHER);
    }

    #[test]
    fn a_given_role_plan_has_no_role_lookup_or_creation() {
        let scope = Scope::new(PolicyRequest::new(
            vec!["b-one".into(), "b-two".into()],
            Access::ReadOnly,
        ))
        .unwrap();
        let duration = SessionDuration::parse("1h").unwrap();
        let cold =
            session_plan(&scope, duration, "session", None, Duration::from_secs(30)).unwrap();
        let role = GivenRole::parse(Some(ARN), Some("ext-id"))
            .unwrap()
            .unwrap();
        let plan = role.apply_to(cold);
        let names: Vec<&str> = plan.steps().map(|s| s.action.name()).collect();
        assert_eq!(names, ["HeadBucket", "HeadBucket", "AssumeRole"]);
        let Some(Action::AssumeRole {
            role_arn,
            external_id,
            wait_seconds_if_role_is_new,
            policy,
            ..
        }) = plan.steps().last().map(|s| s.action.clone())
        else {
            panic!("no AssumeRole");
        };
        assert_eq!(role_arn.as_deref(), Some(ARN));
        assert_eq!(external_id.as_deref(), Some("ext-id"));
        assert_eq!(wait_seconds_if_role_is_new, 0);
        assert_eq!(&policy, scope.document());
        assert!(plan.stages.iter().all(|s| !s.lanes.is_empty()));
    }
}
