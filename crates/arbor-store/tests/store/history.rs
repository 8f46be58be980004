//! A structure's edit history: journaled whole, read back per structure, and enough to rebuild the structure's
//! content — forest, versions and everyone's undo stacks — after a restart.

use arbor_core::edit::{Edit, Fragment, Position};
use arbor_core::history::{HistoryEntry, StructureContent};
use arbor_core::ids::{RowId, Timestamp, Version};
use arbor_store::Store;
use arbor_store::journal::{JournalEntry, JournalOp};
use arbor_store::model::{Actor, StructureId, TenantId, ViewConfig};
use serde_json::json;

use crate::fixtures::*;
use crate::harness::TestDb;

crate::on_both_engines!(structure_history_survives_a_restart);

fn by(name: &str, millis: i64) -> Actor {
    Actor::new(actor(name), Timestamp::from_unix_millis(millis))
}

/// Applies an edit to `content` and saves the result with its history entry, as the server does.
async fn edit(
    store: &dyn Store,
    tenant: TenantId,
    structure: StructureId,
    expected: Version,
    content: &mut StructureContent,
    edit: Edit,
    who: &Actor,
) -> Version {
    let applied = content
        .apply(edit, content.version(), &author(who.id.as_str()), who.at)
        .unwrap();
    let entry = content.entry(applied.version).unwrap();
    store
        .save_forest(
            tenant,
            structure,
            expected,
            content.forest(),
            Some(entry),
            who,
        )
        .await
        .unwrap()
}

/// The history entries of a structure's journal, in order.
fn history(journal: &[JournalEntry]) -> Vec<HistoryEntry> {
    journal
        .iter()
        .filter_map(|e| match &e.op {
            JournalOp::ForestChanged { entry, .. } => Some(entry.clone()),
            _ => None,
        })
        .collect()
}

fn names(journal: &[JournalEntry]) -> Vec<&'static str> {
    journal.iter().map(|e| e.op.name()).collect()
}

async fn structure_history_survives_a_restart(db: &TestDb) {
    let store = &*db.store;
    let t = tenant(store, "https://history.example").await;
    let other_tenant = tenant(store, "https://elsewhere.example").await;
    let a = store
        .create_structure(t, &new_structure(), &by("alice", 1))
        .await
        .unwrap();
    let b = store
        .create_structure(t, &new_structure(), &by("alice", 2))
        .await
        .unwrap();
    let foreign = store
        .create_structure(other_tenant, &new_structure(), &by("alice", 3))
        .await
        .unwrap();

    // Three edits of A by two people, with edits of B and of the other tenant's structure in between.
    let mut content = StructureContent::new();
    let mut b_content = StructureContent::new();
    let mut foreign_content = StructureContent::new();
    let add = |n: u64| Edit::Add {
        rows: Fragment::single(issue(n)),
        at: Position::last_under(None),
    };
    let mut v = edit(
        store,
        t,
        a.id,
        a.version,
        &mut content,
        add(1),
        &by("alice", 10),
    )
    .await;
    edit(
        store,
        t,
        b.id,
        b.version,
        &mut b_content,
        add(2),
        &by("bob", 11),
    )
    .await;
    edit(
        store,
        other_tenant,
        foreign.id,
        foreign.version,
        &mut foreign_content,
        add(3),
        &by("bob", 12),
    )
    .await;
    let folder = Edit::Add {
        rows: Fragment::single(arbor_core::forest::Item::Folder(
            arbor_core::ids::FolderName::new(SECRET_FOLDER).unwrap(),
        )),
        at: Position::first_under(None),
    };
    v = edit(store, t, a.id, v, &mut content, folder, &by("bob", 13)).await;
    let moved = Edit::Move {
        rows: vec![RowId::new(1).unwrap()],
        to: Position::last_under(Some(RowId::new(2).unwrap())),
    };
    v = edit(store, t, a.id, v, &mut content, moved, &by("alice", 14)).await;
    store
        .set_settings(
            t,
            &actor("alice"),
            &json!({}),
            Timestamp::from_unix_millis(15),
        )
        .await
        .unwrap();
    v = store
        .update_structure(t, a.id, v, "Renamed", "", &by("alice", 16))
        .await
        .unwrap();

    // A's journal: its own entries only, in order, each history entry intact.
    let journal = store.structure_journal(t, a.id, 0, 100).await.unwrap();
    assert_eq!(
        names(&journal),
        [
            "structure.created",
            "forest.changed",
            "forest.changed",
            "forest.changed",
            "structure.updated"
        ]
    );
    assert!(journal.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(journal.iter().all(|e| e.op.structure() == Some(a.id)));
    assert_eq!(history(&journal), content.history());
    assert_eq!(journal[2].actor, actor("bob"));
    assert_eq!(journal[2].at, Timestamp::from_unix_millis(13));
    // The store's structure version moved on with the rename; the forest's own version did not.
    assert!(matches!(
        journal[4].op,
        JournalOp::StructureUpdated { version, .. } if version == v
    ));
    assert_eq!(content.version(), Version(3));
    assert_eq!(v, Version(4));

    // After a restart: the content rebuilt from the journal is the one saved, undo stacks included.
    let rebuilt = StructureContent::from_history(history(&journal)).unwrap();
    let (stored_version, stored_forest) = store.load_forest(t, a.id).await.unwrap();
    assert_eq!(stored_version, v);
    assert_eq!(rebuilt.forest(), &stored_forest);
    assert_eq!(rebuilt.forest(), content.forest());
    assert_eq!(rebuilt.version(), content.version());
    assert_eq!(rebuilt.next_row_id(), content.next_row_id());

    // Undo, restore and their inverses are journaled the same way and keep replaying exactly.
    let mut content = rebuilt;
    let seen = journal.last().unwrap().seq;
    let undo = content
        .undo(&author("bob"), Timestamp::from_unix_millis(20))
        .unwrap();
    v = store
        .save_forest(
            t,
            a.id,
            v,
            content.forest(),
            content.entry(undo.version),
            &by("bob", 20),
        )
        .await
        .unwrap();
    let restore = content
        .restore(
            Version(1),
            None,
            &author("carol"),
            Timestamp::from_unix_millis(21),
        )
        .unwrap();
    v = store
        .save_forest(
            t,
            a.id,
            v,
            content.forest(),
            content.entry(restore.version),
            &by("carol", 21),
        )
        .await
        .unwrap();
    let view = ViewConfig {
        name: SECRET_VIEW.into(),
        columns: json!([]),
    };
    store
        .create_view(t, a.id, &view, true, &by("carol", 22))
        .await
        .unwrap();
    store
        .create_view(t, b.id, &view, true, &by("carol", 23))
        .await
        .unwrap();
    let newer = store.structure_journal(t, a.id, seen, 100).await.unwrap();
    assert_eq!(
        names(&newer),
        ["forest.changed", "forest.changed", "view.set"]
    );
    let journal = store.structure_journal(t, a.id, 0, 100).await.unwrap();
    let rebuilt = StructureContent::from_history(history(&journal)).unwrap();
    assert_eq!(
        rebuilt.forest(),
        &store.load_forest(t, a.id).await.unwrap().1
    );
    assert_eq!(rebuilt.forest(), content.forest());
    assert_eq!(rebuilt.version(), Version(5));
    for name in ["alice", "bob", "carol"] {
        assert_eq!(
            rebuilt.can_undo(&author(name)),
            content.can_undo(&author(name)),
            "{name}"
        );
        assert_eq!(
            rebuilt.can_redo(&author(name)),
            content.can_redo(&author(name)),
            "{name}"
        );
    }
    assert_eq!(v, store.structure(t, a.id).await.unwrap().unwrap().version);

    // Paging, and the other structures' journals.
    let page = store
        .structure_journal(t, a.id, journal[1].seq, 2)
        .await
        .unwrap();
    assert_eq!(page, journal[2..4]);
    let b_journal = store.structure_journal(t, b.id, 0, 100).await.unwrap();
    assert_eq!(
        names(&b_journal),
        ["structure.created", "forest.changed", "view.set"]
    );
    assert_eq!(history(&b_journal), b_content.history());
    let foreign_journal = store
        .structure_journal(other_tenant, foreign.id, 0, 100)
        .await
        .unwrap();
    assert_eq!(history(&foreign_journal), foreign_content.history());
    // Another tenant's structure is not reachable with this tenant's id, nor the other way round.
    assert!(
        store
            .structure_journal(t, foreign.id, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .structure_journal(other_tenant, a.id, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}
