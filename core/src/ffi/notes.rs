//! [`Notes`]: the app's handle to clinical notes, over `crate::domain::notes`.

use std::sync::Arc;

use super::error::WardError;
use crate::domain::notes::{NoteBody, NoteSummary, NoteView};
use crate::vault::Vault;

type R<T> = Result<T, WardError>;

/// Clinical notes.
#[derive(Debug, uniffi::Object)]
pub struct Notes {
    pub(super) vault: Arc<Vault>,
}

#[uniffi::export]
impl Notes {
    /// Starts a draft.
    pub fn create(&self, client_id: String, body: NoteBody) -> R<NoteView> {
        Ok(self.vault.create_note(&client_id, body)?)
    }
    /// Saves an edit of a draft.
    pub fn edit(&self, note_id: String, base_version_id: String, body: NoteBody) -> R<NoteView> {
        Ok(self.vault.edit_note(&note_id, &base_version_id, body)?)
    }
    /// Signs and locks.
    pub fn sign(&self, note_id: String, version_id: String) -> R<NoteView> {
        Ok(self.vault.sign_note(&note_id, &version_id)?)
    }
    /// Adds a dated addendum to a signed note.
    pub fn amend(&self, note_id: String, text: String) -> R<NoteView> {
        Ok(self.vault.amend_note(&note_id, &text)?)
    }
    /// Opens a note (audited).
    pub fn get(&self, note_id: String) -> R<NoteView> {
        Ok(self.vault.get_note(&note_id)?)
    }
    /// All versions.
    pub fn history(&self, note_id: String) -> R<Vec<NoteView>> {
        Ok(self.vault.note_history(&note_id)?)
    }
    /// A client's notes.
    pub fn list(&self, client_id: String) -> R<Vec<NoteSummary>> {
        Ok(self.vault.list_notes(&client_id)?)
    }
}
