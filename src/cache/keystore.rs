//! The OS keyring behind the credential cache, chosen so that nothing ever blocks or prompts.
//!
//! Linux: the kernel keyring (keyutils): the process's own session keyring, else the user keyring;
//! Secret Service only when neither can be used, and only when a D-Bus session answers quickly and its
//! default collection is already unlocked (unlocking would prompt). macOS: Keychain. Windows:
//! Credential Manager. `S3CREDS_KEYRING=auto|secret-service|keyutils|none` overrides the choice.
//!
//! Why the kernel keyring first, even on a desktop with Secret Service: the cache holds session
//! credentials that live at most 12 hours. The kernel keyring keeps them in memory only, drops each
//! entry by itself when its credentials expire, and answers in two system calls. Secret Service writes
//! them to disk (the login collection), and a hit costs a D-Bus connection to the bus and to the
//! keyring daemon: measured with gnome-keyring, the daemon and the bus spend 2.6 ms of CPU per
//! `serve`, more than a whole kernel-keyring hit takes, however few messages s3creds sends. On a
//! desktop without a session keyring of its own (no pam_keyinit), the user keyring is what every
//! process of the user reaches in every login session, as the login collection is.
//!
//! Every failure here is reported as a reason string: the caller degrades to "no cache" and says why
//! once, because a credential_process helper must never fail an SDK call over a cache.

#[cfg(target_os = "linux")]
mod dbus;
#[cfg(target_os = "linux")]
mod kernel;
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod native;
#[cfg(target_os = "linux")]
mod secret_service;

use std::time::{Duration, SystemTime};

/// The keyring "service" all s3creds entries live under.
pub const SERVICE: &str = "s3creds";

/// How long a keyring may take to answer before the cache is off for this run.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const PATIENCE: Duration = Duration::from_millis(500);

/// What every keyring offers the cache. Values are the stored text; names are s3creds entry names.
trait Backend {
    /// The stored text, or None when absent or unreadable.
    fn get(&self, name: &str) -> Option<String>;
    /// Store `value`; a keyring that can expire entries forgets it at `expires_at`.
    fn set(&self, name: &str, value: &str, expires_at: Option<SystemTime>) -> Result<(), String>;
    fn delete(&self, name: &str);
    /// Every s3creds entry in the keyring in use, whether the index knows it or not.
    fn names(&self) -> Result<Vec<String>, String>;
}

pub struct KeyStore {
    pub backend: &'static str,
    store: Box<dyn Backend>,
}

impl KeyStore {
    /// Open the keyring to use, or say why there is none.
    pub fn open() -> Result<KeyStore, String> {
        let choice = crate::env::var(crate::env::KEYRING).unwrap_or_else(|| "auto".to_string());
        match choice.as_str() {
            "none" => Err("S3CREDS_KEYRING=none".to_string()),
            "auto" | "" => platform_default(),
            "secret-service" => secret_service(),
            "keyutils" => keyutils(),
            other => Err(format!(
                "unknown S3CREDS_KEYRING={other:?} (use auto, secret-service, keyutils or none)"
            )),
        }
    }

    /// The stored text, or None when absent or unreadable.
    pub fn get(&self, name: &str) -> Option<String> {
        self.store.get(name)
    }

    /// Store `value` until `expires_at` (the kernel keyring drops it then by itself), then read it
    /// back: on Linux a process without its own session keyring can write to the kernel keyring but
    /// not read what it wrote, which would silently cache nothing.
    pub fn set_expiring(
        &self,
        name: &str,
        value: &str,
        expires_at: SystemTime,
    ) -> Result<(), String> {
        self.write(name, value, Some(expires_at))
    }

    fn write(&self, name: &str, value: &str, expires_at: Option<SystemTime>) -> Result<(), String> {
        self.store
            .set(name, value, expires_at)
            .map_err(|e| format!("the {} keyring refused the write: {e}", self.backend))?;
        match self.store.get(name) {
            Some(read) if read == value => Ok(()),
            _ => {
                self.store.delete(name);
                Err(format!(
                    "the {} keyring accepted a write but did not give it back (on Linux: a keyring \
                     this process does not possess; run inside a login session or `keyctl session -`)",
                    self.backend
                ))
            }
        }
    }

    pub fn delete(&self, name: &str) {
        self.store.delete(name);
    }

    /// Every s3creds entry in the keyring in use, including those no index knows (an index deleted
    /// with its folder, another `S3CREDS_CACHE_DIR`).
    pub fn names(&self) -> Result<Vec<String>, String> {
        self.store.names()
    }

    /// Delete every s3creds entry in the keyring in use and return their names.
    pub fn delete_all(&self) -> Result<Vec<String>, String> {
        let names = self.names()?;
        for name in &names {
            self.store.delete(name);
        }
        Ok(names)
    }
}

#[cfg(target_os = "linux")]
fn platform_default() -> Result<KeyStore, String> {
    keyutils().or_else(|kernel| {
        // Only try D-Bus when a session bus is advertised: probing costs time on every call otherwise.
        if crate::env::var_os(crate::env::DBUS_SESSION).is_none() {
            return Err(kernel);
        }
        secret_service().map_err(|reason| format!("{reason}; and {kernel}"))
    })
}

/// The process's own session keyring, else the user keyring (see `kernel.rs`).
#[cfg(target_os = "linux")]
fn keyutils() -> Result<KeyStore, String> {
    match kernel::KernelKeyring::open() {
        Ok(session) => Ok(KeyStore {
            backend: "kernel (keyutils)",
            store: Box::new(session),
        }),
        // No session keyring of its own: the reason is the user keyring's, if it fails too.
        Err(_) => Ok(KeyStore {
            backend: "kernel (keyutils, user keyring)",
            store: Box::new(kernel::KernelKeyring::open_user()?),
        }),
    }
}

#[cfg(target_os = "linux")]
fn secret_service() -> Result<KeyStore, String> {
    if crate::env::var_os(crate::env::DBUS_SESSION).is_none() {
        return Err(
            "Secret Service needs a D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)".into(),
        );
    }
    Ok(KeyStore {
        backend: "Secret Service",
        store: Box::new(secret_service::SecretServiceStore::open(PATIENCE)?),
    })
}

#[cfg(target_os = "macos")]
fn platform_default() -> Result<KeyStore, String> {
    let store = apple_native_keyring_store::keychain::Store::new()
        .map_err(|e| format!("the Keychain is not available: {e}"))?;
    Ok(KeyStore {
        backend: "macOS Keychain",
        store: Box::new(native::NativeStore { store }),
    })
}

#[cfg(target_os = "windows")]
fn platform_default() -> Result<KeyStore, String> {
    let store = windows_native_keyring_store::Store::new()
        .map_err(|e| format!("the Credential Manager is not available: {e}"))?;
    Ok(KeyStore {
        backend: "Windows Credential Manager",
        store: Box::new(native::NativeStore { store }),
    })
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_default() -> Result<KeyStore, String> {
    Err("no OS keyring is supported on this platform".to_string())
}

#[cfg(not(target_os = "linux"))]
fn keyutils() -> Result<KeyStore, String> {
    Err("the kernel keyring (keyutils) exists only on Linux".to_string())
}

#[cfg(not(target_os = "linux"))]
fn secret_service() -> Result<KeyStore, String> {
    Err("Secret Service is only used on Linux".to_string())
}
