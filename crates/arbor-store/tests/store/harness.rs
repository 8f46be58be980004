//! A fresh database per test: a SQLite file in a temporary directory always, and a PostgreSQL schema of its
//! own when `ARBOR_TEST_POSTGRES_URL` is set (dropped at the end).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use arbor_store::{MasterKey, PostgresStore, SqliteStore, Store, StoreError};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnectOptions;
use tempfile::TempDir;

pub(crate) enum Handle {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

pub(crate) struct TestDb {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) handle: Handle,
    pub(crate) master: MasterKey,
    pub(crate) dir: TempDir,
    pub(crate) path: PathBuf,
    pg: Option<(String, String)>,
}

pub(crate) async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arbor.db");
    let master = MasterKey::generate().unwrap();
    let store = Arc::new(SqliteStore::open(&path, master.clone()).await.unwrap());
    TestDb {
        store: store.clone(),
        handle: Handle::Sqlite(store),
        master,
        dir,
        path,
        pg: None,
    }
}

pub(crate) fn postgres_url() -> Option<String> {
    std::env::var("ARBOR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn pg_options(url: &str, schema: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)])
}

pub(crate) async fn postgres() -> Option<TestDb> {
    let Some(url) = postgres_url() else {
        println!("SKIPPED: ARBOR_TEST_POSTGRES_URL is not set");
        return None;
    };
    let schema = format!("arbor_test_{}", random_suffix());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let master = MasterKey::generate().unwrap();
    let store = Arc::new(
        PostgresStore::connect_with(pg_options(&url, &schema), master.clone())
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    Some(TestDb {
        store: store.clone(),
        handle: Handle::Postgres(store),
        master,
        path: dir.path().to_owned(),
        dir,
        pg: Some((url, schema)),
    })
}

impl TestDb {
    /// Runs raw SQL behind the store's back (tampering, inspection).
    pub(crate) async fn exec(&self, sql: &str) {
        match &self.handle {
            Handle::Sqlite(s) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(s.pool())
                .await
                .map(drop),
            Handle::Postgres(s) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(s.pool())
                .await
                .map(drop),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Opens the same database again with another master key.
    pub(crate) async fn reopen(&self, master: MasterKey) -> Result<Arc<dyn Store>, StoreError> {
        match &self.pg {
            None => Ok(Arc::new(SqliteStore::open(&self.path, master).await?)),
            Some((url, schema)) => Ok(Arc::new(
                PostgresStore::connect_with(pg_options(url, schema), master).await?,
            )),
        }
    }

    pub(crate) async fn cleanup(self) {
        match &self.handle {
            Handle::Sqlite(s) => s.close().await,
            Handle::Postgres(s) => s.close().await,
        }
        // Dropping removes the PostgreSQL schema.
    }
}

impl Drop for TestDb {
    /// Drops the test's PostgreSQL schema, also when the test failed (from a thread of its own, since the
    /// test's runtime may be unwinding).
    fn drop(&mut self) {
        if let Some((url, schema)) = self.pg.take() {
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let admin = sqlx::PgPool::connect(&url).await.unwrap();
                    sqlx::raw_sql(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&admin)
                    .await
                    .unwrap();
                    admin.close().await;
                });
            })
            .join();
            if dropped.is_err() {
                eprintln!("could not drop a test schema");
            }
        }
    }
}

/// Defines one `#[tokio::test]` per story and engine: `sqlite::story` always, `postgres::story` when
/// PostgreSQL is available (else it prints `SKIPPED`).
#[macro_export]
macro_rules! on_both_engines {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let db = $crate::harness::sqlite().await;
                    super::$story(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let Some(db) = $crate::harness::postgres().await else { return };
                    super::$story(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}
