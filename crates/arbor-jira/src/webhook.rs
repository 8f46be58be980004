//! Jira webhook deliveries → early cache invalidation.
//!
//! Jira retries deliveries and may send one twice; every retry and duplicate carries the same
//! `X-Atlassian-Webhook-Identifier`. A delivery is applied once per identifier (remembered for a day), and
//! applying one twice would be harmless anyway: invalidation is idempotent.
//!
//! What a delivery invalidates, for every person of the tenant:
//! - the changed issues' cached fields (the next load fetches just those: one bulk fetch);
//! - query results the change could alter: every result when an issue is created or deleted; children lists
//!   when a `parent` changes; JQL results whose text names a changed field (or `updated`, which every change
//!   moves, or `text` for textual fields, or link functions for link changes). A result a change cannot alter
//!   stays, which is what keeps "one issue changed" at one Jira call.
//!
//! Invariants: the body is read for ids and field names only; nothing of it is logged or kept.

use std::time::Duration;

use arbor_core::ids::IssueId;
use moka::future::Cache;
use serde_json::Value;

use crate::cache::{Caches, ResultKey};
use crate::client::TenantId;

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Applied: these issues' cached data was dropped.
    Applied { issues: Vec<IssueId> },
    /// Already applied (a retry or duplicate).
    Duplicate,
    /// An event arbor does not act on.
    Ignored,
}

/// A delivery that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook delivery is not a Jira event: {0}")]
pub struct WebhookError(&'static str);

/// Applies deliveries to the caches.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    caches: Caches,
    applied: Cache<(TenantId, String), ()>,
}

impl WebhookReceiver {
    pub fn new(caches: Caches) -> Self {
        Self {
            caches,
            applied: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
        }
    }

    /// Applies one delivery for `tenant`. `identifier` is `X-Atlassian-Webhook-Identifier`; without it, the
    /// event's name, timestamp and issue stand in for it.
    pub async fn receive(
        &self,
        tenant: &TenantId,
        identifier: Option<&str>,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        let event: Value = serde_json::from_slice(body).map_err(|_| WebhookError("not JSON"))?;
        let name = event["webhookEvent"]
            .as_str()
            .ok_or(WebhookError("no webhookEvent"))?;
        let dedupe = match identifier {
            Some(id) => id.to_owned(),
            None => format!(
                "{name}/{}/{}/{}",
                event["timestamp"], event["issue"]["id"], event["issueLink"]["id"]
            ),
        };
        let key = (tenant.clone(), dedupe);
        if self.applied.contains_key(&key) {
            return Ok(Delivery::Duplicate);
        }
        let outcome = self.apply(tenant, name, &event).await;
        self.applied.insert(key, ()).await;
        Ok(outcome)
    }

    async fn apply(&self, tenant: &TenantId, name: &str, event: &Value) -> Delivery {
        let mut issues: Vec<IssueId> = Vec::new();
        let mut changed: Vec<String> = Vec::new();
        match name {
            "jira:issue_created" | "jira:issue_deleted" | "jira:issue_updated" => {
                issues.extend(id_of(&event["issue"]["id"]));
                for item in event["changelog"]["items"].as_array().into_iter().flatten() {
                    for key in ["fieldId", "field"] {
                        if let Some(f) = item[key].as_str() {
                            changed.push(f.to_ascii_lowercase());
                        }
                    }
                }
            }
            "issuelink_created" | "issuelink_deleted" => {
                let link = &event["issueLink"];
                issues.extend(id_of(&link["sourceIssueId"]));
                issues.extend(id_of(&link["destinationIssueId"]));
                changed.push("issuelinks".into());
            }
            _ => return Delivery::Ignored,
        }
        for &id in &issues {
            self.caches.invalidate_issue(tenant, id).await;
        }
        if name != "jira:issue_updated" && !name.starts_with("issuelink") {
            self.caches.invalidate_results(tenant, |_| true);
        } else {
            let parent_changed = changed.iter().any(|f| f == "parent");
            let words = watched_words(&changed);
            self.caches
                .invalidate_results(tenant, move |key| match key {
                    ResultKey::Children(_) => parent_changed,
                    ResultKey::Jql(query) => {
                        let query = query.to_ascii_lowercase();
                        words.iter().any(|w| query.contains(w.as_str()))
                    }
                });
        }
        Delivery::Applied { issues }
    }
}

/// The words whose presence in a JQL query means a change of `fields` may alter its result.
fn watched_words(fields: &[String]) -> Vec<String> {
    let mut words = vec!["updated".to_owned()];
    for field in fields {
        words.push(field.clone());
        if let Some(n) = field.strip_prefix("customfield_") {
            words.push(format!("cf[{n}]"));
        }
        if matches!(
            field.as_str(),
            "summary" | "description" | "environment" | "comment"
        ) {
            words.push("text".into());
        }
        if matches!(field.as_str(), "issuelinks" | "link") {
            words.extend(["issuelink", "linkedissue", "issue in"].map(str::to_owned));
        }
        if field == "parent" || field == "issueparentassociation" {
            words.extend(["parent", "childissuesof", "portfolio"].map(str::to_owned));
        }
    }
    words
}

fn id_of(value: &Value) -> Option<IssueId> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
        .and_then(|n| IssueId::new(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_change_watches_textual_queries_only() {
        let words = watched_words(&["summary".into()]);
        assert!(words.contains(&"text".to_owned()));
        assert!(
            !words
                .iter()
                .any(|w| "project = core and issuetype = epic".contains(w.as_str()))
        );
        let cf = watched_words(&["customfield_10016".into()]);
        assert!(cf.iter().any(|w| "cf[10016] > 3".contains(w.as_str())));
    }
}
