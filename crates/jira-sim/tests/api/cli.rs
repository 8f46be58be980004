//! `jira-sim serve`: prints where it listens once ready, and serves there.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn serve_prints_its_address_and_answers() {
    let controls =
        std::env::temp_dir().join(format!("jira-sim-controls-{}.json", std::process::id()));
    std::fs::write(
        &controls,
        r#"{"faults": [{"endpoint": "GET /rest/api/3/field", "kind": "status", "status": 503, "probability": 1.0}]}"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jira-sim"))
        .args([
            "serve",
            "--synthetic",
            "500",
            "--seed",
            "3",
            "--port",
            "0",
            "--controls",
        ])
        .arg(&controls)
        .env("JIRA_SIM_ADMIN_TOKEN", "cli-test-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
    })
    .await
    .unwrap()
    .expect("a 'listening on' line");
    assert!(url.starts_with("http://127.0.0.1:"));
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{url}/_sim/token"))
        .basic_auth("admin", Some("cli-test-token"))
        .json(&json!({"name": "dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token: serde_json::Value = r.json().await.unwrap();
    let me = client
        .get(format!("{url}/rest/api/3/myself"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let field = client
        .get(format!("{url}/rest/api/3/field"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(field.status(), StatusCode::SERVICE_UNAVAILABLE);
    std::fs::remove_file(&controls).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}
