//! Dynamic webhooks of OAuth apps: registration (`POST|GET|DELETE /webhook`, `PUT /webhook/refresh`) and
//! delivery.
//!
//! A registration belongs to the app (client id) and the person whose token registered it; it expires 30 days
//! after registration or its last refresh. An event is delivered to every unexpired webhook of the app whose
//! events include it and whose JQL filter matches the issue as that person sees it (an issue the person cannot
//! browse is never delivered). Deliveries run in background tasks: a POST of the event JSON with
//! `X-Atlassian-Webhook-Identifier` (the same for retries and duplicates), `X-Atlassian-Webhook-Retry` and,
//! as Jira does for OAuth 2.0 apps, `Authorization: Bearer` a JWT signed (HS256) with the app's client secret
//! (the one it last used to sign someone in; see [`signed_jwt`]); a
//! failure (no 2xx, or no answer) is retried with exponential backoff up to `max_attempts`; with probability
//! `duplicate_probability` (seeded) a delivered event is sent a second time.
//!
//! Events: `jira:issue_created`, `jira:issue_updated` (summary and parent changes, and link changes on both ends
//! with a `Link` changelog item), `jira:issue_deleted` (for the issue and each sub-task deleted with it, decided
//! before the deletion), and `issuelink_created` / `issuelink_deleted`.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jql::eval::{EvalContext, Matcher, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http::{ApiError, ApiResult, Caller, costed, json_body, query_int, respond};
use super::{Shared, lock};
use crate::model::{IssueIdx, Link, Millis, PersonIdx, Site, Target};
use crate::render::{FieldSelection, Renderer, to_value};

/// 30 days, in milliseconds.
const LIFETIME_MS: Millis = 30 * 24 * 3600 * 1000;
/// Jira's limit of webhooks per app and person.
const MAX_PER_APP: usize = 100;
const EVENTS: [&str; 10] = [
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
    "issuelink_created",
    "issuelink_deleted",
];

/// Delivery behaviour.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct WebhookControls {
    /// Attempts per event, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff_ms: u64,
    /// Chance that a delivered event is delivered a second time.
    pub duplicate_probability: f64,
    /// How long one delivery attempt may take.
    pub timeout_ms: u64,
    /// Deliver to receivers whose certificate cannot be checked (self-signed local servers: the demo, tests).
    pub trust_any_certificate: bool,
}

impl Default for WebhookControls {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff_ms: 1000,
            duplicate_probability: 0.01,
            timeout_ms: 10_000,
            trust_any_certificate: false,
        }
    }
}

#[derive(Debug, Clone)]
struct Webhook {
    id: u64,
    client_id: String,
    person: PersonIdx,
    url: String,
    events: Vec<String>,
    jql: String,
    field_ids: Option<Vec<String>>,
    expires: Millis,
}

/// Registered webhooks.
#[derive(Debug, Default)]
pub(crate) struct WebhookStore {
    hooks: Vec<Webhook>,
    next_id: u64,
    next_delivery: u64,
}

/// An event about to be delivered.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    name: &'static str,
    /// The issues whose visibility and JQL decide who gets it.
    issues: Vec<IssueIdx>,
    /// Other issues the payload names (a link's other end, an old or new parent): only people who may browse
    /// them too get the event.
    mentions: Vec<IssueIdx>,
    /// The issue the payload shows, rendered for each webhook's person at delivery.
    subject: Option<IssueIdx>,
    /// Changed field ids, for `fieldIdsFilter`.
    fields: Vec<String>,
    payload: Value,
}

impl Event {
    /// An issue event; `user` is the acting person's JSON.
    pub(crate) fn issue(
        name: &'static str,
        type_name: &str,
        idx: IssueIdx,
        user: Option<&Value>,
        items: &[Value],
        now: Millis,
    ) -> Self {
        let fields = items
            .iter()
            .filter_map(|i| i.get("fieldId").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let mut payload = json!({
            "timestamp": now,
            "webhookEvent": name,
            "issue_event_type_name": type_name,
        });
        if let Some(u) = user {
            payload["user"] = u.clone();
        }
        if !items.is_empty() {
            payload["changelog"] = json!({ "id": now.to_string(), "items": items });
        }
        Self {
            name,
            issues: vec![idx],
            mentions: Vec::new(),
            subject: Some(idx),
            fields,
            payload,
        }
    }

    /// A link change: the link event and an `issue_updated` for each local end.
    pub(crate) fn link(
        site: &Site,
        link: &Link,
        created: bool,
        user: Option<&Value>,
        now: Millis,
    ) -> Vec<Self> {
        let lt = &site.link_types[link.link_type as usize];
        let (source_id, source_key) = site.target_id_key(link.source);
        let (dest_id, dest_key) = site.target_id_key(link.destination);
        let name = if created {
            "issuelink_created"
        } else {
            "issuelink_deleted"
        };
        let ends: Vec<IssueIdx> = [link.source, link.destination]
            .into_iter()
            .filter_map(|t| match t {
                Target::Local(i) => Some(i),
                Target::External(_) => None,
            })
            .collect();
        let mut out = vec![Self {
            name,
            issues: ends.clone(),
            mentions: Vec::new(),
            subject: None,
            fields: vec!["issuelinks".into()],
            payload: json!({
                "timestamp": now,
                "webhookEvent": name,
                "issueLink": {
                    "id": link.id,
                    "sourceIssueId": source_id,
                    "destinationIssueId": dest_id,
                    "issueLinkType": { "id": lt.id.parse::<u64>().unwrap_or(0), "name": lt.name,
                        "outwardName": lt.outward, "inwardName": lt.inward, "isSubTaskLinkType": false, "isSystemLinkType": false },
                    "systemLink": false,
                },
            }),
        }];
        for &end in &ends {
            let outward = link.source == Target::Local(end);
            let (other, phrase) = if outward {
                (dest_key, &lt.outward)
            } else {
                (source_key, &lt.inward)
            };
            let text = format!("This issue {phrase} {other}");
            let item = if created {
                json!({"field": "Link", "fieldtype": "jira", "fieldId": "issuelinks", "from": null, "fromString": null, "to": other, "toString": text})
            } else {
                json!({"field": "Link", "fieldtype": "jira", "fieldId": "issuelinks", "from": other, "fromString": text, "to": null, "toString": null})
            };
            let other_end = if outward {
                link.destination
            } else {
                link.source
            };
            out.push(
                Self::issue(
                    "jira:issue_updated",
                    "issue_generic",
                    end,
                    user,
                    &[item],
                    now,
                )
                .mentioning(local(other_end)),
            );
        }
        out
    }

    /// Names issues the payload mentions besides its own.
    #[must_use]
    pub(crate) fn mentioning(mut self, issues: impl IntoIterator<Item = IssueIdx>) -> Self {
        self.mentions.extend(issues);
        self
    }
}

/// The issue of a target, if it is one of this site's.
pub(crate) fn local(target: Target) -> Option<IssueIdx> {
    match target {
        Target::Local(idx) => Some(idx),
        Target::External(_) => None,
    }
}

/// One POST to make: an event for the webhooks of one app, URL and person.
#[derive(Debug)]
pub(crate) struct Delivery {
    url: String,
    /// The app whose webhooks matched (one URL per app).
    client_id: String,
    payload: Value,
}

/// The deliveries `events` cause, decided on `site` as it is now: call it before a deletion and after any
/// other write. Each event goes once to each (URL, person) whose webhooks match it, listing their ids in
/// `matchedWebhookIds`, with the issue rendered as that person sees it.
pub(crate) fn plan(shared: &Shared, site: &Site, events: &[Event]) -> Vec<Delivery> {
    if events.is_empty() {
        return Vec::new();
    }
    let now = shared.now_ms();
    let hooks: Vec<Webhook> = lock(&shared.webhooks)
        .hooks
        .iter()
        .filter(|h| h.expires > now)
        .cloned()
        .collect();
    if hooks.is_empty() {
        return Vec::new();
    }
    let catalog = site.jql_catalog();
    let matchers: Vec<Option<Matcher>> = hooks
        .iter()
        .map(|hook| {
            let account = site.person(hook.person).account_id.clone();
            let mut context = EvalContext::at(Timestamp(now));
            context.current_user = Some(&account);
            context.groups = Some(site);
            jql::parse(&hook.jql)
                .ok()
                .and_then(|q| Matcher::compile(&q, &catalog, &context).ok())
        })
        .collect();
    let mut deliveries = Vec::new();
    for event in events {
        // (url, person) → the app and the matched ids, in registration order.
        let mut targets: Vec<(&str, PersonIdx, &str, Vec<u64>)> = Vec::new();
        for (hook, matcher) in hooks.iter().zip(&matchers) {
            let Some(matcher) = matcher else { continue };
            let wanted = hook.events.iter().any(|e| e == event.name);
            let fields_ok = event.name != "jira:issue_updated"
                || hook
                    .field_ids
                    .as_ref()
                    .is_none_or(|f| event.fields.iter().any(|c| f.contains(c)));
            // Every issue the event names must be one the hook's person may browse (a link event names both
            // ends), and one of them must match the hook's filter.
            let visible = event
                .issues
                .iter()
                .chain(&event.mentions)
                .all(|&i| site.can_browse(hook.person, i))
                && event.issues.iter().any(|&i| matcher.matches(&site.view(i)));
            if wanted && fields_ok && visible {
                match targets
                    .iter_mut()
                    .find(|t| t.0 == hook.url && t.1 == hook.person)
                {
                    Some(t) => t.3.push(hook.id),
                    None => targets.push((&hook.url, hook.person, &hook.client_id, vec![hook.id])),
                }
            }
        }
        for (url, person, client_id, ids) in targets {
            let mut payload = event.payload.clone();
            if let Some(idx) = event.subject {
                // As the webhook's person sees it: links to issues they cannot browse are left out.
                payload["issue"] = to_value(
                    Renderer::new(site, Some(person)).issue(idx, &FieldSelection::navigable()),
                );
            }
            payload["matchedWebhookIds"] = json!(ids);
            deliveries.push(Delivery {
                url: url.to_owned(),
                client_id: client_id.to_owned(),
                payload,
            });
        }
    }
    deliveries
}

/// Starts a background task per delivery.
pub(crate) fn send(shared: &Shared, deliveries: Vec<Delivery>) {
    let controls = shared.controls().webhooks;
    for Delivery {
        url,
        client_id,
        payload,
    } in deliveries
    {
        let identifier = {
            let mut store = lock(&shared.webhooks);
            store.next_delivery += 1;
            format!("jira-sim-{}", store.next_delivery)
        };
        let secret = lock(&shared.auth).app_secret(&client_id).map(str::to_owned);
        let duplicate = shared.chance(controls.duplicate_probability);
        let client = if controls.trust_any_certificate {
            shared.http_any_certificate.clone()
        } else {
            shared.http.clone()
        };
        let stats = Arc::clone(&shared.stats);
        let controls = controls.clone();
        tokio::spawn(async move {
            let attempt = Attempt {
                url: &url,
                payload: &payload,
                identifier: &identifier,
                secret: secret.as_deref(),
            };
            deliver(&client, &stats, &attempt, &controls, duplicate).await;
        });
    }
}

/// One delivery, as each attempt sends it.
struct Attempt<'a> {
    url: &'a str,
    payload: &'a Value,
    identifier: &'a str,
    /// The app's client secret, which signs the attempt's `Authorization` JWT.
    secret: Option<&'a str>,
}

async fn deliver(
    client: &reqwest::Client,
    stats: &std::sync::Mutex<super::limits::Stats>,
    attempt: &Attempt<'_>,
    controls: &WebhookControls,
    duplicate: bool,
) {
    let times = if duplicate { 2 } else { 1 };
    for _ in 0..times {
        let mut backoff = controls.backoff_ms;
        for retry in 0..controls.max_attempts.max(1) {
            let mut request = client
                .post(attempt.url)
                .timeout(Duration::from_millis(controls.timeout_ms.max(1)))
                .header("X-Atlassian-Webhook-Identifier", attempt.identifier)
                .header("X-Atlassian-Webhook-Retry", retry.to_string())
                .json(attempt.payload);
            if let Some(secret) = attempt.secret {
                request = request.bearer_auth(signed_jwt(secret, unix_seconds()));
            }
            let ok = request.send().await.is_ok_and(|r| r.status().is_success());
            lock(stats).delivery(ok);
            if ok {
                break;
            }
            if retry + 1 < controls.max_attempts {
                tokio::time::sleep(Duration::from_millis(backoff)).await;
                backoff = backoff.saturating_mul(2);
            }
        }
    }
}

/// How long a delivery's JWT is valid.
const JWT_LIFETIME_S: u64 = 180;

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The JWT Jira puts in a delivery's `Authorization: Bearer` header for OAuth 2.0 apps: HS256 with the app's
/// client secret, issued now, valid for three minutes and named by a random `jti`, so that each attempt
/// (retries and duplicates too) carries a token of its own, which a receiver may accept once.
pub(crate) fn signed_jwt(secret: &str, now_s: u64) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let mut claims =
        json!({ "iss": "jira-sim", "iat": now_s, "exp": now_s.saturating_add(JWT_LIFETIME_S) });
    // Without randomness there is no `jti`: the token itself, different each second, names it.
    let mut jti = [0u8; 16];
    if getrandom::fill(&mut jti).is_ok() {
        claims["jti"] = json!(URL_SAFE_NO_PAD.encode(jti));
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{claims}");
    // HMAC accepts keys of any length.
    let signature = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map(|mut mac| {
            mac.update(signed.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default();
    format!("{signed}.{signature}")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registration {
    url: String,
    webhooks: Vec<Details>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    #[serde(default)]
    events: Vec<String>,
    jql_filter: Option<String>,
    field_ids_filter: Option<Vec<String>>,
}

fn app_only(caller: &Caller) -> ApiResult<()> {
    caller.require("manage:jira-webhook").map_err(|_| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Only Connect and OAuth 2.0 apps with the manage:jira-webhook scope can use this operation.",
        )
    })
}

pub(crate) async fn register(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        app_only(&caller)?;
        let request: Registration = json_body(&body)?;
        if url::Url::parse(&request.url).is_err() {
            return Err(ApiError::bad_request("The webhook URL is not valid."));
        }
        let now = shared.now_ms();
        let site = shared.site();
        let catalog = site.jql_catalog();
        let mut context = EvalContext::at(Timestamp(now));
        context.current_user = Some(&caller.account_id);
        context.groups = Some(&*site);
        let mut store = lock(&shared.webhooks);
        let mine = |h: &&Webhook| h.client_id == caller.client_id;
        if store
            .hooks
            .iter()
            .filter(mine)
            .any(|h| h.url != request.url)
        {
            return Err(ApiError::bad_request(
                "Only a single URL per app is allowed to be registered.",
            ));
        }
        let mut results = Vec::new();
        for details in &request.webhooks {
            let mut errors: Vec<String> = Vec::new();
            if details.events.is_empty() {
                errors.push("At least one event is required.".into());
            }
            for e in &details.events {
                if !EVENTS.contains(&e.as_str()) {
                    errors.push(format!("Unsupported event: {e}"));
                }
            }
            let jql = details.jql_filter.clone().unwrap_or_default();
            match jql::parse(&jql) {
                Err(e) => errors.push(e.to_string()),
                Ok(q) if q.clause.is_none() => {
                    errors.push("The JQL filter must not be empty.".into());
                }
                Ok(q) => {
                    if let Err(obstacles) = Matcher::compile(&q, &catalog, &context) {
                        errors.extend(obstacles.iter().map(ToString::to_string));
                    }
                }
            }
            if store.hooks.iter().filter(mine).count() >= MAX_PER_APP {
                errors.push(format!(
                    "An app can register at most {MAX_PER_APP} webhooks."
                ));
            }
            if errors.is_empty() {
                store.next_id += 1;
                let id = store.next_id;
                store.hooks.push(Webhook {
                    id,
                    client_id: caller.client_id.clone(),
                    person: caller.person,
                    url: request.url.clone(),
                    events: details.events.clone(),
                    jql,
                    field_ids: details.field_ids_filter.clone(),
                    expires: now + LIFETIME_MS,
                });
                results.push(json!({ "createdWebhookId": id }));
            } else {
                results.push(json!({ "errors": errors }));
            }
        }
        Ok(costed(
            StatusCode::OK,
            json!({ "webhookRegistrationResult": results }),
            0,
        ))
    })
}

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(|| {
        app_only(&caller)?;
        let q = q.as_deref();
        let start = usize::try_from(query_int(q, "startAt")?.unwrap_or(0).max(0)).unwrap_or(0);
        let max = usize::try_from(query_int(q, "maxResults")?.unwrap_or(100).clamp(1, 100))
            .unwrap_or(100);
        let store = lock(&shared.webhooks);
        let mine: Vec<&Webhook> = store
            .hooks
            .iter()
            .filter(|h| h.client_id == caller.client_id)
            .collect();
        let values: Vec<Value> = mine
            .iter()
            .skip(start)
            .take(max)
            .map(|h| {
                let mut v = json!({ "id": h.id, "url": h.url, "jqlFilter": h.jql, "events": h.events, "expirationDate": h.expires });
                if let Some(f) = &h.field_ids {
                    v["fieldIdsFilter"] = json!(f);
                }
                v
            })
            .collect();
        let body = json!({
            "maxResults": max,
            "startAt": start,
            "total": mine.len(),
            "isLast": start + values.len() >= mine.len(),
            "values": values,
        });
        Ok(costed(StatusCode::OK, body, 0))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ids {
    webhook_ids: Vec<u64>,
}

pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        app_only(&caller)?;
        let ids: Ids = json_body(&body)?;
        lock(&shared.webhooks)
            .hooks
            .retain(|h| !(h.client_id == caller.client_id && ids.webhook_ids.contains(&h.id)));
        Ok(StatusCode::ACCEPTED.into_response())
    })
}

pub(crate) async fn refresh(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    respond(|| {
        app_only(&caller)?;
        let ids: Ids = json_body(&body)?;
        let expires = shared.now_ms() + LIFETIME_MS;
        for h in &mut lock(&shared.webhooks).hooks {
            if h.client_id == caller.client_id && ids.webhook_ids.contains(&h.id) {
                h.expires = expires;
            }
        }
        Ok(costed(
            StatusCode::OK,
            json!({ "expirationDate": expires }),
            0,
        ))
    })
}
