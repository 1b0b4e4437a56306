//! `s3creds completions` and `s3creds man`, checked by the real programs that consume them: bash, zsh
//! and fish load the completion code (and bash and fish complete with it), and `man -l` renders every
//! page. The shells and man come from Debian (scripts/setup-test-env.sh); a missing one fails the test.

use std::path::Path;
use std::process::Command;

fn s3creds() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("S3CREDS_") || name.contains("COMPLETE") {
            command.env_remove(name);
        }
    }
    command
}

fn completion_code(shell: &str) -> String {
    let output = s3creds().args(["completions", shell]).output().unwrap();
    assert!(output.status.success(), "completions {shell}: {output:?}");
    assert!(
        output.stderr.is_empty(),
        "completions {shell} wrote to stderr"
    );
    let code = String::from_utf8(output.stdout).unwrap();
    assert!(
        code.contains("_S3CREDS_COMPLETE"),
        "{shell}: not the s3creds completion code:\n{code}"
    );
    code
}

/// A home with an AWS config of three profiles (one only in the credentials file) and a plugin-free
/// data folder; the shells run with it so dynamic values are predictable.
fn home_with_profiles() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config"),
        "[default]\nregion = eu-west-1\n[profile dev]\n[sso-session corp]\n[profile ops]\n",
    )
    .unwrap();
    std::fs::write(home.path().join("credentials"), "[deploy]\n").unwrap();
    home
}

fn shell(program: &str, home: &Path, script: &str) -> (String, String) {
    let output = Command::new(program)
        .args(shell_args(program))
        .arg(script)
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("S3CREDS_DATA_DIR", home.join("data"))
        .env("PATH", path_with_s3creds())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (scripts/setup-test-env.sh installs it): {e}")
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{program} failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn shell_args(program: &str) -> &'static [&'static str] {
    match program {
        "bash" => &["--norc", "--noprofile", "-c"],
        "zsh" => &["-f", "-c"],
        "fish" => &["--no-config", "-c"],
        _ => unreachable!(),
    }
}

fn path_with_s3creds() -> String {
    let bin = assert_cmd::cargo::cargo_bin("s3creds");
    format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn every_shell_gets_completion_code() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        completion_code(shell);
    }
}

/// Complete `words` (the last one being typed) in bash as the shell would, and return the candidates.
fn bash_complete(home: &Path, words: &[&str]) -> Vec<String> {
    let code = completion_code("bash");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "{code}\n\
         COMP_WORDS=({words}); COMP_CWORD={index}; COMP_TYPE=9\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         _clap_complete_s3creds s3creds '{current}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        index = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let (stdout, stderr) = shell("bash", home, &script);
    assert_eq!(stderr, "", "bash complained");
    stdout
        .lines()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn bash_completes_a_subcommand_and_profile_names() {
    let home = home_with_profiles();
    let subcommands = bash_complete(home.path(), &["s3creds", "cre"]);
    assert_eq!(subcommands, ["create"]);
    let nested = bash_complete(home.path(), &["s3creds", "profile", "a"]);
    assert_eq!(nested, ["add"]);

    // Dynamic values: the profiles of the config and credentials files (not the sso-session).
    let profiles = bash_complete(home.path(), &["s3creds", "create", "b", "--profile", ""]);
    assert_eq!(profiles, ["default", "dev", "ops", "deploy"]);
    let profiles = bash_complete(home.path(), &["s3creds", "create", "b", "--profile", "d"]);
    assert_eq!(profiles, ["default", "dev", "deploy"]);
    // Built-in formats (no plugin is installed in this home).
    let formats = bash_complete(home.path(), &["s3creds", "create", "b", "--format", ""]);
    assert_eq!(formats, ["json", "ini"]);
}

/// A pipe where the AWS config should be is not waited on: completion offers the other file's
/// profiles at once (a read from a FIFO with no writer would hang the shell).
#[test]
fn a_fifo_as_the_aws_config_does_not_hang_completion() {
    let home = home_with_profiles();
    std::fs::remove_file(home.path().join("config")).unwrap();
    let status = Command::new("mkfifo")
        .arg(home.path().join("config"))
        .status()
        .unwrap();
    assert!(status.success());
    let profiles = bash_complete(home.path(), &["s3creds", "create", "b", "--profile", ""]);
    assert_eq!(profiles, ["deploy"]);
}

#[test]
fn zsh_loads_the_completion_code() {
    let home = home_with_profiles();
    let code_file = home.path().join("s3creds.zsh");
    std::fs::write(&code_file, completion_code("zsh")).unwrap();
    let (_, stderr) = shell(
        "zsh",
        home.path(),
        &format!(
            "autoload -U compinit && compinit -u -D && source {} && \
             [[ -n ${{_comps[s3creds]}} ]] && print registered",
            code_file.display()
        ),
    );
    assert_eq!(stderr, "", "zsh complained");
}

#[test]
fn fish_loads_and_completes() {
    let home = home_with_profiles();
    let code_file = home.path().join("s3creds.fish");
    std::fs::write(&code_file, completion_code("fish")).unwrap();
    let (stdout, stderr) = shell(
        "fish",
        home.path(),
        &format!(
            "source {} && complete -C 's3creds cre' && complete -C 's3creds whoami --profile o'",
            code_file.display()
        ),
    );
    assert_eq!(stderr, "", "fish complained");
    let candidates: Vec<&str> = stdout
        .lines()
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    assert!(candidates.contains(&"create"), "{stdout}");
    assert!(candidates.contains(&"ops"), "{stdout}");
}

#[test]
fn man_renders_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let output = s3creds()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    // The top page, every subcommand, nested ones too; never the hidden internal `__format`.
    for expected in [
        "s3creds.1",
        "s3creds-create.1",
        "s3creds-serve.1",
        "s3creds-profile-add.1",
        "s3creds-completions.1",
        "s3creds-delete-objects.1",
    ] {
        assert!(
            pages.iter().any(|p| p == expected),
            "{expected} missing: {pages:?}"
        );
    }
    assert!(!pages.iter().any(|p| p.contains("__format")), "{pages:?}");
    assert!(pages.len() > 30, "{pages:?}");

    for page in &pages {
        let rendered = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(dir.path().join(page))
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap_or_else(|e| panic!("cannot run man (setup-test-env.sh installs man-db): {e}"));
        let stderr = String::from_utf8_lossy(&rendered.stderr);
        assert!(rendered.status.success(), "man -l {page}: {stderr}");
        assert_eq!(stderr, "", "man -l {page} warned");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(
            text.contains("NAME"),
            "{page} rendered without a NAME section"
        );
    }

    let create = std::fs::read_to_string(dir.path().join("s3creds-create.1")).unwrap();
    assert!(
        create.contains("\\-\\-read\\-only"),
        "create's options are not on its page"
    );
}

#[test]
fn man_without_dir_prints_the_top_page() {
    let output = s3creds().arg("man").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains("s3creds"));
}

#[test]
fn man_refuses_a_missing_folder() {
    let output = s3creds()
        .args(["man", "--dir", "/nonexistent/s3creds-man"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a folder"));
}
