//! Identifiers used on the wire: tenants (clinics), objects, object versions and devices.
//!
//! All are random 128-bit UUIDs (v4) so that devices can mint them offline without
//! coordination. They are distinct newtypes so a version id can never be passed where an
//! object id is expected. They carry no clinical content and may appear in plaintext metadata.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
            /// The 16 raw bytes, as written into envelope headers.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            /// Rebuilds an id from its 16 raw bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "format": "uuid"})
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A tenant: one clinic, with its own keys.
    TenantId
);
id_type!(
    /// A logical object (a client, a note, a photo…), stable across its versions.
    ObjectId
);
id_type!(
    /// One immutable version of an object.
    VersionId
);
id_type!(
    /// One enrolled phone (or browser session for admins).
    DeviceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_bytes() {
        let id = ObjectId::random();
        let parsed: ObjectId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert_eq!(ObjectId::from_bytes(*id.as_bytes()), id);
        assert!("not-a-uuid".parse::<TenantId>().is_err());
    }
}
