//! A test harness for the API: the real Router over a real store, driven in-process with
//! `tower::ServiceExt::oneshot`, a software passkey per person and an Ed25519 key per device.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use ward_backend::store::Stores;
use ward_backend::{AppState, Config, router, tenants};
use ward_proto::DeviceId;
use ward_proto::signing::{self, DeviceKey};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

pub const ORIGIN: &str = "http://localhost:8080";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<AtomicI64>,
    pub tenant: String,
    pub setup_code: String,
    pub dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl TestApp {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (stores, blobs) = Stores::embedded(dir.path(), ORIGIN).unwrap();
        Self::with_stores(stores, Some(blobs), dir).await
    }

    pub async fn with_stores(
        stores: Stores,
        blobs: Option<Arc<ward_backend::store::local_blobs::LocalBlobs>>,
        dir: tempfile::TempDir,
    ) -> Self {
        let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
        let c = clock.clone();
        let config = Config::local(8080, dir.path().to_path_buf());
        let mut state = AppState::new(
            stores.clone(),
            config,
            Arc::new(move || c.load(Ordering::SeqCst)),
        )
        .unwrap();
        if let Some(b) = blobs {
            state = state.with_local_blobs(b);
        }
        let setup = tenants::bootstrap(&stores, state.now())
            .await
            .unwrap()
            .unwrap();
        Self {
            router: router(state.clone()),
            state,
            clock,
            tenant: setup.tenant.id.to_string(),
            setup_code: setup.code,
            dir,
        }
    }

    /// The same app over the AWS adapter on the shared moto server.
    pub async fn on_moto() -> Self {
        let moto = tokio::task::spawn_blocking(ward_testkit::shared)
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("moto server could not start: {e:#}"));
        let id = uuid::Uuid::new_v4().simple().to_string();
        let aws = ward_backend::store::aws::Aws::connect(ward_backend::store::aws::AwsSettings {
            replica_bucket: None,
            table: format!("ward-test-{id}"),
            bucket: format!("ward-test-{id}"),
            endpoint: Some(moto.endpoint.clone()),
            region: None,
        })
        .await
        .unwrap();
        aws.create_table_and_bucket().await.unwrap();
        let blobs = ward_backend::store::aws::S3Blobs::new(aws.clone());
        let stores = ward_backend::store::aws::stores(aws, blobs);
        Self::with_stores(stores, None, tempfile::tempdir().unwrap()).await
    }

    /// A second clinic on the same server (its own key), seen through the same router: a
    /// `TestApp` whose `tenant` and `setup_code` are the new clinic's.
    pub async fn other_clinic(&self, name: &str) -> TestApp {
        let setup = tenants::create_clinic(&self.state.stores, name, self.now())
            .await
            .unwrap();
        TestApp {
            router: self.router.clone(),
            state: self.state.clone(),
            clock: self.clock.clone(),
            tenant: setup.tenant.id.to_string(),
            setup_code: setup.code,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub async fn raw(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let is_json = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").starts_with("application/json"))
            .unwrap_or(false);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if !status.is_success() {
            assert!(
                is_json && body["error"]["code"].is_string(),
                "{status}: error body must be JSON with a code, got {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Resp { status, body }
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.raw(req).await
    }

    pub fn t(&self, rest: &str) -> String {
        format!("/v1/tenants/{}{rest}", self.tenant)
    }

    /// Enrolls a person with an invite code; returns the signed-in device.
    pub async fn enroll(&self, invite_code: &str, name: &str) -> Device {
        self.enroll_as(invite_code, name, "phone").await
    }

    /// [`enroll`](Self::enroll) of a device of `platform` (`phone`, `browser`, `cli`).
    pub async fn enroll_as(&self, invite_code: &str, name: &str, platform: &str) -> Device {
        let mut passkey = SoftPasskey::new(true);
        let (key, _) = DeviceKey::generate().unwrap();
        let device_id = DeviceId::random();
        let r = self
            .post(
                &self.t("/enroll/start"),
                json!({"invite_code": invite_code, "user_name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let options: CreationChallengeResponse =
            serde_json::from_value(r.body["options"].clone()).unwrap();
        let credential = passkey
            .do_registration(Url::parse(ORIGIN).unwrap(), options)
            .unwrap();
        let finish = json!({
            "ceremony_id": r.body["ceremony_id"],
            "credential": credential,
            "invite_code": invite_code,
            "device": {"device_id": device_id, "public_key": b64(&key.public_key()), "name": format!("{name}'s {platform}"), "platform": platform},
        });
        let r = self.post(&self.t("/enroll/finish"), finish.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        Device {
            passkey,
            key: Arc::new(key),
            device_id,
            user_id: r.body["user_id"].as_str().unwrap().to_string(),
            session_id: r.body["session_id"].as_str().unwrap().to_string(),
            token: r.body["token"].as_str().unwrap().to_string(),
            last_finish: finish,
        }
    }

    pub async fn admin(&self) -> Device {
        self.enroll(&self.setup_code.clone(), "Admin").await
    }

    /// Invites and enrolls a user with `role`; the admin approves the device when `approve`.
    pub async fn staff(&self, admin: &Device, role: &str, name: &str, approve: bool) -> Device {
        let r = self
            .call(
                admin,
                "POST",
                &self.t("/invites"),
                Some(json!({"role": role, "display_name": name})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let d = self.enroll(r.body["code"].as_str().unwrap(), name).await;
        if approve {
            let r = self
                .call(
                    admin,
                    "POST",
                    &self.t(&format!("/devices/{}/approve", d.device_id)),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
        d
    }

    /// A request signed by `d`'s key with its session.
    pub fn signed(
        &self,
        d: &Device,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Request<Body> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let nonce = signing::new_nonce().unwrap();
        let ts = self.now();
        let sig = d
            .key
            .sign_request(method, path, body.as_bytes(), ts, &nonce, &d.session_id)
            .unwrap();
        Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", d.token))
            .header(signing::HEADER_DEVICE, d.device_id.to_string())
            .header("x-ward-session", &d.session_id)
            .header(signing::HEADER_TIMESTAMP, ts.to_string())
            .header(signing::HEADER_NONCE, nonce)
            .header(signing::HEADER_SIGNATURE, sig)
            .body(Body::from(body))
            .unwrap()
    }

    pub async fn call(&self, d: &Device, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.raw(self.signed(d, method, path, body)).await
    }

    /// Logs `d`'s person in again on the same device (fresh session).
    pub async fn login(&self, d: &mut Device) -> Resp {
        let r = self
            .post(&self.t("/login/start"), json!({"user_id": d.user_id}))
            .await;
        if r.status != StatusCode::OK {
            return r;
        }
        let options: RequestChallengeResponse =
            serde_json::from_value(r.body["options"].clone()).unwrap();
        let credential = d
            .passkey
            .do_authentication(Url::parse(ORIGIN).unwrap(), options)
            .unwrap();
        let finish = json!({"ceremony_id": r.body["ceremony_id"], "credential": credential, "device_id": d.device_id});
        let r = self.post(&self.t("/login/finish"), finish.clone()).await;
        d.last_finish = finish;
        if r.status == StatusCode::OK {
            d.session_id = r.body["session_id"].as_str().unwrap().to_string();
            d.token = r.body["token"].as_str().unwrap().to_string();
        }
        r
    }

    /// A fresh passkey assertion on `d`'s session.
    pub async fn step_up(&self, d: &mut Device) -> Resp {
        let r = self.call(d, "POST", &self.t("/step-up/start"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let options: RequestChallengeResponse =
            serde_json::from_value(r.body["options"].clone()).unwrap();
        let credential = d
            .passkey
            .do_authentication(Url::parse(ORIGIN).unwrap(), options)
            .unwrap();
        self.call(
            d,
            "POST",
            &self.t("/step-up/finish"),
            Some(json!({"ceremony_id": r.body["ceremony_id"], "credential": credential})),
        )
        .await
    }
}

pub struct Device {
    pub passkey: SoftPasskey,
    pub key: Arc<DeviceKey>,
    pub device_id: DeviceId,
    pub user_id: String,
    pub session_id: String,
    pub token: String,
    pub last_finish: Value,
}

impl Device {
    /// The same device and session (not the passkey): to keep using an old session after
    /// `login` replaced it.
    pub fn clone_session(&self) -> Device {
        Device {
            passkey: SoftPasskey::new(true),
            key: self.key.clone(),
            device_id: self.device_id,
            user_id: self.user_id.clone(),
            session_id: self.session_id.clone(),
            token: self.token.clone(),
            last_finish: self.last_finish.clone(),
        }
    }
}

pub fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// A sealed envelope for `object` of `kind` in `tenant` (a fresh version).
pub fn envelope(
    tenant: &str,
    key: &ward_proto::TenantKey,
    object: ward_proto::ObjectId,
    kind: ward_proto::Kind,
    plaintext: &[u8],
) -> (ward_proto::ObjectRef, Vec<u8>) {
    let o = ward_proto::ObjectRef {
        tenant: tenant.parse().unwrap(),
        object,
        version: ward_proto::VersionId::random(),
        kind,
    };
    (
        o,
        ward_proto::envelope::Envelope::seal_stated(o, draft_if_note(kind), key, plaintext)
            .unwrap(),
    )
}

pub fn item(o: &ward_proto::ObjectRef, client: Option<ward_proto::ObjectId>, env: &[u8]) -> Value {
    json!({"object_id": o.object, "version_id": o.version, "kind": o.kind as u8, "client_id": client, "envelope": b64(env)})
}

pub async fn release_keys(app: &TestApp, d: &Device) -> Vec<ward_proto::TenantKey> {
    let req = ward_proto::sealed::SealRequestKey::generate().unwrap();
    let r = app
        .call(
            d,
            "POST",
            &app.t("/keys/release"),
            Some(json!({"ephemeral_public": b64(&req.public_key())})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sealed: ward_proto::sealed::SealedKey =
        serde_json::from_value(r.body["sealed"].clone()).unwrap();
    let tenant: ward_proto::TenantId = app.tenant.parse().unwrap();
    let payload = req
        .open(&sealed, &ward_backend::api::keys::release_context(tenant))
        .unwrap();
    let epochs: Vec<u32> = serde_json::from_value(r.body["epochs"].clone()).unwrap();
    ward_proto::api::decode_release_payload(&payload, &epochs).unwrap()
}

/// `objects/push` of `items` by `d`.
pub async fn push(app: &TestApp, d: &Device, items: Vec<Value>) -> Resp {
    let body = serde_json::json!({ "objects": items });
    app.call(d, "POST", &app.t("/objects/push"), Some(body))
        .await
}

impl TestApp {
    /// Revokes `d` after a step-up of `admin`; the answer (`Revoked`).
    pub async fn revoke(&self, admin: &mut Device, d: &Device) -> Value {
        self.step_up(admin).await;
        let path = self.t(&format!("/devices/{}/revoke", d.device_id));
        let r = self.call(admin, "POST", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }

    /// `device`'s status in the admin's device list.
    pub async fn device_status(&self, admin: &Device, device: &str) -> String {
        let r = self.call(admin, "GET", &self.t("/devices"), None).await;
        let list = r.body.as_array().unwrap();
        let row = list.iter().find(|d| d["device_id"] == device).unwrap();
        row["status"].as_str().unwrap().to_string()
    }
}

/// `d` creates a new client (a client record version under `key`); its reference.
pub async fn push_client(
    app: &TestApp,
    d: &Device,
    key: &ward_proto::TenantKey,
) -> ward_proto::ObjectRef {
    let id = ward_proto::ObjectId::random();
    let (x, x_env) = envelope(&app.tenant, key, id, ward_proto::Kind::Client, b"client");
    let r = push(app, d, vec![item(&x, None, &x_env)]).await;
    assert_eq!(r.body[0]["status"], "created", "{:?}", r.body);
    x
}

/// The state a test seals a note with when it does not care: a draft (other kinds state none).
pub fn draft_if_note(kind: ward_proto::Kind) -> Option<ward_proto::NoteState> {
    (kind == ward_proto::Kind::Note).then_some(ward_proto::NoteState::Draft)
}

/// A format-1 envelope (as written before note states), sealed here with raw ring from the
/// format's description (docs/protocol.md), independently of ward-proto's writer: one chunk.
pub fn format_one(o: &ward_proto::ObjectRef, key: &ward_proto::TenantKey, plain: &[u8]) -> Vec<u8> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let aead = |k: &[u8]| LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k).unwrap());
    let mut h = Vec::with_capacity(124);
    h.extend_from_slice(b"WARD");
    h.extend_from_slice(&[1, o.kind as u8, 0, 0]);
    h.extend_from_slice(o.tenant.as_bytes());
    h.extend_from_slice(o.object.as_bytes());
    h.extend_from_slice(o.version.as_bytes());
    h.extend_from_slice(&key.epoch.to_be_bytes());
    h.extend_from_slice(&ward_proto::stream::DEFAULT_CHUNK_SIZE.to_be_bytes());
    let cek = [7u8; 32];
    let wrap_nonce = [9u8; 12];
    let mut wrapped = cek.to_vec();
    aead(key.key.expose_secret())
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(wrap_nonce),
            Aad::from(h[..64].to_vec()),
            &mut wrapped,
        )
        .unwrap();
    h.extend_from_slice(&wrap_nonce);
    h.extend_from_slice(&wrapped);
    let mut nonce = [0u8; 12];
    nonce[11] = 1; // chunk 0, the last
    let mut body = plain.to_vec();
    aead(&cek)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(h[..56].to_vec()),
            &mut body,
        )
        .unwrap();
    h.extend_from_slice(&body);
    h
}
