//! Harness for the end-to-end tests: a real backend ([`Backend`], the same Router `ward-server`
//! serves, on a loopback port, over the embedded store or the AWS adapter on moto), phone
//! devices ([`Device`], the core through the FFI facade the apps call, with a software
//! passkey), and a fault-injecting TCP proxy ([`FaultProxy`]) that resets, cuts, delays and
//! replays traffic between them.
//!
//! The core's API is blocking (apps call it from a background dispatcher), so tests are plain
//! `#[test]` functions and the backend runs on its own tokio runtime in a thread.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness"
)]

pub mod proxy;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::runtime::Runtime;
use ward_backend::store::Stores;
use ward_backend::{AppState, Config, api, router, tenants};
use ward_core::sync::{PasskeyProvider, SoftwarePasskey, WardSync};
use ward_core::{SoftwareKeyStore, WardVault};

pub use proxy::{FaultConfig, FaultProxy};

/// Runs each listed `fn(Store)` as a `#[test]` on both adapters, in `mod embedded` and
/// `mod aws_moto` of the invoking test file: adding a scenario to both is one line.
///
/// ```ignore
/// ward_e2e::on_both_adapters!(two_devices_converge, photos_reach_another_device);
/// ```
#[macro_export]
macro_rules! on_both_adapters {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[test] fn $name() { super::$name($crate::Store::Embedded) })*
        }
        mod aws_moto {
            $(#[test] fn $name() { super::$name($crate::Store::AwsMoto) })*
        }
    };
}

/// Which storage adapter the backend runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// SQLite + files + local master key.
    Embedded,
    /// DynamoDB + S3 + KMS on moto server.
    AwsMoto,
}

/// A running backend.
pub struct Backend {
    /// Where devices send API requests (the proxy, when there is one).
    pub api_url: String,
    /// The server's own URL.
    pub direct_url: String,
    /// WebAuthn origin the passkeys present.
    pub origin: String,
    /// The first clinic.
    pub tenant: String,
    /// One-time code that enrolls the first admin.
    pub setup_code: String,
    /// The server's stores (to check what it holds).
    pub stores: Stores,
    /// The AWS adapter on moto (its table and buckets, scanned by tests), if it runs on it.
    pub aws: Option<std::sync::Arc<ward_backend::store::aws::Aws>>,
    /// The proxy in front of it, if any.
    pub proxy: Option<FaultProxy>,
    runtime: Option<Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Starts a backend on `store`, optionally behind a fault proxy (which then also carries
    /// the embedded store's photo part uploads and downloads).
    pub fn start(store: Store, faults: Option<FaultConfig>) -> Backend {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let direct_url = format!("http://127.0.0.1:{port}");
        let proxy = faults.map(|f| FaultProxy::start(port, f));
        let api_url = proxy.as_ref().map_or(direct_url.clone(), |p| {
            format!("http://127.0.0.1:{}", p.port)
        });
        let data: PathBuf = dir.path().join("data");
        let config = Config::local(port, data.clone());
        let origin = config.web_origin.clone();
        let mut aws_handle = None;
        let (stores, local_blobs) = match store {
            Store::Embedded => {
                let (s, b) = Stores::embedded(&data, &api_url).unwrap();
                (s, Some(b))
            }
            Store::AwsMoto => {
                use ward_backend::store::aws::{Aws, AwsSettings, S3Blobs, stores};
                let moto = ward_testkit::shared().expect(
                    "moto server could not start (`cargo xtask moto`, then export WARD_MOTO_SERVER)",
                );
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let name = format!("e2e-{}-{n}", std::process::id());
                let aws = runtime
                    .block_on(Aws::connect(AwsSettings {
                        replica_bucket: Some(format!("{name}-replica")),
                        table: name.clone(),
                        bucket: name.clone(),
                        endpoint: Some(moto.endpoint.clone()),
                        region: None,
                    }))
                    .unwrap();
                runtime.block_on(aws.create_table_and_bucket()).unwrap();
                // Versioned like the template's bucket, and an off-site replica bucket (moto
                // does not replicate: tests copy into it what replication would).
                runtime.block_on(async {
                    let s3 = aws.s3();
                    let replica = format!("{name}-replica");
                    s3.create_bucket().bucket(&replica).send().await.unwrap();
                    for bucket in [name.as_str(), replica.as_str()] {
                        s3.put_bucket_versioning()
                            .bucket(bucket)
                            .versioning_configuration(
                                aws_sdk_s3::types::VersioningConfiguration::builder()
                                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                                    .build(),
                            )
                            .send()
                            .await
                            .unwrap();
                    }
                });
                aws_handle = Some(aws.clone());
                let blobs = S3Blobs::new(aws.clone());
                (stores(aws, blobs), None)
            }
        };
        let mut state = AppState::new(stores.clone(), config, api::system_clock()).unwrap();
        if let Some(b) = local_blobs {
            state = state.with_local_blobs(b);
        }
        let setup = runtime
            .block_on(tenants::bootstrap(&stores, state.now()))
            .unwrap()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = runtime.handle().clone();
        let app = router(state);
        let thread = std::thread::spawn(move || {
            handle.block_on(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Backend {
            api_url,
            direct_url,
            origin,
            tenant: setup.tenant.id.to_string(),
            setup_code: setup.code,
            stores,
            aws: aws_handle,
            proxy,
            runtime: Some(runtime),
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// The embedded store's data folder (empty for the AWS adapter), for plaintext scans.
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// Runs a future on the backend's runtime (to query its stores).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().unwrap().block_on(f)
    }

    /// Every tenant key epoch the server holds for the first clinic, in clear (the
    /// client-wrapping key at epoch 0 left out): to check what a phone's keys can open.
    pub fn tenant_keys_in_clear(&self) -> Vec<ward_proto::TenantKey> {
        let t = self.tenant.parse().unwrap();
        let rec = self
            .block_on(self.stores.tenants.get_tenant(t))
            .unwrap()
            .unwrap();
        self.block_on(self.stores.tenants.tenant_keys(t))
            .unwrap()
            .into_iter()
            .filter(|w| w.epoch > 0)
            .map(|w| {
                let k = self
                    .block_on(self.stores.keys.unwrap_tenant_key(
                        t,
                        &rec.key_ref,
                        w.purpose(),
                        &w.wrapped,
                    ))
                    .unwrap();
                ward_proto::TenantKey {
                    epoch: w.epoch,
                    key: ward_proto::SymmetricKey::from_slice(&k).unwrap(),
                }
            })
            .collect()
    }

    /// Every version the server holds for the tenant, as (object, version, kind).
    pub fn server_versions(&self) -> Vec<(String, String, u8)> {
        let tenant = self.tenant.parse().unwrap();
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .block_on(self.stores.objects.changes(tenant, after, 1000))
                .unwrap();
            if page.is_empty() {
                return out;
            }
            after = page.last().unwrap().seq;
            out.extend(
                page.into_iter()
                    .map(|o| (o.object_id.to_string(), o.version_id.to_string(), o.kind)),
            );
        }
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A phone: a vault in its own folder, a software key store and a software passkey.
pub struct Device {
    /// Its folder (vault/, keys/).
    pub dir: tempfile::TempDir,
    /// The vault facade.
    pub vault: Arc<WardVault>,
    /// Sync facade.
    pub sync: Arc<WardSync>,
    /// Its passkey.
    pub passkey: Arc<SoftwarePasskey>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device").finish_non_exhaustive()
    }
}

/// A random UUID string.
pub fn uuid() -> String {
    ward_proto::ObjectId::random().to_string()
}

impl Device {
    /// Creates a vault and enrolls it with `code` (an invite or the setup code).
    pub fn enroll(backend: &Backend, code: &str, name: &str) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let keys = SoftwareKeyStore::new(dir.path().join("keys").to_str().unwrap().into()).unwrap();
        let vault = WardVault::create(
            ward_core::ffi::VaultConfig {
                dir: dir.path().join("vault").to_str().unwrap().into(),
                tenant_id: backend.tenant.clone(),
                device_id: uuid(),
                user_id: String::new(),
            },
            keys,
        )
        .unwrap();
        let sync = WardSync::new(vault.clone()).unwrap();
        let passkey = SoftwarePasskey::new(backend.origin.clone());
        let provider: Arc<dyn PasskeyProvider> = passkey.clone();
        sync.enroll(
            backend.api_url.clone(),
            code.into(),
            name.into(),
            format!("{name}'s phone"),
            provider,
        )
        .unwrap();
        Device {
            dir,
            vault,
            sync,
            passkey,
        }
    }

    /// The first admin, enrolled with the setup code.
    pub fn first_admin(backend: &Backend) -> Device {
        Self::enroll(backend, &backend.setup_code, "Admin")
    }

    /// A staff member invited by `admin` with `role`, enrolled and approved.
    pub fn staff(backend: &Backend, admin: &Device, role: &str, name: &str) -> Device {
        let code = admin.sync.create_invite(role.into(), name.into()).unwrap();
        let d = Self::enroll(backend, &code, name);
        admin.sync.approve_device(d.device_id()).unwrap();
        assert_eq!(d.sync.refresh().unwrap(), "active");
        d
    }

    /// This device's id.
    pub fn device_id(&self) -> String {
        self.vault.status().device_id
    }

    /// Syncs until a sync succeeds (transient failures are expected under faults); returns
    /// how many attempts it took.
    pub fn sync_until_done(&self, max_attempts: u32) -> u32 {
        for attempt in 1..=max_attempts {
            match self.sync.sync(None) {
                Ok(_) => return attempt,
                Err(ward_core::WardError::Offline { .. }) => continue,
                Err(e) => panic!("sync failed for good: {e}"),
            }
        }
        panic!("no successful sync in {max_attempts} attempts");
    }

    /// Every (object, version, kind) in this device's vault.
    pub fn local_versions(&self) -> Vec<(String, String, u8)> {
        self.vault
            .inner()
            .with_conn(|c| {
                let mut s = c
                    .prepare("SELECT object_id, version_id, kind FROM objects")
                    .unwrap();
                let rows = s
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, Vec<u8>>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, u8>(2)?,
                        ))
                    })
                    .unwrap()
                    .map(|r| r.unwrap())
                    .map(|(o, v, k)| {
                        (
                            ward_proto::ObjectId::from_bytes(o.try_into().unwrap()).to_string(),
                            ward_proto::VersionId::from_bytes(v.try_into().unwrap()).to_string(),
                            k,
                        )
                    })
                    .collect();
                Ok(rows)
            })
            .unwrap()
    }
}
