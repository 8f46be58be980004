//! Encryption at rest: no plaintext on disk, bad input gives clear errors, keys rotate online, and deleting
//! a tenant destroys its key.

use std::sync::Mutex;

use arbor_core::ids::{GeneratorId, Timestamp};
use arbor_store::model::{JiraInvalidation, NewAccessRequest, OAuthToken, ViewConfig};
use arbor_store::{CryptoError, MasterKey, Store, StoreError};
use secrecy::SecretString;
use serde_json::json;
use sqlx::Row;

use crate::fixtures::*;
use crate::harness::{Handle, TestDb};
use crate::story::current_state;

crate::on_both_engines!(
    no_plaintext_on_disk,
    wrong_master_key_is_named,
    corrupted_ciphertexts_name_the_record,
    keys_rotate_online,
    one_rotation_at_a_time,
    deleting_a_tenant_destroys_its_key,
);

/// Two rotations at once could re-encrypt each other's values under a version the other then destroys: the
/// second one is refused while the first runs, and everything still decrypts afterwards.
async fn one_rotation_at_a_time(db: &TestDb) {
    let store = db.store.clone();
    let t = write_secrets(&*store).await;
    let before = current_state(&*store, t).await;
    let quiet = |_: &arbor_store::RotationProgress| {};
    let (first, second) = tokio::join!(
        store.rotate_tenant_keys(&quiet),
        store.rotate_tenant_keys(&quiet)
    );
    let refused = [&first, &second].iter().filter(|r| r.is_err()).count();
    assert!(refused <= 1, "{first:?} {second:?}");
    if let Some(Err(error)) = [first, second].into_iter().find(Result::is_err) {
        assert!(
            error
                .to_string()
                .contains("another key rotation is running"),
            "{error}"
        );
    }
    assert_eq!(current_state(&*store, t).await, before);
    // The lease is released: the next rotation goes ahead.
    store.rotate_tenant_keys(&quiet).await.unwrap();
    assert_eq!(current_state(&*store, t).await, before);
}

const SECRETS: &[&str] = &[
    SECRET_NAME,
    SECRET_DESCRIPTION,
    SECRET_FOLDER,
    SECRET_MEMO,
    SECRET_JQL,
    SECRET_VIEW,
    SECRET_SETTING,
    SECRET_TOKEN,
    SECRET_REASON,
    SECRET_FIELD,
];

/// Writes one of everything that carries a secret, through every path (create, update, journal).
async fn write_secrets(store: &dyn Store) -> arbor_store::model::TenantId {
    let t = tenant(store, "https://secret.example").await;
    let s = store
        .create_structure(t, &new_structure(), &at(1))
        .await
        .unwrap();
    let v = store
        .save_forest(t, s.id, s.version, &sample_forest(), None, &at(2))
        .await
        .unwrap();
    let v = store
        .update_structure(t, s.id, v, SECRET_NAME, SECRET_DESCRIPTION, &at(3))
        .await
        .unwrap();
    store
        .set_generator(
            t,
            s.id,
            v,
            GeneratorId::new(1).unwrap(),
            &json!({"jql": SECRET_JQL}),
            &at(4),
        )
        .await
        .unwrap();
    let view = ViewConfig {
        name: SECRET_VIEW.into(),
        columns: json!([{"f": SECRET_JQL}]),
    };
    store
        .create_view(t, s.id, &view, true, &at(5))
        .await
        .unwrap();
    store
        .set_settings(
            t,
            &actor("alice"),
            &json!({"theme": SECRET_SETTING}),
            Timestamp::from_unix_millis(6),
        )
        .await
        .unwrap();
    let token = OAuthToken {
        account_id: actor("alice"),
        tokens: SecretString::from(SECRET_TOKEN),
        expires_at: Timestamp::from_unix_millis(7),
    };
    store.put_oauth_token(t, &token).await.unwrap();
    let request = NewAccessRequest {
        requester: actor("op"),
        reason: SECRET_REASON.into(),
        scope: "tenant".into(),
        duration_minutes: 5,
    };
    store
        .create_access_request(t, &request, Timestamp::from_unix_millis(8))
        .await
        .unwrap();
    store
        .append_invalidation(t, &secret_invalidation(), Timestamp::from_unix_millis(9))
        .await
        .unwrap();
    t
}

fn secret_invalidation() -> JiraInvalidation {
    JiraInvalidation {
        issues: vec![arbor_core::ids::IssueId::new(10_001).unwrap()],
        fields: vec![SECRET_FIELD.to_owned()],
        all_results: false,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for secret in SECRETS {
        assert!(
            !contains(bytes, secret.as_bytes()),
            "{secret:?} found in plaintext in {what}"
        );
        assert!(
            !contains(bytes, hex(secret).as_bytes()),
            "{secret:?} found hex-encoded in {what}"
        );
    }
}

async fn no_plaintext_on_disk(db: &TestDb) {
    let t = write_secrets(&*db.store).await;
    // The secrets do come back through the store.
    let state = current_state(&*db.store, t).await;
    assert_eq!(state.structures.values().next().unwrap().name, SECRET_NAME);
    match &db.handle {
        Handle::Sqlite(store) => {
            let mut scanned = 0;
            let scan = |scanned: &mut usize| {
                for entry in std::fs::read_dir(db.dir.path()).unwrap() {
                    let path = entry.unwrap().path();
                    let bytes = std::fs::read(&path).unwrap();
                    *scanned += bytes.len();
                    assert_no_secret(&path.display().to_string(), &bytes);
                }
            };
            // With the WAL holding the recent writes...
            assert!(db.path.with_extension("db-wal").exists());
            scan(&mut scanned);
            // ...and after a checkpoint moved them into the main file.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.pool())
                .await
                .unwrap();
            scan(&mut scanned);
            assert!(
                scanned > 10_000,
                "the scan read the database ({scanned} bytes)"
            );
        }
        Handle::Postgres(store) => {
            let tables = sqlx::query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            assert!(tables.len() >= 15, "{} tables", tables.len());
            let mut rows = 0;
            for table in tables {
                let name: String = table.try_get(0).unwrap();
                let sql = format!("SELECT CAST(t AS TEXT) FROM {name} t");
                for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(store.pool())
                    .await
                    .unwrap()
                {
                    let text: String = row.try_get(0).unwrap();
                    assert_no_secret(&format!("table {name}"), text.as_bytes());
                    rows += 1;
                }
            }
            assert!(rows > 10, "{rows} rows scanned");
        }
    }
}

async fn wrong_master_key_is_named(db: &TestDb) {
    write_secrets(&*db.store).await;
    let other = MasterKey::generate().unwrap();
    let err = db.reopen(other.clone()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Crypto(CryptoError::WrongMasterKey { .. })),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(other.id().as_str()), "{message}");
    assert!(message.contains(db.master.id().as_str()), "{message}");
    assert!(!message.contains("panic"));
}

async fn corrupted_ciphertexts_name_the_record(db: &TestDb) {
    let store = &*db.store;
    let t = write_secrets(store).await;
    let s = store.structures(t).await.unwrap()[0].id;
    // A ciphertext moved to another column of the same row.
    db.exec("UPDATE structures SET name = description").await;
    let err = store.structure(t, s).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("tenant {t} structures.name of row {s}")),
        "{err}"
    );
    assert!(
        store.structures(t).await.is_err(),
        "never a silent empty value"
    );
    // A ciphertext moved to another row.
    let other = store
        .create_structure(t, &new_structure(), &at(9))
        .await
        .unwrap()
        .id;
    db.exec(&format!(
        "UPDATE forests SET snapshot = (SELECT snapshot FROM forests WHERE structure_id = {s}) WHERE structure_id = {other}"
    ))
    .await;
    let err = store.load_forest(t, other).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("forests.snapshot of row {other}")),
        "{err}"
    );
    // A ciphertext moved from another table.
    db.exec("UPDATE views SET config = generators.config FROM generators WHERE views.tenant_id = generators.tenant_id")
        .await;
    let err = store.views(t, s).await.unwrap_err().to_string();
    assert!(err.contains("views.config of row"), "{err}");
}

async fn keys_rotate_online(db: &TestDb) {
    let store = db.store.clone();
    let t = write_secrets(&*store).await;
    let s = store.structures(t).await.unwrap()[0].clone();
    let before = current_state(&*store, t).await;
    let seen = Mutex::new(Vec::new());
    let progress = |p: &arbor_store::RotationProgress| seen.lock().unwrap().push(p.clone());
    // Writes keep going while the rotation runs.
    let writer = {
        let store = store.clone();
        async move {
            let mut version = store.structure(t, s.id).await.unwrap().unwrap().version;
            for i in 0..20 {
                version = store
                    .save_forest(
                        t,
                        s.id,
                        version,
                        &big_forest(50 + i),
                        None,
                        &at(100 + i as i64),
                    )
                    .await
                    .unwrap();
            }
            version
        }
    };
    let (summary, version) = tokio::join!(store.rotate_tenant_keys(&progress), writer);
    let summary = summary.unwrap();
    assert_eq!(summary.tenants, 1);
    assert!(summary.reencrypted >= 10, "{summary:?}");
    assert!(!seen.lock().unwrap().is_empty());
    assert_eq!(store.tenant(t).await.unwrap().unwrap().key_version, 2);
    // Only the new key version is left, and everything still decrypts with it.
    let after = current_state(&*store, t).await;
    assert_eq!(after.structures[&s.id].version, version);
    assert_eq!(after.structures[&s.id].forest, big_forest(69));
    assert_eq!(after.views, before.views);
    assert_eq!(after.settings, before.settings);
    store.journal(t, 0, 10_000).await.unwrap();
    assert!(
        store
            .oauth_token(t, &actor("alice"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.access_requests(t).await.unwrap()[0].reason,
        SECRET_REASON
    );
    assert_eq!(
        store.invalidations(t, 0, 10).await.unwrap()[0].invalidation,
        secret_invalidation()
    );

    // A new master key re-wraps the tenant keys and the audit key; the old one no longer opens the database.
    store
        .append_audit(
            &arbor_store::audit::NewAuditEntry::new(
                None,
                None,
                "keys.rotate",
                &[],
                arbor_store::audit::Outcome::Ok,
                Timestamp::from_unix_millis(1),
                None,
                None,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let new_master = MasterKey::generate().unwrap();
    assert_eq!(store.rotate_master_key(&new_master).await.unwrap(), 2);
    assert_eq!(current_state(&*store, t).await, after);
    assert!(db.reopen(db.master.clone()).await.is_err());
    let reopened = db.reopen(new_master).await.unwrap();
    assert_eq!(current_state(&*reopened, t).await, after);
    assert_eq!(reopened.verify_audit().await.unwrap().fault, None);
}

async fn deleting_a_tenant_destroys_its_key(db: &TestDb) {
    let store = &*db.store;
    let t = write_secrets(store).await;
    let keep = tenant(store, "https://keep.example").await;
    store
        .create_structure(keep, &new_structure(), &at(1))
        .await
        .unwrap();
    store.delete_tenant(t).await.unwrap();
    let count = |table: &'static str| async move {
        match &db.handle {
            Handle::Sqlite(s) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = {t}"
            )))
            .fetch_one(s.pool())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap(),
            Handle::Postgres(s) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table} WHERE tenant_id = {t}"
            )))
            .fetch_one(s.pool())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap(),
        }
    };
    for table in [
        "tenant_keys",
        "people",
        "oauth_tokens",
        "structures",
        "forests",
        "generators",
        "views",
        "journal",
        "access_requests",
    ] {
        assert_eq!(count(table).await, 0, "{table}");
    }
    assert_eq!(store.structures(keep).await.unwrap().len(), 1);
}
