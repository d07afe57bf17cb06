//! Erasure of one client (Art. 17, ADR 0016) end to end, on both adapters: after an admin
//! erases a client, no copy of any of its envelopes is left in any store or file Ward controls
//! — the embedded data folder, or every DynamoDB item and every S3 object version of the
//! bucket and its replica — nor on the phones after their next sync (an unsynced note of the
//! client included, which the server refuses); a backup made before the erasure and restored
//! afterwards with the newer ledger yields none of it; another client is untouched throughout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use ward_backend::backup::{self, ArchiveKey};
use ward_backend::store::BlobKey;
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_core::sync::PasskeyProvider;
use ward_e2e::{Backend, Device, Store};
use ward_proto::{ObjectId, TenantId};

fn patient(d: &Device, name: &str) -> String {
    d.vault
        .clients()
        .create(ClientInput {
            display_name: name.into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id
}

fn note(d: &Device, client: &str, text: &str) -> (String, String) {
    let v = d
        .vault
        .notes()
        .create(client.into(), NoteBody::Text { text: text.into() })
        .unwrap();
    (v.note_id, v.version_id)
}

fn photo(d: &Device, client: &str, seed: u64) {
    let consent = d
        .vault
        .consents()
        .record(client.into(), vec![ConsentScope::Clinical], None)
        .unwrap()
        .consent_id;
    d.vault
        .photos()
        .capture(
            client.into(),
            ward_core::capture::fixture::jpeg_of_size(120_000, seed).into(),
            PhotoInput {
                caption: format!("photo {seed}"),
                body_area: None,
                consent_id: Some(consent),
                series: None,
                series_label: None,
            },
            None,
        )
        .unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn has(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// 32 bytes from the middle of every stored envelope and blob of `client`: ciphertext that
/// exists only as copies of that client's data.
fn markers(b: &Backend, t: TenantId, client: ObjectId) -> Vec<Vec<u8>> {
    let versions = b
        .block_on(b.stores.erasures.client_versions(t, client))
        .unwrap();
    assert!(!versions.is_empty());
    versions
        .iter()
        .map(|v| {
            let bytes = if v.blob {
                b.block_on(b.stores.blobs.get_blob(
                    t,
                    BlobKey {
                        object: v.object,
                        version: v.version,
                    },
                ))
                .unwrap()
                .unwrap()
            } else {
                b.block_on(b.stores.objects.get_object(t, v.object, v.version))
                    .unwrap()
                    .unwrap()
                    .envelope
                    .unwrap()
            };
            let mid = bytes.len() / 2;
            bytes[mid - 16..mid + 16].to_vec()
        })
        .collect()
}

/// Every byte string the server holds: the data folder's files, or every DynamoDB item
/// (binary and string attributes) and every S3 object version of both buckets.
fn server_bytes(b: &Backend) -> Vec<(String, Vec<u8>)> {
    let Some(aws) = &b.aws else {
        return files_under(&b.data_dir())
            .into_iter()
            .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
            .collect();
    };
    b.block_on(async {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = aws
                .dynamodb()
                .scan()
                .table_name(aws.table_name())
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items() {
                let pk = match item.get("pk") {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => String::new(),
                };
                for v in item.values() {
                    match v {
                        AttributeValue::B(blob) => out.push((pk.clone(), blob.as_ref().to_vec())),
                        AttributeValue::S(s) => out.push((pk.clone(), s.as_bytes().to_vec())),
                        _ => {}
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let s3 = aws.s3();
        for bucket in [
            aws.bucket().to_string(),
            format!("{}-replica", aws.bucket()),
        ] {
            let listed = s3
                .list_object_versions()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            for v in listed.versions() {
                let body = s3
                    .get_object()
                    .bucket(&bucket)
                    .key(v.key().unwrap())
                    .version_id(v.version_id().unwrap())
                    .send()
                    .await
                    .unwrap()
                    .body
                    .collect()
                    .await
                    .unwrap()
                    .into_bytes()
                    .to_vec();
                out.push((format!("s3://{bucket}/{}", v.key().unwrap()), body));
            }
        }
        out
    })
}

/// What replication would have copied: every blob of `client`, twice (two versions), into the
/// replica bucket; and an overwritten (noncurrent) version in the bucket itself.
fn replicate(b: &Backend, t: TenantId, client: ObjectId) {
    let Some(aws) = &b.aws else { return };
    let versions = b
        .block_on(b.stores.erasures.client_versions(t, client))
        .unwrap();
    for v in versions.iter().filter(|v| v.blob) {
        let key = BlobKey {
            object: v.object,
            version: v.version,
        };
        let bytes = b
            .block_on(b.stores.blobs.get_blob(t, key))
            .unwrap()
            .unwrap();
        b.block_on(async {
            for bucket in [
                format!("{}-replica", aws.bucket()),
                aws.bucket().to_string(),
            ] {
                aws.s3()
                    .put_object()
                    .bucket(&bucket)
                    .key(key.path(t))
                    .body(bytes.clone().into())
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
}

fn found_in(holders: &[(String, Vec<u8>)], marker: &[u8]) -> Option<String> {
    holders
        .iter()
        .find(|(_, bytes)| has(bytes, marker))
        .map(|(n, _)| n.clone())
}

fn device_bytes(d: &Device) -> Vec<(String, Vec<u8>)> {
    files_under(d.dir.path())
        .into_iter()
        .filter_map(|f| Some((f.display().to_string(), std::fs::read(&f).ok()?)))
        .collect()
}

fn passkey(d: &Device) -> Arc<dyn PasskeyProvider> {
    d.passkey.clone()
}

fn archive(b: &Backend, t: TenantId, key: &ArchiveKey) -> Vec<u8> {
    let mut out = Vec::new();
    b.block_on(backup::export(&b.stores, t, key, &mut out))
        .unwrap();
    out
}

fn an_erased_client_leaves_no_copy_anywhere(store: Store) {
    let b = Backend::start(store, None);
    let t: TenantId = b.tenant.parse().unwrap();
    let admin = Device::first_admin(&b);
    let a = Device::staff(&b, &admin, "clinician", "Dr A");

    let ada = patient(&a, "Ada Erased");
    let bob = patient(&a, "Bob Kept");
    let (n, v) = note(&a, &ada, "first visit");
    a.vault
        .notes()
        .edit(
            n,
            v,
            NoteBody::Text {
                text: "first visit, amended".into(),
            },
        )
        .unwrap();
    note(&a, &bob, "bob's visit");
    photo(&a, &ada, 1);
    photo(&a, &bob, 2);
    a.sync_until_done(3);
    admin.sync_until_done(3);
    let (ada_id, bob_id): (ObjectId, ObjectId) = (ada.parse().unwrap(), bob.parse().unwrap());
    replicate(&b, t, ada_id);
    let ada_marks = markers(&b, t, ada_id);
    let bob_marks = markers(&b, t, bob_id);

    // Before: the server and both phones hold copies (so the scans below can fail).
    let before = server_bytes(&b);
    for m in &ada_marks {
        assert!(
            found_in(&before, m).is_some(),
            "a marker the server never held"
        );
    }
    assert!(
        ada_marks
            .iter()
            .any(|m| found_in(&device_bytes(&a), m).is_some())
    );
    let key = ArchiveKey::generate().unwrap();
    let old_archive = archive(&b, t, &key);

    // With no signal, A writes one more note about Ada.
    note(&a, &ada, "written offline after the erasure");

    // The clinic keeps records ten years: erasure needs a second reason.
    let policy = ward_proto::api::TenantPolicy {
        records_retention_years: 10,
        ..Default::default()
    };
    admin
        .sync
        .update_clinic_policy(serde_json::to_string(&policy).unwrap(), passkey(&admin))
        .unwrap();
    let held = admin
        .sync
        .erase_client(
            ada.clone(),
            "patient asked to be forgotten".into(),
            None,
            passkey(&admin),
        )
        .unwrap_err();
    assert!(held.to_string().contains("retention"), "{held}");
    let short = admin
        .sync
        .erase_client(ada.clone(), "asked".into(), None, passkey(&admin))
        .unwrap_err();
    assert!(short.to_string().contains("10 characters"), "{short}");
    let done: serde_json::Value = serde_json::from_str(
        &admin
            .sync
            .erase_client(
                ada.clone(),
                "patient asked to be forgotten".into(),
                Some("treated once, no ongoing care: DPO approved".into()),
                passkey(&admin),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(done["status"], "complete");
    assert_eq!(done["hold_overridden"], true);
    assert!(done["versions"].as_u64().unwrap() >= 6, "{done}");
    // A retry answers the finished entry.
    let again: serde_json::Value = serde_json::from_str(
        &admin
            .sync
            .erase_client(
                ada.clone(),
                "patient asked to be forgotten".into(),
                None,
                passkey(&admin),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again["completed_at_ms"], done["completed_at_ms"]);

    // The server: no copy of any of Ada's envelopes or blobs, in any item, file or version;
    // Bob's are all there.
    let after = server_bytes(&b);
    for m in &ada_marks {
        if let Some(f) = found_in(&after, m) {
            panic!("a copy of Ada's data survived in {f}");
        }
    }
    for m in &bob_marks {
        assert!(found_in(&after, m).is_some(), "Bob's data went too");
    }
    if let Some(aws) = &b.aws {
        // Ada's id is kept by the audit log and the ledger only.
        let ada_text = ada.as_bytes();
        for (pk, bytes) in &after {
            if has(bytes, ada_text) {
                assert!(
                    pk.ends_with("#AUDIT") || pk.contains("#AUDITDEV#") || pk.ends_with("#ERASE"),
                    "Ada's id is still in {pk} ({})",
                    aws.table_name()
                );
            }
        }
    }
    let audit = b.block_on(b.stores.audit.recent(t, 50)).unwrap();
    let erase = audit
        .iter()
        .find(|r| r.action == "client.erase")
        .expect("the erasure is audited");
    assert!(erase.target.as_deref().unwrap().contains("DPO approved"));

    // The phones, at their next sync: A's unsynced note is refused, and both drop Ada whole.
    a.sync_until_done(3);
    admin.sync_until_done(3);
    for d in [&a, &admin] {
        let names: Vec<String> = d
            .vault
            .clients()
            .list()
            .unwrap()
            .into_iter()
            .map(|c| c.display_name)
            .collect();
        assert!(!names.contains(&"Ada Erased".to_string()), "{names:?}");
        assert!(names.contains(&"Bob Kept".to_string()));
        let held = device_bytes(d);
        for m in &ada_marks {
            assert_eq!(
                found_in(&held, m),
                None,
                "a phone kept a copy of Ada's data"
            );
        }
    }
    assert!(
        !b.server_versions().iter().any(|(o, _, _)| o == &ada),
        "the offline note of an erased client was stored"
    );

    // A backup made before the erasure, restored afterwards with the newer ledger, yields
    // nothing of Ada; Bob comes back whole.
    let new_archive = archive(&b, t, &key);
    let later = backup::archive_ledger(Cursor::new(&new_archive), &key).unwrap();
    assert_eq!(later.len(), 1);
    let target = tempfile::tempdir().unwrap();
    let (fresh, _) =
        ward_backend::store::Stores::embedded(target.path(), "http://localhost").unwrap();
    let r = b
        .block_on(backup::restore_erasing(
            &fresh,
            &key,
            Cursor::new(&old_archive),
            &later,
        ))
        .unwrap();
    assert!(r.report.ok, "{:?}", r.report);
    assert_eq!(r.erased_clients, 1);
    assert!(r.erased_records_left_out >= 6);
    let restored = files_under(target.path())
        .into_iter()
        .map(|f| (f.display().to_string(), std::fs::read(&f).unwrap()))
        .collect::<Vec<_>>();
    for m in &ada_marks {
        assert_eq!(
            found_in(&restored, m),
            None,
            "the old archive brought Ada back"
        );
    }
    for m in &bob_marks {
        assert!(found_in(&restored, m).is_some(), "Bob did not come back");
    }
    assert_eq!(
        b.block_on(fresh.erasures.erasures(t)).unwrap().len(),
        1,
        "the restored clinic keeps the ledger"
    );
}

ward_e2e::on_both_adapters!(an_erased_client_leaves_no_copy_anywhere);
