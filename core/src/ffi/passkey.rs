//! The authenticator the app implements, [`PasskeyProvider`], and the exported software
//! authenticator ([`SoftwarePasskey`], implemented in `crate::sync::passkey`).
//!
//! The core itself calls the Rust trait [`Authenticator`]; [`Provider`] adapts the foreign
//! trait to it, so nothing below the FFI depends on this module.

use std::sync::Arc;

use crate::sync::passkey::{Authenticator, PasskeyError, SoftwarePasskey};

impl From<uniffi::UnexpectedUniFFICallbackError> for PasskeyError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        PasskeyError::Failed { detail: e.reason }
    }
}

/// The platform authenticator (ASAuthorization on iOS, Credential Manager on Android).
///
/// Both calls take the server's options JSON (`{"publicKey": {...}}`, as WebAuthn's
/// `navigator.credentials.create/get` take them) and return the credential as WebAuthn JSON
/// (`id`, `rawId`, `type`, `response` with base64url fields).
#[uniffi::export(with_foreign)]
pub trait PasskeyProvider: Send + Sync {
    /// Creates a passkey (registration).
    fn create_passkey(&self, options_json: String) -> Result<String, PasskeyError>;
    /// Signs a challenge with an existing passkey (authentication).
    fn get_passkey(&self, options_json: String) -> Result<String, PasskeyError>;
}

/// The app's authenticator as the core's [`Authenticator`].
pub(crate) struct Provider(pub(crate) Arc<dyn PasskeyProvider>);

impl Authenticator for Provider {
    fn create_passkey(&self, options_json: String) -> Result<String, PasskeyError> {
        self.0.create_passkey(options_json)
    }

    fn get_passkey(&self, options_json: String) -> Result<String, PasskeyError> {
        self.0.get_passkey(options_json)
    }
}

#[uniffi::export]
impl SoftwarePasskey {
    /// A new, empty authenticator presenting `origin` (the web origin the server allows, e.g.
    /// `http://localhost:8080`).
    #[uniffi::constructor]
    pub fn new(origin: String) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self::empty(origin))
    }

    /// Restores an authenticator saved with [`SoftwarePasskey::to_json`].
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<std::sync::Arc<Self>, PasskeyError> {
        Ok(std::sync::Arc::new(Self::restore(&json)?))
    }

    /// The authenticator's credentials (private keys included) as JSON.
    pub fn to_json(&self) -> String {
        self.saved_json()
    }
}

/// The software authenticator can stand in for the platform one across the FFI (the CLI and
/// tests hand it to `WardSync` as a `PasskeyProvider`).
impl PasskeyProvider for SoftwarePasskey {
    fn create_passkey(&self, options_json: String) -> Result<String, PasskeyError> {
        Authenticator::create_passkey(self, options_json)
    }

    fn get_passkey(&self, options_json: String) -> Result<String, PasskeyError> {
        Authenticator::get_passkey(self, options_json)
    }
}
