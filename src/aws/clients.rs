//! Everything about reaching AWS: loading the shared configuration (profiles, environment, SSO,
//! credential_process), building the IAM / STS / S3 clients, and turning SDK errors into [`Error`]s.
//!
//! Endpoint precedence is aws-config's: `AWS_ENDPOINT_URL_<SERVICE>` (env or profile) beats
//! `--endpoint-url`, which beats `AWS_ENDPOINT_URL`. That lets an S3-compatible store be used for S3 while
//! IAM and STS still go to AWS (upstream sent one endpoint to all three).

use crate::aws::timeouts::Timeouts;
use crate::aws::transport::{EndpointRecorder, Transport};
use crate::error::{Error, Result};
use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use crate::core::plan::FALLBACK_REGION;

/// The AWS options every command that talks to AWS accepts. They are global (accepted before or after
/// the subcommand) and shown under their own heading; `cli::AwsOptionsRefused` takes their place in the
/// commands where they would do nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "AWS options")]
pub struct AwsOptions {
    /// The AWS profile to authenticate with, from ~/.aws/config (default: $AWS_PROFILE, else
    /// "default").
    #[arg(long, value_name = "NAME", global = true,
          add = clap_complete::ArgValueCompleter::new(crate::completion::profile_names))]
    pub profile: Option<String>,
    /// The AWS region (default: $AWS_REGION, the profile's region, else us-east-1).
    #[arg(long, value_name = "REGION", global = true)]
    pub region: Option<String>,
    /// Send IAM, STS and S3 calls to this URL (e.g. a local emulator); S3 then uses path-style
    /// addressing. AWS_ENDPOINT_URL_IAM/_STS/_S3 still override it per service.
    #[arg(long, value_name = "URL", global = true, value_hint = clap::ValueHint::Url)]
    pub endpoint_url: Option<String>,
    /// Give up connecting to an AWS endpoint after this long (default 3s; env S3CREDS_CONNECT_TIMEOUT).
    #[arg(long, value_name = "DURATION", global = true)]
    pub connect_timeout: Option<String>,
    /// Give up when an endpoint sends nothing for this long (default 10s; env S3CREDS_READ_TIMEOUT).
    #[arg(long, value_name = "DURATION", global = true)]
    pub read_timeout: Option<String>,
    /// Give up on one AWS call, retries and finding credentials included, after this long
    /// (default 30s; env S3CREDS_OPERATION_TIMEOUT).
    #[arg(long, value_name = "DURATION", global = true)]
    pub operation_timeout: Option<String>,
}

impl AwsOptions {
    /// The words that parse back into these options (see `ServeArgs::to_argv`).
    pub fn to_argv(&self) -> Vec<String> {
        let AwsOptions {
            profile,
            region,
            endpoint_url,
            connect_timeout,
            read_timeout,
            operation_timeout,
        } = self;
        let mut words = Vec::new();
        for (flag, value) in [
            ("--profile", profile),
            ("--region", region),
            ("--endpoint-url", endpoint_url),
            ("--connect-timeout", connect_timeout),
            ("--read-timeout", read_timeout),
            ("--operation-timeout", operation_timeout),
        ] {
            if let Some(value) = value {
                words.extend(crate::cli::option_words(flag, value));
            }
        }
        words
    }

    /// The region as far as it is known without reading files: for pure commands (`policy`).
    pub fn region_hint(&self) -> Option<String> {
        self.region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| crate::env::var(crate::env::AWS_REGION))
            .or_else(|| crate::env::var(crate::env::AWS_DEFAULT_REGION))
    }
}

/// Run `future` to completion on a single-threaded runtime: the work is waiting on the network, and
/// starting fewer threads keeps s3creds quick to start. The one place a runtime is built.
pub fn block_on<F: std::future::Future>(future: F) -> crate::error::Result<F::Output> {
    Ok(runtime()?.block_on(future))
}

/// As [`block_on`], but returns without waiting for blocking work still running (a refresh held up
/// by a slow endpoint): for a server that ends on a signal.
pub fn block_on_then_leave<F: std::future::Future>(future: F) -> crate::error::Result<F::Output> {
    let runtime = runtime()?;
    let output = runtime.block_on(future);
    runtime.shutdown_background();
    Ok(output)
}

fn runtime() -> crate::error::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

/// Configured clients. S3 clients for other regions (bucket creation elsewhere) are built on demand.
#[derive(Clone)]
pub struct AwsClients {
    pub config: SdkConfig,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    pub region: String,
    /// Whether S3 goes to a custom endpoint, which then needs path-style addressing.
    s3_path_style: bool,
}

impl AwsClients {
    /// Load the shared AWS configuration. This reads files and the environment but makes no network call:
    /// credentials are resolved lazily on the first request. Fails only on invalid timeouts.
    pub async fn load(options: &AwsOptions) -> Result<AwsClients> {
        AwsClients::load_with_credentials(options, None).await
    }

    /// [`AwsClients::load`], authenticating with the given static keys instead of the credential chain
    /// when there are some (the object commands' `-a/--auth`, `--access-key`...).
    pub async fn load_with_credentials(
        options: &AwsOptions,
        credentials: Option<aws_credential_types::Credentials>,
    ) -> Result<AwsClients> {
        let timeouts = Timeouts::resolve(options)?;
        crate::aws::transport::note_context(timeouts, options.profile.clone());
        let mut profile_region = aws_config::profile::ProfileFileRegionProvider::builder();
        if let Some(profile) = &options.profile {
            profile_region = profile_region.profile_name(profile);
        }
        // Deliberately not the default chain: its last resort (EC2 instance metadata) can stall for
        // seconds off EC2, and IAM works from any region anyway.
        let region_chain = RegionProviderChain::first_try(options.region.clone().map(Region::new))
            .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
            .or_else(profile_region.build())
            .or_else(Region::new(FALLBACK_REGION));
        let region = region_chain
            .region()
            .await
            .map(|r| r.to_string())
            .unwrap_or_else(|| FALLBACK_REGION.to_string());

        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(crate::aws::https::client())
            .region(Region::new(region.clone()))
            .timeout_config(timeouts.sdk_config())
            .stalled_stream_protection(timeouts.stalled_stream_config());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        let config = loader.load().await;
        let s3_path_style = options.endpoint_url.is_some()
            || config.endpoint_url().is_some()
            || crate::env::var_os(crate::env::AWS_ENDPOINT_URL_S3).is_some();
        let s3 = s3_client(&config, s3_path_style, None);
        Ok(AwsClients {
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&config)
                    .interceptor(EndpointRecorder)
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&config)
                    .interceptor(EndpointRecorder)
                    .build(),
            ),
            s3,
            config,
            region,
            s3_path_style,
        })
    }

    /// An S3 client signing for `region` (CreateBucket must go to the bucket's own region).
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.region {
            self.s3.clone()
        } else {
            s3_client(&self.config, self.s3_path_style, Some(region))
        }
    }

    /// An STS client that authenticates with the given static keys (to prove a new key works).
    pub fn sts_with_key(&self, access_key_id: &str, secret: &str) -> aws_sdk_sts::Client {
        let credentials = aws_sdk_sts::config::Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "s3creds-new-key",
        );
        let config = aws_sdk_sts::config::Builder::from(&self.config)
            .credentials_provider(credentials)
            .interceptor(EndpointRecorder)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }
}

fn s3_client(config: &SdkConfig, path_style: bool, region: Option<&str>) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .interceptor(EndpointRecorder);
    if let Some(region) = region {
        builder = builder.region(Region::new(region.to_string()));
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// What went wrong with one AWS call, reduced to what s3creds decides on.
#[derive(Debug, Clone)]
pub struct CallFailure {
    pub code: Option<String>,
    pub message: Option<String>,
    pub status: Option<u16>,
    /// Set for failures before any answer (no credentials, unreachable endpoint, timeout).
    pub transport: Option<Transport>,
    pub bucket_region: Option<String>,
}

impl CallFailure {
    pub fn from_sdk<E, R>(error: &SdkError<E, R>) -> CallFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HasStatus + 'static,
    {
        let (status, bucket_region) = error
            .raw_response()
            .map(|r| (Some(r.status_code()), r.header("x-amz-bucket-region")))
            .unwrap_or((None, None));
        let transport = Transport::classify(error);
        CallFailure {
            code: error.code().map(str::to_string),
            message: error.message().map(str::to_string),
            status,
            transport,
            bucket_region,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
            || matches!(
                self.code.as_deref(),
                Some("NoSuchEntity" | "NotFound" | "NoSuchBucket")
            )
    }

    pub fn is_auth(&self) -> bool {
        matches!(self.status, Some(401 | 403))
            || matches!(
                self.code.as_deref(),
                Some(
                    "AccessDenied"
                        | "AccessDeniedException"
                        | "InvalidClientTokenId"
                        | "SignatureDoesNotMatch"
                        | "ExpiredToken"
                        | "UnrecognizedClientException"
                        | "InvalidAccessKeyId"
                        | "AuthFailure"
                )
            )
            || self
                .transport
                .as_ref()
                .is_some_and(Transport::is_credentials_problem)
    }

    /// Turn the failure of `operation` into the user-facing error.
    pub fn into_error(self, operation: &str) -> Error {
        if let Some(transport) = self.transport {
            return transport.into_error(operation);
        }
        // AWS's own words, on one line (an error line must stay one line).
        let one_line = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let message = match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {}", one_line(message)),
            (Some(code), None) => code.clone(),
            (None, Some(message)) => one_line(message),
            (None, None) => match self.status {
                Some(status) => format!("AWS answered HTTP {status}"),
                None => "the call failed without an answer".to_string(),
            },
        };
        if self.is_auth() {
            Error::AwsAuth {
                operation: operation.to_string(),
                message,
                hint: Some(
                    "the AWS identity in use lacks permission for this call, or its credentials \
                     are wrong or expired; check with `aws sts get-caller-identity`"
                        .to_string(),
                ),
            }
        } else {
            Error::aws(operation, message)
        }
    }
}

/// The raw response types of the SDK, for reading status and headers without naming their crate twice.
pub trait HasStatus {
    fn status_code(&self) -> u16;
    fn header(&self, name: &str) -> Option<String>;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers().get(name).map(str::to_string)
    }
}

/// Shorthand: map an SDK result's error into the s3creds error for `operation`.
pub fn call_error<E, R>(operation: &str) -> impl FnOnce(SdkError<E, R>) -> Error + '_
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HasStatus + 'static,
{
    move |error| CallFailure::from_sdk(&error).into_error(operation)
}
