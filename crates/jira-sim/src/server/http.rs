//! The plumbing every Jira route shares: Jira's error bodies, the authenticated caller, the points a response
//! costs, and the middleware that authenticates, delays, injects faults, limits and counts.
//!
//! Invariant: a response's points are 1 for the request plus what the handler reports in a [`Cost`] extension
//! (1 per issue, 2 per user, group or permission object); refused requests (401, 429) cost nothing, and an
//! injected fault costs 1.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::limits::{FaultKind, Refusal};
use super::{Controls, Shared, auth, lock};
use crate::model::PersonIdx;

/// A Jira error: `{"errorMessages": [...], "errors": {...}}` with a status.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub messages: Vec<String>,
    pub errors: Map<String, Value>,
    /// For a 429: `Retry-After` and `RateLimit-Reason`.
    pub refusal: Option<Refusal>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::with_messages(status, vec![message.into()])
    }

    pub(crate) fn with_messages(status: StatusCode, messages: Vec<String>) -> Self {
        Self {
            status,
            messages,
            errors: Map::new(),
            refusal: None,
        }
    }

    /// Jira's 429.
    pub(crate) fn rate_limited(refusal: Refusal) -> Self {
        Self {
            refusal: Some(refusal),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.")
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 400 about one field: `errors: {field: message}`.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Map::new();
        errors.insert(field.to_owned(), Value::String(message.into()));
        Self {
            errors,
            ..Self::with_messages(StatusCode::BAD_REQUEST, Vec::new())
        }
    }

    pub(crate) fn issue_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Issue does not exist or you do not have permission to see it.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({ "errorMessages": self.messages, "errors": self.errors })),
        )
            .into_response();
        if let Some(refusal) = self.refusal {
            if let Ok(v) = HeaderValue::from_str(&refusal.retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
                .headers_mut()
                .insert("RateLimit-Reason", HeaderValue::from_static(refusal.reason));
        }
        response
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The person a request acts as, and the OAuth app it came through.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub person: PersonIdx,
    pub account_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl Caller {
    /// 401 as api.atlassian.com answers when the token lacks a scope.
    pub(crate) fn require(&self, scope: &str) -> ApiResult<()> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized; scope does not match",
            ))
        }
    }
}

/// Object points a response costs beyond the request itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost(pub u64);

/// A JSON response with its object points.
pub(crate) fn costed(status: StatusCode, body: impl serde::Serialize, points: u64) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.extensions_mut().insert(Cost(points));
    response
}

/// A 429 as Jira sends it, with the limit headers.
fn too_many(refusal: Refusal, headers: HeaderMap) -> Response {
    let mut response = ApiError::rate_limited(refusal).into_response();
    response.headers_mut().extend(headers);
    response
}

/// `GET /rest/api/3/issue/{issueIdOrKey}` → `GET /rest/api/3/issue/{issueIdOrKey}` for either prefix.
fn endpoint_name(method: &Method, matched: &str) -> String {
    let path = match matched.strip_prefix("/ex/jira/{cloudId}") {
        Some(rest) => rest,
        None => matched,
    };
    format!("{method} {path}")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The longest response time the controls can ask for (a day): longer would overflow the clock on some systems.
const MAX_LATENCY_MS: u64 = 86_400_000;

/// Authentication, latency, faults, limits, points and statistics for every Jira route.
pub(crate) async fn api_layer(
    State(shared): State<Arc<Shared>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let endpoint = endpoint_name(
        req.method(),
        matched.as_ref().map_or("?", MatchedPath::as_str),
    );
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/ex/jira/") {
        let cloud = rest.split('/').next().unwrap_or("");
        if cloud != shared.cloud_id {
            return not_found().await;
        }
    }
    let Some(caller) = bearer(req.headers()).and_then(|t| auth::access_caller(&shared, t)) else {
        lock(&shared.stats).record(&endpoint, None, 0, StatusCode::UNAUTHORIZED);
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "code": 401, "message": "Unauthorized" })),
        )
            .into_response();
    };
    let controls = shared.controls();
    // Controls come from the admin API: saturating, so that absurd values cannot overflow.
    let delay = controls
        .latency_ms
        .saturating_add(if controls.jitter_ms > 0 {
            shared.random_below(controls.jitter_ms.saturating_add(1))
        } else {
            0
        });
    // Jira's response time: an answer leaves no sooner than `delay` after its request arrived, the simulator's
    // own work included (as Jira's processing is part of the latency its clients see).
    let answer_at = tokio::time::Instant::now() + Duration::from_millis(delay.min(MAX_LATENCY_MS));
    let response = answer(&shared, &controls, &endpoint, &caller, req, next).await;
    tokio::time::sleep_until(answer_at).await;
    response
}

/// Quota, faults, the route itself, points and statistics of one authenticated call.
async fn answer(
    shared: &Shared,
    controls: &Controls,
    endpoint: &str,
    caller: &Caller,
    mut req: Request,
    next: Next,
) -> Response {
    let record = |points: u64, status: StatusCode| {
        lock(&shared.stats).record(
            endpoint,
            Some((&caller.account_id, &caller.client_id)),
            points,
            status,
        );
    };
    let now = shared.now_ms();
    let checked = lock(&shared.limits).admit(&controls.quota, &caller.client_id, now);
    let headers = checked.headers();
    if let Some(refusal) = checked.refusal {
        record(0, StatusCode::TOO_MANY_REQUESTS);
        return too_many(refusal, headers);
    }
    let fault = controls
        .faults
        .iter()
        .find(|rule| rule.applies_to(endpoint) && shared.chance(rule.probability))
        .map(|rule| rule.kind.clone());
    if let Some(kind) = fault {
        lock(&shared.limits).charge(&caller.client_id, 1);
        match kind {
            FaultKind::Status { status } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                record(1, status);
                return ApiError::new(status, "Internal server error").into_response();
            }
            FaultKind::Timeout { ms } => {
                record(1, StatusCode::GATEWAY_TIMEOUT);
                // Bounded: at most two minutes, then a gateway timeout like Atlassian's edge sends.
                tokio::time::sleep(Duration::from_millis(ms.min(120_000))).await;
                return ApiError::new(StatusCode::GATEWAY_TIMEOUT, "Gateway timeout")
                    .into_response();
            }
            FaultKind::Drop => {
                record(1, StatusCode::BAD_GATEWAY);
                return dropped();
            }
        }
    }
    req.extensions_mut().insert(caller.clone());
    let mut response = next.run(req).await;
    let points = 1 + response.extensions().get::<Cost>().map_or(0, |c| c.0);
    let remaining = lock(&shared.limits).charge(&caller.client_id, points);
    record(points, response.status());
    response.headers_mut().extend(headers);
    // Without a quota there is nothing to count down: no header, rather than a "0 left" that stalls clients.
    if let Some(Ok(v)) = remaining.map(|r| HeaderValue::from_str(&r.to_string())) {
        response.headers_mut().insert("X-RateLimit-Remaining", v);
    }
    response
}

/// A response whose body fails at once: hyper then closes the connection without a complete response.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped by fault injection",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
    response
}

/// The admin API accepts the admin token as `Bearer <token>` or as the password of Basic auth.
pub(crate) async fn admin_layer(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    if auth::is_admin(&shared, req.headers()) {
        next.run(req).await
    } else {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "The admin API needs the simulator's admin token.",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jira-sim\""),
        );
        response
    }
}

pub(crate) async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "Not found").into_response()
}

/// Parses a JSON request body, answering Jira's 400 when it is not valid.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "Invalid request payload. Refer to the REST API documentation and try again. ({e})"
        ))
    })
}

/// The repeated and comma-separated values of a query parameter.
pub(crate) fn query_values(query: Option<&str>, name: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The first value of a query parameter.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query_values(query, name).into_iter().next()
}

/// An integer query parameter, or 400 naming it.
pub(crate) fn query_int(query: Option<&str>, name: &str) -> ApiResult<Option<i64>> {
    match query_value(query, name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("The '{name}' parameter must be a number."))
        }),
    }
}

/// Runs a handler's body: its error becomes the Jira-shaped error response.
pub(crate) fn respond(run: impl FnOnce() -> ApiResult<Response>) -> Response {
    run().unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_named_alike_under_both_prefixes() {
        assert_eq!(
            endpoint_name(
                &Method::GET,
                "/ex/jira/{cloudId}/rest/api/3/issue/{issueIdOrKey}"
            ),
            "GET /rest/api/3/issue/{issueIdOrKey}"
        );
        assert_eq!(
            endpoint_name(&Method::POST, "/rest/api/3/search/jql"),
            "POST /rest/api/3/search/jql"
        );
    }

    #[test]
    fn query_parameters_repeat_and_parse() {
        let q = Some("fields=summary&fields=status%2Cparent&maxResults=7&bad=x");
        assert_eq!(query_values(q, "fields"), ["summary", "status,parent"]);
        assert_eq!(query_int(q, "maxResults").unwrap(), Some(7));
        assert!(query_int(q, "bad").is_err());
        assert_eq!(query_value(None, "jql"), None);
        let body: Value = json_body(b"  ").unwrap();
        assert_eq!(body, json!({}));
        assert!(json_body::<Value>(b"{nope").is_err());
    }
}
