//! Each edit and each error, on small forests drawn in the comments.

use arbor_core::edit::{
    Anchor, Change, Edit, EditError, Fragment, NewRow, Position, RowIdAllocator, RowsError, Slot,
    Step,
};
use arbor_core::forest::{Forest, Row};
use arbor_core::ids::RowId;

use crate::support::{folder, forest, issue, memo, row, shape};

/// ```text
/// 1
///   2
///     3
///   4
/// 5
///   6
/// ```
fn sample() -> Forest {
    forest(&[(1, 0), (2, 1), (3, 2), (4, 1), (5, 0), (6, 1)])
}

fn ids() -> RowIdAllocator {
    RowIdAllocator::starting_at(row(100))
}

/// Applies an edit, checks the invariants and that the inverse takes the forest back exactly.
fn apply(f: &mut Forest, edit: Edit) -> Vec<RowId> {
    let before = f.clone();
    let resolved = f.apply_edit(&edit, &mut ids()).unwrap();
    f.check_invariants().unwrap();
    let mut undone = f.clone();
    let redo = undone.apply_change(&resolved.inverse).unwrap();
    undone.check_invariants().unwrap();
    assert_eq!(undone, before, "inverse of {edit:?}");
    assert_eq!(redo, resolved.change);
    resolved.created
}

fn fails(f: &Forest, edit: Edit) -> EditError {
    let mut copy = f.clone();
    let err = copy
        .apply_edit(&edit, &mut RowIdAllocator::after(f))
        .unwrap_err();
    assert_eq!(&copy, f, "a failed edit must change nothing");
    err
}

fn moving(rows: &[u64], to: Position) -> Edit {
    Edit::Move {
        rows: rows.iter().map(|&r| row(r)).collect(),
        to,
    }
}

fn adding(depths: &[u16], at: Position) -> Edit {
    let rows = depths.iter().map(|&d| NewRow::new(d, issue(7))).collect();
    Edit::Add {
        rows: Fragment::new(rows).unwrap(),
        at,
    }
}

#[test]
fn add_at_every_kind_of_position() {
    let mut f = sample();
    assert_eq!(
        apply(&mut f, adding(&[0], Position::last_under(None))),
        [row(100)]
    );
    assert_eq!(shape(&f).last(), Some(&(100, 0)));

    let mut f = sample();
    apply(&mut f, adding(&[0], Position::first_under(Some(row(1)))));
    assert_eq!(shape(&f)[..3], [(1, 0), (100, 1), (2, 1)]);

    let mut f = sample();
    let at = Position::Under {
        parent: Some(row(1)),
        at: Slot::Index(1),
    };
    apply(&mut f, adding(&[0], at));
    assert_eq!(shape(&f)[..5], [(1, 0), (2, 1), (3, 2), (100, 1), (4, 1)]);

    let mut f = sample();
    apply(&mut f, adding(&[0], Position::Before(row(4))));
    assert_eq!(shape(&f)[3], (100, 1));

    let mut f = sample();
    apply(&mut f, adding(&[0], Position::After(row(2))));
    // After a row means after its whole subtree, as its next sibling.
    assert_eq!(shape(&f)[..5], [(1, 0), (2, 1), (3, 2), (100, 1), (4, 1)]);
}

#[test]
fn add_several_subtrees_hands_out_ids_in_order() {
    let mut f = sample();
    let created = apply(&mut f, adding(&[0, 1, 1, 0], Position::After(row(6))));
    assert_eq!(created, [row(100), row(101), row(102), row(103)]);
    assert_eq!(shape(&f)[6..], [(100, 1), (101, 2), (102, 2), (103, 1)]);
}

#[test]
fn add_folders_and_memos() {
    let mut f = Forest::new();
    let rows = vec![
        NewRow::new(0, folder("Backlog")),
        NewRow::new(1, memo("triage weekly")),
    ];
    let edit = Edit::Add {
        rows: Fragment::new(rows).unwrap(),
        at: Position::last_under(None),
    };
    apply(&mut f, edit);
    assert_eq!(
        f.to_rows(),
        [
            Row::new(row(100), 0, folder("Backlog")),
            Row::new(row(101), 1, memo("triage weekly"))
        ]
    );
}

#[test]
fn fragments_must_be_well_formed() {
    assert_eq!(Fragment::new(vec![]), Err(RowsError::Empty));
    assert_eq!(
        Fragment::new(vec![NewRow::new(1, issue(1))]),
        Err(RowsError::FirstRowNotTopLevel { depth: 1 })
    );
    assert!(matches!(
        Fragment::new(vec![NewRow::new(0, issue(1)), NewRow::new(2, issue(1))]),
        Err(RowsError::DepthJump { index: 1, .. })
    ));
}

#[test]
fn move_under_before_and_after() {
    let mut f = sample();
    apply(&mut f, moving(&[2], Position::last_under(Some(row(5)))));
    assert_eq!(shape(&f), [(1, 0), (4, 1), (5, 0), (6, 1), (2, 1), (3, 2)]);

    let mut f = sample();
    apply(&mut f, moving(&[6], Position::Before(row(1))));
    assert_eq!(shape(&f), [(6, 0), (1, 0), (2, 1), (3, 2), (4, 1), (5, 0)]);

    let mut f = sample();
    apply(&mut f, moving(&[3], Position::After(row(4))));
    assert_eq!(shape(&f), [(1, 0), (2, 1), (4, 1), (3, 1), (5, 0), (6, 1)]);
}

#[test]
fn moving_several_rows_keeps_their_forest_order_and_nested_rows_go_along() {
    let mut f = sample();
    // Listed out of order, and 3 is inside 2: it travels with 2, not on its own.
    apply(&mut f, moving(&[6, 3, 2], Position::first_under(None)));
    assert_eq!(shape(&f), [(2, 0), (3, 1), (6, 0), (1, 0), (4, 1), (5, 0)]);
}

#[test]
fn last_and_index_count_children_that_stay() {
    let mut f = sample();
    // 4 is already the last child of 1; "last" among the others is right after 2.
    let at = Position::Under {
        parent: Some(row(1)),
        at: Slot::Index(1),
    };
    apply(&mut f, moving(&[4, 6], at));
    assert_eq!(shape(&f), [(1, 0), (2, 1), (3, 2), (4, 1), (6, 1), (5, 0)]);

    let mut f = sample();
    apply(&mut f, moving(&[2], Position::last_under(Some(row(1)))));
    assert_eq!(shape(&f), [(1, 0), (4, 1), (2, 1), (3, 2), (5, 0), (6, 1)]);

    let mut f = sample();
    apply(&mut f, moving(&[2, 4], Position::last_under(Some(row(1)))));
    assert_eq!(shape(&f), sample_shape());
}

fn sample_shape() -> Vec<(u64, u16)> {
    shape(&sample())
}

#[test]
fn moving_into_its_own_subtree_is_refused() {
    let f = sample();
    let err = fails(&f, moving(&[1], Position::last_under(Some(row(3)))));
    assert_eq!(
        err,
        EditError::TargetInsideMoved {
            target: row(3),
            moved: row(1)
        }
    );
    assert_eq!(
        err.to_string(),
        "row 3 is inside the subtree of row 1, which is being moved; a row cannot be moved into its own subtree"
    );
    assert_eq!(
        fails(&f, moving(&[2], Position::After(row(2)))),
        EditError::TargetInsideMoved {
            target: row(2),
            moved: row(2)
        }
    );
    assert_eq!(
        fails(&f, moving(&[5, 2], Position::Before(row(6)))),
        EditError::TargetInsideMoved {
            target: row(6),
            moved: row(5)
        }
    );
}

#[test]
fn bad_row_lists_are_refused() {
    let f = sample();
    assert_eq!(
        fails(&f, moving(&[], Position::first_under(None))),
        EditError::NoRows
    );
    assert_eq!(
        fails(&f, moving(&[2, 2], Position::first_under(None))),
        EditError::DuplicateRow(row(2))
    );
    assert_eq!(
        fails(&f, Edit::Remove { rows: vec![row(9)] }),
        EditError::RowNotFound(row(9))
    );
    assert_eq!(
        fails(&f, moving(&[2], Position::Before(row(9)))),
        EditError::RowNotFound(row(9))
    );
    let at = Position::Under {
        parent: Some(row(1)),
        at: Slot::Index(3),
    };
    let err = fails(&f, adding(&[0], at));
    assert_eq!(
        err,
        EditError::IndexOutOfRange {
            index: 3,
            children: 2
        }
    );
    assert_eq!(err.to_string(), "index 3 is past the end of the 2 children");
}

#[test]
fn remove_takes_subtrees_and_frees_texts() {
    let mut f = Forest::from_rows([
        Row::new(row(1), 0, folder("A")),
        Row::new(row(2), 1, memo("note")),
        Row::new(row(3), 0, issue(1)),
        Row::new(row(4), 1, folder("B")),
    ])
    .unwrap();
    apply(
        &mut f,
        Edit::Remove {
            rows: vec![row(4), row(1), row(2)],
        },
    );
    assert_eq!(shape(&f), [(3, 0)]);
    // New texts reuse the freed slots; the invariant check counts live texts against rows.
    apply(
        &mut f,
        Edit::Add {
            rows: Fragment::single(folder("C")),
            at: Position::After(row(3)),
        },
    );
    f.check_invariants().unwrap();
}

#[test]
fn copy_makes_new_rows_and_may_target_its_own_subtree() {
    let mut f = sample();
    let created = apply(
        &mut f,
        Edit::Copy {
            rows: vec![row(2), row(6)],
            to: Position::last_under(Some(row(3))),
        },
    );
    assert_eq!(created, [row(100), row(101), row(102)]);
    assert_eq!(
        shape(&f)[..6],
        [(1, 0), (2, 1), (3, 2), (100, 3), (101, 4), (102, 3)]
    );
    // Copies show the same items as the originals.
    let copy = f.position_of(row(101)).unwrap();
    assert_eq!(f.item(copy), f.item(f.position_of(row(3)).unwrap()));
}

#[test]
fn row_ids_are_never_reused() {
    let mut f = sample();
    let mut ids = ids();
    let add = adding(&[0], Position::first_under(None));
    let first = f.apply_edit(&add, &mut ids).unwrap();
    f.apply_edit(
        &Edit::Remove {
            rows: first.created.clone(),
        },
        &mut ids,
    )
    .unwrap();
    let second = f.apply_edit(&add, &mut ids).unwrap();
    assert_eq!(second.created, [row(101)]);
    // A failed edit does not use up ids.
    let bad = Edit::Add {
        rows: Fragment::single(issue(1)),
        at: Position::After(row(99)),
    };
    f.apply_edit(&bad, &mut ids).unwrap_err();
    assert_eq!(ids.peek(), Some(row(102)));
}

#[test]
fn changes_are_exact_and_refuse_existing_ids() {
    let mut f = sample();
    let change = Change::new(vec![Step::Remove { row: row(2) }]);
    let inverse = f.apply_change(&change).unwrap();
    assert_eq!(shape(&f), [(1, 0), (4, 1), (5, 0), (6, 1)]);
    let Step::Insert { rows, at } = &inverse.steps()[0] else {
        panic!("{inverse:?}")
    };
    assert_eq!(
        *at,
        Anchor::First {
            parent: Some(row(1))
        }
    );
    assert_eq!(rows.rows().len(), 2);
    f.apply_change(&inverse).unwrap();
    assert_eq!(f, sample());
    assert_eq!(
        f.apply_change(&inverse).unwrap_err(),
        EditError::RowExists(row(2))
    );
}

#[test]
fn too_deep_is_refused() {
    let chain: Vec<(u64, u16)> = (0..=u16::MAX).map(|d| (u64::from(d) + 1, d)).collect();
    let f = forest(&chain);
    let deepest = row(u64::from(u16::MAX) + 1);
    assert_eq!(
        fails(&f, adding(&[0], Position::first_under(Some(deepest)))),
        EditError::TooDeep
    );
}

#[test]
fn edits_have_a_tidy_wire_shape() {
    let edit = moving(&[4, 9], Position::After(row(2)));
    let json = serde_json::to_string(&edit).unwrap();
    assert_eq!(json, r#"{"op":"move","rows":[4,9],"to":{"after":2}}"#);
    assert_eq!(serde_json::from_str::<Edit>(&json).unwrap(), edit);

    let edit = adding(
        &[0, 1],
        Position::Under {
            parent: None,
            at: Slot::Index(2),
        },
    );
    let json = serde_json::to_string(&edit).unwrap();
    assert_eq!(
        json,
        r#"{"op":"add","rows":[{"depth":0,"item":{"issue":7}},{"depth":1,"item":{"issue":7}}],"at":{"under":{"parent":null,"at":{"index":2}}}}"#
    );
    assert_eq!(serde_json::from_str::<Edit>(&json).unwrap(), edit);

    let bad = r#"{"op":"add","rows":[{"depth":1,"item":{"issue":7}}],"at":{"before":1}}"#;
    assert!(serde_json::from_str::<Edit>(bad).is_err());

    let change = Change::new(vec![Step::Move {
        row: row(3),
        to: Anchor::First { parent: None },
    }]);
    assert_eq!(
        serde_json::to_string(&change).unwrap(),
        r#"[{"step":"move","row":3,"to":{"first":{"parent":null}}}]"#
    );
}
