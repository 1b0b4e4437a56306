//! What the endpoint answers to one request. [`judge`] decides from the request line and headers
//! alone, before any credential is touched, so every refusal is cheap and carries no credential
//! bytes; only [`Verdict::Credentials`] leads to the provider.

use super::token::Token;
use hyper::header::{HeaderMap, AUTHORIZATION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{Method, StatusCode};

/// The one path the endpoint serves (`AWS_CONTAINER_CREDENTIALS_FULL_URI` ends with it).
pub const CREDENTIALS_PATH: &str = "/credentials";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Authorized: answer with the credentials.
    Credentials,
    /// Refused with this status and a short reason (no credentials, no token).
    Refused(StatusCode, &'static str),
}

/// Decide a request. The order matters only for what a caller without the token can learn: the
/// path and method are public (they are in every SDK's documentation), the token is not.
pub fn judge(method: &Method, path: &str, headers: &HeaderMap, token: &Token) -> Verdict {
    if path != CREDENTIALS_PATH {
        return Verdict::Refused(StatusCode::NOT_FOUND, "not found");
    }
    if method != Method::GET {
        return Verdict::Refused(StatusCode::METHOD_NOT_ALLOWED, "only GET is allowed");
    }
    // A credentials request has no body; one announced is refused before it is read.
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    if has_body {
        return Verdict::Refused(StatusCode::BAD_REQUEST, "a request body is not allowed");
    }
    let mut presented = headers.get_all(AUTHORIZATION).iter();
    match (presented.next(), presented.next()) {
        (None, _) => Verdict::Refused(
            StatusCode::UNAUTHORIZED,
            "the Authorization header is missing",
        ),
        (Some(value), None) if token.matches(value.as_bytes()) => Verdict::Credentials,
        _ => Verdict::Refused(StatusCode::FORBIDDEN, "the Authorization token is wrong"),
    }
}

/// The body of a refusal: JSON like AWS's own errors, never anything of the credentials.
pub fn refusal_body(status: StatusCode, reason: &str) -> String {
    serde_json::json!({"Code": status.canonical_reason().unwrap_or("Error"), "Message": reason})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&hyper::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn every_request_class_gets_its_status() {
        let token = Token::generate().unwrap();
        let good = token.expose().to_string();
        let get = Method::GET;
        let status = |v: Verdict| match v {
            Verdict::Credentials => StatusCode::OK,
            Verdict::Refused(status, _) => status,
        };
        let cases: Vec<(Method, &str, HeaderMap, StatusCode)> = vec![
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, &good)]),
                StatusCode::OK,
            ),
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, &good), (&CONTENT_LENGTH, "0")]),
                StatusCode::OK,
            ),
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[]),
                StatusCode::UNAUTHORIZED,
            ),
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, "wrong")]),
                StatusCode::FORBIDDEN,
            ),
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, "wrong"), (&AUTHORIZATION, &good)]),
                StatusCode::FORBIDDEN,
            ),
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, &format!("Bearer {good}"))]),
                StatusCode::FORBIDDEN,
            ),
            (
                get.clone(),
                "/",
                headers(&[(&AUTHORIZATION, &good)]),
                StatusCode::NOT_FOUND,
            ),
            (
                get.clone(),
                "/credentials/",
                headers(&[(&AUTHORIZATION, &good)]),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, &good)]),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                get.clone(),
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, &good), (&CONTENT_LENGTH, "5")]),
                StatusCode::BAD_REQUEST,
            ),
            (
                get,
                CREDENTIALS_PATH,
                headers(&[(&AUTHORIZATION, &good), (&TRANSFER_ENCODING, "chunked")]),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (method, path, headers, expected) in cases {
            assert_eq!(
                status(judge(&method, path, &headers, &token)),
                expected,
                "{method} {path} {headers:?}"
            );
        }
    }

    #[test]
    fn refusals_are_json_without_credentials() {
        let body = refusal_body(StatusCode::FORBIDDEN, "the Authorization token is wrong");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["Code"], "Forbidden");
    }
}
