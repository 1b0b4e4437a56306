//! Every credential source users rely on still works with the HTTP client s3creds builds itself
//! (issue 12 chose the SDK's features and replaced its default HTTPS client): environment keys, a
//! profile with static keys, `credential_process`, a web identity token file, and the container
//! credentials endpoint (served by `s3creds serve --http`). Each test proves which identity was used:
//! `whoami` must report the ARN that only that source's credentials map to in moto.
//!
//! Not testable here: SSO (no SSO portal emulator) and EC2 instance metadata (no IMDS). They use the
//! same HTTP client as the web identity and container providers tested below.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use support::{bare_s3creds, run, Aws, Keys, Moto};

const ACCOUNT: &str = "123456789012";

/// moto, a user with its own access key, and a role anyone may assume with a web identity.
struct Setup {
    moto: Moto,
    user_keys: Keys,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let moto = Moto::start();
        let aws = Aws::new(&moto.url, &Keys::dummy());
        let user_keys = aws.user_with_policy(
            "source-user",
            &serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        );
        aws.block_on(
            aws.iam
                .create_role()
                .role_name("web-role")
                .assume_role_policy_document(
                    serde_json::json!({"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Federated": "accounts.example.com"},
                        "Action": "sts:AssumeRoleWithWebIdentity"}]})
                    .to_string(),
                )
                .send(),
        )
        .expect("create the web identity role");
        Setup {
            moto,
            user_keys,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `s3creds whoami` with no AWS settings but the endpoint: each test adds one source.
    fn whoami(&self) -> assert_cmd::Command {
        let mut command = bare_s3creds();
        command
            .arg("whoami")
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_CONFIG_FILE", self.path("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("credentials"));
        command
    }

    fn user_arn() -> String {
        format!("arn:aws:iam::{ACCOUNT}:user/source-user")
    }
}

fn write_private(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn arn_of(outcome: &support::Outcome) -> String {
    outcome.assert_success();
    outcome.json()["Arn"].as_str().expect("Arn").to_string()
}

#[test]
fn environment_keys() {
    let setup = Setup::new();
    let mut command = setup.whoami();
    command
        .env("AWS_ACCESS_KEY_ID", &setup.user_keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &setup.user_keys.secret);
    assert_eq!(arn_of(&run(command)), Setup::user_arn());
}

#[test]
fn a_profile_with_static_keys() {
    let setup = Setup::new();
    write_private(
        &setup.path("credentials"),
        &format!(
            "[static]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            setup.user_keys.id, setup.user_keys.secret
        ),
        0o600,
    );
    let mut command = setup.whoami();
    command.args(["--profile", "static"]);
    assert_eq!(arn_of(&run(command)), Setup::user_arn());
}

#[test]
fn a_profile_with_credential_process() {
    let setup = Setup::new();
    let script = setup.path("issue-credentials");
    write_private(
        &script,
        &format!(
            "#!/bin/sh\nprintf '%s' '{}'\n",
            serde_json::json!({"Version": 1, "AccessKeyId": setup.user_keys.id,
                               "SecretAccessKey": setup.user_keys.secret})
        ),
        0o700,
    );
    write_private(
        &setup.path("config"),
        &format!(
            "[profile process]\ncredential_process = {}\n",
            script.display()
        ),
        0o600,
    );
    let mut command = setup.whoami();
    command.env("AWS_PROFILE", "process");
    assert_eq!(arn_of(&run(command)), Setup::user_arn());
}

#[test]
fn a_web_identity_token_file() {
    let setup = Setup::new();
    let token = setup.path("token");
    write_private(&token, "a-web-identity-token", 0o600);
    let mut command = setup.whoami();
    command
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .env(
            "AWS_ROLE_ARN",
            format!("arn:aws:iam::{ACCOUNT}:role/web-role"),
        )
        .env("AWS_ROLE_SESSION_NAME", "from-web-identity");
    let arn = arn_of(&run(command));
    assert!(
        arn.ends_with(":assumed-role/web-role/from-web-identity"),
        "not the web identity's role session: {arn}"
    );
}

#[test]
fn the_container_credentials_endpoint() {
    let setup = Setup::new();
    Aws::new(&setup.moto.url, &Keys::dummy()).create_bucket("container-bucket");
    // The endpoint: `serve --http` authenticated by the user's keys, handing out role sessions.
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
            server.env_remove(name);
        }
    }
    let mut server = server
        .args(["serve", "container-bucket", "--http", "--no-cache"])
        .env("AWS_ENDPOINT_URL", &setup.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", setup.path("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", setup.path("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &setup.user_keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &setup.user_keys.secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut vars = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let (name, value) = line.trim_end().split_once('=').expect("NAME=VALUE");
        vars.push((name.to_string(), value.to_string()));
    }
    let mut command = setup.whoami();
    command.envs(vars);
    let outcome = run(command);
    let _ = server.kill();
    let _ = server.wait();
    let arn = arn_of(&outcome);
    assert!(
        arn.contains(":assumed-role/") && arn != Setup::user_arn(),
        "not a session from the container endpoint: {arn}"
    );
}
