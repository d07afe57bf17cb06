//! The HTTP side of the benchmark client: a keep-alive HTTP/1 client, device-signed requests
//! (the same headers and signature as the backend's tests) and enrolment of the first admin
//! with a software passkey over real HTTP.

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use ward_proto::DeviceId;
use ward_proto::signing::{self, DeviceKey};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, Url};

/// Header carrying the session id (bound into the signature); `ward_backend::api::auth`.
use ward_proto::errors::HEADER_SESSION;

/// The load generator's client: HTTP/1.1 with keep-alive and TCP_NODELAY.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client whose pool keeps one connection per concurrent task.
pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// Sends `req` and reads the whole response body.
pub async fn send(client: &HttpClient, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
    let resp = client.request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Unix time in ms (what the server checks request timestamps against).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

async fn post_json(client: &HttpClient, url: &str, body: &Value) -> Result<Value> {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let (status, bytes) = send(client, req).await?;
    if status != StatusCode::OK {
        bail!("POST {url}: {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// A signed-in device: its key and session.
#[derive(Debug)]
pub struct Session {
    key: DeviceKey,
    device_id: DeviceId,
    session_id: String,
    token: String,
}

impl Session {
    /// A request signed by this device: `path_and_query` is what is signed, `base` (scheme and
    /// authority) is prepended for the client.
    pub fn signed(
        &self,
        base: &str,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<Request<Full<Bytes>>> {
        let nonce = signing::new_nonce().map_err(|e| anyhow!("nonce: {e}"))?;
        let ts = now_ms();
        let sig = self
            .key
            .sign_request(
                method.as_str(),
                path_and_query,
                &body,
                ts,
                &nonce,
                &self.session_id,
            )
            .map_err(|e| anyhow!("signing: {e}"))?;
        Ok(Request::builder()
            .method(method)
            .uri(format!("{base}{path_and_query}"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.token))
            .header(signing::HEADER_DEVICE, self.device_id.to_string())
            .header(HEADER_SESSION, &self.session_id)
            .header(signing::HEADER_TIMESTAMP, ts.to_string())
            .header(signing::HEADER_NONCE, nonce)
            .header(signing::HEADER_SIGNATURE, sig)
            .body(Full::new(Bytes::from(body)))?)
    }
}

/// Enrolls the first admin with the server's one-time setup code: a software passkey
/// (registration ceremony against `origin`) and a fresh Ed25519 device key.
pub async fn enroll_admin(
    client: &HttpClient,
    base: &str,
    origin: &str,
    tenant: &str,
    setup_code: &str,
) -> Result<Session> {
    let mut passkey = SoftPasskey::new(true);
    let (key, _pkcs8) = DeviceKey::generate().map_err(|e| anyhow!("device key: {e}"))?;
    let device_id = DeviceId::random();
    let started = post_json(
        client,
        &format!("{base}/v1/tenants/{tenant}/enroll/start"),
        &json!({"invite_code": setup_code, "user_name": "Bench Admin"}),
    )
    .await
    .context("enroll/start")?;
    let options: CreationChallengeResponse = serde_json::from_value(started["options"].clone())?;
    let credential = passkey
        .do_registration(Url::parse(origin)?, options)
        .map_err(|e| anyhow!("software passkey registration: {e:?}"))?;
    let finish = json!({
        "ceremony_id": started["ceremony_id"],
        "credential": credential,
        "invite_code": setup_code,
        "device": {
            "device_id": device_id,
            "public_key": b64(&key.public_key()),
            "name": "bench load generator",
        },
    });
    let grant = post_json(
        client,
        &format!("{base}/v1/tenants/{tenant}/enroll/finish"),
        &finish,
    )
    .await
    .context("enroll/finish")?;
    let field = |name: &str| -> Result<String> {
        grant[name]
            .as_str()
            .map(String::from)
            .with_context(|| format!("enroll/finish: no {name} in {grant}"))
    };
    if grant["device_status"] != "active" {
        bail!("the admin's device is not active: {grant}");
    }
    Ok(Session {
        key,
        device_id,
        session_id: field("session_id")?,
        token: field("token")?,
    })
}
