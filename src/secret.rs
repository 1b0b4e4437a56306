//! A string that must never reach logs, errors or debug output.

use std::fmt;

/// Holds secret material (secret access keys, session tokens). `Debug` and `Display` print `(redacted)`;
/// the value is only reachable through [`Secret::expose`], which makes every use easy to audit.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert_eq!(
            format!("{secret:?} {secret}"),
            "Secret(redacted) (redacted)"
        );
        assert_eq!(secret.expose(), "wJalrXUtnFEMI/K7MDENG");
    }
}
