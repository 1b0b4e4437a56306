//! The Linux kernel keyring (keyutils): entries are `user` keys, each with a kernel timeout at the
//! expiry of what it holds, in the process's own session keyring, or else in the user keyring.
//!
//! The session keyring comes first: under `keyctl session -` (a test, the demo, a CI job) or a login
//! with pam_keyinit, entries live and die with that session and its index. Without a session keyring
//! of its own a process gets the per-user "user session" keyring, where a key it adds can be neither
//! read back nor removed; the user keyring (`@u`, linked from it) works there, and is what every
//! process of the user reaches, in every login session, until the user's last process ends. That is
//! the desktop case, and it keeps a hit at two system calls instead of a Secret Service round trip
//! (see `keystore.rs`). The per-user persistent keyring is not used: it outlives the user's
//! processes by days.

use super::{Backend, SERVICE};
use linux_keyutils::{KeyError, KeyPermissions, KeyRing, KeyRingIdentifier};
use std::time::SystemTime;

/// Every right for the key's owner (view, read, write, search, link, setattr), none for a possessor,
/// the group or anyone else. The kernel adds possessor rights to the caller's own, so the owner keeps
/// all of them, and another user who possesses the key through a shared keyring gets none.
const OWNER_ONLY: u32 = 0x003f_0000;

pub struct KernelKeyring {
    ring: KeyRing,
}

/// The description layout of linux-keyutils-keyring-store, which earlier versions used: entries they
/// left behind are still found, replaced and cleared.
fn description(name: &str) -> String {
    format!("keyring:{name}@{SERVICE}")
}

/// The entry name inside a description, or None for keys that are not s3creds entries.
fn name_of(description: &str) -> Option<&str> {
    description
        .strip_prefix("keyring:")?
        .strip_suffix(&format!("@{SERVICE}"))
        .filter(|name| !name.is_empty())
}

impl KernelKeyring {
    /// The process's own session keyring (pam_keyinit at login, `keyctl session`, systemd's
    /// KeyringMode=private; two keyctl calls tell), or why there is none. Without one the kernel
    /// hands out the per-user "user session" keyring, where a key this process adds can be neither
    /// read back nor removed: writing there would leave an unreadable, undeletable copy of a secret.
    pub fn open() -> Result<KernelKeyring, String> {
        let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .map_err(|e| format!("the kernel keyring is not available: {e}"))?;
        if !is_own_session(session) {
            return Err(
                "this process has no session keyring of its own (run inside a login \
                        session, a systemd service, or `keyctl session -`)"
                    .to_string(),
            );
        }
        Ok(KernelKeyring { ring: session })
    }

    /// The user keyring, when this process may search it (it possesses it through its session
    /// keyring): one search for a name no entry has tells, without writing anything.
    pub fn open_user() -> Result<KernelKeyring, String> {
        let ring = KeyRing::from_special_id(KeyRingIdentifier::User, true)
            .map_err(|e| format!("the kernel user keyring is not available: {e}"))?;
        match ring.search(&description("probe")) {
            Ok(_) | Err(KeyError::KeyDoesNotExist) => Ok(KernelKeyring { ring }),
            Err(e) => Err(format!("the kernel user keyring cannot be searched: {e}")),
        }
    }
}

/// A session keyring that is not the user session keyring. When the user session keyring cannot be
/// had (a full key quota prevents the kernel from creating it), the session keyring cannot be it.
fn is_own_session(session: KeyRing) -> bool {
    KeyRing::from_special_id(KeyRingIdentifier::UserSession, false)
        .ok()
        .is_none_or(|user_session| user_session != session)
}

impl Backend for KernelKeyring {
    fn get(&self, name: &str) -> Option<String> {
        let key = self.ring.search(&description(name)).ok()?;
        String::from_utf8(key.read_to_vec().ok()?).ok()
    }

    fn set(&self, name: &str, value: &str, expires_at: Option<SystemTime>) -> Result<(), String> {
        let key = self
            .ring
            .add_key(&description(name), value.as_bytes())
            .map_err(|e| e.to_string())?;
        if let Some(expires_at) = expires_at {
            // Rounded up, and at least 1: a timeout of 0 would mean "never expires".
            let seconds = expires_at
                .duration_since(SystemTime::now())
                .map(|left| left.as_secs() + u64::from(left.subsec_nanos() > 0))
                .unwrap_or(0)
                .max(1);
            let seconds = usize::try_from(seconds).unwrap_or(usize::MAX);
            if let Err(e) = key.set_timeout(seconds) {
                // An entry without a timeout would outlive its credentials: do not keep it.
                let _ = key.invalidate();
                return Err(format!("cannot set the entry's timeout: {e}"));
            }
        }
        // The kernel's default gives every *possessor* of the key all rights, and a session keyring
        // can be shared with another user (sudo without pam_keyinit keeps the caller's): that user
        // could read the secret. Only the owning user keeps any right; possession adds none.
        if let Err(e) = key.set_perms(KeyPermissions::from_u32(OWNER_ONLY)) {
            let _ = key.invalidate();
            return Err(format!("cannot make the entry private to this user: {e}"));
        }
        Ok(())
    }

    fn delete(&self, name: &str) {
        // Invalidation removes the key from every keyring it is linked to (earlier versions also
        // linked it to the persistent keyring). Bounded: each pass removes one key or stops.
        for _ in 0..16 {
            match self.ring.search(&description(name)) {
                Ok(key) if key.invalidate().is_ok() => {}
                _ => break,
            }
        }
    }

    /// The kernel has no call that lists a keyring's contents by description without a buffer sized in
    /// advance, so the candidates come from /proc/keys (the keys this user may view), and a candidate
    /// counts when a search from the keyring in use finds it, i.e. it is in the keyring in use.
    fn names(&self) -> Result<Vec<String>, String> {
        let listing = std::fs::read_to_string("/proc/keys")
            .map_err(|e| format!("cannot list the kernel keyring (/proc/keys): {e}"))?;
        let mut names: Vec<String> = listing
            .lines()
            .filter_map(proc_keys_user_description)
            .filter_map(name_of)
            .filter(|name| self.ring.search(&description(name)).is_ok())
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// The description of a `user` key in a /proc/keys line:
/// `ID FLAGS USAGE TIMEOUT PERM UID GID TYPE DESCRIPTION: SUMMARY`.
fn proc_keys_user_description(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for _ in 0..7 {
        let (_, tail) = rest.split_once(char::is_whitespace)?;
        rest = tail.trim_start();
    }
    let (key_type, tail) = rest.split_once(char::is_whitespace)?;
    if key_type != "user" {
        return None;
    }
    let (description, _summary) = tail.trim_start().rsplit_once(": ")?;
    Some(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_keys_lines_give_the_descriptions_of_user_keys() {
        let line = "1a2b3c4d I--Q---     1  59m 3f010000     0     0 user      keyring:v1-abc@s3creds: 412";
        assert_eq!(
            proc_keys_user_description(line),
            Some("keyring:v1-abc@s3creds")
        );
        assert_eq!(name_of("keyring:v1-abc@s3creds"), Some("v1-abc"));
        assert_eq!(name_of("keyring:v1-abc.2@s3creds"), Some("v1-abc.2"));
        let keyring = "14817856 I--Q---     1 perm 1f3f0000     0 65534 keyring   _uid_ses.0: 1";
        assert_eq!(proc_keys_user_description(keyring), None);
        assert_eq!(name_of("keyring:x@other-app"), None);
        assert_eq!(name_of("keyring:@s3creds"), None);
        assert_eq!(proc_keys_user_description("garbage"), None);
    }
}
