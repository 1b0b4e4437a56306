//! Usage errors clap alone would make confusing.
//!
//! An option of another command (`policy b --duration 1h`) makes clap suggest the closest name the
//! command does have (`--region`), which sends the user the wrong way; here it is named as an option
//! of the commands that take it. And `serve`'s stderr is read by SDKs, so its usage errors are one line
//! like all its other errors.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;
use std::ffi::OsString;

/// What to print for a command line clap refused, when s3creds can say it better than clap.
pub struct UsageError {
    pub message: String,
    pub hint: String,
}

/// The subcommand path the user typed (`["profile", "add"]`), skipping global options and their values.
pub fn typed_subcommand(args: &[OsString]) -> Vec<String> {
    let root = crate::cli::Cli::command();
    let mut current = &root;
    let mut path = Vec::new();
    let mut words = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            // A value-taking option written as `--name value` consumes the next word.
            let takes_value = !long.contains('=')
                && current
                    .get_arguments()
                    .chain(root.get_arguments())
                    .any(|a| a.get_long() == Some(long) && a.get_action().takes_values());
            if takes_value {
                words.next();
            }
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        match current.find_subcommand(&word) {
            Some(sub) => {
                path.push(word);
                current = sub;
            }
            None => break,
        }
    }
    path
}

/// Every leaf command (`create`, `profile add`, ...) that has the long option `--name`.
fn commands_with_option(name: &str) -> Vec<String> {
    fn walk(command: &clap::Command, prefix: &str, name: &str, found: &mut Vec<String>) {
        for sub in command.get_subcommands() {
            let path = if prefix.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{prefix} {}", sub.get_name())
            };
            if sub.has_subcommands() {
                walk(sub, &path, name, found);
            } else if sub
                .get_arguments()
                .any(|a| a.get_long() == Some(name) && !a.is_global_set() && !a.is_hide_set())
            {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&crate::cli::Cli::command(), "", name, &mut found);
    found
}

fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// For an unknown option that belongs to other commands: say whose it is.
pub fn misplaced_option(error: &clap::Error, typed: &[String]) -> Option<UsageError> {
    if error.kind() != ErrorKind::UnknownArgument || typed.is_empty() {
        return None;
    }
    let Some(ContextValue::String(argument)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = argument.strip_prefix("--")?.split('=').next()?;
    let owners = commands_with_option(long);
    if owners.is_empty() {
        return None;
    }
    let command = typed.join(" ");
    Some(UsageError {
        message: format!(
            "`--{long}` is an option of {}, not of `{command}`",
            quoted_list(&owners)
        ),
        hint: format!("see `s3creds {command} --help` for the options of `{command}`"),
    })
}

/// A clap error on one line: its first paragraph (the message and any list of arguments), without
/// clap's `error: ` prefix, tips and usage.
pub fn first_line(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    paragraph
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn finds_the_subcommand_behind_global_options() {
        assert_eq!(
            typed_subcommand(&words("s3creds --profile policy policy b")),
            ["policy"]
        );
        assert_eq!(
            typed_subcommand(&words("s3creds --region=eu-west-1 profile add p b")),
            ["profile", "add"]
        );
        assert_eq!(
            typed_subcommand(&words("s3creds cache list --duration 1h")),
            ["cache", "list"]
        );
        assert!(typed_subcommand(&words("s3creds")).is_empty());
    }

    #[test]
    fn names_the_commands_an_option_belongs_to() {
        assert_eq!(
            commands_with_option("duration"),
            ["create", "serve", "profile add", "exec"]
        );
        assert_eq!(commands_with_option("format"), ["create", "rotate"]);
        // Global options belong to every command: never "misplaced".
        assert!(commands_with_option("profile").is_empty());
        assert!(commands_with_option("no-such-option").is_empty());
    }
}
