//! The one error type of s3creds, its exit codes, and how it is shown to a person.
//!
//! Every failure a user can cause or meet is a variant here, so the exit code is decided in exactly one
//! place (`Error::exit_code`) and documented in the README. Messages never carry secrets: the only values
//! interpolated are names (buckets, users, roles, ARNs, access key IDs) and AWS error codes/messages,
//! which AWS never fills with secret material.

use std::fmt;

/// Documented process exit codes (see README "Exit codes").
pub mod exit_code {
    /// Everything worked.
    pub const SUCCESS: u8 = 0;
    /// A bug or an environment problem s3creds did not expect.
    pub const INTERNAL: u8 = 1;
    /// The command line could not be parsed (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The command line parsed, but a value is invalid (bucket name, duration, JSON, AWS limits...).
    pub const INVALID_INPUT: u8 = 3;
    /// AWS refused who we are or what we asked: no or bad credentials, access denied.
    pub const AWS_AUTH: u8 = 4;
    /// Any other AWS failure: missing bucket, quota reached, throttling, unreachable endpoint.
    pub const AWS_OTHER: u8 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is wrong; nothing was sent to AWS.
    #[error("{message}")]
    InvalidInput {
        message: String,
        hint: Option<String>,
    },
    /// AWS rejected the caller's identity or permissions.
    #[error("{operation}: {message}")]
    AwsAuth {
        operation: String,
        message: String,
        hint: Option<String>,
    },
    /// Any other AWS-side failure.
    #[error("{operation}: {message}")]
    Aws {
        operation: String,
        message: String,
        hint: Option<String>,
    },
    /// Something s3creds did not expect.
    #[error("internal error: {0}")]
    Internal(String),
    /// A failure on this machine that is not the input's: standard output could not be written, or
    /// an internal error that was given a hint (exit 1 either way).
    #[error("{message}")]
    Local {
        message: String,
        hint: Option<String>,
    },
    /// A failure after some resources were already created: the user must know what exists now.
    #[error("{source}")]
    Partial {
        #[source]
        source: Box<Error>,
        created: Vec<String>,
    },
    /// A failure after some things were already deleted (`delete-user`, `rotate`).
    #[error("{source}")]
    PartlyDeleted {
        #[source]
        source: Box<Error>,
        deleted: Vec<String>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
            hint: None,
        }
    }

    pub fn invalid_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn aws(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Aws {
            operation: operation.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// No home directory to find a file or folder in: the user's environment, which they can fix, so
    /// the same exit code (invalid input) wherever it happens.
    pub fn no_home(what: &str, variable: &str) -> Self {
        Error::invalid_with_hint(
            format!("cannot find {what}: there is no home directory (HOME is not set)"),
            format!("set HOME, or set {variable}"),
        )
    }

    /// Attach (or replace) the hint shown under the message.
    pub fn with_hint(mut self, new_hint: impl Into<String>) -> Self {
        match &mut self {
            Error::InvalidInput { hint, .. }
            | Error::AwsAuth { hint, .. }
            | Error::Aws { hint, .. } => *hint = Some(new_hint.into()),
            Error::Partial { source, .. } => {
                let inner = std::mem::replace(source.as_mut(), Error::Internal(String::new()));
                **source = inner.with_hint(new_hint);
            }
            Error::PartlyDeleted { source, .. } => {
                let inner = std::mem::replace(source.as_mut(), Error::Internal(String::new()));
                **source = inner.with_hint(new_hint);
            }
            // An internal error keeps its text and gains the hint: no hint is ever dropped (it may be
            // what tells the user which issued key to delete).
            Error::Internal(message) => {
                return Error::Local {
                    message: format!("internal error: {message}"),
                    hint: Some(new_hint.into()),
                }
            }
            Error::Local { hint, .. } => *hint = Some(new_hint.into()),
        }
        self
    }

    /// Wrap this error with the list of things already deleted (before those it lists already),
    /// unless that list is empty.
    pub fn after_deleting(self, deleted: &[String]) -> Self {
        if deleted.is_empty() {
            return self;
        }
        match self {
            Error::PartlyDeleted {
                source,
                deleted: later,
            } => Error::PartlyDeleted {
                source,
                deleted: deleted.iter().cloned().chain(later).collect(),
            },
            other => Error::PartlyDeleted {
                source: Box::new(other),
                deleted: deleted.to_vec(),
            },
        }
    }

    /// Wrap this error with the list of resources already created, unless that list is empty.
    pub fn after_creating(self, created: &[String]) -> Self {
        if created.is_empty() {
            return self;
        }
        match self {
            Error::Partial {
                source,
                created: mut earlier,
            } => {
                earlier.extend(created.iter().cloned());
                Error::Partial {
                    source,
                    created: earlier,
                }
            }
            other => Error::Partial {
                source: Box::new(other),
                created: created.to_vec(),
            },
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::InvalidInput { .. } => exit_code::INVALID_INPUT,
            Error::AwsAuth { .. } => exit_code::AWS_AUTH,
            Error::Aws { .. } => exit_code::AWS_OTHER,
            Error::Internal(_) | Error::Local { .. } => exit_code::INTERNAL,
            Error::Partial { source, .. } => source.exit_code(),
            Error::PartlyDeleted { source, .. } => source.exit_code(),
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { hint, .. }
            | Error::AwsAuth { hint, .. }
            | Error::Aws { hint, .. }
            | Error::Local { hint, .. } => hint.as_deref(),
            Error::Partial { source, .. } => source.hint(),
            Error::PartlyDeleted { source, .. } => source.hint(),
            Error::Internal(_) => None,
        }
    }

    /// `s3creds: error: ... (hint: ...)` on one line, for `serve`, whose stderr SDKs capture.
    pub fn render_one_line(&self) -> String {
        match self.hint() {
            Some(hint) => format!("s3creds: error: {self} (hint: {hint})"),
            None => format!("s3creds: error: {self}"),
        }
    }

    /// The text printed on stderr: `error: ...`, then `hint: ...` and the created resources if any.
    pub fn render(&self) -> String {
        Rendered(self).to_string()
    }
}

struct Rendered<'a>(&'a Error);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        write!(f, "error: {error}")?;
        if let Some(hint) = error.hint() {
            write!(f, "\nhint: {hint}")?;
        }
        if let Error::Partial { created, .. } = error {
            write!(f, "\nalready created before the failure (not rolled back):")?;
            for item in created {
                write!(f, "\n  - {item}")?;
            }
        }
        if let Error::PartlyDeleted { deleted, .. } = error {
            write!(f, "\nalready deleted before the failure:")?;
            for item in deleted {
                write!(f, "\n  - {item}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_keeps_the_inner_exit_code_and_lists_what_exists() {
        let error = Error::aws("PutUserPolicy", "LimitExceeded: too big")
            .with_hint("use fewer buckets")
            .after_creating(&["IAM user u".to_string()]);
        assert_eq!(error.exit_code(), exit_code::AWS_OTHER);
        assert_eq!(
            error.render(),
            "error: PutUserPolicy: LimitExceeded: too big\nhint: use fewer buckets\n\
             already created before the failure (not rolled back):\n  - IAM user u"
        );
    }

    #[test]
    fn every_kind_of_error_keeps_a_hint() {
        let errors = [
            Error::invalid("a"),
            Error::aws("Op", "b"),
            Error::AwsAuth {
                operation: "Op".into(),
                message: "c".into(),
                hint: None,
            },
            Error::Internal("d".into()),
            Error::Local {
                message: "e".into(),
                hint: None,
            },
            Error::invalid("f").after_creating(&["x".into()]),
            Error::invalid("g").after_deleting(&["y".into()]),
        ];
        for error in errors {
            let code = error.exit_code();
            let text = error.to_string();
            let hinted = error.with_hint("delete key AKIA1");
            assert_eq!(hinted.hint(), Some("delete key AKIA1"), "{text}");
            assert_eq!(hinted.exit_code(), code, "{text}");
            assert!(hinted.to_string().contains(&text), "{text}");
        }
    }

    #[test]
    fn nothing_created_means_no_partial_wrapper() {
        let error = Error::invalid("bad").after_creating(&[]);
        assert!(matches!(error, Error::InvalidInput { .. }));
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
    }
}
