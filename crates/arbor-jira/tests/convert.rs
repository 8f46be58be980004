//! Reading Jira's v3 JSON as the simulator renders the real issues of `../shared/data/tidev-jira`: every
//! requested field arrives, typed, with the values the JSON holds.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions: a panic is a failed test

use std::path::PathBuf;

use arbor_core::data::{FieldId, FieldValue, LinkDirection};
use arbor_jira::convert::{FieldSchemas, issue_from_json};
use jira_sim::render::{FieldSelection, Renderer, to_value};
use serde_json::Value;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tidev-jira")
}

fn name(value: Option<&FieldValue>) -> Option<String> {
    match value? {
        FieldValue::Named { name, .. } => Some(name.to_string()),
        other => panic!("not a named value: {other:?}"),
    }
}

#[test]
fn real_issues_convert_with_their_values() {
    let dir = data_dir();
    if !dir.exists() {
        eprintln!("SKIPPED: {} is not there", dir.display());
        return;
    }
    let site = jira_sim::import::load_tidev(&dir).unwrap();
    let schemas =
        FieldSchemas::from_field_list(&serde_json::to_value(&site.fields).unwrap()).unwrap();
    let requested: Vec<FieldId> = [
        "summary",
        "status",
        "issuetype",
        "priority",
        "resolution",
        "created",
        "resolutiondate",
        "assignee",
        "labels",
        "components",
        "fixVersions",
        "parent",
        "issuelinks",
        "subtasks",
        "description",
        "customfield_10016",
        "timeoriginalestimate",
    ]
    .iter()
    .map(|f| FieldId::new(f))
    .collect();
    let renderer = Renderer::new(&site, None);
    let selection = FieldSelection::all();
    let field = |f: &str| FieldId::new(f);
    let (mut links, mut subtasks, mut points, mut parents) = (0, 0, 0, 0);
    // Every fifth issue: thousands of issues of every kind, in a few seconds.
    for idx in (0..u32::try_from(site.issues.len()).unwrap()).step_by(5) {
        let json = to_value(renderer.issue(idx, &selection));
        let fields = &json["fields"];
        let issue = issue_from_json(&json, &requested, &schemas).unwrap();
        assert_eq!(issue.key.as_ref(), json["key"].as_str().unwrap());
        for f in &requested {
            assert!(
                issue.field(f).is_some() || ["issuelinks", "subtasks"].contains(&f.as_str()),
                "{f:?} missing"
            );
        }
        match issue.field(&field("summary")).flatten() {
            Some(FieldValue::Text(text)) => {
                assert_eq!(&**text, fields["summary"].as_str().unwrap());
            }
            other => assert!(
                fields["summary"].as_str().unwrap_or_default().is_empty(),
                "{other:?}"
            ),
        }
        let status = issue.field(&field("status")).flatten().unwrap();
        let FieldValue::Named {
            name: status_name,
            key: Some(category),
            ..
        } = status
        else {
            panic!("{status:?}")
        };
        assert_eq!(&**status_name, fields["status"]["name"].as_str().unwrap());
        assert_eq!(
            &**category,
            fields["status"]["statusCategory"]["key"].as_str().unwrap()
        );
        assert_eq!(
            name(issue.field(&field("issuetype")).flatten()).as_deref(),
            fields["issuetype"]["name"].as_str()
        );
        assert!(matches!(
            issue.field(&field("created")).flatten(),
            Some(FieldValue::DateTime(_))
        ));
        let labels = match issue.field(&field("labels")).flatten() {
            Some(FieldValue::List(values)) => values.len(),
            _ => 0,
        };
        assert_eq!(labels, fields["labels"].as_array().map_or(0, Vec::len));
        if let Some(FieldValue::Issue { key, .. }) = issue.field(&field("parent")).flatten() {
            assert_eq!(&**key, fields["parent"]["key"].as_str().unwrap());
            parents += 1;
        } else {
            assert!(fields["parent"].is_null());
        }
        let rendered_links = fields["issuelinks"].as_array().unwrap();
        let converted = issue.links().unwrap();
        assert_eq!(converted.len(), rendered_links.len());
        for (link, raw) in converted.iter().zip(rendered_links) {
            let side = if link.direction == LinkDirection::Outward {
                "outwardIssue"
            } else {
                "inwardIssue"
            };
            assert_eq!(
                link.other.get().to_string(),
                raw[side]["id"].as_str().unwrap()
            );
        }
        links += converted.len();
        subtasks += issue.subtasks().unwrap().len();
        if let Some(FieldValue::Number(n)) = issue.field(&field("customfield_10016")).flatten() {
            assert_eq!(Some(*n), fields["customfield_10016"].as_f64());
            points += 1;
        } else {
            assert_eq!(fields["customfield_10016"], Value::Null);
        }
    }
    assert!(
        links > 2_000 && subtasks > 20 && points > 1_000 && parents > 200,
        "{links} {subtasks} {points} {parents}"
    );
}
