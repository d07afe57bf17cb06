//! The AWS adapter: every storage port on one DynamoDB table ([`table`] is its only data-access
//! layer, and every key starts with the tenant), tenant keys under one KMS key per tenant
//! ([`kms`]), and photo envelopes in S3 through [`S3Blobs`] (multipart, presigned URLs,
//! SSE-KMS with the tenant's key). [`Aws::connect`] builds the SDK clients once; with an
//! `endpoint` (moto) it uses test credentials, path-style S3 and checksums only when required,
//! and without one the normal AWS provider chains. The table design and its limits are in
//! `docs/storage.md`.

mod attrs;
mod audit;
mod blob_erasure;
mod blobs;
mod client_keys;
mod devices;
mod emulator;
mod erasure;
mod identity;
mod keys;
mod kms;
mod lifecycle;
mod objects;
mod table;
mod tenants;

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_smithy_http_client::tls;

pub use blobs::S3Blobs;
pub use kms::TENANT_TAG;
pub use objects::MAX_INLINE_ENVELOPE;

#[cfg(test)]
mod tests {
    #[test]
    fn compiled_in_roots_form_a_pem_bundle_rustls_accepts() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let pem = super::compiled_in_roots_pem();
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(certs.len() > 100);
        assert_eq!(
            certs[0].as_ref(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref()
        );
    }
}

use super::Stores;
use crate::error::StoreError;
use crate::store::StoreResult;
use table::{GSI_PK, GSI_SK, PK, SK, TENANTS_INDEX, TTL, Table, sdk_err};

/// The Mozilla root certificates compiled into the binary (webpki-root-certs), as one PEM
/// bundle — the form the SDK's trust store takes.
fn compiled_in_roots_pem() -> Vec<u8> {
    use base64::Engine;
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

/// Where the adapter's resources are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// DynamoDB table name.
    pub table: String,
    /// S3 bucket name.
    pub bucket: String,
    /// The replica bucket of cross-region replication, if any: an erasure deletes the
    /// client's copies there too (replication does not carry version deletions).
    pub replica_bucket: Option<String>,
    /// An emulator's endpoint (moto); `None` on AWS.
    pub endpoint: Option<String>,
    /// Region; `None` uses the SDK's region chain on AWS (`AWS_REGION` on Lambda) and
    /// `us-east-1` with an emulator.
    pub region: Option<String>,
}

/// The AWS adapter: SDK clients built once, shared by every request (cloning shares them).
#[derive(Debug, Clone)]
pub struct Aws {
    table: Table,
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    bucket: String,
    replica_bucket: Option<String>,
    region: Option<String>,
}

impl Aws {
    /// Loads the SDK configuration and builds the DynamoDB, S3 and KMS clients.
    pub async fn connect(settings: AwsSettings) -> StoreResult<Arc<Self>> {
        // One HTTPS client (hyper 1 + rustls on ring) for every service, trusting the
        // compiled-in Mozilla roots: reading the platform's certificate folder was most of a
        // Lambda cold start (docs/benchmarks.md). A custom endpoint may sit behind a private CA,
        // so with one the platform roots are trusted too.
        let trust = tls::TrustStore::empty()
            .with_native_roots(settings.endpoint.is_some())
            .with_pem_certificate(compiled_in_roots_pem());
        let context = tls::TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .tls_context(context)
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http.clone());
        let emulated = settings.endpoint.is_some();
        if let Some(url) = &settings.endpoint {
            loader = loader
                .endpoint_url(url)
                .test_credentials()
                .region(Region::new(
                    settings
                        .region
                        .clone()
                        .unwrap_or_else(|| "us-east-1".into()),
                ));
        } else if let Some(r) = &settings.region {
            loader = loader.region(Region::new(r.clone()));
        }
        let conf = loader.load().await;
        let region = conf.region().map(|r| r.to_string());
        let mut s3 = aws_sdk_s3::config::Builder::from(&conf);
        if emulated {
            // Emulators only: path-style (no `bucket.localhost`), no default CRC checksums, and
            // moto's ListParts root element fixed up.
            s3 = s3
                .http_client(emulator::MotoCompat::wrap(http))
                .force_path_style(true)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Ok(Arc::new(Self {
            table: Table::new(aws_sdk_dynamodb::Client::new(&conf), settings.table),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            kms: aws_sdk_kms::Client::new(&conf),
            bucket: settings.bucket,
            replica_bucket: settings.replica_bucket,
            region,
        }))
    }

    /// Creates the table (keys `pk`/`sk`, the sparse `tenants` index, TTL on `ttl`) and the
    /// bucket if they do not exist; waits until the table is active. For tests and local
    /// setup: on AWS the infrastructure template owns both.
    pub async fn create_table_and_bucket(&self) -> StoreResult<()> {
        let ddb = self.table.client();
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| sdk_err("CreateTable", e))
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(|e| sdk_err("CreateTable", e))
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(TENANTS_INDEX)
            .key_schema(key(GSI_PK, KeyType::Hash)?)
            .key_schema(key(GSI_SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| sdk_err("CreateTable", e))?;
        let created = ddb
            .create_table()
            .table_name(self.table.name())
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(GSI_PK)?)
            .attribute_definitions(attr(GSI_SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await;
        if let Err(e) = created {
            let exists = e
                .as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception());
            if !exists {
                return Err(sdk_err("CreateTable", e));
            }
        }
        self.wait_table_active().await?;
        let ttl = ddb
            .describe_time_to_live()
            .table_name(self.table.name())
            .send()
            .await
            .map_err(|e| sdk_err("DescribeTimeToLive", e))?;
        let enabled = ttl
            .time_to_live_description()
            .and_then(|d| d.attribute_name())
            .is_some_and(|a| a == TTL);
        if !enabled {
            ddb.update_time_to_live()
                .table_name(self.table.name())
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(TTL)
                        .build()
                        .map_err(|e| sdk_err("UpdateTimeToLive", e))?,
                )
                .send()
                .await
                .map_err(|e| sdk_err("UpdateTimeToLive", e))?;
        }
        self.create_bucket().await
    }

    async fn wait_table_active(&self) -> StoreResult<()> {
        for _ in 0..120 {
            let d = self
                .table
                .client()
                .describe_table()
                .table_name(self.table.name())
                .send()
                .await
                .map_err(|e| sdk_err("DescribeTable", e))?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Backend(
            "table did not become active in time".into(),
        ))
    }

    async fn create_bucket(&self) -> StoreResult<()> {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        let mut req = self.s3.create_bucket().bucket(&self.bucket);
        if let Some(r) = self.region.as_deref().filter(|r| *r != "us-east-1") {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(r))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    se.is_bucket_already_owned_by_you() || se.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_err("CreateBucket", e)),
        }
    }

    /// The DynamoDB client (tests scan the table with it).
    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        self.table.client()
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        self.table.name()
    }

    /// The S3 client (tests read the bucket with it).
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The KMS client.
    pub fn kms(&self) -> &aws_sdk_kms::Client {
        &self.kms
    }
}

/// Every port served by the AWS adapter, photo blobs by `blobs`.
pub fn stores(aws: Arc<Aws>, blobs: Arc<S3Blobs>) -> Stores {
    Stores::from_adapter(aws, blobs)
}
