//! Web hardening: CSRF, injection strings, malformed and oversized bodies, security headers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Calls, spawn, spawn_sites};

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_our_origin() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let url = me.url("/api/v1/structures");
    // A create request carrying these headers.
    let create = |headers: &[(&str, &str)]| {
        let mut request = me.http.post(&url).json(&json!({"name": "x"}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let without = create(&[]).await.unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let problem: Value = without.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/csrf");
    for refused in [
        vec![("x-csrf-token", "guess")],
        vec![
            ("x-csrf-token", me.csrf.as_str()),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![
            ("x-csrf-token", me.csrf.as_str()),
            ("origin", "https://evil.example"),
        ],
    ] {
        let response = create(&refused).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{refused:?}");
    }
    let (_, list) = me.get("/api/v1/structures").await;
    assert_eq!(list, json!([]), "nothing was created");
    let ok = create(&[
        ("x-csrf-token", me.csrf.as_str()),
        ("origin", app.base.as_str()),
    ])
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    app.stop().await;
}

const INJECTIONS: [&str; 5] = [
    "'; DROP TABLE structures; --",
    "1 OR 1=1",
    "\" OR \"\"=\"",
    "x'); DELETE FROM audit_log; --",
    "%27%20OR%201%3D1",
];

#[tokio::test]
async fn injection_strings_in_every_parameter_are_harmless() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Kept").await;
    for text in INJECTIONS {
        let made = me.create(text).await;
        let (_, described) = me.get(&format!("/api/v1/structures/{made}")).await;
        assert_eq!(described["name"], text, "stored as text");
        let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        for path in [
            format!("/api/v1/structures/{encoded}"),
            format!("/api/v1/structures/{id}/export?format={encoded}"),
            format!("/api/v1/structures/{id}/history?after={encoded}"),
        ] {
            let (status, problem) = me.get(&path).await;
            assert!(status.is_client_error(), "{path}: {status}");
            assert!(problem["detail"].is_string(), "{path}: {problem}");
        }
        let version = me.version(id).await;
        let (status, _) = me
            .post(&format!("/api/v1/structures/{id}/generators"),
                json!({"config": {"kind": "insert_jql", "jql": text}, "at": {"under": {"parent": null, "at": "last"}}, "based_on": version}))
            .await;
        assert!(status.is_client_error() || status.is_success(), "{status}");
    }
    let (_, list) = me.get("/api/v1/structures").await;
    assert_eq!(list.as_array().unwrap().len(), 1 + INJECTIONS.len());
    assert!(app.store.verify_audit().await.unwrap().fault.is_none());
    app.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_clear_problems() {
    let app = spawn_sites(1, |config| config.limits.body_bytes = 4096).await;
    let me = app.sign_in("admin").await;
    let url = me.url("/api/v1/structures");
    for (body, content_type, expected) in [
        ("{\"name\": ", "application/json", StatusCode::BAD_REQUEST),
        (
            "{\"name\": 7}",
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "{\"name\": \"x\", \"owner\": \"me\"}",
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "name=x",
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let response = me
            .http
            .post(&url)
            .header("x-csrf-token", &me.csrf)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().len() > 10, "{problem}");
    }
    let huge = json!({"name": "x".repeat(10_000)}).to_string();
    let response = me
        .http
        .post(&url)
        .header("x-csrf-token", &me.csrf)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let (status, problem) = me.post("/api/v1/structures", json!({"name": "   "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["detail"], "the name must not be empty");
    app.stop().await;
}

#[tokio::test]
async fn wrong_methods_get_problems_too() {
    let app = spawn().await;
    let client = app.client();
    let problem = |response: reqwest::Response| async move {
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        response.json::<Value>().await.unwrap()
    };
    for (method, path, allowed) in [
        (Method::DELETE, "/api/v1/structures", "GET,HEAD,POST"),
        (Method::GET, "/auth/logout", "POST"),
        (Method::PUT, "/healthz", "GET,HEAD"),
    ] {
        let response = client
            .request(method.clone(), format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.headers()["allow"], allowed, "{path}");
        let problem = problem(response).await;
        assert_eq!(problem["type"], "/problems/method-not-allowed");
        assert_eq!(
            problem["detail"],
            format!(
                "{method} is not allowed at this address; the Allow header lists the methods it accepts"
            )
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn security_headers_are_on_every_answer() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/healthz"),
        (Method::GET, "/api/v1/structures"),
        (Method::GET, "/nowhere"),
        (Method::POST, "/api/v1/structures"),
    ] {
        let response = me
            .http
            .request(method.clone(), me.url(path))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let hsts = headers["strict-transport-security"].to_str().unwrap();
        let max_age: u64 = hsts
            .trim_start_matches("max-age=")
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(max_age >= 31_536_000, "{path}: {hsts}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers.contains_key("x-request-id"));
        if path.starts_with("/api") || response.status().is_client_error() {
            assert_eq!(headers["cache-control"], "no-store", "{method} {path}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_sites(1, |config| {
        config.metrics_token = Some("scraper-token".to_owned().into());
    })
    .await;
    let me = app.sign_in("admin").await;
    me.create("Counted").await;
    let http = app.client();
    let health: Value = http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = http
        .get(format!("{}/metrics", app.base))
        .bearer_auth("scraper-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("arbor_http_requests_total{method=\"POST\",route=\"/api/v1/structures\",status=\"201\"} 1"), "{metrics}");
    assert!(metrics.contains("arbor_jira_requests_total{tenant="));
    assert!(metrics.contains("arbor_http_request_duration_seconds_bucket"));
    // A stopping server says so, in its own words (not turned into a generic problem).
    app.server.as_ref().unwrap().state.begin_shutdown();
    let stopping = http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stopping.status(), StatusCode::SERVICE_UNAVAILABLE);
    let said: Value = stopping.json().await.unwrap();
    assert_eq!(said["status"], "shutting down");
    app.stop().await;
}

#[tokio::test]
async fn metrics_need_the_configured_bearer_token() {
    let app = spawn_sites(1, |config| {
        config.metrics_token = Some("scraper-token".to_owned().into());
    })
    .await;
    let http = app.client();
    let scrape = |token: Option<&'static str>| {
        let mut request = http.get(format!("{}/metrics", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status() }
    };
    // Even from this machine (a reverse proxy on the host would make every visitor "local").
    assert_eq!(scrape(None).await, StatusCode::FORBIDDEN);
    assert_eq!(scrape(Some("scraper-tokeN")).await, StatusCode::FORBIDDEN);
    assert_eq!(scrape(Some("scraper-token")).await, StatusCode::OK);
    app.stop().await;
    // Without a token, metrics are off.
    let app = spawn().await;
    let status = app
        .client()
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_per_person_answer_429_with_retry_after() {
    let app = spawn_sites(1, |config| config.limits.per_person_per_minute = 5).await;
    let me = app.sign_in("admin").await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = me
            .http
            .get(me.url("/api/v1/structures"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["type"], "/problems/rate-limited");
        }
    }
    // The sign-in's session request took one; the rest of the minute's budget, then refusals.
    assert!(statuses.contains(&StatusCode::OK));
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn sessions_end_when_idle() {
    let app = spawn_sites(1, |config| {
        config.sessions.idle = std::time::Duration::from_millis(700);
    })
    .await;
    let me = app.sign_in("admin").await;
    let (status, _) = me.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let (status, problem) = me.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn slow_jira_is_cut_off_by_the_request_timeout() {
    let app = spawn_sites(1, |config| {
        config.limits.request_timeout = std::time::Duration::from_millis(800);
    })
    .await;
    let me = app.sign_in("admin").await;
    let id = me.create("Slow").await;
    me.add_generator(id, json!({"kind": "insert_jql", "jql": "issuetype = Epic"}))
        .await;
    let mut controls = crate::quiet();
    controls.latency_ms = 1500;
    app.sims[0].handle().set_controls(controls);
    let started = std::time::Instant::now();
    let (status, problem) = me
        .post(&format!("/api/v1/structures/{id}/rows"), json!({}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(problem["type"], "/problems/timeout");
    assert!(started.elapsed() < std::time::Duration::from_millis(1400));
    app.sims[0].handle().set_controls(crate::quiet());
    app.stop().await;
}

#[tokio::test]
async fn bidirectional_overrides_are_refused_in_every_stored_name_and_text() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let id = me.create("Plans").await;
    let version = me.version(id).await;
    // Displays as "invoiceexe.pdf".
    let spoof = "invoice\u{202E}fdp.exe";
    let refused = |problem: &Value, what: &str, code: &str| {
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!(
                "{what} must not contain the bidirectional formatting character U+{code}"
            )),
            "{detail}"
        );
    };
    let (status, problem) = me.post("/api/v1/structures", json!({"name": spoof})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    refused(&problem, "the name", "202E");
    let (status, problem) = me
        .post(
            "/api/v1/structures",
            json!({"name": "Fine", "description": "a\u{2067}b"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    refused(&problem, "the description", "2067");
    for (body, what, code) in [
        (
            json!({"name": spoof, "based_on": version}),
            "the name",
            "202E",
        ),
        (
            json!({"description": "x\u{202A}y", "based_on": version}),
            "the description",
            "202A",
        ),
    ] {
        let (status, problem) = me
            .call(
                Method::PATCH,
                &format!("/api/v1/structures/{id}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        refused(&problem, what, code);
    }
    let (status, problem) = me
        .post(
            &format!("/api/v1/structures/{id}/views"),
            json!({"name": "v\u{2066}1", "columns": [{"kind": "field", "field": "status"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    refused(&problem, "the name", "2066");
    for (item, what, code) in [
        (json!({"folder": spoof}), "folder name", "202E"),
        (json!({"memo": "line\n\u{202D}next"}), "memo text", "202D"),
    ] {
        let (status, problem) = me
            .post(
                &format!("/api/v1/structures/{id}/edits"),
                json!({"based_on": version, "edit": {"op": "add", "at": {"under": {"parent": null, "at": "last"}},
                    "rows": [{"depth": 0, "item": item}]}}),
            )
            .await;
        assert!(status.is_client_error(), "{status}: {problem}");
        refused(&problem, what, code);
    }
    // Queries and formulas too: what someone with Automate reviews must read as it runs.
    let (status, problem) = me
        .post(
            &format!("/api/v1/structures/{id}/generators"),
            json!({"config": {"kind": "insert_jql", "jql": "summary ~ \"invoice\u{202E}fdp.exe\""},
                   "at": {"under": {"parent": null, "at": "last"}}, "based_on": version}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    refused(&problem, "the generator", "202E");
    let (status, problem) = me
        .post(
            &format!("/api/v1/structures/{id}/views"),
            json!({"name": "v", "columns": [{"kind": "formula", "formula": "\"a\u{2068}b\""}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    refused(&problem, "the view's columns", "2068");
    // Nothing was stored, and the structure is as it was.
    let (_, list) = me.get("/api/v1/structures").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (_, described) = me.get(&format!("/api/v1/structures/{id}")).await;
    assert_eq!(
        (&described["name"], &described["version"]),
        (&json!("Plans"), &json!(version)),
        "{described}"
    );
    let (_, views) = me.get(&format!("/api/v1/structures/{id}/views")).await;
    assert_eq!(views, json!([]));
    // Right-to-left writing with its implicit marks is welcome.
    let rtl = "\u{5EA}\u{5D5}\u{5DB}\u{5E0}\u{5D9}\u{5EA} Q3\u{200F}";
    let made = me.create(rtl).await;
    let (_, described) = me.get(&format!("/api/v1/structures/{made}")).await;
    assert_eq!(described["name"], rtl);
    app.stop().await;
}

#[tokio::test]
async fn a_session_cookie_is_accepted_only_as_the_server_wrote_it() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let cookies = me.cookies();
    let value = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("__Host-arbor="))
        .unwrap();
    let (tenant, token) = value.split_once('.').unwrap();
    let plain = app.client();
    let with_cookie = |value: String| {
        plain
            .get(format!("{}/api/v1/structures", app.base))
            .header("cookie", format!("__Host-arbor={value}"))
            .send()
    };
    let exact = with_cookie(format!("{tenant}.{token}")).await.unwrap();
    assert_eq!(exact.status(), StatusCode::OK);
    for other in [
        format!("+{tenant}"),
        format!("0{tenant}"),
        format!("00{tenant}"),
        format!(" {tenant}"),
        format!("{tenant} "),
    ] {
        let response = with_cookie(format!("{other}.{token}")).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "tenant {other:?}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_person_who_spent_their_jira_calls_waits_while_others_do_not() {
    let app = spawn_sites(1, |config| {
        config.limits.jira_calls_per_person_per_minute = 3;
    })
    .await;
    let (dev, admin) = (app.sign_in("dev").await, app.sign_in("admin").await);
    let keys: Vec<String> = app.sims[0].handle().with_site(|site| {
        (0..site.issues.len())
            .map(|i| site.issue(u32::try_from(i).unwrap()).key.to_string())
            .take(10)
            .collect()
    });
    // Each lookup of keys not asked before costs one Jira call: three, then the budget is spent.
    for key in &keys[..3] {
        let (status, found) = dev.get(&format!("/api/v1/jira/issue-ids?keys={key}")).await;
        assert_eq!(status, StatusCode::OK, "{found}");
    }
    let spent =
        || app.sims[0].handle().stats()["people"][dev.account.as_str()]["requests"].as_u64();
    let calls = spent();
    for path in [
        format!("/api/v1/jira/issue-ids?keys={}", keys[3]),
        "/api/v1/jira/people?query=ad".to_owned(),
    ] {
        let response = dev.http.get(dev.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        let wait: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=21).contains(&wait), "{wait}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/rate-limited");
        assert!(
            problem["detail"].as_str().unwrap().contains("Jira"),
            "{problem}"
        );
    }
    assert_eq!(
        spent(),
        calls,
        "no Jira call was made for the refused requests"
    );
    // What needs no Jira call still works; another person's budget is their own.
    let (status, _) = dev.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::OK);
    let (status, found) = admin
        .get(&format!("/api/v1/jira/issue-ids?keys={}", keys[3]))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    // A window of a structure computed from Jira is refused too while the budget is spent.
    let id = dev.create("Waiting").await;
    dev.add_generator(id, json!({"kind": "insert_jql", "jql": "issuetype = Epic"}))
        .await;
    let (status, problem) = dev
        .post(&format!("/api/v1/structures/{id}/rows"), json!({}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    app.stop().await;
}
