//! Crash safety: a writer process is killed with SIGKILL in the middle of a write load; every write it
//! acknowledged must be there afterwards, and the database must be consistent (forests decrypt and decode,
//! the journal replays to the stored state, the audit chain verifies). Repeated many times on one database,
//! on SQLite (the file is the database) and on PostgreSQL (the client dies mid-transaction).
//!
//! The writer is this test binary run again with `ARBOR_CRASH_CHILD` set: the `writer_child` test then
//! writes until killed, printing `ACK <version>` after each committed save and audit entry.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_core::ids::Timestamp;
use arbor_store::audit::{NewAuditEntry, Outcome};
use arbor_store::journal::TenantState;
use arbor_store::model::{StructureId, TenantId};
use arbor_store::{MasterKey, PostgresStore, SqliteStore, Store};
use sqlx::AssertSqlSafe;

use crate::fixtures::*;
use crate::harness::{pg_options, postgres_url};
use crate::story::current_state;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the writer writes: `ARBOR_CRASH_CHILD` is a SQLite path, or `postgres <url> <schema>`. On
/// PostgreSQL the writer's connections are named after the schema (`application_name`), so that the parent
/// can wait for them to end.
async fn open(target: &str, master: MasterKey, writer: bool) -> Arc<dyn Store> {
    match target.split(' ').collect::<Vec<_>>()[..] {
        ["postgres", url, schema] => {
            let mut options = pg_options(url, schema);
            if writer {
                options = options.application_name(schema);
            }
            Arc::new(PostgresStore::connect_with(options, master).await.unwrap())
        }
        _ => Arc::new(SqliteStore::open(target.as_ref(), master).await.unwrap()),
    }
}

/// Waits until the killed writer's PostgreSQL sessions have ended. A client killed after sending `COMMIT`
/// leaves the server to finish that transaction on its own time; reading before it has would see the
/// journal and the stored state at two different moments.
async fn writer_gone(target: &str) {
    let ["postgres", url, schema] = target.split(' ').collect::<Vec<_>>()[..] else {
        return;
    };
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (sessions,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(schema)
                .fetch_one(&admin)
                .await
                .unwrap();
        if sessions == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the killed writer's sessions are still open after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.close().await;
}

/// The child half: does nothing unless started by a crash test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_child() {
    let Ok(target) = std::env::var("ARBOR_CRASH_CHILD") else {
        return;
    };
    let master = MasterKey::parse(&std::env::var("ARBOR_CRASH_KEY").unwrap()).unwrap();
    let store = open(&target, master, true).await;
    let t = TenantId::new(1).unwrap();
    let s = StructureId::new(1).unwrap();
    let mut version = store.structure(t, s).await.unwrap().unwrap().version;
    loop {
        // The forest at version v is big_forest(100 + v): the parent checks content, not just the version.
        let forest = big_forest(100 + version.get() + 1);
        version = store
            .save_forest(t, s, version, &forest, None, &at(1))
            .await
            .unwrap();
        let entry = NewAuditEntry::new(
            Some(t),
            None,
            "forest.save",
            &[],
            Outcome::Ok,
            Timestamp::from_unix_millis(1),
            None,
            None,
        )
        .unwrap();
        store.append_audit(&entry).await.unwrap();
        println!("ACK {version}");
    }
}

async fn crash_rounds(target: &str, rounds: usize) {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).unwrap();
    let master = MasterKey::parse(&hex(&key)).unwrap();
    {
        let store = open(target, master.clone(), false).await;
        let t = tenant(&*store, "https://crash.example").await;
        store
            .create_structure(t, &new_structure(), &at(1))
            .await
            .unwrap();
    }
    let t = TenantId::new(1).unwrap();
    let s = StructureId::new(1).unwrap();
    let started = Instant::now();
    let mut acked_total = 0;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ARBOR_CRASH_CHILD", target)
            .env("ARBOR_CRASH_KEY", hex(&key))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut count, mut last) = (0u64, 0u64);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(v) = line.strip_prefix("ACK ") {
                    last = v.trim().parse().unwrap();
                    count += 1;
                }
            }
            (count, last)
        });
        let mut delay = [0u8; 1];
        getrandom::fill(&mut delay).unwrap();
        tokio::time::sleep(Duration::from_millis(150 + u64::from(delay[0]))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        writer_gone(target).await;
        let (count, acked) = reader.join().unwrap();
        acked_total += count;

        let store = open(target, master.clone(), false).await;
        let (version, forest) = store.load_forest(t, s).await.unwrap();
        assert!(
            version.get() >= acked,
            "round {round}: version {version} < acknowledged {acked}"
        );
        assert_eq!(forest, big_forest(100 + version.get()), "round {round}");
        let journal = store.journal(t, 0, u32::MAX).await.unwrap();
        assert_eq!(
            TenantState::replay(&journal).unwrap(),
            current_state(&*store, t).await
        );
        let audit = store.verify_audit().await.unwrap();
        assert_eq!(audit.fault, None, "round {round}");
        // Each acknowledgement covers a save and an audit entry.
        assert!(
            audit.entries >= acked_total,
            "round {round}: {} audit entries, {acked_total} acknowledged",
            audit.entries
        );
    }
    assert!(acked_total > 0, "the writer never acknowledged a write");
    println!(
        "{rounds} crashes, {acked_total} acknowledged writes, in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_sigkill() {
    if std::env::var("ARBOR_CRASH_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbor.db");
    crash_rounds(path.to_str().unwrap(), 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_writes_survive_sigkill() {
    if std::env::var("ARBOR_CRASH_CHILD").is_ok() {
        return;
    }
    let Some(url) = postgres_url() else {
        println!("SKIPPED: ARBOR_TEST_POSTGRES_URL is not set");
        return;
    };
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).unwrap();
    let schema = format!("arbor_test_crash_{}", hex(&suffix));
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    crash_rounds(&format!("postgres {url} {schema}"), 10).await;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}
