//! Opening the stores a configuration names: the one place `StoreConfig → Stores` is built, for
//! `ward-server`, `ward-lambda` and the backup commands alike.

use std::sync::Arc;

use anyhow::Context;

use super::local_blobs::LocalBlobs;
use super::{Stores, aws};
use crate::config::StoreConfig;

/// The stores of a configuration, and the local blob store when it is the embedded one (the
/// server must then serve its `/blobs` URLs: [`crate::AppState::with_local_blobs`]).
#[derive(Debug, Clone)]
pub struct OpenedStores {
    /// Every port.
    pub stores: Stores,
    /// The embedded store's photo blobs, served under `public_url`; `None` on AWS (S3 serves
    /// them through presigned URLs).
    pub local_blobs: Option<Arc<LocalBlobs>>,
}

/// Opens the stores `config` names: the embedded data folder (created if missing; blob URLs
/// under `public_url`, the server's own origin), or the AWS adapter, whose SDK clients are
/// built here once. With an emulator endpoint (moto, local runs only: `WARD_AWS_ENDPOINT` is
/// never set on Lambda) the table and bucket are created, since an emulator starts empty; on
/// AWS the infrastructure template owns them.
pub async fn open(config: &StoreConfig, public_url: &str) -> anyhow::Result<OpenedStores> {
    match config {
        StoreConfig::Embedded { dir } => {
            let (stores, blobs) = Stores::embedded(dir, public_url)
                .with_context(|| format!("opening the data folder {}", dir.display()))?;
            Ok(OpenedStores {
                stores,
                local_blobs: Some(blobs),
            })
        }
        StoreConfig::Aws {
            table,
            bucket,
            replica_bucket,
            endpoint,
        } => {
            let a = aws::Aws::connect(aws::AwsSettings {
                table: table.clone(),
                bucket: bucket.clone(),
                replica_bucket: replica_bucket.clone(),
                endpoint: endpoint.clone(),
                region: None,
            })
            .await
            .context("connecting to DynamoDB, S3 and KMS")?;
            if endpoint.is_some() {
                a.create_table_and_bucket()
                    .await
                    .context("creating the table and bucket on the emulator")?;
            }
            let blobs = aws::S3Blobs::new(a.clone());
            Ok(OpenedStores {
                stores: aws::stores(a, blobs),
                local_blobs: None,
            })
        }
    }
}
