//! `ward-lambda`: the same Router as `ward-server`, handed to `lambda_http::run` behind API
//! Gateway (HTTP API). Configuration comes from the environment the infrastructure template
//! sets (`WARD_STORE=aws`, `WARD_TABLE`, `WARD_BUCKET`, `WARD_RP_ID`, `WARD_WEB_ORIGIN`, …);
//! AWS clients are built once per cold start, never per request.

use ward_backend::config::StoreConfig;
use ward_backend::{AppState, Config, api, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(false)
        .without_time()
        .init();
    let config = Config::from_env(8080);
    if let StoreConfig::Embedded { .. } = &config.store {
        return Err(
            "ward-lambda needs WARD_STORE=aws (the embedded store is for ward-server)".into(),
        );
    }
    let stores = ward_backend::store::open(&config.store, &config.web_origin)
        .await?
        .stores;
    let state = AppState::new(stores, config, api::system_clock())?;
    // The scheduled sweeper function is this binary started with handler `sweep` (Lambda
    // passes the template's `Handler` as `_HANDLER`): it finishes unfinished revocations.
    if std::env::var("_HANDLER").as_deref() == Ok("sweep") {
        return lambda_http::lambda_runtime::run(lambda_http::service_fn(
            |_: lambda_http::LambdaEvent<serde_json::Value>| {
                let state = state.clone();
                async move {
                    let finished = ward_backend::sweeper::run_once(&state).await;
                    Ok::<_, lambda_http::Error>(serde_json::json!({ "finished": finished }))
                }
            },
        ))
        .await;
    }
    lambda_http::run(router(state)).await
}
