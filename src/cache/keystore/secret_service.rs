//! Secret Service (gnome-keyring, KeePassXC, ...) over ONE D-Bus connection with a plain session.
//!
//! A cache hit is six messages on one connection: Hello, OpenSession, ReadAlias("default"), the
//! collection's Locked property, SearchItems, GetSecret. Earlier versions opened a second connection
//! for the store and negotiated an encrypted (Diffie-Hellman) session on it, 13-16 ms per hit instead
//! of a few. The plain session is the Secret Service specification's `plain` algorithm (libsecret
//! falls back to it): the session bus socket is private to the user, and a process able to read its
//! traffic runs as the user and can read the unlocked collection directly, so the encryption protected
//! nothing the user does not already expose.
//!
//! Nothing here may prompt: only the default collection is used, and only when it is already unlocked
//! (checked on open); items are searched in that collection only, so no locked item is ever touched.

use super::{Backend, SERVICE};
use secret_service::blocking::{Collection, SecretService};
use secret_service::EncryptionType;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};
use zbus::zvariant::OwnedObjectPath;

pub struct SecretServiceStore {
    service: SecretService<'static>,
    collection: OwnedObjectPath,
}

impl SecretServiceStore {
    /// Connect, open a plain session and check that the default collection is unlocked, all within
    /// `patience`: a bus that accepts the connection and never answers must not hold up the helper.
    /// Later calls on the connection are bounded by the same duration.
    pub fn open(patience: Duration) -> Result<SecretServiceStore, String> {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(connect(patience));
        });
        receiver.recv_timeout(patience).unwrap_or_else(|_| {
            Err(format!(
                "Secret Service did not answer within {} ms",
                patience.as_millis()
            ))
        })
    }

    fn collection(&self) -> Option<Collection<'_>> {
        self.service
            .get_collection_by_path(self.collection.clone())
            .ok()
    }
}

fn connect(patience: Duration) -> Result<SecretServiceStore, String> {
    let connection = zbus::blocking::connection::Builder::session()
        .and_then(|builder| builder.method_timeout(patience).build())
        .map_err(|e| format!("Secret Service does not answer: {e}"))?;
    let service = SecretService::connect_with_existing(EncryptionType::Plain, connection)
        .map_err(|e| format!("Secret Service does not answer: {e}"))?;
    let collection = {
        let collection = service
            .get_default_collection()
            .map_err(|e| format!("Secret Service has no default collection: {e}"))?;
        match collection.is_locked() {
            Ok(false) => collection.collection_path.clone(),
            Ok(true) => {
                return Err(
                    "the Secret Service collection is locked (unlocking would prompt)".to_string(),
                )
            }
            Err(e) => return Err(format!("Secret Service: {e}")),
        }
    };
    Ok(SecretServiceStore {
        service,
        collection,
    })
}

/// The attributes linux's keyring-core store (zbus-secret-service-keyring-store) used, so entries
/// written by earlier versions are found, replaced and cleared.
fn attributes(name: &str) -> HashMap<&str, &str> {
    HashMap::from([("service", SERVICE), ("username", name)])
}

impl Backend for SecretServiceStore {
    fn get(&self, name: &str) -> Option<String> {
        let collection = self.collection()?;
        let items = collection.search_items(attributes(name)).ok()?;
        String::from_utf8(items.first()?.get_secret().ok()?).ok()
    }

    /// Secret Service has no expiry: expired entries are removed by the index's purge and by
    /// `cache clear`, which lists every s3creds item.
    fn set(&self, name: &str, value: &str, _expires_at: Option<SystemTime>) -> Result<(), String> {
        let collection = self
            .collection()
            .ok_or("the default collection went away")?;
        collection
            .create_item(
                &format!("keyring:{name}@{SERVICE}"),
                attributes(name),
                value.as_bytes(),
                true,
                "text/plain",
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn delete(&self, name: &str) {
        if let Some(collection) = self.collection() {
            if let Ok(items) = collection.search_items(attributes(name)) {
                for item in items {
                    let _ = item.delete();
                }
            }
        }
    }

    fn names(&self) -> Result<Vec<String>, String> {
        let collection = self
            .collection()
            .ok_or("the default collection went away")?;
        let items = collection
            .search_items(HashMap::from([("service", SERVICE)]))
            .map_err(|e| format!("cannot list the Secret Service collection: {e}"))?;
        let mut names: Vec<String> = items
            .iter()
            .filter_map(|item| item.get_attributes().ok()?.remove("username"))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
