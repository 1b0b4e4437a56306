//! The Python tool's object commands: get-object, get-objects, put-object, put-objects,
//! delete-objects. Transfers stream (no object is held whole in memory) and the multi-file commands
//! run `--concurrency` transfers at once; a failed file is named and the others still complete.

use crate::aws::objects::{delete_keys, download, list_objects, upload, Source};
use crate::aws::{block_on, AwsOptions};
use crate::cli::{DeleteObjectsArgs, GetObjectArgs, GetObjectsArgs, PutObjectArgs, PutObjectsArgs};
use crate::commands::bucket::s3_client;
use crate::core::objects::{
    delete_selection, format_bytes, glob_match, local_target_for_key, upload_key, upload_prefix,
    DeleteSelection, LocalTarget,
};
use crate::error::{Error, Result};
use crate::output::write_stdout;
use crate::progress::Progress;
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub fn get_object(args: &GetObjectArgs, aws: &AwsOptions) -> Result<()> {
    if args.key.is_empty() {
        return Err(Error::invalid("the key is empty"));
    }
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let progress = Progress::new(args.silent, "Downloading", None, None);
    match &args.output {
        None => {
            let mut stdout = std::io::stdout().lock();
            block_on(download(
                &s3,
                &args.bucket,
                &args.key,
                &mut stdout,
                "standard output",
                &progress,
            ))??;
        }
        Some(path) => {
            let label = path.display().to_string();
            block_on(unless_interrupted(download_to_file(
                &s3,
                &args.bucket,
                &args.key,
                path,
                &label,
                &progress,
            )))??;
        }
    }
    progress.finish();
    Ok(())
}

/// Download into a private temporary file beside `path` and rename it into place once complete, so a
/// failed download never leaves a truncated file (or a half-overwritten old one). Renaming replaces a
/// symbolic link at `path` rather than writing through it.
async fn download_to_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &Path,
    label: &str,
    progress: &Progress,
) -> Result<u64> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Before anything is downloaded: a folder (or a name ending in a separator, which only a folder
    // can have) cannot be the file.
    let names_a_folder = path
        .as_os_str()
        .to_string_lossy()
        .ends_with(std::path::MAIN_SEPARATOR);
    if path.is_dir() || names_a_folder {
        return Err(Error::invalid_with_hint(
            format!("{label}: is a folder"),
            "give -o the path of the file to write",
        ));
    }
    let (temporary, file) = crate::files::create_unique(&folder, DOWNLOAD_PREFIX).map_err(|e| {
        Error::invalid(format!(
            "{label}: cannot write in {}: {e}",
            folder.display()
        ))
    })?;
    track(&temporary, true);
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
    let result = download(s3, bucket, key, &mut writer, label, progress).await;
    // The buffer's last bytes go out now, and a failure to write them fails the download.
    let result = result.and_then(|size| {
        writer
            .into_inner()
            .map(|_| size)
            .map_err(|e| Error::invalid(format!("{label}: cannot write: {}", e.error())))
    });
    let renamed = result.and_then(|size| {
        std::fs::rename(&temporary, path)
            .map(|()| size)
            .map_err(|e| Error::invalid(format!("{label}: cannot write: {e}")))
    });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    track(&temporary, false);
    renamed
}

/// The names of the temporary files downloads are written to (`put-objects` skips them).
const DOWNLOAD_PREFIX: &str = ".s3creds-download";

/// Add `temporary` to the files removed on an interruption, or take it off once it is gone.
fn track(temporary: &Path, writing: bool) {
    if let Ok(mut files) = IN_PROGRESS.lock() {
        if writing {
            files.push(temporary.to_path_buf());
        } else {
            files.retain(|file| file != temporary);
        }
    }
}

pub fn get_objects(args: &GetObjectsArgs, aws: &AwsOptions) -> Result<()> {
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let bucket = args.bucket.as_str();
    block_on(crate::aws::objects::bucket::refuse_missing_bucket(
        &s3, bucket,
    ))??;
    // As the Python tool: the named keys, plus every key (or every key matching a pattern) when no
    // key is named or patterns are given.
    let mut wanted: Vec<(String, Option<u64>)> =
        args.keys.iter().map(|k| (k.clone(), None)).collect();
    if args.keys.is_empty() || !args.patterns.is_empty() {
        let listed = block_on(list_objects(&s3, bucket, None))??;
        let listed: Vec<(String, Option<u64>)> = listed
            .iter()
            .filter_map(|o| Some((o.key()?.to_string(), o.size().map(|s| s.max(0) as u64))))
            .collect();
        if args.patterns.is_empty() {
            wanted.extend(listed);
        } else {
            for pattern in &args.patterns {
                wanted.extend(
                    listed
                        .iter()
                        .filter(|(k, _)| glob_match(pattern, k))
                        .cloned(),
                );
            }
        }
    }
    let mut seen = HashSet::new();
    wanted.retain(|(key, _)| seen.insert(key.clone()));

    let root = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&root).map_err(|e| {
        Error::invalid(format!(
            "-o {}: cannot create the folder: {e}",
            root.display()
        ))
    })?;
    let root = std::fs::canonicalize(&root)
        .map_err(|e| Error::invalid(format!("-o {}: {e}", root.display())))?;

    // Keys that cannot be written safely inside the folder are named and skipped, never rewritten
    // into some other path; so are keys that would land on the same file as another (`a//b`, `a/b`).
    let mut failures: Vec<(String, Error)> = Vec::new();
    let mut jobs = Vec::new();
    let mut folders = Vec::new();
    let mut claimed: HashMap<Vec<String>, String> = HashMap::new();
    let skip = |key: String, why: String, failures: &mut Vec<(String, Error)>| {
        let error = Error::invalid(format!("skipped key {key:?}: {why}"));
        eprintln!("error: {error}");
        failures.push((key, error));
    };
    for (key, size) in wanted {
        let owned = |parts: Vec<&str>| parts.into_iter().map(str::to_string).collect::<Vec<_>>();
        // (a folder marker?, the components), owned: the key moves on below.
        let target = match local_target_for_key(&key) {
            Ok(LocalTarget::File(parts)) => Ok((false, owned(parts))),
            Ok(LocalTarget::Folder(parts)) => Ok((true, owned(parts))),
            Err(why) => Err(why),
        };
        match target {
            Ok((false, parts)) => match claimed.get(&parts) {
                Some(first) => {
                    let why = format!("it would be written to the same file as {first:?}");
                    skip(key, why, &mut failures);
                }
                None => {
                    claimed.insert(parts.clone(), key.clone());
                    jobs.push((key, size, parts));
                }
            },
            Ok((true, parts)) => folders.push((key, parts)),
            Err(why) => skip(key, why, &mut failures),
        }
    }
    // Folder markers: the folder, checked as a download's folder is; nothing is downloaded.
    let mut made_folders = 0;
    for (key, parts) in folders {
        match make_folders(&root, &parts) {
            Ok(_) => made_folders += 1,
            Err(why) => skip(key, why, &mut failures),
        }
    }
    let total_bytes = jobs
        .iter()
        .try_fold(0u64, |sum, (_, size, _)| size.map(|s| sum + s));
    let label = format!(
        "Downloading{}",
        total_bytes
            .map(|t| format!(" {}", format_bytes(t)))
            .unwrap_or_default()
    );
    let progress = Progress::new(args.silent, &label, total_bytes, Some(jobs.len()));
    let count = jobs.len() + failures.len() + made_folders;
    let results = block_on(unless_interrupted(
        stream::iter(jobs)
            .map(|(key, _, parts)| {
                let (s3, root, progress) = (&s3, &root, &progress);
                async move {
                    let result = download_into(s3, bucket, &key, root, &parts, progress).await;
                    progress.file_done();
                    (key, result)
                }
            })
            .buffer_unordered(args.concurrency)
            .collect::<Vec<_>>(),
    ))?;
    progress.finish();
    let mut bytes = 0;
    let mut done = made_folders;
    for (key, result) in results {
        match result {
            Ok(size) => {
                bytes += size;
                done += 1;
            }
            Err(error) => {
                eprintln!("error: {key}: {error}");
                failures.push((key, error));
            }
        }
    }
    eprintln!(
        "downloaded {done} of {} file{} ({}) into {}",
        count,
        if count == 1 { "" } else { "s" },
        format_bytes(bytes),
        root.display()
    );
    finish_with(failures, "downloaded")
}

/// One object into the file at `parts` under `root`, its folders made by [`make_folders`].
async fn download_into(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    root: &Path,
    parts: &[String],
    progress: &Progress,
) -> Result<u64> {
    let (name, folders) = parts
        .split_last()
        .ok_or_else(|| Error::Internal(format!("no file name for {key:?}")))?;
    let folder = make_folders(root, folders)
        .map_err(|why| Error::invalid(format!("skipped key {key:?}: {why}")))?;
    let path = folder.join(name);
    let label = path.display().to_string();
    download_to_file(s3, bucket, key, &path, &label, progress).await
}

/// The folder at `parts` under `root`, made one part at a time. A part that exists must be a folder
/// inside `root`: a symbolic link is followed only when it leads to a folder inside `root`, and it is
/// checked before anything is made below it, so no folder is ever made outside `root`.
fn make_folders(root: &Path, parts: &[String]) -> std::result::Result<PathBuf, String> {
    let mut folder = root.to_path_buf();
    for part in parts {
        folder.push(part);
        let existing = match std::fs::symlink_metadata(&folder) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::create_dir(&folder) {
                    Ok(()) => continue,
                    // Made by a concurrent download of the same folder: checked below.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::symlink_metadata(&folder)
                            .map_err(|e| format!("{}: {e}", folder.display()))?
                    }
                    Err(e) => {
                        return Err(format!(
                            "{}: cannot create the folder: {e}",
                            folder.display()
                        ))
                    }
                }
            }
            Err(e) => return Err(format!("{}: {e}", folder.display())),
        };
        if existing.file_type().is_symlink() {
            let target =
                std::fs::canonicalize(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
            if !target.starts_with(root) || !target.is_dir() {
                return Err(format!(
                    "its folder {} leads outside {} (a symbolic link)",
                    folder.display(),
                    root.display()
                ));
            }
        } else if !existing.is_dir() {
            return Err(format!("{} is a file, not a folder", folder.display()));
        }
    }
    Ok(folder)
}

/// Temporary download files being written, removed if the process is interrupted.
static IN_PROGRESS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// `work`, unless SIGINT or SIGTERM (Ctrl+C on Windows) comes first: then the temporary files of
/// the downloads in progress are removed and the process ends as the signal would have ended it, so
/// an interrupted download leaves no partial file behind.
async fn unless_interrupted<T>(work: impl std::future::Future<Output = T>) -> T {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return work.await;
        };
        tokio::select! {
            output = work => output,
            _ = interrupt.recv() => interrupted(130),
            _ = terminate.recv() => interrupted(143),
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        output = work => output,
        _ = tokio::signal::ctrl_c() => interrupted(130),
    }
}

fn interrupted(code: i32) -> ! {
    if let Ok(files) = IN_PROGRESS.lock() {
        for file in files.iter() {
            let _ = std::fs::remove_file(file);
        }
    }
    eprintln!("s3creds: interrupted; the downloads in progress were removed");
    std::process::exit(code)
}

/// After a multi-file run: success, or the first failure with a hint saying how many failed (each was
/// named on stderr as it happened).
fn finish_with(failures: Vec<(String, Error)>, verb: &str) -> Result<()> {
    let count = failures.len();
    match failures.into_iter().next() {
        None => Ok(()),
        Some((_, first)) => Err(first.with_hint(format!(
            "{count} file{} failed, each named above; the others were {verb}",
            if count == 1 { "" } else { "s" }
        ))),
    }
}

pub fn put_object(args: &PutObjectArgs, aws: &AwsOptions) -> Result<()> {
    if args.key.is_empty() {
        return Err(Error::invalid("the key is empty"));
    }
    // The file is opened before any AWS call: a missing file changes nothing.
    let (source, size, guessed): (Source, Option<u64>, Option<String>) = if args.path == "-" {
        // Standard input has no file name: the type is guessed from the key.
        (
            Box::new(std::io::stdin()),
            None,
            guess_type(Path::new(&args.key)),
        )
    } else {
        let path = Path::new(&args.path);
        let (file, size) = open_regular(path)?;
        (Box::new(file), Some(size), guess_type(path))
    };
    let content_type = args.content_type.clone().or(guessed);
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let progress = Progress::new(args.silent, "Uploading", size, None);
    let label = if args.path == "-" {
        "standard input".to_string()
    } else {
        args.path.clone()
    };
    block_on(upload(
        &s3,
        &args.bucket,
        &args.key,
        source,
        content_type.as_deref(),
        &label,
        &progress,
    ))??;
    progress.finish();
    Ok(())
}

fn guess_type(path: &Path) -> Option<String> {
    mime_guess::from_path(path).first_raw().map(str::to_string)
}

/// Open a regular file for upload, with its size; anything else is a clear input error.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64)> {
    let label = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| Error::invalid(format!("{label}: cannot read: {e}")))?;
    let metadata = file
        .metadata()
        .map_err(|e| Error::invalid(format!("{label}: cannot read: {e}")))?;
    if !metadata.is_file() {
        return Err(Error::invalid(format!("{label}: not a regular file")));
    }
    Ok((file, metadata.len()))
}

pub fn put_objects(args: &PutObjectsArgs, aws: &AwsOptions) -> Result<()> {
    // Every path is found and checked before the first upload: a missing file or an unreadable folder
    // stops the run with nothing uploaded.
    let prefix = upload_prefix(args.prefix.as_deref());
    let mut files: Vec<(PathBuf, String, u64)> = Vec::new();
    for object in &args.objects {
        collect_uploads(object, &prefix, &mut files)?;
    }
    let mut keys = HashSet::new();
    if let Some((path, key, _)) = files.iter().find(|(_, key, _)| !keys.insert(key.clone())) {
        return Err(Error::invalid(format!(
            "two files would be uploaded to the same key {key:?} (one is {})",
            path.display()
        )));
    }
    if args.dry_run {
        crate::core::request::BucketName::parse(&args.bucket)?;
        let text: String = files
            .iter()
            .map(|(path, key, _)| format!("{} => s3://{}/{key}\n", path.display(), args.bucket))
            .collect();
        return write_stdout(&text);
    }
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let total: u64 = files.iter().map(|(_, _, size)| size).sum();
    let count = files.len();
    let label = format!(
        "Uploading {} ({count} file{})",
        format_bytes(total),
        if count == 1 { "" } else { "s" }
    );
    let progress = Progress::new(args.silent, &label, Some(total), Some(count));
    let bucket = args.bucket.as_str();
    block_on(crate::aws::objects::bucket::refuse_missing_bucket(
        &s3, bucket,
    ))??;
    let results = block_on(
        stream::iter(files)
            .map(|(path, key, _)| {
                let (s3, progress) = (&s3, &progress);
                async move {
                    let label = path.display().to_string();
                    let result = match open_regular(&path) {
                        Ok((file, _)) => {
                            let content_type = guess_type(&path);
                            upload(
                                s3,
                                bucket,
                                &key,
                                Box::new(file),
                                content_type.as_deref(),
                                &label,
                                progress,
                            )
                            .await
                        }
                        Err(error) => Err(error),
                    };
                    progress.file_done();
                    (label, result)
                }
            })
            .buffer_unordered(args.concurrency)
            .collect::<Vec<_>>(),
    )?;
    progress.finish();
    let mut failures = Vec::new();
    let mut bytes = 0;
    for (label, result) in results {
        match result {
            Ok(size) => bytes += size,
            Err(error) => {
                eprintln!("error: {label}: {error}");
                failures.push((label, error));
            }
        }
    }
    eprintln!(
        "uploaded {} of {count} file{} ({}) to s3://{bucket}/{prefix}",
        count - failures.len(),
        if count == 1 { "" } else { "s" },
        format_bytes(bytes)
    );
    finish_with(failures, "uploaded")
}

/// A file becomes `prefix` + its name; a folder is walked, each file keyed by its path from the
/// folder's parent (the folder's own name included), as the Python tool does.
fn collect_uploads(
    object: &Path,
    prefix: &str,
    files: &mut Vec<(PathBuf, String, u64)>,
) -> Result<()> {
    let label = object.display();
    let metadata = std::fs::metadata(object)
        .map_err(|e| Error::invalid(format!("{label}: cannot read: {e}")))?;
    let name = |path: &Path| -> Result<String> {
        path.file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{}: the name is not UTF-8 (or there is none)",
                    path.display()
                ))
            })
    };
    if metadata.is_file() {
        files.push((
            object.to_path_buf(),
            upload_key(prefix, &[name(object)?]),
            metadata.len(),
        ));
        return Ok(());
    }
    if !metadata.is_dir() {
        return Err(Error::invalid(format!(
            "{label}: neither a file nor a folder"
        )));
    }
    // The folder's name as given, as the Python tool takes it (`relative_to(path.parent)`): a link
    // keeps its own name, and `.` adds no part. `..` and `/` have no name of their own as given; they
    // get the name of the folder they are.
    let mut relative = match object.file_name() {
        Some(_) => vec![name(object)?],
        None if object
            .components()
            .all(|c| c == std::path::Component::CurDir) =>
        {
            Vec::new()
        }
        None => {
            let base = std::fs::canonicalize(object)
                .map_err(|e| Error::invalid(format!("{label}: {e}")))?;
            base.file_name()
                .map(|_| name(&base))
                .transpose()?
                .into_iter()
                .collect()
        }
    };
    walk(object, &mut relative, prefix, files)
}

fn walk(
    folder: &Path,
    relative: &mut Vec<String>,
    prefix: &str,
    files: &mut Vec<(PathBuf, String, u64)>,
) -> Result<()> {
    let label = folder.display();
    let mut entries = std::fs::read_dir(folder)
        .map_err(|e| Error::invalid(format!("{label}: cannot read the folder: {e}")))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::invalid(format!("{label}: cannot read the folder: {e}")))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| Error::invalid(format!("{}: the name is not UTF-8", path.display())))?;
        let link = entry
            .file_type()
            .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?
            .is_symlink();
        // What an interrupted download could not remove (a SIGKILL) is not the user's data.
        if name.starts_with(DOWNLOAD_PREFIX) {
            eprintln!(
                "warning: {}: a leftover of an interrupted s3creds download, not uploaded",
                path.display()
            );
            continue;
        }
        let metadata = std::fs::metadata(&path).map_err(|e| {
            let what = if link { "a broken symbolic link? " } else { "" };
            Error::invalid(format!("{}: cannot read: {what}{e}", path.display()))
        })?;
        relative.push(name);
        if metadata.is_file() {
            files.push((path, upload_key(prefix, relative), metadata.len()));
        } else if metadata.is_dir() {
            if link {
                // A linked folder can lead back up (a loop) or far away: not followed.
                eprintln!(
                    "warning: {}: a symbolic link to a folder, not followed",
                    path.display()
                );
            } else {
                walk(&path, relative, prefix, files)?;
            }
        }
        relative.pop();
    }
    Ok(())
}

pub fn delete_objects(args: &DeleteObjectsArgs, aws: &AwsOptions) -> Result<()> {
    // The guards come first: nothing is listed or deleted for a refused request.
    let selection = delete_selection(&args.keys, args.prefix.as_deref(), args.all)?;
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let bucket = args.bucket.as_str();
    let keys = match selection {
        DeleteSelection::Keys(keys) => keys,
        DeleteSelection::Prefix(prefix) => block_on(list_objects(&s3, bucket, Some(&prefix)))??
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect(),
    };
    if !args.silent {
        eprintln!(
            "Deleting {} object{} from {bucket}",
            keys.len(),
            if keys.len() == 1 { "" } else { "s" }
        );
    }
    if args.dry_run {
        let mut text = String::from("The following keys would be deleted:\n");
        for key in &keys {
            text += &format!("{key}\n");
        }
        return write_stdout(&text);
    }
    let failed = block_on(delete_keys(&s3, bucket, &keys))??;
    if failed.is_empty() {
        return Ok(());
    }
    for (key, why) in &failed {
        eprintln!("error: {key}: {why}");
    }
    let message = format!(
        "{} of {} objects were not deleted (named above)",
        failed.len(),
        keys.len()
    );
    if failed
        .iter()
        .any(|(_, why)| why.starts_with("AccessDenied"))
    {
        Err(Error::AwsAuth {
            operation: "DeleteObjects".into(),
            message,
            hint: None,
        })
    } else {
        Err(Error::aws("DeleteObjects", message))
    }
}
