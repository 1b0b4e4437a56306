//! The OS keyring behind the credential cache, chosen so that nothing ever blocks or prompts.
//!
//! Linux: Secret Service when a D-Bus session answers quickly and its default collection is already
//! unlocked (unlocking would prompt), else the kernel keyring (keyutils). macOS: Keychain. Windows:
//! Credential Manager. `S3CREDS_KEYRING=auto|secret-service|keyutils|none` overrides the choice.
//!
//! Every failure here is reported as a reason string: the caller degrades to "no cache" and says why
//! once, because a credential_process helper must never fail an SDK call over a cache.

use keyring_core::{CredentialStore, Entry};
use std::sync::Arc;

/// The keyring "service" all s3creds entries live under.
pub const SERVICE: &str = "s3creds";

pub struct KeyStore {
    pub backend: &'static str,
    store: Arc<CredentialStore>,
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

    fn entry(&self, name: &str) -> Result<Entry, String> {
        Entry::new_in_store(&self.store, SERVICE, name).map_err(|e| e.to_string())
    }

    /// The stored text, or None when absent or unreadable.
    pub fn get(&self, name: &str) -> Option<String> {
        self.entry(name).ok()?.get_password().ok()
    }

    /// Store `value`, then read it back: on Linux a process without its own session keyring can write
    /// to the kernel keyring but not read what it wrote, which would silently cache nothing.
    pub fn set(&self, name: &str, value: &str) -> Result<(), String> {
        let entry = self.entry(name)?;
        entry
            .set_password(value)
            .map_err(|e| format!("the {} keyring refused the write: {e}", self.backend))?;
        match entry.get_password() {
            Ok(read) if read == value => Ok(()),
            _ => {
                let _ = entry.delete_credential();
                Err(format!(
                    "the {} keyring accepted a write but did not give it back (on Linux: no session \
                     keyring in this process; run inside a login session or `keyctl session -`)",
                    self.backend
                ))
            }
        }
    }

    pub fn delete(&self, name: &str) {
        if let Ok(entry) = self.entry(name) {
            let _ = entry.delete_credential();
        }
    }
}

#[cfg(target_os = "linux")]
fn platform_default() -> Result<KeyStore, String> {
    // Only try D-Bus when a session bus is advertised: probing costs time on every call otherwise.
    if crate::env::var_os(crate::env::DBUS_SESSION).is_some() {
        if let Ok(store) = secret_service() {
            return Ok(store);
        }
    }
    keyutils()
}

#[cfg(target_os = "linux")]
fn keyutils() -> Result<KeyStore, String> {
    let store = linux_keyutils_keyring_store::Store::new()
        .map_err(|e| format!("the kernel keyring is not available: {e}"))?;
    Ok(KeyStore {
        backend: "kernel (keyutils)",
        store,
    })
}

#[cfg(target_os = "linux")]
fn secret_service() -> Result<KeyStore, String> {
    if crate::env::var_os(crate::env::DBUS_SESSION).is_none() {
        return Err(
            "Secret Service needs a D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)".into(),
        );
    }
    secret_service_is_unlocked()?;
    let store = zbus_secret_service_keyring_store::Store::new()
        .map_err(|e| format!("Secret Service is not available: {e}"))?;
    Ok(KeyStore {
        backend: "Secret Service",
        store,
    })
}

/// Ask, with a deadline, whether the default collection is unlocked. A locked collection would make
/// every read prompt for a password, and a helper under an SDK has nobody to answer it.
#[cfg(target_os = "linux")]
fn secret_service_is_unlocked() -> Result<(), String> {
    use std::sync::mpsc;
    use std::time::Duration;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let answer = (|| {
            let service = secret_service::blocking::SecretService::connect(
                secret_service::EncryptionType::Plain,
            )
            .map_err(|e| format!("Secret Service does not answer: {e}"))?;
            let collection = service
                .get_default_collection()
                .map_err(|e| format!("Secret Service has no default collection: {e}"))?;
            match collection.is_locked() {
                Ok(false) => Ok(()),
                Ok(true) => Err(
                    "the Secret Service collection is locked (unlocking would prompt)".to_string(),
                ),
                Err(e) => Err(format!("Secret Service: {e}")),
            }
        })();
        let _ = sender.send(answer);
    });
    receiver
        .recv_timeout(Duration::from_millis(500))
        .unwrap_or_else(|_| Err("Secret Service did not answer within 500 ms".to_string()))
}

#[cfg(target_os = "macos")]
fn platform_default() -> Result<KeyStore, String> {
    let store = apple_native_keyring_store::keychain::Store::new()
        .map_err(|e| format!("the Keychain is not available: {e}"))?;
    Ok(KeyStore {
        backend: "macOS Keychain",
        store,
    })
}

#[cfg(target_os = "windows")]
fn platform_default() -> Result<KeyStore, String> {
    let store = windows_native_keyring_store::Store::new()
        .map_err(|e| format!("the Credential Manager is not available: {e}"))?;
    Ok(KeyStore {
        backend: "Windows Credential Manager",
        store,
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
