//! `ward-server tenant …`: the operator's clinic commands, on the store the usual `WARD_*`
//! configuration names (embedded by default, or `WARD_STORE=aws`).
//!
//! ```text
//! ward-server tenant create   --name <clinic name>
//! ward-server tenant list
//! ward-server tenant offboard --tenant <id> --out <archive> --key <keyfile> --yes
//! ```
//!
//! `create` makes a clinic with its own key-encryption key and prints its id, its console
//! address and its first admin's one-time setup code. `offboard` exports the clinic to an
//! encrypted archive (the backup format; the clinic keeps it and its key), checks the archive
//! opens, then crypto-shreds the clinic: from then on nothing of it can be decrypted, on the
//! server, in its backups or on its phones, and every request to it is refused. Reports are
//! JSON on stdout.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use ward_proto::TenantId;

use crate::backup::cli::{create_private, emit, load_key, open_store};
use crate::config::Config;
use crate::tenants;

const USAGE: &str = "usage:
  ward-server tenant create   --name <clinic name>
  ward-server tenant list
  ward-server tenant offboard --tenant <id> --out <archive> --key <keyfile> --yes";

fn now_ms() -> i64 {
    (crate::domain::system_clock())()
}

/// Runs a `tenant` subcommand (`args` after `tenant`).
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let (cmd, rest) = args.split_first().ok_or_else(|| anyhow!("{USAGE}"))?;
    let flag = |name: &str| -> Option<&str> {
        rest.iter()
            .position(|a| a == name)
            .and_then(|i| rest.get(i + 1))
            .map(String::as_str)
    };
    let need = |name: &str| flag(name).ok_or_else(|| anyhow!("missing {name}\n{USAGE}"));
    let config = Config::from_env(8080);
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            emit(&serde_json::json!({ "usage": USAGE }))?;
            Ok(())
        }
        "create" => {
            let name = crate::domain::text::clean_name(need("--name")?, true)
                .map_err(|e| anyhow!("--name {e}"))?
                .to_string();
            let stores = open_store(&config).await?;
            let setup = tenants::create_clinic(&stores, &name, now_ms()).await?;
            emit(&serde_json::json!({
                "tenant": setup.tenant.id,
                "name": setup.tenant.name,
                "console": format!("{}/console#tenant={}", config.web_origin, setup.tenant.id),
                "setup_code": setup.code,
                "setup_code_valid_hours": 24,
            }))
        }
        "list" => {
            let stores = open_store(&config).await?;
            let all: Vec<_> = stores
                .tenants
                .list_tenants()
                .await?
                .into_iter()
                .map(|t| {
                    serde_json::json!({
                        "tenant": t.id,
                        "name": t.name,
                        "created_at_ms": t.created_at_ms,
                        "offboarded_at_ms": t.offboarded_at_ms,
                    })
                })
                .collect();
            emit(&all)
        }
        "offboard" => {
            let tenant: TenantId = need("--tenant")?
                .parse()
                .map_err(|_| anyhow!("--tenant is not a tenant id"))?;
            if !rest.iter().any(|a| a == "--yes") {
                bail!(
                    "offboarding exports the clinic and then destroys its key: nothing of it can be \
                     read afterwards except through the archive. Add --yes to go ahead.\n{USAGE}"
                );
            }
            let stores = open_store(&config).await?;
            let t = stores
                .tenants
                .get_tenant(tenant)
                .await?
                .ok_or_else(|| anyhow!("no tenant {tenant} in this store"))?;
            let key = load_key(Path::new(need("--key")?), true)?;
            let out = PathBuf::from(need("--out")?);
            let exported = if t.offboarded_at_ms.is_none() {
                let file = create_private(&out)?;
                let r = crate::backup::export(&stores, tenant, &key, std::io::BufWriter::new(file))
                    .await;
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = std::fs::remove_file(&out);
                        return Err(e).context("export failed: nothing was shredded");
                    }
                };
                // The archive must open with its key before the only other copy goes.
                let f = std::fs::File::open(&out)?;
                crate::backup::check_archive(std::io::BufReader::new(f), &key)
                    .context("the archive does not verify: nothing was shredded")?;
                Some(r.archive_id)
            } else {
                None
            };
            tenants::shred_clinic(&stores, &t, now_ms()).await?;
            emit(&serde_json::json!({
                "tenant": tenant,
                "archive": exported.as_ref().map(|_| &out),
                "archive_id": exported,
                "shredded": true,
                "key_ref": t.key_ref,
            }))
        }
        _ => bail!("unknown tenant command {cmd:?}\n{USAGE}"),
    }
}
