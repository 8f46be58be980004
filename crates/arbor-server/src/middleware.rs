//! What every request passes through, outermost first: a request id, the per-client rate limit, the timeout,
//! metrics, and the security headers on every answer (HSTS, CSP, no sniffing, no framing, no referrer, and
//! `Cache-Control: no-store` on everything but the static UI files). Errors axum answers by itself (405)
//! are turned into problems there too.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// The id of one request: in the `X-Request-Id` answer header, in logs and in audit entries.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// HSTS for two years, with subdomains (SPEC: at least one year).
const HSTS: &str = "max-age=63072000; includeSubDomains";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

pub async fn outer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut id = [0u8; 8];
    // Without randomness the id is all zeros: still a valid token, and requests keep working.
    let _ = getrandom::fill(&mut id);
    let id = id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().as_str().to_owned();
    let path = request.uri().path();
    let is_static = !path.starts_with("/api") && !path.starts_with("/auth");
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let limited = client.map(|c| state.limits.client(c));
    let response = match limited {
        Some(Err(error)) => error.into_response(),
        _ => {
            let timeout = state.config.limits.request_timeout;
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!(
                        "the request took longer than {} s and was stopped",
                        timeout.as_secs()
                    ),
                )
                .into_response(),
            }
        }
    };
    let status = response.status().as_u16();
    // Labelled by route pattern, not path: ids in paths would make one series per structure.
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let mut response = as_problem(response, &method);
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    if !is_static || status >= 400 {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    state
        .metrics
        .request(&method, &route, status, started.elapsed());
    response
}

/// Errors that axum answers by itself, outside our handlers — a method the route does not have (405), or any
/// other it may give — come as plain text; like every other error, they leave as problems. (Bodies are read by
/// our own extractors and the webhook handler, which answer 413 as problems themselves.)
fn as_problem(response: Response, method: &str) -> Response {
    let status = response.status();
    // Ours are JSON: problems, and the few JSON answers that are errors by design (`/readyz`'s 503).
    let is_ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value == "application/problem+json" || value == "application/json");
    if is_ours || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let problem = match status {
        // axum adds the `Allow` header itself, after this layer.
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method-not-allowed",
            format!(
                "{method} is not allowed at this address; the Allow header lists the methods it accepts"
            ),
        ),
        other => ApiError::new(
            other,
            "http",
            format!(
                "the request could not be handled ({})",
                other.canonical_reason().unwrap_or("error")
            ),
        ),
    };
    problem.into_response()
}

/// Runs inside routing (`route_layer`): hands the matched route pattern out to [`outer`] for the metrics.
pub async fn tag_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}
