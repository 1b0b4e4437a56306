//! Secret Service (gnome-keyring, KeePassXC, ...) spoken directly over ONE D-Bus connection with a
//! plain session.
//!
//! A cache hit is four messages: Hello, OpenSession("plain"), SearchItems, GetSecrets. Earlier versions
//! went through the `secret-service` crate: a second connection for the store, a Diffie-Hellman
//! session, and a proxy per collection and item, 13-16 ms per hit; then one connection and six
//! messages, about 10 ms. The plain session is the specification's `plain` algorithm (libsecret falls
//! back to it): the session bus socket is private to the user, and a process able to read its traffic
//! runs as the user and can read the unlocked collection directly, so encryption protected nothing.
//!
//! Nothing here may prompt. Reads take only items the service reports as unlocked (reading a locked one
//! would need Unlock, which prompts). Writes go to the default collection only when it is already
//! unlocked, and a call that answers with a prompt is dismissed and counts as a failure.

use super::{Backend, SERVICE};
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};
use zbus::blocking::Connection;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

const BUS_NAME: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_INTERFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_INTERFACE: &str = "org.freedesktop.Secret.Collection";
const ITEM_INTERFACE: &str = "org.freedesktop.Secret.Item";
const PROMPT_INTERFACE: &str = "org.freedesktop.Secret.Prompt";
const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";
/// The object path meaning "none" (no prompt needed, no such alias).
const NO_OBJECT: &str = "/";

/// The specification's Secret struct: session, parameters, value, content type.
type SecretStruct = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

pub struct SecretServiceStore {
    connection: Connection,
    session: OwnedObjectPath,
}

impl SecretServiceStore {
    /// Connect and open a plain session, all within `patience`: a bus that accepts the connection and
    /// never answers must not hold up the helper. Later calls on the connection are bounded by the
    /// same duration.
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

    fn call<B>(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        body: &B,
    ) -> zbus::Result<zbus::Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.connection
            .call_method(Some(BUS_NAME), path, Some(interface), method, body)
    }

    fn property(&self, path: &str, interface: &str, name: &str) -> Result<OwnedValue, String> {
        self.call(path, PROPERTIES_INTERFACE, "Get", &(interface, name))
            .and_then(|reply| reply.body().deserialize::<OwnedValue>())
            .map_err(|e| format!("Secret Service: {e}"))
    }

    /// The unlocked items carrying `attributes`, in any collection.
    fn unlocked_items(
        &self,
        attributes: &HashMap<&str, &str>,
    ) -> Result<Vec<OwnedObjectPath>, String> {
        let reply = self
            .call(
                SERVICE_PATH,
                SERVICE_INTERFACE,
                "SearchItems",
                &(attributes,),
            )
            .map_err(|e| format!("cannot search the Secret Service: {e}"))?;
        let (unlocked, _locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) = reply
            .body()
            .deserialize()
            .map_err(|e| format!("Secret Service: {e}"))?;
        Ok(unlocked)
    }

    /// The default collection, if it is unlocked: writing to a locked one would prompt.
    fn unlocked_default_collection(&self) -> Result<OwnedObjectPath, String> {
        let collection: OwnedObjectPath = self
            .call(SERVICE_PATH, SERVICE_INTERFACE, "ReadAlias", &("default",))
            .and_then(|reply| reply.body().deserialize())
            .map_err(|e| format!("Secret Service has no default collection: {e}"))?;
        if collection.as_str() == NO_OBJECT {
            return Err("Secret Service has no default collection".to_string());
        }
        let locked = self.property(collection.as_str(), COLLECTION_INTERFACE, "Locked")?;
        match bool::try_from(&*locked) {
            Ok(false) => Ok(collection),
            Ok(true) => {
                Err("the Secret Service collection is locked (unlocking would prompt)".to_string())
            }
            Err(e) => Err(format!("Secret Service: {e}")),
        }
    }

    /// A call answered with a prompt object wants the user: dismiss it rather than show it.
    fn refuse_prompt(&self, prompt: &OwnedObjectPath, what: &str) -> Result<(), String> {
        if prompt.as_str() == NO_OBJECT {
            return Ok(());
        }
        let _ = self.call(prompt.as_str(), PROMPT_INTERFACE, "Dismiss", &());
        Err(format!("Secret Service wanted to prompt to {what}"))
    }

    fn delete_item(&self, item: &ObjectPath<'_>) -> Result<(), String> {
        let prompt: OwnedObjectPath = self
            .call(item.as_str(), ITEM_INTERFACE, "Delete", &())
            .and_then(|reply| reply.body().deserialize())
            .map_err(|e| format!("cannot delete a Secret Service item: {e}"))?;
        self.refuse_prompt(&prompt, "delete an item")
    }
}

fn connect(patience: Duration) -> Result<SecretServiceStore, String> {
    let connection = zbus::blocking::connection::Builder::session()
        .and_then(|builder| builder.method_timeout(patience).build())
        .map_err(|e| format!("Secret Service does not answer: {e}"))?;
    let reply = connection
        .call_method(
            Some(BUS_NAME),
            SERVICE_PATH,
            Some(SERVICE_INTERFACE),
            "OpenSession",
            &("plain", Value::from("")),
        )
        .map_err(|e| format!("Secret Service does not answer: {e}"))?;
    let (_output, session): (OwnedValue, OwnedObjectPath) = reply
        .body()
        .deserialize()
        .map_err(|e| format!("Secret Service: {e}"))?;
    Ok(SecretServiceStore {
        connection,
        session,
    })
}

/// The attributes linux's keyring-core store (zbus-secret-service-keyring-store) used, so entries
/// written by earlier versions are found, replaced and cleared.
fn attributes(name: &str) -> HashMap<&str, &str> {
    HashMap::from([("service", SERVICE), ("username", name)])
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
                &(vec![first.as_ref()], self.session.as_ref()),
            )
            .ok()?;
        let mut secrets: HashMap<OwnedObjectPath, SecretStruct> =
            reply.body().deserialize().ok()?;
        let (_session, _parameters, value, _content_type) = secrets.remove(first)?;
        String::from_utf8(value).ok()
    }

    /// Secret Service has no expiry: expired entries are removed by the index's purge and by
    /// `cache clear`, which lists every s3creds item. Copies of the entry outside the default
    /// collection are removed, so a read never finds a stale one first.
    fn set(&self, name: &str, value: &str, _expires_at: Option<SystemTime>) -> Result<(), String> {
        let collection = self.unlocked_default_collection()?;
        let label = format!("keyring:{name}@{SERVICE}");
        let properties: HashMap<&str, Value<'_>> = HashMap::from([
            (
                "org.freedesktop.Secret.Item.Label",
                Value::from(label.as_str()),
            ),
            (
                "org.freedesktop.Secret.Item.Attributes",
                Value::from(attributes(name)),
            ),
        ]);
        let secret = (
            self.session.as_ref(),
            Vec::<u8>::new(),
            value.as_bytes(),
            "text/plain",
        );
        let reply = self
            .call(
                collection.as_str(),
                COLLECTION_INTERFACE,
                "CreateItem",
                &(properties, secret, true),
            )
            .map_err(|e| e.to_string())?;
        let (item, prompt): (OwnedObjectPath, OwnedObjectPath) =
            reply.body().deserialize().map_err(|e| e.to_string())?;
        self.refuse_prompt(&prompt, "store an item")?;
        let prefix = format!("{}/", collection.as_str());
        for other in self.unlocked_items(&attributes(name))? {
            if other != item && !other.as_str().starts_with(&prefix) {
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
        let items = self.unlocked_items(&HashMap::from([("service", SERVICE)]))?;
        let mut names: Vec<String> = items
            .iter()
            .filter_map(|item| {
                let value = self
                    .property(item.as_str(), ITEM_INTERFACE, "Attributes")
                    .ok()?;
                let mut attributes = HashMap::<String, String>::try_from(value).ok()?;
                attributes.remove("username")
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
