//! The push side of the wire shared by the engine and the pre-wipe rescue (a leaf of `sync`):
//! batch sizes and the request an outbox batch travels in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ward_proto::Kind;
use ward_proto::api::{PushItem, PushRequest};

use crate::vault::outbox::OutboxItem;

/// Envelope bytes per push: base64 adds a third and JSON a little, keeping the request well
/// under the 5 MB limit.
pub const PUSH_BATCH_BYTES: usize = 3 * 1024 * 1024;
/// Versions per pull page.
pub const PULL_PAGE: u32 = 1000;

/// The wire form of an outbox batch (pushes and the rescue upload before a wipe).
pub fn push_request(batch: &[OutboxItem]) -> PushRequest {
    PushRequest {
        objects: batch
            .iter()
            .map(|it| PushItem {
                object_id: it.object.object,
                version_id: it.object.version,
                kind: it.object.kind as u8,
                client_id: if it.object.kind == Kind::Client {
                    None
                } else {
                    it.client
                },
                parent_version: it.parent,
                envelope: URL_SAFE_NO_PAD.encode(&it.envelope),
                team: None,
            })
            .collect(),
    }
}
