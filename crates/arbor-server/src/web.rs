//! The board: plain ES modules, CSS and one HTML page, compiled into the binary (no build step, no CDN).
//! Every file is listed here once; the page at `/` loads the rest from `/assets/`.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// `(name, content type, content)` of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "board.css",
        "text/css; charset=utf-8",
        include_str!("../web/board.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../web/favicon.svg"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/api.js"),
    ),
    (
        "board.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/board.js"),
    ),
    (
        "check.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/check.js"),
    ),
    (
        "combobox.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/combobox.js"),
    ),
    (
        "columns.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/columns.js"),
    ),
    (
        "dialog.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/dialog.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/dom.js"),
    ),
    (
        "generators.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/generators.js"),
    ),
    (
        "grid.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/grid.js"),
    ),
    (
        "history.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/history.js"),
    ),
    (
        "list.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/list.js"),
    ),
    (
        "notices.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/notices.js"),
    ),
    (
        "permissions.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/permissions.js"),
    ),
];

/// `GET /`: the board's page.
pub async fn index() -> Response {
    asset_response(
        "text/html; charset=utf-8",
        include_str!("../web/index.html"),
    )
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, kind, body)| asset_response(kind, body))
        .ok_or_else(|| ApiError::not_found("there is no such file"))
}

fn asset_response(kind: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Revalidated on every load: a new binary's files are used at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
