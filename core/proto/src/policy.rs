//! A clinic's policies ([`TenantPolicy`]): the wire type, its defaults and ranges, and the EXIF
//! tags a photo may keep.

use serde::{Deserialize, Serialize};

/// A clinic's policies, set by its admins and applied by every device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct TenantPolicy {
    /// Seconds of inactivity before the app locks (30..=3600).
    pub idle_lock_seconds: u32,
    /// Hours a device may go without reaching the backend before it wipes itself (24..=2160).
    pub offline_lease_hours: u32,
    /// Hours before the lease runs out during which the user is warned (1..lease).
    pub lease_warning_hours: u32,
    /// Whether a photo needs a recorded consent.
    pub photo_consent_required: bool,
    /// EXIF tags kept on photos (everything else is stripped), e.g. `["Orientation"]`.
    pub exif_keep: Vec<String>,
    /// Whether a revoked device uploads its unsynced records to quarantine before its wipe.
    pub rescue_on_wipe: bool,
    /// Minutes without a request after which a console session ends (1..=240).
    pub console_idle_minutes: u32,
    /// Hours after sign-in after which a console session ends however active (1..=24).
    pub console_session_hours: u32,
    /// Minutes an emergency (break-glass) access lasts; 0 switches break-glass off (0..=1440).
    pub break_glass_minutes: u32,
    /// Whether clinicians on a client's care team may add and remove its members.
    pub team_members_manage: bool,
    /// Years a client's records must be kept after their last entry (the clinic's legal
    /// retention period, 0..=30; 0: none): erasing a client inside it needs an override
    /// reason.
    pub records_retention_years: u32,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        Self {
            idle_lock_seconds: 300,
            offline_lease_hours: 336,
            lease_warning_hours: 72,
            photo_consent_required: true,
            exif_keep: vec!["Orientation".into()],
            rescue_on_wipe: true,
            console_idle_minutes: 15,
            console_session_hours: 12,
            break_glass_minutes: 60,
            team_members_manage: false,
            records_retention_years: 0,
        }
    }
}

impl TenantPolicy {
    /// Checks the ranges; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if !(30..=3600).contains(&self.idle_lock_seconds) {
            return Err("idle_lock_seconds must be between 30 and 3600".into());
        }
        if !(24..=2160).contains(&self.offline_lease_hours) {
            return Err("offline_lease_hours must be between 24 and 2160 (90 days)".into());
        }
        if self.lease_warning_hours == 0 || self.lease_warning_hours >= self.offline_lease_hours {
            return Err("lease_warning_hours must be at least 1 and less than the lease".into());
        }
        if !(1..=240).contains(&self.console_idle_minutes) {
            return Err("console_idle_minutes must be between 1 and 240".into());
        }
        if !(1..=24).contains(&self.console_session_hours) {
            return Err("console_session_hours must be between 1 and 24".into());
        }
        if self.break_glass_minutes > 1440 {
            return Err("break_glass_minutes must be between 0 (off) and 1440".into());
        }
        if self.records_retention_years > 30 {
            return Err("records_retention_years must be between 0 (none) and 30".into());
        }
        if let Some(bad) = self.exif_keep.iter().find(|t| exif_tag(t).is_none()) {
            let known: Vec<&str> = EXIF_TAGS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "exif_keep: unknown EXIF tag {bad:?} (known: {})",
                known.join(", ")
            ));
        }
        Ok(())
    }

    /// A short fingerprint of the policy, sent with every pull page so a device refetches
    /// the policy only when it changed.
    pub fn tag(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let d = ring::digest::digest(&ring::digest::SHA256, &json);
        d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// EXIF tags an admin may keep on photos (everything else is stripped at capture): name and
/// tag number.
pub const EXIF_TAGS: &[(&str, u16)] = &[
    ("Orientation", 0x0112),
    ("DateTimeOriginal", 0x9003),
    ("OffsetTimeOriginal", 0x9011),
    ("Make", 0x010F),
    ("Model", 0x0110),
    ("ExposureTime", 0x829A),
    ("FNumber", 0x829D),
    ("ISOSpeedRatings", 0x8827),
    ("FocalLength", 0x920A),
    ("Flash", 0x9209),
    ("WhiteBalance", 0xA403),
    ("ColorSpace", 0xA001),
];

/// The tag number of an EXIF tag name from [`EXIF_TAGS`].
pub fn exif_tag(name: &str) -> Option<u16> {
    EXIF_TAGS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
