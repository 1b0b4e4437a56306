//! Real credential_process consumers: a profile written by `s3creds profile add` is used by the AWS CLI,
//! boto3 and the Rust aws-config, against moto. Also the config file editing guarantees.

mod support;

use std::process::Command;
use support::{assert_private_session_keyring, repo_root, run_std, Aws, Keys, Moto, Proxy};

struct Fixture {
    moto: Moto,
    proxy: Proxy,
    home: tempfile::TempDir,
}

impl Fixture {
    fn new(bucket: &str) -> Fixture {
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

    fn config(&self) -> std::path::PathBuf {
        self.home.path().join("config")
    }

    /// An environment like a user's shell: source-identity keys in the environment, a private config.
    fn env(&self, command: &mut Command) {
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
                command.env_remove(name);
            }
        }
        command
            .env("AWS_CONFIG_FILE", self.config())
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("credentials"),
            )
            .env("AWS_ENDPOINT_URL", &self.proxy.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("S3CREDS_CACHE_DIR", self.home.path().join("cache"))
            .env("S3CREDS_KEYRING", "keyutils");
    }

    fn s3creds(&self, args: &[&str]) -> support::Outcome {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
        command.args(args);
        self.env(&mut command);
        run_std(&mut command)
    }
}

#[test]
fn aws_cli_boto3_and_aws_config_use_a_profile_written_by_profile_add() {
    let f = Fixture::new("consumer-bucket");
    std::fs::write(f.config(), "# my config\n[default]\nregion = us-east-1\n").unwrap();
    f.s3creds(&[
        "profile",
        "add",
        "reports",
        "consumer-bucket",
        "--prefix",
        "out/",
    ])
    .assert_success();
    let text = std::fs::read_to_string(f.config()).unwrap();
    assert!(
        text.starts_with("# my config\n[default]\nregion = us-east-1\n\n[profile reports]\n"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("credential_process = "))
        .unwrap();
    let binary = assert_cmd::cargo::cargo_bin("s3creds")
        .canonicalize()
        .unwrap();
    assert!(
        line.starts_with(&format!(
            "credential_process = {} serve --profile default",
            binary.display()
        )),
        "{line}"
    );
    assert!(
        line.contains("consumer-bucket --prefix out/ --duration 1h --refresh-window 15m"),
        "{line}"
    );

    // The AWS CLI: write and read through the profile.
    let aws = repo_root().join(".venv/bin/aws");
    let source = f.home.path().join("hello.txt");
    std::fs::write(&source, "hello").unwrap();
    let mut cp = Command::new(&aws);
    f.env(&mut cp);
    cp.args(["--profile", "reports", "s3", "cp"])
        .arg(&source)
        .arg("s3://consumer-bucket/out/hello.txt");
    let outcome = run_std(&mut cp);
    assert_eq!(outcome.code, 0, "aws s3 cp: {}", outcome.stderr);
    let mut get = Command::new(&aws);
    f.env(&mut get);
    get.args([
        "--profile",
        "reports",
        "s3",
        "cp",
        "s3://consumer-bucket/out/hello.txt",
        "-",
    ]);
    let outcome = run_std(&mut get);
    assert_eq!(outcome.stdout, "hello", "{}", outcome.stderr);
    // Both CLI runs were served by one AssumeRole: the second came from the keyring.
    let assumed = f
        .proxy
        .actions()
        .iter()
        .filter(|a| *a == "AssumeRole")
        .count();
    assert_eq!(assumed, 1, "{:?}", f.proxy.actions());
    let assume = f
        .proxy
        .calls()
        .into_iter()
        .find(|c| c["action"] == "AssumeRole")
        .unwrap();
    assert!(assume["params"]["Policy"]
        .as_str()
        .unwrap()
        .contains("consumer-bucket/out/*"));
    // The object calls were signed with the temporary key, not the source identity's.
    let put = f
        .proxy
        .calls()
        .into_iter()
        .find(|c| {
            c["action"]
                .as_str()
                .unwrap()
                .starts_with("PUT /consumer-bucket/out")
        })
        .unwrap();
    assert!(
        put["access_key_id"].as_str().unwrap().starts_with("ASIA"),
        "{put}"
    );

    // boto3, the same way.
    let python = repo_root().join(".venv/bin/python");
    let mut boto = Command::new(python);
    f.env(&mut boto);
    boto.arg("-c").arg(
        "import boto3, os\n\
         s = boto3.Session(profile_name='reports')\n\
         c = s.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n\
         c.put_object(Bucket='consumer-bucket', Key='out/boto3.txt', Body=b'from boto3')\n\
         print(c.get_object(Bucket='consumer-bucket', Key='out/boto3.txt')['Body'].read().decode())\n\
         print(s.get_credentials().get_frozen_credentials().access_key)",
    );
    let outcome = run_std(&mut boto);
    assert_eq!(outcome.code, 0, "boto3: {}", outcome.stderr);
    let mut lines = outcome.stdout.lines();
    assert_eq!(lines.next(), Some("from boto3"));
    let boto_key = lines.next().unwrap().to_string();
    assert!(boto_key.starts_with("ASIA"));

    // The Rust SDK's aws-config resolves the same profile through credential_process.
    let mut env_for_rust = Command::new("true");
    f.env(&mut env_for_rust);
    // Here the source identity comes from the shared credentials file, as on most workstations: the
    // Rust SDK puts environment keys before any profile.
    std::fs::write(
        f.home.path().join("credentials"),
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let vars: Vec<(String, String)> = env_for_rust
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .filter(|(k, _)| {
            !k.starts_with("AWS_ACCESS_KEY_ID") && !k.starts_with("AWS_SECRET_ACCESS_KEY")
        })
        .collect();
    let rust_key = resolve_with_aws_config(&vars);
    assert!(rust_key.starts_with("ASIA"), "{rust_key}");
    assert!(f.moto.url.starts_with("http://127.0.0.1"));
}

/// Resolve the `reports` profile with aws-config, as any Rust program would. aws-config reads the
/// process environment, so this test sets it (nextest runs each test in its own process).
fn resolve_with_aws_config(vars: &[(String, String)]) -> String {
    use aws_credential_types::provider::ProvideCredentials;
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            std::env::remove_var(name);
        }
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            // The SDK's default HTTPS client is not compiled in (see src/aws/https.rs); loopback is HTTP.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .profile_name("reports")
            .load()
            .await;
        let provider = config
            .credentials_provider()
            .expect("a credentials provider");
        let credentials = provider
            .provide_credentials()
            .await
            .expect("aws-config resolves the profile");
        assert!(credentials.session_token().is_some());
        assert!(credentials.expiry().is_some());
        credentials.access_key_id().to_string()
    })
}

#[test]
fn profile_add_keeps_the_file_and_refuses_to_clobber() {
    let f = Fixture::new("profile-bucket");
    let original = "# comment kept\n[default]\nregion = eu-west-1 # inline\n\n[profile reports]\noutput = json\n\n; trailing\n";
    std::fs::write(f.config(), original).unwrap();
    // An existing profile is not replaced without --force.
    let refused = f.s3creds(&["profile", "add", "reports", "profile-bucket"]);
    refused.assert_failure(3, "profile reports already exists");
    assert_eq!(std::fs::read_to_string(f.config()).unwrap(), original);

    // A new profile: every other byte kept; removing it restores the file exactly.
    f.s3creds(&["profile", "add", "ro", "profile-bucket", "--read-only"])
        .assert_success();
    let added = std::fs::read_to_string(f.config()).unwrap();
    assert!(added.starts_with(original));
    f.s3creds(&["profile", "remove", "ro"]).assert_success();
    assert_eq!(std::fs::read_to_string(f.config()).unwrap(), original);

    // --force replaces after a backup that holds the old file.
    f.s3creds(&["profile", "add", "reports", "profile-bucket", "--force"])
        .assert_success();
    let replaced = std::fs::read_to_string(f.config()).unwrap();
    assert!(replaced.contains("[profile reports]\ncredential_process = "));
    assert!(!replaced.contains("output = json"));
    assert!(replaced.starts_with("# comment kept\n[default]\nregion = eu-west-1 # inline\n\n"));
    assert!(replaced.ends_with("\n; trailing\n"), "{replaced}");
    let backups: Vec<_> = std::fs::read_dir(f.home.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("config.s3creds-backup-")
        })
        .collect();
    // One backup from `remove ro`, one from `add --force`: neither overwrites the other.
    assert_eq!(backups.len(), 2);
    assert!(backups
        .iter()
        .any(|b| std::fs::read_to_string(b.path()).unwrap() == original));

    // A profile not written by s3creds is not removed without --force.
    std::fs::write(f.config(), original).unwrap();
    f.s3creds(&["profile", "remove", "reports"])
        .assert_failure(3, "was not written by s3creds");

    // Static keys for the same name in the credentials file: warned about.
    std::fs::write(
        f.home.path().join("credentials"),
        "[keys]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
    )
    .unwrap();
    let warned = f.s3creds(&["profile", "add", "keys", "profile-bucket"]);
    warned.assert_success();
    assert!(
        warned.stderr.contains("has static keys for [keys]"),
        "{}",
        warned.stderr
    );

    // A statement that cannot be quoted safely is refused, and nothing is written.
    let before = std::fs::read_to_string(f.config()).unwrap();
    let refused = f.s3creds(&[
        "profile",
        "add",
        "bad",
        "profile-bucket",
        "--statement",
        r#"{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}"#,
    ]);
    refused.assert_failure(3, "cannot be written safely");
    assert_eq!(std::fs::read_to_string(f.config()).unwrap(), before);
}
