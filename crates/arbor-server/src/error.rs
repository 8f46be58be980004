//! The one error type of the HTTP layer. Every error leaves as `application/problem+json` (RFC 9457) with a
//! message written for the person reading it; internal failures are logged with the request id and answered
//! with a generic message, so no internal detail (SQL, paths, stored values) reaches a client.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use arbor_jira::client::JiraError;
use arbor_store::StoreError;

/// An error answer. `kind` becomes the problem `type` (`/problems/{kind}`), stable for clients to match on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub detail: String,
    /// Extra members of the problem object (for example a conflict's versions).
    pub extra: Map<String, Value>,
    pub retry_after: Option<Duration>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "sign-in-required",
            "sign in first: this request needs a signed-in session",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn too_many(retry_after: Duration, detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", detail);
        error.retry_after = Some(retry_after);
        error
    }

    /// A failure the client cannot do anything about. The cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server; it has been logged",
        )
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("/problems/{}", self.kind),
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(object) = body.as_object_mut() {
            object.extend(self.extra);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what, .. } => Self::not_found(format!("no such {what}")),
            StoreError::Conflict {
                expected, actual, ..
            } => Self::conflict(format!(
                "the structure changed since you loaded it (you had version {expected}, it is now at version {actual}); reload and try again"
            ))
            .with("current_version", json!(actual.get())),
            StoreError::Invalid(message) => Self::bad_request(message),
            other => Self::internal(&other),
        }
    }
}

impl From<JiraError> for ApiError {
    fn from(error: JiraError) -> Self {
        match error {
            JiraError::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "jira-sign-in-expired",
                "Jira no longer accepts your sign-in; sign in again",
            ),
            JiraError::Forbidden { .. } => {
                Self::forbidden("Jira refused this request for your account")
            }
            JiraError::NotFound => {
                Self::not_found("Jira has no such item, or does not show it to you")
            }
            JiraError::RateLimited { retry_after } => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "jira-rate-limited",
                    format!(
                        "Jira's rate limit for this site is reached; try again in {} s",
                        retry_after.as_secs().max(1)
                    ),
                );
                e.retry_after = Some(retry_after);
                e
            }
            JiraError::Unavailable { .. } => Self::new(
                StatusCode::BAD_GATEWAY,
                "jira-unavailable",
                "Jira is not answering right now, and no earlier data is available",
            ),
            JiraError::BadRequest { messages } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "jira-rejected",
                format!("Jira rejected the request: {}", messages.join("; ")),
            ),
            other @ (JiraError::Protocol(_) | JiraError::Config(_)) => Self::internal(&other),
        }
    }
}
