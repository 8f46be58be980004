//! How the nodes of one deployment share Jira state: what a webhook delivery invalidated, the quota pause, and
//! the webhook tokens already used; and what a tenant's content takes in storage, which its budget is checked
//! against.

use arbor_core::ids::{IssueId, Timestamp};
use arbor_store::model::JiraInvalidation;
use arbor_store::{Store, StoreError};

use crate::fixtures::*;
use crate::harness::TestDb;

crate::on_both_engines!(
    invalidations_are_appended_read_in_order_and_pruned,
    concurrent_appends_get_distinct_numbers_in_order,
    the_latest_quota_pause_is_kept,
    a_tenants_storage_grows_with_its_content_and_shrinks_when_it_is_deleted,
    a_webhook_token_is_new_once_until_it_expires,
);

fn changed(issue: u64, field: &str) -> JiraInvalidation {
    JiraInvalidation {
        issues: vec![IssueId::new(issue).unwrap()],
        fields: vec![field.to_owned()],
        all_results: false,
    }
}

async fn invalidations_are_appended_read_in_order_and_pruned(db: &TestDb) {
    let store: &dyn Store = &*db.store;
    let a = tenant(store, "https://a.example").await;
    let b = tenant(store, "https://b.example").await;
    let t = Timestamp::from_unix_millis;
    assert_eq!(store.last_invalidation(a).await.unwrap(), 0);
    assert!(store.invalidations(a, 0, 10).await.unwrap().is_empty());

    for n in 1..=5_u64 {
        let seq = store
            .append_invalidation(
                a,
                &changed(n, "status"),
                t(i64::try_from(n).unwrap() * 1000),
            )
            .await
            .unwrap();
        assert_eq!(seq, n);
    }
    let everything = JiraInvalidation {
        issues: vec![IssueId::new(9).unwrap()],
        fields: Vec::new(),
        all_results: true,
    };
    assert_eq!(
        store
            .append_invalidation(b, &everything, t(1))
            .await
            .unwrap(),
        1,
        "numbers are per tenant"
    );
    assert_eq!(store.last_invalidation(a).await.unwrap(), 5);

    // Bounded pages after a sequence number, in order.
    let page = store.invalidations(a, 1, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(page[0].invalidation, changed(2, "status"));
    assert_eq!(page[0].at, t(2000));
    assert!(store.invalidations(a, 5, 10).await.unwrap().is_empty());
    // Another tenant's entries are never read.
    let theirs = store.invalidations(b, 0, 10).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].invalidation, everything);

    // Pruning removes what was appended before the given time, for that tenant only; numbers go on.
    assert_eq!(store.prune_invalidations(a, t(3000)).await.unwrap(), 2);
    let left = store.invalidations(a, 0, 10).await.unwrap();
    assert_eq!(
        left.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert_eq!(store.invalidations(b, 0, 10).await.unwrap().len(), 1);
    assert_eq!(store.prune_invalidations(a, t(1_000_000)).await.unwrap(), 3);
    assert_eq!(store.last_invalidation(a).await.unwrap(), 5);
    assert_eq!(
        store
            .append_invalidation(a, &changed(1, "parent"), t(7000))
            .await
            .unwrap(),
        6
    );

    // Out of bounds: refused with a clear error, nothing appended.
    let long = changed(1, &"x".repeat(JiraInvalidation::MAX_FIELD_LEN + 1));
    let refused = store
        .append_invalidation(a, &long, t(8000))
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Invalid(_)), "{refused}");
    assert!(refused.to_string().contains("field names"), "{refused}");
    assert_eq!(store.last_invalidation(a).await.unwrap(), 6);

    // Unknown tenants are named.
    let gone = arbor_store::model::TenantId::new(999_999).unwrap();
    assert!(matches!(
        store.append_invalidation(gone, &everything, t(1)).await,
        Err(StoreError::NoTenant(_))
    ));
    assert!(matches!(
        store.last_invalidation(gone).await,
        Err(StoreError::NoTenant(_))
    ));

    // Deleting a tenant deletes its entries.
    store.delete_tenant(b).await.unwrap();
    assert!(store.invalidations(b, 0, 10).await.unwrap().is_empty());
}

/// Nodes append at the same time: every entry gets its own number and a reader sees them without gaps.
async fn concurrent_appends_get_distinct_numbers_in_order(db: &TestDb) {
    let store = db.store.clone();
    let a = tenant(&*store, "https://a.example").await;
    let mut tasks = Vec::new();
    for n in 1..=20_u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append_invalidation(a, &changed(n, "summary"), Timestamp::from_unix_millis(1))
                .await
                .unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    let read = store.invalidations(a, 0, 100).await.unwrap();
    assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
}

/// A node that met the exhausted quota records when the pause ends; an earlier end recorded later (by a node
/// whose 429 was older) does not shorten it.
async fn the_latest_quota_pause_is_kept(db: &TestDb) {
    let store: &dyn Store = &*db.store;
    let a = tenant(store, "https://a.example").await;
    let b = tenant(store, "https://b.example").await;
    let t = Timestamp::from_unix_millis;
    assert_eq!(store.quota_pause(a).await.unwrap(), None);
    assert_eq!(store.pause_quota(a, t(5000)).await.unwrap(), t(5000));
    assert_eq!(store.pause_quota(a, t(4000)).await.unwrap(), t(5000));
    assert_eq!(store.quota_pause(a).await.unwrap(), Some(t(5000)));
    assert_eq!(store.pause_quota(a, t(9000)).await.unwrap(), t(9000));
    assert_eq!(store.quota_pause(a).await.unwrap(), Some(t(9000)));
    assert_eq!(store.quota_pause(b).await.unwrap(), None, "per tenant");
    let gone = arbor_store::model::TenantId::new(999_999).unwrap();
    assert!(matches!(
        store.pause_quota(gone, t(1)).await,
        Err(StoreError::NoTenant(_))
    ));
    assert!(matches!(
        store.quota_pause(gone).await,
        Err(StoreError::NoTenant(_))
    ));
}

/// The storage a tenant's content takes counts its structures, forests and configurations, no other tenant's,
/// and falls when they are removed.
async fn a_tenants_storage_grows_with_its_content_and_shrinks_when_it_is_deleted(db: &TestDb) {
    let store: &dyn Store = &*db.store;
    let a = tenant(store, "https://a.example").await;
    let b = tenant(store, "https://b.example").await;
    assert_eq!(store.tenant_storage_bytes(a).await.unwrap(), 0);
    let s = store
        .create_structure(a, &new_structure(), &at(1))
        .await
        .unwrap();
    let created = store.tenant_storage_bytes(a).await.unwrap();
    assert!(created > 0);
    let v = store
        .save_forest(a, s.id, s.version, &sample_forest(), None, &at(2))
        .await
        .unwrap();
    let with_forest = store.tenant_storage_bytes(a).await.unwrap();
    assert!(with_forest > created, "{with_forest} > {created}");
    let g = arbor_core::ids::GeneratorId::new(1).unwrap();
    store
        .set_generator(
            a,
            s.id,
            v,
            g,
            &serde_json::json!({"jql": "x".repeat(1000)}),
            &at(3),
        )
        .await
        .unwrap();
    let with_generator = store.tenant_storage_bytes(a).await.unwrap();
    assert!(with_generator >= with_forest + 1000, "{with_generator}");
    assert_eq!(
        store.tenant_storage_bytes(b).await.unwrap(),
        0,
        "per tenant"
    );
    let other = store
        .create_structure(a, &new_structure(), &at(4))
        .await
        .unwrap();
    store.delete_structure(a, s.id, &at(5)).await.unwrap();
    assert_eq!(store.tenant_storage_bytes(a).await.unwrap(), created);
    store.delete_structure(a, other.id, &at(6)).await.unwrap();
    assert_eq!(store.tenant_storage_bytes(a).await.unwrap(), 0);
}

/// A webhook token is accepted once by the whole deployment: the node that remembers it first is told it is
/// new, every later or concurrent attempt (on any node) that it is not, until the token expires.
async fn a_webhook_token_is_new_once_until_it_expires(db: &TestDb) {
    let store = db.store.clone();
    let a = tenant(&*store, "https://a.example").await;
    let b = tenant(&*store, "https://b.example").await;
    let t = Timestamp::from_unix_millis;
    let id = "3f".repeat(32);
    assert!(
        store
            .remember_webhook_token(a, &id, t(5000), t(1000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_webhook_token(a, &id, t(5000), t(1000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_webhook_token(a, &id, t(9000), t(4999))
            .await
            .unwrap()
    );
    assert!(
        store
            .remember_webhook_token(b, &id, t(5000), t(1000))
            .await
            .unwrap(),
        "per tenant"
    );
    // Once expired (pruned or not), the identity is free: the token itself is refused as expired by then.
    assert!(
        store
            .remember_webhook_token(a, &id, t(9000), t(5001))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_webhook_token(a, &id, t(9000), t(8000))
            .await
            .unwrap()
    );

    // Nodes receiving the same token at once: exactly one is told it is new.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .remember_webhook_token(a, "same", t(5000), t(1000))
                .await
                .unwrap()
        }));
    }
    let mut new = 0;
    for task in tasks {
        new += usize::from(task.await.unwrap());
    }
    assert_eq!(new, 1);

    // Pruning forgets the expired ones of that tenant only.
    assert!(
        store
            .remember_webhook_token(a, "later", t(20_000), t(1000))
            .await
            .unwrap()
    );
    assert_eq!(store.prune_webhook_tokens(a, t(10_000)).await.unwrap(), 2);
    assert!(
        !store
            .remember_webhook_token(a, "later", t(20_000), t(10_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_webhook_token(b, &id, t(5000), t(1000))
            .await
            .unwrap()
    );
    assert_eq!(store.prune_webhook_tokens(a, t(10_000)).await.unwrap(), 0);

    // A token forgotten (its delivery was not done) is new again, for its tenant only.
    assert!(!store.forget_webhook_token(b, "later").await.unwrap());
    assert!(store.forget_webhook_token(a, "later").await.unwrap());
    assert!(
        store
            .remember_webhook_token(a, "later", t(20_000), t(10_000))
            .await
            .unwrap()
    );

    for bad in [String::new(), "x".repeat(129)] {
        assert!(matches!(
            store
                .remember_webhook_token(a, &bad, t(5000), t(1000))
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
}
