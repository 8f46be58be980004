//! `arbor migrate`, `arbor keys rotate` and `arbor audit verify` against a real SQLite data directory.
// Helpers outside `#[test]` functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use arbor_core::ids::{ActorId, Timestamp};
use arbor_store::audit::{NewAuditEntry, Outcome};
use arbor_store::model::{Actor, NewStructure};
use arbor_store::{MasterKey, PostgresStore, SqliteStore, Store};

const KEY: &str = "8f3a5c0e9d2b4f6a1c7e0b3d5f8a2c4e6b9d1f3a5c7e9b0d2f4a6c8e0b2d4f6a";

fn arbor(data_dir: &Path, key: &str, args: &[&str]) -> Output {
    arbor_with(data_dir, key, args, &[])
}

fn arbor_with(data_dir: &Path, key: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ARBOR_DATA_DIR", data_dir)
        .env("ARBOR_MASTER_KEY", key)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("the arbor binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn seed(path: &Path) {
    let store = SqliteStore::open(path, MasterKey::parse(KEY).unwrap())
        .await
        .unwrap();
    let tenant = store
        .create_tenant("https://cli.example", Timestamp::from_unix_millis(1))
        .await
        .unwrap();
    let structure = NewStructure {
        name: "Roadmap".into(),
        description: String::new(),
        owner: ActorId::new("alice").unwrap(),
    };
    let actor = Actor::new(
        ActorId::new("alice").unwrap(),
        Timestamp::from_unix_millis(1),
    );
    store
        .create_structure(tenant, &structure, &actor)
        .await
        .unwrap();
    for i in 0..5 {
        let entry = NewAuditEntry::new(
            Some(tenant),
            None,
            "structure.read",
            &["structure:1"],
            Outcome::Ok,
            Timestamp::from_unix_millis(i),
            None,
            None,
        )
        .unwrap();
        store.append_audit(&entry).await.unwrap();
    }
    store.close().await;
}

async fn tamper(path: &Path, sql: &str) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn migrate_rotate_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let migrate = arbor(&data, KEY, &["migrate"]);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    assert_eq!(text(&migrate.stdout).trim(), "database schema version 6");
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);

    let db = data.join("arbor.db");
    let mode = std::fs::metadata(&db).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the database file is private");
    seed(&db).await;
    let ok = arbor(&data, KEY, &["audit", "verify"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(
        text(&ok.stdout).trim(),
        "audit log intact: 5 entries, 0 checkpoints"
    );

    // A wrong master key is refused, naming the key ids.
    let wrong = arbor(&data, &"1".repeat(64), &["audit", "verify"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("is not the one this database's keys are wrapped with"));

    // Rotation: data keys, then a new master key.
    let rotate = arbor(&data, KEY, &["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", text(&rotate.stderr));
    assert!(
        text(&rotate.stdout).contains("rotated the data keys of 1 tenants; 4 values re-encrypted"),
        "{}",
        text(&rotate.stdout)
    );
    assert!(text(&rotate.stderr).contains("tenant 1/1"));
    let key_file = dir.path().join("new-key");
    let new_hex = "ab".repeat(32);
    std::fs::write(&key_file, format!("{new_hex}\n")).unwrap();
    let rotate = arbor(
        &data,
        KEY,
        &[
            "keys",
            "rotate",
            "--new-master-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(rotate.status.success(), "{}", text(&rotate.stderr));
    assert_eq!(
        arbor(&data, KEY, &["audit", "verify"]).status.code(),
        Some(1)
    );
    assert!(
        arbor(&data, &new_hex, &["audit", "verify"])
            .status
            .success()
    );

    // Tampering is caught and the first bad entry named.
    tamper(&db, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3").await;
    let bad = arbor(&data, &new_hex, &["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(text(&bad.stdout).trim(), "first bad entry: 3");
    assert!(
        text(&bad.stderr).contains("audit entry 3 was modified, inserted or reordered"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn a_missing_master_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(["migrate"])
        .env_clear()
        .env("ARBOR_DATA_DIR", dir.path())
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no master key is configured"));
    let bad = arbor(dir.path(), "not-a-key", &["migrate"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("64 hexadecimal characters or as base64"));
}

#[tokio::test]
async fn audit_verify_on_postgres() {
    let Ok(url) = std::env::var("ARBOR_TEST_POSTGRES_URL") else {
        println!("SKIPPED: ARBOR_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("arbor_test_cli_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let run = |sql: String| {
        let admin = admin.clone();
        async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&admin)
                .await
                .unwrap();
        }
    };
    run(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let db_url = format!("{url}{separator}options[search_path]={schema}");
    let env = [("ARBOR_DATABASE__URL", db_url.as_str())];
    let dir = tempfile::tempdir().unwrap();

    let migrate = arbor_with(dir.path(), KEY, &["migrate"], &env);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let options = url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = PostgresStore::connect_with(options, MasterKey::parse(KEY).unwrap())
        .await
        .unwrap();
    for i in 0..4 {
        let entry = NewAuditEntry::new(
            None,
            None,
            "admin.sign_in",
            &[],
            Outcome::Ok,
            Timestamp::from_unix_millis(i),
            None,
            None,
        )
        .unwrap();
        store.append_audit(&entry).await.unwrap();
    }
    store.close().await;
    let ok = arbor_with(dir.path(), KEY, &["audit", "verify"], &env);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(
        text(&ok.stdout).trim(),
        "audit log intact: 4 entries, 0 checkpoints"
    );

    run(format!("DELETE FROM {schema}.audit_log WHERE seq = 2")).await;
    let bad = arbor_with(dir.path(), KEY, &["audit", "verify"], &env);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(text(&bad.stdout).trim(), "first bad entry: 2");
    assert!(
        text(&bad.stderr).contains("audit entry 2 is missing"),
        "{}",
        text(&bad.stderr)
    );
    run(format!("DROP SCHEMA {schema} CASCADE")).await;
}
