//! Failures before AWS answered (no credentials, a credential source that fails, timeouts, an
//! endpoint that cannot be reached), turned into one clear line with the right exit code.
//!
//! The SDK's own text for these (`DisplayErrorContext`) ends with a Debug dump of the whole error,
//! the credential provider chain included, and `serve` hands its stderr to the AWS CLI. Here the
//! error chain is classified by type where the SDK exposes one (`CredentialsError`, `SdkError`) and
//! otherwise by the SDK's stable wording, and only `Display` text is ever shown.
//!
//! To name the endpoint that did not answer, every client carries an interceptor that notes where
//! each operation was last sent ([`EndpointRecorder`]); the timeouts and the profile in force are
//! noted when the clients are built ([`note_context`]). Both live in process-wide state because SDK
//! errors carry neither, and one s3creds process runs one command.

use crate::aws::timeouts::{self, Timeouts};
use crate::error::Error;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;

/// Longest piece of SDK text quoted in an error line.
const MAX_DETAIL_CHARS: usize = 300;

/// The Display text of the SDK's error wrappers that say nothing about the cause.
const SDK_WRAPPER_TEXTS: &[&str] = &[
    "dispatch failure",
    "io error",
    "other",
    "timeout",
    "user error",
    "response error",
    "construction failure",
    "failed to construct request",
];

/// What went wrong before an answer, as far as s3creds decides on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// No credential source had credentials.
    NoCredentials,
    /// A credential source failed: a broken profile, a failing credential_process, an expired SSO
    /// token, instance metadata refusing. The text is the chain's Display, one line.
    CredentialSource(String),
    /// The TCP/TLS connection was not made within the connect timeout.
    ConnectTimeout,
    /// The endpoint sent nothing for the read timeout.
    ReadTimeout,
    /// The endpoint stopped sending in the middle of an answer for the read timeout.
    StalledAnswer,
    /// One attempt took longer than its bound.
    AttemptTimeout,
    /// The whole call, retries included, took longer than the operation timeout.
    OperationTimeout,
    /// Anything else: connection refused, DNS, TLS, a malformed or cut-off answer.
    Other(String),
}

impl Transport {
    /// Classify a failed call; `None` when AWS answered (a service error).
    pub fn classify<E, R>(error: &SdkError<E, R>) -> Option<Transport>
    where
        E: StdError + 'static,
        R: std::fmt::Debug + 'static,
    {
        if let SdkError::ServiceError(_) = error {
            return None;
        }
        let chain = error_chain(error);
        if let Some(position) = chain
            .iter()
            .position(|e| e.downcast_ref::<CredentialsError>().is_some())
        {
            if let Some(CredentialsError::CredentialsNotLoaded(_)) =
                chain[position].downcast_ref::<CredentialsError>()
            {
                return Some(Transport::NoCredentials);
            }
            // Its own text is generic ("an error occurred while loading credentials"); the detail
            // is below it.
            let detail = match &chain[position + 1..] {
                [] => &chain[position..],
                below => below,
            };
            return Some(Transport::CredentialSource(one_line(detail)));
        }
        let texts: Vec<String> = chain.iter().map(|e| e.to_string()).collect();
        let mentions = |needle: &str| texts.iter().any(|t| t.contains(needle));
        if mentions("identity resolver timed out") {
            return Some(Transport::CredentialSource(
                "the credential source did not answer in time".into(),
            ));
        }
        if let SdkError::TimeoutError(_) = error {
            return Some(if mentions("attempt timeout") {
                Transport::AttemptTimeout
            } else {
                Transport::OperationTimeout
            });
        }
        if mentions("connect timeout") {
            return Some(Transport::ConnectTimeout);
        }
        if mentions("read timeout") {
            return Some(Transport::ReadTimeout);
        }
        // The SDK's stalled-stream protection: "minimum throughput was specified at 1 B/s, but
        // throughput of 0 B/s was observed".
        if mentions("minimum throughput") {
            return Some(Transport::StalledAnswer);
        }
        // The SDK's wrappers name only their kind ("dispatch failure", "io error"); the cause is below.
        let cause: Vec<_> = chain
            .iter()
            .copied()
            .filter(|e| !SDK_WRAPPER_TEXTS.contains(&e.to_string().as_str()))
            .collect();
        Some(Transport::Other(one_line(if cause.is_empty() {
            &chain
        } else {
            &cause
        })))
    }

    pub fn is_credentials_problem(&self) -> bool {
        matches!(
            self,
            Transport::NoCredentials | Transport::CredentialSource(_)
        )
    }

    /// The user-facing error for `operation` (its first word is the AWS operation name).
    pub fn into_error(self, operation: &str) -> Error {
        let context = context();
        let endpoint = endpoint_of(operation);
        let timeouts = context.timeouts;
        let at = endpoint.as_deref().unwrap_or("the AWS endpoint");
        let network_hint = |setting: &timeouts::Setting| {
            format!(
                "check the network and --endpoint-url / AWS_ENDPOINT_URL*; to wait longer, raise \
                 {} (or {})",
                setting.option, setting.variable
            )
        };
        let (message, hint) = match self {
            Transport::NoCredentials => {
                return auth(
                    operation,
                    format!("no AWS credentials found (tried {})", context.sources()),
                    context.credentials_hint(),
                )
            }
            Transport::CredentialSource(detail) => {
                return auth(
                    operation,
                    format!("could not load AWS credentials: {detail}"),
                    context.credentials_hint(),
                )
            }
            // Nothing was sent yet: the time went on finding credentials (a credential_process,
            // SSO or instance metadata that does not answer).
            Transport::OperationTimeout | Transport::AttemptTimeout if endpoint.is_none() => {
                return auth(
                    operation,
                    format!(
                        "no AWS credentials within {} (the {} operation timeout): the credential \
                         source did not answer",
                        timeouts::display(timeouts.operation),
                        timeouts::OPERATION.option
                    ),
                    format!(
                        "{}; or raise {} (or {})",
                        context.credentials_hint(),
                        timeouts::OPERATION.option,
                        timeouts::OPERATION.variable
                    ),
                )
            }
            Transport::ConnectTimeout => (
                format!(
                    "could not connect to {at} within {} (the {} connect timeout)",
                    timeouts::display(timeouts.connect),
                    timeouts::CONNECT.option
                ),
                network_hint(&timeouts::CONNECT),
            ),
            Transport::ReadTimeout => (
                format!(
                    "{at} sent no answer for {} (the {} read timeout)",
                    timeouts::display(timeouts.read),
                    timeouts::READ.option
                ),
                network_hint(&timeouts::READ),
            ),
            Transport::StalledAnswer => (
                format!(
                    "{at} stopped sending in the middle of its answer for {} (the {} read timeout)",
                    timeouts::display(timeouts.read),
                    timeouts::READ.option
                ),
                network_hint(&timeouts::READ),
            ),
            Transport::AttemptTimeout => (
                format!(
                    "{at} did not finish answering within {} (one attempt: the {} connect timeout \
                     plus twice the {} read timeout)",
                    timeouts::display(timeouts.attempt()),
                    timeouts::CONNECT.option,
                    timeouts::READ.option
                ),
                network_hint(&timeouts::READ),
            ),
            Transport::OperationTimeout => (
                format!(
                    "no complete answer from {at} within {} (the {} operation timeout, retries \
                     included)",
                    timeouts::display(timeouts.operation),
                    timeouts::OPERATION.option
                ),
                network_hint(&timeouts::OPERATION),
            ),
            Transport::Other(detail) => (
                match &endpoint {
                    Some(endpoint) => format!("cannot reach {endpoint}: {detail}"),
                    None => detail,
                },
                "check the network, --endpoint-url / AWS_ENDPOINT_URL* and --region".to_string(),
            ),
        };
        Error::aws(operation, message).with_hint(hint)
    }
}

/// `serve` as a whole took longer than `bound` although each AWS call was within its own bounds.
pub fn serve_gave_up(bound: std::time::Duration) -> Error {
    let endpoints = any_endpoint().unwrap_or_else(|| "AWS".to_string());
    Error::aws(
        "serve",
        format!(
            "gave up after {}: the AWS calls to {endpoints} did not finish",
            timeouts::display(bound)
        ),
    )
    .with_hint(format!(
        "check the network and --endpoint-url / AWS_ENDPOINT_URL*; each call is bounded by {} \
         (or {}), all of them by the larger of that and {}",
        timeouts::OPERATION.option,
        timeouts::OPERATION.variable,
        timeouts::display(timeouts::SERVE_TOTAL)
    ))
}

fn auth(operation: &str, message: String, hint: String) -> Error {
    Error::AwsAuth {
        operation: operation.to_string(),
        message,
        hint: Some(hint),
    }
}

/// The error and every source below it.
fn error_chain<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut chain = vec![error];
    let mut current = error;
    while let Some(source) = current.source() {
        chain.push(source);
        current = source;
    }
    chain
}

/// The Display text of a chain on one line: levels joined by ": ", a level already contained in the
/// previous one dropped (many SDK errors repeat their source), and the whole cut to a sane length.
fn one_line(chain: &[&(dyn StdError + 'static)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for error in chain {
        let text = error
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() || parts.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    let joined = parts.join(": ");
    if joined.chars().count() > MAX_DETAIL_CHARS {
        let cut: String = joined.chars().take(MAX_DETAIL_CHARS).collect();
        format!("{cut}...")
    } else {
        joined
    }
}

/// What the clients were built with, for the error messages.
#[derive(Debug, Clone, Default)]
struct Context {
    timeouts: Timeouts,
    profile: Option<String>,
}

static CONTEXT: Mutex<Option<Context>> = Mutex::new(None);
static ENDPOINTS: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// Note the timeouts and the profile the clients of this run use.
pub fn note_context(timeouts: Timeouts, profile: Option<String>) {
    if let Ok(mut context) = CONTEXT.lock() {
        *context = Some(Context { timeouts, profile });
    }
}

fn context() -> Context {
    CONTEXT
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .unwrap_or_default()
}

/// Where the operation named by `operation`'s first word was last sent: `scheme://host[:port]`.
fn endpoint_of(operation: &str) -> Option<String> {
    let name = operation.split_whitespace().next()?;
    ENDPOINTS.lock().ok()?.as_ref()?.get(name).cloned()
}

/// The most recent endpoint any call went to (for a bound on a whole command).
pub fn any_endpoint() -> Option<String> {
    let endpoints = ENDPOINTS.lock().ok()?;
    let mut all: Vec<&String> = endpoints.as_ref()?.values().collect();
    all.sort();
    all.dedup();
    (!all.is_empty()).then(|| {
        all.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

impl Context {
    fn profile_name(&self) -> String {
        self.profile
            .clone()
            .or_else(|| crate::env::var(crate::env::AWS_PROFILE))
            .unwrap_or_else(|| "default".to_string())
    }

    /// The credential sources aws-config's default chain looks at, in its order.
    fn sources(&self) -> String {
        let file = |variable: &str, default: &str| {
            crate::env::var(variable).unwrap_or_else(|| default.to_string())
        };
        let metadata_disabled = crate::env::var(crate::env::AWS_EC2_METADATA_DISABLED)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        format!(
            "environment variables, profile \"{}\" in {} and {}, web identity token, container \
             credentials{}",
            self.profile_name(),
            file(crate::env::AWS_CONFIG_FILE, "~/.aws/config"),
            file(
                crate::env::AWS_SHARED_CREDENTIALS_FILE,
                "~/.aws/credentials"
            ),
            if metadata_disabled {
                ""
            } else {
                ", EC2 instance metadata"
            }
        )
    }

    fn credentials_hint(&self) -> String {
        let profile = self.profile_name();
        format!(
            "run `aws configure` (or `aws sso login --profile {profile}`), choose another profile \
             with --profile or AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; \
             check with `aws sts get-caller-identity --profile {profile}`"
        )
    }
}

/// Notes, for each operation, the endpoint its request was sent to.
#[derive(Debug)]
pub struct EndpointRecorder;

impl Intercept for EndpointRecorder {
    fn name(&self) -> &'static str {
        "s3creds::EndpointRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_string()) else {
            return Ok(());
        };
        let endpoint = origin(context.request().uri());
        if let Ok(mut endpoints) = ENDPOINTS.lock() {
            endpoints
                .get_or_insert_with(HashMap::new)
                .insert(operation, endpoint);
        }
        Ok(())
    }
}

/// `scheme://host[:port]` of a URI: never its path or query (a presigned query could hold a
/// signature).
fn origin(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("https", uri));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Drop any user:password@ part.
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Level(&'static str, Option<Box<Level>>);
    impl std::fmt::Display for Level {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Level {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn one_line_joins_levels_without_repeats_or_newlines() {
        let error = Level(
            "dispatch failure: refused",
            Some(Box::new(Level(
                "refused",
                Some(Box::new(Level("tcp\nconnect   error", None))),
            ))),
        );
        let chain = error_chain(&error);
        assert_eq!(
            one_line(&chain),
            "dispatch failure: refused: tcp connect error"
        );
        let long = Level(Box::leak("x".repeat(1000).into_boxed_str()), None);
        assert_eq!(
            one_line(&error_chain(&long)).len(),
            MAX_DETAIL_CHARS + "...".len()
        );
    }

    #[test]
    fn origin_keeps_only_scheme_host_and_port() {
        assert_eq!(
            origin("http://127.0.0.1:4566/bucket?X-Amz-Signature=abc"),
            "http://127.0.0.1:4566"
        );
        assert_eq!(
            origin("https://user:pw@iam.amazonaws.com/"),
            "https://iam.amazonaws.com"
        );
        assert_eq!(
            origin("https://sts.amazonaws.com"),
            "https://sts.amazonaws.com"
        );
    }

    #[test]
    fn timeouts_name_the_operation_the_endpoint_the_bound_and_the_option() {
        note_context(
            Timeouts {
                connect: std::time::Duration::from_secs(3),
                read: std::time::Duration::from_secs(2),
                operation: std::time::Duration::from_secs(30),
            },
            Some("work".into()),
        );
        ENDPOINTS
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert("GetUnitTestUser".into(), "http://127.0.0.1:9".into());
        let error = Transport::ReadTimeout.into_error("GetUnitTestUser u");
        assert_eq!(error.exit_code(), crate::error::exit_code::AWS_OTHER);
        assert_eq!(
            error.render(),
            "error: GetUnitTestUser u: http://127.0.0.1:9 sent no answer for 2s (the \
             --read-timeout read timeout)\nhint: check the network and --endpoint-url / \
             AWS_ENDPOINT_URL*; to wait longer, raise --read-timeout (or S3CREDS_READ_TIMEOUT)"
        );
        let error = Transport::NoCredentials.into_error("GetUnitTestUser u");
        assert_eq!(error.exit_code(), crate::error::exit_code::AWS_AUTH);
        assert!(error.to_string().contains("profile \"work\""), "{error}");
        assert!(error.hint().unwrap().contains("--profile"), "{error}");
        // A call that never reached an endpoint spent its time finding credentials.
        let error = Transport::OperationTimeout.into_error("NeverSentUnitTest");
        assert_eq!(error.exit_code(), crate::error::exit_code::AWS_AUTH);
        assert!(
            error.hint().unwrap().contains("--operation-timeout"),
            "{error}"
        );
    }
}
