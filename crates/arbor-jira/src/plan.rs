//! The fetch planner: what to ask Jira for, in as few calls as the API allows, to answer the engine's
//! [`Needs`].
//!
//! Jira's limits shape the plan (SPEC §2): a search returns up to 5000 ids per page when only ids are asked
//! for, and about 100 issues when fields are; `bulkfetch` takes up to 100 ids. So every issue list is found
//! with id-only searches, and every field is read with `bulkfetch` in batches of 100, all fields of a batch in
//! one call. Children (`parent in (...)`) are id-only searches too; which parent each child has comes with the
//! children's own `parent` field in the bulk fetch that follows.
//!
//! Invariants: the searches are deterministic (sorted parents in stable chunks), and so is the number of bulk
//! fetches — every batch but the last is full, whatever order the ids arrive in — so two runs with the same
//! needs make as many calls, which the benchmark's minimum relies on.

use arbor_core::data::Needs;
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

/// The searches that answer the JQL and children needs. Their results, and the needed issues, are then
/// fetched in [`Batches`].
pub fn searches(needs: &Needs, limits: &Limits) -> Vec<String> {
    let parents: Vec<IssueId> = needs.children.iter().copied().collect();
    let children = children_searches(&parents, limits);
    needs
        .jql
        .iter()
        .cloned()
        .chain(children.into_iter().map(|(_, jql)| jql))
        .collect()
}

/// The searches for the children of `parents`: each chunk of parents with its `parent in (...)` query.
pub fn children_searches(parents: &[IssueId], limits: &Limits) -> Vec<(Vec<IssueId>, String)> {
    parents
        .chunks(limits.parents_per_query.max(1))
        .map(|chunk| (chunk.to_vec(), children_query(chunk)))
        .collect()
}

/// `parent in (1, 2, 3)`: the issues whose parent is one of these (by id, which never changes).
pub fn children_query(parents: &[IssueId]) -> String {
    let list: Vec<String> = parents.iter().map(|id| id.get().to_string()).collect();
    format!("parent in ({})", list.join(", "))
}

/// Bulk fetch batches formed while the ids to fetch are still being found (a search's pages arrive one by
/// one): a batch leaves as soon as it is full, and the rest once no more ids can come — so a load makes as few
/// bulk fetches as if every id had been known from the start.
#[derive(Debug)]
pub struct Batches {
    size: usize,
    pending: Vec<IssueId>,
}

impl Batches {
    pub fn new(limits: &Limits) -> Self {
        let size = limits.issues_per_bulkfetch.max(1);
        Self {
            size,
            pending: Vec::with_capacity(size),
        }
    }

    pub fn push(&mut self, id: IssueId) {
        self.pending.push(id);
    }

    /// The next full batch.
    pub fn full(&mut self) -> Option<Vec<IssueId>> {
        (self.pending.len() >= self.size).then(|| self.take())
    }

    /// What is left, once no more ids can come.
    pub fn rest(&mut self) -> Option<Vec<IssueId>> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Vec<IssueId> {
        let rest = self.pending.split_off(self.size.min(self.pending.len()));
        std::mem::replace(&mut self.pending, rest)
    }
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

    use std::collections::BTreeSet;

    fn ids(range: std::ops::RangeInclusive<u64>) -> BTreeSet<IssueId> {
        range.map(|n| IssueId::new(n).unwrap()).collect()
    }

    #[test]
    fn searches_cover_queries_and_children_in_bounded_chunks() {
        let mut needs = Needs::default();
        needs.jql.insert("project = A".into());
        needs.children = ids(1..=1200);
        let queries = searches(&needs, &Limits::default());
        assert_eq!(
            queries.len(),
            1 + 3,
            "one query and three chunks of at most 500 parents"
        );
        assert_eq!(queries[0], "project = A");
        let jql = &queries[3];
        assert!(jql.starts_with("parent in (1001, 1002"), "{jql}");
        assert!(jql.ends_with("1200)"), "{jql}");
        jql::parse(jql).unwrap();
    }

    #[test]
    fn batches_leave_full_and_the_rest_leaves_last() {
        let mut batches = Batches::new(&Limits::default());
        for id in ids(1..=250) {
            batches.push(id);
        }
        let first = batches.full().unwrap();
        assert_eq!(first.len(), 100);
        assert_eq!(first[0].get(), 1);
        assert_eq!(batches.full().unwrap()[0].get(), 101);
        assert!(batches.full().is_none(), "50 left: not a full batch");
        let rest = batches.rest().unwrap();
        assert_eq!((rest.len(), rest[0].get()), (50, 201));
        assert!(batches.rest().is_none() && batches.full().is_none());
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
