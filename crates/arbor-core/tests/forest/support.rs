//! Small builders so tests read as forests, not as boilerplate.

use std::collections::HashMap;

use arbor_core::forest::{Forest, Item, Row};
use arbor_core::history::Author;
use arbor_core::ids::{ActorId, FolderName, IssueId, MemoText, RowId, SessionTag, Timestamp};

pub(crate) fn row(id: u64) -> RowId {
    RowId::new(id).unwrap()
}

pub(crate) fn issue(id: u64) -> Item {
    Item::Issue(IssueId::new(id).unwrap())
}

pub(crate) fn folder(name: &str) -> Item {
    Item::Folder(FolderName::new(name).unwrap())
}

pub(crate) fn memo(text: &str) -> Item {
    Item::Memo(MemoText::new(text).unwrap())
}

pub(crate) fn actor(name: &str) -> ActorId {
    ActorId::new(name).unwrap()
}

/// `name` signed in, in their first session.
pub(crate) fn by(name: &str) -> Author {
    in_session(name, "1")
}

/// `name` in their session `session`.
pub(crate) fn in_session(name: &str, session: &str) -> Author {
    Author::in_session(
        actor(name),
        SessionTag::new(&format!("{name}-{session}")).unwrap(),
    )
}

pub(crate) fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(millis)
}

/// A forest from `(row id, depth)` pairs; row `n` shows issue `1000 + n`.
pub(crate) fn forest(shape: &[(u64, u16)]) -> Forest {
    Forest::from_rows(
        shape
            .iter()
            .map(|&(id, depth)| Row::new(row(id), depth, issue(1000 + id))),
    )
    .unwrap()
}

/// The `(row id, depth)` pairs of a forest, for compact assertions.
pub(crate) fn shape(forest: &Forest) -> Vec<(u64, u16)> {
    forest.iter().map(|r| (r.id.get(), r.depth)).collect()
}

/// Each row's parent row id.
pub(crate) fn parents(forest: &Forest) -> HashMap<RowId, Option<RowId>> {
    let topology = forest.topology();
    (0..forest.len())
        .map(|pos| {
            (
                forest.row_id(pos),
                topology.parent(pos).map(|p| forest.row_id(p)),
            )
        })
        .collect()
}

/// The subtree of a row as `(row id, depth relative to the row)`.
pub(crate) fn subtree_shape(forest: &Forest, id: RowId) -> Vec<(u64, u16)> {
    let pos = forest.position_of(id).unwrap();
    let base = forest.depth(pos);
    forest
        .subtree_range(pos)
        .map(|p| (forest.row_id(p).get(), forest.depth(p) - base))
        .collect()
}
