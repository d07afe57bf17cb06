//! `ward-server`: the Ward API on one machine with the embedded store (SQLite + files + a local
//! master key in `WARD_DATA_DIR`, default `./ward-data`). Prints its URL and, on first start, a
//! one-time setup code for the first clinic admin.

use std::net::SocketAddr;

use anyhow::Context;
use ward_backend::config::StoreConfig;
use ward_backend::store::Stores;
use ward_backend::{AppState, Config, api, router, tenants};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("backup") {
        // `ward-server backup export|restore|drill …` (JSON report on stdout, no server).
        let ok = ward_backend::backup::cli::run(&args[2..]).await?;
        std::process::exit(if ok { 0 } else { 1 });
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::from_env(8080);
    let port: u16 = config
        .web_origin
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(8080);
    let (stores, local_blobs) = match &config.store {
        StoreConfig::Embedded { dir } => {
            let (s, b) =
                Stores::embedded(dir, &config.web_origin).context("opening the data folder")?;
            (s, Some(b))
        }
        StoreConfig::Aws {
            table,
            bucket,
            endpoint,
        } => {
            use ward_backend::store::aws::{Aws, AwsSettings, S3Blobs, stores};
            let aws = Aws::connect(AwsSettings {
                table: table.clone(),
                bucket: bucket.clone(),
                endpoint: endpoint.clone(),
                region: None,
            })
            .await
            .context("connecting to AWS")?;
            if endpoint.is_some() {
                // An emulator (moto) starts empty; on AWS the template owns table and bucket.
                aws.create_table_and_bucket()
                    .await
                    .context("creating the table and bucket on the emulator")?;
            }
            let blobs = S3Blobs::new(aws.clone());
            (stores(aws, blobs), None)
        }
    };
    let mut state = AppState::new(stores.clone(), config.clone(), api::system_clock())?;
    if let Some(b) = local_blobs {
        state = state.with_local_blobs(b);
    }
    let setup = tenants::bootstrap(&stores, state.now()).await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!("Ward API listening on {}", config.web_origin);
    let mut banner = format!("\nWard is running at {}\n", config.web_origin);
    if let Some(s) = setup {
        banner.push_str(&format!(
            "Clinic \"{}\" (tenant {})\nOne-time setup code for the first admin (valid 24 h): {}\n",
            s.tenant.name, s.tenant.id, s.code
        ));
    }
    // The banner is the program's output for the person who started it.
    #[allow(clippy::print_stdout)]
    {
        println!("{banner}");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
