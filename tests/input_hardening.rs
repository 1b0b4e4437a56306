//! Hostile and malformed policy input (issue 8, classes 3, 4, 5 and parts of 12), through the real
//! binary and every command that reads it: `policy`, `create --dry-run`, `create` against moto behind the
//! counting proxy, `serve` and `profile add`. Each refusal must be exit code 3 with one `error:` line,
//! no signal, little time, and no change: no mutating AWS call, no config file written.

mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{bare_s3creds, run, s3creds, Aws, Keys, Moto, Outcome, Proxy};

/// Generous for a debug build on a shared machine; the unbounded versions took minutes or gigabytes.
const QUICK: Duration = Duration::from_secs(10);

/// The policy input given to a command: its options, and what standard input holds.
struct Input {
    args: Vec<String>,
    stdin: Vec<u8>,
}

impl Input {
    fn args(args: &[&str]) -> Input {
        Input {
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: Vec::new(),
        }
    }

    fn stdin(args: &[&str], stdin: impl Into<Vec<u8>>) -> Input {
        Input {
            stdin: stdin.into(),
            ..Input::args(args)
        }
    }
}

/// One moto server behind the counting proxy, and a private folder for config files and inputs.
struct Harness {
    moto: Moto,
    proxy: Proxy,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Harness {
        let moto = Moto::start();
        let proxy = Proxy::start(&moto);
        Harness {
            moto,
            proxy,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("aws-config")
    }

    /// `s3creds ARGS... BUCKETS INPUT` as each command that reads policy input, with a clean AWS
    /// environment pointing at the proxy.
    fn commands(&self, buckets: &[&str], input: &Input) -> Vec<(String, assert_cmd::Command)> {
        let shapes: [&[&str]; 5] = [
            &["policy"],
            &["create", "--dry-run"],
            &["create", "--no-wait"],
            &["serve", "--no-cache"],
            &["profile", "add", "hardening"],
        ];
        shapes
            .iter()
            .map(|shape| {
                let mut command = s3creds(&self.proxy.url, &Keys::dummy());
                command
                    .args(*shape)
                    .args(buckets)
                    .args(&input.args)
                    .env("HOME", self.dir.path())
                    .env("AWS_CONFIG_FILE", self.config())
                    .env("S3CREDS_CACHE_DIR", self.dir.path().join("cache"))
                    .env("S3CREDS_DATA_DIR", self.dir.path().join("data"))
                    .env("S3CREDS_KEYRING", "none")
                    .current_dir(self.dir.path())
                    .write_stdin(input.stdin.clone());
                (shape.join(" "), command)
            })
            .collect()
    }

    /// Every command refuses `input` quickly with exit 3 and a message containing `message`, and
    /// changes nothing. `profile add` refuses standard input before reading it (its own test), so it
    /// is left out when the input reads `-`.
    #[track_caller]
    fn refused_everywhere(&self, buckets: &[&str], input: &Input, message: &str) {
        let reads_stdin = input.args.iter().any(|a| a == "-");
        for (label, command) in self.commands(buckets, input) {
            if reads_stdin && label.starts_with("profile add") {
                continue;
            }
            let started = Instant::now();
            let outcome = run(command);
            let took = started.elapsed();
            let context = format!("{label} {:.200?}", input.args);
            assert!(took < QUICK, "{context}: took {took:?}");
            assert_one_error(&outcome, message, &context);
        }
        self.assert_nothing_changed();
    }

    #[track_caller]
    fn assert_nothing_changed(&self) {
        let mutating: Vec<String> = self
            .proxy
            .actions()
            .into_iter()
            .filter(|a| !["Get", "Head", "List"].iter().any(|p| a.starts_with(p)))
            .collect();
        assert!(mutating.is_empty(), "mutating AWS calls: {mutating:?}");
        let aws = Aws::new(&self.moto.url, &Keys::dummy());
        assert!(aws.user_names().is_empty(), "{:?}", aws.user_names());
        assert!(!self.config().exists(), "profile add wrote the config file");
    }
}

/// Exit code 3, empty stdout, and stderr that is one error line (plus at most a hint line).
#[track_caller]
fn assert_one_error(outcome: &Outcome, message: &str, context: &str) {
    assert_eq!(
        outcome.code, 3,
        "{context}: stdout {:.300} stderr {:.600}",
        outcome.stdout, outcome.stderr
    );
    assert!(
        outcome.stdout.is_empty(),
        "{context}: {:.300}",
        outcome.stdout
    );
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    let error_lines = lines
        .iter()
        .filter(|l| l.starts_with("error: ") || l.starts_with("s3creds: error: "))
        .count();
    assert_eq!(error_lines, 1, "{context}: {:.600}", outcome.stderr);
    assert!(
        lines.len() <= 2 && lines.iter().skip(1).all(|l| l.starts_with("hint: ")),
        "{context}: {:.600}",
        outcome.stderr
    );
    assert!(
        lines[0].len() < 1000,
        "{context}: the error line is {} bytes long",
        lines[0].len()
    );
    assert!(
        outcome.stderr.contains(message),
        "{context}: stderr lacks {message:?}: {:.600}",
        outcome.stderr
    );
}

fn deep(levels: usize) -> String {
    "{\"a\":".repeat(levels) + "1" + &"}".repeat(levels)
}

/// A statement as a `{"Version", "Statement"}` document.
fn policy_of(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[test]
fn deep_nesting_is_refused_from_every_source_by_every_command() {
    let h = Harness::new();
    let nested = deep(7_000);
    let file = h.file("deep.json", &nested);
    for input in [
        Input::args(&["--policy", &nested]),
        Input::args(&["--statement", &nested]),
        Input::args(&["--policy", &file]),
        Input::args(&["--statement", &file]),
        Input::stdin(&["--policy", "-"], nested.clone()),
        Input::stdin(&["--statement", "-"], nested.clone()),
    ] {
        h.refused_everywhere(&["deep-bucket"], &input, "nested deeper than 32 levels");
    }
}

#[test]
fn only_a_trailing_comma_is_accepted_beyond_strict_json() {
    let h = Harness::new();
    for (name, bad) in [
        (
            "Infinity",
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": Infinity}}}"#,
        ),
        (
            "single quotes",
            r#"{'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}"#,
        ),
        (
            "comment",
            "{\"Effect\": \"Allow\", // allow\n \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}",
        ),
        (
            "block comment",
            r#"{"Effect": "Allow", /* x */ "Action": "s3:GetObject", "Resource": "*"}"#,
        ),
        (
            "unquoted keys",
            r#"{Effect: "Allow", Action: "s3:GetObject", Resource: "*"}"#,
        ),
        (
            "hex number",
            r#"{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": 0x10}}}"#,
        ),
        (
            "repeated key",
            r#"{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", "Effect": "Allow"}"#,
        ),
        (
            "empty element",
            r#"{"Effect": "Allow", "Action": ["s3:GetObject",,], "Resource": "*"}"#,
        ),
    ] {
        let file = h.file("json5.json", bad);
        let policy = format!(r#"{{"Version": "2012-10-17", "Statement": [{bad}]}}"#);
        for input in [
            Input::args(&["--statement", bad]),
            Input::args(&["--statement", &file]),
            Input::args(&["--policy", &policy]),
        ] {
            for (label, command) in h.commands(&["json5-bucket"], &input) {
                assert_one_error(&run(command), "not valid JSON", &format!("{name}: {label}"));
            }
        }
    }
    h.assert_nothing_changed();

    // The seed documentation's example, trailing comma included, still works everywhere it is read.
    let seed = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["s3:GetObject*", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::$!BUCKET_NAME!$", "arn:aws:s3:::$!BUCKET_NAME!$/*"],},],}"#;
    let outcome = run({
        let mut c = bare_s3creds();
        c.args(["policy", "seed-bucket", "--policy", seed]);
        c
    });
    outcome.assert_success();
    assert!(outcome.stdout.contains("arn:aws:s3:::seed-bucket/*"));
}

#[test]
fn oversized_input_is_refused_quickly() {
    let h = Harness::new();
    // 40,000 statements: 2.5 MB, refused by size before anything parses or deduplicates it.
    let statement =
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"});
    let huge = policy_of(Value::Array(vec![statement; 40_000]));
    let huge_file = h.file("huge.json", &huge);
    // A literal argument over 64 KiB (Linux allows 128 KiB per argument).
    let long_literal = format!(
        r#"{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{}"}}"#,
        "x".repeat(100 * 1024)
    );
    for input in [
        Input::args(&["--policy", "/dev/zero"]),
        Input::args(&["--statement", "/dev/zero"]),
        Input::args(&["--policy", &huge_file]),
        Input::args(&["--statement", &long_literal]),
    ] {
        h.refused_everywhere(&["big-bucket"], &input, "larger than 64 KiB");
    }
    h.refused_everywhere(
        &["big-bucket"],
        &Input::stdin(&["--policy", "-"], huge.clone()),
        "larger than 64 KiB",
    );

    // Under the size limit but more statements than any AWS policy can hold: refused by counting,
    // before per-bucket copies and deduplication.
    let minimal = json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
    let many = policy_of(Value::Array(vec![minimal; 1_000]));
    assert!(many.len() < 64 * 1024);
    h.refused_everywhere(
        &["big-bucket"],
        &Input::args(&["--policy", &h.file("many.json", &many)]),
        "the policy would have 1000 statements",
    );
    // 60 statements copied per bucket for 3 buckets: 180.
    let per_bucket = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::$!BUCKET_NAME!$/*"});
    let copied = policy_of(Value::Array(vec![per_bucket; 60]));
    h.refused_everywhere(
        &["big-1", "big-2", "big-3"],
        &Input::args(&["--policy", &h.file("copied.json", &copied)]),
        "the policy would have 180 statements",
    );
    h.assert_nothing_changed();
}

/// A FIFO whose writer never stops is cut off at the size limit.
#[test]
fn an_endless_fifo_is_cut_off_at_the_limit() {
    let h = Harness::new();
    let fifo = h.dir.path().join("endless");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for (label, command) in h.commands(
        &["fifo-bucket"],
        &Input::args(&["--policy", fifo.to_str().unwrap()]),
    ) {
        let writer = endless_writer(&fifo);
        let started = Instant::now();
        let outcome = run(command);
        assert!(
            started.elapsed() < QUICK,
            "{label}: {:?}",
            started.elapsed()
        );
        assert_one_error(&outcome, "larger than 64 KiB", &label);
        // The reader is gone: the writer ends with a broken pipe.
        writer.join().unwrap();
    }
    h.assert_nothing_changed();
}

fn endless_writer(fifo: &Path) -> std::thread::JoinHandle<()> {
    use std::io::Write;
    let fifo = fifo.to_path_buf();
    std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        let chunk = [b' '; 8192];
        while file.write_all(&chunk).is_ok() {}
    })
}

#[test]
fn policies_iam_would_reject_are_refused_before_any_change() {
    let h = Harness::new();
    let statement = |extra: Value| {
        let mut s =
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::g-1/*"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = v.clone();
            }
        }
        s
    };
    let bad_statements = [
        (
            statement(json!({"Sid": "Read-1"})),
            "may only contain letters",
        ),
        (
            statement(json!({"Action": "s3 GetObject"})),
            "is not \"*\" or \"service:Action\"",
        ),
        (
            statement(json!({"Action": ["s3:GetObject", "GetObject"]})),
            "\"GetObject\" is not",
        ),
        (
            statement(json!({"Action": null, "NotAction": "s3:Get/Object"})),
            "is not \"*\"",
        ),
        (
            statement(json!({"Resource": "my-bucket/*"})),
            "is not \"*\" or an ARN",
        ),
        (
            statement(json!({"Resource": null, "NotResource": ["arn:aws:s3:::"]})),
            "or an ARN",
        ),
        (
            statement(json!({"Condition": {"StringLikes": {"s3:prefix": "a"}}})),
            "unknown condition operator",
        ),
        (
            statement(json!({"Condition": {"NullIfExists": {"aws:TokenIssueTime": "true"}}})),
            "unknown condition operator",
        ),
        (
            statement(json!({"Condition": {"StringLike": {"s3:prefix": {"a": 1}}}})),
            "the value must be",
        ),
        (statement(json!({"Condition": {}})), "must not be empty"),
        (
            statement(json!({"Principal": "*"})),
            "Principal belongs in bucket policies",
        ),
    ];
    for (bad, message) in &bad_statements {
        let text = bad.to_string();
        let file = h.file("bad-statement.json", &text);
        h.refused_everywhere(&["g-1"], &Input::args(&["--statement", &text]), message);
        h.refused_everywhere(&["g-1"], &Input::args(&["--statement", &file]), message);
        let policy = h.file("bad-policy.json", policy_of(json!([bad])));
        h.refused_everywhere(&["g-1"], &Input::args(&["--policy", &policy]), message);
    }
    let good = statement(json!({}));
    for (document, message) in [
        (
            json!({"Version": "2012-10-18", "Statement": [good]}),
            "\"Version\" must be",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [good], "Principal": "*"}),
            "unknown top-level key",
        ),
        (
            json!({"Version": "2012-10-17", "Id": 7, "Statement": [good]}),
            "\"Id\" must be a string",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [
                statement(json!({"Sid": "Same"})), statement(json!({"Sid": "Same", "Action": "s3:PutObject"}))]}),
            "the Sid \"Same\" is used by more than one statement",
        ),
        (
            // Read is copied as Read1 and Read2, which collides with the user's own Read1.
            json!({"Version": "2012-10-17", "Statement": [
                statement(json!({"Sid": "Read", "Resource": "arn:aws:s3:::$!BUCKET_NAME!$/*"})),
                statement(json!({"Sid": "Read1", "Action": "s3:PutObject"}))]}),
            "the Sid \"Read1\" would be used twice",
        ),
    ] {
        let policy = h.file("bad-policy.json", document.to_string());
        h.refused_everywhere(
            &["g-1", "g-2"],
            &Input::args(&["--policy", &policy]),
            message,
        );
    }
    // A Sid repeated across --policy and --statement is the user's repeat too.
    let policy = h.file(
        "sid.json",
        policy_of(json!([statement(json!({"Sid": "Twice"}))])),
    );
    let again = statement(json!({"Sid": "Twice", "Action": "s3:PutObject"})).to_string();
    h.refused_everywhere(
        &["g-1"],
        &Input::args(&["--policy", &policy, "--statement", &again]),
        "is used by more than one statement",
    );
}

/// The issue's example: a Sid in a statement copied per bucket used to reach IAM twice
/// (MalformedPolicyDocument after the user was created). Each copy is now numbered by bucket position.
#[test]
fn a_sid_copied_per_bucket_is_numbered_and_iam_accepts_it() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("good-b1");
    aws.create_bucket("good-b2");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::$!BUCKET_NAME!$/*"}]}"#;
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args([
            "create",
            "good-b1",
            "good-b2",
            "--policy",
            policy,
            "--no-wait",
        ]);
        c
    });
    outcome.assert_success();
    let keys = Keys::from_output(&outcome.json());
    outcome.assert_no_secret_on_stderr(&[&keys.secret]);
    let user = outcome.json()["UserName"].as_str().unwrap().to_string();
    assert_eq!(aws.user_names(), vec![user.as_str()]);
    let names = aws.inline_policy_names(&user);
    assert_eq!(names.len(), 1, "{names:?}");
    let stored = aws.inline_policy(&user, &names[0]);
    assert_eq!(
        stored["Statement"],
        json!([
            {"Sid": "Read1", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::good-b1/*"},
            {"Sid": "Read2", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::good-b2/*"},
        ])
    );
    let put = proxy
        .calls()
        .into_iter()
        .find(|c| c["action"] == "PutUserPolicy");
    assert!(put.is_some(), "{:?}", proxy.actions());

    // One bucket: the Sid stays as written.
    let single = run({
        let mut c = bare_s3creds();
        c.args(["policy", "good-b1", "--policy", policy]);
        c
    });
    single.assert_success();
    assert_eq!(single.json()["Statement"][0]["Sid"], "Read");
}

#[test]
fn statement_takes_a_file_or_stdin_like_policy() {
    let h = Harness::new();
    let statement = r#"{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}"#;
    let file = h.file("st.json", statement);
    let policy_output = |args: &[&str], stdin: &str| {
        let mut c = bare_s3creds();
        c.args(["policy", "st-bucket", "--read-only"])
            .args(args)
            .current_dir(h.dir.path())
            .write_stdin(stdin.to_string());
        run(c)
    };
    for (args, stdin) in [
        (vec!["--statement", file.as_str()], ""),
        (vec!["--statement", "st.json"], ""),
        (vec!["--statement", "-"], statement),
        (vec!["--statement", statement], ""),
    ] {
        let outcome = policy_output(&args, stdin);
        outcome.assert_success();
        let statements = outcome.json()["Statement"].as_array().unwrap().clone();
        assert_eq!(
            statements.last().unwrap(),
            &serde_json::from_str::<Value>(statement).unwrap(),
            "{args:?}"
        );
    }
    // --policy - together with --statement FILE is fine; two readers of standard input are not.
    let policy = policy_of(
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::st-bucket/*"}]),
    );
    let both = {
        let mut c = bare_s3creds();
        c.args(["policy", "st-bucket", "--policy", "-", "--statement", &file])
            .write_stdin(policy);
        run(c)
    };
    both.assert_success();
    assert!(both.stdout.contains("textract:*"), "{}", both.stdout);
    for args in [
        vec!["--policy", "-", "--statement", "-"],
        vec!["--statement", "-", "--statement", "-"],
    ] {
        let input = Input::stdin(&args, statement);
        h.refused_everywhere(
            &["st-bucket"],
            &input,
            "standard input can be read only once",
        );
    }
    // A missing file names what is accepted.
    let missing = policy_output(&["--statement", "nope.json"], "");
    assert_one_error(
        &missing,
        "--statement \"nope.json\": cannot read the file",
        "missing",
    );
    assert!(
        missing.stderr.contains(
            "hint: pass a JSON object (starting with '{'), a file path, or - for standard input"
        ),
        "{}",
        missing.stderr
    );
}

#[test]
fn profile_add_refuses_stdin_and_writes_statement_files_as_absolute_paths() {
    let h = Harness::new();
    let statement = r#"{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}"#;
    h.file("st.json", statement);
    for args in [["--statement", "-"], ["--policy", "-"]] {
        let input = Input::stdin(&args, statement);
        let (label, command) = h.commands(&["profile-bucket"], &input).pop().unwrap();
        assert_eq!(label, "profile add hardening");
        assert_one_error(
            &run(command),
            "a credential_process has no standard input",
            &label,
        );
    }
    h.assert_nothing_changed();

    // A source profile for the new one (keys come from the environment), and the bucket it names.
    std::fs::write(h.config(), "[default]\nregion = us-east-1\n").unwrap();
    Aws::new(&h.moto.url, &Keys::dummy()).create_bucket("profile-bucket");
    let (_, command) = h
        .commands(
            &["profile-bucket"],
            &Input::args(&["--statement", "st.json"]),
        )
        .pop()
        .unwrap();
    run(command).assert_success();
    let config = std::fs::read_to_string(h.config()).unwrap();
    let absolute = h.dir.path().canonicalize().unwrap().join("st.json");
    let absolute_plain = h.dir.path().join("st.json");
    assert!(
        config.contains(&format!("--statement {}", absolute.display()))
            || config.contains(&format!("--statement {}", absolute_plain.display())),
        "{config}"
    );
}

#[test]
fn a_wildcard_inside_a_prefix_gets_a_hint() {
    let h = Harness::new();
    for (prefix, hint) in [
        (
            "app*/",
            "hint: a prefix already covers every key that starts with it: write --prefix \"app\"",
        ),
        (
            "*/logs/",
            "hint: leave out --prefix to grant the whole bucket",
        ),
        ("a?b/", "write --prefix \"a\""),
        ("${aws:username}/", "hint: write the literal key prefix"),
    ] {
        h.refused_everywhere(
            &["prefix-bucket"],
            &Input::args(&["--prefix", prefix]),
            hint,
        );
    }
}
