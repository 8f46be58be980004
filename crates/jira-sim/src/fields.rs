//! Field metadata (`/rest/api/3/field`): the system fields the simulator renders and its custom fields.
//!
//! The ids, names, clause names and schemas are those of a real Jira Cloud site in
//! `../shared/data/jira-metadata/jira_field_information.json` (instance "IntelDAOS", a Cloud site), so clients
//! tuned to Cloud find what they expect:
//! - `customfield_10016` "Story point estimate" (`jsw-story-points`, number),
//! - `customfield_10019` "Rank" (`gh-lexo-rank`),
//! - `customfield_10020` "Sprint" (`gh-sprint`, array of sprint objects),
//! - `customfield_10021` "Flagged" (`multicheckboxes`, `[{"value":"Impediment"}]` or null).
//!
//! Invariant: every field listed here is rendered by [`crate::render`], and nothing else is, except `issuekey`,
//! which Jira shows as the issue's `key` rather than inside `fields`.

use serde::Serialize;

pub const STORY_POINTS: &str = "customfield_10016";
pub const STORY_POINTS_ID: u64 = 10016;
pub const RANK: &str = "customfield_10019";
pub const RANK_ID: u64 = 10019;
pub const SPRINT: &str = "customfield_10020";
pub const SPRINT_ID: u64 = 10020;
pub const FLAGGED: &str = "customfield_10021";
pub const FLAGGED_ID: u64 = 10021;

/// `FieldDetails.schema` (`JsonTypeBean`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FieldSchema {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<u64>,
}

/// One `FieldDetails` entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FieldDef {
    pub id: &'static str,
    pub key: &'static str,
    pub name: &'static str,
    pub custom: bool,
    pub orderable: bool,
    pub navigable: bool,
    pub searchable: bool,
    pub clause_names: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<FieldSchema>,
}

#[allow(clippy::fn_params_excessive_bools)]
fn system(
    id: &'static str,
    name: &'static str,
    (orderable, navigable, searchable): (bool, bool, bool),
    clause_names: &[&'static str],
    kind: &'static str,
    items: Option<&'static str>,
) -> FieldDef {
    FieldDef {
        id,
        key: id,
        name,
        custom: false,
        orderable,
        navigable,
        searchable,
        clause_names: clause_names.to_vec(),
        schema: Some(FieldSchema {
            kind,
            items,
            system: Some(id),
            custom: None,
            custom_id: None,
        }),
    }
}

fn custom(
    id: &'static str,
    custom_id: u64,
    name: &'static str,
    clause: &'static str,
    (kind, items, plugin): (&'static str, Option<&'static str>, &'static str),
) -> FieldDef {
    FieldDef {
        id,
        key: id,
        name,
        custom: true,
        orderable: true,
        navigable: true,
        searchable: true,
        clause_names: vec![clause, name],
        schema: Some(FieldSchema {
            kind,
            items,
            system: None,
            custom: Some(plugin),
            custom_id: Some(custom_id),
        }),
    }
}

/// The simulator's fields, in a stable order.
#[must_use]
pub fn standard_fields() -> Vec<FieldDef> {
    const ONS: (bool, bool, bool) = (true, true, true);
    const NS: (bool, bool, bool) = (false, true, true);
    const N: (bool, bool, bool) = (false, true, false);
    let mut v = vec![
        system("summary", "Summary", ONS, &["summary"], "string", None),
        system(
            "description",
            "Description",
            ONS,
            &["description"],
            "string",
            None,
        ),
        system(
            "environment",
            "Environment",
            ONS,
            &["environment"],
            "string",
            None,
        ),
        system(
            "issuetype",
            "Issue Type",
            ONS,
            &["issuetype", "type"],
            "issuetype",
            None,
        ),
        system("project", "Project", NS, &["project"], "project", None),
        system("status", "Status", NS, &["status"], "status", None),
        system("priority", "Priority", ONS, &["priority"], "priority", None),
        system(
            "resolution",
            "Resolution",
            ONS,
            &["resolution"],
            "resolution",
            None,
        ),
        system(
            "resolutiondate",
            "Resolved",
            NS,
            &["resolutiondate", "resolved"],
            "datetime",
            None,
        ),
        system(
            "created",
            "Created",
            NS,
            &["created", "createdDate"],
            "datetime",
            None,
        ),
        system(
            "updated",
            "Updated",
            NS,
            &["updated", "updatedDate"],
            "datetime",
            None,
        ),
        system("assignee", "Assignee", ONS, &["assignee"], "user", None),
        system("reporter", "Reporter", ONS, &["reporter"], "user", None),
        system("creator", "Creator", NS, &["creator"], "user", None),
        system(
            "labels",
            "Labels",
            ONS,
            &["labels"],
            "array",
            Some("string"),
        ),
        system(
            "components",
            "Components",
            ONS,
            &["component"],
            "array",
            Some("component"),
        ),
        system(
            "versions",
            "Affects versions",
            ONS,
            &["affectedVersion"],
            "array",
            Some("version"),
        ),
        system(
            "fixVersions",
            "Fix versions",
            ONS,
            &["fixVersion"],
            "array",
            Some("version"),
        ),
        system(
            "issuelinks",
            "Linked Issues",
            ONS,
            &["issueLink"],
            "array",
            Some("issuelinks"),
        ),
        system(
            "subtasks",
            "Sub-tasks",
            N,
            &["subtasks"],
            "array",
            Some("issuelinks"),
        ),
        system(
            "security",
            "Security Level",
            ONS,
            &["level"],
            "securitylevel",
            None,
        ),
        system(
            "timetracking",
            "Time tracking",
            (true, false, true),
            &[],
            "timetracking",
            None,
        ),
        system(
            "timeoriginalestimate",
            "Original estimate",
            N,
            &["originalEstimate", "timeoriginalestimate"],
            "number",
            None,
        ),
        system(
            "timeestimate",
            "Remaining Estimate",
            N,
            &["remainingEstimate", "timeestimate"],
            "number",
            None,
        ),
        system("timespent", "Time Spent", N, &["timespent"], "number", None),
        system(
            "aggregatetimeoriginalestimate",
            "Σ Original Estimate",
            N,
            &[],
            "number",
            None,
        ),
        system(
            "aggregatetimeestimate",
            "Σ Remaining Estimate",
            N,
            &[],
            "number",
            None,
        ),
        system("aggregatetimespent", "Σ Time Spent", N, &[], "number", None),
        system("progress", "Progress", N, &["progress"], "progress", None),
        system("aggregateprogress", "Σ Progress", N, &[], "progress", None),
        system(
            "workratio",
            "Work Ratio",
            NS,
            &["workratio"],
            "number",
            None,
        ),
    ];
    // Parent and the key have no schema on real sites.
    v.push(FieldDef {
        id: "parent",
        key: "parent",
        name: "Parent",
        custom: false,
        orderable: false,
        navigable: true,
        searchable: true,
        clause_names: vec!["parent"],
        schema: None,
    });
    v.push(FieldDef {
        id: "issuekey",
        key: "issuekey",
        name: "Key",
        custom: false,
        orderable: false,
        navigable: true,
        searchable: false,
        clause_names: vec!["id", "issue", "issuekey", "key"],
        schema: None,
    });
    v.push(custom(
        STORY_POINTS,
        STORY_POINTS_ID,
        "Story point estimate",
        "cf[10016]",
        (
            "number",
            None,
            "com.pyxis.greenhopper.jira:jsw-story-points",
        ),
    ));
    v.push(custom(
        RANK,
        RANK_ID,
        "Rank",
        "cf[10019]",
        ("any", None, "com.pyxis.greenhopper.jira:gh-lexo-rank"),
    ));
    v.push(custom(
        SPRINT,
        SPRINT_ID,
        "Sprint",
        "cf[10020]",
        (
            "array",
            Some("json"),
            "com.pyxis.greenhopper.jira:gh-sprint",
        ),
    ));
    v.push(custom(
        FLAGGED,
        FLAGGED_ID,
        "Flagged",
        "cf[10021]",
        (
            "array",
            Some("option"),
            "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes",
        ),
    ));
    v
}
