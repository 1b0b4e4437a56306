//! The installed plugins: a folder in the user's data directory holding a copy of each library and a
//! versioned TOML manifest that records, per plugin, what it provides and the SHA-256 of its file.
//!
//! Only files recorded here are ever loaded, only from this folder, and only when their checksum still
//! matches and the folder cannot be written by other users: a library is arbitrary code.

use super::loader::{self, plugin_error, LoadedPlugin};
use crate::error::{Error, Result};
use crate::files;
use crate::output::BUILT_IN_FORMATS;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Overrides the data directory (tests, or several independent installations).
pub const DATA_DIR_ENV: &str = crate::env::DATA_DIR;
/// The manifest's on-disk format version; bumped on any incompatible change.
const MANIFEST_FORMAT: u32 = 1;
const MANIFEST_FILE: &str = "manifest.toml";
/// How long `plugin install|remove` waits for another one changing the manifest.
const MANIFEST_LOCK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<InstalledPlugin>,
}

/// One installed plugin as recorded at install time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPlugin {
    pub name: String,
    pub version: String,
    pub abi: u32,
    /// The library's file name inside the plugins folder.
    pub file: String,
    /// Hex SHA-256 of the library when it was installed.
    pub sha256: String,
    /// Where it was installed from (for `plugin info`; never loaded from there).
    pub source: String,
    #[serde(default)]
    pub presets: Vec<String>,
    #[serde(default)]
    pub formats: Vec<String>,
}

impl InstalledPlugin {
    /// What it provides, for people: `preset textract, format rclone`.
    pub fn provides(&self) -> String {
        let items: Vec<String> = self
            .presets
            .iter()
            .map(|p| format!("preset {p}"))
            .chain(self.formats.iter().map(|f| format!("format {f}")))
            .collect();
        if items.is_empty() {
            "nothing".to_string()
        } else {
            items.join(", ")
        }
    }
}

/// The health of an installed plugin's file, checked without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    Ok,
    Missing,
    /// The file changed after installation.
    Modified,
    /// The file is there but is not a loadable library (e.g. truncated).
    Damaged(String),
}

impl std::fmt::Display for FileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileStatus::Ok => write!(f, "ok"),
            FileStatus::Missing => write!(f, "missing file"),
            FileStatus::Modified => write!(f, "refused: changed since install"),
            FileStatus::Damaged(why) => write!(f, "refused: {why}"),
        }
    }
}

pub struct Registry {
    /// `<data dir>/plugins`.
    folder: PathBuf,
}

impl Registry {
    /// The registry of this user. Does not touch the file system.
    pub fn locate() -> Result<Registry> {
        let data_dir = match crate::env::var_os(DATA_DIR_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => directories::ProjectDirs::from("", "", "s3creds")
                .map(|dirs| dirs.data_dir().to_path_buf())
                .ok_or_else(|| {
                    Error::invalid_with_hint(
                        "cannot find a data directory for plugins (no home directory)",
                        format!("set {DATA_DIR_ENV} to a folder of your own"),
                    )
                })?,
        };
        Ok(Registry {
            folder: data_dir.join("plugins"),
        })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn manifest_path(&self) -> PathBuf {
        self.folder.join(MANIFEST_FILE)
    }

    /// The manifest; an absent folder or manifest means nothing is installed.
    pub fn manifest(&self) -> Result<Manifest> {
        // The manifest says which code runs: it counts only in a folder no one else can write.
        self.check_folder_permissions()?;
        let path = self.manifest_path();
        let text = match crate::files::read_own_file(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    format: MANIFEST_FORMAT,
                    plugins: Vec::new(),
                })
            }
            Err(e) => {
                return Err(Error::invalid(format!(
                    "cannot read the plugin manifest {}: {e}",
                    path.display()
                )))
            }
        };
        let manifest: Manifest = toml::from_str(&text).map_err(|e| {
            Error::invalid_with_hint(
                format!("the plugin manifest {} is not valid: {e}", path.display()),
                "remove the file to forget every installed plugin",
            )
        })?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(Error::invalid(format!(
                "the plugin manifest {} has format {}; this s3creds reads format {MANIFEST_FORMAT}",
                path.display(),
                manifest.format
            )));
        }
        for plugin in &manifest.plugins {
            if !is_plain_file_name(&plugin.file) {
                return Err(Error::invalid_with_hint(
                    format!(
                        "the plugin manifest {} is not valid: plugin {:?} has file {:?}, but only a \
                         plain file name inside {} is allowed",
                        path.display(),
                        plugin.name,
                        plugin.file,
                        self.folder.display()
                    ),
                    "the manifest was edited by hand: remove that entry, or remove the file to \
                     forget every installed plugin",
                ));
            }
        }
        Ok(manifest)
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let text = toml::to_string_pretty(manifest)
            .map_err(|e| Error::Internal(format!("cannot serialize the plugin manifest: {e}")))?;
        let path = self.manifest_path();
        files::write_atomic(&path, text.as_bytes())
            .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))
    }

    /// Held while the manifest is read, changed and written, so concurrent installs and removals
    /// all end up in it.
    fn lock_manifest(&self) -> Result<std::fs::File> {
        files::lock_file_for(&self.manifest_path(), MANIFEST_LOCK_WAIT)
            .map_err(|e| files::to_error(e, "cannot change the plugin manifest"))
    }

    /// Refuse a plugins folder (or data folder) that belongs to another user or that other users
    /// could write to: they could swap a library and the manifest together.
    pub fn check_folder_permissions(&self) -> Result<()> {
        let mut folders = vec![self.folder.as_path()];
        folders.extend(self.folder.parent());
        for folder in folders {
            files::check_private_if_exists(folder)
                .map_err(|e| files::to_error(e, "refusing to load plugins"))?;
        }
        Ok(())
    }

    fn ensure_folder(&self) -> Result<()> {
        files::private_dir(&self.folder)
            .map_err(|e| files::to_error(e, "refusing to install plugins"))?;
        self.check_folder_permissions()
    }

    /// The installed file of `plugin`, checked to belong to the user and not be writable by others.
    fn installed_file(&self, plugin: &InstalledPlugin) -> Result<PathBuf> {
        let path = self.folder.join(&plugin.file);
        files::check_private_if_exists(&path)
            .map_err(|e| files::to_error(e, "refusing to load plugins"))?;
        Ok(path)
    }

    /// Check an installed plugin's file without loading it.
    pub fn status(&self, plugin: &InstalledPlugin) -> FileStatus {
        let path = self.folder.join(&plugin.file);
        if !path.exists() {
            return FileStatus::Missing;
        }
        if let Err(error) = files::check_private_if_exists(&path) {
            let why =
                files::refusal(&error).map_or_else(|| error.to_string(), |r| r.problem.clone());
            return FileStatus::Damaged(why);
        }
        match loader::read_checked(&path) {
            Ok(bytes) if sha256_hex(&bytes) == plugin.sha256 => FileStatus::Ok,
            Ok(_) => FileStatus::Modified,
            Err(error) => FileStatus::Damaged(error.to_string()),
        }
    }

    /// Load an installed plugin after checking the folder, the file and its checksum.
    pub fn load(&self, plugin: &InstalledPlugin) -> Result<LoadedPlugin> {
        self.check_folder_permissions()?;
        let path = self.installed_file(plugin)?;
        // Read once: these bytes are hashed, and these bytes are loaded.
        let bytes = loader::read_checked(&path)?;
        let found = sha256_hex(&bytes);
        if found != plugin.sha256 {
            return Err(plugin_error(
                &path,
                format!(
                    "refused: the file changed since it was installed (SHA-256 {found}, \
                     recorded {})",
                    plugin.sha256
                ),
            )
            .with_hint(format!(
                "if you trust the new file, install it again: s3creds plugin install {}",
                plugin.source
            )));
        }
        let loaded = loader::open_bytes(&bytes, &path, &self.folder)?;
        if loaded.description.name != plugin.name {
            return Err(plugin_error(
                &path,
                format!(
                    "it now calls itself {:?}, but was installed as {:?}",
                    loaded.description.name, plugin.name
                ),
            ));
        }
        Ok(loaded)
    }

    /// The installed plugin providing preset `name`, loaded. Reads the manifest: only called when the
    /// command line names a preset.
    pub fn preset_provider(&self, name: &str) -> Result<LoadedPlugin> {
        let manifest = self.manifest()?;
        let Some(plugin) = manifest
            .plugins
            .iter()
            .find(|p| p.presets.iter().any(|preset| preset == name))
        else {
            let available: Vec<&str> = manifest
                .plugins
                .iter()
                .flat_map(|p| p.presets.iter().map(String::as_str))
                .collect();
            return Err(Error::invalid_with_hint(
                format!("unknown preset {name:?}"),
                if available.is_empty() {
                    "no plugin providing presets is installed; see `s3creds plugin install --help`"
                        .to_string()
                } else {
                    format!("installed presets: {}", available.join(", "))
                },
            ));
        };
        self.load(plugin)
    }

    /// The installed plugin providing format `name`, loaded, or `None` if none provides it.
    pub fn format_provider(&self, name: &str) -> Result<Option<LoadedPlugin>> {
        let manifest = self.manifest()?;
        match manifest
            .plugins
            .iter()
            .find(|p| p.formats.iter().any(|format| format == name))
        {
            Some(plugin) => self.load(plugin).map(Some),
            None => Ok(None),
        }
    }

    /// Every format name the installed plugins provide.
    pub fn format_names(&self) -> Result<Vec<String>> {
        Ok(self
            .manifest()?
            .plugins
            .into_iter()
            .flat_map(|p| p.formats)
            .collect())
    }

    /// Install (or upgrade) the library at `library`, recording `source` as where it came from.
    pub fn install(&self, library: &Path, source: &str) -> Result<InstalledPlugin> {
        // Read once: the bytes checked, loaded and hashed here are the bytes installed, and later
        // edits of the original change nothing.
        let bytes = loader::read_checked(library)?;
        self.ensure_folder()?;
        let loaded = loader::open_bytes(&bytes, library, &self.folder)?;
        let description = &loaded.description;
        validate_name(library, "plugin", &description.name)?;
        for preset in &description.presets {
            validate_name(library, "preset", &preset.name)?;
        }
        for format in &description.formats {
            validate_name(library, "format", &format.name)?;
            if BUILT_IN_FORMATS.contains(&format.name.as_str()) {
                return Err(plugin_error(
                    library,
                    format!("its format {:?} would shadow the built-in one", format.name),
                ));
            }
        }
        if description.presets.is_empty() && description.formats.is_empty() {
            return Err(plugin_error(library, "it provides no preset and no format"));
        }
        let file = format!("{}{}", description.name, library_suffix());
        let destination = self.folder.join(&file);
        // Written before taking the lock (the slow part: megabytes and an fsync), renamed under it.
        let staged = files::stage(&destination, &bytes).map_err(|e| {
            Error::Internal(format!(
                "cannot copy the plugin into {}: {e}",
                destination.display()
            ))
        })?;
        let _lock = self.lock_manifest()?;
        let mut manifest = self.manifest()?;
        // Another plugin providing the same preset or format would make `--preset NAME` ambiguous.
        for other in manifest
            .plugins
            .iter()
            .filter(|p| p.name != description.name)
        {
            let clash = description
                .presets
                .iter()
                .find(|p| other.presets.contains(&p.name))
                .map(|p| format!("preset {:?}", p.name))
                .or_else(|| {
                    description
                        .formats
                        .iter()
                        .find(|f| other.formats.contains(&f.name))
                        .map(|f| format!("format {:?}", f.name))
                });
            if let Some(clash) = clash {
                return Err(Error::invalid_with_hint(
                    format!(
                        "plugin {:?} provides {clash}, which the installed plugin {:?} already provides",
                        description.name, other.name
                    ),
                    format!("remove it first: s3creds plugin remove {}", other.name),
                ));
            }
        }
        staged.commit().map_err(|e| {
            Error::Internal(format!(
                "cannot copy the plugin into {}: {e}",
                destination.display()
            ))
        })?;
        let entry = InstalledPlugin {
            name: description.name.clone(),
            version: description.version.clone(),
            abi: s3creds_plugin_api::ABI_VERSION,
            file,
            sha256: sha256_hex(&bytes),
            source: source.to_string(),
            presets: description.presets.iter().map(|p| p.name.clone()).collect(),
            formats: description.formats.iter().map(|f| f.name.clone()).collect(),
        };
        manifest.plugins.retain(|p| p.name != entry.name);
        manifest.plugins.push(entry.clone());
        manifest.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        self.write_manifest(&manifest)?;
        Ok(entry)
    }

    /// Forget plugin `name` and delete its library.
    pub fn remove(&self, name: &str) -> Result<InstalledPlugin> {
        let _lock = self.lock_manifest()?;
        let mut manifest = self.manifest()?;
        let Some(position) = manifest.plugins.iter().position(|p| p.name == name) else {
            return Err(unknown_plugin(name, &manifest));
        };
        let removed = manifest.plugins.remove(position);
        self.write_manifest(&manifest)?;
        match std::fs::remove_file(self.folder.join(&removed.file)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Internal(format!(
                    "plugin {name} is forgotten, but its file could not be deleted: {e}"
                )))
            }
        }
        Ok(removed)
    }

    /// The manifest entry of plugin `name`.
    pub fn find(&self, name: &str) -> Result<InstalledPlugin> {
        let manifest = self.manifest()?;
        manifest
            .plugins
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| unknown_plugin(name, &manifest))
    }
}

fn unknown_plugin(name: &str, manifest: &Manifest) -> Error {
    let names: Vec<&str> = manifest.plugins.iter().map(|p| p.name.as_str()).collect();
    Error::invalid_with_hint(
        format!("no installed plugin is called {name:?}"),
        if names.is_empty() {
            "no plugin is installed".to_string()
        } else {
            format!("installed plugins: {}", names.join(", "))
        },
    )
}

/// Names become file names and command-line values: keep them boring.
fn validate_name(path: &Path, what: &str, name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if valid {
        Ok(())
    } else {
        Err(plugin_error(
            path,
            format!("invalid {what} name {name:?}: use 1-64 lowercase letters, digits, '-' or '_'"),
        ))
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn library_suffix() -> &'static str {
    std::env::consts::DLL_SUFFIX
}

/// A name inside the plugins folder: no separator, no `..`, not absolute, not hidden (the folder's
/// own temporary and lock files start with a dot).
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':', '\0'])
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words() {
        let path = Path::new("x.so");
        assert!(validate_name(path, "preset", "s3-ocr").is_ok());
        assert!(validate_name(path, "preset", "../evil").is_err());
        assert!(validate_name(path, "preset", "-flag").is_err());
        assert!(validate_name(path, "preset", "").is_err());
    }

    #[test]
    fn only_plain_file_names_are_accepted() {
        assert!(is_plain_file_name("textract.so"));
        for bad in [
            "",
            ".",
            "..",
            "../x.so",
            "../../x.so",
            "/tmp/x.so",
            "sub/x.so",
            "..\\x.dll",
            "C:x.dll",
            ".manifest.toml.s3creds-lock",
            "x\0.so",
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_manifest_round_trips_with_a_format_version() {
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            plugins: vec![InstalledPlugin {
                name: "textract".into(),
                version: "0.1.0".into(),
                abi: 1,
                file: "textract.so".into(),
                sha256: "00".into(),
                source: "/src".into(),
                presets: vec!["textract".into()],
                formats: vec![],
            }],
        };
        let text = toml::to_string_pretty(&manifest).unwrap();
        assert!(text.starts_with("format = 1\n"), "{text}");
        assert_eq!(toml::from_str::<Manifest>(&text).unwrap(), manifest);
    }
}
