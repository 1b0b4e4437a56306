//! The little of D-Bus that the Secret Service needs, spoken on a blocking Unix socket: connect to the
//! session bus, authenticate (EXTERNAL, by uid), call a method, read its reply.
//!
//! Why not zbus: a cache hit is four method calls, and zbus brought an async executor, its threads
//! and about 25 crates for them (a fifth of a cold build, 2 MB of binary). This is the wire format of
//! the D-Bus specification ("Message Protocol": marshalling, message format, SASL), for the types
//! the Secret Service API uses, with every length checked against what was received and every
//! socket operation bounded by a timeout.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A D-Bus value, as far as s3creds sends or reads them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    U32(u32),
    /// Any other fixed-size number, kept only to be skipped.
    Number(u64),
    Str(String),
    Path(String),
    Signature(String),
    Variant(Box<Value>),
    /// The element signature, then the elements.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
}

impl Value {
    pub fn str(text: &str) -> Value {
        Value::Str(text.to_string())
    }

    pub fn path(path: &str) -> Value {
        Value::Path(path.to_string())
    }

    pub fn bytes(bytes: &[u8]) -> Value {
        Value::Array("y".into(), bytes.iter().map(|b| Value::Byte(*b)).collect())
    }

    /// `a{ss}` from pairs.
    pub fn string_map(pairs: &[(&str, &str)]) -> Value {
        Value::Array(
            "{ss}".into(),
            pairs
                .iter()
                .map(|(k, v)| Value::DictEntry(Box::new(Value::str(k)), Box::new(Value::str(v))))
                .collect(),
        )
    }

    /// The type signature of this value.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::U32(_) => "u".into(),
            Value::Number(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Variant(_) => "v".into(),
            Value::Array(element, _) => format!("a{element}"),
            Value::Struct(fields) => {
                format!(
                    "({})",
                    fields.iter().map(Value::signature).collect::<String>()
                )
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Variant(inner) => inner.as_bool(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(_, items) => Some(items),
            Value::Variant(inner) => inner.as_array(),
            _ => None,
        }
    }

    /// The bytes of an `ay`.
    pub fn as_bytes(&self) -> Option<Vec<u8>> {
        self.as_array()?
            .iter()
            .map(|v| match v {
                Value::Byte(b) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// The pairs of an `a{ss}` (also inside a variant).
    pub fn as_string_map(&self) -> Option<Vec<(String, String)>> {
        self.as_array()?
            .iter()
            .map(|entry| match entry {
                Value::DictEntry(k, v) => Some((k.as_str()?.to_string(), v.as_str()?.to_string())),
                _ => None,
            })
            .collect()
    }
}

fn alignment(signature_char: u8) -> usize {
    match signature_char {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8, // x t d ( {
    }
}

/// Marshals values (little-endian) into a buffer whose offset 0 is 8-aligned in the message.
#[derive(Default)]
struct Writer {
    buffer: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buffer.len().is_multiple_of(align) {
            self.buffer.push(0);
        }
    }

    fn u32(&mut self, n: u32) {
        self.pad(4);
        self.buffer.extend_from_slice(&n.to_le_bytes());
    }

    fn string(&mut self, text: &str) {
        self.u32(text.len() as u32);
        self.buffer.extend_from_slice(text.as_bytes());
        self.buffer.push(0);
    }

    fn signature(&mut self, text: &str) {
        self.buffer.push(text.len() as u8);
        self.buffer.extend_from_slice(text.as_bytes());
        self.buffer.push(0);
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Byte(b) => self.buffer.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::U32(n) => self.u32(*n),
            Value::Number(n) => {
                self.pad(8);
                self.buffer.extend_from_slice(&n.to_le_bytes());
            }
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Signature(s) => self.signature(s),
            Value::Variant(inner) => {
                self.signature(&inner.signature());
                self.value(inner);
            }
            Value::Array(element, items) => {
                self.u32(0);
                let length_at = self.buffer.len() - 4;
                self.pad(alignment(element.as_bytes()[0]));
                let start = self.buffer.len();
                for item in items {
                    self.value(item);
                }
                let length = (self.buffer.len() - start) as u32;
                self.buffer[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for field in fields {
                    self.value(field);
                }
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.value(k);
                self.value(v);
            }
        }
    }
}

/// Unmarshals values by signature from a message (offsets are message offsets, so alignment holds).
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    big_endian: bool,
    depth: usize,
}

/// The specification's limits: signatures nest at most 32 arrays and 32 structs deep.
const MAX_DEPTH: usize = 64;

impl Reader<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!(
            "malformed D-Bus message: {what} at byte {}",
            self.at
        ))
    }

    fn pad(&mut self, align: usize) -> Result<(), String> {
        let aligned = self.at.div_ceil(align) * align;
        if aligned > self.data.len() {
            return self.fail("padding past the end");
        }
        self.at = aligned;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.data.len());
        match end {
            Some(end) => {
                let bytes = &self.data[self.at..end];
                self.at = end;
                Ok(bytes)
            }
            None => self.fail("a value past the end"),
        }
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.pad(4)?;
        let bytes: [u8; 4] = self.take(4)?.try_into().expect("four bytes");
        Ok(if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    }

    fn text(&mut self, length: usize) -> Result<String, String> {
        let bytes = self.take(length)?.to_vec();
        if self.take(1)? != [0] {
            return self.fail("a string without its terminating NUL");
        }
        String::from_utf8(bytes).or_else(|_| self.fail("a string that is not UTF-8"))
    }

    /// One complete type from the front of `signature`; returns the value and the rest.
    fn value<'s>(&mut self, signature: &'s str) -> Result<(Value, &'s str), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("nesting too deep");
        }
        let result = self.value_inner(signature);
        self.depth -= 1;
        result
    }

    fn value_inner<'s>(&mut self, signature: &'s str) -> Result<(Value, &'s str), String> {
        let Some(&code) = signature.as_bytes().first() else {
            return self.fail("an empty signature");
        };
        let rest = &signature[1..];
        let value = match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'u' | b'i' | b'h' => Value::U32(self.u32()?),
            b'n' | b'q' => {
                self.pad(2)?;
                let b = self.take(2)?;
                Value::Number(u64::from(u16::from_le_bytes([b[0], b[1]])))
            }
            b'x' | b't' | b'd' => {
                self.pad(8)?;
                self.take(8)?;
                Value::Number(0)
            }
            b's' | b'o' => {
                let length = self.u32()? as usize;
                let text = self.text(length)?;
                if code == b's' {
                    Value::Str(text)
                } else {
                    Value::Path(text)
                }
            }
            b'g' => {
                let length = usize::from(self.take(1)?[0]);
                Value::Signature(self.text(length)?)
            }
            b'v' => {
                let length = usize::from(self.take(1)?[0]);
                let inner_signature = self.text(length)?;
                let (inner, left) = self.value(&inner_signature)?;
                if !left.is_empty() {
                    return self.fail("a variant holding more than one value");
                }
                Value::Variant(Box::new(inner))
            }
            b'a' => {
                let length = self.u32()? as usize;
                let element = single_type(rest).ok_or("malformed D-Bus signature")?;
                self.pad(alignment(element.as_bytes()[0]))?;
                let end = self
                    .at
                    .checked_add(length)
                    .filter(|end| *end <= self.data.len())
                    .ok_or("malformed D-Bus message: an array past the end")?;
                let mut items = Vec::new();
                while self.at < end {
                    let (item, _) = self.value(element)?;
                    items.push(item);
                }
                if self.at != end {
                    return self.fail("an array whose length is not its elements'");
                }
                return Ok((
                    Value::Array(element.to_string(), items),
                    &rest[element.len()..],
                ));
            }
            b'(' | b'{' => {
                self.pad(8)?;
                let close = if code == b'(' { ')' } else { '}' };
                let mut inner = rest;
                let mut fields = Vec::new();
                while !inner.starts_with(close) {
                    if inner.is_empty() {
                        return self.fail("an unclosed struct signature");
                    }
                    let (field, left) = self.value(inner)?;
                    fields.push(field);
                    inner = left;
                }
                let after = &inner[1..];
                let value = if code == b'{' {
                    let mut fields = fields.into_iter();
                    match (fields.next(), fields.next(), fields.next()) {
                        (Some(k), Some(v), None) => Value::DictEntry(Box::new(k), Box::new(v)),
                        _ => return self.fail("a dict entry without exactly two fields"),
                    }
                } else {
                    Value::Struct(fields)
                };
                return Ok((value, after));
            }
            _ => return self.fail("an unknown type code"),
        };
        Ok((value, rest))
    }
}

/// The first complete type of a signature (`a{sv}` of `a{sv}b`).
fn single_type(signature: &str) -> Option<&str> {
    let bytes = signature.as_bytes();
    let mut depth = 0usize;
    for (i, c) in bytes.iter().enumerate() {
        match c {
            b'a' => continue,
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        if depth == 0 {
            return Some(&signature[..=i]);
        }
    }
    None
}

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SIGNATURE: u8 = 8;
/// Replies larger than this are refused (the specification's maximum message size is 128 MiB; the
/// Secret Service answers s3creds with a few kilobytes).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// How an error of a batch that ran out of time begins ("did not answer within 500 ms"), so that
/// callers can name the service that was silent.
pub const TIMED_OUT: &str = "did not answer within";

/// One method call to send.
pub struct MethodCall<'a> {
    pub destination: &'a str,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub arguments: &'a [Value],
}

/// The bus's own Hello, the first message of every connection.
const HELLO: MethodCall<'static> = MethodCall {
    destination: "org.freedesktop.DBus",
    path: "/org/freedesktop/DBus",
    interface: "org.freedesktop.DBus",
    member: "Hello",
    arguments: &[],
};

/// A method's reply: its body values, or the error reply's name and text.
pub type Reply = Result<Vec<Value>, String>;

/// One connection to the session bus.
///
/// Calls are pipelined: a batch of calls is written at once and the replies are read afterwards, so
/// a batch costs one round trip through the bus however many calls it holds. Opening the connection
/// pipelines the authentication, BEGIN, Hello and the caller's first calls in a single write (as
/// sd-bus does; dbus-daemon and dbus-broker keep the bytes after BEGIN for the message stream).
pub struct Connection {
    stream: UnixStream,
    serial: u32,
    /// How long one batch (its writes and its replies) may take.
    timeout: Duration,
    /// Bytes received and not yet taken: replies can arrive together, and after the SASL line.
    received: Vec<u8>,
    /// Replies that arrived while another was awaited: (serial, reply).
    early: Vec<(u32, Received)>,
}

impl Connection {
    /// Connect to the session bus (`DBUS_SESSION_BUS_ADDRESS`), authenticate, say Hello and send
    /// `first_calls`, all in one write; return the connection and the replies of `first_calls`. The
    /// whole exchange takes at most `timeout`, and so does every later batch.
    pub fn session(
        timeout: Duration,
        first_calls: &[MethodCall<'_>],
    ) -> Result<(Connection, Vec<Reply>), String> {
        let address = crate::env::var(crate::env::DBUS_SESSION)
            .ok_or("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")?;
        let mut last_error = String::from("no usable D-Bus address");
        for candidate in address.split(';').filter(|a| !a.is_empty()) {
            match connect_unix(candidate) {
                Ok(stream) => return Connection::open_on(stream, timeout, first_calls),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn open_on(
        stream: UnixStream,
        timeout: Duration,
        first_calls: &[MethodCall<'_>],
    ) -> Result<(Connection, Vec<Reply>), String> {
        let mut connection = Connection {
            stream,
            serial: 0,
            timeout,
            received: Vec::new(),
            early: Vec::new(),
        };
        let replies = connection.open(first_calls)?;
        Ok((connection, replies))
    }

    fn open(&mut self, first_calls: &[MethodCall<'_>]) -> Result<Vec<Reply>, String> {
        let deadline = Instant::now() + self.timeout;
        let uid = rustix::process::getuid().as_raw();
        let hex_uid: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut bytes = format!("\0AUTH EXTERNAL {hex_uid}\r\nBEGIN\r\n").into_bytes();
        let hello = self.encode_into(&[HELLO], &mut bytes);
        let serials = self.encode_into(first_calls, &mut bytes);
        self.write(&bytes, deadline)?;
        let line = self.read_line(deadline)?;
        if !line.starts_with("OK ") {
            return Err(format!(
                "the D-Bus session bus refused authentication ({line})"
            ));
        }
        for reply in self.replies(hello, deadline)? {
            reply?;
        }
        self.replies(serials, deadline)
    }

    /// Call a method and return the reply's body values. An error reply is an `Err` with its name.
    pub fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        arguments: &[Value],
    ) -> Result<Vec<Value>, String> {
        let mut replies = self.call_all(&[MethodCall {
            destination,
            path,
            interface,
            member,
            arguments,
        }])?;
        replies
            .pop()
            .unwrap_or_else(|| Err("no D-Bus reply".into()))
    }

    /// Send `calls` in one write and read their replies: one round trip for the batch. The outer
    /// `Err` is a broken connection; each inner `Reply` is that call's own answer.
    pub fn call_all(&mut self, calls: &[MethodCall<'_>]) -> Result<Vec<Reply>, String> {
        let deadline = Instant::now() + self.timeout;
        let mut bytes = Vec::new();
        let serials = self.encode_into(calls, &mut bytes);
        self.write(&bytes, deadline)?;
        self.replies(serials, deadline)
    }

    /// Append the messages of `calls` to `bytes`; their serials, in order.
    fn encode_into(&mut self, calls: &[MethodCall<'_>], bytes: &mut Vec<u8>) -> Vec<u32> {
        calls
            .iter()
            .map(|call| {
                let (serial, message) = self.encode(call);
                bytes.extend_from_slice(&message);
                serial
            })
            .collect()
    }

    /// The replies to `serials`, in order, read within `deadline`.
    fn replies(&mut self, serials: Vec<u32>, deadline: Instant) -> Result<Vec<Reply>, String> {
        serials
            .into_iter()
            .map(|serial| self.reply_or_failure(serial, deadline))
            .collect()
    }

    /// The message of one call, and its serial.
    fn encode(&mut self, call: &MethodCall<'_>) -> (u32, Vec<u8>) {
        self.serial = self.serial.wrapping_add(1).max(1);
        let fields = vec![
            header_field(FIELD_PATH, Value::path(call.path)),
            header_field(FIELD_INTERFACE, Value::str(call.interface)),
            header_field(FIELD_MEMBER, Value::str(call.member)),
            header_field(FIELD_DESTINATION, Value::str(call.destination)),
        ];
        (
            self.serial,
            message(METHOD_CALL, self.serial, fields, call.arguments),
        )
    }

    /// The reply to `serial`: Ok(Ok(body)), Ok(Err(error reply)), or Err for a broken connection.
    fn reply_or_failure(&mut self, serial: u32, deadline: Instant) -> Result<Reply, String> {
        let reply = match self.early.iter().position(|(s, _)| *s == serial) {
            Some(index) => self.early.swap_remove(index).1,
            None => loop {
                let message = self.read_message(deadline)?;
                match message.reply_serial {
                    Some(s) if s == serial => break message,
                    // A reply to a call sent in the same batch, read before the one awaited.
                    Some(s) if s > serial && s <= self.serial => self.early.push((s, message)),
                    // A signal (NameAcquired...) or anything else: not ours.
                    _ => {}
                }
            },
        };
        Ok(match reply.kind {
            METHOD_RETURN => Ok(reply.body),
            ERROR => Err(match reply.body.first().and_then(Value::as_str) {
                Some(text) => format!("{}: {text}", reply.error_name.as_deref().unwrap_or("error")),
                None => reply.error_name.unwrap_or_else(|| "a D-Bus error".into()),
            }),
            _ => Err("an unexpected D-Bus message kind in reply".into()),
        })
    }

    fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), String> {
        let left = self.remaining(deadline)?;
        self.stream
            .set_write_timeout(Some(left))
            .map_err(|e| format!("D-Bus socket: {e}"))?;
        self.stream.write_all(bytes).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => self.timed_out(),
            _ => format!("D-Bus: {e}"),
        })
    }

    /// The time left before `deadline`, or the timeout error once it has passed.
    fn remaining(&self, deadline: Instant) -> Result<Duration, String> {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| self.timed_out())
    }

    /// The error of a batch that ran out of time; see [`TIMED_OUT`].
    fn timed_out(&self) -> String {
        format!("{TIMED_OUT} {} ms", self.timeout.as_millis())
    }

    /// Read what the bus has sent (at least one byte), within the deadline.
    fn fill(&mut self, deadline: Instant) -> Result<(), String> {
        let left = self.remaining(deadline)?;
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|e| format!("D-Bus socket: {e}"))?;
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => self.timed_out(),
            _ => format!("D-Bus: {e}"),
        })?;
        if n == 0 {
            return Err("D-Bus: the bus closed the connection".into());
        }
        self.received.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The first `n` received bytes, taken.
    fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, String> {
        while self.received.len() < n {
            self.fill(deadline)?;
        }
        Ok(self.received.drain(..n).collect())
    }

    /// One SASL line.
    fn read_line(&mut self, deadline: Instant) -> Result<String, String> {
        loop {
            if let Some(end) = self.received.windows(2).position(|w| w == b"\r\n") {
                let line = self.take(end + 2, deadline)?;
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.received.len() > 512 {
                return Err("the D-Bus session bus sent an overlong authentication line".into());
            }
            self.fill(deadline)?;
        }
    }

    fn read_message(&mut self, deadline: Instant) -> Result<Received, String> {
        let fixed: [u8; 16] = self
            .take(16, deadline)?
            .try_into()
            .map_err(|_| "D-Bus: a short header")?;
        let big_endian = match fixed[0] {
            b'l' => false,
            b'B' => true,
            _ => return Err("malformed D-Bus message: unknown byte order".into()),
        };
        let number = |at: usize| {
            let bytes: [u8; 4] = fixed[at..at + 4].try_into().expect("four bytes");
            if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            }
        };
        let body_length = number(4) as usize;
        let fields_length = number(12) as usize;
        let header_length = (16 + fields_length).div_ceil(8) * 8;
        let total = header_length
            .checked_add(body_length)
            .filter(|total| *total <= MAX_MESSAGE)
            .ok_or("a D-Bus message too large")?;
        let mut data = Vec::with_capacity(total);
        data.extend_from_slice(&fixed);
        data.extend_from_slice(&self.take(total - 16, deadline)?);
        let mut reader = Reader {
            data: &data[..16 + fields_length],
            at: 12,
            big_endian,
            depth: 0,
        };
        let (fields, _) = reader.value("a(yv)")?;
        let mut received = Received {
            kind: fixed[1],
            reply_serial: None,
            error_name: None,
            body: Vec::new(),
        };
        let mut signature = String::new();
        for field in fields.as_array().unwrap_or_default() {
            let Value::Struct(parts) = field else {
                continue;
            };
            let (Some(Value::Byte(code)), Some(Value::Variant(value))) =
                (parts.first(), parts.get(1))
            else {
                continue;
            };
            match (*code, value.as_ref()) {
                (FIELD_REPLY_SERIAL, Value::U32(n)) => received.reply_serial = Some(*n),
                (FIELD_ERROR_NAME, Value::Str(name)) => received.error_name = Some(name.clone()),
                (FIELD_SIGNATURE, Value::Signature(s)) => signature = s.clone(),
                _ => {}
            }
        }
        let mut reader = Reader {
            data: &data,
            at: header_length,
            big_endian,
            depth: 0,
        };
        let mut rest = signature.as_str();
        while !rest.is_empty() {
            let (value, left) = reader.value(rest)?;
            received.body.push(value);
            rest = left;
        }
        Ok(received)
    }
}

struct Received {
    kind: u8,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    body: Vec<Value>,
}

/// One little-endian message of `kind`: the fixed header, `fields` plus the body's signature (when it
/// has one), padding to 8, then `body` marshalled.
fn message(kind: u8, serial: u32, mut fields: Vec<Value>, body: &[Value]) -> Vec<u8> {
    let mut marshalled = Writer::default();
    for value in body {
        marshalled.value(value);
    }
    let signature: String = body.iter().map(Value::signature).collect();
    if !signature.is_empty() {
        fields.push(header_field(FIELD_SIGNATURE, Value::Signature(signature)));
    }
    let mut message = Writer::default();
    message.buffer.extend_from_slice(&[b'l', kind, 0, 1]);
    message.u32(marshalled.buffer.len() as u32);
    message.u32(serial);
    message.value(&Value::Array("(yv)".into(), fields));
    message.pad(8);
    message.buffer.extend_from_slice(&marshalled.buffer);
    message.buffer
}

fn header_field(code: u8, value: Value) -> Value {
    Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(value))])
}

/// `unix:path=...` or `unix:abstract=...` (other transports are not used for a session bus).
fn connect_unix(address: &str) -> Result<UnixStream, String> {
    let options = address
        .strip_prefix("unix:")
        .ok_or_else(|| format!("unsupported D-Bus address {address:?}"))?;
    for option in options.split(',') {
        if let Some(path) = option.strip_prefix("path=") {
            return UnixStream::connect(unescape(path))
                .map_err(|e| format!("cannot connect to the D-Bus session bus: {e}"));
        }
        if let Some(name) = option.strip_prefix("abstract=") {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(unescape(name))
                .map_err(|e| format!("D-Bus address: {e}"))?;
            return UnixStream::connect_addr(&address)
                .map_err(|e| format!("cannot connect to the D-Bus session bus: {e}"));
        }
    }
    Err(format!("unsupported D-Bus address {address:?}"))
}

/// D-Bus addresses escape bytes as `%XX`.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value) {
        let mut writer = Writer::default();
        writer.value(&value);
        let signature = value.signature();
        let mut reader = Reader {
            data: &writer.buffer,
            at: 0,
            big_endian: false,
            depth: 0,
        };
        let (read, rest) = reader.value(&signature).unwrap();
        assert_eq!(rest, "");
        assert_eq!(read, value, "{signature}");
        assert_eq!(reader.at, writer.buffer.len());
    }

    /// A message from the bus: a reply to `reply_serial` (an error when `error` is given), or a
    /// signal when it is None.
    fn from_bus(
        serial: u32,
        reply_serial: Option<u32>,
        error: Option<&str>,
        body: &[Value],
    ) -> Vec<u8> {
        let mut fields = Vec::new();
        if let Some(reply_serial) = reply_serial {
            fields.push(header_field(FIELD_REPLY_SERIAL, Value::U32(reply_serial)));
        }
        if let Some(error) = error {
            fields.push(header_field(FIELD_ERROR_NAME, Value::str(error)));
        }
        let kind = match (reply_serial, error) {
            (None, _) => 4, // SIGNAL
            (Some(_), None) => METHOD_RETURN,
            (Some(_), Some(_)) => ERROR,
        };
        message(kind, serial, fields, body)
    }

    /// The opening exchange is one write, and replies are matched by serial whatever their order: a
    /// signal in between, a later call's reply first, an error reply, all in one read.
    #[test]
    fn pipelined_calls_get_their_own_replies_in_any_order() {
        let (client, mut bus) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut first = vec![0u8; 4096];
            let n = bus.read(&mut first).unwrap();
            let text = String::from_utf8_lossy(&first[..n]).into_owned();
            // Hello (serial 1) and both calls (2, 3) came with the authentication.
            let mut answer = b"OK 0123456789abcdef0123456789abcdef\r\n".to_vec();
            answer.extend(from_bus(1, None, None, &[Value::str("NameAcquired")]));
            answer.extend(from_bus(
                2,
                Some(3),
                Some("org.example.Failed"),
                &[Value::str("no")],
            ));
            answer.extend(from_bus(3, Some(1), None, &[Value::str(":1.7")]));
            answer.extend(from_bus(4, Some(2), None, &[Value::str("two")]));
            bus.write_all(&answer).unwrap();
            // A later batch: replies reversed.
            let mut more = vec![0u8; 4096];
            let _ = bus.read(&mut more).unwrap();
            let mut answer = from_bus(5, Some(5), None, &[Value::str("five")]);
            answer.extend(from_bus(6, Some(4), None, &[Value::str("four")]));
            bus.write_all(&answer).unwrap();
            (text, n)
        });
        let call = |member| MethodCall {
            destination: "org.example",
            path: "/",
            interface: "org.example",
            member,
            arguments: &[],
        };
        let (mut connection, replies) = Connection::open_on(
            client,
            Duration::from_secs(5),
            &[call("Two"), call("Three")],
        )
        .unwrap();
        assert_eq!(replies[0], Ok(vec![Value::str("two")]));
        assert_eq!(replies[1], Err("org.example.Failed: no".to_string()));
        let replies = connection.call_all(&[call("Four"), call("Five")]).unwrap();
        assert_eq!(
            replies,
            [Ok(vec![Value::str("four")]), Ok(vec![Value::str("five")])]
        );
        let (text, n) = server.join().unwrap();
        assert!(text.starts_with("\0AUTH EXTERNAL "), "{text}");
        assert!(text.contains("\r\nBEGIN\r\nl"), "{text}");
        assert!(
            n > 3 * 100,
            "Hello and both calls in the first write: {n} bytes"
        );
    }

    /// A bus that never answers costs one deadline, not one per read.
    #[test]
    fn a_silent_bus_is_a_timeout_error() {
        let (client, _bus) = UnixStream::pair().unwrap();
        let started = std::time::Instant::now();
        let error = Connection::open_on(client, Duration::from_millis(200), &[])
            .err()
            .unwrap();
        assert_eq!(error, format!("{TIMED_OUT} 200 ms"));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn the_secret_service_types_round_trip() {
        round_trip(Value::string_map(&[
            ("service", "s3creds"),
            ("username", "k1"),
        ]));
        round_trip(Value::Array("{ss}".into(), vec![]));
        round_trip(Value::Struct(vec![
            Value::path("/org/freedesktop/secrets/session/1"),
            Value::bytes(b""),
            Value::bytes(b"{\"secret\":1}"),
            Value::str("text/plain"),
        ]));
        round_trip(Value::Array(
            "{sv}".into(),
            vec![Value::DictEntry(
                Box::new(Value::str("org.freedesktop.Secret.Item.Attributes")),
                Box::new(Value::Variant(Box::new(Value::string_map(&[("a", "b")])))),
            )],
        ));
        round_trip(Value::Variant(Box::new(Value::Bool(true))));
        round_trip(Value::Array(
            "o".into(),
            vec![Value::path("/a"), Value::path("/b/c")],
        ));
    }

    #[test]
    fn marshalling_matches_the_specification() {
        // `s` "ab": length 2 (LE), bytes, NUL. Then `u` 7 padded to 4.
        let mut writer = Writer::default();
        writer.value(&Value::str("ab"));
        writer.value(&Value::U32(7));
        assert_eq!(writer.buffer, [2, 0, 0, 0, b'a', b'b', 0, 0, 7, 0, 0, 0]);
        // An array of structs pads to 8 after its length, and the length excludes that padding.
        let mut writer = Writer::default();
        writer.value(&Value::Array(
            "(y)".into(),
            vec![Value::Struct(vec![Value::Byte(9)])],
        ));
        assert_eq!(writer.buffer, [1, 0, 0, 0, 0, 0, 0, 0, 9]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: [(&[u8], &str); 6] = [
            (&[255, 255, 255, 255, b'a'], "s"),
            (&[3, 0, 0, 0, b'a', b'b', b'c', b'x'], "s"),
            (&[200, 0, 0, 0, 1], "ay"),
            (&[1, b'z', 0], "v"),
            (&[0, 0, 0, 0], "(yy"),
            (&[2, 0, 0, 0, 0xff, 0xfe, 0], "s"),
        ];
        for (data, signature) in cases {
            let mut reader = Reader {
                data,
                at: 0,
                big_endian: false,
                depth: 0,
            };
            assert!(reader.value(signature).is_err(), "{data:?} as {signature}");
        }
        // A variant nested deeper than the specification allows.
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend_from_slice(&[1, b'v', 0]);
        }
        let mut reader = Reader {
            data: &deep,
            at: 0,
            big_endian: false,
            depth: 0,
        };
        assert!(reader.value("v").is_err());
    }

    #[test]
    fn addresses_are_unescaped_and_signatures_split() {
        assert_eq!(unescape("/tmp/dbus%2dx"), "/tmp/dbus-x");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(single_type("a{sv}b"), Some("a{sv}"));
        assert_eq!(single_type("(oayays)b"), Some("(oayays)"));
        assert_eq!(single_type("aoo"), Some("ao"));
        assert_eq!(single_type("(o"), None);
    }
}
