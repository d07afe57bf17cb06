//! The API's error codes and header names: the wire contract both ends share.
//!
//! Every error the backend answers is `{"error": {"code", "message"}}` (see
//! [`crate::api::ErrorBody`]) where `code` is one of [`ErrorCode`], serialised as the snake_case
//! string in the table of docs/protocol.md. The phone core and the console match on these codes,
//! never on messages. A code this build does not know parses as [`ErrorCode::Unknown`] so an
//! older phone keeps working against a newer server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Header carrying the session token.
pub const HEADER_SESSION: &str = "x-ward-session";
pub use crate::signing::{HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, )*) => {
        /// A stable, machine-readable API error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
        pub enum ErrorCode {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
            /// A code this build does not know (a newer server); never sent.
            #[serde(other, rename = "unknown")]
            Unknown,
        }

        impl ErrorCode {
            /// Every code the server may send, in the order of docs/protocol.md.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code's wire string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $text, )*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// Parses a wire string; unknown strings give [`ErrorCode::Unknown`].
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $( $text => ErrorCode::$variant, )*
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

codes! {
    // Grouped by what went wrong; the status each is sent with is in docs/protocol.md.
    // --- request shape (mostly 400)
    /// The body is not the JSON the route expects.
    InvalidJson = "invalid_json",
    /// The body could not be read or is not valid for the route.
    BadBody = "bad_body",
    /// A query parameter is missing, repeated or malformed.
    BadQuery = "bad_query",
    /// A presigned URL is invalid or expired (sent as 403).
    BadUrl = "bad_url",
    /// The body is larger than the route accepts (sent as 413).
    BodyTooLarge = "body_too_large",
    /// A body was sent without `Content-Type: application/json` (sent as 415).
    UnsupportedMediaType = "unsupported_media_type",
    /// A size field is out of range.
    BadSize = "bad_size",
    /// A public key is malformed.
    BadPublicKey = "bad_public_key",
    /// A field that must be base64url is not.
    BadBase64 = "bad_base64",
    /// An uploaded audit event is malformed.
    BadEvent = "bad_event",
    /// A wipe receipt is malformed or does not verify.
    BadReceipt = "bad_receipt",
    /// More objects in one push than allowed.
    TooManyObjects = "too_many_objects",
    /// More audit events in one upload than allowed.
    TooManyEvents = "too_many_events",
    /// A display name is empty, too long or has forbidden characters.
    InvalidDisplayName = "invalid_display_name",
    /// A user name is empty, too long or has forbidden characters.
    InvalidUserName = "invalid_user_name",
    /// A device name is empty, too long or has forbidden characters.
    InvalidDeviceName = "invalid_device_name",
    /// A clinic policy value is out of range or unknown.
    InvalidPolicy = "invalid_policy",
    /// A reason must be given (break-glass, deactivation).
    ReasonRequired = "reason_required",
    /// A use beyond the patient's care (training, marketing) names no consent of its scope.
    ConsentRequired = "consent_required",
    /// A care team takes only active clinicians.
    NotAClinician = "not_a_clinician",
    /// The ceremony id does not name a ceremony of this kind.
    WrongCeremony = "wrong_ceremony",
    /// The passkey ceremony is unknown, used or expired (sent as 401).
    CeremonyInvalid = "ceremony_invalid",
    /// The passkey response did not verify (sent as 401).
    PasskeyRejected = "passkey_rejected",
    /// Upload parts do not match the upload (sent as 409).
    UploadMismatch = "upload_mismatch",
    /// Upload parts are missing (sent as 409).
    PartsMissing = "parts_missing",
    // --- who (401/403)
    /// No valid session, or a bad request signature.
    Unauthenticated = "unauthenticated",
    /// The request's nonce was already used (a replay, or a retry that arrived twice).
    ReplayedRequest = "replayed_request",
    /// Authenticated but not allowed.
    Forbidden = "forbidden",
    /// The action needs a fresh passkey assertion.
    StepUpRequired = "step_up_required",
    /// The session ended: idle too long, past its absolute limit, or ended by an admin (401).
    SessionExpired = "session_expired",
    /// The clinic has switched emergency (break-glass) access off (403).
    BreakGlassDisabled = "break_glass_disabled",
    // --- what (404/405/409/410)
    /// No such resource (or not visible to the caller).
    NotFound = "not_found",
    /// The route does not take this method.
    MethodNotAllowed = "method_not_allowed",
    /// A conditional write lost: the thing exists or changed.
    Conflict = "conflict",
    /// The device already exists.
    DeviceExists = "device_exists",
    /// The user is already on that care team.
    AlreadyMember = "already_member",
    /// The user is not on that care team.
    NotAMember = "not_a_member",
    /// The change would leave the clinic without an active admin.
    LastAdmin = "last_admin",
    /// The user was deactivated.
    UserDeactivated = "user_deactivated",
    /// The resource is not in a state that allows this.
    InvalidState = "invalid_state",
    /// The quarantined item was already accepted or rejected.
    AlreadyDecided = "already_decided",
    /// The note is signed (or is an addendum) and takes no further version.
    NoteLocked = "note_locked",
    /// No wipe is pending for this device.
    NoWipePending = "no_wipe_pending",
    /// Another key rotation ran at the same time; retry.
    RotationContended = "rotation_contended",
    /// This device was revoked and must execute the enclosed wipe command.
    WipeRequired = "wipe_required",
    /// The client's records are inside the clinic's retention period: erasure needs an
    /// override reason (409).
    RetentionHold = "retention_hold",
    // --- load (429/503/500)
    /// Too many attempts; retry later.
    RateLimited = "rate_limited",
    /// A contended write gave up; retry later (sent as 409).
    Busy = "busy",
    /// An internal failure (logged on the server, details withheld).
    Internal = "internal",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_string() {
        for c in ErrorCode::ALL {
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *c);
            assert_eq!(ErrorCode::parse(c.as_str()), *c);
        }
    }

    #[test]
    fn an_unknown_code_parses_as_unknown() {
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"brand_new\"").unwrap(),
            ErrorCode::Unknown
        );
        assert_eq!(ErrorCode::parse("brand_new"), ErrorCode::Unknown);
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
        }
    }
}

#[cfg(test)]
mod docs_tests {
    use super::ErrorCode;

    /// docs/protocol.md is the normative list for outside clients: it must name every code, in
    /// the order of [`ErrorCode::ALL`], and no code that does not exist.
    #[test]
    fn the_protocol_doc_lists_every_code_in_order() {
        let doc = include_str!("../../../docs/protocol.md");
        let listed: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once("` |").map(|(code, _)| code))
            .filter(|c| {
                c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            })
            .collect();
        let expected: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let table: Vec<&str> = listed
            .iter()
            .copied()
            .skip_while(|c| *c != expected[0])
            .take(expected.len())
            .collect();
        assert_eq!(table, expected, "docs/protocol.md's error table");
    }
}
