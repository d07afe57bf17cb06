//! `ward-server backup …`: export, restore and the restore drill from the command line, on the
//! store the usual `WARD_*` configuration names (the embedded data folder by default, or
//! `WARD_STORE=aws`).
//!
//! ```text
//! ward-server backup export  --tenant <id> --out <file> --key <keyfile>
//! ward-server backup restore --in <file> --key <keyfile> [--erasures-from <newer archive>]...
//! ward-server backup drill   [--tenant <id>] [--keep <dir>]
//! ```
//!
//! The key file holds the 32-byte archive key as 64 hex digits; `export` creates it (mode
//! 0600) if it does not exist, and every command refuses a key file that group or others can
//! read. Restoring an archive older than the newest, pass the newest (or any later ones) with
//! `--erasures-from`: their erasure ledgers are re-applied, so a client erased after the older
//! archive was made does not come back (ADR 0016). `--tenant` may be left out when the store holds exactly one tenant. Reports are JSON
//! on stdout; the process exits non-zero when a restore or drill finds any difference.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use ward_proto::TenantId;

use super::{ArchiveKey, BackupError, drill, export, restore_erasing};
use crate::config::Config;
use crate::store::Stores;

const USAGE: &str = "usage:
  ward-server backup export  --tenant <id> --out <file> --key <keyfile>
  ward-server backup restore --in <file> --key <keyfile> [--erasures-from <newer archive>]...
  ward-server backup drill   [--tenant <id>] [--keep <dir>]";

/// Runs a `backup` subcommand (`args` after `backup`); returns whether everything matched.
pub async fn run(args: &[String]) -> anyhow::Result<bool> {
    let (cmd, rest) = args.split_first().ok_or_else(|| anyhow!("{USAGE}"))?;
    if matches!(cmd.as_str(), "-h" | "--help" | "help") {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{USAGE}")?;
        return Ok(true);
    }
    let flag = |name: &str| -> Option<&str> {
        rest.iter()
            .position(|a| a == name)
            .and_then(|i| rest.get(i + 1))
            .map(String::as_str)
    };
    let need = |name: &str| flag(name).ok_or_else(|| anyhow!("missing {name}\n{USAGE}"));
    let config = Config::from_env(8080);
    match cmd.as_str() {
        "export" => {
            let stores = open_store(&config).await?;
            let tenant = pick_tenant(&stores, flag("--tenant")).await?;
            let key = load_key(Path::new(need("--key")?), true)?;
            let out = PathBuf::from(need("--out")?);
            let file = create_private(&out)?;
            let r = export(&stores, tenant, &key, std::io::BufWriter::new(file)).await;
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    let _ = std::fs::remove_file(&out);
                    return Err(e).context("export failed");
                }
            };
            let inv = &r.manifest.inventory;
            let mut kinds = std::collections::BTreeMap::<String, u64>::new();
            for f in inv.objects.values() {
                *kinds.entry(super::kind_name(f.kind)).or_default() += 1;
            }
            emit(&serde_json::json!({
                "archive": out,
                "archive_id": r.archive_id,
                "tenant": r.tenant,
                "archive_bytes": r.archive_bytes,
                "content_sha256": r.manifest.content_sha256,
                "objects": kinds,
                "blobs": inv.blobs.len(),
                "blob_bytes": inv.blobs.values().map(|b| b.size).sum::<u64>(),
                "key_epochs": inv.key_checks.keys().collect::<Vec<_>>(),
                "users": inv.users.count,
                "devices": inv.devices.count,
                "audit_entries": inv.audit.count,
                "warnings": inv.warnings,
            }))?;
            Ok(true)
        }
        "restore" => {
            let stores = open_store(&config).await?;
            let key = load_key(Path::new(need("--key")?), false)?;
            let path = need("--in")?;
            let mut later = Vec::new();
            for (i, a) in rest.iter().enumerate() {
                if a != "--erasures-from" {
                    continue;
                }
                let newer = rest
                    .get(i + 1)
                    .ok_or_else(|| anyhow!("--erasures-from needs an archive\n{USAGE}"))?;
                let f = std::fs::File::open(newer).with_context(|| format!("opening {newer}"))?;
                later.extend(
                    super::archive_ledger(std::io::BufReader::new(f), &key)
                        .with_context(|| format!("reading the erasure ledger of {newer}"))?,
                );
            }
            let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
            let r = restore_erasing(&stores, &key, std::io::BufReader::new(file), &later)
                .await
                .context("restore failed")?;
            emit(&r)?;
            Ok(r.report.ok)
        }
        "drill" => {
            let stores = open_store(&config).await?;
            let tenant = pick_tenant(&stores, flag("--tenant")).await?;
            let (work, keep) = match flag("--keep") {
                Some(d) => (PathBuf::from(d), true),
                None => {
                    let mut id = [0u8; 8];
                    ward_proto::keys::fill_random(&mut id).map_err(|_| BackupError::Crypto)?;
                    (
                        std::env::temp_dir().join(format!("ward-drill-{}", hex::encode(id))),
                        false,
                    )
                }
            };
            private_dir(&work)?;
            let r = drill(&stores, tenant, &work).await;
            if !keep {
                let _ = std::fs::remove_dir_all(&work);
            }
            let r = r.context("drill failed")?;
            emit(&r)?;
            Ok(r.ok)
        }
        _ => bail!("unknown backup command {cmd:?}\n{USAGE}"),
    }
}

pub(crate) fn emit<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// The configured store ([`crate::store::open`], as `ward-server` opens it).
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Stores> {
    Ok(crate::store::open(&config.store, &config.web_origin)
        .await?
        .stores)
}

async fn pick_tenant(stores: &Stores, given: Option<&str>) -> anyhow::Result<TenantId> {
    if let Some(t) = given {
        return t
            .parse()
            .map_err(|_| anyhow!("--tenant {t:?} is not a tenant id"));
    }
    let all = stores.tenants.list_tenants().await?;
    match all.as_slice() {
        [only] => Ok(only.id),
        [] => bail!("the store holds no tenant"),
        _ => bail!(
            "the store holds {} tenants: name one with --tenant",
            all.len()
        ),
    }
}

/// Reads the archive key from `path`, or with `create` generates it there (mode 0600) if the
/// file does not exist. Refuses a key file group or others can read.
pub fn load_key(path: &Path, create: bool) -> anyhow::Result<ArchiveKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    bail!(
                        "the archive key file {} has mode {mode:o}: others can read it (chmod 600)",
                        path.display()
                    );
                }
            }
            let bytes = zeroize::Zeroizing::new(bytes);
            Ok(ArchiveKey::parse(&bytes)?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = ArchiveKey::generate()?;
            let mut f = create_private(path)?;
            f.write_all(key.to_hex().as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            tracing::warn!(
                "generated a new archive key in {}: keep it apart from the archives",
                path.display()
            );
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading the archive key {}", path.display())),
    }
}

/// Creates a new file readable by its owner only (refusing to overwrite one).
pub(crate) fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))
}

/// Creates a folder accessible to its owner only.
fn private_dir(path: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
        .with_context(|| format!("creating {}", path.display()))
}
