//! `POST jql/parse`: Jira's own check of JQL, per query, as the caller.
//!
//! Errors are what a search would refuse: the syntax, fields that do not exist, operators a field does not
//! support, functions Jira does not know, values a field cannot take. Warnings name values that do not exist on
//! the site, or that the caller cannot see (a project they may not browse), as Jira words them: "The value
//! 'NOPE' does not exist for the field 'project'." With `validation=strict` or `warn` both are answered;
//! `none` checks the syntax only. The query's `structure` (its syntax tree in Jira's JSON) is not returned.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jql::ast::{Clause, FieldName, Operand, Operator, TerminalClause};
use jql::eval::{EvalContext, FieldKey, Matcher, SystemField, Timestamp};
use serde::{Deserialize, Serialize};

use super::Shared;
use super::http::{ApiError, Caller, costed, json_body, query_value, respond};
use crate::fields;
use crate::model::Site;

/// The most queries one request may carry.
const MAX_QUERIES: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueriesToParse {
    queries: Vec<String>,
}

/// One query's verdict; empty lists are left out, as Jira does.
#[derive(Debug, Serialize)]
struct ParsedQuery {
    query: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

pub(crate) async fn parse(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    respond(|| {
        caller.require("read:jira-work")?;
        let validate = match query_value(raw.as_deref(), "validation").as_deref() {
            None | Some("strict" | "warn") => true,
            Some("none") => false,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "The value '{other}' of the 'validation' parameter is not valid: use strict, warn or none."
                )));
            }
        };
        let request: QueriesToParse = json_body(&body)?;
        if request.queries.is_empty() || request.queries.len() > MAX_QUERIES {
            return Err(ApiError::bad_request(format!(
                "The 'queries' list must hold 1 to {MAX_QUERIES} queries."
            )));
        }
        if request.queries.iter().any(String::is_empty) {
            return Err(ApiError::bad_request("A query must not be empty."));
        }
        let site = shared.site();
        let now = shared.now_ms();
        let queries: Vec<ParsedQuery> = request
            .queries
            .into_iter()
            .map(|query| check(&site, &caller, query, validate, now))
            .collect();
        Ok(costed(
            StatusCode::OK,
            serde_json::json!({ "queries": queries }),
            0,
        ))
    })
}

fn check(site: &Site, caller: &Caller, query: String, validate: bool, now: i64) -> ParsedQuery {
    let mut parsed = ParsedQuery {
        query,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let ast = match jql::parse(&parsed.query) {
        Ok(ast) => ast,
        Err(error) => {
            parsed.errors.push(error.to_string());
            return parsed;
        }
    };
    if !validate {
        return parsed;
    }
    let catalog = site.jql_catalog();
    let mut context = EvalContext::at(Timestamp(now));
    context.current_user = Some(&caller.account_id);
    context.groups = Some(site);
    if let Err(obstacles) = Matcher::compile(&ast, &catalog, &context) {
        // What only keeps the simulator from evaluating the query (history, some functions) Jira accepts.
        for obstacle in obstacles.iter().filter(|o| o.is_jira_error()) {
            push_once(&mut parsed.errors, obstacle.to_string());
        }
    }
    if let Some(clause) = &ast.clause {
        let mut warnings = Vec::new();
        missing_values(site, caller, &catalog, clause, &mut warnings);
        for warning in warnings {
            push_once(&mut parsed.warnings, warning);
        }
    }
    parsed
}

/// Jira's lists hold each message once.
fn push_once(list: &mut Vec<String>, message: String) {
    if !list.contains(&message) {
        list.push(message);
    }
}

/// A warning for every value a clause compares with that names nothing the caller can see.
fn missing_values(
    site: &Site,
    caller: &Caller,
    catalog: &jql::eval::StandardCatalog,
    clause: &Clause,
    out: &mut Vec<String>,
) {
    match clause {
        Clause::Or(all) | Clause::And(all) => {
            for clause in &all.clauses {
                missing_values(site, caller, catalog, clause, out);
            }
        }
        Clause::Not(not) => missing_values(site, caller, catalog, &not.clause, out),
        Clause::Terminal(terminal) => terminal_values(site, caller, catalog, terminal, out),
    }
}

fn terminal_values(
    site: &Site,
    caller: &Caller,
    catalog: &jql::eval::StandardCatalog,
    terminal: &TerminalClause,
    out: &mut Vec<String>,
) {
    use jql::eval::FieldCatalog;
    let compares_values = matches!(
        terminal.operator,
        Operator::Equals
            | Operator::NotEquals
            | Operator::In
            | Operator::NotIn
            | Operator::Was
            | Operator::WasNot
            | Operator::WasIn
            | Operator::WasNotIn
    );
    if !compares_values || !terminal.field.properties.is_empty() {
        return;
    }
    let Some(info) = catalog.resolve(&terminal.field.name) else {
        return;
    };
    let [key] = info.keys.as_slice() else {
        return;
    };
    let Some(operand) = &terminal.operand else {
        return;
    };
    let mut literals = Vec::new();
    literals_of(operand, &mut literals);
    let field = match &terminal.field.name {
        FieldName::Name(name) | FieldName::Number(name) => name.clone(),
        FieldName::Custom(digits) => format!("cf[{digits}]"),
    };
    for text in literals {
        if exists(site, caller, *key, text) == Some(false) {
            out.push(format!(
                "The value '{text}' does not exist for the field '{field}'."
            ));
        }
    }
}

/// The literal values of an operand (functions and `EMPTY` are not values).
fn literals_of<'a>(operand: &'a Operand, out: &mut Vec<&'a str>) {
    match operand {
        Operand::Literal(literal) => out.push(&literal.text),
        Operand::List(list) => {
            for item in &list.items {
                literals_of(item, out);
            }
        }
        Operand::Empty(_) | Operand::Function(_) => {}
    }
}

/// Whether `text` names a value of the field the caller can see, as the evaluator matches them (an id, or a
/// name or key regardless of case); `None` for fields whose values are not a fixed list.
fn exists(site: &Site, caller: &Caller, key: FieldKey, text: &str) -> Option<bool> {
    let named = |id: &str, name: &str| id == text || name.eq_ignore_ascii_case(text);
    Some(match key {
        FieldKey::System(SystemField::Project) => {
            site.projects.iter().enumerate().any(|(at, p)| {
                (named(&p.id, &p.name) || p.key.eq_ignore_ascii_case(text))
                    && u16::try_from(at).is_ok_and(|at| site.can_browse_project(caller.person, at))
            })
        }
        FieldKey::System(SystemField::IssueType) => {
            site.issue_types.iter().any(|t| named(&t.id, &t.name))
        }
        FieldKey::System(SystemField::Status) => {
            site.statuses.iter().any(|s| named(&s.id, &s.name))
        }
        FieldKey::System(SystemField::StatusCategory) => site.statuses.iter().any(|s| {
            let c = s.category;
            c.id().to_string() == text
                || c.name().eq_ignore_ascii_case(text)
                || c.key().eq_ignore_ascii_case(text)
        }),
        FieldKey::System(SystemField::Priority) => {
            site.priorities.iter().any(|p| named(&p.id, &p.name))
        }
        FieldKey::System(SystemField::Resolution) => {
            site.resolutions.iter().any(|r| named(&r.id, &r.name))
        }
        FieldKey::System(SystemField::Components) => {
            site.components.iter().any(|c| named(&c.id, &c.name))
        }
        FieldKey::System(SystemField::FixVersions | SystemField::AffectedVersions) => {
            site.versions.iter().any(|v| named(&v.id, &v.name))
        }
        FieldKey::System(SystemField::Sprint) | FieldKey::Custom(fields::SPRINT_ID) => site
            .sprints
            .iter()
            .any(|s| named(&s.id.to_string(), &s.name)),
        _ => return None,
    })
}
