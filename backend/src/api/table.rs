//! Every route with its documentation: the single table both `api::router` and the OpenAPI
//! document are built from. One route is one entry:
//!
//! ```text
//! method "path" => handler, Access, "summary", [(RequestType) =>] returns [= Type] [, query = PARAMS];
//! ```
//!
//! `returns` is `json = T`, `json_or_csv = T`, `html`, `text`, `bytes` or `empty`.

use axum::routing::{MethodRouter, get, post, put};

use super::openapi::{Access::*, Doc, Param, Returns, any_object, schema};
use super::{AppState, console, devices, identity, keys, lifecycle, meta, photos, reports, sync};
use super::{erasure, export, openapi_json, teams, users};
use crate::domain;
use crate::model::{Device, QuarantineItem, TenantPolicy, WipeState};
use ward_proto::api::{PushRequest, PushResult};
use ward_proto::audit::{AuditUpload, AuditUploadResult};
use ward_proto::wipe::SignedReceipt;

macro_rules! returns {
    (json $t:ty) => {
        Returns::Json(schema::<$t>)
    };
    (json_or_csv $t:ty) => {
        Returns::JsonOrCsv(schema::<$t>)
    };
    (object) => {
        Returns::Json(any_object)
    };
    (html) => {
        Returns::Html
    };
    (text) => {
        Returns::Text
    };
    (bytes) => {
        Returns::Bytes
    };
    (empty) => {
        Returns::Empty
    };
}

macro_rules! request {
    () => {
        None
    };
    ($t:ty) => {
        Some(schema::<$t>)
    };
}

macro_rules! query {
    () => {
        &[]
    };
    ($q:expr) => {
        $q
    };
}

macro_rules! table {
    ($( $m:ident $path:literal => $handler:path, $access:ident, $summary:literal,
        $( ($req:ty) => )? $ret:ident $(= $rt:ty)? $(, query = $q:expr)? ; )*) => {
        vec![$(
            (
                Doc {
                    method: stringify!($m),
                    path: $path.to_string(),
                    summary: $summary,
                    access: $access,
                    request: request!($($req)?),
                    returns: returns!($ret $($rt)?),
                    query: query!($($q)?),
                },
                $m($handler),
            )
        ),*]
    };
}

const PULL: &[Param] = &[
    Param {
        name: "after",
        ty: "integer",
        description: "Feed position to continue after (`next_after` of the last page); default 0.",
    },
    Param {
        name: "limit",
        ty: "integer",
        description: "Versions per page, 1-1000 (default 200).",
    },
    Param {
        name: "exclude_own",
        ty: "integer",
        description: "1: leave out versions this device pushed itself.",
    },
];

const FORMAT: Param = Param {
    name: "format",
    ty: "string",
    description: "`json` (default) or `csv`.",
};

const BREACH: &[Param] = &[FORMAT];

const AUDIT: &[Param] = &[
    Param {
        name: "device",
        ty: "string",
        description: "Only entries of this device id.",
    },
    Param {
        name: "actor",
        ty: "string",
        description: "Only entries of this actor (user id, `system`).",
    },
    Param {
        name: "action",
        ty: "string",
        description: "Only this action (`device.revoke`, `client.deliver`, …).",
    },
    Param {
        name: "client",
        ty: "string",
        description: "Only entries about this client id.",
    },
    Param {
        name: "since",
        ty: "integer",
        description: "From this time (ms since the epoch).",
    },
    Param {
        name: "until",
        ty: "integer",
        description: "Up to this time (ms since the epoch).",
    },
    Param {
        name: "limit",
        ty: "integer",
        description: "Entries per page, 1-1000 (default 100).",
    },
    Param {
        name: "after",
        ty: "string",
        description: "Cursor of the previous page's `next`.",
    },
    Param {
        name: "order",
        ty: "string",
        description: "`desc` (newest first, default) or `asc`.",
    },
    FORMAT,
];

/// Every route with its documentation.
pub fn routes() -> Vec<(Doc, MethodRouter<AppState>)> {
    table! {
        get "/" => meta::index, Public, "Landing page for a browser", html;
        get "/console" => console::index, Public, "The web admin console", html;
        get "/console/{file}" => console::asset, Public, "A file of the web admin console (scripts, styles)", text;
        get "/healthz" => meta::healthz, Public, "Liveness", json = meta::Health;
        get "/openapi.json" => openapi_json, Public, "This document", object;
        get "/.well-known/apple-app-site-association" => meta::apple_app_site_association, Public,
            "iOS passkey association", json = meta::AppSiteAssociation;
        get "/.well-known/assetlinks.json" => meta::assetlinks, Public, "Android passkey association",
            json = Vec<meta::AssetLink>;
        post "/v1/tenants/{tenant}/enroll/start" => identity::enroll_start, Public,
            "Start enrollment with an invite (passkey registration)",
            (identity::EnrollStart) => json = identity::CeremonyStarted;
        post "/v1/tenants/{tenant}/enroll/finish" => identity::enroll_finish, Public,
            "Finish enrollment: passkey + device key, returns a session",
            (identity::EnrollFinish) => json = identity::SessionGrant;
        post "/v1/tenants/{tenant}/login/start" => identity::login_start, Public, "Start a passkey login",
            (identity::LoginStart) => json = identity::CeremonyStarted;
        post "/v1/tenants/{tenant}/login/finish" => identity::login_finish, Public,
            "Finish a passkey login on an enrolled device",
            (identity::LoginFinish) => json = identity::SessionGrant;
        post "/v1/tenants/{tenant}/step-up/start" => identity::step_up_start, Session,
            "Start a step-up passkey assertion", json = identity::CeremonyStarted;
        post "/v1/tenants/{tenant}/step-up/finish" => identity::step_up_finish, Session, "Finish a step-up",
            (identity::StepUpFinish) => json = identity::SteppedUp;
        get "/v1/tenants/{tenant}/me" => identity::me, Session, "The caller's user, role and device state",
            json = identity::Me;
        post "/v1/tenants/{tenant}/invites" => identity::create_invite, Admin,
            "Invite a staff member (returns a one-time code)",
            (identity::NewInvite) => json = identity::InviteCreated;
        get "/v1/tenants/{tenant}/users" => users::list, Admin,
            "The clinic's people, each with their devices and live sessions", json = Vec<users::Person>;
        get "/v1/tenants/{tenant}/users/{user}" => users::get, Admin, "One person with devices and sessions",
            json = users::Person;
        post "/v1/tenants/{tenant}/users/{user}/device-invites" => users::invite_device, Admin,
            "A one-time code enrolling another device of this person (step-up for an admin's)",
            json = ward_proto::people::DeviceInvite;
        post "/v1/tenants/{tenant}/me/device-invites" => users::invite_own_device, Device,
            "A one-time code enrolling another device of the caller (approved by an admin)",
            json = ward_proto::people::DeviceInvite;
        post "/v1/tenants/{tenant}/users/{user}/role" => users::change_role, AdminStepUp,
            "Change a person's role (their sessions end)",
            (ward_proto::people::RoleChange) => json = users::Person;
        post "/v1/tenants/{tenant}/users/{user}/deactivate" => users::deactivate, AdminStepUp,
            "Deactivate a leaver: every device revoked and wiped, sessions ended, care teams left",
            (ward_proto::people::Deactivation) => json = users::Deactivated;
        get "/v1/tenants/{tenant}/users/{user}/sessions" => users::sessions, Device,
            "A person's live sessions (admins, or the person)", json = Vec<ward_proto::people::SessionInfo>;
        post "/v1/tenants/{tenant}/devices/{device}/sessions/{session}/end" => users::end_session, Session,
            "End one session without revoking the device (admins, or the device's user)",
            json = users::SessionEnded;
        get "/v1/tenants/{tenant}/users/{user}/caseload" => teams::caseload, Device,
            "The clients a clinician may read, and why (admins, front desk, the clinician)",
            json = Vec<ward_proto::people::ClientAccess>;
        get "/v1/tenants/{tenant}/me/clients" => teams::my_clients, Device,
            "The clients the caller's devices may hold (care teams, break-glass)",
            json = ward_proto::people::MyClients;
        get "/v1/tenants/{tenant}/clients/{client}/team" => teams::team, Device,
            "A client's care team and active break-glass grants", json = ward_proto::people::CareTeam;
        post "/v1/tenants/{tenant}/clients/{client}/team/add" => teams::add, Device,
            "Add a clinician to a client's care team",
            (ward_proto::people::TeamChange) => json = ward_proto::people::CareTeam;
        post "/v1/tenants/{tenant}/clients/{client}/team/remove" => teams::remove, Device,
            "Remove a member from a client's care team (served no more at once)",
            (ward_proto::people::TeamChange) => json = ward_proto::people::CareTeam;
        post "/v1/tenants/{tenant}/clients/{client}/team/handover" => teams::handover, Device,
            "Hand a client over from one clinician to another",
            (ward_proto::people::Handover) => json = ward_proto::people::CareTeam;
        post "/v1/tenants/{tenant}/clients/{client}/break-glass" => teams::break_glass, Device,
            "Emergency access to a client off the caller's care team (typed reason; time-limited; alerts admins)",
            (ward_proto::people::BreakGlassRequest) => json = ward_proto::people::BreakGlassGrant;
        post "/v1/tenants/{tenant}/clients/{client}/erase" => erasure::erase, AdminStepUp,
            "Erase a client (Art. 17): typed reason, retention hold, every copy deleted, devices told",
            (ward_proto::erasure::EraseClientRequest) => json = ward_proto::erasure::Erasure;
        post "/v1/tenants/{tenant}/clients/{client}/export" => export::export, AdminStepUp,
            "Export a client's record (Art. 15/20): every version as ciphertext, photo URLs, who accessed it; paged, audited",
            (ward_proto::export::ExportRequest) => json = ward_proto::export::ClientExport;
        get "/v1/tenants/{tenant}/erasures" => erasure::ledger, Admin,
            "The clinic's erasure ledger (who was erased, when, by whom; no content)",
            json = Vec<ward_proto::erasure::Erasure>;
        get "/v1/tenants/{tenant}/break-glass" => teams::break_glass_list, Admin,
            "Break-glass grants, newest first (the console's alerts)", json = Vec<ward_proto::people::BreakGlassGrant>;
        post "/v1/tenants/{tenant}/break-glass/{grant}/acknowledge" => teams::break_glass_ack, Admin,
            "Acknowledge a break-glass alert", json = ward_proto::people::BreakGlassGrant;
        get "/v1/tenants/{tenant}/devices" => devices::list, Admin, "List devices", json = Vec<Device>;
        post "/v1/tenants/{tenant}/devices/{device}/approve" => devices::approve, AdminStepUp,
            "Approve a pending device", json = domain::devices::Approved;
        post "/v1/tenants/{tenant}/devices/{device}/revoke" => devices::revoke, AdminStepUp,
            "Revoke a device: sessions, key rotation, signed wipe command", json = domain::lifecycle::Revoked;
        post "/v1/tenants/{tenant}/lockdown" => lifecycle::lockdown, AdminStepUp,
            "Revoke every other device, rotate the key, end every session", json = domain::lifecycle::Lockdown;
        get "/v1/tenants/{tenant}/policy" => lifecycle::policy_get, Device, "The clinic's policies",
            json = TenantPolicy;
        put "/v1/tenants/{tenant}/policy" => lifecycle::policy_put, AdminStepUp, "Replace the clinic's policies",
            (TenantPolicy) => json = TenantPolicy;
        get "/v1/tenants/{tenant}/quarantine" => lifecycle::quarantine_list, Admin,
            "Versions rescued by revoked devices", json = Vec<QuarantineItem>;
        post "/v1/tenants/{tenant}/quarantine/{version}/accept" => lifecycle::quarantine_accept, Admin,
            "Accept a rescued version into the record", json = QuarantineItem;
        post "/v1/tenants/{tenant}/quarantine/{version}/reject" => lifecycle::quarantine_reject, AdminStepUp,
            "Reject a rescued version", json = QuarantineItem;
        post "/v1/tenants/{tenant}/wipe/quarantine" => lifecycle::wipe_quarantine, Session,
            "A revoked device's rescue upload before its wipe", (PushRequest) => json = Vec<PushResult>;
        post "/v1/tenants/{tenant}/wipe/keys" => lifecycle::wipe_keys, Session,
            "A revoked device's first client keys, before its rescue upload",
            (keys::RegisterClientKeys) => json = keys::RegisteredClientKeys;
        post "/v1/tenants/{tenant}/wipe/receipt" => lifecycle::wipe_receipt, Session,
            "A revoked device's signed wipe receipt", (SignedReceipt) => json = WipeState;
        post "/v1/tenants/{tenant}/wipe/receipts" => lifecycle::wipe_receipt_public, Public,
            "A wiped device's signed receipt without a session (it is signed by the device key)",
            (SignedReceipt) => json = WipeState;
        post "/v1/tenants/{tenant}/keys/release" => keys::release, Device,
            "Tenant keys, and the client keys the caller may hold, sealed to one-time X25519 keys",
            (keys::ReleaseRequest) => json = keys::Released;
        post "/v1/tenants/{tenant}/keys/clients" => keys::register_clients, Device,
            "Register the first keys of clients this device created",
            (keys::RegisterClientKeys) => json = keys::RegisteredClientKeys;
        post "/v1/tenants/{tenant}/objects/push" => sync::push, Device, "Push envelopes (idempotent per version)",
            (sync::PushRequest) => json = Vec<sync::PushResult>;
        get "/v1/tenants/{tenant}/objects/pull" => sync::pull, Device,
            "Pull the change feed after a cursor (?after=&limit=)", json = sync::PullPage, query = PULL;
        post "/v1/tenants/{tenant}/uploads/start" => photos::start, Device,
            "Start or resume a photo upload: presigned part URLs",
            (photos::UploadStart) => json = photos::UploadPlan;
        post "/v1/tenants/{tenant}/uploads/complete" => photos::complete, Device, "Complete a photo upload",
            (photos::UploadComplete) => json = domain::photos::Completed;
        post "/v1/tenants/{tenant}/downloads" => photos::download, Device, "A presigned photo download URL",
            (photos::DownloadRequest) => json = photos::DownloadUrl;
        post "/v1/tenants/{tenant}/audit/events" => reports::upload_events, Device,
            "Upload a segment of this device's hash-chained audit log (verified; gaps and breaks are stored flagged)",
            (AuditUpload) => json = AuditUploadResult;
        get "/v1/tenants/{tenant}/audit" => reports::list, Admin,
            "Audit log, server and device events (?device=&actor=&action=&client=&since=&until=&limit=&after=&order=asc|desc&format=json|csv)",
            json_or_csv = reports::AuditList, query = AUDIT;
        get "/v1/tenants/{tenant}/devices/{device}/breach-scope" => reports::breach_scope, Admin,
            "Breach-scope report of a device: clients delivered and created, last contact and unlock, wipe (?format=json|csv)",
            json_or_csv = reports::BreachScope, query = BREACH;
        get "/blobs/{*path}" => photos::local_get, SignedUrl, "Download a blob (embedded mode)", bytes;
        put "/blobs/{*path}" => photos::local_put, SignedUrl, "Upload a part (embedded mode)", empty;
    }
}
