//! `ward-server`: the Ward API on one machine with the embedded store (SQLite + files + a local
//! master key in `WARD_DATA_DIR`, default `./ward-data`). Prints its URL and, on first start, a
//! one-time setup code for the first clinic admin. `ward-server --help` lists the commands and
//! the `WARD_*` variables it reads.

use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::Context;
use ward_backend::config::ENV_VAR_HELP;
use ward_backend::{AppState, Config, api, backup, router, store, tenants};

/// The usage text: commands, then the environment (from `config::ENV_VAR_HELP`).
fn usage() -> String {
    let mut u = String::from(
        "usage: ward-server [serve]
       ward-server backup export  --tenant <id> --out <file> --key <keyfile>
       ward-server backup restore --in <file> --key <keyfile>
       ward-server backup drill   [--tenant <id>] [--keep <dir>]
       ward-server tenant create   --name <clinic name>
       ward-server tenant list
       ward-server tenant offboard --tenant <id> --out <file> --key <keyfile> --yes
       ward-server --help

commands:
  serve (default)   run the Ward API and the admin console
  backup export     write one tenant to an encrypted archive
  backup restore    restore an archive into the configured store
  backup drill      export and restore into a scratch store, and compare
  tenant create     a new clinic: its own key, its console address, its first admin's setup code
  tenant list       the clinics in the store
  tenant offboard   export a clinic to an archive, then crypto-shred it

environment:
",
    );
    let width = ENV_VAR_HELP.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, help) in ENV_VAR_HELP {
        let _ = writeln!(u, "  {name:width$}  {help}");
    }
    let _ = writeln!(u, "  {:width$}  log filter (default info)", "RUST_LOG");
    u
}

// The usage and the banner are the program's output for the person who started it.
#[allow(clippy::print_stdout, clippy::print_stderr)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        None | Some("serve") if args.len() <= 2 => serve().await,
        Some("backup") => {
            // `ward-server backup export|restore|drill …` (JSON report on stdout, no server).
            let ok = backup::cli::run(&args[2..]).await?;
            std::process::exit(if ok { 0 } else { 1 });
        }
        Some("tenant") => ward_backend::operator::run(&args[2..]).await,
        Some("-h" | "--help" | "help") => {
            print!("{}", usage());
            Ok(())
        }
        _ => {
            eprint!(
                "ward-server: unknown argument {:?}\n\n{}",
                args[1..].join(" "),
                usage()
            );
            std::process::exit(2);
        }
    }
}

#[allow(clippy::print_stdout)]
async fn serve() -> anyhow::Result<()> {
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
    let opened = store::open(&config.store, &config.web_origin).await?;
    let stores = opened.stores;
    let mut state = AppState::new(stores.clone(), config.clone(), api::system_clock())?;
    if let Some(b) = opened.local_blobs {
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
            "Clinic \"{}\" (tenant {})\nIts admin console: {}/console#tenant={}\nOne-time setup code for the first admin (valid 24 h): {}\n",
            s.tenant.name, s.tenant.id, config.web_origin, s.tenant.id, s.code
        ));
    }
    println!("{banner}");
    let _sweeper = ward_backend::sweeper::spawn(state.clone(), ward_backend::sweeper::EVERY);
    // With the peer address: the ceremony rate limits count per source address.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
