//! Files and folders that must not be subverted by other users or lost to other s3creds processes.
//!
//! Every file s3creds writes (the AWS config file, the cache index, the plugin manifest and libraries,
//! backups, lock files) goes through here, so each rule is implemented once:
//!
//! * folders it keeps state in belong to the user and are not writable by group or others;
//! * a new file is created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`) with a unique name and a
//!   private mode from the start, so a link planted at a name is never followed and no other user
//!   can ever open it;
//! * a file is replaced atomically (unique temporary file, fsync, rename), and a file that several
//!   processes update is read, changed and written under a lock, so no reported write is lost.

use crate::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Mode of every file s3creds creates: readable and writable by the owner only.
#[cfg(unix)]
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of every folder s3creds creates.
#[cfg(unix)]
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// A folder or file refused because another user could change it. Travels inside an `io::Error`
/// (so `io::Result` signatures stay as they are) and becomes an `error:` and a `hint:` line.
#[derive(Debug)]
pub struct Refused {
    /// What is wrong, naming the path: `/x is writable by other users (mode 777)`.
    pub problem: String,
    /// How to fix it: `chmod 700 /x`.
    pub hint: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; fix: {}", self.problem, self.hint)
    }
}

impl std::error::Error for Refused {}

#[cfg(unix)]
fn refused(problem: String, hint: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, Refused { problem, hint })
}

/// The refusal inside `error`, if it is one.
pub fn refusal(error: &io::Error) -> Option<&Refused> {
    error.get_ref().and_then(|inner| inner.downcast_ref())
}

/// An input error for `error`: `{context}: {problem}` plus the hint for a refusal.
pub fn to_error(error: io::Error, context: &str) -> Error {
    match refusal(&error) {
        Some(refused) => {
            Error::invalid_with_hint(format!("{context}: {}", refused.problem), &refused.hint)
        }
        None => Error::invalid(format!("{context}: {error}")),
    }
}

/// Create `path` (and missing parents) with mode 0700, or check that the existing folder belongs to
/// the user and is not writable by group or others.
pub fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    builder.create(path)?;
    check_private(path)
}

/// Check that `path` (a folder or file, links followed) belongs to the user and is not writable by
/// group or others. A missing path passes: there is nothing another user could have changed.
pub fn check_private_if_exists(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(_) => check_private(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = fs::metadata(path)?;
    let (what, private_mode) = if metadata.is_dir() {
        ("folder", "700")
    } else {
        ("file", "600")
    };
    let uid = current_uid();
    if metadata.uid() != uid {
        return Err(refused(
            format!(
                "the {what} {} belongs to uid {}, not to you (uid {uid})",
                path.display(),
                metadata.uid()
            ),
            format!(
                "use a {what} of your own, or take it over: chown {uid} {}",
                path.display()
            ),
        ));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refused(
            format!(
                "{} is writable by other users (mode {mode:o})",
                path.display()
            ),
            format!("chmod {private_mode} {}", path.display()),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> io::Result<()> {
    // Windows ACLs are not mode bits; the per-user profile folders are private by default.
    Ok(())
}

#[cfg(unix)]
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Follow symbolic links at the last component of `path` (also dangling ones) to the file they name,
/// so a dotfiles link such as `~/.aws/config -> ~/dotfiles/aws/config` is written through, not replaced.
pub fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // The kernel's own limit for nested links (ELOOP).
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(folder) if target.is_relative() => folder.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// The most s3creds reads of a file it reads on its own (AWS config and credentials files, the cache
/// index, the plugin manifest): far above any real one.
pub const MAX_OWN_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The text of a file s3creds reads on its own (see [`read_own_bytes`]); not UTF-8 is an error.
pub fn read_own_file(path: &Path) -> io::Result<String> {
    String::from_utf8(read_own_bytes(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// The bytes of a file s3creds reads on its own, only if it is a regular file of at most
/// [`MAX_OWN_FILE_BYTES`]. It is opened without blocking, so a FIFO or a device put at that name is
/// refused at once instead of hanging the command (the files a user names, such as `--policy
/// <(...)`, are read by `policy_input` and may well be pipes).
pub fn read_own_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a pipe or a device?)",
        ));
    }
    if metadata.len() > MAX_OWN_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_OWN_FILE_BYTES / 1024 / 1024),
        ));
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(file, MAX_OWN_FILE_BYTES), &mut bytes)?;
    Ok(bytes)
}

/// Create `path` for writing only if nothing (not even a dangling link) is there, mode 0600.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_EXCL already refuses any existing name, links included; O_NOFOLLOW says so twice.
        options
            .mode(PRIVATE_FILE_MODE)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)
}

/// A new private file with a name no other process uses: `{folder}/{prefix}-{pid}-{time}-{n}`.
/// Returns its path and the open file.
pub fn create_unique(folder: &Path, prefix: &str) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = folder.join(format!("{prefix}-{}-{nanos:08x}-{n}", std::process::id()));
        match create_new_private(&path) {
            Ok(file) => return Ok((path, file)),
            // Taken (by a leftover or by something planted there): never reuse it, try another.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "cannot create a temporary file in {}",
        folder.display()
    )))
}

/// Replace the file at `path` with `bytes`: a unique temporary file beside it, written and fsync'd,
/// then renamed over it. The file keeps its mode (a new file gets 0600). A link at `path` itself is
/// replaced, not followed: callers that must write through one use [`resolve_symlinks`] first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    stage(path, bytes)?.commit()
}

/// The new content of a file, written and fsync'd beside it, waiting to be renamed over it. Staging
/// outside a lock and committing inside keeps the lock short. Dropped uncommitted, it is deleted.
pub struct Staged {
    temporary: PathBuf,
    target: PathBuf,
    committed: bool,
}

/// Write `bytes` into a unique private temporary file beside `path` (see [`write_atomic`]).
pub fn stage(path: &Path, bytes: &[u8]) -> io::Result<Staged> {
    let folder = folder_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} is not a file name", path.display())))?
        .to_string_lossy();
    let (temporary, mut file) = create_unique(folder, &format!(".{name}.s3creds-tmp"))?;
    let staged = Staged {
        temporary,
        target: path.to_path_buf(),
        committed: false,
    };
    file.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match fs::symlink_metadata(path) {
            Ok(metadata) if metadata.is_file() => metadata.permissions().mode() & 0o7777,
            _ => PRIVATE_FILE_MODE,
        };
        // Through the descriptor, never the name; and after writing, so the temporary file is
        // 0600 while it fills (it only widens to the mode the file already had).
        if mode != PRIVATE_FILE_MODE {
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
    }
    file.sync_all()?;
    Ok(staged)
}

impl Staged {
    /// Rename the staged file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.temporary, &self.target)?;
        self.committed = true;
        // Make the rename itself durable; a folder that cannot be opened for this is not an error.
        if let Ok(folder) = File::open(folder_of(&self.target)) {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    }
}

/// Copy the file at `path` (links followed) to `{name}.s3creds-backup-2026-11-28T15-52-44Z` beside it,
/// mode 0600. An existing backup is never overwritten: a second one in the same second gets `-2`,
/// then `-3`... Returns the backup's path.
pub fn backup(path: &Path) -> io::Result<PathBuf> {
    let bytes = read_own_bytes(path)?;
    let folder = path.parent().unwrap_or(Path::new(""));
    let name = path
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    // RFC 3339 in UTC with `-` for `:`, which Windows and some shells dislike in file names.
    let stamp = crate::core::time::rfc3339(SystemTime::now())
        .map_err(io::Error::other)?
        .replace(':', "-");
    let base = format!("{name}.s3creds-backup-{stamp}");
    for n in 1..=1000 {
        let candidate = if n == 1 {
            folder.join(&base)
        } else {
            folder.join(format!("{base}-{n}"))
        };
        match create_new_private(&candidate) {
            Ok(mut file) => {
                let written = file.write_all(&bytes).and_then(|()| file.sync_all());
                if let Err(e) = written {
                    let _ = fs::remove_file(&candidate);
                    return Err(e);
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "too many backups named {base} in {}",
        folder.display()
    )))
}

/// Open (creating it, 0600) the lock file at `path` without following a link there.
fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(PRIVATE_FILE_MODE)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "the lock file {} is not a regular file",
            path.display()
        )));
    }
    Ok(file)
}

/// An exclusive lock held until the returned file is dropped, waiting at most `timeout` for another
/// process that holds it. The lock file stays: deleting it would let two processes lock two files.
pub fn lock(path: &Path, timeout: Duration) -> io::Result<File> {
    let file = open_lock_file(path)?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "another s3creds process held the lock {} for more than {} s",
                        path.display(),
                        timeout.as_secs_f32()
                    ),
                ))
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// The lock for read-modify-write of the shared file `path`: `.{name}.s3creds-lock` beside it.
pub fn lock_file_for(path: &Path, timeout: Duration) -> io::Result<File> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let folder = path.parent().unwrap_or(Path::new(""));
    lock(&folder.join(format!(".{name}.s3creds-lock")), timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_is_private_and_an_existing_mode_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        write_atomic(&path, b"one").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(mode(&path), 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            write_atomic(&path, b"two").unwrap();
            assert_eq!(mode(&path), 0o640);
        }
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_a_new_name_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "untouched").unwrap();
        let planted = dir.path().join("planted");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(create_new_private(&planted).is_err());
        // Dangling links too: O_EXCL would otherwise create the target.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("created"), &dangling).unwrap();
        assert!(create_new_private(&dangling).is_err());
        assert!(!dir.path().join("created").exists());
        assert!(lock(&planted, Duration::ZERO).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    }

    #[cfg(unix)]
    #[test]
    fn links_resolve_to_the_file_they_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("dotfiles")).unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("dotfiles/aws-config", &link).unwrap();
        assert_eq!(
            resolve_symlinks(&link).unwrap(),
            dir.path().join("dotfiles/aws-config")
        );
        assert_eq!(
            resolve_symlinks(&dir.path().join("plain")).unwrap(),
            dir.path().join("plain")
        );
        let looping = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looping).unwrap();
        assert!(resolve_symlinks(&looping).is_err());
    }

    #[test]
    fn backups_in_the_same_second_all_survive_with_readable_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let mut backups = Vec::new();
        for content in ["first", "second", "third"] {
            fs::write(&path, content).unwrap();
            backups.push(backup(&path).unwrap());
        }
        let contents: Vec<String> = backups
            .iter()
            .map(|b| fs::read_to_string(b).unwrap())
            .collect();
        assert_eq!(contents, ["first", "second", "third"]);
        let name = backups[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let stamp = name.strip_prefix("config.s3creds-backup-").unwrap();
        // 2026-11-28T15-52-44Z
        assert_eq!(stamp.len(), 20, "{name}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{name}"
        );
        assert!(!stamp.contains(':'), "{name}");
        let second = backups[1]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if second.starts_with(&name) {
            assert_eq!(second, format!("{name}-2"));
        }
        #[cfg(unix)]
        assert_eq!(mode(&backups[0]), 0o600);

        // A backup is a copy of the bytes, whatever they are.
        let bytes = b"[default]\nregion = \xff\xfe\n";
        fs::write(&path, bytes).unwrap();
        assert_eq!(fs::read(backup(&path).unwrap()).unwrap(), bytes);
    }

    #[cfg(unix)]
    #[test]
    fn folders_writable_by_others_are_refused_with_a_hint() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        private_dir(&cache).unwrap();
        assert_eq!(mode(&cache), 0o700);
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
        let error = private_dir(&cache).unwrap_err();
        let refused = refusal(&error).expect("a refusal");
        assert!(
            refused
                .problem
                .contains("is writable by other users (mode 777)"),
            "{refused}"
        );
        assert_eq!(refused.hint, format!("chmod 700 {}", cache.display()));
    }

    #[test]
    fn a_held_lock_times_out_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let _held = lock_file_for(&path, Duration::from_secs(1)).unwrap();
        let error = lock_file_for(&path, Duration::from_millis(50)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error.to_string().contains("another s3creds process"),
            "{error}"
        );
    }
}
