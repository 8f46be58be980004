//! Jira's REST v3 issue JSON → the engine's [`Issue`] data, typed by the field schemas of `/rest/api/3/field`.
//!
//! Invariants:
//! - Every requested field ends up in the issue: with its value, or as fetched-and-empty when Jira returned
//!   `null` or left it out — the engine must never ask again for a field Jira has answered.
//! - Values keep the identity Jira gives them (ids and account ids), not just the names people see.
//! - Nothing here keeps or logs values; the result lives in memory only.

use std::collections::HashMap;
use std::sync::Arc;

use arbor_core::data::{FieldId, FieldValue, Issue, Link, LinkDirection};
use arbor_core::ids::IssueId;
use jql::eval::{Day, Timestamp};
use serde_json::Value;

/// How Jira says a field's values look (`FieldDetails.schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSchema {
    /// `string`, `number`, `date`, `datetime`, `user`, `option`, `array`, `status`, ...
    pub kind: String,
    /// For arrays: the kind of the elements.
    pub items: Option<String>,
}

/// The schemas of a site's fields, from its `/rest/api/3/field` answer.
#[derive(Debug, Clone, Default)]
pub struct FieldSchemas {
    by_id: HashMap<FieldId, FieldSchema>,
}

/// Why Jira's JSON could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("Jira returned an issue without a valid numeric `id`")]
    IssueId,
    #[error("Jira returned issue {id} without a `key`")]
    IssueKey { id: u64 },
    #[error("the field list from Jira is not a JSON array")]
    FieldList,
}

impl FieldSchemas {
    /// Reads the answer of `GET /rest/api/3/field`.
    pub fn from_field_list(fields: &Value) -> Result<Self, ConvertError> {
        let list = fields.as_array().ok_or(ConvertError::FieldList)?;
        let by_id = list
            .iter()
            .filter_map(|field| {
                let id = field["id"].as_str()?;
                let schema = &field["schema"];
                let kind = schema["type"].as_str()?.to_owned();
                let items = schema["items"].as_str().map(str::to_owned);
                Some((FieldId::new(id), FieldSchema { kind, items }))
            })
            .collect();
        Ok(Self { by_id })
    }

    pub fn get(&self, field: &FieldId) -> Option<&FieldSchema> {
        self.by_id.get(field)
    }
}

/// Converts one `IssueBean`, keeping the `requested` fields.
pub fn issue_from_json(
    json: &Value,
    requested: &[FieldId],
    schemas: &FieldSchemas,
) -> Result<Issue, ConvertError> {
    let id = json["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| json["id"].as_u64())
        .and_then(|n| IssueId::new(n).ok())
        .ok_or(ConvertError::IssueId)?;
    let key = json["key"]
        .as_str()
        .ok_or(ConvertError::IssueKey { id: id.get() })?;
    let fields = &json["fields"];
    let mut issue = Issue::new(id, key);
    for field in requested {
        let raw = &fields[field.as_str()];
        match field.as_str() {
            "issuelinks" => issue.set_links(
                raw.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(link)
                    .collect(),
            ),
            "subtasks" => issue.set_subtasks(
                raw.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(issue_ref_id)
                    .collect(),
            ),
            _ => issue.set(
                field.clone(),
                value(raw, schemas.get(field), field.as_str()),
            ),
        }
    }
    Ok(issue)
}

/// One value by its schema; `None` for null, absent or empty.
fn value(raw: &Value, schema: Option<&FieldSchema>, field: &str) -> Option<FieldValue> {
    if raw.is_null() {
        return None;
    }
    let kind = schema.map_or("any", |s| s.kind.as_str());
    match kind {
        "array" => {
            let items = schema.and_then(|s| s.items.as_deref()).unwrap_or("any");
            let values: Vec<FieldValue> = raw
                .as_array()?
                .iter()
                .filter_map(|element| scalar(element, items, field))
                .collect();
            Some(FieldValue::List(values))
        }
        other => scalar(raw, other, field),
    }
}

fn scalar(raw: &Value, kind: &str, field: &str) -> Option<FieldValue> {
    match (kind, raw) {
        (_, Value::Null) => None,
        ("number", _) => raw.as_f64().map(FieldValue::Number),
        ("date", Value::String(text)) => day(text).map(FieldValue::Date),
        ("datetime", Value::String(text)) => instant(text).map(FieldValue::DateTime),
        ("user", Value::Object(_)) => Some(FieldValue::User {
            account_id: Arc::from(raw["accountId"].as_str()?),
            display_name: Arc::from(raw["displayName"].as_str().unwrap_or_default()),
        }),
        // Rich text (description, environment) arrives as an ADF document; its text is what filters read.
        (_, Value::Object(map)) if map.get("type").and_then(Value::as_str) == Some("doc") => {
            let text = adf_text(raw);
            (!text.is_empty()).then(|| FieldValue::Text(Arc::from(text)))
        }
        (_, Value::Object(_)) if field == "parent" || kind == "issuelink" => {
            let id = issue_ref_id(raw)?;
            Some(FieldValue::Issue {
                id,
                key: Arc::from(raw["key"].as_str()?),
            })
        }
        (_, Value::Object(map)) => {
            // Status, priority, resolution, issue type, project, version, component, option, sprint, ...
            let id = match map.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            let name = map
                .get("name")
                .or_else(|| map.get("value"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            // The project key, or a status's category key.
            let key = map
                .get("key")
                .and_then(Value::as_str)
                .or_else(|| raw["statusCategory"]["key"].as_str())
                .map(Arc::from);
            Some(FieldValue::Named {
                id: Arc::from(id.as_str()),
                name: Arc::from(name),
                key,
            })
        }
        (_, Value::String(text)) if text.is_empty() => None,
        (_, Value::String(text)) => Some(FieldValue::Text(Arc::from(text.as_str()))),
        (_, Value::Number(n)) => n.as_f64().map(FieldValue::Number),
        (_, Value::Bool(b)) => Some(FieldValue::Text(Arc::from(if *b {
            "true"
        } else {
            "false"
        }))),
        (_, Value::Array(_)) => None,
    }
}

fn issue_ref_id(raw: &Value) -> Option<IssueId> {
    let n = raw["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| raw["id"].as_u64())?;
    IssueId::new(n).ok()
}

/// An `issuelinks[]` entry: the other issue is `outwardIssue` when this issue is the link's source.
fn link(raw: &Value) -> Option<Link> {
    let kind = &raw["type"];
    let (direction, other, phrase) = if raw["outwardIssue"].is_object() {
        (
            LinkDirection::Outward,
            &raw["outwardIssue"],
            &kind["outward"],
        )
    } else {
        (LinkDirection::Inward, &raw["inwardIssue"], &kind["inward"])
    };
    Some(Link {
        type_id: Arc::from(kind["id"].as_str()?),
        type_name: Arc::from(kind["name"].as_str().unwrap_or_default()),
        direction,
        description: Arc::from(phrase.as_str().unwrap_or_default()),
        other: issue_ref_id(other)?,
        other_key: Arc::from(other["key"].as_str().unwrap_or_default()),
    })
}

/// `2026-11-23`.
fn day(text: &str) -> Option<Day> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.get(..2)?.parse().ok()?;
    Day::from_ymd(year, month, day)
}

/// `2015-01-30T00:43:49.000+0000`, Jira's date-time format (also accepts `Z` and `+00:00`).
fn instant(text: &str) -> Option<Timestamp> {
    let parsed = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", text)
        .or_else(|_| jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%:z", text))
        .ok()?;
    let instant = parsed
        .to_timestamp()
        .ok()
        .or_else(|| text.parse::<jiff::Timestamp>().ok())?;
    Some(Timestamp(instant.as_millisecond()))
}

/// The plain text of an Atlassian Document Format document: text nodes, paragraphs separated by newlines.
pub fn adf_text(doc: &Value) -> String {
    let mut out = String::new();
    let mut stack: Vec<&Value> = vec![doc];
    while let Some(node) = stack.pop() {
        match node["type"].as_str() {
            Some("text") => out.push_str(node["text"].as_str().unwrap_or_default()),
            Some("hardBreak") => out.push('\n'),
            Some("paragraph" | "heading" | "codeBlock" | "listItem")
                if !out.is_empty() && !out.ends_with('\n') =>
            {
                out.push('\n');
            }
            _ => {}
        }
        if let Some(children) = node["content"].as_array() {
            stack.extend(children.iter().rev());
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dates_and_instants_in_jira_formats() {
        assert_eq!(day("2026-11-23"), Day::from_ymd(2026, 11, 23));
        assert_eq!(
            instant("1970-01-01T00:00:01.500+0000"),
            Some(Timestamp(1500))
        );
        assert_eq!(instant("1970-01-01T01:00:00.000+0100"), Some(Timestamp(0)));
        assert_eq!(instant("not a date"), None);
    }

    #[test]
    fn adf_text_keeps_paragraphs_apart() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "First"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "Second"}, {"type": "hardBreak"}, {"type": "text", "text": "line"}]}
        ]});
        assert_eq!(adf_text(&doc), "First\nSecond\nline");
    }

    #[test]
    fn missing_and_null_fields_are_fetched_and_empty() {
        let schemas = FieldSchemas::default();
        let issue = issue_from_json(
            &json!({"id": "7", "key": "A-7", "fields": {"summary": null}}),
            &[FieldId::new("summary"), FieldId::new("duedate")],
            &schemas,
        )
        .unwrap();
        assert_eq!(issue.field(&FieldId::new("summary")), Some(None));
        assert_eq!(issue.field(&FieldId::new("duedate")), Some(None));
        assert_eq!(
            issue.field(&FieldId::new("status")),
            None,
            "not requested, not known"
        );
    }

    #[test]
    fn bad_issues_are_clear_errors() {
        let schemas = FieldSchemas::default();
        assert_eq!(
            issue_from_json(&json!({"key": "A-1"}), &[], &schemas),
            Err(ConvertError::IssueId)
        );
        assert_eq!(
            issue_from_json(&json!({"id": "0", "key": "A-1"}), &[], &schemas),
            Err(ConvertError::IssueId)
        );
        assert_eq!(
            issue_from_json(&json!({"id": "5"}), &[], &schemas),
            Err(ConvertError::IssueKey { id: 5 })
        );
        assert_eq!(
            FieldSchemas::from_field_list(&json!({})).unwrap_err(),
            ConvertError::FieldList
        );
    }
}
