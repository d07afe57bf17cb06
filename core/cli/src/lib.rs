//! `ward`: a command-line device on top of Ward's core, for demos, scripting and the
//! end-to-end tests. It goes through the same FFI facade the phone apps call
//! ([`WardVault`], [`WardSync`]).
//!
//! A device is a folder: `vault/` (the encrypted vault), `keys/` (a file-backed key store
//! standing in for the Keychain / Android Keystore) and `passkey.json` (a software passkey
//! standing in for the platform authenticator). Neither stand-in is hardware-protected; the
//! folder should be treated like the secrets it holds.

//! Everything the CLI prints goes through one writer, [`Output`]: a reader that closes the
//! pipe early (`ward note list … | head`) ends the output quietly with exit status 0 instead of
//! the panic `println!` raises on a broken pipe. The workspace lints deny `println!` here, so
//! no output can bypass it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
pub use output::{Output, OutputClosed};
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::notes::NoteBody;
use ward_core::domain::photos::PhotoInput;
use ward_core::ffi::{
    PasskeyProvider, SoftwareKeyStore, SoftwarePasskey, VaultConfig, WardError, WardSync, WardVault,
};

mod output;

#[derive(Parser)]
#[command(name = "ward", version, about = "A Ward device on the command line")]
struct Cli {
    /// The device folder.
    #[arg(long, env = "WARD_DEVICE", default_value = "ward-device")]
    dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Enroll this device with an invite (or the server's one-time setup code).
    Enroll {
        /// Server URL, e.g. http://localhost:8080
        #[arg(long)]
        server: String,
        /// The clinic (tenant) id.
        #[arg(long)]
        tenant: String,
        /// The invite code (base64url: it may start with '-').
        #[arg(long, allow_hyphen_values = true)]
        invite: String,
        /// Your name (for the passkey).
        #[arg(long)]
        name: String,
        /// A name for this device.
        #[arg(long, default_value = "ward CLI")]
        device_name: String,
        /// The web origin the passkey presents (default: the server URL).
        #[arg(long)]
        origin: Option<String>,
    },
    /// Sign in again with the passkey (new session, fresh keys).
    Login,
    /// Ask the server whether this device is approved; fetch the keys once it is.
    Refresh,
    /// Push, upload photos, pull.
    Sync,
    /// Enrollment, last contact and unsynced work.
    Status,
    /// Clients.
    #[command(subcommand)]
    Client(ClientCmd),
    /// Notes.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Photos.
    #[command(subcommand)]
    Photo(PhotoCmd),
    /// Record a clinical photo consent for a client.
    Consent {
        /// Client id.
        client: String,
    },
    /// Notes with concurrent versions from two devices.
    Conflicts,
    /// Clinic administration (an admin's device).
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Care teams, my clients, break-glass.
    #[command(subcommand)]
    Team(team::TeamCmd),
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Add a client; prints its id.
    Add {
        /// Display name.
        name: String,
        /// A treating clinician's user id (repeatable): front desk assigns them in the same
        /// step (sent with the client's first sync).
        #[arg(long = "clinician")]
        clinicians: Vec<String>,
    },
    /// List clients.
    List,
}

#[derive(Subcommand)]
enum NoteCmd {
    /// Add a note; prints its id.
    Add {
        /// Client id.
        client: String,
        /// Text.
        text: String,
    },
    /// Add `count` short notes in one transaction (scripting and tests).
    Bulk {
        /// Client id.
        client: String,
        /// How many.
        count: u32,
        /// Text prefix.
        #[arg(long, default_value = "note")]
        prefix: String,
    },
    /// Edit a note from the version you saw.
    Edit {
        /// Note id.
        note: String,
        /// The version the edit is based on.
        base: String,
        /// New text.
        text: String,
    },
    /// A client's notes.
    List {
        /// Client id.
        client: String,
    },
}

#[derive(Subcommand)]
enum PhotoCmd {
    /// Capture a photo (JPEG or HEIC file) of a client under a consent.
    Add {
        /// Client id.
        client: String,
        /// Image file.
        file: PathBuf,
        /// Consent id.
        #[arg(long)]
        consent: Option<String>,
        /// Caption.
        #[arg(long, default_value = "")]
        caption: String,
    },
    /// A client's photos.
    List {
        /// Client id.
        client: String,
    },
    /// Download (if needed) and write a photo to a file.
    Get {
        /// Photo id.
        photo: String,
        /// Output file.
        out: PathBuf,
    },
}

struct Device {
    dir: PathBuf,
}

impl Device {
    fn vault_dir(&self) -> PathBuf {
        self.dir.join("vault")
    }

    fn key_store(&self) -> Result<Arc<SoftwareKeyStore>> {
        Ok(SoftwareKeyStore::new(path_str(&self.dir.join("keys"))?)?)
    }

    fn passkey_path(&self) -> PathBuf {
        self.dir.join("passkey.json")
    }

    fn open(&self) -> Result<Arc<WardVault>> {
        if !self.vault_dir().join("vault.db").exists() {
            bail!(
                "no device in {} — run `ward --dir {} enroll …` first",
                self.dir.display(),
                self.dir.display()
            );
        }
        let vault = WardVault::open(path_str(&self.vault_dir())?, self.key_store()?)?;
        vault.unlock()?;
        Ok(vault)
    }

    fn passkey(&self) -> Result<Arc<SoftwarePasskey>> {
        let json = std::fs::read_to_string(self.passkey_path())
            .with_context(|| format!("reading {}", self.passkey_path().display()))?;
        Ok(SoftwarePasskey::from_json(json)?)
    }

    fn save_passkey(&self, p: &SoftwarePasskey) -> Result<()> {
        write_private(&self.passkey_path(), p.to_json().as_bytes())
    }
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .context("the device folder path must be UTF-8")
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn random_id() -> Result<String> {
    let mut b = [0u8; 16];
    ward_proto_random(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn ward_proto_random(b: &mut [u8]) -> Result<()> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(b)
        .map_err(|_| anyhow::anyhow!("the OS random generator failed"))
}

/// Runs the CLI with `args` (the program name first), as `ward` does with its own.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // clap prints `--help` / `--version` itself and already treats a broken pipe as the end.
    let cli = Cli::try_parse_from(args).unwrap_or_else(|e| e.exit());
    let mut out = Output::new(io::stdout().lock());
    match execute(cli, &mut out).and_then(|()| out.flush()) {
        Err(e) if e.is::<OutputClosed>() => Ok(()),
        other => other,
    }
}

/// Writes a line to an [`Output`] (`println!`-style arguments), returning early on failure.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))?
    };
}

mod admin;
mod team;
use admin::AdminCmd;

fn execute(cli: Cli, out: &mut Output<impl Write>) -> Result<()> {
    let dev = Device { dir: cli.dir };
    match cli.cmd {
        Cmd::Enroll {
            server,
            tenant,
            invite,
            name,
            device_name,
            origin,
        } => {
            if dev.vault_dir().join("vault.db").exists() {
                bail!("{} already holds an enrolled device", dev.dir.display());
            }
            std::fs::create_dir_all(&dev.dir)?;
            let vault = WardVault::create(
                VaultConfig {
                    dir: path_str(&dev.vault_dir())?,
                    tenant_id: tenant,
                    device_id: random_id()?,
                    user_id: String::new(),
                },
                dev.key_store()?,
            )?;
            let passkey = SoftwarePasskey::new(origin.unwrap_or_else(|| server.clone()));
            let sync = WardSync::new(vault)?;
            let provider: Arc<dyn PasskeyProvider> = passkey.clone();
            let result = sync.enroll(server, invite, name, device_name, provider);
            // Keep the passkey even if a later step failed: the server may have registered it.
            dev.save_passkey(&passkey)?;
            outln!(out, "device status: {}", result?);
        }
        Cmd::Login => {
            let vault = dev.open()?;
            let passkey = dev.passkey()?;
            let provider: Arc<dyn PasskeyProvider> = passkey.clone();
            let status = WardSync::new(vault)?.login(provider);
            dev.save_passkey(&passkey)?;
            outln!(out, "device status: {}", status?);
        }
        Cmd::Refresh => {
            let vault = dev.open()?;
            outln!(out, "device status: {}", WardSync::new(vault)?.refresh()?);
        }
        Cmd::Sync => {
            let vault = dev.open()?;
            let s = match WardSync::new(vault)?.sync(None) {
                Err(WardError::Wiped) => {
                    outln!(
                        out,
                        "this device was revoked by a clinic admin: its unsynced work was \
                         handed to the clinic and the vault has been wiped"
                    );
                    return Ok(());
                }
                Err(WardError::WipePending) => {
                    bail!(
                        "this device was revoked by a clinic admin: its wipe is pending and no \
                         record is shown; run `ward sync` again with a connection to finish it"
                    );
                }
                Err(WardError::RateLimited {
                    retry_after_seconds,
                    ..
                }) => {
                    bail!(
                        "the server is rate-limiting this device: try again in \
                         {retry_after_seconds} s (your work stays on this device)"
                    );
                }
                other => other?,
            };
            outln!(
                out,
                "pushed {} (refused {}), photos uploaded {}, pulled {}, requests {}",
                s.pushed,
                s.refused,
                s.photos_uploaded,
                s.pulled,
                s.requests
            );
            if s.clients_dropped > 0 {
                outln!(
                    out,
                    "{} client(s) removed from this device: you are no longer on their care team",
                    s.clients_dropped
                );
            }
        }
        Cmd::Status => {
            let vault = dev.open()?;
            let st = vault.status();
            let s = WardSync::new(vault)?.status()?;
            outln!(out, "tenant:        {}", st.tenant_id);
            outln!(out, "device:        {} ({})", st.device_id, s.device_status);
            outln!(out, "user:          {} ({})", st.user_id, s.role);
            outln!(
                out,
                "last contact:  {}",
                s.last_contact_ms.map_or("never".into(), |t| t.to_string())
            );
            outln!(
                out,
                "unsynced:      {} clients, {} notes, {} photos, {} other; refused {}",
                s.unsynced_clients,
                s.unsynced_notes,
                s.unsynced_photos,
                s.unsynced_other,
                s.refused
            );
            if let Some(oldest) = s.oldest_unsynced_ms {
                outln!(out, "oldest unsynced written at {oldest}");
            }
            if st.unreadable_records > 0 {
                outln!(
                    out,
                    "unreadable:    {} record(s) this version of ward cannot read (kept; update ward)",
                    st.unreadable_records
                );
            }
            if s.wipe_pending {
                outln!(
                    out,
                    "wipe pending:  revoked by a clinic admin; no record is shown"
                );
            }
        }
        Cmd::Client(c) => {
            let vault = dev.open()?;
            match c {
                ClientCmd::Add { name, clinicians } => {
                    let v = vault.clients().create_assigned(
                        ClientInput {
                            display_name: name,
                            date_of_birth: None,
                            external_ref: None,
                        },
                        clinicians,
                    )?;
                    outln!(out, "{}", v.client_id);
                }
                ClientCmd::List => {
                    for c in vault.clients().list()? {
                        match c.break_glass_until_ms {
                            Some(until) => outln!(
                                out,
                                "{}  {}  (emergency access until {until})",
                                c.client_id,
                                c.display_name
                            ),
                            None => outln!(out, "{}  {}", c.client_id, c.display_name),
                        }
                    }
                    // A record this build cannot read is never left out without a trace.
                    let unreadable = vault.unreadable_records()?;
                    if !unreadable.is_empty() {
                        outln!(
                            out,
                            "({} record(s) this version of ward cannot read are kept on this \
                             device; update ward to see them)",
                            unreadable.len()
                        );
                    }
                }
            }
        }
        Cmd::Note(n) => {
            let vault = dev.open()?;
            match n {
                NoteCmd::Add { client, text } => {
                    let v = vault.notes().create(client, NoteBody::Text { text })?;
                    outln!(out, "{} {}", v.note_id, v.version_id);
                }
                NoteCmd::Bulk {
                    client,
                    count,
                    prefix,
                } => {
                    let bodies = (0..count)
                        .map(|i| NoteBody::Text {
                            text: format!("{prefix} {i}"),
                        })
                        .collect();
                    let ids = vault.inner().create_notes(&client, bodies)?;
                    outln!(out, "{}", ids.len());
                }
                NoteCmd::Edit { note, base, text } => {
                    let v = vault.notes().edit(note, base, NoteBody::Text { text })?;
                    outln!(out, "{} {}", v.note_id, v.version_id);
                }
                NoteCmd::List { client } => {
                    for n in vault.notes().list(client)? {
                        let flag = if n.has_conflict { "  [conflict]" } else { "" };
                        outln!(out, "{} {}  {}{flag}", n.note_id, n.version_id, n.preview);
                    }
                }
            }
        }
        Cmd::Photo(p) => {
            let vault = dev.open()?;
            match p {
                PhotoCmd::Add {
                    client,
                    file,
                    consent,
                    caption,
                } => {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let v = vault.photos().capture(
                        client,
                        bytes.into(),
                        PhotoInput {
                            caption,
                            body_area: None,
                            consent_id: consent,
                            series: None,
                            series_label: None,
                        },
                        None,
                    )?;
                    outln!(out, "{}", v.photo_id);
                }
                PhotoCmd::List { client } => {
                    for p in vault.photos().list(client)? {
                        outln!(out, "{}  {}", p.photo_id, p.caption);
                    }
                }
                PhotoCmd::Get { photo, out: file } => {
                    WardSync::new(vault.clone())?.download_photo(photo.clone())?;
                    let bytes = vault.photos().read(photo)?;
                    write_private(&file, &bytes)?;
                    outln!(out, "{} bytes", bytes.len());
                }
            }
        }
        Cmd::Consent { client } => {
            let vault = dev.open()?;
            let c = vault
                .consents()
                .record(client, vec![ConsentScope::Clinical], None)?;
            outln!(out, "{}", c.consent_id);
        }
        Cmd::Admin(a) => admin::run(a, &dev, out)?,
        Cmd::Team(t) => team::run(t, &dev, out)?,
        Cmd::Conflicts => {
            let vault = dev.open()?;
            for c in vault.clients().list()? {
                for n in vault.notes().list(c.client_id.clone())? {
                    if n.has_conflict {
                        let full = vault.notes().get(n.note_id.clone())?;
                        outln!(
                            out,
                            "{} (client {}): versions {}",
                            n.note_id,
                            c.display_name,
                            full.conflicting_version_ids.join(", ")
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::Cli;

    /// Invite codes are base64url, so one in 64 starts with '-': it must still be taken as the
    /// code, not as an unknown flag (the SIGKILL e2e test failed on such a code).
    #[test]
    fn an_invite_code_starting_with_a_dash_is_a_value() {
        let args = [
            "ward",
            "enroll",
            "--server",
            "http://localhost:8080",
            "--tenant",
            "t",
            "--invite",
            "-jN4eL1W084G11fwHyrtBQCq",
            "--name",
            "Ada",
        ];
        assert!(Cli::try_parse_from(args).is_ok());
    }
}
