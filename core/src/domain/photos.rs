//! Photo capture into the vault, and reading photos and thumbnails back.
//!
//! Capture takes the image bytes the platform camera returned in memory. A JPEG has its GPS and
//! device-identifying metadata removed without re-encoding (see `capture::jpeg`); the result is
//! encrypted chunk by chunk straight into a file (see `vault::blobs`), so no plaintext copy of
//! the photo is ever written anywhere. HEIC is refused (`JpegError::HeicRefused`) until its
//! container's Exif/XMP location items can be stripped: the apps capture JPEG. A photo is three object
//! versions under one photo id: the content (a file), the metadata record, and the thumbnail
//! (inline). Thumbnail decoding costs ~100 ms for a 10-megapixel JPEG, so it is done after the
//! capture call returns (`make_thumbnail`), or lazily at first read if the app died before.

use std::io::Write;

use rusqlite::{OptionalExtension, params};
use ward_proto::stream::DEFAULT_CHUNK_SIZE;
use ward_proto::{Kind, ObjectId, ObjectRef, VersionId};

use crate::bytes::Bytes;
use crate::capture::jpeg::{self, ImageFormat, StripPolicy};
use crate::domain::clients::{self, parse_id, validate_text};
use crate::domain::consents::{self, ConsentScope, PhotoUses};
use crate::error::{CoreError, Result};
use crate::records::{ConsentScopeRecord, PhotoRecord};
use crate::vault::audit::Action;
use crate::vault::index::{Row, VersionEntry};
use crate::vault::{Ctx, NewVersion, Vault, insert_row};

/// Largest image accepted (a 200-megapixel camera's JPEG is well under this).
pub const MAX_IMAGE_BYTES: usize = 256 * 1024 * 1024;
/// Largest platform-supplied thumbnail accepted.
pub const MAX_THUMBNAIL_BYTES: usize = 2 * 1024 * 1024;

/// What the clinician enters with a photo.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct PhotoInput {
    /// Caption.
    pub caption: String,
    /// Body area tag, e.g. "face/left-cheek".
    pub body_area: Option<String>,
    /// The consent the photo is taken under (required by default policy).
    pub consent_id: Option<String>,
    /// Before/after series name.
    pub series: Option<String>,
    /// Label in the series ("before", "after", "week 2").
    pub series_label: Option<String>,
}

/// A photo as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoView {
    /// Photo id.
    pub photo_id: String,
    /// Current metadata version.
    pub version_id: String,
    /// Client.
    pub client_id: String,
    /// Caption.
    pub caption: String,
    /// Body area.
    pub body_area: Option<String>,
    /// Consent it was taken under.
    pub consent_id: Option<String>,
    /// Series.
    pub series: Option<String>,
    /// Label in the series.
    pub series_label: Option<String>,
    /// "image/jpeg" or "image/heic".
    pub content_type: String,
    /// Stored image size.
    pub byte_len: u64,
    /// EXIF orientation (1–8) to apply when displaying.
    pub orientation: Option<u16>,
    /// Metadata removed at capture (e.g. "APP1/Exif", "GPS", "APP1/XMP").
    pub removed_metadata: Vec<String>,
    /// Capture time.
    pub taken_at_ms: i64,
    /// Who took it.
    pub taken_by: String,
}

fn view(id: ObjectId, v: &VersionEntry<PhotoRecord>) -> Result<PhotoView> {
    let p = v
        .record
        .as_ref()
        .map_err(|e| CoreError::corrupt(format!("{id}/{}", v.version), e))?;
    Ok(PhotoView {
        photo_id: id.to_string(),
        version_id: v.version.to_string(),
        client_id: p.client_id.to_string(),
        caption: p.caption.clone(),
        body_area: p.body_area.clone(),
        consent_id: p.consent_id.map(|c| c.to_string()),
        series: p.series.clone(),
        series_label: p.series_label.clone(),
        content_type: p.content_type.clone(),
        byte_len: p.byte_len,
        orientation: p.orientation,
        removed_metadata: p.removed_metadata.clone(),
        taken_at_ms: p.taken_at_ms,
        taken_by: p.taken_by.clone(),
    })
}

fn record(ctx: &Ctx<'_>, id: ObjectId) -> Result<(PhotoRecord, PhotoView)> {
    let vs = ctx
        .unlocked
        .index
        .photos
        .get(&id)
        .ok_or_else(|| CoreError::NotFound {
            what: "photo",
            id: id.to_string(),
        })?;
    let head = vs
        .current()
        .ok_or_else(|| CoreError::corrupt(id, "no versions"))?;
    let v = view(id, head)?;
    let r = head
        .record
        .as_ref()
        .map_err(|e| CoreError::corrupt(id, e))?
        .clone();
    Ok((r, v))
}

/// What is left to do after a capture returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The stored photo.
    pub view: PhotoView,
    /// Whether a thumbnail still has to be made (`Vault::make_thumbnail`).
    pub thumbnail_pending: bool,
}

/// The image after metadata removal: borrowed slices of the caller's buffer plus a new head.
struct Prepared<'a> {
    parts: Vec<&'a [u8]>,
    content_type: &'static str,
    orientation: Option<u16>,
    removed: Vec<String>,
}

fn prepare<'a>(image: &'a [u8], head: &'a mut Vec<u8>, keep: &[u16]) -> Result<Prepared<'a>> {
    if image.is_empty() {
        return Err(CoreError::Invalid("the image is empty".into()));
    }
    if image.len() > MAX_IMAGE_BYTES {
        return Err(CoreError::Invalid("the image is too large".into()));
    }
    match jpeg::detect_format(image) {
        ImageFormat::Jpeg => {
            let stripped = jpeg::strip_metadata(
                image,
                &StripPolicy {
                    keep_tags: keep.to_vec(),
                },
            )?;
            let mut removed = stripped.report.removed_segments.clone();
            if stripped.report.removed_gps {
                removed.push("GPS".into());
            }
            // APPn / COM segments between the scans of a progressive file go too.
            let (scan, between) = jpeg::scan_parts(stripped.scan);
            if between > 0 {
                removed.push(format!("APPn/COM between scans ({between} bytes)"));
            }
            *head = stripped.head;
            let mut parts = vec![head.as_slice()];
            parts.extend(scan);
            Ok(Prepared {
                parts,
                content_type: "image/jpeg",
                orientation: stripped.report.orientation,
                removed,
            })
        }
        // Refused until the HEIF container's Exif/XMP items (GPS) can be stripped: stored as
        // is, a HEIC photo would carry the position of the place it was taken.
        ImageFormat::Heic => Err(jpeg::JpegError::HeicRefused.into()),
        ImageFormat::Unknown => Err(CoreError::Invalid(
            "unsupported image format (JPEG or HEIC expected)".into(),
        )),
    }
}

fn thumb_ref(ctx: &Ctx<'_>, photo: ObjectId, version: VersionId) -> ObjectRef {
    ObjectRef {
        tenant: ctx.ident.tenant,
        object: photo,
        version,
        kind: Kind::Thumbnail,
    }
}

fn content_ref(ctx: &Ctx<'_>, photo: ObjectId, rec: &PhotoRecord) -> ObjectRef {
    ObjectRef {
        tenant: ctx.ident.tenant,
        object: photo,
        version: rec.content_version,
        kind: Kind::PhotoContent,
    }
}

impl Vault {
    /// Captures a photo of a client from in-memory image bytes. Returns once the encrypted
    /// photo and its record are durable. `thumbnail` is the platform's own preview (required
    /// for HEIC to have one); without it a JPEG's thumbnail is left pending.
    pub fn capture_photo(
        &self,
        client_id: &str,
        image: &[u8],
        input: PhotoInput,
        thumbnail: Option<&[u8]>,
    ) -> Result<Captured> {
        let client: ObjectId = parse_id(client_id, "client")?;
        let consent: Option<ObjectId> = input
            .consent_id
            .as_deref()
            .map(|c| parse_id(c, "consent"))
            .transpose()?;
        validate_text("caption", &input.caption, 2000)?;
        for (field, v) in [
            ("body area", &input.body_area),
            ("series", &input.series),
            ("series label", &input.series_label),
        ] {
            if let Some(v) = v {
                validate_text(field, v, 200)?;
            }
        }
        if thumbnail.is_some_and(|t| t.len() > MAX_THUMBNAIL_BYTES || t.is_empty()) {
            return Err(CoreError::Invalid(
                "the thumbnail is empty or too large".into(),
            ));
        }
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            match consent {
                Some(c) => consents::require_active(ctx, client, c, ConsentScopeRecord::Clinical)?,
                None if ctx.policy.photo_consent_required => {
                    return Err(CoreError::NotAllowed(
                        "this clinic requires the client's clinical photo consent first".into(),
                    ));
                }
                None => {}
            }
            let mut head = Vec::new();
            let prepared = prepare(image, &mut head, &ctx.policy.exif_keep_tags)?;
            let byte_len: u64 = prepared.parts.iter().map(|p| p.len() as u64).sum();
            let photo = ObjectId::random();
            let content = ctx.new_ref(photo, Kind::PhotoContent);
            let key = ctx.seal_key(Kind::PhotoContent, Some(client))?;
            let file_len = ctx.blobs.write_stream(
                content,
                key.as_seal(),
                &prepared.parts,
                DEFAULT_CHUNK_SIZE,
            )?;

            let thumb_version = VersionId::random();
            let thumb_bytes = match thumbnail {
                Some(t) if jpeg::detect_format(t) == ImageFormat::Jpeg => {
                    Some(jpeg::strip_metadata(t, &StripPolicy { keep_tags: vec![] })?.to_vec())
                }
                Some(t) => Some(t.to_vec()),
                None => None,
            };
            let can_generate = prepared.content_type == "image/jpeg";
            let rec = PhotoRecord {
                client_id: client,
                caption: input.caption.trim().to_string(),
                body_area: input.body_area,
                consent_id: consent,
                series: input.series,
                series_label: input.series_label,
                content_type: prepared.content_type.into(),
                byte_len,
                orientation: prepared.orientation,
                removed_metadata: prepared.removed,
                taken_at_ms: ctx.now_ms,
                taken_by: ctx.ident.actor.clone(),
                content_version: content.version,
                thumbnail_version: (thumb_bytes.is_some() || can_generate).then_some(thumb_version),
            };
            let json = serde_json::to_vec(&rec)?;
            let meta = ctx.new_ref(photo, Kind::PhotoMeta);
            let tx = ctx.conn.unchecked_transaction()?;
            let content_row = NewVersion {
                object: content,
                client: Some(client),
                parent: None,
                plaintext: &[],
                note: None,
            };
            insert_row(&tx, &content_row, ctx.now_ms, None, Some(file_len))?;
            if let Some(t) = &thumb_bytes {
                let thumb = NewVersion {
                    object: thumb_ref(ctx, photo, thumb_version),
                    client: Some(client),
                    parent: None,
                    plaintext: t,
                    note: None,
                };
                ctx.insert_sealed(&tx, &thumb)?;
            }
            let meta_row = NewVersion {
                object: meta,
                client: Some(client),
                parent: None,
                plaintext: &json,
                note: None,
            };
            ctx.insert_sealed(&tx, &meta_row)?;
            ctx.audit(
                &tx,
                Action::Create,
                Some(Kind::PhotoMeta),
                Some(photo),
                Some(client),
            )?;
            tx.commit()?;
            let row = Row {
                object: photo,
                version: meta.version,
                kind: Kind::PhotoMeta,
                parent: None,
                created_at_ms: ctx.now_ms,
                note_state: None,
            };
            ctx.unlocked.index.insert(&row, Ok(&json));
            let (_, view) = record(ctx, photo)?;
            Ok(Captured {
                view,
                thumbnail_pending: thumb_bytes.is_none() && can_generate,
            })
        })
    }

    /// Makes and stores a photo's thumbnail if it is still missing. `source` is the original
    /// image when the caller still holds it (right after capture); otherwise the photo is
    /// decrypted. The decode runs without holding the vault lock.
    pub fn make_thumbnail(&self, photo_id: &str, source: Option<&[u8]>) -> Result<bool> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        let (rec, exists) = self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, id)?;
            let exists = match rec.thumbnail_version {
                Some(v) => thumbnail_exists(ctx, id, v)?,
                None => true,
            };
            Ok((rec, exists))
        })?;
        let Some(version) = rec.thumbnail_version.filter(|_| !exists) else {
            return Ok(false);
        };
        let decrypted;
        let source = match source {
            Some(s) => s,
            None => {
                decrypted = self.with_unlocked(|ctx| {
                    ctx.blobs
                        .reader(&content_ref(ctx, id, &rec), &ctx.ring(Some(rec.client_id)))?
                        .read_all()
                })?;
                &decrypted
            }
        };
        let max_edge = self.policy().thumbnail_max_edge;
        let thumb = jpeg::thumbnail(source, max_edge, rec.orientation)?;
        self.with_unlocked(|ctx| {
            if thumbnail_exists(ctx, id, version)? {
                return Ok(false);
            }
            let v = NewVersion {
                object: thumb_ref(ctx, id, version),
                client: Some(rec.client_id),
                parent: None,
                plaintext: &thumb,
                note: None,
            };
            ctx.insert_sealed(ctx.conn, &v)?;
            Ok(true)
        })
    }

    /// The reference of a photo's current content envelope.
    pub fn photo_content_ref(&self, photo: ObjectId) -> Result<ObjectRef> {
        self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, photo)?;
            Ok(content_ref(ctx, photo, &rec))
        })
    }

    /// The decrypted photo (audited as a view).
    pub fn read_photo(&self, photo_id: &str) -> Result<Bytes> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, id)?;
            let bytes = ctx
                .blobs
                .reader(&content_ref(ctx, id, &rec), &ctx.ring(Some(rec.client_id)))?
                .read_all()?;
            ctx.audit_view(Kind::PhotoContent, id, Some(rec.client_id))?;
            Ok(bytes)
        })
    }

    /// Number of 64 KiB chunks of a photo, for progressive display.
    pub fn photo_chunk_count(&self, photo_id: &str) -> Result<u64> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, id)?;
            Ok(ctx
                .blobs
                .reader(&content_ref(ctx, id, &rec), &ctx.ring(Some(rec.client_id)))?
                .layout()
                .chunks)
        })
    }

    /// One decrypted chunk of a photo (random access).
    pub fn read_photo_chunk(&self, photo_id: &str, index: u64) -> Result<Bytes> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, id)?;
            let mut reader = ctx
                .blobs
                .reader(&content_ref(ctx, id, &rec), &ctx.ring(Some(rec.client_id)))?;
            if index == 0 {
                ctx.audit_view(Kind::PhotoContent, id, Some(rec.client_id))?;
            }
            reader.read_chunk(index)
        })
    }

    /// Streams the decrypted photo to `sink` with one chunk of memory, for a share of the given
    /// purpose: refused (`NotAllowed`) unless the client has an active consent of that scope now
    /// (a clinical share needs one only where the clinic requires photo consent). Audited as an
    /// export of that purpose; answers the bytes written and the consent relied on.
    pub fn share_photo(
        &self,
        photo_id: &str,
        purpose: ConsentScope,
        sink: &mut dyn Write,
    ) -> Result<(u64, Option<String>)> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, id)?;
            let consent = consents::consent_for_use(ctx, rec.client_id, purpose)?;
            let mut reader = ctx
                .blobs
                .reader(&content_ref(ctx, id, &rec), &ctx.ring(Some(rec.client_id)))?;
            let mut sink = sink;
            let n = reader.copy_to(&mut sink)?;
            let action = match purpose {
                ConsentScope::Clinical => Action::Export,
                ConsentScope::Training => Action::ExportTraining,
                ConsentScope::Marketing => Action::ExportMarketing,
            };
            ctx.audit(
                ctx.conn,
                action,
                Some(Kind::PhotoContent),
                Some(id),
                Some(rec.client_id),
            )?;
            Ok((n, consent))
        })
    }

    /// Which uses the photo's client consents to now (the app shows them on the photo).
    pub fn photo_uses(&self, photo_id: &str) -> Result<PhotoUses> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        self.with_unlocked(|ctx| {
            let (rec, _) = record(ctx, id)?;
            Ok(consents::uses_of(ctx, id, rec.client_id, rec.consent_id))
        })
    }

    /// The decrypted thumbnail, made now if it was still pending.
    pub fn read_thumbnail(&self, photo_id: &str) -> Result<Bytes> {
        let id: ObjectId = parse_id(photo_id, "photo")?;
        let read = |vault: &Vault| {
            vault.with_unlocked(|ctx| {
                let (rec, _) = record(ctx, id)?;
                let version = rec.thumbnail_version.ok_or_else(|| CoreError::NotFound {
                    what: "thumbnail",
                    id: id.to_string(),
                })?;
                match ctx.open_inline(&thumb_ref(ctx, id, version)) {
                    Ok(t) => Ok(Some(Bytes::from(t))),
                    Err(CoreError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
        };
        if let Some(t) = read(self)? {
            return Ok(t);
        }
        self.make_thumbnail(photo_id, None)?;
        read(self)?.ok_or_else(|| CoreError::NotFound {
            what: "thumbnail",
            id: id.to_string(),
        })
    }

    /// A client's photos, oldest first (series order).
    pub fn list_photos(&self, client_id: &str) -> Result<Vec<PhotoView>> {
        let client: ObjectId = parse_id(client_id, "client")?;
        self.with_unlocked(|ctx| {
            clients::require(ctx, client)?;
            let mut out: Vec<PhotoView> = ctx
                .unlocked
                .index
                .photos
                .iter()
                .filter_map(|(id, vs)| view(*id, vs.current()?).ok())
                .filter(|p| p.client_id == client.to_string())
                .collect();
            out.sort_by_key(|p| p.taken_at_ms);
            Ok(out)
        })
    }
}

fn thumbnail_exists(ctx: &Ctx<'_>, photo: ObjectId, version: VersionId) -> Result<bool> {
    Ok(ctx
        .conn
        .query_row(
            "SELECT 1 FROM objects WHERE object_id = ?1 AND version_id = ?2",
            params![photo.as_bytes(), version.as_bytes()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}
