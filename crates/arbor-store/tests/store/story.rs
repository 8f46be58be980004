//! The main story: everything a tenant stores, written, read back, conflicted, journaled and rebuilt.

use arbor_core::edit::{Edit, Fragment, Position, RowIdAllocator, Slot};
use arbor_core::forest::{Forest, ItemRef};
use arbor_core::ids::{GeneratorId, RowId, Timestamp, Version};
use arbor_core::permission::{Grantee, Level, Rule};
use arbor_store::journal::{StructureState, TenantState};
use arbor_store::model::{
    AccessStatus, BackupRecord, NewAccessRequest, OAuthToken, SavedView, Session, TenantId,
    ViewConfig,
};
use arbor_store::{Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::fixtures::*;
use crate::harness::TestDb;

crate::on_both_engines!(
    structures_forests_and_conflicts,
    configuration_and_people,
    journal_rebuilds_the_state,
    newer_schema_is_refused,
    big_forest_round_trips,
    ids_are_never_reused,
    names_stored_with_bidirectional_overrides_load_defused,
);

/// Names stored before arbor refused bidirectional formatting characters load with each shown as U+FFFD, so
/// they can no longer display as something else.
async fn names_stored_with_bidirectional_overrides_load_defused(db: &TestDb) {
    let store = &*db.store;
    let a = tenant(store, "https://a.example").await;
    let mut new = new_structure();
    new.name = "invoice\u{202E}fdp.exe".into();
    new.description = "x\u{2066}y".into();
    let s = store.create_structure(a, &new, &at(1)).await.unwrap();
    let read = store.structure(a, s.id).await.unwrap().unwrap();
    assert_eq!(read.name, "invoice\u{FFFD}fdp.exe");
    assert_eq!(read.description, "x\u{FFFD}y");
    let view = ViewConfig {
        name: "v\u{202D}".into(),
        columns: json!([]),
    };
    store
        .create_view(a, s.id, &view, false, &at(2))
        .await
        .unwrap();
    let views = store.views(a, s.id).await.unwrap();
    assert_eq!(views[0].1.config.name, "v\u{FFFD}");
}

/// A deleted tenant's or structure's id is never handed out again: audit entries, open editors and approved
/// scopes that name it must not come to point at something new.
async fn ids_are_never_reused(db: &TestDb) {
    let store = &*db.store;
    let first = tenant(store, "https://first.example").await;
    let structure = store
        .create_structure(first, &new_structure(), &at(1))
        .await
        .unwrap();
    store
        .delete_structure(first, structure.id, &at(2))
        .await
        .unwrap();
    let again = store
        .create_structure(first, &new_structure(), &at(3))
        .await
        .unwrap();
    assert_ne!(again.id, structure.id);
    store.delete_tenant(first).await.unwrap();
    let second = tenant(store, "https://second.example").await;
    assert_ne!(second, first);
}

async fn structures_forests_and_conflicts(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://a.example").await;
    let meta = store
        .create_structure(t, &new_structure(), &at(10))
        .await
        .unwrap();
    assert_eq!(meta.version, Version::ZERO);
    assert_eq!(store.structure(t, meta.id).await.unwrap().unwrap(), meta);
    let (v, forest) = store.load_forest(t, meta.id).await.unwrap();
    assert_eq!((v, forest.len()), (Version::ZERO, 0));

    let forest = sample_forest();
    let v1 = store
        .save_forest(t, meta.id, Version::ZERO, &forest, None, &at(11))
        .await
        .unwrap();
    assert_eq!(v1, Version(1));
    assert_eq!(
        store.load_forest(t, meta.id).await.unwrap(),
        (v1, forest.clone())
    );

    // An edit, saved with its history entry.
    let mut edited = forest.clone();
    let mut ids = RowIdAllocator::after(&edited);
    let edit = Edit::Add {
        rows: Fragment::single(issue(10_003)),
        at: Position::Under {
            parent: Some(RowId::new(1).unwrap()),
            at: Slot::Last,
        },
    };
    let resolved = edited.apply_edit(&edit, &mut ids).unwrap();
    let entry = edit_entry(1, &edit, resolved);
    let v2 = store
        .save_forest(t, meta.id, v1, &edited, Some(&entry), &at(12))
        .await
        .unwrap();
    assert_eq!(
        store.load_forest(t, meta.id).await.unwrap(),
        (v2, edited.clone())
    );

    // A stale version is a clear conflict, and changes nothing.
    let stale = store
        .save_forest(t, meta.id, v1, &forest, None, &at(13))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::Conflict {
                expected: Version(1),
                actual: Version(2),
                ..
            }
        ),
        "{stale}"
    );
    assert!(stale.to_string().contains("based on version 1"), "{stale}");
    assert_eq!(store.load_forest(t, meta.id).await.unwrap(), (v2, edited));

    let v3 = store
        .update_structure(t, meta.id, v2, "Renamed", "New text", &at(14))
        .await
        .unwrap();
    let renamed = store.structure(t, meta.id).await.unwrap().unwrap();
    assert_eq!((renamed.name.as_str(), renamed.version), ("Renamed", v3));
    assert_eq!(renamed.updated_at, Timestamp::from_unix_millis(14));
    assert!(matches!(
        store
            .update_structure(t, meta.id, v2, "x", "y", &at(15))
            .await,
        Err(StoreError::Conflict { .. })
    ));

    let second = store
        .create_structure(t, &new_structure(), &at(16))
        .await
        .unwrap();
    let all = store.structures(t).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![meta.id, second.id]
    );
    store.delete_structure(t, second.id, &at(17)).await.unwrap();
    assert!(store.structure(t, second.id).await.unwrap().is_none());
    assert!(matches!(
        store.load_forest(t, second.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_structure(t, second.id, &at(18)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn configuration_and_people(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://b.example").await;
    let s = store
        .create_structure(t, &new_structure(), &at(1))
        .await
        .unwrap();

    let rules = vec![
        Rule {
            grantee: Grantee::Group {
                group_id: "g-1".into(),
            },
            level: Level::Edit,
        },
        Rule {
            grantee: Grantee::Everyone,
            level: Level::View,
        },
    ];
    let v = store
        .set_rules(t, s.id, s.version, &rules, &at(2))
        .await
        .unwrap();
    assert_eq!(store.rules(t, s.id).await.unwrap(), rules);

    let g = GeneratorId::new(1).unwrap();
    let config = json!({"kind": "insert_jql", "jql": SECRET_JQL});
    let v = store
        .set_generator(t, s.id, v, g, &config, &at(3))
        .await
        .unwrap();
    assert_eq!(store.generators(t, s.id).await.unwrap()[&g], config);
    let v = store.delete_generator(t, s.id, v, g, &at(4)).await.unwrap();
    assert!(store.generators(t, s.id).await.unwrap().is_empty());
    assert!(matches!(
        store.delete_generator(t, s.id, v, g, &at(5)).await,
        Err(StoreError::NotFound { .. })
    ));

    let view = ViewConfig {
        name: SECRET_VIEW.into(),
        columns: json!([{"field": "summary"}]),
    };
    let vid = store
        .create_view(t, s.id, &view, true, &at(6))
        .await
        .unwrap();
    let changed = ViewConfig {
        name: "Other".into(),
        columns: json!([]),
    };
    store
        .update_view(t, vid, &changed, false, &at(7))
        .await
        .unwrap();
    assert_eq!(
        store.views(t, s.id).await.unwrap(),
        vec![(
            vid,
            SavedView {
                owner: actor("alice"),
                shared: false,
                config: changed
            }
        )]
    );
    store.delete_view(t, vid, &at(8)).await.unwrap();
    assert!(store.views(t, s.id).await.unwrap().is_empty());

    let alice = actor("alice");
    let settings = json!({"theme": SECRET_SETTING});
    store
        .set_settings(t, &alice, &settings, Timestamp::from_unix_millis(9))
        .await
        .unwrap();
    let person = store.person(t, &alice).await.unwrap().unwrap();
    assert_eq!(person.settings, settings);
    assert_eq!(store.people(t).await.unwrap().len(), 1);

    let session = Session {
        token_hash: [7; 32],
        account_id: alice.clone(),
        created_at: Timestamp::from_unix_millis(100),
        expires_at: Timestamp::from_unix_millis(200),
    };
    store.create_session(t, &session).await.unwrap();
    let now = Timestamp::from_unix_millis(150);
    assert_eq!(
        store.session(t, &[7; 32], now).await.unwrap(),
        Some(session.clone())
    );
    let later = Timestamp::from_unix_millis(250);
    assert_eq!(store.session(t, &[7; 32], later).await.unwrap(), None);
    // Use moves the idle end forward, never backward.
    assert!(
        store
            .extend_session(t, &[7; 32], Timestamp::from_unix_millis(300))
            .await
            .unwrap()
    );
    assert!(
        !store
            .extend_session(t, &[7; 32], Timestamp::from_unix_millis(260))
            .await
            .unwrap()
    );
    let extended = store.session(t, &[7; 32], later).await.unwrap().unwrap();
    assert_eq!(extended.expires_at, Timestamp::from_unix_millis(300));
    assert!(store.delete_session(t, &[7; 32]).await.unwrap());
    store.create_session(t, &session).await.unwrap();
    assert_eq!(store.delete_expired_sessions(later).await.unwrap(), 1);

    let token = OAuthToken {
        account_id: alice.clone(),
        tokens: SecretString::from(SECRET_TOKEN),
        expires_at: Timestamp::from_unix_millis(500),
    };
    store.put_oauth_token(t, &token).await.unwrap();
    let read = store.oauth_token(t, &alice).await.unwrap().unwrap();
    assert_eq!(read.tokens.expose_secret(), SECRET_TOKEN);
    assert!(!format!("{read:?}").contains(SECRET_TOKEN));
    assert!(store.delete_oauth_token(t, &alice).await.unwrap());
    assert!(store.oauth_token(t, &alice).await.unwrap().is_none());

    let request = NewAccessRequest {
        requester: actor("operator"),
        reason: SECRET_REASON.into(),
        scope: format!("structure:{}", s.id),
        duration_minutes: 60,
    };
    let rid = store
        .create_access_request(t, &request, Timestamp::from_unix_millis(10))
        .await
        .unwrap();
    let own = store
        .decide_access_request(
            t,
            rid,
            &actor("operator"),
            true,
            Timestamp::from_unix_millis(11),
        )
        .await
        .unwrap_err();
    assert!(own.to_string().contains("someone other than"), "{own}");
    let decided = store
        .decide_access_request(
            t,
            rid,
            &actor("admin"),
            true,
            Timestamp::from_unix_millis(12),
        )
        .await
        .unwrap();
    assert_eq!(decided.status, AccessStatus::Approved);
    assert_eq!(decided.reason, SECRET_REASON);
    assert!(
        store
            .decide_access_request(
                t,
                rid,
                &actor("admin2"),
                false,
                Timestamp::from_unix_millis(13)
            )
            .await
            .is_err()
    );
    assert_eq!(store.access_requests(t).await.unwrap(), vec![decided]);
    let too_long = NewAccessRequest {
        duration_minutes: 9 * 60,
        ..request
    };
    assert!(
        store
            .create_access_request(t, &too_long, Timestamp::from_unix_millis(1))
            .await
            .is_err()
    );

    // Alerts and access scopes hold ids, never text: free text is refused before it is stored in clear.
    let free_text = store
        .raise_alert(
            t,
            "read_burst",
            "Quarterly roadmap summary",
            Timestamp::from_unix_millis(20),
        )
        .await;
    assert!(
        matches!(free_text, Err(StoreError::Invalid(_))),
        "{free_text:?}"
    );
    let alert = store
        .raise_alert(t, "read_burst", "alice", Timestamp::from_unix_millis(20))
        .await
        .unwrap();
    store
        .acknowledge_alert(t, alert, &actor("admin"))
        .await
        .unwrap();
    let alerts = store.alerts(t).await.unwrap();
    assert_eq!(alerts[0].acknowledged_by, Some(actor("admin")));

    let backup = BackupRecord {
        id: "2026-11-23-daily".into(),
        created_at: Timestamp::from_unix_millis(30),
        kind: "daily".into(),
        location: "backups/2026-11-23.arbor".into(),
        size_bytes: 1234,
        sha256: "ab".repeat(32),
        verified_at: None,
    };
    store.record_backup(&backup).await.unwrap();
    assert_eq!(store.backups().await.unwrap(), vec![backup]);

    assert_eq!(
        store
            .tenant_by_site("https://b.example")
            .await
            .unwrap()
            .unwrap()
            .id,
        t
    );
    assert!(matches!(
        store
            .create_tenant("https://b.example", Timestamp::from_unix_millis(1))
            .await,
        Err(StoreError::DuplicateTenant(_))
    ));
}

/// Reads a tenant's current state through the trait, in the shape the journal replay produces.
pub(crate) async fn current_state(store: &dyn Store, t: TenantId) -> TenantState {
    let mut state = TenantState::default();
    for meta in store.structures(t).await.unwrap() {
        let (version, forest) = store.load_forest(t, meta.id).await.unwrap();
        for (view, saved) in store.views(t, meta.id).await.unwrap() {
            state.views.insert(view, (meta.id, saved));
        }
        state.structures.insert(
            meta.id,
            StructureState {
                name: meta.name,
                description: meta.description,
                owner: Some(meta.owner),
                version,
                forest,
                rules: store.rules(t, meta.id).await.unwrap(),
                generators: store.generators(t, meta.id).await.unwrap(),
            },
        );
    }
    for person in store.people(t).await.unwrap() {
        state.settings.insert(person.account_id, person.settings);
    }
    state
}

async fn journal_rebuilds_the_state(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://c.example").await;
    let other = tenant(store, "https://other.example").await;
    store
        .create_structure(other, &new_structure(), &at(1))
        .await
        .unwrap();

    let a = store
        .create_structure(t, &new_structure(), &at(1))
        .await
        .unwrap();
    let b = store
        .create_structure(t, &new_structure(), &at(2))
        .await
        .unwrap();
    let mut forest = sample_forest();
    let mut v = store
        .save_forest(t, a.id, a.version, &forest, None, &at(3))
        .await
        .unwrap();
    let mut ids = RowIdAllocator::after(&forest);
    let edits = [
        Edit::Add {
            rows: Fragment::single(issue(20_001)),
            at: Position::Under {
                parent: None,
                at: Slot::First,
            },
        },
        Edit::Move {
            rows: vec![RowId::new(5).unwrap()],
            to: Position::Before(RowId::new(1).unwrap()),
        },
        Edit::Copy {
            rows: vec![RowId::new(1).unwrap()],
            to: Position::Under {
                parent: None,
                at: Slot::Last,
            },
        },
        Edit::Remove {
            rows: vec![RowId::new(3).unwrap()],
        },
    ];
    for (i, edit) in edits.iter().enumerate() {
        let resolved = forest.apply_edit(edit, &mut ids).unwrap();
        let entry = edit_entry(i as u64 + 1, edit, resolved);
        v = store
            .save_forest(t, a.id, v, &forest, Some(&entry), &at(10 + i as i64))
            .await
            .unwrap();
    }
    let v = store
        .update_structure(t, a.id, v, "A2", "desc", &at(20))
        .await
        .unwrap();
    let rules = vec![Rule {
        grantee: Grantee::Everyone,
        level: Level::View,
    }];
    let v = store.set_rules(t, a.id, v, &rules, &at(21)).await.unwrap();
    store
        .set_generator(
            t,
            a.id,
            v,
            GeneratorId::new(1).unwrap(),
            &json!({"jql": SECRET_JQL}),
            &at(22),
        )
        .await
        .unwrap();
    let view = ViewConfig {
        name: "v".into(),
        columns: json!([1, 2]),
    };
    let view_id = store
        .create_view(t, b.id, &view, true, &at(23))
        .await
        .unwrap();
    store
        .create_view(t, a.id, &view, false, &at(24))
        .await
        .unwrap();
    store.delete_view(t, view_id, &at(25)).await.unwrap();
    store
        .set_settings(
            t,
            &actor("bob"),
            &json!({"x": 1}),
            Timestamp::from_unix_millis(26),
        )
        .await
        .unwrap();
    store.delete_structure(t, b.id, &at(27)).await.unwrap();

    let journal = store.journal(t, 0, u32::MAX).await.unwrap();
    assert_eq!(journal.len(), 15);
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
    let rebuilt = TenantState::replay(&journal).unwrap();
    assert_eq!(rebuilt, current_state(store, t).await);
    assert_eq!(rebuilt.structures[&a.id].forest, forest);
    // Paging.
    let page = store.journal(t, 5, 3).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![6, 7, 8]
    );
    // Failed writes leave no journal entry.
    let _ = store
        .save_forest(t, a.id, Version::ZERO, &Forest::new(), None, &at(30))
        .await
        .unwrap_err();
    assert_eq!(store.journal(t, 15, 10).await.unwrap().len(), 0);
}

async fn newer_schema_is_refused(db: &TestDb) {
    assert_eq!(db.store.schema_version().await.unwrap(), 6);
    db.exec("INSERT INTO arbor_schema (version, name, checksum, applied_at) VALUES (99, 'future', 'x', 0)")
        .await;
    let err = db.reopen(db.master.clone()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "this database was written by a newer arbor (schema version 99, this arbor knows up to 6); upgrade arbor"
    );
    db.exec("DELETE FROM arbor_schema WHERE version = 99").await;
    db.exec("UPDATE arbor_schema SET checksum = 'edited' WHERE version = 1")
        .await;
    let err = db.reopen(db.master.clone()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::MigrationEdited { version: 1, .. }),
        "{err}"
    );
}

async fn big_forest_round_trips(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://big.example").await;
    let s = store
        .create_structure(t, &new_structure(), &at(1))
        .await
        .unwrap();
    let forest = big_forest(100_000);
    let v = store
        .save_forest(t, s.id, s.version, &forest, None, &at(2))
        .await
        .unwrap();
    let (loaded_version, loaded) = store.load_forest(t, s.id).await.unwrap();
    assert_eq!(loaded_version, v);
    assert_eq!(loaded, forest);
    assert!(matches!(loaded.item(0), ItemRef::Issue(_)));
}
