//! [`Consents`]: the app's handle to consents, over `crate::domain::consents`.

use std::sync::Arc;

use super::error::WardError;
use crate::domain::consents::{ConsentScope, ConsentView};
use crate::vault::Vault;

type R<T> = Result<T, WardError>;

/// Consents.
#[derive(Debug, uniffi::Object)]
pub struct Consents {
    pub(super) vault: Arc<Vault>,
}

#[uniffi::export]
impl Consents {
    /// Records a consent.
    pub fn record(
        &self,
        client_id: String,
        scopes: Vec<ConsentScope>,
        detail: Option<String>,
    ) -> R<ConsentView> {
        Ok(self.vault.record_consent(&client_id, scopes, detail)?)
    }
    /// Withdraws a consent.
    pub fn withdraw(&self, consent_id: String) -> R<ConsentView> {
        Ok(self.vault.withdraw_consent(&consent_id)?)
    }
    /// A client's consents.
    pub fn list(&self, client_id: String) -> R<Vec<ConsentView>> {
        Ok(self.vault.list_consents(&client_id)?)
    }
}
