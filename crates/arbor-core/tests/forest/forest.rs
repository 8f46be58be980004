//! Construction, validation, navigation and the wire shape of forests.

use arbor_core::forest::{Forest, ForestBuilder, ForestError, ItemRef, Row};
use arbor_core::ids::IssueId;

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

#[test]
fn rows_come_back_in_order_with_their_items() {
    let rows = vec![
        Row::new(row(1), 0, folder("Plan")),
        Row::new(row(2), 1, issue(10_001)),
        Row::new(row(3), 1, memo("ask Ann")),
        Row::new(row(4), 0, issue(10_001)),
    ];
    let f = Forest::from_rows(rows.clone()).unwrap();
    f.check_invariants().unwrap();
    assert_eq!(f.to_rows(), rows);
    assert_eq!(f.issue(1), Some(IssueId::new(10_001).unwrap()));
    assert_eq!(f.issue(0), None);
    assert!(matches!(f.item(2), ItemRef::Memo(m) if m.as_str() == "ask Ann"));
    // The same issue may appear in several places.
    assert_eq!(f.issue(3), f.issue(1));
}

#[test]
fn construction_rejects_broken_shapes_with_clear_errors() {
    let err = Forest::from_rows([Row::new(row(1), 1, issue(1))]).unwrap_err();
    assert_eq!(
        err,
        ForestError::FirstRowNotTopLevel {
            row: row(1),
            depth: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "the first row (1) must be at depth 0, not 1"
    );

    let err = Forest::from_rows([Row::new(row(1), 0, issue(1)), Row::new(row(2), 2, issue(2))])
        .unwrap_err();
    assert_eq!(
        err,
        ForestError::DepthJump {
            row: row(2),
            depth: 2,
            previous: 0
        }
    );

    let err = Forest::from_rows([Row::new(row(7), 0, issue(1)), Row::new(row(7), 1, issue(2))])
        .unwrap_err();
    assert_eq!(err, ForestError::DuplicateRowId(row(7)));
    assert_eq!(err.to_string(), "row id 7 appears more than once");
}

#[test]
fn empty_forest_is_valid() {
    let f = Forest::new();
    f.check_invariants().unwrap();
    assert!(f.is_empty());
    assert_eq!(f.roots().count(), 0);
    assert_eq!(f.position_of(row(1)), None);
}

#[test]
fn navigation_follows_depths() {
    let f = sample();
    assert_eq!(f.position_of(row(4)), Some(3));
    assert_eq!(f.subtree_range(0), 0..4);
    assert_eq!(f.subtree_range(1), 1..3);
    assert_eq!(f.subtree_range(5), 5..6);
    assert_eq!(f.parent_of(2), Some(1));
    assert_eq!(f.parent_of(3), Some(0));
    assert_eq!(f.parent_of(4), None);
    assert_eq!(f.ancestors_of(2).collect::<Vec<_>>(), vec![1, 0]);
    assert_eq!(f.children_of(0).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(f.roots().collect::<Vec<_>>(), vec![0, 4]);
    assert!(f.is_leaf(2) && f.is_leaf(3) && f.is_leaf(5));
    assert!(!f.is_leaf(0) && !f.is_leaf(1));
    assert_eq!(f.leaves_of(0).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(f.leaves_of(3).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn topology_agrees_with_scanning() {
    let f = sample();
    let t = f.topology();
    for pos in 0..f.len() {
        assert_eq!(t.parent(pos), f.parent_of(pos));
        assert_eq!(t.subtree_range(pos), f.subtree_range(pos));
        assert_eq!(t.is_leaf(pos), f.is_leaf(pos));
        assert_eq!(
            t.children(pos).collect::<Vec<_>>(),
            f.children_of(pos).collect::<Vec<_>>()
        );
    }
    assert_eq!(t.roots().collect::<Vec<_>>(), vec![0, 4]);
}

#[test]
fn sparse_row_ids_are_indexed_too() {
    let ids = [1, 1_000_000_000, 5, 77_777_777_777];
    let f = Forest::from_rows(ids.iter().map(|&id| Row::new(row(id), 0, issue(id)))).unwrap();
    f.check_invariants().unwrap();
    for (pos, id) in ids.iter().enumerate() {
        assert_eq!(f.position_of(row(*id)), Some(pos));
    }
    assert_eq!(f.position_of(row(2)), None);
    let err = Forest::from_rows(
        [1, 1_000_000_000, 1]
            .iter()
            .map(|&id| Row::new(row(id), 0, issue(id))),
    )
    .unwrap_err();
    assert_eq!(err, ForestError::DuplicateRowId(row(1)));
}

#[test]
fn builder_checks_depths_as_it_goes_and_ids_at_the_end() {
    let mut b = ForestBuilder::with_capacity(3);
    b.push_issue(row(1), 0, IssueId::new(5).unwrap()).unwrap();
    assert!(matches!(
        b.push_issue(row(2), 2, IssueId::new(6).unwrap()),
        Err(ForestError::DepthJump { .. })
    ));
    b.push(row(2), 1, folder("x")).unwrap();
    b.push(row(1), 2, issue(9)).unwrap();
    assert_eq!(b.len(), 3);
    assert_eq!(b.finish().unwrap_err(), ForestError::DuplicateRowId(row(1)));
}

#[test]
fn wire_shape_is_a_list_of_rows() {
    let f = Forest::from_rows([
        Row::new(row(1), 0, folder("Q3")),
        Row::new(row(2), 1, issue(10_001)),
    ])
    .unwrap();
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(
        json,
        r#"[{"id":1,"depth":0,"item":{"folder":"Q3"}},{"id":2,"depth":1,"item":{"issue":10001}}]"#
    );
    let back: Forest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f);
    let broken = r#"[{"id":1,"depth":1,"item":{"issue":1}}]"#;
    let err = serde_json::from_str::<Forest>(broken).unwrap_err();
    assert!(err.to_string().contains("must be at depth 0"), "{err}");
    assert!(serde_json::from_str::<Forest>(r#"[{"id":1,"depth":0,"item":{"issue":0}}]"#).is_err());
}

#[test]
fn an_issue_forest_is_compact() {
    let n = 100_000u64;
    let mut b = ForestBuilder::with_capacity(n as usize);
    for i in 1..=n {
        let depth = u16::try_from(i % 3).unwrap();
        b.push_issue(
            row(i),
            depth.min(b.last_depth().map_or(0, |d| d + 1)),
            IssueId::new(i).unwrap(),
        )
        .unwrap();
    }
    let f = b.finish().unwrap();
    f.check_invariants().unwrap();
    let per_row = f.heap_bytes() as f64 / n as f64;
    assert!(per_row < 24.0, "{per_row} bytes per row");
    assert_eq!(shape(&f)[..3], [(1, 0), (2, 1), (3, 0)]);
}
