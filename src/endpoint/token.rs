//! The bearer token of one credentials endpoint: 32 random bytes from the OS, written as 64 hex
//! digits, and compared in constant time so that the time an answer takes tells nothing about how
//! much of a guess was right.

use crate::error::{Error, Result};
use crate::secret::Secret;
use subtle::ConstantTimeEq;

/// 256 bits: far beyond guessing, and at least the 128 the issue asks for.
const TOKEN_BYTES: usize = 32;

/// A fresh random token. Its Debug output is the `Secret`'s, never the value.
#[derive(Debug, Clone)]
pub struct Token(Secret);

impl Token {
    pub fn generate() -> Result<Token> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::getrandom(&mut bytes).map_err(|e| {
            Error::Internal(format!("no randomness from the OS for the token: {e}"))
        })?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Token(Secret::new(hex)))
    }

    /// A token handed over by the process that generated it (`exec`'s endpoint process): the same
    /// 64 hex digits, or an error.
    #[cfg(unix)]
    pub fn from_generated(value: String) -> Result<Token> {
        if value.len() == TOKEN_BYTES * 2 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Token(Secret::new(value)))
        } else {
            Err(Error::Internal(
                "the endpoint token handed over is not one s3creds generated".into(),
            ))
        }
    }

    /// The value to hand to the client (`AWS_CONTAINER_AUTHORIZATION_TOKEN`).
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether `presented` (the Authorization header's bytes) is this token. The comparison of equal
    /// lengths takes the same time whatever the bytes; the length itself (64) is public.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.expose().as_bytes().ct_eq(presented).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_digits_and_differ_each_time() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn only_the_exact_token_matches() {
        let token = Token::generate().unwrap();
        let value = token.expose().as_bytes().to_vec();
        assert!(token.matches(&value));
        let mut last_differs = value.clone();
        *last_differs.last_mut().unwrap() ^= 1;
        assert!(!token.matches(&last_differs));
        let mut first_differs = value.clone();
        first_differs[0] ^= 1;
        assert!(!token.matches(&first_differs));
        assert!(!token.matches(&value[..63]));
        assert!(!token.matches(&[value.clone(), b"0".to_vec()].concat()));
        assert!(!token.matches(b""));
        assert!(!token.matches(format!("Bearer {}", token.expose()).as_bytes()));
    }

    #[test]
    fn a_handed_over_token_is_taken_only_as_generated() {
        let token = Token::generate().unwrap();
        let taken = Token::from_generated(token.expose().to_string()).unwrap();
        assert!(taken.matches(token.expose().as_bytes()));
        for bad in ["", "abc", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65)] {
            assert!(Token::from_generated(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = Token::generate().unwrap();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
