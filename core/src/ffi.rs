//! The FFI surface the iOS and Android apps call: one facade object, [`WardVault`], and its
//! sub-objects per area (clients, notes, photos, consents, audit).
//!
//! Everything here is a thin translation over [`crate::vault::Vault`]: ids travel as strings,
//! errors as [`WardError`], photo bytes as [`Bytes`] (one memcpy across the boundary). No key
//! ever crosses this surface; only records the user is allowed to see, and ciphertext stays
//! inside. All calls are blocking; apps call them off the main thread.

use std::sync::Arc;

use crate::bytes::Bytes;
use crate::clock::SystemClock;
use crate::domain::clients::{ClientInput, ClientView, parse_id};
use crate::domain::consents::{ConsentScope, ConsentView};
use crate::domain::notes::{NoteBody, NoteSummary, NoteView, SearchHit};
use crate::domain::photos::{PhotoInput, PhotoView};
use crate::error::WardError;
use crate::keystore::SecureKeyStore;
use crate::vault::{Identity, Policy, Vault};

type R<T> = Result<T, WardError>;

/// Where a new vault lives and whom it belongs to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VaultConfig {
    /// The app's private folder for the vault (excluded from backups by the app).
    pub dir: String,
    /// The clinic.
    pub tenant_id: String,
    /// This device.
    pub device_id: String,
    /// The signed-in user.
    pub user_id: String,
}

/// The vault's state for the app's status screen.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VaultStatus {
    /// The clinic.
    pub tenant_id: String,
    /// This device.
    pub device_id: String,
    /// The user.
    pub user_id: String,
    /// Locked now.
    pub locked: bool,
    /// Wiped.
    pub wiped: bool,
}

/// One audit event.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AuditEventView {
    /// Position in the chain.
    pub seq: u64,
    /// When.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// Device.
    pub device_id: String,
    /// What.
    pub action: String,
    /// Envelope kind number.
    pub kind: Option<u8>,
    /// Object.
    pub object_id: Option<String>,
    /// Client.
    pub client_id: Option<String>,
}

/// The app's handle to its vault.
#[derive(Debug, uniffi::Object)]
pub struct WardVault {
    vault: Arc<Vault>,
}

#[uniffi::export]
impl WardVault {
    /// Creates a vault in an empty folder; it starts unlocked.
    #[uniffi::constructor]
    pub fn create(config: VaultConfig, key_store: Arc<dyn SecureKeyStore>) -> R<Arc<Self>> {
        let ident = Identity {
            tenant: parse_id(&config.tenant_id, "tenant")?,
            device: parse_id(&config.device_id, "device")?,
            actor: config.user_id,
        };
        let vault = Vault::create(&config.dir, ident, key_store, Arc::new(SystemClock))?;
        Ok(Arc::new(Self { vault }))
    }

    /// Opens an existing vault, locked.
    #[uniffi::constructor]
    pub fn open(dir: String, key_store: Arc<dyn SecureKeyStore>) -> R<Arc<Self>> {
        Ok(Arc::new(Self {
            vault: Vault::open(&dir, key_store, Arc::new(SystemClock))?,
        }))
    }

    /// Unlocks (the key store may prompt for biometrics).
    pub fn unlock(&self) -> R<()> {
        Ok(self.vault.unlock()?)
    }

    /// Locks now.
    pub fn lock(&self) {
        self.vault.lock();
    }

    /// Whether locked (including by idle timeout).
    pub fn is_locked(&self) -> bool {
        self.vault.is_locked()
    }

    /// Locks if the idle timeout passed; call from a timer and on foregrounding.
    pub fn lock_if_idle(&self) -> bool {
        self.vault.lock_if_idle()
    }

    /// Crypto-shreds the vault: destroys the key-store key, then deletes every file.
    pub fn wipe(&self) -> R<()> {
        Ok(self.vault.wipe()?)
    }

    /// Status for the app.
    pub fn status(&self) -> VaultStatus {
        let ident = self.vault.identity();
        VaultStatus {
            tenant_id: ident.tenant.to_string(),
            device_id: ident.device.to_string(),
            user_id: ident.actor,
            locked: self.vault.is_locked(),
            wiped: self.vault.is_wiped(),
        }
    }

    /// The tenant policy in force.
    pub fn policy(&self) -> Policy {
        self.vault.policy()
    }

    /// Sets the tenant policy (normally delivered by sync).
    pub fn set_policy(&self, policy: Policy) -> R<()> {
        Ok(self.vault.set_policy(policy)?)
    }

    /// Clients.
    pub fn clients(&self) -> Arc<Clients> {
        Arc::new(Clients {
            vault: self.vault.clone(),
        })
    }

    /// Notes.
    pub fn notes(&self) -> Arc<Notes> {
        Arc::new(Notes {
            vault: self.vault.clone(),
        })
    }

    /// Photos.
    pub fn photos(&self) -> Arc<Photos> {
        Arc::new(Photos {
            vault: self.vault.clone(),
        })
    }

    /// Consents.
    pub fn consents(&self) -> Arc<Consents> {
        Arc::new(Consents {
            vault: self.vault.clone(),
        })
    }

    /// The audit log.
    pub fn audit(&self) -> Arc<AuditLog> {
        Arc::new(AuditLog {
            vault: self.vault.clone(),
        })
    }
}

impl WardVault {
    /// The Rust vault behind the handle (for the CLI and tests).
    pub fn inner(&self) -> &Arc<Vault> {
        &self.vault
    }
}

/// Clients (patients).
#[derive(Debug, uniffi::Object)]
pub struct Clients {
    vault: Arc<Vault>,
}

#[uniffi::export]
impl Clients {
    /// Adds a client.
    pub fn create(&self, input: ClientInput) -> R<ClientView> {
        Ok(self.vault.create_client(input)?)
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
    /// All clients by name.
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

/// Clinical notes.
#[derive(Debug, uniffi::Object)]
pub struct Notes {
    vault: Arc<Vault>,
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

/// Photos.
#[derive(Debug, uniffi::Object)]
pub struct Photos {
    vault: Arc<Vault>,
}

#[uniffi::export]
impl Photos {
    /// Captures a photo from the camera's in-memory bytes. Returns when it is stored
    /// encrypted; the thumbnail (unless supplied) is made in the background right after.
    pub fn capture(
        &self,
        client_id: String,
        image: Bytes,
        input: PhotoInput,
        thumbnail: Option<Bytes>,
    ) -> R<PhotoView> {
        let captured = self
            .vault
            .capture_photo(&client_id, &image, input, thumbnail.as_deref())?;
        if captured.thumbnail_pending {
            let vault = self.vault.clone();
            let photo_id = captured.view.photo_id.clone();
            let spawned = std::thread::Builder::new().name("ward-thumbnail".into()).spawn(move || {
                if let Err(e) = vault.make_thumbnail(&photo_id, Some(&image)) {
                    tracing::warn!(error = %e, "background thumbnail failed; it will be made on first view");
                }
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start the thumbnail thread");
            }
        }
        Ok(captured.view)
    }
    /// The decrypted photo (audited).
    pub fn read(&self, photo_id: String) -> R<Bytes> {
        Ok(self.vault.read_photo(&photo_id)?)
    }
    /// Chunk count, for progressive loading.
    pub fn chunk_count(&self, photo_id: String) -> R<u64> {
        Ok(self.vault.photo_chunk_count(&photo_id)?)
    }
    /// One decrypted chunk.
    pub fn read_chunk(&self, photo_id: String, index: u64) -> R<Bytes> {
        Ok(self.vault.read_photo_chunk(&photo_id, index)?)
    }
    /// The thumbnail (made now if still pending).
    pub fn thumbnail(&self, photo_id: String) -> R<Bytes> {
        Ok(self.vault.read_thumbnail(&photo_id)?)
    }
    /// A client's photos.
    pub fn list(&self, client_id: String) -> R<Vec<PhotoView>> {
        Ok(self.vault.list_photos(&client_id)?)
    }
}

/// Consents.
#[derive(Debug, uniffi::Object)]
pub struct Consents {
    vault: Arc<Vault>,
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

/// The device audit log.
#[derive(Debug, uniffi::Object)]
pub struct AuditLog {
    vault: Arc<Vault>,
}

#[uniffi::export]
impl AuditLog {
    /// Events after `after_seq`.
    pub fn events(&self, after_seq: u64, limit: u32) -> R<Vec<AuditEventView>> {
        Ok(self
            .vault
            .audit_events(after_seq, limit)?
            .into_iter()
            .map(|e| AuditEventView {
                seq: e.seq,
                at_ms: e.at_ms,
                actor: e.actor,
                device_id: e.device.to_string(),
                action: e.action,
                kind: e.kind,
                object_id: e.object.map(|o| o.to_string()),
                client_id: e.client.map(|c| c.to_string()),
            })
            .collect())
    }
    /// Verifies the hash chain; returns the event count, or an error naming the break.
    pub fn verify(&self) -> R<u64> {
        self.vault
            .verify_audit_chain()?
            .map_err(|e| WardError::Corrupt {
                object_id: "audit log".into(),
                detail: e.to_string(),
            })
    }
}
