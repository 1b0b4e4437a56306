//! Time bounds on AWS calls: how long to wait for a connection, for the next bytes of an answer, and
//! for a whole AWS call (retries and finding credentials included).
//!
//! Without them an endpoint that accepts a connection and never answers keeps `create` and `serve`
//! waiting forever, and with `serve` every SDK that runs it as its credential_process waits too.
//! Each bound comes from its global option, else its `S3CREDS_*` variable (inherited from an SDK that
//! runs `serve`), else the default; all are range-checked before any AWS call.

use crate::aws::AwsOptions;
use crate::error::{Error, Result};
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// The AWS SDK's own connect timeout is 3.1 s; a reachable AWS endpoint connects in milliseconds.
pub const DEFAULT_CONNECT: Duration = Duration::from_secs(3);
/// IAM and STS answer in well under a second; 10 s of silence means the endpoint is stuck.
pub const DEFAULT_READ: Duration = Duration::from_secs(10);
/// One AWS call, its retries and finding credentials included. Long enough for the SDK's three
/// attempts after a read timeout each, short enough that `serve` answers (with an error) well before
/// the Go SDK kills a credential_process helper after one minute.
pub const DEFAULT_OPERATION: Duration = Duration::from_secs(30);
/// `serve` as a whole (every AWS call of one fetch) gives up after this, or after the operation
/// timeout if that is longer: the Go SDK kills a credential_process helper after 60 s, and its user
/// should see s3creds' one-line reason rather than "killed".
pub const SERVE_TOTAL: Duration = Duration::from_secs(55);
/// No AWS call needs an hour; larger values are typos, and they must not overflow `Instant`s.
pub const MAX: Duration = Duration::from_secs(3600);

/// The bounds in force for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_CONNECT,
            read: DEFAULT_READ,
            operation: DEFAULT_OPERATION,
        }
    }
}

/// One configurable bound: its option, its environment variable and its default.
pub struct Setting {
    pub option: &'static str,
    pub variable: &'static str,
    default: Duration,
}

pub const CONNECT: Setting = Setting {
    option: "--connect-timeout",
    variable: "S3CREDS_CONNECT_TIMEOUT",
    default: DEFAULT_CONNECT,
};
pub const READ: Setting = Setting {
    option: "--read-timeout",
    variable: "S3CREDS_READ_TIMEOUT",
    default: DEFAULT_READ,
};
pub const OPERATION: Setting = Setting {
    option: "--operation-timeout",
    variable: "S3CREDS_OPERATION_TIMEOUT",
    default: DEFAULT_OPERATION,
};

impl Timeouts {
    /// The bounds from the command line, else the environment, else the defaults.
    pub fn resolve(options: &AwsOptions) -> Result<Timeouts> {
        Self::resolve_with(options, crate::env::var)
    }

    fn resolve_with(
        options: &AwsOptions,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<Timeouts> {
        let pick = |setting: &Setting, given: &Option<String>| match given {
            Some(text) => setting.parse(text, setting.option),
            None => match environment(setting.variable).filter(|v| !v.is_empty()) {
                Some(text) => setting.parse(&text, setting.variable),
                None => Ok(setting.default),
            },
        };
        Ok(Timeouts {
            connect: pick(&CONNECT, &options.connect_timeout)?,
            read: pick(&READ, &options.read_timeout)?,
            operation: pick(&OPERATION, &options.operation_timeout)?,
        })
    }

    /// One attempt may take a connection plus two read timeouts (an answer that trickles in slowly
    /// never trips the read timeout), so that a stuck attempt still leaves time for a retry.
    pub fn attempt(&self) -> Duration {
        (self.connect + self.read * 2).min(self.operation)
    }

    /// The SDK's view of these bounds.
    pub fn sdk_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt())
            .operation_timeout(self.operation)
            .build()
    }

    /// The SDK's read timeout covers the wait for an answer's headers; its stalled-stream
    /// protection covers a body that stops arriving. Both mean "nothing for the read timeout".
    pub fn stalled_stream_config(&self) -> StalledStreamProtectionConfig {
        StalledStreamProtectionConfig::enabled()
            .grace_period(self.read)
            .build()
    }

    /// The bound on all the AWS work of one `serve`.
    pub fn serve_total(&self) -> Duration {
        SERVE_TOTAL.max(self.operation)
    }
}

impl Setting {
    fn parse(&self, text: &str, source: &str) -> Result<Duration> {
        let out_of_range = || {
            Error::invalid_with_hint(
                format!("invalid {source} {text:?}: it must be from 1s to 1h"),
                format!(
                    "give {} (or {}) a whole number of seconds, minutes or hours, e.g. {}s",
                    self.option,
                    self.variable,
                    self.default.as_secs()
                ),
            )
        };
        let seconds = crate::core::duration::parse_seconds(text).map_err(|_| out_of_range())?;
        let duration = Duration::from_secs(seconds);
        if duration.is_zero() || duration > MAX {
            return Err(out_of_range());
        }
        Ok(duration)
    }
}

/// Show a bound the way the options take it: `2s`, `90s`, `5m`, `1h`.
pub fn display(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds >= 600 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn options(connect: Option<&str>, read: Option<&str>, operation: Option<&str>) -> AwsOptions {
        AwsOptions {
            connect_timeout: connect.map(str::to_string),
            read_timeout: read.map(str::to_string),
            operation_timeout: operation.map(str::to_string),
            ..AwsOptions::default()
        }
    }

    #[test]
    fn options_beat_the_environment_which_beats_the_defaults() {
        let environment = |name: &str| match name {
            "S3CREDS_READ_TIMEOUT" => Some("7s".to_string()),
            "S3CREDS_OPERATION_TIMEOUT" => Some("2m".to_string()),
            _ => None,
        };
        let timeouts =
            Timeouts::resolve_with(&options(None, None, Some("45")), environment).unwrap();
        assert_eq!(
            timeouts,
            Timeouts {
                connect: DEFAULT_CONNECT,
                read: Duration::from_secs(7),
                operation: Duration::from_secs(45),
            }
        );
        assert_eq!(
            Timeouts::resolve_with(&options(None, None, None), |_| None).unwrap(),
            Timeouts::default()
        );
    }

    #[test]
    fn zero_huge_and_malformed_values_are_invalid_input() {
        for text in [
            "0",
            "0s",
            "3601",
            "61m",
            "2h",
            "18446744073709551615",
            "99999999999999999999h",
            "-1",
            "1.5s",
            "",
            "soon",
        ] {
            let error =
                Timeouts::resolve_with(&options(None, Some(text), None), |_| None).expect_err(text);
            assert_eq!(error.exit_code(), exit_code::INVALID_INPUT, "{text}");
            assert!(error.to_string().contains("--read-timeout"), "{error}");
            assert!(error.hint().unwrap().contains("--read-timeout"), "{error}");
        }
        let error = Timeouts::resolve_with(&options(None, None, None), |name| {
            (name == "S3CREDS_CONNECT_TIMEOUT").then(|| "0".to_string())
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("S3CREDS_CONNECT_TIMEOUT"),
            "{error}"
        );
        for text in ["1", "1s", "3600", "60m", "1h"] {
            Timeouts::resolve_with(&options(Some(text), None, None), |_| None).expect(text);
        }
    }

    #[test]
    fn an_attempt_leaves_room_for_a_retry_but_never_exceeds_the_operation() {
        let defaults = Timeouts::default();
        assert_eq!(defaults.attempt(), Duration::from_secs(23));
        let short = Timeouts {
            operation: Duration::from_secs(2),
            ..defaults
        };
        assert_eq!(short.attempt(), Duration::from_secs(2));
        assert_eq!(defaults.serve_total(), SERVE_TOTAL);
        let long = Timeouts {
            operation: MAX,
            ..defaults
        };
        assert_eq!(long.serve_total(), MAX);
    }

    #[test]
    fn displays_like_the_options_take_it() {
        assert_eq!(display(Duration::from_secs(2)), "2s");
        assert_eq!(display(Duration::from_secs(90)), "90s");
        assert_eq!(display(Duration::from_secs(600)), "10m");
        assert_eq!(display(Duration::from_secs(3600)), "1h");
    }
}
