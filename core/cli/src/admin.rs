//! `ward admin …`: clinic administration from an admin's device (invites, approval, devices,
//! revocation and lockdown with a passkey step-up, policies, the quarantine).

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use ward_core::ffi::WardSync;

use super::{Device, Output};

#[derive(Subcommand)]
pub(crate) enum AdminCmd {
    /// Issue an invite; prints the one-time code.
    Invite {
        /// admin | clinician | front_desk
        #[arg(long, default_value = "clinician")]
        role: String,
        /// The invitee's name.
        #[arg(long)]
        name: String,
    },
    /// Approve a pending device.
    Approve {
        /// Device id.
        device: String,
    },
    /// The clinic's devices.
    Devices,
    /// Revoke a device (passkey step-up): its sessions end, the clinic key rotates, and it
    /// wipes itself at its next contact after rescuing unsynced notes to quarantine.
    Revoke {
        /// Device id.
        device: String,
    },
    /// Versions rescued by revoked devices; `--accept`/`--reject` decides one.
    Quarantine {
        /// Accept this version into the record.
        #[arg(long, conflicts_with = "reject")]
        accept: Option<String>,
        /// Reject this version.
        #[arg(long)]
        reject: Option<String>,
    },
    /// Revoke every other device and end every session (passkey step-up).
    Lockdown,
    /// Replace the clinic's policies with this JSON (passkey step-up).
    Policy {
        /// e.g. '{"idle_lock_seconds":300,"offline_lease_hours":336,"lease_warning_hours":72,
        /// "photo_consent_required":true,"exif_keep":["Orientation"],"rescue_on_wipe":true}'
        json: String,
    },
}

/// Runs one admin command on the device in `dev`.
pub(crate) fn run(a: AdminCmd, dev: &Device, out: &mut Output<impl Write>) -> Result<()> {
    let vault = dev.open()?;
    let sync = WardSync::new(vault)?;
    match a {
        AdminCmd::Revoke { device } => {
            outln!(out, "{}", sync.revoke_device(device, dev.passkey()?)?);
        }
        AdminCmd::Lockdown => outln!(out, "{}", sync.lockdown(dev.passkey()?)?),
        AdminCmd::Policy { json } => {
            outln!(out, "{}", sync.update_clinic_policy(json, dev.passkey()?)?);
        }
        AdminCmd::Quarantine { accept, reject } => {
            if let Some(v) = accept {
                sync.decide_quarantine(v.clone(), true)?;
                outln!(out, "accepted {v}");
            } else if let Some(v) = reject {
                sync.decide_quarantine(v.clone(), false)?;
                outln!(out, "rejected {v}");
            } else {
                let list: serde_json::Value = serde_json::from_str(&sync.quarantine()?)?;
                for q in list.as_array().into_iter().flatten() {
                    outln!(
                        out,
                        "{}  {:<8}  from device {}  client {}",
                        q["version_id"].as_str().unwrap_or_default(),
                        q["status"].as_str().unwrap_or_default(),
                        q["device_id"].as_str().unwrap_or_default(),
                        q["client_id"].as_str().unwrap_or("-")
                    );
                }
            }
        }
        AdminCmd::Invite { role, name } => {
            outln!(out, "{}", sync.create_invite(role, name)?)
        }
        AdminCmd::Approve { device } => {
            sync.approve_device(device.clone())?;
            outln!(out, "approved {device}");
        }
        AdminCmd::Devices => {
            let list: serde_json::Value = serde_json::from_str(&sync.list_devices()?)?;
            for d in list.as_array().into_iter().flatten() {
                outln!(
                    out,
                    "{}  {:<8}  {}",
                    d["device_id"].as_str().unwrap_or_default(),
                    d["status"].as_str().unwrap_or_default(),
                    d["name"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
