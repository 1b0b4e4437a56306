//! Secret Service (gnome-keyring, KeePassXC, ...) spoken directly over ONE D-Bus connection with a
//! plain session, on the blocking wire protocol of `super::dbus`.
//!
//! A cache hit is three round trips: the authentication, Hello and OpenSession("plain") in one write,
//! then SearchItems, then GetSecrets. Earlier versions went through the `secret-service` crate: a
//! second connection for the store, a Diffie-Hellman session, and a proxy per collection and item,
//! 13-16 ms per hit; then zbus, 8.4 ms; then four unpipelined messages, 5.5-6 ms. What is left is the
//! keyring daemon's and the bus's own work for a new client (2.6 ms of CPU with gnome-keyring), which
//! is why `auto` prefers the kernel keyring (see `keystore.rs`). The plain session is the
//! specification's `plain` algorithm (libsecret falls back to it): the session bus socket is private
//! to the user, and a process able to read its traffic runs as the user and can read the unlocked
//! collection directly, so encryption protected nothing.
//!
//! Nothing here may prompt. Reads take only items the service reports as unlocked (reading a locked one
//! would need Unlock, which prompts). Writes go to the default collection only when it is already
//! unlocked, and a call that answers with a prompt is dismissed and counts as a failure.

use super::dbus::{Connection, MethodCall, Value, TIMED_OUT};
use super::{Backend, SERVICE};
use std::cell::RefCell;
use std::time::{Duration, SystemTime};

const BUS_NAME: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_INTERFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_INTERFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_INTERFACE: &str = "org.freedesktop.Secret.Item";
const PROMPT_INTERFACE: &str = "org.freedesktop.Secret.Prompt";
const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";
/// The object path meaning "none" (no prompt needed, no such alias).
const NO_OBJECT: &str = "/";

pub struct SecretServiceStore {
    /// Calls take `&mut` (serials, one reply at a time); the `Backend` trait lends `&self`.
    connection: RefCell<Connection>,
    session: String,
}

impl SecretServiceStore {
    /// Connect and open a plain session, all within `patience`: a bus that accepts the connection and
    /// never answers must not hold up the helper. One round trip: authentication, Hello and
    /// OpenSession("plain") go in a single write. Every later batch of calls on the connection is
    /// bounded by the same duration.
    pub fn open(patience: Duration) -> Result<SecretServiceStore, String> {
        let open_session = MethodCall {
            destination: BUS_NAME,
            path: SERVICE_PATH,
            interface: SERVICE_INTERFACE,
            member: "OpenSession",
            arguments: &[
                Value::str("plain"),
                Value::Variant(Box::new(Value::str(""))),
            ],
        };
        let silent = |e: String| {
            if e.starts_with(TIMED_OUT) {
                format!("Secret Service {e}")
            } else {
                format!("Secret Service does not answer: {e}")
            }
        };
        let (connection, mut replies) =
            Connection::session(patience, &[open_session]).map_err(silent)?;
        let reply = replies
            .pop()
            .ok_or("Secret Service: no OpenSession reply")?
            .map_err(silent)?;
        let session = reply
            .get(1)
            .and_then(Value::as_str)
            .ok_or("Secret Service: an unexpected OpenSession reply")?
            .to_string();
        Ok(SecretServiceStore {
            connection: RefCell::new(connection),
            session,
        })
    }

    fn call(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        arguments: &[Value],
    ) -> Result<Vec<Value>, String> {
        self.connection
            .borrow_mut()
            .call(BUS_NAME, path, interface, method, arguments)
    }

    fn property(&self, path: &str, interface: &str, name: &str) -> Result<Value, String> {
        self.call(
            path,
            PROPERTIES_INTERFACE,
            "Get",
            &[Value::str(interface), Value::str(name)],
        )
        .map_err(|e| format!("Secret Service: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| "Secret Service: an empty property reply".to_string())
    }

    /// The unlocked items carrying `attributes`, in any collection.
    fn unlocked_items(&self, attributes: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let reply = self
            .call(
                SERVICE_PATH,
                SERVICE_INTERFACE,
                "SearchItems",
                &[Value::string_map(attributes)],
            )
            .map_err(|e| format!("cannot search the Secret Service: {e}"))?;
        let unlocked = reply
            .first()
            .and_then(Value::as_array)
            .ok_or("Secret Service: an unexpected SearchItems reply")?;
        Ok(unlocked
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect())
    }

    /// The default collection, if it is unlocked: writing to a locked one would prompt.
    fn unlocked_default_collection(&self) -> Result<String, String> {
        let collection = self
            .call(
                SERVICE_PATH,
                SERVICE_INTERFACE,
                "ReadAlias",
                &[Value::str("default")],
            )
            .map_err(|e| format!("Secret Service has no default collection: {e}"))?
            .first()
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| NO_OBJECT.to_string());
        if collection == NO_OBJECT {
            return Err("Secret Service has no default collection".to_string());
        }
        let locked = self.property(&collection, COLLECTION_INTERFACE, "Locked")?;
        match locked.as_bool() {
            Some(false) => Ok(collection),
            Some(true) => {
                Err("the Secret Service collection is locked (unlocking would prompt)".to_string())
            }
            None => Err("Secret Service: the Locked property is not a boolean".to_string()),
        }
    }

    /// A call answered with a prompt object wants the user: dismiss it rather than show it.
    fn refuse_prompt(&self, prompt: &str, what: &str) -> Result<(), String> {
        if prompt == NO_OBJECT {
            return Ok(());
        }
        let _ = self.call(prompt, PROMPT_INTERFACE, "Dismiss", &[]);
        Err(format!("Secret Service wanted to prompt to {what}"))
    }

    fn delete_item(&self, item: &str) -> Result<(), String> {
        let reply = self
            .call(item, ITEM_INTERFACE, "Delete", &[])
            .map_err(|e| format!("cannot delete a Secret Service item: {e}"))?;
        let prompt = reply.first().and_then(Value::as_str).unwrap_or(NO_OBJECT);
        self.refuse_prompt(prompt, "delete an item")
    }
}

/// The attributes linux's keyring-core store (zbus-secret-service-keyring-store) used, so entries
/// written by earlier versions are found, replaced and cleared.
fn attributes(name: &str) -> [(&str, &str); 2] {
    [("service", SERVICE), ("username", name)]
}

impl Backend for SecretServiceStore {
    fn get(&self, name: &str) -> Option<String> {
        let items = self.unlocked_items(&attributes(name)).ok()?;
        let first = items.first()?;
        let reply = self
            .call(
                SERVICE_PATH,
                SERVICE_INTERFACE,
                "GetSecrets",
                &[
                    Value::Array("o".into(), vec![Value::path(first)]),
                    Value::path(&self.session),
                ],
            )
            .ok()?;
        // a{o(oayays)}: the item's Secret struct is (session, parameters, value, content type).
        let secret = reply
            .first()?
            .as_array()?
            .iter()
            .find_map(|entry| match entry {
                Value::DictEntry(item, secret) if item.as_str() == Some(first) => Some(secret),
                _ => None,
            })?;
        let Value::Struct(fields) = secret.as_ref() else {
            return None;
        };
        String::from_utf8(fields.get(2)?.as_bytes()?).ok()
    }

    /// Secret Service has no expiry: expired entries are removed by the index's purge and by
    /// `cache clear`, which lists every s3creds item. Copies of the entry outside the default
    /// collection are removed, so a read never finds a stale one first.
    fn set(&self, name: &str, value: &str, _expires_at: Option<SystemTime>) -> Result<(), String> {
        let collection = self.unlocked_default_collection()?;
        let label = format!("keyring:{name}@{SERVICE}");
        let property = |key: &str, value: Value| {
            Value::DictEntry(
                Box::new(Value::str(key)),
                Box::new(Value::Variant(Box::new(value))),
            )
        };
        let properties = Value::Array(
            "{sv}".into(),
            vec![
                property("org.freedesktop.Secret.Item.Label", Value::str(&label)),
                property(
                    "org.freedesktop.Secret.Item.Attributes",
                    Value::string_map(&attributes(name)),
                ),
            ],
        );
        let secret = Value::Struct(vec![
            Value::path(&self.session),
            Value::bytes(b""),
            Value::bytes(value.as_bytes()),
            Value::str("text/plain"),
        ]);
        let reply = self.call(
            &collection,
            COLLECTION_INTERFACE,
            "CreateItem",
            &[properties, secret, Value::Bool(true)],
        )?;
        let (item, prompt) = match (
            reply.first().and_then(Value::as_str),
            reply.get(1).and_then(Value::as_str),
        ) {
            (Some(item), Some(prompt)) => (item.to_string(), prompt.to_string()),
            _ => return Err("Secret Service: an unexpected CreateItem reply".to_string()),
        };
        self.refuse_prompt(&prompt, "store an item")?;
        let prefix = format!("{collection}/");
        for other in self.unlocked_items(&attributes(name))? {
            if other != item && !other.starts_with(&prefix) {
                self.delete_item(&other)?;
            }
        }
        Ok(())
    }

    fn delete(&self, name: &str) {
        if let Ok(items) = self.unlocked_items(&attributes(name)) {
            for item in items {
                let _ = self.delete_item(&item);
            }
        }
    }

    fn names(&self) -> Result<Vec<String>, String> {
        let items = self.unlocked_items(&[("service", SERVICE)])?;
        let mut names: Vec<String> = items
            .iter()
            .filter_map(|item| {
                let value = self.property(item, ITEM_INTERFACE, "Attributes").ok()?;
                value
                    .as_string_map()?
                    .into_iter()
                    .find(|(key, _)| key == "username")
                    .map(|(_, name)| name)
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
