//! Consent by purpose, enforced at the time of a share (issue 15 item 5): a photo leaves the
//! vault for training or marketing only while the client has an active consent of that scope;
//! withdrawing it blocks every later share of that purpose; the app sees which uses apply.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::TestVault;
use ward_core::capture::fixture::{self, FixtureSpec};
use ward_core::domain::clients::ClientInput;
use ward_core::domain::consents::ConsentScope;
use ward_core::domain::photos::PhotoInput;
use ward_core::{CoreError, Policy};

fn setup(t: &TestVault) -> (String, String, String) {
    let c = t
        .vault
        .create_client(ClientInput {
            display_name: "Grace".into(),
            date_of_birth: None,
            external_ref: None,
        })
        .unwrap()
        .client_id;
    let k = t
        .vault
        .record_consent(&c, vec![ConsentScope::Clinical], Some("form".into()))
        .unwrap()
        .consent_id;
    let img = fixture::jpeg_fixture(&FixtureSpec::default());
    let p = t
        .vault
        .capture_photo(
            &c,
            &img,
            PhotoInput {
                caption: "before".into(),
                consent_id: Some(k.clone()),
                ..Default::default()
            },
            None,
        )
        .unwrap()
        .view
        .photo_id;
    (c, k, p)
}

fn share(t: &TestVault, p: &str, purpose: ConsentScope) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    t.vault.share_photo(p, purpose, &mut out).map(|_| out)
}

fn exports(t: &TestVault, action: &str) -> usize {
    t.vault
        .audit_events(0, 10_000)
        .unwrap()
        .iter()
        .filter(|e| e.action == action)
        .count()
}

#[test]
fn a_marketing_share_needs_an_active_marketing_consent_at_the_time_of_the_share() {
    let t = TestVault::new();
    let (c, k, p) = setup(&t);
    let uses = t.vault.photo_uses(&p).unwrap();
    assert_eq!(uses.scopes, vec![ConsentScope::Clinical]);
    assert_eq!(uses.taken_under.as_deref(), Some(k.as_str()));
    assert!(uses.taken_under_active);

    for purpose in [ConsentScope::Marketing, ConsentScope::Training] {
        let e = share(&t, &p, purpose).unwrap_err();
        assert!(matches!(e, CoreError::NotAllowed(_)), "{e}");
    }
    assert_eq!(
        exports(&t, "export.marketing"),
        0,
        "a refused share is no export"
    );

    // Later, the client agrees to marketing: the same photo may go, once per share, audited.
    let m = t
        .vault
        .record_consent(&c, vec![ConsentScope::Marketing], None)
        .unwrap()
        .consent_id;
    let uses = t.vault.photo_uses(&p).unwrap();
    assert_eq!(
        uses.scopes,
        vec![ConsentScope::Clinical, ConsentScope::Marketing]
    );
    assert!(uses.consent_ids.contains(&m));
    let shared = share(&t, &p, ConsentScope::Marketing).unwrap();
    assert_eq!(shared, t.vault.read_photo(&p).unwrap().to_vec());
    assert_eq!(exports(&t, "export.marketing"), 1);
    assert!(
        share(&t, &p, ConsentScope::Training).is_err(),
        "marketing is not training"
    );

    // Withdrawn: every later marketing share is refused; clinical use stays.
    t.vault.withdraw_consent(&m).unwrap();
    assert!(matches!(
        share(&t, &p, ConsentScope::Marketing),
        Err(CoreError::NotAllowed(_))
    ));
    assert_eq!(exports(&t, "export.marketing"), 1);
    assert_eq!(
        t.vault.photo_uses(&p).unwrap().scopes,
        vec![ConsentScope::Clinical]
    );
    share(&t, &p, ConsentScope::Clinical).unwrap();
    assert_eq!(exports(&t, "export"), 1);
}

#[test]
fn a_clinical_share_follows_the_clinics_photo_consent_policy() {
    let t = TestVault::new();
    let (_, k, p) = setup(&t);
    t.vault.withdraw_consent(&k).unwrap();
    let uses = t.vault.photo_uses(&p).unwrap();
    assert!(uses.scopes.is_empty());
    assert!(
        !uses.taken_under_active,
        "the consent it was taken under is withdrawn"
    );
    assert!(matches!(
        share(&t, &p, ConsentScope::Clinical),
        Err(CoreError::NotAllowed(_))
    ));
    t.vault
        .set_policy(Policy {
            photo_consent_required: false,
            ..Policy::default()
        })
        .unwrap();
    share(&t, &p, ConsentScope::Clinical).unwrap();
    assert!(
        share(&t, &p, ConsentScope::Training).is_err(),
        "the clinic's policy never waives training or marketing consent"
    );
}
