//! Shared set-up for the core's integration tests: a vault in a temp folder with a software
//! key store kept beside it (as a platform key store would be, outside the vault folder).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;
use ward_core::clock::ManualClock;
use ward_core::{Identity, SoftwareKeyStore, Vault};
use ward_proto::{DeviceId, TenantId};

pub struct TestVault {
    pub tmp: TempDir,
    pub vault: Arc<Vault>,
    pub keystore: Arc<SoftwareKeyStore>,
    pub clock: Arc<ManualClock>,
}

impl TestVault {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let keystore =
            SoftwareKeyStore::new(tmp.path().join("keystore").display().to_string()).unwrap();
        let clock = ManualClock::new(1_700_000_000_000);
        let ident = Identity {
            tenant: TenantId::random(),
            device: DeviceId::random(),
            actor: "clin-1".into(),
        };
        let vault = Vault::create(
            tmp.path().join("vault"),
            ident,
            keystore.clone(),
            clock.clone(),
        )
        .unwrap();
        Self {
            tmp,
            vault,
            keystore,
            clock,
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("vault")
    }

    /// Closes and reopens the vault (locked), as after an app restart.
    pub fn reopen(&mut self) {
        self.vault = Vault::open(self.dir(), self.keystore.clone(), self.clock.clone()).unwrap();
    }
}

/// Every file under `dir`, with its bytes.
pub fn all_files(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
