//! The platform stores reached through keyring-core: macOS Keychain and Windows Credential Manager.

use super::{Backend, SERVICE};
use keyring_core::{CredentialStore, Entry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

pub struct NativeStore {
    pub store: Arc<CredentialStore>,
}

impl NativeStore {
    fn entry(&self, name: &str) -> Result<Entry, String> {
        Entry::new_in_store(&self.store, SERVICE, name).map_err(|e| e.to_string())
    }
}

impl Backend for NativeStore {
    fn get(&self, name: &str) -> Option<String> {
        self.entry(name).ok()?.get_password().ok()
    }

    /// Neither store expires entries: expired ones are removed by the index's purge and by `cache
    /// clear`.
    fn set(&self, name: &str, value: &str, _expires_at: Option<SystemTime>) -> Result<(), String> {
        self.entry(name)?
            .set_password(value)
            .map_err(|e| e.to_string())
    }

    fn delete(&self, name: &str) {
        if let Ok(entry) = self.entry(name) {
            let _ = entry.delete_credential();
        }
    }

    fn names(&self) -> Result<Vec<String>, String> {
        let entries = Entry::search_in_store(&self.store, &HashMap::from([("service", SERVICE)]))
            .map_err(|e| format!("cannot list the keyring: {e}"))?;
        let mut names: Vec<String> = entries
            .iter()
            .filter_map(Entry::get_specifiers)
            .filter(|(service, _)| service == SERVICE)
            .map(|(_, name)| name)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}
