//! Shared by tests/exec.rs and tests/http_endpoint.rs: a moto server behind the counting proxy, a
//! user-like environment, and the four real consumers of the container credentials provider (the
//! AWS CLI, boto3, Rust aws-config, the AWS SDK for JavaScript v3).

#![allow(dead_code)]

use crate::support::{assert_private_session_keyring, repo_root, Aws, Keys, Moto, Proxy};
use std::ffi::OsString;
use std::process::Command;

pub struct Fixture {
    pub moto: Moto,
    pub proxy: Proxy,
    pub home: tempfile::TempDir,
}

impl Fixture {
    pub fn new(bucket: &str) -> Fixture {
        assert_private_session_keyring();
        let moto = Moto::start();
        Aws::new(&moto.url, &Keys::dummy()).create_bucket(bucket);
        let proxy = Proxy::start(&moto);
        Fixture {
            moto,
            proxy,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Only what every process needs: endpoint, region, no instance metadata, nothing else of AWS.
    pub fn base_env(&self, command: &mut Command) {
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
                command.env_remove(name);
            }
        }
        command
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("credentials"),
            )
            .env("AWS_ENDPOINT_URL", &self.proxy.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("S3CREDS_CACHE_DIR", self.home.path().join("cache"))
            .env("S3CREDS_KEYRING", "keyutils");
    }

    /// s3creds as a user runs it: the source identity's static keys in the environment.
    pub fn s3creds(&self, args: &[&str]) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
        command.args(args);
        self.base_env(&mut command);
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        command
    }

    pub fn assumed(&self) -> usize {
        self.proxy
            .actions()
            .iter()
            .filter(|a| *a == "AssumeRole")
            .count()
    }

    /// The object as moto holds it (read with the dummy admin keys).
    pub fn object(&self, bucket: &str, key: &str) -> String {
        Aws::new(&self.moto.url, &Keys::dummy())
            .get_object(bucket, key)
            .unwrap_or_else(|e| panic!("{bucket}/{key}: {e}"))
    }
}

/// One consumer: its name and the command line that writes `body` to `bucket/key`, reads it back and
/// prints it.
pub struct Consumer {
    pub name: &'static str,
    pub argv: Vec<OsString>,
}

pub fn consumers(bucket: &str) -> Vec<Consumer> {
    let aws = repo_root().join(".venv/bin/aws");
    let python = repo_root().join(".venv/bin/python");
    let js = repo_root().join("tests/js-consumer/consumer.mjs");
    assert!(
        repo_root()
            .join("tests/js-consumer/node_modules/@aws-sdk/client-s3")
            .exists(),
        "the JS SDK is missing: run scripts/setup-test-env.sh (npm ci in tests/js-consumer)"
    );
    let this_test_binary = std::env::current_exe().unwrap();
    let words = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>();
    vec![
        Consumer {
            name: "aws-cli",
            argv: words(&[
                "sh",
                "-c",
                &format!(
                    "printf %s from-aws-cli | {aws} s3 cp - s3://{bucket}/aws-cli.txt && \
                     {aws} s3 cp s3://{bucket}/aws-cli.txt -",
                    aws = aws.display()
                ),
            ]),
        },
        Consumer {
            name: "boto3",
            argv: words(&[
                &python.display().to_string(),
                "-c",
                &format!(
                    "import boto3, os\n\
                     c = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n\
                     c.put_object(Bucket='{bucket}', Key='boto3.txt', Body=b'from-boto3')\n\
                     print(c.get_object(Bucket='{bucket}', Key='boto3.txt')['Body'].read().decode(), end='')"
                ),
            ]),
        },
        Consumer {
            name: "aws-config",
            // This test binary's own ignored test `rust_consumer` (see `rust_consumer_body`).
            argv: vec![
                this_test_binary.into_os_string(),
                "--ignored".into(),
                "--exact".into(),
                "rust_consumer".into(),
                "--nocapture".into(),
                "--test-threads=1".into(),
            ],
        },
        Consumer {
            name: "js-sdk-v3",
            argv: words(&[
                "node",
                &js.display().to_string(),
                bucket,
                "js-sdk-v3.txt",
                "from-js-sdk-v3",
            ]),
        },
    ]
}

/// The Rust consumer, run as a child (`rust_consumer` in each test file calls this): aws-config's
/// default chain from the environment (container provider), S3 put and get in `S3CREDS_TEST_BUCKET`.
pub fn rust_consumer_body() {
    let bucket = std::env::var("S3CREDS_TEST_BUCKET").expect("S3CREDS_TEST_BUCKET");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            // The SDK's default HTTPS client is not compiled in (see src/aws/https.rs); loopback is HTTP.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .load()
            .await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        s3.put_object()
            .bucket(&bucket)
            .key("aws-config.txt")
            .body(b"from-aws-config".to_vec().into())
            .send()
            .await
            .expect("put with aws-config");
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key("aws-config.txt")
            .send()
            .await
            .expect("get with aws-config");
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], b"from-aws-config");
    });
}

/// What each consumer must have stored.
pub fn expected_body(consumer: &Consumer) -> String {
    format!("from-{}", consumer.name)
}
