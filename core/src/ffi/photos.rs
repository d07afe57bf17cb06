//! [`Photos`]: the app's handle to photos, over `crate::domain::photos`; photo bytes cross
//! as [`Bytes`] (one memcpy).

use std::sync::Arc;

use super::error::WardError;
use crate::bytes::Bytes;
use crate::domain::consents::{ConsentScope, PhotoUses};
use crate::domain::photos::{PhotoInput, PhotoView};
use crate::vault::Vault;

type R<T> = Result<T, WardError>;

/// Photos.
#[derive(Debug, uniffi::Object)]
pub struct Photos {
    pub(super) vault: Arc<Vault>,
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
    /// The decrypted photo for a share of `purpose` (the OS share sheet, a referral letter):
    /// refused with `NotAllowed` unless the client has an active consent of that scope now;
    /// audited as an export of that purpose.
    pub fn share(&self, photo_id: String, purpose: ConsentScope) -> R<Bytes> {
        let mut out = Vec::new();
        self.vault.share_photo(&photo_id, purpose, &mut out)?;
        Ok(Bytes::from(out))
    }
    /// Which uses the photo's client consents to now.
    pub fn uses(&self, photo_id: String) -> R<PhotoUses> {
        Ok(self.vault.photo_uses(&photo_id)?)
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
