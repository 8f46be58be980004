//! Tenant isolation: tenant B tries to reach tenant A's records through every method of the trait, using
//! A's real ids. Every attempt fails or sees nothing, and A's records are unchanged afterwards.

use arbor_core::ids::{GeneratorId, Timestamp};
use arbor_core::permission::{Grantee, Level, Rule};
use arbor_store::model::{NewAccessRequest, OAuthToken, Session, ViewConfig};
use arbor_store::{Store, StoreError};
use secrecy::SecretString;
use serde_json::json;

use crate::fixtures::*;
use crate::harness::TestDb;
use crate::story::current_state;

crate::on_both_engines!(no_tenant_reaches_another);

fn is_not_found<T>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound { .. }))
}

async fn no_tenant_reaches_another(db: &TestDb) {
    let store: &dyn Store = &*db.store;
    let a = tenant(store, "https://a.example").await;
    let b = tenant(store, "https://b.example").await;
    let t = |ms| Timestamp::from_unix_millis(ms);

    // Tenant A's records.
    let s = store
        .create_structure(a, &new_structure(), &at(1))
        .await
        .unwrap();
    let v = store
        .save_forest(a, s.id, s.version, &sample_forest(), None, &at(2))
        .await
        .unwrap();
    let rules = vec![Rule {
        grantee: Grantee::Everyone,
        level: Level::View,
    }];
    let v = store.set_rules(a, s.id, v, &rules, &at(3)).await.unwrap();
    let g = GeneratorId::new(1).unwrap();
    let v = store
        .set_generator(a, s.id, v, g, &json!({"jql": SECRET_JQL}), &at(4))
        .await
        .unwrap();
    let view = ViewConfig {
        name: SECRET_VIEW.into(),
        columns: json!([]),
    };
    let view_id = store
        .create_view(a, s.id, &view, true, &at(5))
        .await
        .unwrap();
    let alice = actor("alice");
    store
        .set_settings(a, &alice, &json!({"t": SECRET_SETTING}), t(6))
        .await
        .unwrap();
    let session = Session {
        token_hash: [9; 32],
        account_id: alice.clone(),
        created_at: t(1),
        expires_at: t(1_000_000),
    };
    store.create_session(a, &session).await.unwrap();
    let token = OAuthToken {
        account_id: alice.clone(),
        tokens: SecretString::from(SECRET_TOKEN),
        expires_at: t(9),
    };
    store.put_oauth_token(a, &token).await.unwrap();
    let request = NewAccessRequest {
        requester: actor("operator"),
        reason: SECRET_REASON.into(),
        scope: "tenant".into(),
        duration_minutes: 30,
    };
    let rid = store
        .create_access_request(a, &request, t(7))
        .await
        .unwrap();
    let alert = store
        .raise_alert(a, "denials", "alice", t(8))
        .await
        .unwrap();
    let audit = arbor_store::audit::NewAuditEntry::new(
        Some(a),
        Some(alice.clone()),
        "structure.read",
        &["structure:1"],
        arbor_store::audit::Outcome::Ok,
        t(9),
        None,
        None,
    )
    .unwrap();
    store.append_audit(&audit).await.unwrap();
    let invalidation = arbor_store::model::JiraInvalidation {
        issues: vec![arbor_core::ids::IssueId::new(10_001).unwrap()],
        fields: vec!["summary".into()],
        all_results: false,
    };
    store
        .append_invalidation(a, &invalidation, t(9))
        .await
        .unwrap();
    store.pause_quota(a, t(1_000_000)).await.unwrap();
    let before = current_state(store, a).await;
    let journal_before = store.journal(a, 0, 1000).await.unwrap();
    let structure_journal_before = store.structure_journal(a, s.id, 0, 1000).await.unwrap();
    assert_eq!(structure_journal_before.len(), 5);

    // Tenant B, with A's ids: reads see nothing.
    assert!(store.structure(b, s.id).await.unwrap().is_none());
    assert!(store.structures(b).await.unwrap().is_empty());
    assert!(is_not_found(&store.load_forest(b, s.id).await));
    assert!(store.rules(b, s.id).await.unwrap().is_empty());
    assert!(store.generators(b, s.id).await.unwrap().is_empty());
    assert!(store.views(b, s.id).await.unwrap().is_empty());
    assert!(store.person(b, &alice).await.unwrap().is_none());
    assert!(store.people(b).await.unwrap().is_empty());
    assert!(store.session(b, &[9; 32], t(2)).await.unwrap().is_none());
    assert!(store.oauth_token(b, &alice).await.unwrap().is_none());
    assert!(store.journal(b, 0, 1000).await.unwrap().is_empty());
    assert!(
        store
            .structure_journal(b, s.id, 0, 1000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.audit_entries(b, 0, 1000).await.unwrap().is_empty());
    assert!(store.access_requests(b).await.unwrap().is_empty());
    assert!(store.alerts(b).await.unwrap().is_empty());
    assert!(store.invalidations(b, 0, 1000).await.unwrap().is_empty());
    assert_eq!(store.last_invalidation(b).await.unwrap(), 0);
    assert_eq!(store.quota_pause(b).await.unwrap(), None);
    assert_eq!(store.prune_invalidations(b, t(i64::MAX)).await.unwrap(), 0);
    assert_eq!(store.tenant_storage_bytes(b).await.unwrap(), 0);
    assert!(store.tenant_storage_bytes(a).await.unwrap() > 0);

    // Writes fail and change nothing.
    assert!(is_not_found(
        &store.update_structure(b, s.id, v, "x", "y", &at(10)).await
    ));
    assert!(is_not_found(
        &store
            .save_forest(b, s.id, v, &sample_forest(), None, &at(10))
            .await
    ));
    assert!(is_not_found(
        &store.set_rules(b, s.id, v, &[], &at(10)).await
    ));
    assert!(is_not_found(
        &store
            .set_generator(b, s.id, v, g, &json!({}), &at(10))
            .await
    ));
    assert!(is_not_found(
        &store.delete_generator(b, s.id, v, g, &at(10)).await
    ));
    assert!(is_not_found(
        &store.create_view(b, s.id, &view, true, &at(10)).await
    ));
    assert!(is_not_found(
        &store.update_view(b, view_id, &view, true, &at(10)).await
    ));
    assert!(is_not_found(&store.delete_view(b, view_id, &at(10)).await));
    assert!(is_not_found(
        &store.delete_structure(b, s.id, &at(10)).await
    ));
    assert!(!store.delete_session(b, &[9; 32]).await.unwrap());
    assert!(
        !store
            .extend_session(b, &[9; 32], t(1_000_000))
            .await
            .unwrap()
    );
    assert!(!store.delete_oauth_token(b, &alice).await.unwrap());
    assert!(is_not_found(
        &store
            .decide_access_request(b, rid, &actor("admin"), true, t(11))
            .await
    ));
    assert!(is_not_found(
        &store.acknowledge_alert(b, alert, &actor("admin")).await
    ));
    // Same account id in B is B's own record, not A's.
    store
        .set_settings(b, &alice, &json!({"t": "b"}), t(12))
        .await
        .unwrap();
    store
        .put_oauth_token(
            b,
            &OAuthToken {
                tokens: SecretString::from("b"),
                ..token
            },
        )
        .await
        .unwrap();
    // A session hash is globally unique: B cannot take over A's.
    assert!(store.create_session(b, &session).await.is_err());

    // A tenant that does not exist has nothing and can write nothing.
    let ghost = arbor_store::model::TenantId::new(999_999).unwrap();
    assert!(matches!(
        store
            .create_structure(ghost, &new_structure(), &at(1))
            .await,
        Err(StoreError::NoTenant(_))
    ));
    assert!(matches!(
        store.set_settings(ghost, &alice, &json!({}), t(1)).await,
        Err(StoreError::NoTenant(_))
    ));
    assert!(matches!(
        store
            .create_session(
                ghost,
                &Session {
                    token_hash: [1; 32],
                    ..session
                }
            )
            .await,
        Err(StoreError::NoTenant(_))
    ));

    // A is untouched.
    assert_eq!(current_state(store, a).await, before);
    assert_eq!(store.journal(a, 0, 1000).await.unwrap(), journal_before);
    assert_eq!(
        store.structure_journal(a, s.id, 0, 1000).await.unwrap(),
        structure_journal_before
    );
    assert!(store.session(a, &[9; 32], t(2)).await.unwrap().is_some());
    assert_eq!(
        store.access_requests(a).await.unwrap()[0].status,
        arbor_store::model::AccessStatus::Pending
    );
    assert_eq!(store.alerts(a).await.unwrap()[0].acknowledged_by, None);
    assert_eq!(store.audit_entries(a, 0, 10).await.unwrap().len(), 1);
    assert_eq!(
        store.invalidations(a, 0, 10).await.unwrap()[0].invalidation,
        invalidation
    );
    assert_eq!(store.quota_pause(a).await.unwrap(), Some(t(1_000_000)));

    // Deleting B leaves A whole; deleting A destroys its keys and records.
    store.delete_tenant(b).await.unwrap();
    assert_eq!(current_state(store, a).await, before);
    store.delete_tenant(a).await.unwrap();
    assert!(store.tenant(a).await.unwrap().is_none());
    assert!(store.structures(a).await.unwrap().is_empty());
    assert!(matches!(
        store.delete_tenant(a).await,
        Err(StoreError::NoTenant(_))
    ));
    // The audit chain survives tenant deletion.
    assert!(store.verify_audit().await.unwrap().fault.is_none());
}
