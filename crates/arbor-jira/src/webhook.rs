//! Jira webhook deliveries → early cache invalidation.
//!
//! Jira retries deliveries and may send one twice; every retry and duplicate carries the same
//! `X-Atlassian-Webhook-Identifier`. A delivery is applied once per identifier (remembered for a day), and
//! applying one twice would be harmless anyway: invalidation is idempotent.
//!
//! What a delivery invalidates, for every person of the tenant:
//! - the changed issues' cached fields (the next load fetches just those: one bulk fetch);
//! - query results the change could alter: every result when an issue is created or deleted; children lists
//!   when a `parent` changes; issue keys' ids when an issue moves; JQL results whose text names a changed field
//!   (or `updated`, which every change moves, or `text` for textual fields, or link functions for link
//!   changes). A result a change cannot alter stays, which is what keeps "one issue changed" at one Jira call.
//!
//! Deliveries are believed only with Jira's signature: for OAuth 2.0 apps, `Authorization: Bearer` a JWT signed
//! (HS256) with the app's client secret ([`verify_signature`]), valid for minutes at most and used once: the
//! caller remembers each token's identity ([`SignedToken`]) until it expires, on every node of the deployment.
//!
//! Registration ([`keep_registered`]): webhooks registered through the REST API last 30 days and belong to the
//! person who registered them (Jira delivers only what that person may see, and for a private app only when
//! that person owns the app); arbor registers as a site admin, one webhook per 50 of the projects they may
//! browse, and refreshes or replaces them whenever that admin signs in.
//!
//! Invariants: the body is read for ids and field names only; nothing of it is logged or kept.

use std::time::Duration;

use arbor_core::ids::IssueId;
use moka::future::Cache;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::cache::{Caches, ResultKey};
use crate::client::{AccessToken, JiraClient, JiraError, TenantId};

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Applied: what it dropped, to be applied by the deployment's other nodes too.
    Applied { invalidation: Invalidation },
    /// Already applied (a retry or duplicate).
    Duplicate,
    /// An event arbor does not act on.
    Ignored,
}

/// A delivery that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook delivery is not a Jira event: {0}")]
pub struct WebhookError(&'static str);

/// A delivery that does not carry Jira's signature for this app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook delivery is not signed by Jira for this app: {0}")]
pub struct UnsignedDelivery(&'static str);

/// How far apart Jira's clock and ours may be.
const CLOCK_LEEWAY_S: u64 = 60;

/// A delivery's token, once believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedToken {
    /// What identifies the token (SHA-256, hex, of its `jti`, or of the whole token when it has none): a
    /// replay of the token has this identity whatever else of the delivery is changed.
    pub identity: String,
    /// Until when (Unix seconds) the token is accepted: its `exp` and the clock leeway. Its identity must be
    /// remembered until then.
    pub valid_until_s: u64,
}

/// Checks a delivery's `Authorization` header: `Bearer` a JWT whose header says HS256, signed with the app's
/// `client_secret` (compared in constant time), issued (`iat`) no later than `now_s` (Unix seconds) and
/// valid (`exp`) at `now_s`, give or take a minute, and for at most `max_lifetime_s` after it was issued: a
/// token that leaks is good for minutes, not years. Other claims are not relied on.
pub fn verify_signature(
    authorization: Option<&str>,
    client_secret: &[u8],
    now_s: u64,
    max_lifetime_s: u64,
) -> Result<SignedToken, UnsignedDelivery> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    use sha2::Digest as _;
    let value = authorization.ok_or(UnsignedDelivery("no Authorization header"))?;
    let (scheme, jwt) = value
        .split_once(' ')
        .ok_or(UnsignedDelivery("Authorization is not a bearer token"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(UnsignedDelivery("Authorization is not a bearer token"));
    }
    let jwt = jwt.trim();
    let malformed = UnsignedDelivery("the token is not a JWT");
    let (signed, signature) = jwt.rsplit_once('.').ok_or(malformed.clone())?;
    let (header, claims) = signed.split_once('.').ok_or(malformed.clone())?;
    let decode = |part: &str| -> Result<Value, UnsignedDelivery> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| malformed.clone())?;
        serde_json::from_slice(&bytes).map_err(|_| malformed.clone())
    };
    if decode(header)?["alg"] != "HS256" {
        return Err(UnsignedDelivery("the token is not signed with HS256"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| malformed.clone())?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(client_secret)
        .map_err(|_| UnsignedDelivery("the client secret cannot key HMAC"))?;
    mac.update(signed.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| UnsignedDelivery("the signature does not match the client secret"))?;
    let claims = decode(claims)?;
    let exp = claims["exp"]
        .as_u64()
        .ok_or(UnsignedDelivery("the token has no expiry"))?;
    let iat = claims["iat"]
        .as_u64()
        .ok_or(UnsignedDelivery("the token has no time of issue"))?;
    if exp.saturating_add(CLOCK_LEEWAY_S) < now_s {
        return Err(UnsignedDelivery("the token has expired"));
    }
    if iat > now_s.saturating_add(CLOCK_LEEWAY_S) {
        return Err(UnsignedDelivery("the token is issued in the future"));
    }
    if exp.saturating_sub(iat) > max_lifetime_s {
        return Err(UnsignedDelivery(
            "the token is valid for longer than this server accepts",
        ));
    }
    // A `jti` names the token; without one, the token's own bytes do (Jira signs each attempt anew).
    let identity = match claims["jti"].as_str().filter(|jti| !jti.is_empty()) {
        Some(jti) => sha2::Sha256::digest(format!("jti:{jti}")),
        None => sha2::Sha256::digest(format!("jwt:{jwt}")),
    };
    Ok(SignedToken {
        identity: identity.iter().map(|b| format!("{b:02x}")).collect(),
        valid_until_s: exp.saturating_add(CLOCK_LEEWAY_S),
    })
}

/// The events arbor acts on.
pub const EVENTS: [&str; 5] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "issuelink_created",
    "issuelink_deleted",
];

/// Projects named by one webhook's filter.
const PROJECTS_PER_WEBHOOK: usize = 50;

/// What [`keep_registered`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// Webhooks registered now.
    pub registered: usize,
    /// Webhooks that were already right, given 30 more days.
    pub refreshed: usize,
    /// Webhooks of this app that were no longer right (other projects, events or address), removed.
    pub removed: usize,
}

/// The filters that cover `projects` (ids), in order.
fn filters(mut projects: Vec<u64>) -> Vec<String> {
    projects.sort_unstable();
    projects.dedup();
    projects
        .chunks(PROJECTS_PER_WEBHOOK)
        .map(|ids| {
            let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
            format!("project in ({})", ids.join(", "))
        })
        .collect()
}

/// Makes this app's webhooks on the site deliver to `url` for every project `who` may browse: refreshes the
/// ones that already do, removes the others and registers what is missing. A webhook is known to deliver to
/// `url` only when Jira lists its address (the simulator does; Jira Cloud does not, so there every sign-in
/// replaces them, which also follows a change of arbor's public address: Jira allows one address per app).
pub async fn keep_registered(
    client: &JiraClient,
    who: &AccessToken,
    url: &Url,
) -> Result<Registration, JiraError> {
    let projects = client.projects(who).await?;
    let wanted = filters(
        projects
            .iter()
            .filter_map(|p| id_number(&p["id"]))
            .collect(),
    );
    let existing = client.webhooks(who).await?;
    let existing = existing["values"].as_array().cloned().unwrap_or_default();
    let mut events: Vec<&str> = EVENTS.to_vec();
    events.sort_unstable();
    let right = |hook: &Value| {
        let mut theirs: Vec<&str> = hook["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        theirs.sort_unstable();
        // Jira Cloud does not list a webhook's address: only one known to be `url` is kept.
        let address = hook["url"].as_str() == Some(url.as_str());
        theirs == events && address
    };
    let mut keep: Vec<u64> = Vec::new();
    let mut covered: Vec<&str> = Vec::new();
    let mut remove: Vec<u64> = Vec::new();
    for hook in &existing {
        let Some(id) = hook["id"].as_u64() else {
            continue;
        };
        match hook["jqlFilter"].as_str() {
            Some(filter)
                if right(hook)
                    && wanted.iter().any(|w| w == filter)
                    && !covered.contains(&filter) =>
            {
                keep.push(id);
                covered.push(filter);
            }
            _ => remove.push(id),
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|w| !covered.contains(w))
        .collect();
    let mut done = Registration::default();
    if !remove.is_empty() {
        client.delete_webhooks(who, &remove).await?;
        done.removed = remove.len();
    }
    if !keep.is_empty() {
        client.refresh_webhooks(who, &keep).await?;
        done.refreshed = keep.len();
    }
    if missing.is_empty() {
        return Ok(done);
    }
    done.registered = register(client, who, url, &missing).await?;
    Ok(done)
}

/// Registers one webhook of [`EVENTS`] per filter; Jira's refusal of any is an error with its messages.
async fn register(
    client: &JiraClient,
    who: &AccessToken,
    url: &Url,
    filters: &[&str],
) -> Result<usize, JiraError> {
    let list: Vec<(Vec<&str>, &str)> = filters.iter().map(|f| (EVENTS.to_vec(), *f)).collect();
    let answer = client.register_webhooks(who, url, &list).await?;
    let refused: Vec<String> = answer["webhookRegistrationResult"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["errors"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    if refused.is_empty() {
        Ok(filters.len())
    } else {
        Err(JiraError::BadRequest { messages: refused })
    }
}

fn id_number(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
}

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
        let key = dedupe_key(tenant, identifier, name, &event);
        if self.applied.contains_key(&key) {
            return Ok(Delivery::Duplicate);
        }
        let outcome = self.apply(tenant, name, &event).await;
        self.applied.insert(key, ()).await;
        Ok(outcome)
    }

    /// Forgets that a delivery was applied, so that Jira's retry of it is applied again: for a caller that
    /// could not finish its part (sharing the invalidation with the other nodes) and asks Jira to retry.
    pub async fn forget(&self, tenant: &TenantId, identifier: Option<&str>, body: &[u8]) {
        let Ok(event) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let Some(name) = event["webhookEvent"].as_str() else {
            return;
        };
        self.applied
            .invalidate(&dedupe_key(tenant, identifier, name, &event))
            .await;
    }

    async fn apply(&self, tenant: &TenantId, name: &str, event: &Value) -> Delivery {
        match Invalidation::of_event(name, event) {
            Some(invalidation) => {
                invalidation.apply(&self.caches, tenant).await;
                Delivery::Applied { invalidation }
            }
            None => Delivery::Ignored,
        }
    }
}

/// What one delivery invalidates, in a form that can be kept and applied again elsewhere: issue ids, the
/// changed fields' ids and names (lowercased) and one flag, nothing of the issues' data. Applying one is
/// idempotent, so a node may apply an invalidation it already applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    /// The issues whose cached fields are dropped.
    pub issues: Vec<IssueId>,
    /// The changed fields (ids and names, lowercased): JQL results naming one of them are dropped.
    pub fields: Vec<String>,
    /// Every query result of the tenant is dropped (an issue was created or deleted).
    pub all_results: bool,
}

impl Invalidation {
    /// Most fields one invalidation names; a change of more drops every result instead.
    pub const MAX_FIELDS: usize = 64;
    /// Longest field id or name kept; a longer one drops every result instead.
    pub const MAX_FIELD_LEN: usize = 255;

    /// What the Jira event `name` with body `event` invalidates; `None` for events arbor does not act on.
    pub fn of_event(name: &str, event: &Value) -> Option<Self> {
        let mut issues: Vec<IssueId> = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        match name {
            "jira:issue_created" | "jira:issue_deleted" | "jira:issue_updated" => {
                issues.extend(id_of(&event["issue"]["id"]));
                for item in event["changelog"]["items"].as_array().into_iter().flatten() {
                    for key in ["fieldId", "field"] {
                        if let Some(f) = item[key].as_str() {
                            fields.push(f.to_ascii_lowercase());
                        }
                    }
                }
            }
            "issuelink_created" | "issuelink_deleted" => {
                let link = &event["issueLink"];
                issues.extend(id_of(&link["sourceIssueId"]));
                issues.extend(id_of(&link["destinationIssueId"]));
                fields.push("issuelinks".into());
            }
            _ => return None,
        }
        let all_results = name != "jira:issue_updated" && !name.starts_with("issuelink");
        Some(
            Self {
                issues,
                fields,
                all_results,
            }
            .bounded(),
        )
    }

    /// Sorted, without duplicates, and within [`Self::MAX_FIELDS`] and [`Self::MAX_FIELD_LEN`]: when the fields
    /// do not fit, every result is dropped instead (dropping more is always safe).
    #[must_use]
    pub fn bounded(mut self) -> Self {
        self.issues.sort_unstable();
        self.issues.dedup();
        self.fields.retain(|f| !f.is_empty());
        self.fields.sort_unstable();
        self.fields.dedup();
        if self.fields.len() > Self::MAX_FIELDS
            || self.fields.iter().any(|f| f.len() > Self::MAX_FIELD_LEN)
        {
            self.fields.clear();
            self.all_results = true;
        }
        if self.all_results {
            self.fields.clear();
        }
        self
    }

    /// Drops what this invalidation names from `tenant`'s caches. The one path for deliveries received here
    /// and for those another node received.
    pub async fn apply(&self, caches: &Caches, tenant: &TenantId) {
        for &id in &self.issues {
            caches.invalidate_issue(tenant, id).await;
        }
        if self.all_results {
            caches.invalidate_results(tenant, |_| true);
        } else {
            let parent_changed = self.fields.iter().any(|f| f == "parent");
            // A moved issue changes its key (its changelog names `Key` and `project`).
            let key_changed = self
                .fields
                .iter()
                .any(|f| matches!(f.as_str(), "key" | "issuekey" | "project"));
            let words = watched_words(&self.fields);
            caches.invalidate_results(tenant, move |key| match key {
                ResultKey::Children(_) => parent_changed,
                ResultKey::Key(_) => key_changed,
                ResultKey::Jql(query) => {
                    let query = query.to_ascii_lowercase();
                    words.iter().any(|w| query.contains(w.as_str()))
                }
            });
        }
    }
}

/// What identifies a delivery: `X-Atlassian-Webhook-Identifier`, or the event's name, time and issue.
fn dedupe_key(
    tenant: &TenantId,
    identifier: Option<&str>,
    name: &str,
    event: &Value,
) -> (TenantId, String) {
    let dedupe = match identifier {
        Some(id) => id.to_owned(),
        None => format!(
            "{name}/{}/{}/{}",
            event["timestamp"], event["issue"]["id"], event["issueLink"]["id"]
        ),
    };
    (tenant.clone(), dedupe)
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
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};

    const NOW: u64 = 1_800_000_000;

    fn jwt(alg: &str, claims: &Value, secret: &[u8]) -> String {
        let header =
            URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": alg, "typ": "JWT"}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// Ten minutes, the server's default.
    const LIFETIME: u64 = 600;

    fn check(header: &str) -> Result<SignedToken, UnsignedDelivery> {
        verify_signature(Some(header), b"secret", NOW, LIFETIME)
    }

    fn bearer(claims: &Value) -> String {
        format!("Bearer {}", jwt("HS256", claims, b"secret"))
    }

    #[test]
    fn only_deliveries_signed_with_the_client_secret_and_not_expired_are_believed() {
        let fresh = serde_json::json!({"iat": NOW - 10, "exp": NOW + 170});
        assert!(check(&bearer(&fresh)).is_ok());
        assert!(check(&format!("bearer {}", jwt("HS256", &fresh, b"secret"))).is_ok());
        // Expired, beyond a minute of clock difference; within it still good.
        let old = serde_json::json!({"iat": NOW - 200, "exp": NOW - 61});
        assert!(check(&bearer(&old)).is_err());
        let recent = serde_json::json!({"iat": NOW - 200, "exp": NOW - 59});
        assert!(check(&bearer(&recent)).is_ok());
        let refused = [
            format!("Bearer {}", jwt("HS256", &fresh, b"another")),
            format!("Bearer {}", jwt("none", &fresh, b"secret")),
            bearer(&serde_json::json!({"iat": NOW})),
            format!("Basic {}", jwt("HS256", &fresh, b"secret")),
            "Bearer".to_owned(),
            "Bearer a.b".to_owned(),
            "Bearer !!.??.**".to_owned(),
        ];
        for header in refused {
            assert!(check(&header).is_err(), "{header}");
        }
        assert!(verify_signature(None, b"secret", NOW, LIFETIME).is_err());
    }

    #[test]
    fn tokens_valid_for_longer_than_the_maximum_lifetime_are_refused() {
        // The penetration test's token: valid until 2100.
        let forever = serde_json::json!({"iat": NOW, "exp": 4_102_444_800_u64});
        assert_eq!(
            check(&bearer(&forever)),
            Err(UnsignedDelivery(
                "the token is valid for longer than this server accepts"
            ))
        );
        let longest = serde_json::json!({"iat": NOW - 10, "exp": NOW - 10 + LIFETIME});
        assert!(check(&bearer(&longest)).is_ok());
        let longer = serde_json::json!({"iat": NOW - 10, "exp": NOW - 9 + LIFETIME});
        assert!(check(&bearer(&longer)).is_err());
        // Without a time of issue, the lifetime is unknown; issued in the future beyond the leeway is forged
        // or from a clock that cannot be trusted.
        assert!(check(&bearer(&serde_json::json!({"exp": NOW + 60}))).is_err());
        let future = serde_json::json!({"iat": NOW + 120, "exp": NOW + 180});
        assert!(check(&bearer(&future)).is_err());
        let skewed = serde_json::json!({"iat": NOW + 30, "exp": NOW + 180});
        assert!(check(&bearer(&skewed)).is_ok());
    }

    #[test]
    fn a_token_is_identified_by_its_jti_or_else_by_itself() {
        let identity = |claims: Value| check(&bearer(&claims)).unwrap().identity;
        let first = identity(serde_json::json!({"iat": NOW, "exp": NOW + 180, "jti": "a"}));
        // The same `jti` in another token (a replay with claims changed) is the same token.
        assert_eq!(
            identity(serde_json::json!({"iat": NOW - 1, "exp": NOW + 179, "jti": "a"})),
            first
        );
        assert_ne!(
            identity(serde_json::json!({"iat": NOW, "exp": NOW + 180, "jti": "b"})),
            first
        );
        let plain = serde_json::json!({"iat": NOW, "exp": NOW + 180});
        assert_eq!(identity(plain.clone()), identity(plain));
        assert_ne!(
            identity(serde_json::json!({"iat": NOW, "exp": NOW + 180})),
            identity(serde_json::json!({"iat": NOW - 1, "exp": NOW + 180}))
        );
        assert_eq!(first.len(), 64);
        let token = check(&bearer(&serde_json::json!({"iat": NOW, "exp": NOW + 180}))).unwrap();
        assert_eq!(token.valid_until_s, NOW + 180 + CLOCK_LEEWAY_S);
    }

    #[test]
    fn filters_name_each_project_once_in_groups_of_fifty() {
        let ids: Vec<u64> = (1..=120).chain([5, 7]).collect();
        let made = filters(ids);
        assert_eq!(made.len(), 3);
        assert!(made[0].starts_with("project in (1, 2, 3,"));
        assert!(made[2].ends_with("119, 120)"));
        assert!(filters(Vec::new()).is_empty());
    }

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
