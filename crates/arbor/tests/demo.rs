//! `arbor demo` end to end, and the privacy promise behind it: after a full scenario — sign-ins of two people,
//! every example structure opened, edits, exports — no issue summary the API returned appears in any file of
//! the data directory or in the logs (SPEC §4).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions: a panic is a failed test

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arbor::demo::{self, DemoOptions};
use arbor_server::testing::{self, Browser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Log lines, kept in memory and scanned at the end.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Person(Browser);

async fn sign_in(demo: &demo::Demo, name: &str) -> Person {
    Person(
        testing::sign_in(
            demo.url.as_str(),
            &demo.certificate_pem,
            demo.sim.base_url(),
            0,
            name,
        )
        .await
        .unwrap(),
    )
}

impl Person {
    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.0.send(Method::GET, path, None).await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, body) = self.0.send(Method::POST, path, Some(&body)).await.unwrap();
        assert!(status.is_success(), "{path}: {status}");
        body
    }

    async fn bytes(&self, path: &str) -> Vec<u8> {
        let response = self.0.http.get(self.0.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.bytes().await.unwrap().to_vec()
    }
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_works_and_leaves_no_issue_data_on_disk_or_in_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        data_dir: dir.path().join("demo"),
        port: 0,
        tidev: demo::default_tidev(),
    };
    let demo = demo::start(&options).await.unwrap();
    assert_eq!(demo.people.len(), 2, "{:?}", demo.people);
    let admin = sign_in(&demo, "admin").await;
    let dev = sign_in(&demo, "dev").await;

    let structures = admin.get("/api/v1/structures").await;
    let list = structures.as_array().unwrap();
    assert!(list.len() >= 2, "{structures}");
    let mut summaries = std::collections::BTreeSet::new();
    let mut admin_total = 0;
    let mut dev_total = 0;
    for structure in list {
        let id = structure["id"].as_u64().unwrap();
        let views = admin.get(&format!("/api/v1/structures/{id}/views")).await;
        let mut body = json!({"expand": {"depth": 10}, "limit": 2000});
        if let Some(view) = views.as_array().unwrap().first() {
            body["view"] = view["id"].clone();
        }
        let seen = admin
            .post(&format!("/api/v1/structures/{id}/rows"), body.clone())
            .await;
        let seen_by_dev = dev
            .post(&format!("/api/v1/structures/{id}/rows"), body)
            .await;
        admin_total += seen["visible_rows"].as_u64().unwrap();
        dev_total += seen_by_dev["visible_rows"].as_u64().unwrap();
        assert!(
            seen["visible_rows"].as_u64().unwrap() > 0,
            "{}: empty",
            structure["name"]
        );
        for window in [&seen, &seen_by_dev] {
            for row in window["rows"].as_array().unwrap() {
                let title = row["title"].as_str().unwrap();
                if row["kind"] == "issue" && title.len() >= 16 {
                    summaries.insert(title.to_owned());
                }
            }
        }
        for format in ["csv", "xlsx", "json"] {
            assert!(
                !admin
                    .bytes(&format!("/api/v1/structures/{id}/export?format={format}"))
                    .await
                    .is_empty()
            );
        }
    }
    assert!(
        dev_total < admin_total,
        "dev {dev_total} vs admin {admin_total}"
    );
    assert!(
        summaries.len() > 50,
        "only {} summaries seen",
        summaries.len()
    );
    // Edits: a folder and a memo (which are stored, encrypted).
    let id = list[0]["id"].as_u64().unwrap();
    let version = list[0]["version"].as_u64().unwrap();
    admin
        .post(&format!("/api/v1/structures/{id}/edits"), json!({"based_on": version, "edit": {"op": "add",
            "at": {"under": {"parent": null, "at": "first"}},
            "rows": [{"depth": 0, "item": {"folder": "Demo folder"}}, {"depth": 1, "item": {"memo": "a memo"}}]}}))
        .await;
    demo.stop().await.unwrap();

    let mut found = Vec::new();
    let mut paths = Vec::new();
    files(dir.path(), &mut paths);
    assert!(paths.iter().any(|p| p.ends_with("arbor.db")), "{paths:?}");
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for summary in &summaries {
            if text.contains(summary.as_str()) {
                found.push(format!("{} in {}", summary, path.display()));
            }
        }
    }
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.len() > 1000, "the logs were captured");
    for summary in &summaries {
        if logged.contains(summary.as_str()) {
            found.push(format!("{summary} in the logs"));
        }
    }
    assert!(found.is_empty(), "issue data on disk or in logs: {found:?}");
}

#[tokio::test]
async fn a_restarted_demo_keeps_its_tenant_and_structures() {
    let dir = tempfile::tempdir().unwrap();
    // Two free neighbouring ports for arbor and its simulator.
    let port = (20_000u16..60_000)
        .step_by(7)
        .find(|p| {
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        })
        .unwrap();
    let options = DemoOptions {
        data_dir: dir.path().join("data"),
        port,
        tidev: dir.path().join("no-such-archive"),
    };
    let mut seen = Vec::new();
    for _ in 0..2 {
        let demo = demo::start(&options).await.unwrap();
        let state = &demo.server.state;
        let tenant = state.sites[0].tenant;
        let ids: Vec<u64> = state
            .store
            .structures(tenant)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id.get())
            .collect();
        seen.push((tenant, ids));
        demo.stop().await.unwrap();
    }
    assert!(!seen[0].1.is_empty());
    assert_eq!(seen[0], seen[1]);
}
