//! The audit chain detects every modified, deleted, inserted or reordered entry, and a truncated tail, and
//! names the first bad entry.

use arbor_core::ids::Timestamp;
use arbor_store::audit::{AuditFault, NewAuditEntry, Outcome};
use arbor_store::model::TenantId;

use crate::fixtures::*;
use crate::harness::TestDb;

crate::on_both_engines!(
    intact_log_verifies,
    modified_entry_is_found,
    deleted_entry_is_found,
    inserted_entry_is_found,
    reordered_entries_are_found,
    truncated_tail_is_found,
    checkpoints_catch_deep_truncation,
    a_wiped_log_is_found,
);

fn entry(i: i64, tenant: Option<TenantId>) -> NewAuditEntry {
    let object = format!("structure:{i}");
    NewAuditEntry::new(
        tenant,
        Some(actor("alice")),
        "structure.read",
        &[object.as_str(), "view:2"],
        if i % 2 == 0 {
            Outcome::Ok
        } else {
            Outcome::Denied
        },
        Timestamp::from_unix_millis(1000 + i),
        Some("127.0.0.1".parse().unwrap()),
        Some("req-1"),
    )
    .unwrap()
}

async fn log_of(db: &TestDb, n: i64) {
    let t = tenant(&*db.store, "https://audit.example").await;
    for i in 1..=n {
        let seq = db.store.append_audit(&entry(i, Some(t))).await.unwrap();
        assert_eq!(seq, i as u64);
    }
}

async fn fault(db: &TestDb) -> AuditFault {
    let report = db.store.verify_audit().await.unwrap();
    report.fault.expect("the tampering must be detected")
}

async fn intact_log_verifies(db: &TestDb) {
    assert_eq!(db.store.verify_audit().await.unwrap().entries, 0);
    log_of(db, 5).await;
    db.store.append_audit(&entry(6, None)).await.unwrap();
    let report = db.store.verify_audit().await.unwrap();
    assert_eq!((report.entries, report.fault), (6, None));
    // Entries hold ids only: free text is refused.
    assert!(
        NewAuditEntry::new(
            None,
            None,
            "read",
            &["Quarterly summary text"],
            Outcome::Ok,
            Timestamp::from_unix_millis(1),
            None,
            None
        )
        .is_err()
    );
    // Reopening (the audit key is stored wrapped) keeps the chain verifiable.
    let again = db.reopen(db.master.clone()).await.unwrap();
    assert_eq!(again.verify_audit().await.unwrap().fault, None);
}

async fn modified_entry_is_found(db: &TestDb) {
    log_of(db, 5).await;
    db.exec("UPDATE audit_log SET outcome = 'ok' WHERE seq = 3")
        .await;
    let f = fault(db).await;
    assert_eq!(f, AuditFault::BadMac { seq: 3 });
    assert!(f.to_string().contains("audit entry 3"), "{f}");
}

async fn deleted_entry_is_found(db: &TestDb) {
    log_of(db, 5).await;
    db.exec("DELETE FROM audit_log WHERE seq = 3").await;
    assert_eq!(
        fault(db).await,
        AuditFault::Missing {
            seq: 3,
            prev: 2,
            next: 4
        }
    );
}

async fn inserted_entry_is_found(db: &TestDb) {
    log_of(db, 5).await;
    // Make room at 3 and insert a forged copy of entry 3 with another action.
    db.exec("UPDATE audit_log SET seq = -seq WHERE seq >= 3")
        .await;
    db.exec("UPDATE audit_log SET seq = 1 - seq WHERE seq < 0")
        .await;
    db.exec(
        "INSERT INTO audit_log (seq, tenant_id, actor, action, objects, outcome, at, client, request_id, mac) \
         SELECT 3, tenant_id, actor, 'structure.delete', objects, outcome, at, client, request_id, mac \
         FROM audit_log WHERE seq = 4",
    )
    .await;
    assert_eq!(fault(db).await.seq(), 3);
}

async fn reordered_entries_are_found(db: &TestDb) {
    log_of(db, 5).await;
    db.exec("UPDATE audit_log SET seq = -2 WHERE seq = 2").await;
    db.exec("UPDATE audit_log SET seq = 2 WHERE seq = 4").await;
    db.exec("UPDATE audit_log SET seq = 4 WHERE seq = -2").await;
    assert_eq!(fault(db).await, AuditFault::BadMac { seq: 2 });
}

/// Deleting every entry and checkpoint and resetting the head to "nothing written yet" is tampering too: the
/// head is MAC'd from the very start, so it cannot be set back without the key.
async fn a_wiped_log_is_found(db: &TestDb) {
    log_of(db, 5).await;
    db.exec("DELETE FROM audit_log").await;
    db.exec("UPDATE audit_head SET seq = 0").await;
    assert!(matches!(
        fault(db).await,
        AuditFault::BadCheckpoint { seq: 0 }
    ));
    db.exec("DELETE FROM audit_head").await;
    assert!(matches!(
        fault(db).await,
        AuditFault::BadCheckpoint { seq: 0 }
    ));
}

async fn truncated_tail_is_found(db: &TestDb) {
    log_of(db, 5).await;
    db.exec("DELETE FROM audit_log WHERE seq >= 4").await;
    let f = fault(db).await;
    assert_eq!(
        f,
        AuditFault::Truncated {
            seq: 4,
            last: 3,
            recorded: 5
        }
    );
}

async fn checkpoints_catch_deep_truncation(db: &TestDb) {
    log_of(db, 1003).await;
    let report = db.store.verify_audit().await.unwrap();
    assert_eq!(
        (report.entries, report.checkpoints, report.fault),
        (1003, 1, None)
    );
    // Cutting past the checkpoint and resetting the head to "empty" is still caught by the checkpoint.
    db.exec("DELETE FROM audit_log WHERE seq > 990").await;
    db.exec("UPDATE audit_head SET seq = 0").await;
    assert_eq!(
        fault(db).await,
        AuditFault::Truncated {
            seq: 991,
            last: 990,
            recorded: 1000
        }
    );
}
