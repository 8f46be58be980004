//! The fetch planner: what to ask Jira for, in as few calls as the API allows, to answer the engine's
//! [`Needs`].
//!
//! Jira's limits shape the plan (SPEC §2): a search returns up to 5000 ids per page when only ids are asked
//! for, and about 100 issues when fields are; `bulkfetch` takes up to 100 ids. So every issue list is found
//! with id-only searches, and every field is read with `bulkfetch` in batches of 100, all fields of a batch in
//! one call. Children (`parent in (...)`) are id-only searches too; which parent each child has comes with the
//! children's own `parent` field in the bulk fetch that follows.
//!
//! Invariant: the plan is deterministic (sorted ids, stable batches), so two runs with the same needs make
//! the same calls — which the cache and the benchmark's minimum rely on.

use std::collections::BTreeSet;

use arbor_core::data::{FieldId, Needs};
use arbor_core::ids::IssueId;

/// Jira Cloud's page and batch sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Ids per page of an id-only search.
    pub ids_per_page: usize,
    /// Ids per `bulkfetch` call.
    pub issues_per_bulkfetch: usize,
    /// Parents per `parent in (...)` query: keeps a query's text well inside Jira's size limits.
    pub parents_per_query: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            ids_per_page: 5000,
            issues_per_bulkfetch: 100,
            parents_per_query: 500,
        }
    }
}

/// One logical call (a search may take several pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `POST /rest/api/3/search/jql` with `fields: ["id"]`, all pages.
    SearchIds { jql: String },
    /// `POST /rest/api/3/issue/bulkfetch` for these issues and fields.
    BulkFetch {
        issues: Vec<IssueId>,
        fields: Vec<FieldId>,
    },
}

/// The searches that answer the JQL and children needs. Their results, and the needed issues, are then
/// fetched with [`bulk_fetches`].
pub fn searches(needs: &Needs, limits: &Limits) -> Vec<Call> {
    let mut calls: Vec<Call> = needs
        .jql
        .iter()
        .map(|jql| Call::SearchIds { jql: jql.clone() })
        .collect();
    let parents: Vec<IssueId> = needs.children.iter().copied().collect();
    for chunk in parents.chunks(limits.parents_per_query.max(1)) {
        calls.push(Call::SearchIds {
            jql: children_query(chunk),
        });
    }
    calls
}

/// `parent in (1, 2, 3)`: the issues whose parent is one of these (by id, which never changes).
pub fn children_query(parents: &[IssueId]) -> String {
    let list: Vec<String> = parents.iter().map(|id| id.get().to_string()).collect();
    format!("parent in ({})", list.join(", "))
}

/// Bulk fetches of `issues` with `fields`, in batches, ids ascending (the order `bulkfetch` answers in).
pub fn bulk_fetches(
    issues: &BTreeSet<IssueId>,
    fields: &BTreeSet<FieldId>,
    limits: &Limits,
) -> Vec<Call> {
    let ids: Vec<IssueId> = issues.iter().copied().collect();
    let fields: Vec<FieldId> = fields.iter().cloned().collect();
    ids.chunks(limits.issues_per_bulkfetch.max(1))
        .map(|batch| Call::BulkFetch {
            issues: batch.to_vec(),
            fields: fields.clone(),
        })
        .collect()
}

/// The fewest requests the API allows for finding `found` issues through `queries` searches and reading
/// `fetched` issues: the reference the cold-load benchmark compares its count with.
pub fn minimum_requests(queries: usize, found: usize, fetched: usize, limits: &Limits) -> usize {
    let pages = found.div_ceil(limits.ids_per_page.max(1)).max(queries);
    pages + fetched.div_ceil(limits.issues_per_bulkfetch.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::RangeInclusive<u64>) -> BTreeSet<IssueId> {
        range.map(|n| IssueId::new(n).unwrap()).collect()
    }

    #[test]
    fn searches_cover_queries_and_children_in_bounded_chunks() {
        let mut needs = Needs::default();
        needs.jql.insert("project = A".into());
        needs.children = ids(1..=1200);
        let calls = searches(&needs, &Limits::default());
        assert_eq!(
            calls.len(),
            1 + 3,
            "one query and three chunks of at most 500 parents"
        );
        assert_eq!(
            calls[0],
            Call::SearchIds {
                jql: "project = A".into()
            }
        );
        let Call::SearchIds { jql } = &calls[3] else {
            panic!()
        };
        assert!(jql.starts_with("parent in (1001, 1002"), "{jql}");
        assert!(jql.ends_with("1200)"), "{jql}");
        jql::parse(jql).unwrap();
    }

    #[test]
    fn bulk_fetches_batch_by_100_with_every_field_once() {
        let fields: BTreeSet<FieldId> = ["summary", "status"]
            .map(FieldId::new)
            .into_iter()
            .collect();
        let calls = bulk_fetches(&ids(1..=250), &fields, &Limits::default());
        assert_eq!(calls.len(), 3);
        let Call::BulkFetch {
            issues,
            fields: asked,
        } = &calls[2]
        else {
            panic!()
        };
        assert_eq!(issues.len(), 50);
        assert_eq!(issues[0].get(), 201);
        assert_eq!(asked.len(), 2);
        assert!(bulk_fetches(&BTreeSet::new(), &fields, &Limits::default()).is_empty());
    }

    #[test]
    fn the_minimum_is_pages_of_ids_plus_batches_of_issues() {
        let limits = Limits::default();
        // 12,000 issues found by one query and all read: 3 pages + 120 bulk fetches.
        assert_eq!(minimum_requests(1, 12_000, 12_000, &limits), 123);
        // Each query costs at least one request, even when it finds nothing.
        assert_eq!(minimum_requests(2, 0, 0, &limits), 2);
    }
}
