//! Loading a plugin library: the only `unsafe` code of the s3creds crate.
//!
//! A dynamic library is arbitrary native code, and `dlopen` of a damaged file can crash the process
//! (a truncated ELF maps pages past the end of the file, and touching them raises SIGBUS). So before the
//! library is opened, its bytes are checked: a regular file of sane size, a real ELF / Mach-O / PE
//! header, and for ELF a shared object whose program headers, segments and section headers all lie
//! within the file. Then the ABI handshake reads only the never-changing header of the table before
//! anything else. Libraries are never unloaded: the table and its function pointers must stay valid for
//! the life of the process.

use crate::error::{Error, Result};
use s3creds_plugin_api::{
    status, Description, PluginTableV1, TableHeader, ABI_VERSION, ENTRY_SYMBOL_V1, TABLE_V1_SIZE,
};
use std::ffi::c_void;
use std::path::{Path, PathBuf};

/// Larger than any sane plugin; reading it whole (to hash and check it) stays cheap.
pub const MAX_LIBRARY_BYTES: u64 = 64 * 1024 * 1024;
/// The size of an ELF64 header: nothing smaller can be a library.
pub const MIN_LIBRARY_BYTES: u64 = 64;
/// A plugin's answer larger than this is refused rather than kept in memory.
const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// A loaded plugin whose ABI handshake succeeded. Cheap to copy around: the library is leaked.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    pub path: PathBuf,
    pub description: Description,
    table: &'static PluginTableV1,
}

/// Read a candidate library and check it can be handed to `dlopen` without risk of a crash.
pub fn read_checked(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|e| plugin_error(path, format!("cannot read it: {e}")))?;
    if !metadata.file_type().is_file() {
        return Err(plugin_error(
            path,
            "not a regular file (a symbolic link, folder or device is refused)",
        ));
    }
    check_size(path, metadata.len())?;
    // Opened without following a link that replaced the file since, and read at most one byte past
    // the limit, so a file that grows meanwhile is refused rather than read whole.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NOFOLLOW.bits() as i32,
    );
    let mut bytes = Vec::new();
    options
        .open(path)
        .and_then(|file| file.take(MAX_LIBRARY_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| plugin_error(path, format!("cannot read it: {e}")))?;
    check_size(path, bytes.len() as u64)?;
    check_header(path, &bytes)?;
    Ok(bytes)
}

fn check_size(path: &Path, size: u64) -> Result<()> {
    if size < MIN_LIBRARY_BYTES {
        return Err(not_a_library(
            path,
            &format!("it is {size} bytes, too small to be a shared library"),
        ));
    }
    if size > MAX_LIBRARY_BYTES {
        return Err(not_a_library(
            path,
            &format!("it is {size} bytes; plugins may be at most {MAX_LIBRARY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Check the container format. Only the platform's own format can actually be opened, but every
/// format is recognised so the message says what the file is.
pub fn check_header(path: &Path, bytes: &[u8]) -> Result<()> {
    const ELF: &[u8] = b"\x7fELF";
    const MACH_O: [[u8; 4]; 5] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
    ];
    if bytes.starts_with(ELF) {
        return check_elf(bytes).map_err(|why| not_a_library(path, &why));
    }
    if MACH_O.iter().any(|magic| bytes.starts_with(magic)) || bytes.starts_with(b"MZ") {
        return Ok(());
    }
    Err(not_a_library(
        path,
        "it does not start with an ELF, Mach-O or PE header",
    ))
}

/// ELF structure checks: a shared object, and nothing it points to lies past the end of the file.
fn check_elf(bytes: &[u8]) -> std::result::Result<(), String> {
    let class64 = match bytes.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("its ELF class is neither 32- nor 64-bit".to_string()),
    };
    let little = match bytes.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err("its ELF byte order is invalid".to_string()),
    };
    let read = |offset: usize, width: usize| -> std::result::Result<u64, String> {
        let field = offset
            .checked_add(width)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| {
                format!(
                    "it is truncated: the ELF header ends after {} bytes",
                    bytes.len()
                )
            })?;
        let mut value: u64 = 0;
        for (i, byte) in field.iter().enumerate() {
            let shift = if little { 8 * i } else { 8 * (width - 1 - i) };
            value |= u64::from(*byte) << shift;
        }
        Ok(value)
    };
    const ET_DYN: u64 = 3;
    let e_type = read(16, 2)?;
    if e_type != ET_DYN {
        return Err(format!(
            "it is an ELF file of type {e_type}, not a shared object (type {ET_DYN})"
        ));
    }
    let word = if class64 { 8 } else { 4 };
    let (phoff, shoff, phentsize, phnum, shentsize, shnum) = if class64 {
        (
            read(32, 8)?,
            read(40, 8)?,
            read(54, 2)?,
            read(56, 2)?,
            read(58, 2)?,
            read(60, 2)?,
        )
    } else {
        (
            read(28, 4)?,
            read(32, 4)?,
            read(42, 2)?,
            read(44, 2)?,
            read(46, 2)?,
            read(48, 2)?,
        )
    };
    let length = bytes.len() as u64;
    let table_end =
        |offset: u64, entry: u64, count: u64| offset.checked_add(entry.checked_mul(count)?);
    match table_end(phoff, phentsize, phnum) {
        Some(end) if end <= length => {}
        _ => {
            return Err(format!(
                "it is truncated: its program headers lie past its {length} bytes"
            ))
        }
    }
    if shnum > 0 {
        match table_end(shoff, shentsize, shnum) {
            Some(end) if end <= length => {}
            _ => {
                return Err(format!(
                    "it is truncated: its section headers lie past its {length} bytes"
                ))
            }
        }
    }
    // Every segment's file content must be in the file: these are the pages the loader maps.
    let minimum_entry = if class64 { 56 } else { 32 };
    if phnum > 0 && phentsize < minimum_entry {
        return Err(format!(
            "its program header entries are {phentsize} bytes, too small"
        ));
    }
    for index in 0..phnum {
        let entry = (phoff + index * phentsize) as usize;
        let (offset, file_size) = if class64 {
            (read(entry + 8, word)?, read(entry + 32, word)?)
        } else {
            (read(entry + 4, word)?, read(entry + 16, word)?)
        };
        match offset.checked_add(file_size) {
            Some(end) if end <= length => {}
            _ => {
                return Err(format!(
                    "it is truncated: segment {index} ends past its {length} bytes"
                ))
            }
        }
    }
    Ok(())
}

/// Load exactly `bytes` (checked with [`read_checked`] and hashed by the caller), complete the ABI
/// handshake and ask the plugin to describe itself. Messages name `path`: the file the user knows.
///
/// The bytes never go back through the file they were read from, so a file swapped after it was
/// hashed cannot be what runs: on Linux they are loaded from an anonymous sealed memory file
/// (`memfd_create`); elsewhere from a private copy in `private_folder` (the plugins folder, which
/// only the user can write).
pub fn open_bytes(bytes: &[u8], path: &Path, private_folder: &Path) -> Result<LoadedPlugin> {
    let image = Image::new(bytes, private_folder)
        .map_err(|e| plugin_error(path, format!("cannot prepare it for loading: {e}")))?;
    // SAFETY: loading a library runs its initialisers, which is arbitrary code: that is inherent to
    // plugins. The caller only passes bytes of a file the user installed, from the user's own data
    // folder, after `read_checked` verified the structure (so `dlopen` cannot fault on a damaged
    // file) and the registry verified the checksum recorded at install time; `image` holds exactly
    // those bytes and nobody else can change them.
    let library = unsafe { libloading::Library::new(image.path()) }
        .map_err(|e| not_a_library(path, &format!("the system loader refused it: {e}")))?;
    image.keep();
    let symbol_name = format!("{ENTRY_SYMBOL_V1}\0");
    // SAFETY: the symbol's type is fixed by ABI generation 1 and is only meaningful for libraries that
    // export this exact generation-1 name; the symbol is only used while `library` is alive (forever).
    let entry = unsafe { library.get::<s3creds_plugin_api::EntryFnV1>(symbol_name.as_bytes()) }
        .map_err(|_| {
            plugin_error(
                path,
                format!(
                    "no `{ENTRY_SYMBOL_V1}` symbol: it is not an s3creds plugin, or it was built for \
                     another ABI generation (this s3creds speaks ABI {ABI_VERSION})"
                ),
            )
            .with_hint("plugins export their entry point with s3creds_plugin_api::export_plugin!")
        })?;
    let entry = *entry;
    // The library stays loaded for the life of the process: the table and its function pointers
    // point into it. Never unloading is the abi_stable rule, and avoids running destructors of a
    // library whose code may still be on some stack.
    std::mem::forget(library);
    // SAFETY: `entry` is the generation-1 entry point; it takes no arguments and returns a pointer
    // to a static table (the export macro builds it in a `static`).
    let table = unsafe { entry() };
    if table.is_null() {
        return Err(plugin_error(path, "its entry point returned no table"));
    }
    // SAFETY: every generation's table starts with the 8-byte, 4-aligned `TableHeader`, so reading
    // just the header is valid whatever the rest of the table looks like.
    let header = unsafe { std::ptr::read(table.cast::<TableHeader>()) };
    if header.abi_version != ABI_VERSION {
        return Err(plugin_error(
            path,
            format!(
                "wrong ABI version: expected {ABI_VERSION}, found {}",
                header.abi_version
            ),
        )
        .with_hint("rebuild the plugin against the s3creds-plugin-api of this s3creds"));
    }
    if header.size < TABLE_V1_SIZE {
        return Err(plugin_error(
            path,
            format!(
                "wrong table size: ABI {ABI_VERSION} needs at least {TABLE_V1_SIZE} bytes, found {}",
                header.size
            ),
        )
        .with_hint("rebuild the plugin against the s3creds-plugin-api of this s3creds"));
    }
    // SAFETY: the header says the table is generation 1 and at least as large as `PluginTableV1`, and
    // the library (hence the static table) is never unloaded.
    let table: &'static PluginTableV1 = unsafe { &*table };
    let mut plugin = LoadedPlugin {
        path: path.to_path_buf(),
        description: Description {
            name: String::new(),
            version: String::new(),
            presets: Vec::new(),
            formats: Vec::new(),
        },
        table,
    };
    let text = plugin.call("describing itself", None, |ctx| {
        // SAFETY: `collect` is a valid `WriteFn` for `ctx` (see `call`).
        unsafe { (table.describe)(ctx, collect) }
    })?;
    plugin.description = serde_json::from_str(&text)
        .map_err(|e| plugin_error(path, format!("its description is not valid JSON: {e}")))?;
    Ok(plugin)
}

/// The bytes of a library in a place `dlopen` can open and nobody can change.
struct Image {
    path: PathBuf,
    /// The memory file (Linux); kept open for the life of the process once loaded: its
    /// `/proc/self/fd/N` name is how the loader knows the library, and a reused number would make the
    /// loader believe a later plugin is already loaded.
    #[cfg(target_os = "linux")]
    memory: Option<std::os::fd::OwnedFd>,
    /// A private copy, deleted once loaded (or on failure).
    copy: Option<PathBuf>,
}

impl Image {
    fn new(bytes: &[u8], private_folder: &Path) -> std::io::Result<Image> {
        #[cfg(target_os = "linux")]
        if let Some(image) = Image::in_memory(bytes) {
            return Ok(image);
        }
        use std::io::Write;
        let (copy, mut file) = crate::files::create_unique(
            private_folder,
            &format!(".loading{}", std::env::consts::DLL_SUFFIX),
        )?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        let image = Image {
            // The loader picks libraries by name: the unique name keeps copies apart.
            path: copy.clone(),
            #[cfg(target_os = "linux")]
            memory: None,
            copy: Some(copy),
        };
        written.map(|()| image)
    }

    /// A sealed memory file holding `bytes`, or None when the kernel or `/proc` cannot provide one
    /// (then a private copy is used).
    #[cfg(target_os = "linux")]
    fn in_memory(bytes: &[u8]) -> Option<Image> {
        use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
        use std::io::Write;
        use std::os::fd::AsRawFd;
        if !Path::new("/proc/self/fd").is_dir() {
            return None;
        }
        let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        // MFD_EXEC (Linux 6.3+) keeps the file mappable as code where memory files default to
        // no-exec; older kernels refuse the flag.
        let memory = memfd_create("s3creds-plugin", flags | MemfdFlags::EXEC)
            .or_else(|_| memfd_create("s3creds-plugin", flags))
            .ok()?;
        let mut file = std::fs::File::from(memory);
        file.write_all(bytes).ok()?;
        fcntl_add_seals(
            &file,
            SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
        )
        .ok()?;
        Some(Image {
            path: PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())),
            memory: Some(file.into()),
            copy: None,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// The library is loaded (forever): keep the memory file open.
    fn keep(self) {
        #[cfg(target_os = "linux")]
        {
            let mut image = self;
            if let Some(memory) = image.memory.take() {
                std::mem::forget(memory);
            }
        }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if let Some(copy) = &self.copy {
            let _ = std::fs::remove_file(copy);
        }
    }
}

/// The bytes a plugin wrote through the callback, and whether it tried to write too many.
struct Collected {
    bytes: Vec<u8>,
    overflow: bool,
}

/// The host-owned [`s3creds_plugin_api::WriteFn`]: copies the borrowed bytes into the `Collected`
/// buffer behind `ctx`.
///
/// # Safety
/// `ctx` must point to a live `Collected` that nothing else accesses during the call, and
/// `(data, len)` must be readable bytes (or `len == 0`).
unsafe extern "C" fn collect(ctx: *mut c_void, data: *const u8, len: usize) {
    if ctx.is_null() || (data.is_null() && len > 0) {
        return;
    }
    // SAFETY: `ctx` is the `&mut Collected` that `LoadedPlugin::call` passed for this very call.
    let collected = unsafe { &mut *ctx.cast::<Collected>() };
    if len == 0 {
        return;
    }
    if collected.bytes.len().saturating_add(len) > MAX_OUTPUT_BYTES {
        collected.overflow = true;
        return;
    }
    // SAFETY: the plugin lends `len` readable bytes at `data` for the duration of this call.
    let slice = unsafe { std::slice::from_raw_parts(data, len) };
    collected.bytes.extend_from_slice(slice);
}

impl LoadedPlugin {
    /// Run one entry point with a fresh output buffer and turn its status into a result. `secrets` are
    /// blanked out of any error message before it can reach stderr.
    fn call(
        &self,
        what: &str,
        secrets: Option<&[&str]>,
        invoke: impl FnOnce(*mut c_void) -> i32,
    ) -> Result<String> {
        let mut collected = Collected {
            bytes: Vec::new(),
            overflow: false,
        };
        let code = invoke(std::ptr::from_mut(&mut collected).cast());
        let text = String::from_utf8_lossy(&collected.bytes).into_owned();
        // Only messages are redacted: a successful result is the credentials, by design.
        let text = match secrets {
            Some(secrets) if code != status::OK => redact(&text, secrets),
            _ => text,
        };
        if collected.overflow {
            return Err(plugin_error(
                &self.path,
                format!("it wrote more than {MAX_OUTPUT_BYTES} bytes while {what}"),
            ));
        }
        match code {
            status::OK => Ok(text),
            status::ERROR => Err(plugin_error(
                &self.path,
                format!("failed while {what}: {text}"),
            )),
            status::PANIC => Err(plugin_error(
                &self.path,
                format!("the plugin panicked while {what}: {text}"),
            )
            .with_hint("this is a bug in the plugin; s3creds stopped safely")),
            status::BAD_INPUT => Err(Error::Internal(format!(
                "plugin {}: it could not read what s3creds sent while {what}: {text}",
                self.path.display()
            ))),
            other => Err(plugin_error(
                &self.path,
                format!("it returned the unknown status {other} while {what}"),
            )),
        }
    }

    /// Run preset `name` on the JSON `request`; returns the JSON text the plugin wrote.
    pub fn preset(&self, name: &str, request: &str) -> Result<String> {
        let table = self.table;
        self.call(&format!("running preset {name:?}"), None, |ctx| {
            // SAFETY: both byte ranges outlive the call, and `collect` is a valid `WriteFn` for `ctx`.
            unsafe {
                (table.preset)(
                    name.as_ptr(),
                    name.len(),
                    request.as_ptr(),
                    request.len(),
                    ctx,
                    collect,
                )
            }
        })
    }

    /// Run format `name` on the credentials JSON; `secrets` never appear in an error.
    pub fn format(&self, name: &str, credentials: &str, secrets: &[&str]) -> Result<String> {
        let table = self.table;
        self.call(&format!("running format {name:?}"), Some(secrets), |ctx| {
            // SAFETY: both byte ranges outlive the call, and `collect` is a valid `WriteFn` for `ctx`.
            unsafe {
                (table.format)(
                    name.as_ptr(),
                    name.len(),
                    credentials.as_ptr(),
                    credentials.len(),
                    ctx,
                    collect,
                )
            }
        })
    }
}

fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_string(), |text, secret| {
            text.replace(secret, "(redacted)")
        })
}

pub fn plugin_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::invalid(format!("plugin {}: {message}", path.display()))
}

fn not_a_library(path: &Path, why: &str) -> Error {
    plugin_error(path, format!("not a shared library: {why}"))
        .with_hint("install a plugin built with `cargo build --release` (a .so, .dylib or .dll), or its crate folder")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf64_header(e_type: u16) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        bytes[5] = 1;
        bytes[16..18].copy_from_slice(&e_type.to_le_bytes());
        bytes
    }

    #[test]
    fn an_executable_is_not_a_shared_object() {
        let error = check_elf(&elf64_header(2)).unwrap_err();
        assert!(error.contains("not a shared object"), "{error}");
    }

    #[test]
    fn section_headers_past_the_end_mean_truncated() {
        let mut bytes = elf64_header(3);
        bytes[40..48].copy_from_slice(&1000u64.to_le_bytes()); // e_shoff
        bytes[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        bytes[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
        let error = check_elf(&bytes).unwrap_err();
        assert!(error.contains("section headers"), "{error}");
    }

    #[test]
    fn overflowing_offsets_are_refused_not_wrapped() {
        let mut bytes = elf64_header(3);
        bytes[32..40].copy_from_slice(&u64::MAX.to_le_bytes()); // e_phoff
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
        bytes[56..58].copy_from_slice(&2u16.to_le_bytes());
        assert!(check_elf(&bytes).unwrap_err().contains("program headers"));
    }

    #[test]
    fn a_minimal_consistent_header_passes() {
        assert_eq!(check_elf(&elf64_header(3)), Ok(()));
    }

    #[test]
    fn redaction_blanks_every_secret() {
        assert_eq!(
            redact("a SECRET and TOKEN", &["SECRET", "TOKEN", ""]),
            "a (redacted) and (redacted)"
        );
    }
}
