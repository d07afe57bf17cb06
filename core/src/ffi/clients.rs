//! [`Clients`]: the app's handle to clients (patients), over `crate::domain::clients`.

use std::sync::Arc;

use super::error::WardError;
use crate::domain::clients::{ClientInput, ClientView};
use crate::domain::notes::SearchHit;
use crate::vault::Vault;

type R<T> = Result<T, WardError>;

/// Clients (patients).
#[derive(Debug, uniffi::Object)]
pub struct Clients {
    pub(super) vault: Arc<Vault>,
}

#[uniffi::export]
impl Clients {
    /// Adds a client.
    pub fn create(&self, input: ClientInput) -> R<ClientView> {
        Ok(self.vault.create_client(input)?)
    }
    /// Adds a client and assigns the treating clinicians (user ids) in the same step: front
    /// desk registering a patient. The assignment reaches the server with the client's first
    /// sync.
    pub fn create_assigned(&self, input: ClientInput, clinician_ids: Vec<String>) -> R<ClientView> {
        let team = clinician_ids
            .iter()
            .map(|u| {
                u.parse::<uuid::Uuid>()
                    .map_err(|_| WardError::InvalidInput {
                        detail: format!("{u:?} is not a user id"),
                    })
            })
            .collect::<R<Vec<_>>>()?;
        Ok(self.vault.create_client_assigned(input, &team)?)
    }
    /// Edits a client (based on the version the user saw).
    pub fn update(
        &self,
        client_id: String,
        base_version_id: String,
        input: ClientInput,
    ) -> R<ClientView> {
        Ok(self
            .vault
            .update_client(&client_id, &base_version_id, input)?)
    }
    /// The clients this phone holds, by name: after a sync, those the user may still read
    /// ("my clients"; `break_glass_until_ms` marks emergency access), plus any added here
    /// and not synced yet.
    pub fn list(&self) -> R<Vec<ClientView>> {
        Ok(self.vault.list_clients()?)
    }
    /// Opens one client (audited).
    pub fn get(&self, client_id: String) -> R<ClientView> {
        Ok(self.vault.get_client(&client_id)?)
    }
    /// Searches client names and note texts.
    pub fn search(&self, query: String, limit: u32) -> R<Vec<SearchHit>> {
        Ok(self.vault.search(&query, limit)?)
    }
}
