//! The plugin interface of s3creds: a small, versioned C ABI, a safe trait for plugin authors, and the
//! [`export_plugin!`] macro that joins the two.
//!
//! # Writing a plugin
//! ```ignore
//! use s3creds_plugin_api::{export_plugin, FormatInfo, Plugin, PresetInfo, PresetRequest};
//! use s3creds_plugin_api::serde_json::{json, Value};
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn name(&self) -> String { "hello".into() }
//!     fn version(&self) -> String { env!("CARGO_PKG_VERSION").into() }
//!     fn presets(&self) -> Vec<PresetInfo> { vec![PresetInfo::new("hello", "say hello")] }
//!     fn preset(&self, _name: &str, _request: &PresetRequest) -> Result<Vec<Value>, String> {
//!         Ok(vec![json!({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"})])
//!     }
//! }
//!
//! export_plugin!(Hello);
//! ```
//! The crate must be built as a `cdylib` with `panic = "unwind"` (the default).
//!
//! # The ABI (generation 1)
//! * The library exports one symbol per ABI generation: [`ENTRY_SYMBOL_V1`] (`s3creds_plugin_v1`), an
//!   `extern "C" fn() -> *const PluginTableV1`. A future incompatible generation exports
//!   `s3creds_plugin_v2` instead, so an old host never misreads a new table (the stabby idea).
//! * [`PluginTableV1`] is `#[repr(C)]`. Its first two fields, `abi_version` and `size`, are the
//!   [`TableHeader`] and never change, so any host can read them from any table and say exactly what
//!   differs (the zenoh idea). New entry points are only ever appended (the abi_stable idea); `size` lets
//!   a host see whether they are there.
//! * Data crosses the boundary as UTF-8 JSON (pointer + length), never as Rust types whose layout may
//!   differ between compilers.
//! * Results travel through a host-owned [`WriteFn`] callback: the plugin hands the host a borrowed byte
//!   slice and the host copies it, so no allocation is ever freed on the other side of the boundary.
//! * Every entry point runs inside `catch_unwind`: since Rust 1.81 a panic escaping an `extern "C"`
//!   function aborts the whole process, so a panic becomes [`status::PANIC`] plus its message instead.
//! * The host never unloads a library: function pointers and `'static` data handed out stay valid.

use serde::{Deserialize, Serialize};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Plugin authors get the exact `serde_json` this crate was built with.
pub use serde_json;

/// The ABI generation this crate implements.
pub const ABI_VERSION: u32 = 1;

/// The exported entry symbol of ABI generation 1 (without the trailing NUL).
pub const ENTRY_SYMBOL_V1: &str = "s3creds_plugin_v1";

/// What an entry point returns. Anything but [`status::OK`] comes with a message written to the callback.
pub mod status {
    /// Success: the callback received the result.
    pub const OK: i32 = 0;
    /// The plugin refused: the callback received its error message.
    pub const ERROR: i32 = 1;
    /// The plugin panicked: the callback received the panic message.
    pub const PANIC: i32 = 2;
    /// The host passed something the glue could not read (not UTF-8, not the expected JSON).
    pub const BAD_INPUT: i32 = 3;
}

/// The host-owned output callback: copy `len` bytes at `data` into the buffer behind `ctx`. The bytes
/// are only borrowed for the duration of the call. It may be called several times; calls append.
pub type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize);

/// `describe(ctx, write)`: writes the [`Description`] as JSON.
pub type DescribeFn = unsafe extern "C" fn(ctx: *mut c_void, write: WriteFn) -> i32;

/// `call(name, name_len, input, input_len, ctx, write)`: run the preset or format `name` on the JSON
/// `input`; writes the result (JSON statements for a preset, text for a format) or an error message.
pub type CallFn = unsafe extern "C" fn(
    name: *const u8,
    name_len: usize,
    input: *const u8,
    input_len: usize,
    ctx: *mut c_void,
    write: WriteFn,
) -> i32;

/// The exported entry function of generation 1.
pub type EntryFnV1 = unsafe extern "C" fn() -> *const PluginTableV1;

/// The fields every table of every generation starts with. Never changes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableHeader {
    /// The ABI generation the plugin was built for.
    pub abi_version: u32,
    /// `size_of` the plugin's table, so fields appended later can be detected.
    pub size: u32,
}

/// The function table of ABI generation 1. Only ever extended at the end.
#[repr(C)]
pub struct PluginTableV1 {
    pub header: TableHeader,
    /// Name, version, presets and formats of the plugin as JSON ([`Description`]).
    pub describe: DescribeFn,
    /// Run a preset: input [`PresetRequest`] JSON, output a JSON array of IAM statements.
    pub preset: CallFn,
    /// Run a format: input the credentials JSON, output the text to print.
    pub format: CallFn,
}

impl std::fmt::Debug for PluginTableV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginTableV1")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// `size_of::<PluginTableV1>()` as the `u32` the header carries.
pub const TABLE_V1_SIZE: u32 = std::mem::size_of::<PluginTableV1>() as u32;

/// What a plugin provides, as `describe` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub presets: Vec<PresetInfo>,
    #[serde(default)]
    pub formats: Vec<FormatInfo>,
}

/// A preset: a named set of statements added to the policy with `--preset NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresetInfo {
    pub name: String,
    pub description: String,
}

impl PresetInfo {
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        PresetInfo {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// An output format for issued credentials, chosen with `--format NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatInfo {
    pub name: String,
    pub description: String,
}

impl FormatInfo {
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        FormatInfo {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// What a preset is asked for: the validated request of the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresetRequest {
    /// The bucket names.
    pub buckets: Vec<String>,
    /// `read-write`, `read-only` or `write-only`.
    pub access: String,
    /// Key prefixes, each ending in `*` (`foo/` was given as `--prefix foo/`). Empty: whole buckets.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// The ARN partition: `aws`, `aws-cn` or `aws-us-gov`.
    #[serde(default = "default_partition")]
    pub partition: String,
}

fn default_partition() -> String {
    "aws".to_string()
}

/// The safe side of a plugin. Implement what you provide; the defaults provide nothing.
///
/// Returning `Err(message)` makes s3creds fail with that message. Never put credentials in it: the
/// host shows it on stderr (it does blank out the secrets it passed, as a last resort).
pub trait Plugin: Send + Sync + 'static {
    /// A short lowercase name: letters, digits and `-`.
    fn name(&self) -> String;
    fn version(&self) -> String;
    fn presets(&self) -> Vec<PresetInfo> {
        Vec::new()
    }
    fn formats(&self) -> Vec<FormatInfo> {
        Vec::new()
    }
    /// The IAM statements for preset `name`; s3creds validates them and adds them to the policy.
    fn preset(
        &self,
        name: &str,
        _request: &PresetRequest,
    ) -> Result<Vec<serde_json::Value>, String> {
        Err(format!("this plugin has no preset {name:?}"))
    }
    /// The credentials (the JSON object `--format json` prints) rendered in format `name`.
    fn format(&self, name: &str, _credentials: &serde_json::Value) -> Result<String, String> {
        Err(format!("this plugin has no format {name:?}"))
    }
}

/// The glue the macro instantiates. Not for direct use.
#[doc(hidden)]
pub mod glue {
    use super::*;

    /// Gives the glue the one instance of the plugin.
    pub trait Instance {
        fn get() -> &'static dyn Plugin;
    }

    pub const fn table_v1<I: Instance>() -> PluginTableV1 {
        PluginTableV1 {
            header: TableHeader {
                abi_version: ABI_VERSION,
                size: TABLE_V1_SIZE,
            },
            describe: describe::<I>,
            preset: preset::<I>,
            format: format::<I>,
        }
    }

    struct Output {
        ctx: *mut c_void,
        write: WriteFn,
    }

    impl Output {
        fn send(&self, text: &str) {
            // SAFETY: `write` and `ctx` come from the host, which promises (see `WriteFn`) that the
            // callback accepts any borrowed byte range for the duration of the call; the slice we pass is
            // alive and unaliased-for-writes until the call returns.
            unsafe { (self.write)(self.ctx, text.as_ptr(), text.len()) }
        }
    }

    /// The host passes `(ptr, len)` pairs; an empty one may have a null pointer.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid for `'a`, or `len` must be 0.
    unsafe fn borrowed<'a>(ptr: *const u8, len: usize) -> Result<&'a str, String> {
        if len == 0 {
            return Ok("");
        }
        if ptr.is_null() {
            return Err("the host passed a null pointer".to_string());
        }
        // SAFETY: guaranteed by this function's contract, which the host upholds for the whole call.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
        std::str::from_utf8(bytes)
            .map_err(|e| format!("the host passed text that is not UTF-8: {e}"))
    }

    /// Run `body` so that no panic crosses the boundary; the result or message goes to the callback.
    fn guarded(output: &Output, body: impl FnOnce() -> Outcome) -> i32 {
        silence_default_panic_output();
        let outcome = match catch_unwind(AssertUnwindSafe(body)) {
            Ok(outcome) => outcome,
            Err(payload) => Outcome::Panic(panic_message(payload.as_ref())),
        };
        match outcome {
            Outcome::Ok(text) => {
                output.send(&text);
                status::OK
            }
            Outcome::Error(message) => {
                output.send(&message);
                status::ERROR
            }
            Outcome::BadInput(message) => {
                output.send(&message);
                status::BAD_INPUT
            }
            Outcome::Panic(message) => {
                output.send(&message);
                status::PANIC
            }
        }
    }

    enum Outcome {
        Ok(String),
        Error(String),
        BadInput(String),
        Panic(String),
    }

    /// The default hook would print the panic (which may quote the credentials being formatted) to
    /// stderr; the message goes back to the host instead, which decides what to show. The hook lives in
    /// this library's own copy of std, so the host's hook is untouched.
    fn silence_default_panic_output() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    }

    fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
        if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_string()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "a panic without a message".to_string()
        }
    }

    /// # Safety
    /// `write` must be a valid [`WriteFn`] for `ctx`.
    pub unsafe extern "C" fn describe<I: Instance>(ctx: *mut c_void, write: WriteFn) -> i32 {
        let output = Output { ctx, write };
        guarded(&output, || {
            let plugin = I::get();
            let description = Description {
                name: plugin.name(),
                version: plugin.version(),
                presets: plugin.presets(),
                formats: plugin.formats(),
            };
            match serde_json::to_string(&description) {
                Ok(json) => Outcome::Ok(json),
                Err(e) => Outcome::Error(format!("cannot serialize the description: {e}")),
            }
        })
    }

    /// # Safety
    /// `(name, name_len)` and `(input, input_len)` must be readable byte ranges for the whole call, and
    /// `write` a valid [`WriteFn`] for `ctx`.
    pub unsafe extern "C" fn preset<I: Instance>(
        name: *const u8,
        name_len: usize,
        input: *const u8,
        input_len: usize,
        ctx: *mut c_void,
        write: WriteFn,
    ) -> i32 {
        let output = Output { ctx, write };
        guarded(&output, || {
            // SAFETY: `(name, name_len)` is readable for this call (this function's contract).
            let name = unsafe { borrowed(name, name_len) };
            // SAFETY: so is `(input, input_len)`.
            let input = unsafe { borrowed(input, input_len) };
            let (name, input) = match (name, input) {
                (Ok(name), Ok(input)) => (name, input),
                (Err(e), _) | (_, Err(e)) => return Outcome::BadInput(e),
            };
            let request: PresetRequest = match serde_json::from_str(input) {
                Ok(request) => request,
                Err(e) => {
                    return Outcome::BadInput(format!("the preset request is not valid: {e}"))
                }
            };
            match I::get().preset(name, &request) {
                Ok(statements) => match serde_json::to_string(&statements) {
                    Ok(json) => Outcome::Ok(json),
                    Err(e) => Outcome::Error(format!("cannot serialize the statements: {e}")),
                },
                Err(message) => Outcome::Error(message),
            }
        })
    }

    /// # Safety
    /// As for [`preset`].
    pub unsafe extern "C" fn format<I: Instance>(
        name: *const u8,
        name_len: usize,
        input: *const u8,
        input_len: usize,
        ctx: *mut c_void,
        write: WriteFn,
    ) -> i32 {
        let output = Output { ctx, write };
        guarded(&output, || {
            // SAFETY: `(name, name_len)` is readable for this call (this function's contract).
            let name = unsafe { borrowed(name, name_len) };
            // SAFETY: so is `(input, input_len)`.
            let input = unsafe { borrowed(input, input_len) };
            let (name, input) = match (name, input) {
                (Ok(name), Ok(input)) => (name, input),
                (Err(e), _) | (_, Err(e)) => return Outcome::BadInput(e),
            };
            // Deliberately no serde error text here: it could quote the credentials.
            let credentials: serde_json::Value = match serde_json::from_str(input) {
                Ok(value) => value,
                Err(_) => {
                    return Outcome::BadInput("the credentials are not valid JSON".to_string())
                }
            };
            match I::get().format(name, &credentials) {
                Ok(text) => Outcome::Ok(text),
                Err(message) => Outcome::Error(message),
            }
        })
    }
}

/// Export a [`Plugin`] from a `cdylib`: `export_plugin!(MyPlugin)` or `export_plugin!(MyPlugin::new())`.
///
/// The expression is evaluated once, on first use, inside the panic guard.
#[macro_export]
macro_rules! export_plugin {
    ($constructor:expr) => {
        #[doc(hidden)]
        pub struct __S3credsPluginInstance;

        impl $crate::glue::Instance for __S3credsPluginInstance {
            fn get() -> &'static dyn $crate::Plugin {
                static INSTANCE: ::std::sync::OnceLock<::std::boxed::Box<dyn $crate::Plugin>> =
                    ::std::sync::OnceLock::new();
                INSTANCE
                    .get_or_init(|| ::std::boxed::Box::new($constructor))
                    .as_ref()
            }
        }

        /// The entry point s3creds looks up: ABI generation 1.
        #[allow(unsafe_code)] // `no_mangle` is what makes the symbol findable.
        #[unsafe(no_mangle)]
        pub extern "C" fn s3creds_plugin_v1() -> *const $crate::PluginTableV1 {
            static TABLE: $crate::PluginTableV1 =
                $crate::glue::table_v1::<__S3credsPluginInstance>();
            &TABLE
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_first_eight_bytes() {
        assert_eq!(std::mem::offset_of!(PluginTableV1, header), 0);
        assert_eq!(std::mem::size_of::<TableHeader>(), 8);
        assert_eq!(std::mem::offset_of!(TableHeader, abi_version), 0);
        assert_eq!(std::mem::offset_of!(TableHeader, size), 4);
    }

    struct Panicky;

    impl Plugin for Panicky {
        fn name(&self) -> String {
            "panicky".into()
        }
        fn version(&self) -> String {
            "1".into()
        }
        fn preset(&self, name: &str, _: &PresetRequest) -> Result<Vec<serde_json::Value>, String> {
            panic!("boom in {name}")
        }
    }

    struct Instance;

    impl glue::Instance for Instance {
        fn get() -> &'static dyn Plugin {
            &Panicky
        }
    }

    unsafe extern "C" fn append(ctx: *mut c_void, data: *const u8, len: usize) {
        // SAFETY: the glue lends `len` readable bytes at `data` for this call.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        // SAFETY: `ctx` is the `Vec<u8>` of `call`, borrowed by nothing else during the call.
        unsafe { (*ctx.cast::<Vec<u8>>()).extend_from_slice(bytes) }
    }

    fn call(function: CallFn, name: &str, input: &str) -> (i32, String) {
        let mut out: Vec<u8> = Vec::new();
        // SAFETY: both ranges outlive the call and `append` matches `ctx`.
        let code = unsafe {
            function(
                name.as_ptr(),
                name.len(),
                input.as_ptr(),
                input.len(),
                std::ptr::from_mut(&mut out).cast(),
                append,
            )
        };
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_panic_becomes_a_status_and_its_message() {
        let table = glue::table_v1::<Instance>();
        assert_eq!(
            table.header,
            TableHeader {
                abi_version: ABI_VERSION,
                size: TABLE_V1_SIZE
            }
        );
        let request = r#"{"buckets":["b"],"access":"read-write"}"#;
        assert_eq!(
            call(table.preset, "x", request),
            (status::PANIC, "boom in x".to_string())
        );
        let (code, message) = call(table.format, "f", "{}");
        assert_eq!(
            (code, message.as_str()),
            (status::ERROR, "this plugin has no format \"f\"")
        );
        let (code, _) = call(table.preset, "x", "not json");
        assert_eq!(code, status::BAD_INPUT);
    }

    #[test]
    fn a_request_without_partition_defaults_to_aws() {
        let request: PresetRequest =
            serde_json::from_str(r#"{"buckets":["b"],"access":"read-only"}"#).unwrap();
        assert_eq!(request.partition, "aws");
        assert!(request.prefixes.is_empty());
    }
}
