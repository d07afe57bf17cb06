//! The pull page rules without HTTP: the byte cap, the limit, the cursor.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code.

use std::sync::Arc;

use ward_proto::{DeviceId, Kind, ObjectId, VersionId};

use super::*;
use crate::config::Config;
use crate::domain::{Caller, Clock, Env};
use crate::model::{Device, DeviceStatus, Session};
use crate::store::Stores;

struct Fixture {
    stores: Stores,
    clock: Clock,
    config: Config,
    caller: Caller,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (stores, _) = Stores::embedded(dir.path(), "http://localhost:8080").unwrap();
        let tenant = crate::tenants::create_tenant(&stores, "Test", 1_000)
            .await
            .unwrap();
        let user = uuid::Uuid::new_v4();
        let device_id = DeviceId::random();
        let caller = Caller {
            tenant: tenant.id,
            session: Session {
                session_id: "s".into(),
                token_hash: String::new(),
                user_id: user,
                device_id,
                role: Role::Admin,
                expires_at_ms: i64::MAX,
                authenticated_at_ms: 1_000,
                revoked: false,
                created_at_ms: 0,
                last_used_ms: 0,
                console: false,
            },
            device: Device {
                device_id,
                user_id: user,
                public_key: [0; 32],
                status: DeviceStatus::Active,
                name: "test".into(),
                enrolled_at_ms: 1_000,
                last_seen_ms: 1_000,
                wipe: None,
                revocation: None,
                platform: Default::default(),
            },
        };
        Self {
            stores,
            clock: Arc::new(|| 2_000),
            config: Config::local(8080, dir.path().to_path_buf()),
            caller,
            _dir: dir,
        }
    }

    fn env(&self) -> Env<'_> {
        Env {
            stores: &self.stores,
            clock: &self.clock,
            config: &self.config,
        }
    }

    /// Stores `n` notes of one client of `bytes` envelope bytes each, by another device.
    async fn notes(&self, n: usize, bytes: usize) {
        let client = ObjectId::random();
        let objects: Vec<StoredObject> = (0..n)
            .map(|_| StoredObject {
                object_id: ObjectId::random(),
                version_id: VersionId::random(),
                kind: Kind::Note as u8,
                client_id: Some(client),
                parent_version: None,
                seq: 0,
                sha256: String::new(),
                size: bytes as u64,
                envelope: Some(vec![7; bytes]),
                device_id: DeviceId::random(),
                created_at_ms: 1_500,
                note_state: None,
            })
            .collect();
        self.stores
            .objects
            .put_objects(self.caller.tenant, &objects)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_pull_page_stops_at_the_byte_cap_and_the_next_page_continues_after_it() {
    let f = Fixture::new().await;
    // Each envelope is a third of the cap in base64: three fit in a page, the fourth does not.
    let raw = MAX_PULL_BYTES / 3 / 4 * 3;
    f.notes(5, raw).await;
    let first = pull(f.env(), &f.caller, PullQuery::default())
        .await
        .unwrap();
    assert_eq!(first.objects.len(), 3);
    assert!(first.has_more);
    let encoded: usize = first
        .objects
        .iter()
        .map(|o| o.envelope.as_ref().unwrap().len())
        .sum();
    assert!(encoded <= MAX_PULL_BYTES);
    assert_eq!(first.next_after, first.objects[2].seq);
    let rest = pull(
        f.env(),
        &f.caller,
        PullQuery {
            after: first.next_after,
            ..PullQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rest.objects.len(), 2);
    assert!(!rest.has_more);
    assert_eq!(rest.key_epoch, Some(1));
}

#[tokio::test]
async fn a_version_larger_than_the_byte_cap_still_comes_alone() {
    let f = Fixture::new().await;
    f.notes(2, MAX_PULL_BYTES).await;
    let page = pull(f.env(), &f.caller, PullQuery::default())
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 1, "the first version always fits");
    assert!(page.has_more);
}

#[tokio::test]
async fn a_pull_limit_is_checked_and_clamped_and_exclude_own_skips_the_callers_versions() {
    let f = Fixture::new().await;
    f.notes(3, 10).await;
    for bad in [
        PullQuery {
            limit: Some(0),
            ..PullQuery::default()
        },
        PullQuery {
            after: 1 << 63,
            ..PullQuery::default()
        },
    ] {
        let e = pull(f.env(), &f.caller, bad).await.unwrap_err();
        assert!(
            matches!(
                e,
                DomainError::Invalid {
                    code: ErrorCode::BadQuery,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    let page = pull(
        f.env(),
        &f.caller,
        PullQuery {
            limit: Some(1),
            ..PullQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.objects.len(), 1);
    let page = pull(
        f.env(),
        &f.caller,
        PullQuery {
            limit: Some(u64::MAX),
            ..PullQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        page.objects.len(),
        3,
        "a big limit is clamped to the maximum"
    );
    let mut own = f.caller.clone();
    own.device.device_id = DeviceId::random();
    let all = pull(f.env(), &own, PullQuery::default()).await.unwrap();
    assert_eq!(all.objects.len(), 3);
}
