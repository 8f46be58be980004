//! Views have owners and are personal or shared: what is stored, journaled and migrated.

use arbor_core::ids::Timestamp;
use arbor_store::journal::TenantState;
use arbor_store::model::{Actor, SavedView, ViewConfig};
use serde_json::json;

use crate::fixtures::*;
use crate::harness::TestDb;
use crate::story::current_state;

crate::on_both_engines!(
    views_have_an_owner_and_are_personal_or_shared,
    views_made_before_owners_belong_to_the_structure_owner_and_stay_shared,
);

fn by(name: &str, millis: i64) -> Actor {
    Actor::new(actor(name), Timestamp::from_unix_millis(millis))
}

fn config(name: &str) -> ViewConfig {
    ViewConfig {
        name: name.into(),
        columns: json!([{"kind": "field", "field": "status"}]),
    }
}

/// A view belongs to whoever made it, whoever changes it later; whether it is shared is stored and changes;
/// the journal replays both.
async fn views_have_an_owner_and_are_personal_or_shared(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://views.example").await;
    let s = store
        .create_structure(t, &new_structure(), &at(1))
        .await
        .unwrap();
    let planning = store
        .create_view(t, s.id, &config("Planning"), true, &by("olivia", 2))
        .await
        .unwrap();
    let mine = store
        .create_view(t, s.id, &config("Mine"), false, &by("dev", 3))
        .await
        .unwrap();
    assert_eq!(
        store.views(t, s.id).await.unwrap(),
        vec![
            (
                planning,
                SavedView {
                    owner: actor("olivia"),
                    shared: true,
                    config: config("Planning"),
                }
            ),
            (
                mine,
                SavedView {
                    owner: actor("dev"),
                    shared: false,
                    config: config("Mine"),
                }
            ),
        ]
    );
    // Someone else (with Control, as the server decides) renames the shared view and makes it personal: the
    // owner stays.
    store
        .update_view(t, planning, &config("Renamed"), false, &by("carol", 4))
        .await
        .unwrap();
    // The owner shares theirs.
    store
        .update_view(t, mine, &config("Mine"), true, &by("dev", 5))
        .await
        .unwrap();
    let views = store.views(t, s.id).await.unwrap();
    assert_eq!(
        views
            .iter()
            .map(|(_, v)| (v.owner.as_str(), v.shared, v.config.name.as_str()))
            .collect::<Vec<_>>(),
        [("olivia", false, "Renamed"), ("dev", true, "Mine")]
    );
    let journal = store.journal(t, 0, u32::MAX).await.unwrap();
    assert_eq!(
        TenantState::replay(&journal).unwrap(),
        current_state(store, t).await
    );
}

/// Migration 0006 gives every view stored before it its structure's owner and keeps it shared (everyone saw
/// and changed it until then); the journal's older entries replay the same way.
async fn views_made_before_owners_belong_to_the_structure_owner_and_stay_shared(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://old-views.example").await;
    let mut new = new_structure();
    new.owner = actor("olivia");
    let s = store
        .create_structure(t, &new, &by("olivia", 1))
        .await
        .unwrap();
    // Made by someone else, personal: after the migration's rerun it is the owner's and shared.
    let view = store
        .create_view(t, s.id, &config("Planning"), false, &by("dev", 2))
        .await
        .unwrap();
    // Back to schema 5, as a database written before views had owners (its columns and its record).
    db.exec("ALTER TABLE views DROP COLUMN owner").await;
    db.exec("ALTER TABLE views DROP COLUMN shared").await;
    db.exec("DELETE FROM arbor_schema WHERE version = 6").await;
    let reopened = db.reopen(db.master.clone()).await.unwrap();
    assert_eq!(reopened.schema_version().await.unwrap(), 6);
    let views = reopened.views(t, s.id).await.unwrap();
    assert_eq!(
        views,
        vec![(
            view,
            SavedView {
                owner: actor("olivia"),
                shared: true,
                config: config("Planning"),
            }
        )]
    );
    // New views made after the migration are their maker's.
    let later = reopened
        .create_view(t, s.id, &config("Later"), false, &by("dev", 3))
        .await
        .unwrap();
    let views = reopened.views(t, s.id).await.unwrap();
    assert_eq!(views[1].0, later);
    assert_eq!(
        (views[1].1.owner.as_str(), views[1].1.shared),
        ("dev", false)
    );
}
