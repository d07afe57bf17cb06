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
    /// The clinic's people, each with devices and live sessions.
    People,
    /// A one-time code enrolling another device of a person (a new or replacement phone, a
    /// console browser); without --user, of yourself.
    DeviceInvite {
        /// The person's user id.
        #[arg(long)]
        user: Option<String>,
    },
    /// Change a person's role (passkey step-up; their sessions end).
    Role {
        /// User id.
        user: String,
        /// admin | clinician | front_desk
        role: String,
    },
    /// Deactivate a leaver (passkey step-up): every device revoked and wiped, sessions
    /// ended, care teams left.
    Deactivate {
        /// User id.
        user: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// End one session without revoking its device.
    EndSession {
        /// Device id.
        device: String,
        /// Session id.
        session: String,
    },
    /// Break-glass alerts, newest first.
    Alerts,
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
        AdminCmd::People => {
            let list: serde_json::Value = serde_json::from_str(&sync.people()?)?;
            for p in list.as_array().into_iter().flatten() {
                let state = if p["deactivated_at_ms"].is_null() {
                    "active"
                } else {
                    "deactivated"
                };
                outln!(
                    out,
                    "{}  {:<10}  {:<11}  {}",
                    p["user_id"].as_str().unwrap_or_default(),
                    p["role"].as_str().unwrap_or_default(),
                    state,
                    p["display_name"].as_str().unwrap_or_default()
                );
                for d in p["devices"].as_array().into_iter().flatten() {
                    outln!(
                        out,
                        "    device {}  {:<8}  {}",
                        d["device_id"].as_str().unwrap_or_default(),
                        d["status"].as_str().unwrap_or_default(),
                        d["name"].as_str().unwrap_or_default()
                    );
                }
                for s in p["sessions"].as_array().into_iter().flatten() {
                    outln!(
                        out,
                        "    session {} on {}",
                        s["session_id"].as_str().unwrap_or_default(),
                        s["device_id"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        AdminCmd::DeviceInvite { user } => {
            let inv: serde_json::Value = serde_json::from_str(&sync.invite_device(user)?)?;
            outln!(out, "{}", inv["code"].as_str().unwrap_or_default());
        }
        AdminCmd::Role { user, role } => {
            outln!(out, "{}", sync.change_role(user, role, dev.passkey()?)?);
        }
        AdminCmd::Deactivate { user, reason } => {
            outln!(
                out,
                "{}",
                sync.deactivate_user(user, reason, dev.passkey()?)?
            );
        }
        AdminCmd::EndSession { device, session } => {
            sync.end_session(device, session.clone())?;
            outln!(out, "ended {session}");
        }
        AdminCmd::Alerts => {
            let list: serde_json::Value = serde_json::from_str(&sync.break_glass_alerts()?)?;
            for g in list.as_array().into_iter().flatten() {
                let ack = if g["acknowledged_at_ms"].is_null() {
                    "NEW"
                } else {
                    "seen"
                };
                outln!(
                    out,
                    "{}  {ack:<4}  {} on client {}: {}",
                    g["grant_id"].as_str().unwrap_or_default(),
                    g["display_name"].as_str().unwrap_or_default(),
                    g["client_id"].as_str().unwrap_or_default(),
                    g["reason"].as_str().unwrap_or_default()
                );
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
