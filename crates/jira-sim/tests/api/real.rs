//! JQL over the real TiDev data, checked against counts computed independently from the raw file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use serde_json::{Value, json};

use crate::helpers::{data_dir, spawn_real};

#[tokio::test]
async fn counts_per_project_and_status_match_the_source_file() {
    let (Some(dir), Some(t)) = (data_dir(), spawn_real().await) else {
        return;
    };
    let file = std::fs::File::open(dir.join("issues.jsonl.gz")).unwrap();
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
        let raw: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let f = &raw["fields"];
        let project = f["project"]["key"].as_str().unwrap().to_owned();
        let status = f["status"]["name"].as_str().unwrap().to_owned();
        *expected.entry((project, status)).or_default() += 1;
    }
    let admin = t.token("admin").await;
    // The biggest (project, status) pairs, and every project in total.
    let mut pairs: Vec<_> = expected.iter().collect();
    pairs.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
    for ((project, status), n) in pairs.iter().take(8) {
        let jql = format!("project = {project} AND status = \"{status}\"");
        let r = t
            .post(
                &admin,
                "/rest/api/3/search/approximate-count",
                &json!({"jql": jql}),
            )
            .await;
        assert_eq!(r.body["count"].as_u64().unwrap() as usize, **n, "{jql}");
    }
    let mut per_project: BTreeMap<&str, usize> = BTreeMap::new();
    for ((project, _), n) in &expected {
        *per_project.entry(project).or_default() += n;
    }
    for (project, n) in &per_project {
        let ids = t
            .all_ids(&admin, &format!("project = {project}"), 5000)
            .await;
        assert_eq!(ids.len(), *n, "{project}");
    }
    // dev cannot browse AC, and Internal issues (id % 10 == 0) are hidden from dev.
    let dev = t.token("dev").await;
    let r = t
        .post(
            &dev,
            "/rest/api/3/search/approximate-count",
            &json!({"jql": "project = AC"}),
        )
        .await;
    assert_eq!(r.body["count"], 0);
    let dev_timob = t.all_ids(&dev, "project = TIMOB", 5000).await;
    assert!(
        dev_timob
            .iter()
            .all(|id| id.parse::<u64>().unwrap() % 10 != 0)
    );
    assert!(dev_timob.len() < per_project["TIMOB"]);
    t.sim.shutdown().await.unwrap();
}
