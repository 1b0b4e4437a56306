//! Reading `--policy` and `--statement` input: a JSON text, a file path, or `-` for standard input.
//!
//! Everything here is bounded before it can cost anything: at most [`MAX_INPUT_BYTES`] are read (so
//! `/dev/zero` or an endless FIFO is an error, not gigabytes of memory), and nesting deeper than
//! [`MAX_NESTING`] is refused by an iterative scan before any recursive parser sees the text (so
//! `{"a":{"a":...` cannot overflow the stack). The only leniency beyond strict JSON is the one the
//! seed documentation's own example needs: a trailing comma before `]` or `}`.

use crate::error::{Error, Result};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// The most bytes read from one input. AWS caps policies at 6,144 characters (managed policies; inline
/// and session policies at 2,048), so 64 KiB leaves ample room for white space and comments-free
/// formatting while keeping every later step cheap.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

/// The deepest nesting of objects and lists accepted. An IAM policy is at most 5 deep
/// (`{"Statement": [{"Condition": {"StringLike": {"s3:prefix": [...]}}}]}`); serde_json's own recursion
/// limit is 128, so this bound always fires first.
pub const MAX_NESTING: usize = 32;

const SOURCE_HINT: &str =
    "pass a JSON object (starting with '{'), a file path, or - for standard input";

/// Where an input comes from, decided by its text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource<'a> {
    Stdin,
    Json(&'a str),
    File(&'a Path),
}

impl<'a> InputSource<'a> {
    /// `-` is standard input, text starting with `{` is JSON, anything else is a file path. Text
    /// starting with `[` is taken as JSON too, so that a list is reported as "not an object" rather
    /// than as a missing file.
    pub fn of(source: &'a str) -> InputSource<'a> {
        if source == "-" {
            InputSource::Stdin
        } else if source.trim_start().starts_with(['{', '[']) {
            InputSource::Json(source)
        } else {
            InputSource::File(Path::new(source))
        }
    }
}

/// Standard input can be read once: refuse a command line where more than one input names `-`.
pub fn check_one_stdin<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let readers: Vec<&str> = sources
        .into_iter()
        .filter(|(_, source)| InputSource::of(source) == InputSource::Stdin)
        .map(|(option, _)| option)
        .collect();
    if readers.len() > 1 {
        return Err(Error::invalid_with_hint(
            format!(
                "standard input can be read only once, but {} all name -",
                readers.join(", ")
            ),
            "pass the other inputs as file paths or JSON",
        ));
    }
    Ok(())
}

/// Read and parse one input (`origin` names the option in messages, e.g. `--policy`).
pub fn read_json(source: &str, origin: &str) -> Result<Value> {
    let text = read_text(source, origin)?;
    parse_json(&text, origin)
}

/// The text of one input, at most [`MAX_INPUT_BYTES`].
pub fn read_text(source: &str, origin: &str) -> Result<String> {
    match InputSource::of(source) {
        InputSource::Stdin => read_bounded(std::io::stdin().lock(), &format!("{origin} -")),
        InputSource::Json(text) => {
            if text.len() > MAX_INPUT_BYTES {
                return Err(too_large(origin));
            }
            Ok(text.to_string())
        }
        InputSource::File(path) => {
            let label = format!("{origin} {source:?}");
            let file = std::fs::File::open(path).map_err(|e| {
                Error::invalid_with_hint(format!("{label}: cannot read the file: {e}"), SOURCE_HINT)
            })?;
            read_bounded(file, &label)
        }
    }
}

/// Read at most [`MAX_INPUT_BYTES`] (one more to tell "exactly the limit" from "more"), as UTF-8.
pub fn read_bounded(reader: impl Read, label: &str) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid(format!("{label}: cannot read: {e}")))?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(too_large(label));
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("{label}: the input is not UTF-8 text")))
}

fn too_large(label: &str) -> Error {
    Error::invalid_with_hint(
        format!("{label}: the input is larger than {} KiB", MAX_INPUT_BYTES / 1024),
        "AWS allows at most 2,048 characters for an inline or session policy; pass a policy document",
    )
}

/// Parse policy JSON: strict JSON, except that a trailing comma before `]` or `}` is accepted.
pub fn parse_json(text: &str, origin: &str) -> Result<Value> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(too_large(origin));
    }
    let invalid = |why: String| {
        Error::invalid_with_hint(
            format!("{origin}: not valid JSON: {why}"),
            format!("check quotes and brackets; {SOURCE_HINT}"),
        )
    };
    // Editors on Windows start UTF-8 files with a byte-order mark, which is no JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let cleaned = blank_trailing_commas(text).map_err(invalid)?;
    serde_json::from_str::<UniqueKeys>(&cleaned)
        .map(|parsed| parsed.0)
        .map_err(|e| invalid(e.to_string()))
}

/// A JSON value whose objects have no repeated key. serde_json would silently keep the last of
/// `{"Effect": "Deny", "Effect": "Allow"}`; a policy whose reading depends on such a rule is refused.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, value: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> std::result::Result<Value, E> {
        // JSON has no NaN or infinity, so this is always a number.
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> std::result::Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key {} appears twice in one object",
                    crate::core::policy_grammar::quoted(&key)
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// One pass over the text, outside strings: refuse nesting deeper than [`MAX_NESTING`], and replace
/// each comma that directly precedes a closing `]` or `}` (white space aside) by a space, so that the
/// strict parser's line and column numbers still match the user's text. A comma after `[`, `{`, `:` or
/// another comma is left alone for the strict parser to refuse (`[,]` is not a trailing comma).
fn blank_trailing_commas(text: &str) -> std::result::Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // Index of a comma that may turn out to be trailing, once the next significant byte is known.
    let mut pending_comma: Option<usize> = None;
    // The last significant byte outside strings (a closing quote counts as a value's end).
    let mut previous = 0u8;
    for (index, &byte) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if byte.is_ascii_whitespace() {
            continue;
        }
        if let Some(comma) = pending_comma.take() {
            if byte == b']' || byte == b'}' {
                out[comma] = b' ';
            }
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "nested deeper than {MAX_NESTING} levels (an IAM policy needs at most 5)"
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if !matches!(previous, b'[' | b'{' | b':' | b',' | 0) => {
                pending_comma = Some(index)
            }
            _ => {}
        }
        previous = byte;
    }
    // Only ASCII bytes were replaced by ASCII, so the text is still UTF-8.
    Ok(String::from_utf8(out).expect("ASCII-for-ASCII replacement keeps UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value> {
        parse_json(text, "--policy")
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_json() {
        let value = parse_json("\u{feff}{\"Effect\": \"Allow\"}", "--policy").unwrap();
        assert_eq!(value["Effect"], "Allow");
        // Only at the start: inside a document it is still refused.
        assert!(parse_json("{\"Effect\": \"Allow\"}\u{feff}", "--policy").is_err());
    }

    #[test]
    fn strict_json_and_trailing_commas_are_accepted() {
        assert_eq!(
            parse(r#"{"a": [1, 2]}"#).unwrap(),
            serde_json::json!({"a": [1, 2]})
        );
        assert_eq!(
            parse("{\"a\": [1, 2,\n ],\n}").unwrap(),
            serde_json::json!({"a": [1, 2]})
        );
        // A comma inside a string is text, not a trailing comma.
        assert_eq!(
            parse(r#"{"a": "x,}", "b": "\",]"}"#).unwrap(),
            serde_json::json!({"a": "x,}", "b": "\",]"})
        );
    }

    #[test]
    fn everything_else_json5_allowed_is_refused() {
        for bad in [
            r#"{"a": Infinity}"#,
            r#"{"a": NaN}"#,
            r#"{'a': 1}"#,
            r#"{"a": 'x'}"#,
            "{\"a\": 1 // comment\n}",
            r#"{"a": 1 /* comment */}"#,
            r#"{a: 1}"#,
            r#"{"a": 0x10}"#,
            r#"{"a": +1}"#,
            r#"{"a": .5}"#,
            r#"{"a": [,]}"#,
            r#"{,}"#,
            r#"{"a": 1,,}"#,
            r#"{"a": [1,,]}"#,
            r#"{"a": 1}}"#,
            "{nope",
            "",
        ] {
            let error = parse(bad).unwrap_err();
            assert!(
                error.to_string().starts_with("--policy: not valid JSON"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn repeated_keys_are_refused() {
        let error =
            parse(r#"{"Effect": "Deny", "Action": "s3:*", "Effect": "Allow"}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the key \"Effect\" appears twice"),
            "{error}"
        );
        assert!(parse(r#"{"a": {"k": 1}, "b": {"k": 1}}"#).is_ok());
        assert_eq!(
            parse(r#"{"n": [1, -2, 2.5, true, null, "s"]}"#).unwrap(),
            serde_json::json!({"n": [1, -2, 2.5, true, null, "s"]})
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = |levels: usize| "{\"a\":".repeat(levels) + "1" + &"}".repeat(levels);
        let error = parse(&deep(10_000)).unwrap_err();
        assert!(
            error.to_string().contains("nested deeper than 32"),
            "{error}"
        );
        // The scan itself is iterative: any depth is refused without overflowing the stack.
        assert!(blank_trailing_commas(&deep(1_000_000)).is_err());
        let lists = "[".repeat(MAX_NESTING + 1);
        assert!(parse(&lists)
            .unwrap_err()
            .to_string()
            .contains("nested deeper"));
        // Brackets inside strings do not count.
        let in_string = format!("{{\"a\": \"{}\"}}", "[".repeat(1000));
        assert!(parse(&in_string).is_ok());
        let at_limit = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
        assert!(parse(&at_limit).is_ok());
    }

    #[test]
    fn input_larger_than_the_limit_is_refused() {
        let error = read_bounded(std::io::repeat(b'x'), "--policy \"/dev/zero\"").unwrap_err();
        assert!(error.to_string().contains("larger than 64 KiB"), "{error}");
        let exactly = vec![b' '; MAX_INPUT_BYTES];
        assert_eq!(
            read_bounded(&exactly[..], "x").unwrap().len(),
            MAX_INPUT_BYTES
        );
        assert!(read_bounded(&[0xffu8, 0xfe][..], "x").is_err());
        let long_json = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_INPUT_BYTES));
        assert!(read_text(&long_json, "--statement").is_err());
    }

    #[test]
    fn sources_are_told_apart_and_stdin_is_read_once() {
        assert_eq!(InputSource::of("-"), InputSource::Stdin);
        assert_eq!(
            InputSource::of(" {\"a\":1}"),
            InputSource::Json(" {\"a\":1}")
        );
        assert_eq!(InputSource::of("[1]"), InputSource::Json("[1]"));
        assert_eq!(
            InputSource::of("st.json"),
            InputSource::File(Path::new("st.json"))
        );
        assert!(check_one_stdin([("--policy", "-"), ("--statement", "x.json")]).is_ok());
        let error = check_one_stdin([("--policy", "-"), ("--statement", "-")]).unwrap_err();
        assert!(
            error.to_string().contains("--policy, --statement"),
            "{error}"
        );
        assert!(check_one_stdin([("--statement", "-"), ("--statement", "-")]).is_err());
    }
}
