//! `ward team …`: care teams from any signed-in device (who treats a client; add, remove and
//! hand over, by those the clinic lets manage teams), "my clients", and break-glass.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use ward_core::ffi::WardSync;

use super::{Device, Output};

#[derive(Subcommand)]
pub(crate) enum TeamCmd {
    /// The clients this person may hold on their devices, and why (team or break-glass).
    Mine,
    /// A client's care team.
    Show {
        /// Client id.
        client: String,
    },
    /// Add a clinician (user id) to a client's care team.
    Add {
        /// Client id.
        client: String,
        /// The clinician's user id.
        user: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a member from a client's care team.
    Remove {
        /// Client id.
        client: String,
        /// The member's user id.
        user: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Hand a client over from one clinician to another.
    Handover {
        /// Client id.
        client: String,
        /// The clinician handing over.
        from: String,
        /// The clinician taking over.
        to: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Emergency access to a client off your care team (time-limited, shown to the admins).
    BreakGlass {
        /// Client id.
        client: String,
        /// Why you need it now.
        #[arg(long)]
        reason: String,
    },
}

fn print_team(out: &mut Output<impl Write>, json: &str) -> Result<()> {
    let team: serde_json::Value = serde_json::from_str(json)?;
    for m in team["members"].as_array().into_iter().flatten() {
        outln!(
            out,
            "{}  {}",
            m["user_id"].as_str().unwrap_or_default(),
            m["display_name"].as_str().unwrap_or_default()
        );
    }
    for g in team["break_glass"].as_array().into_iter().flatten() {
        outln!(
            out,
            "{}  {}  (break-glass until {})",
            g["user_id"].as_str().unwrap_or_default(),
            g["display_name"].as_str().unwrap_or_default(),
            g["expires_at_ms"]
        );
    }
    Ok(())
}

/// Runs one team command on the device in `dev`.
pub(crate) fn run(t: TeamCmd, dev: &Device, out: &mut Output<impl Write>) -> Result<()> {
    let vault = dev.open()?;
    let sync = WardSync::new(vault)?;
    match t {
        TeamCmd::Mine => {
            let mine: serde_json::Value = serde_json::from_str(&sync.my_clients()?)?;
            if mine["all"] == true {
                outln!(out, "every client of the clinic");
            }
            for c in mine["clients"].as_array().into_iter().flatten() {
                outln!(
                    out,
                    "{}  {}",
                    c["client_id"].as_str().unwrap_or_default(),
                    c["via"].as_str().unwrap_or_default()
                );
            }
        }
        TeamCmd::Show { client } => print_team(out, &sync.care_team(client)?)?,
        TeamCmd::Add {
            client,
            user,
            reason,
        } => print_team(out, &sync.add_to_care_team(client, user, reason)?)?,
        TeamCmd::Remove {
            client,
            user,
            reason,
        } => print_team(out, &sync.remove_from_care_team(client, user, reason)?)?,
        TeamCmd::Handover {
            client,
            from,
            to,
            reason,
        } => print_team(out, &sync.hand_over(client, from, to, reason)?)?,
        TeamCmd::BreakGlass { client, reason } => {
            let g: serde_json::Value = serde_json::from_str(&sync.break_glass(client, reason)?)?;
            outln!(
                out,
                "emergency access until {} (the clinic's admins are told); sync to receive the client",
                g["expires_at_ms"]
            );
        }
    }
    Ok(())
}
