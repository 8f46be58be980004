//! Versions, merging concurrent edits, conflicts, undo/redo per person and session, and the history.

use arbor_core::edit::{Edit, EditError, Fragment, Position, Slot};
use arbor_core::forest::Forest;
use arbor_core::history::{
    Action, ApplyError, Author, ConflictCause, HistoryEntry, HistoryError, StructureContent,
};
use arbor_core::ids::{RowId, Version};

use crate::support::{actor, at, by, folder, in_session, issue, memo, row, shape};

fn add(item_id: u64, at_pos: Position) -> Edit {
    Edit::Add {
        rows: Fragment::single(issue(item_id)),
        at: at_pos,
    }
}

fn top() -> Position {
    Position::last_under(None)
}

/// Rows 1, 2, 3 at the top level, made by alice in versions 1–3.
fn three_rows() -> StructureContent {
    let mut s = StructureContent::new();
    for (i, n) in (1..=3).enumerate() {
        let applied = s
            .apply(add(n, top()), Version(i as u64), &by("alice"), at(n as i64))
            .unwrap();
        assert_eq!(applied.created, [row(n)]);
    }
    s
}

fn conflict(err: ApplyError) -> arbor_core::history::Conflict {
    match err {
        ApplyError::Conflict(c) => *c,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn every_change_bumps_the_version_and_is_recorded() {
    let s = three_rows();
    assert_eq!(s.version(), Version(3));
    assert_eq!(shape(s.forest()), [(1, 0), (2, 0), (3, 0)]);
    let entry = s.entry(Version(2)).unwrap();
    assert_eq!(entry.actor, actor("alice"));
    assert_eq!(entry.time, at(2));
    assert!(matches!(
        entry.action,
        Action::Edit {
            based_on: Version(1),
            ..
        }
    ));
    assert_eq!(s.entry(Version(0)), None);
    assert_eq!(s.next_row_id(), Some(row(4)));
}

#[test]
fn edits_based_on_future_versions_are_refused() {
    let mut s = three_rows();
    let err = s
        .apply(add(9, top()), Version(4), &by("bob"), at(9))
        .unwrap_err();
    assert_eq!(
        err,
        ApplyError::UnknownVersion {
            requested: Version(4),
            current: Version(3)
        }
    );
    assert_eq!(
        err.to_string(),
        "version 4 does not exist; the current version is 3"
    );
}

#[test]
fn concurrent_position_based_edits_merge() {
    let mut s = three_rows();
    // Both clients saw version 3. Bob moves row 3 to the front; Carol, unaware, adds a row after row 1 and
    // moves row 2 under row 3.
    let bob = s
        .apply(
            Edit::Move {
                rows: vec![row(3)],
                to: Position::first_under(None),
            },
            Version(3),
            &by("bob"),
            at(10),
        )
        .unwrap();
    assert!(!bob.merged);
    let carol = s
        .apply(
            add(9, Position::After(row(1))),
            Version(3),
            &by("carol"),
            at(11),
        )
        .unwrap();
    assert!(carol.merged);
    s.apply(
        Edit::Move {
            rows: vec![row(2)],
            to: Position::last_under(Some(row(3))),
        },
        Version(3),
        &by("carol"),
        at(12),
    )
    .unwrap();
    assert_eq!(shape(s.forest()), [(3, 0), (2, 1), (1, 0), (4, 0)]);
    s.forest().check_invariants().unwrap();
}

#[test]
fn stale_edits_on_removed_rows_conflict_and_name_the_removal() {
    let mut s = three_rows();
    s.apply(
        Edit::Remove { rows: vec![row(2)] },
        Version(3),
        &by("bob"),
        at(10),
    )
    .unwrap();
    let err = s
        .apply(
            Edit::Move {
                rows: vec![row(2)],
                to: Position::Before(row(1)),
            },
            Version(3),
            &by("carol"),
            at(11),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "conflict: row 2 was removed in version 4 by bob"
    );
    let c = conflict(err);
    assert_eq!((c.based_on, c.current), (Version(3), Version(4)));
    assert_eq!(
        c.cause,
        ConflictCause::RowRemoved {
            row: row(2),
            version: Version(4),
            actor: actor("bob")
        }
    );
    // The target may be the removed row, too.
    let c = conflict(
        s.apply(
            add(9, Position::After(row(2))),
            Version(3),
            &by("carol"),
            at(12),
        )
        .unwrap_err(),
    );
    assert!(matches!(
        c.cause,
        ConflictCause::RowRemoved {
            version: Version(4),
            ..
        }
    ));
    // Nothing changed.
    assert_eq!(s.version(), Version(4));
    // On the current version a missing row is a plain error, not a conflict.
    let err = s
        .apply(
            Edit::Remove { rows: vec![row(2)] },
            Version(4),
            &by("carol"),
            at(13),
        )
        .unwrap_err();
    assert_eq!(err, ApplyError::Edit(EditError::RowNotFound(row(2))));
}

#[test]
fn stale_index_positions_and_cycles_conflict() {
    let mut s = three_rows();
    s.apply(
        Edit::Move {
            rows: vec![row(1)],
            to: Position::last_under(Some(row(2))),
        },
        Version(3),
        &by("bob"),
        at(10),
    )
    .unwrap();
    let index = Position::Under {
        parent: None,
        at: Slot::Index(1),
    };
    let c = conflict(
        s.apply(add(9, index), Version(3), &by("carol"), at(11))
            .unwrap_err(),
    );
    assert_eq!(c.cause, ConflictCause::StaleIndex);
    // Carol moves 2 under 1, but 1 is now inside 2.
    let err = s
        .apply(
            Edit::Move {
                rows: vec![row(2)],
                to: Position::last_under(Some(row(1))),
            },
            Version(3),
            &by("carol"),
            at(12),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "conflict: row 1 is inside the subtree of row 2, which is being moved; a row cannot be moved into its own subtree: the structure changed from version 3 to 4 (by bob)"
    );
}

#[test]
fn undo_and_redo_are_per_person_and_bump_the_version() {
    let mut s = three_rows();
    s.apply(
        Edit::Remove { rows: vec![row(1)] },
        Version(3),
        &by("bob"),
        at(10),
    )
    .unwrap();
    // Alice's undo takes back her last change (adding row 3), not Bob's removal.
    let undo = s.undo(&by("alice"), at(11)).unwrap();
    assert_eq!(undo.version, Version(5));
    assert!(undo.merged);
    assert_eq!(shape(s.forest()), [(2, 0)]);
    assert!(matches!(
        s.entry(Version(5)).unwrap().action,
        Action::Undo { of: Version(3) }
    ));
    // Bob's undo brings row 1 back where it was.
    s.undo(&by("bob"), at(12)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0), (2, 0)]);
    assert_eq!(
        s.undo(&by("bob"), at(13)).unwrap_err(),
        ApplyError::NothingToUndo(actor("bob"))
    );
    // Alice redoes: row 3 comes back with its old id.
    let redo = s.redo(&by("alice"), at(14)).unwrap();
    assert_eq!(redo.created, [row(3)]);
    assert_eq!(shape(s.forest()), [(1, 0), (2, 0), (3, 0)]);
    assert!(!s.can_redo(&by("alice")));
    assert_eq!(s.version(), Version(7));
}

#[test]
fn a_new_edit_clears_the_redo_stack() {
    let mut s = three_rows();
    s.undo(&by("alice"), at(10)).unwrap();
    assert!(s.can_redo(&by("alice")));
    s.apply(add(9, top()), s.version(), &by("alice"), at(11))
        .unwrap();
    assert!(!s.can_redo(&by("alice")));
    assert_eq!(
        s.redo(&by("alice"), at(12)).unwrap_err().to_string(),
        "alice has nothing to redo in this session"
    );
}

#[test]
fn an_undo_that_no_longer_applies_conflicts_and_can_be_skipped() {
    let mut s = three_rows();
    s.apply(
        Edit::Move {
            rows: vec![row(3)],
            to: Position::first_under(None),
        },
        Version(3),
        &by("alice"),
        at(10),
    )
    .unwrap();
    s.apply(
        Edit::Remove { rows: vec![row(3)] },
        Version(4),
        &by("bob"),
        at(11),
    )
    .unwrap();
    let err = s.undo(&by("alice"), at(12)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "conflict: row 3 was removed in version 5 by bob"
    );
    assert_eq!(s.version(), Version(5));
    assert_eq!(s.discard_undo(&by("alice")), Some(Version(4)));
    // Next would be taking back the addition of row 3, which is gone too; skipping it as well reaches the
    // addition of row 2, which still applies.
    assert!(s.undo(&by("alice"), at(13)).is_err());
    s.discard_undo(&by("alice"));
    s.undo(&by("alice"), at(14)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0)]);
}

#[test]
fn rebuild_reconstructs_every_version() {
    let mut s = StructureContent::new();
    let mut snapshots = vec![Forest::new()];
    let edits = [
        add(1, top()),
        Edit::Add {
            rows: Fragment::single(folder("F")),
            at: Position::first_under(None),
        },
        add(2, Position::last_under(Some(row(2)))),
        Edit::Move {
            rows: vec![row(1)],
            to: Position::Before(row(3)),
        },
        Edit::Copy {
            rows: vec![row(2)],
            to: top(),
        },
        Edit::Remove { rows: vec![row(2)] },
    ];
    for edit in edits {
        s.apply(edit, s.version(), &by("alice"), at(1)).unwrap();
        snapshots.push(s.forest().clone());
    }
    s.undo(&by("alice"), at(2)).unwrap();
    snapshots.push(s.forest().clone());
    s.redo(&by("alice"), at(3)).unwrap();
    snapshots.push(s.forest().clone());
    for (v, snapshot) in snapshots.iter().enumerate() {
        assert_eq!(
            &s.rebuild(Version(v as u64)).unwrap(),
            snapshot,
            "version {v}"
        );
    }
    assert!(matches!(
        s.rebuild(Version(99)),
        Err(ApplyError::UnknownVersion { .. })
    ));

    // The journal alone brings everything back: forest, id counter, undo stacks.
    let journal = serde_json::to_string(s.history()).unwrap();
    let entries: Vec<HistoryEntry> = serde_json::from_str(&journal).unwrap();
    let mut loaded = StructureContent::from_history(entries).unwrap();
    assert_eq!(loaded.forest(), s.forest());
    assert_eq!(loaded.version(), s.version());
    assert_eq!(loaded.next_row_id(), s.next_row_id());
    loaded.undo(&by("alice"), at(4)).unwrap();
    s.undo(&by("alice"), at(4)).unwrap();
    assert_eq!(loaded.forest(), s.forest());
}

#[test]
fn inconsistent_journals_are_refused() {
    let s = three_rows();
    let mut entries = s.history().to_vec();
    entries.remove(0);
    assert!(matches!(
        StructureContent::from_history(entries),
        Err(HistoryError::OutOfOrder {
            index: 0,
            found: Version(2)
        })
    ));
    let mut entries = s.history().to_vec();
    let (change, inverse) = (entries[2].inverse.clone(), entries[2].change.clone());
    let undo_by = |who: &Author| HistoryEntry {
        version: Version(4),
        actor: who.actor.clone(),
        session: who.session.clone(),
        time: at(5),
        action: Action::Undo { of: Version(3) },
        change: change.clone(),
        inverse: inverse.clone(),
    };
    entries.push(undo_by(&by("bob")));
    let err = StructureContent::from_history(entries.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "version 4 undoes or redoes version 3, which is not on top of bob's stack in its session"
    );
    // Alice's own change, undone from another of her sessions, is just as wrong.
    entries[3] = undo_by(&in_session("alice", "2"));
    assert!(matches!(
        StructureContent::from_history(entries.clone()),
        Err(HistoryError::Inconsistent { .. })
    ));
    entries[3] = undo_by(&by("alice"));
    assert!(StructureContent::from_history(entries).is_ok());
}

#[test]
fn undo_takes_back_only_what_the_same_session_changed() {
    let (first, second) = (by("alice"), in_session("alice", "2"));
    let mut s = StructureContent::new();
    s.apply(add(1, top()), s.version(), &first, at(1)).unwrap();
    s.apply(add(2, top()), s.version(), &second, at(2)).unwrap();
    s.apply(add(3, top()), s.version(), &first, at(3)).unwrap();
    // Alice's second session (another browser, or after signing in again) undoes its own change only, though
    // her first session changed the structure since.
    assert!(s.can_undo(&second));
    s.undo(&second, at(4)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0), (3, 0)]);
    assert!(!s.can_undo(&second));
    assert_eq!(
        s.undo(&second, at(5)).unwrap_err(),
        ApplyError::NothingToUndo(actor("alice"))
    );
    assert_eq!(
        ApplyError::NothingToUndo(actor("alice")).to_string(),
        "alice has nothing to undo in this session"
    );
    // The first session still has both of its changes, and no redo of the second's undo.
    assert!(!s.can_redo(&first));
    s.undo(&first, at(6)).unwrap();
    s.undo(&first, at(7)).unwrap();
    assert!(s.forest().is_empty());
    assert!(!s.can_undo(&first));
    // Each redoes its own.
    s.redo(&first, at(8)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0)]);
    s.redo(&second, at(9)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0), (2, 0)]);
    assert!(!s.can_redo(&second));
    // A new edit clears only its own session's redo.
    s.apply(add(4, top()), s.version(), &second, at(10))
        .unwrap();
    assert!(s.can_redo(&first));
}

#[test]
fn reloading_the_history_keeps_sessions_apart() {
    let (first, second, bob) = (by("alice"), in_session("alice", "2"), by("bob"));
    let mut s = StructureContent::new();
    s.apply(add(1, top()), s.version(), &first, at(1)).unwrap();
    s.apply(add(2, top()), s.version(), &second, at(2)).unwrap();
    s.apply(add(3, top()), s.version(), &bob, at(3)).unwrap();
    s.apply(add(4, top()), s.version(), &second, at(4)).unwrap();
    s.undo(&second, at(5)).unwrap();
    s.undo(&first, at(6)).unwrap();
    // The journal alone brings every session's stacks back.
    let journal = serde_json::to_string(s.history()).unwrap();
    let entries: Vec<HistoryEntry> = serde_json::from_str(&journal).unwrap();
    let mut loaded = StructureContent::from_history(entries).unwrap();
    for who in [&first, &second, &bob, &in_session("alice", "3")] {
        assert_eq!(loaded.next_undo(who), s.next_undo(who), "{who:?}");
        assert_eq!(loaded.next_redo(who), s.next_redo(who), "{who:?}");
    }
    assert_eq!(
        loaded.next_undo(&second).map(|e| e.version),
        Some(Version(2))
    );
    assert!(!loaded.can_undo(&first));
    assert!(loaded.can_redo(&first));
    // And act alike: the second session's next undo is its row 2, not the first session's or Bob's.
    for content in [&mut s, &mut loaded] {
        content.undo(&second, at(7)).unwrap();
        assert!(!content.can_undo(&second));
    }
    assert_eq!(loaded.forest(), s.forest());
    assert_eq!(shape(s.forest()), [(3, 0)]);
}

#[test]
fn changes_without_a_session_are_undone_by_nobody() {
    let setup = Author::without_session(actor("alice"));
    let mut s = StructureContent::new();
    s.apply(add(1, top()), s.version(), &setup, at(1)).unwrap();
    s.apply(add(2, top()), s.version(), &setup, at(2)).unwrap();
    // The person the set-up was made for, in any session, has nothing to undo; neither has the set-up.
    for who in [&by("alice"), &setup] {
        assert!(!s.can_undo(who));
        assert_eq!(
            s.undo(who, at(3)).unwrap_err(),
            ApplyError::NothingToUndo(actor("alice"))
        );
    }
    assert_eq!(shape(s.forest()), [(1, 0), (2, 0)]);
    // Journaled without a session: the entry has no `session` member, as entries written before sessions
    // were recorded, and such a journal loads with nothing to undo.
    let journal = serde_json::to_value(s.history()).unwrap();
    assert!(journal[0].get("session").is_none(), "{journal}");
    assert!(journal[0].get("actor").is_some(), "{journal}");
    let loaded = StructureContent::from_history(serde_json::from_value(journal).unwrap()).unwrap();
    assert!(!loaded.can_undo(&by("alice")));
    assert_eq!(loaded.forest(), s.forest());
}

#[test]
fn an_old_journal_with_undos_loads_and_new_changes_are_undone_per_session() {
    // Written before sessions were recorded: alice added two rows and undid one, with no session anywhere.
    let mut old = StructureContent::new();
    let before = Author::without_session(actor("alice"));
    old.apply(add(1, top()), old.version(), &before, at(1))
        .unwrap();
    old.apply(add(2, top()), old.version(), &before, at(2))
        .unwrap();
    let mut entries = old.history().to_vec();
    entries.push(HistoryEntry {
        version: Version(3),
        actor: actor("alice"),
        session: None,
        time: at(3),
        action: Action::Undo { of: Version(2) },
        change: entries[1].inverse.clone(),
        inverse: entries[1].change.clone(),
    });
    let mut s = StructureContent::from_history(entries).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0)]);
    assert!(!s.can_undo(&by("alice")) && !s.can_redo(&by("alice")));
    s.apply(add(3, top()), s.version(), &by("alice"), at(4))
        .unwrap();
    s.undo(&by("alice"), at(5)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0)]);
    assert!(!s.can_undo(&by("alice")));
}

#[test]
fn the_next_undo_and_redo_name_the_change_as_it_was_made() {
    let me = by("alice");
    let mut s = three_rows();
    assert_eq!(s.next_undo(&me).map(|e| e.version), Some(Version(3)));
    assert_eq!(s.next_redo(&me), None);
    s.undo(&me, at(10)).unwrap();
    // Redo makes version 3's edit again, and once redone, undo takes it back again: both name that edit.
    assert_eq!(s.next_redo(&me).map(|e| e.version), Some(Version(3)));
    assert_eq!(s.next_undo(&me).map(|e| e.version), Some(Version(2)));
    s.redo(&me, at(11)).unwrap();
    assert_eq!(s.next_undo(&me).map(|e| e.version), Some(Version(3)));
    s.undo(&me, at(12)).unwrap();
    s.redo(&me, at(13)).unwrap();
    let original = s.next_undo(&me).unwrap();
    assert_eq!(original.version, Version(3));
    assert!(matches!(original.action, Action::Edit { .. }));
    // A restore is named as the restore.
    s.restore(Version(1), None, &me, at(14)).unwrap();
    assert_eq!(
        s.next_undo(&me).map(|e| &e.action),
        Some(&Action::Restore {
            to: Version(1),
            shown_as: None
        })
    );
    assert_eq!(s.next_undo(&by("bob")), None);
}

#[test]
fn created_rows_are_reported_for_copies() {
    let mut s = three_rows();
    let applied = s
        .apply(
            Edit::Copy {
                rows: vec![row(1), row(3)],
                to: top(),
            },
            Version(3),
            &by("alice"),
            at(5),
        )
        .unwrap();
    assert_eq!(applied.created, [RowId::new(4).unwrap(), row(5)]);
}

/// Alice builds folder 1 with 2 under it, 3, and memo 4 after 1; Bob then moves 3 under 1, removes 2 and
/// adds 5 (versions 5–7).
fn edited_by_two() -> StructureContent {
    let mut s = StructureContent::new();
    let edits = [
        Edit::Add {
            rows: Fragment::single(folder("F")),
            at: top(),
        },
        add(2, Position::last_under(Some(row(1)))),
        add(3, top()),
    ];
    for (i, edit) in edits.into_iter().enumerate() {
        s.apply(edit, s.version(), &by("alice"), at(i as i64))
            .unwrap();
    }
    let memo = Edit::Add {
        rows: Fragment::single(memo("M")),
        at: Position::After(row(1)),
    };
    s.apply(memo, s.version(), &by("alice"), at(4)).unwrap();
    s.apply(
        Edit::Move {
            rows: vec![row(3)],
            to: Position::first_under(Some(row(1))),
        },
        s.version(),
        &by("bob"),
        at(5),
    )
    .unwrap();
    s.apply(
        Edit::Remove { rows: vec![row(2)] },
        s.version(),
        &by("bob"),
        at(6),
    )
    .unwrap();
    s.apply(add(5, top()), s.version(), &by("bob"), at(7))
        .unwrap();
    assert_eq!(shape(s.forest()), [(1, 0), (3, 1), (4, 0), (5, 0)]);
    s
}

#[test]
fn restore_brings_back_an_earlier_forest_with_its_row_ids() {
    let mut s = edited_by_two();
    let old = s.rebuild(Version(4)).unwrap();
    assert_eq!(shape(&old), [(1, 0), (2, 1), (4, 0), (3, 0)]);
    let applied = s.restore(Version(4), None, &by("carol"), at(8)).unwrap();
    assert_eq!(applied.version, Version(8));
    assert!(!applied.merged);
    assert_eq!(applied.created, [row(1), row(2), row(4), row(3)]);
    assert_eq!(s.forest(), &old);
    s.forest().check_invariants().unwrap();
    let entry = s.entry(Version(8)).unwrap();
    assert_eq!(
        entry.action,
        Action::Restore {
            to: Version(4),
            shown_as: None
        }
    );
    assert_eq!(entry.actor, actor("carol"));
    // New rows still get fresh ids: row 5 is gone, but its id is never handed out again.
    assert_eq!(s.next_row_id(), Some(row(6)));
    // Every version, the restore included, can still be rebuilt.
    assert_eq!(
        s.rebuild(Version(7)).unwrap(),
        edited_by_two().forest().clone()
    );
    assert_eq!(&s.rebuild(Version(8)).unwrap(), s.forest());
}

#[test]
fn undoing_a_restore_gives_back_the_forest_before_it_exactly() {
    let mut s = edited_by_two();
    let before = s.forest().clone();
    s.restore(Version(2), None, &by("carol"), at(8)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0), (2, 1)]);
    assert!(s.can_undo(&by("carol")));
    let undo = s.undo(&by("carol"), at(9)).unwrap();
    assert_eq!(undo.version, Version(9));
    assert_eq!(s.forest(), &before);
    // Redo restores again; a new edit after an undo clears the redo like any edit.
    s.redo(&by("carol"), at(10)).unwrap();
    assert_eq!(s.forest(), &s.rebuild(Version(2)).unwrap());
    s.undo(&by("carol"), at(11)).unwrap();
    s.restore(Version(1), None, &by("carol"), at(12)).unwrap();
    assert!(!s.can_redo(&by("carol")));
    assert_eq!(shape(s.forest()), [(1, 0)]);
}

#[test]
fn restore_to_version_zero_empties_the_forest() {
    let mut s = edited_by_two();
    let applied = s.restore(Version::ZERO, None, &by("alice"), at(8)).unwrap();
    assert!(applied.created.is_empty());
    assert!(s.forest().is_empty());
    assert_eq!(s.version(), Version(8));
    s.undo(&by("alice"), at(9)).unwrap();
    assert_eq!(s.forest(), edited_by_two().forest());
}

#[test]
fn restore_refuses_the_current_and_unknown_versions() {
    let mut s = edited_by_two();
    let err = s
        .restore(Version(7), None, &by("alice"), at(8))
        .unwrap_err();
    assert_eq!(err, ApplyError::AlreadyCurrent(Version(7)));
    assert_eq!(err.to_string(), "version 7 is already the current version");
    assert_eq!(
        s.restore(Version(8), None, &by("alice"), at(8))
            .unwrap_err(),
        ApplyError::UnknownVersion {
            requested: Version(8),
            current: Version(7)
        }
    );
    assert_eq!(s.version(), Version(7));
    assert_eq!(s.history().len(), 7);
}

#[test]
fn a_history_with_restores_replays_exactly() {
    let mut s = edited_by_two();
    s.restore(Version(3), None, &by("carol"), at(8)).unwrap();
    s.apply(add(9, top()), s.version(), &by("carol"), at(9))
        .unwrap();
    s.restore(Version(6), None, &by("bob"), at(10)).unwrap();
    s.undo(&by("bob"), at(11)).unwrap();
    assert_eq!(shape(s.forest()), [(1, 0), (2, 1), (3, 0), (6, 0)]);

    let journal = serde_json::to_string(s.history()).unwrap();
    let entries: Vec<HistoryEntry> = serde_json::from_str(&journal).unwrap();
    let loaded = StructureContent::from_history(entries).unwrap();
    assert_eq!(loaded.forest(), s.forest());
    assert_eq!(loaded.version(), s.version());
    assert_eq!(loaded.next_row_id(), s.next_row_id());
    // The undo stacks are the same, entry for entry.
    for name in ["alice", "bob", "carol"] {
        let (mut ours, mut theirs) = (s.clone(), loaded.clone());
        loop {
            let top = ours.discard_undo(&by(name));
            assert_eq!(theirs.discard_undo(&by(name)), top, "{name}");
            if top.is_none() {
                break;
            }
        }
        assert_eq!(loaded.can_redo(&by(name)), s.can_redo(&by(name)), "{name}");
    }
    // And they act alike: Bob redoes his restore, Carol undoes her addition.
    let mut loaded = loaded;
    for content in [&mut s, &mut loaded] {
        content.redo(&by("bob"), at(12)).unwrap();
        content.undo(&by("carol"), at(13)).unwrap_err();
    }
    assert_eq!(loaded.forest(), s.forest());
    assert_eq!(shape(s.forest()), [(1, 0), (3, 1), (4, 0)]);
}
