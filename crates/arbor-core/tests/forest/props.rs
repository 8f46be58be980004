//! Property tests: random valid and invalid edits keep the forest valid, fail atomically, do what they say,
//! invert exactly; undo/redo round trips; merge rules; history (with restores) replays.

use std::collections::HashSet;

use arbor_core::edit::{Edit, EditError, Fragment, NewRow, Position, RowIdAllocator, Slot};
use arbor_core::forest::{Forest, Item, Row};
use arbor_core::history::{Action, ApplyError, Author, ConflictCause, StructureContent};
use arbor_core::ids::{GeneratorId, RowId, Version};
use proptest::prelude::*;

use crate::support::{actor, at, by, folder, in_session, issue, memo, parents, row, subtree_shape};

/// An edit described by numbers, turned into a real edit against whatever forest exists when it runs, so
/// that most edits name real rows and some name missing ones.
#[derive(Debug, Clone)]
struct Spec {
    kind: u8,
    picks: Vec<u16>,
    target: (u8, u16, u8, u8),
    fragment: Vec<(u8, u8)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..4,
        prop::collection::vec(any::<u16>(), 1..4),
        (0u8..3, any::<u16>(), 0u8..3, 0u8..4),
        prop::collection::vec((any::<u8>(), 0u8..4), 1..5),
    )
        .prop_map(|(kind, picks, target, fragment)| Spec {
            kind,
            picks,
            target,
            fragment,
        })
}

const MISSING: u64 = 999_999;

/// A random starting forest of up to 30 rows with ids 1, 2, 3, ...
fn start() -> impl Strategy<Value = Forest> {
    prop::collection::vec((any::<u8>(), 0u8..4), 0..30).prop_map(|rows| {
        let mut depth = 0u16;
        let rows = rows.iter().enumerate().map(|(i, &(step, kind))| {
            depth = if i == 0 {
                0
            } else {
                u16::from(step) % (depth + 2)
            };
            Row::new(row(i as u64 + 1), depth, item(kind, i))
        });
        Forest::from_rows(rows.collect::<Vec<_>>()).unwrap()
    })
}

/// A structure whose version 1 adds `forest`, made by "setup".
fn structure(forest: &Forest) -> StructureContent {
    let mut s = StructureContent::new();
    if forest.is_empty() {
        return s;
    }
    let rows = forest
        .iter()
        .map(|r| NewRow::new(r.depth, r.item.to_item()))
        .collect();
    let edit = Edit::Add {
        rows: Fragment::new(rows).unwrap(),
        at: Position::last_under(None),
    };
    s.apply(edit, Version::ZERO, &by("setup"), at(0)).unwrap();
    s
}

fn pick(forest: &Forest, p: u16) -> RowId {
    if forest.is_empty() || p % 32 == 31 {
        row(MISSING)
    } else {
        forest.row_id(usize::from(p) % forest.len())
    }
}

fn item(kind: u8, i: usize) -> Item {
    match kind {
        0 => issue(1 + i as u64 % 7),
        1 => folder(&format!("F{i}")),
        2 => memo(&format!("note {i}")),
        _ => Item::Generator(GeneratorId::new(1 + i as u64).unwrap()),
    }
}

fn to_edit(spec: &Spec, forest: &Forest) -> Edit {
    let (kind, p, slot, index) = spec.target;
    let position = match kind {
        0 => Position::Under {
            parent: (p % 5 != 0).then(|| pick(forest, p)),
            at: match slot {
                0 => Slot::First,
                1 => Slot::Last,
                _ => Slot::Index(u32::from(index)),
            },
        },
        1 => Position::Before(pick(forest, p)),
        _ => Position::After(pick(forest, p)),
    };
    let rows: Vec<RowId> = spec.picks.iter().map(|&p| pick(forest, p)).collect();
    match spec.kind {
        0 => {
            let mut depth = 0u16;
            let new_rows = spec
                .fragment
                .iter()
                .enumerate()
                .map(|(i, &(step, k))| {
                    depth = if i == 0 {
                        0
                    } else {
                        u16::from(step) % (depth + 2)
                    };
                    NewRow::new(depth, item(k, i))
                })
                .collect();
            Edit::Add {
                rows: Fragment::new(new_rows).unwrap(),
                at: position,
            }
        }
        1 => Edit::Move { rows, to: position },
        2 => Edit::Remove { rows },
        _ => Edit::Copy { rows, to: position },
    }
}

/// The listed rows that are not inside another listed row, in forest order.
fn tops(forest: &Forest, rows: &[RowId]) -> Vec<RowId> {
    let listed: HashSet<RowId> = rows.iter().copied().collect();
    let mut positions: Vec<usize> = rows
        .iter()
        .map(|&r| forest.position_of(r).unwrap())
        .filter(|&pos| {
            !forest
                .ancestors_of(pos)
                .any(|a| listed.contains(&forest.row_id(a)))
        })
        .collect();
    positions.sort_unstable();
    positions
        .into_iter()
        .map(|pos| forest.row_id(pos))
        .collect()
}

/// Rows outside the touched subtrees keep their parent and their relative order.
fn others_keep_place(before: &Forest, after: &Forest, touched: &HashSet<RowId>) {
    let (pb, pa) = (parents(before), parents(after));
    let kept: Vec<RowId> = before
        .row_ids()
        .iter()
        .copied()
        .filter(|r| !touched.contains(r))
        .collect();
    let kept_after: Vec<RowId> = after
        .row_ids()
        .iter()
        .copied()
        .filter(|r| kept.contains(r))
        .collect();
    assert_eq!(kept, kept_after);
    for r in &kept {
        assert_eq!(pb[r], pa[r], "parent of row {r}");
    }
}

fn subtree_ids(forest: &Forest, id: RowId) -> Vec<RowId> {
    let pos = forest.position_of(id).unwrap();
    forest
        .subtree_range(pos)
        .map(|p| forest.row_id(p))
        .collect()
}

/// Checks that a successful edit did what it says.
fn check_effect(edit: &Edit, before: &Forest, after: &Forest, created: &[RowId]) {
    match edit {
        Edit::Add { rows, .. } => {
            assert_eq!(after.len(), before.len() + rows.rows().len());
            assert_eq!(created.len(), rows.rows().len());
            assert!(
                created
                    .iter()
                    .all(|r| after.contains(*r) && !before.contains(*r))
            );
        }
        Edit::Remove { rows } => {
            let gone: HashSet<RowId> = tops(before, rows)
                .iter()
                .flat_map(|&r| subtree_ids(before, r))
                .collect();
            assert_eq!(after.len(), before.len() - gone.len());
            assert!(gone.iter().all(|r| !after.contains(*r)));
            others_keep_place(before, after, &gone);
        }
        Edit::Move { rows, to } => {
            let tops = tops(before, rows);
            let moved: HashSet<RowId> = tops.iter().flat_map(|&r| subtree_ids(before, r)).collect();
            assert_eq!(after.len(), before.len());
            others_keep_place(before, after, &moved);
            for &t in &tops {
                assert_eq!(subtree_shape(before, t), subtree_shape(after, t));
            }
            // The moved rows are consecutive siblings, in forest order, at the target.
            let pa = parents(after);
            let parent = pa[&tops[0]];
            let siblings: Vec<RowId> = match parent {
                Some(p) => after
                    .children_of(after.position_of(p).unwrap())
                    .map(|c| after.row_id(c))
                    .collect(),
                None => after.roots().map(|c| after.row_id(c)).collect(),
            };
            let start = siblings.iter().position(|s| *s == tops[0]).unwrap();
            assert_eq!(&siblings[start..start + tops.len()], &tops[..]);
            match *to {
                Position::Before(x) => assert_eq!(siblings.get(start + tops.len()), Some(&x)),
                Position::After(x) => {
                    assert_eq!(start.checked_sub(1).map(|i| siblings[i]), Some(x));
                }
                Position::Under { parent: p, at } => {
                    assert_eq!(parent, p);
                    match at {
                        Slot::First => assert_eq!(start, 0),
                        Slot::Last => assert_eq!(start + tops.len(), siblings.len()),
                        Slot::Index(i) => assert_eq!(start, i as usize),
                    }
                }
            }
        }
        Edit::Copy { rows, .. } => {
            let copied: usize = tops(before, rows)
                .iter()
                .map(|&r| subtree_ids(before, r).len())
                .sum();
            assert_eq!(after.len(), before.len() + copied);
            assert_eq!(created.len(), copied);
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_edits_keep_the_forest_valid_and_invert_exactly(
        mut forest in start(),
        specs in prop::collection::vec(spec(), 1..40),
    ) {
        let mut ids = RowIdAllocator::after(&forest);
        for spec in &specs {
            let edit = to_edit(spec, &forest);
            let before = forest.clone();
            match forest.apply_edit(&edit, &mut ids) {
                Ok(resolved) => {
                    forest.check_invariants().unwrap();
                    check_effect(&edit, &before, &forest, &resolved.created);
                    // The inverse restores exactly; the change replays exactly.
                    let mut back = forest.clone();
                    back.apply_change(&resolved.inverse).unwrap();
                    back.check_invariants().unwrap();
                    prop_assert_eq!(&back, &before);
                    let mut again = before.clone();
                    again.apply_change(&resolved.change).unwrap();
                    prop_assert_eq!(&again, &forest);
                    // The wire shape round-trips.
                    let json = serde_json::to_string(&forest).unwrap();
                    prop_assert_eq!(&serde_json::from_str::<Forest>(&json).unwrap(), &forest);
                }
                Err(error) => {
                    prop_assert_eq!(&forest, &before, "failed edit {:?} changed the forest: {}", edit, error);
                }
            }
        }
    }

    #[test]
    fn topology_matches_the_scanning_navigation(
        mut forest in start(),
        specs in prop::collection::vec(spec(), 1..30),
    ) {
        let mut ids = RowIdAllocator::after(&forest);
        for spec in &specs {
            let _ = forest.apply_edit(&to_edit(spec, &forest), &mut ids);
        }
        let t = forest.topology();
        for pos in 0..forest.len() {
            prop_assert_eq!(t.parent(pos), forest.parent_of(pos));
            prop_assert_eq!(t.subtree_range(pos), forest.subtree_range(pos));
            prop_assert_eq!(t.children(pos).collect::<Vec<_>>(), forest.children_of(pos).collect::<Vec<_>>());
        }
        prop_assert_eq!(t.roots().collect::<Vec<_>>(), forest.roots().collect::<Vec<_>>());
    }

    #[test]
    fn undo_all_then_redo_all_round_trips(
        initial in start(),
        specs in prop::collection::vec(spec(), 1..30),
    ) {
        let mut s = structure(&initial);
        let first = s.version();
        let original = s.forest().clone();
        let me = by("alice");
        let mut applied = 0;
        for (t, spec) in specs.iter().enumerate() {
            let edit = to_edit(spec, s.forest());
            if s.apply(edit, s.version(), &me, at(t as i64)).is_ok() {
                applied += 1;
            }
        }
        let last = s.forest().clone();
        for _ in 0..applied.min(arbor_core::history::UNDO_DEPTH) {
            s.undo(&me, at(1000)).unwrap();
            s.forest().check_invariants().unwrap();
        }
        prop_assert!(!s.can_undo(&me));
        prop_assert_eq!(s.forest(), &original);
        for _ in 0..applied {
            s.redo(&me, at(2000)).unwrap();
        }
        prop_assert_eq!(s.forest(), &last);
        prop_assert_eq!(s.version().get(), first.get() + 3 * applied as u64);
    }

    #[test]
    fn history_rebuilds_every_version_and_undo_stays_in_its_session(
        initial in start(),
        specs in prop::collection::vec((spec(), 0u8..7, 0u8..3), 1..30),
    ) {
        let mut s = structure(&initial);
        let mut snapshots = vec![Forest::new()];
        if s.version() == Version(1) {
            snapshots.push(s.forest().clone());
        }
        // Two people, Alice in two sessions, and changes made for them outside any session.
        let author = |who: u8, session: u8| {
            let name = if who.is_multiple_of(2) { "alice" } else { "bob" };
            match session {
                0 => by(name),
                1 if name == "alice" => in_session(name, "2"),
                _ => Author::without_session(actor(name)),
            }
        };
        for (t, (spec, who, session)) in specs.iter().enumerate() {
            let person = author(*who, *session);
            let result = match who {
                4 => s.undo(&person, at(t as i64)),
                5 => s.redo(&person, at(t as i64)),
                6 => {
                    let to = Version(u64::from(spec.picks[0]) % (s.version().get() + 1));
                    let restored = s.restore(to, None, &person, at(t as i64));
                    if restored.is_ok() {
                        // Exactly the old forest, row ids included.
                        prop_assert_eq!(s.forest(), &snapshots[to.get() as usize]);
                    }
                    restored
                }
                _ => {
                    let edit = to_edit(spec, s.forest());
                    s.apply(edit, s.version(), &person, at(t as i64))
                }
            };
            if let Ok(applied) = &result {
                snapshots.push(s.forest().clone());
                // An undo or redo takes back or makes again a change of the same person in the same session.
                let entry = s.entry(applied.version).unwrap();
                if let Action::Undo { of } | Action::Redo { of } = entry.action {
                    let taken = s.entry(of).unwrap();
                    prop_assert!(person.session.is_some());
                    prop_assert_eq!(&taken.actor, &person.actor);
                    prop_assert_eq!(&taken.session, &person.session);
                }
            } else if *who == 4 && person.session.is_none() {
                prop_assert_eq!(result, Err(ApplyError::NothingToUndo(person.actor.clone())));
            }
            prop_assert_eq!(s.version().get() as usize, snapshots.len() - 1);
        }
        for (v, snapshot) in snapshots.iter().enumerate() {
            prop_assert_eq!(&s.rebuild(Version(v as u64)).unwrap(), snapshot);
        }
        let loaded = StructureContent::from_history(s.history().to_vec()).unwrap();
        prop_assert_eq!(loaded.forest(), s.forest());
        prop_assert_eq!(loaded.next_row_id(), s.next_row_id());
        // Every session's stacks come back from the history alone.
        for who in 0..2 {
            for session in 0..3 {
                let person = author(who, session);
                prop_assert_eq!(loaded.next_undo(&person), s.next_undo(&person));
                prop_assert_eq!(loaded.next_redo(&person), s.next_redo(&person));
            }
        }
    }

    #[test]
    fn concurrent_edits_merge_or_conflict_by_the_rules(
        initial in start(),
        setup in prop::collection::vec(spec(), 0..5),
        first in spec(),
        second in spec(),
    ) {
        let mut s = structure(&initial);
        for spec in &setup {
            let edit = to_edit(spec, s.forest());
            let _ = s.apply(edit, s.version(), &by("setup"), at(0));
        }
        let base = s.version();
        let base_forest = s.forest().clone();
        // Both clients build their edit from what they saw at `base`.
        let a = to_edit(&first, &base_forest);
        let b = to_edit(&second, &base_forest);
        if s.apply(a, base, &by("alice"), at(1)).is_err() {
            return Ok(());
        }
        let after_a = s.forest().clone();
        let named: Vec<RowId> = match &b {
            Edit::Add { at, .. } => at.reference().into_iter().collect(),
            Edit::Move { rows, to } | Edit::Copy { rows, to } => rows.iter().copied().chain(to.reference()).collect(),
            Edit::Remove { rows } => rows.clone(),
        };
        let removed_by_a: Vec<RowId> = named
            .iter()
            .copied()
            .filter(|r| base_forest.contains(*r) && !after_a.contains(*r))
            .collect();
        let uses_index = b.position().is_some_and(Position::is_index);
        // What the same edit does on the current version, for comparison.
        let mut direct = after_a.clone();
        let direct_result = direct.apply_edit(&b, &mut RowIdAllocator::starting_at(s.next_row_id().unwrap()));
        match s.apply(b.clone(), base, &by("bob"), at(2)) {
            Ok(applied) => {
                // Merged: exactly what the edit does on the current forest.
                prop_assert!(applied.merged);
                prop_assert!(!uses_index);
                prop_assert!(removed_by_a.is_empty());
                prop_assert_eq!(s.forest(), &direct);
            }
            Err(ApplyError::Conflict(c)) => {
                prop_assert_eq!(c.based_on, base);
                match c.cause {
                    ConflictCause::RowRemoved { row, version, actor: who } => {
                        prop_assert!(removed_by_a.contains(&row));
                        prop_assert_eq!(version, Version(base.get() + 1));
                        prop_assert_eq!(who, actor("alice"));
                    }
                    ConflictCause::StaleIndex => prop_assert!(uses_index),
                    ConflictCause::Changed { error, actors } => {
                        prop_assert_eq!(Err(error), direct_result.map(|_| ()));
                        prop_assert_eq!(actors, vec![actor("alice")]);
                    }
                }
                prop_assert_eq!(s.forest(), &after_a);
            }
            Err(ApplyError::Edit(error)) => {
                // Not caused by Alice: the edit fails the same way on the version it was based on.
                let mut on_base = base_forest.clone();
                let on_base_result = on_base.apply_edit(&b, &mut RowIdAllocator::starting_at(row(MISSING + 1)));
                prop_assert_eq!(on_base_result.map(|_| ()), Err(error));
                prop_assert_eq!(s.forest(), &after_a);
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}

#[test]
fn missing_rows_are_plain_errors_on_the_current_version() {
    let mut s = StructureContent::new();
    let err = s
        .apply(
            Edit::Remove {
                rows: vec![row(MISSING)],
            },
            Version::ZERO,
            &by("alice"),
            at(0),
        )
        .unwrap_err();
    assert_eq!(err, ApplyError::Edit(EditError::RowNotFound(row(MISSING))));
}
