//! The loader: the needs protocol against the simulator, caches per person, stale serving.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arbor_core::data::{FieldId, IssueData, Needs};
use arbor_core::ids::IssueId;
use arbor_jira::cache::{CacheConfig, Caches};
use arbor_jira::client::{JiraError, Tenants};
use arbor_jira::loader::{Loader, LoaderConfig};
use arbor_jira::plan::Limits;

use crate::{client, config, person, sim, sim_requests};

fn fields() -> BTreeSet<FieldId> {
    ["summary", "status", "assignee"]
        .map(FieldId::new)
        .into_iter()
        .collect()
}

/// A loader with empty caches and the usual pages and batches, straight to the simulator.
fn fresh_loader(sim: &jira_sim::server::RunningSim, tenants: &Tenants) -> Loader {
    Loader::new(
        client(sim, tenants, &config()),
        Caches::new(CacheConfig::default()),
        LoaderConfig::default(),
    )
}

#[tokio::test]
async fn a_round_of_several_queries_gives_each_its_own_issues() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let loader = fresh_loader(&sim, &tenants);
    let admin = person(&sim, "admin");
    let queries = [
        "project = CORE AND issuetype = Epic",
        "project = CORE AND issuetype = Story",
        "issuetype = Bug ORDER BY key",
        "project = CORE AND issuetype = Epic AND statusCategory = Done",
    ];
    let mut together = IssueData::new();
    let mut needs = Needs::default();
    needs.jql.extend(queries.map(String::from));
    let report = loader.load(&admin, &needs, &mut together).await.unwrap();
    assert!(report.requests >= queries.len() as u64);
    // The same ids, in the same order, as each query read on its own (without caches).
    for query in queries {
        let alone = fresh_loader(&sim, &tenants);
        let mut data = IssueData::new();
        let mut needs = Needs::default();
        needs.jql.insert(query.into());
        alone.load(&admin, &needs, &mut data).await.unwrap();
        assert_eq!(together.jql(query), data.jql(query), "{query}");
        assert!(!data.jql(query).unwrap().is_empty() || query.contains("Done"));
    }
}

#[tokio::test]
async fn a_cold_load_fetches_once_and_a_reopen_makes_no_calls() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let caches = Caches::new(CacheConfig::default());
    let loader = Loader::new(
        client(&sim, &tenants, &config()),
        caches,
        LoaderConfig::default(),
    );
    let admin = person(&sim, "admin");
    let epics = "project = CORE AND issuetype = Epic";

    // Round 1: the query.
    let mut data = IssueData::new();
    let mut needs = Needs::default();
    needs.jql.insert(epics.into());
    let first = loader.load(&admin, &needs, &mut data).await.unwrap();
    let ids = data.jql(epics).unwrap().to_vec();
    assert!(!ids.is_empty());
    assert_eq!(first.requests, 1);

    // Round 2: the epics' fields and their children, in one pass.
    let needs = Needs {
        issues: ids.iter().copied().collect(),
        fields: fields(),
        children: ids.iter().copied().collect(),
        ..Needs::default()
    };
    let second = loader.load(&admin, &needs, &mut data).await.unwrap();
    let children: usize = ids.iter().map(|&e| data.children(e).unwrap().len()).sum();
    assert!(children > 0);
    assert_eq!(
        second.requests as usize,
        1 + (ids.len() + children).div_ceil(100),
        "one children search, bulk fetches of 100"
    );
    for &epic in &ids {
        for &child in data.children(epic).unwrap() {
            assert!(
                data.issue(child)
                    .unwrap()
                    .has_field(&FieldId::new("summary"))
            );
        }
    }
    assert!(!second.stale);

    // Reopen: everything from the caches.
    let before = sim_requests(&sim);
    let mut again = IssueData::new();
    let mut round1 = Needs::default();
    round1.jql.insert(epics.into());
    let reopen = loader.load(&admin, &round1, &mut again).await.unwrap();
    let reopen2 = loader.load(&admin, &needs, &mut again).await.unwrap();
    // The children's fields, which the cold load fetched along with the lists, are the next round's need.
    let kids = Needs {
        issues: ids
            .iter()
            .flat_map(|&e| again.children(e).unwrap().to_vec())
            .collect(),
        fields: fields(),
        ..Needs::default()
    };
    let reopen3 = loader.load(&admin, &kids, &mut again).await.unwrap();
    assert_eq!(reopen.requests + reopen2.requests + reopen3.requests, 0);
    assert_eq!(sim_requests(&sim), before);
    assert_eq!(again.len(), data.len());
    assert!(reopen2.cache_hits > 0 && reopen2.age(loader.caches()).is_some());
    let counters = tenants.metrics.snapshot();
    assert!(counters.values().next().unwrap().cache_hits > 0);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn cached_fields_are_shared_only_with_people_jira_showed_the_issue_to() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let caches = Caches::new(CacheConfig::default());
    let loader = Loader::new(
        client(&sim, &tenants, &config()),
        caches,
        LoaderConfig::default(),
    );
    let (admin, dev) = (person(&sim, "admin"), person(&sim, "dev"));
    // Issues of CORE, some at the Internal security level (ids divisible by 10), and some of OPS.
    let mut wanted: BTreeSet<IssueId> = BTreeSet::new();
    for q in ["project = CORE", "project = OPS"] {
        let ids = loader
            .client()
            .search_ids(&admin.token, q, 5000)
            .await
            .unwrap();
        wanted.extend(ids.into_iter().take(40));
    }
    let needs = Needs {
        issues: wanted.clone(),
        fields: fields(),
        ..Needs::default()
    };
    let mut as_admin = IssueData::new();
    loader.load(&admin, &needs, &mut as_admin).await.unwrap();
    assert_eq!(as_admin.len(), wanted.len());

    // Dev has no visibility record yet: Jira is asked, and decides.
    let mut as_dev = IssueData::new();
    let report = loader.load(&dev, &needs, &mut as_dev).await.unwrap();
    assert!(report.requests >= 1);
    let hidden: Vec<IssueId> = wanted
        .iter()
        .copied()
        .filter(|&i| as_dev.is_hidden(i))
        .collect();
    assert!(!hidden.is_empty());
    assert!(hidden.iter().all(|&i| as_dev.issue(i).is_none()));
    assert!(as_dev.len() + hidden.len() == wanted.len());
    assert!(hidden.iter().any(|i| i.get() % 10 == 0) || hidden.len() >= 40);

    // Now both are known: neither asks again, and dev still sees nothing hidden.
    let mut again = IssueData::new();
    assert_eq!(
        loader
            .load(&dev, &needs, &mut again)
            .await
            .unwrap()
            .requests,
        0
    );
    assert!(
        hidden
            .iter()
            .all(|&i| again.is_hidden(i) && again.issue(i).is_none())
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn when_jira_is_down_the_last_good_data_is_served_stale_up_to_the_maximum_age() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let caches = Caches::new(CacheConfig {
        max_stale: Duration::from_secs(600),
        ..CacheConfig::default()
    });
    let mut quick = config();
    quick.retry.max_retries = 1;
    let loader = Loader::new(
        client(&sim, &tenants, &quick),
        caches.clone(),
        LoaderConfig::default(),
    );
    let admin = person(&sim, "admin");
    let query = "project = WEB";
    let mut needs = Needs::default();
    needs.jql.insert(query.into());
    let mut data = IssueData::new();
    loader.load(&admin, &needs, &mut data).await.unwrap();
    let ids: BTreeSet<IssueId> = data.jql(query).unwrap().iter().copied().take(150).collect();
    let fetch = Needs {
        issues: ids.clone(),
        fields: fields(),
        children: ids.clone(),
        ..Needs::default()
    };
    loader.load(&admin, &fetch, &mut data).await.unwrap();
    let children: Vec<IssueId> = ids
        .iter()
        .flat_map(|&i| data.children(i).unwrap().to_vec())
        .collect();
    assert!(!children.is_empty());
    sim.shutdown().await.unwrap();

    // Two minutes later (past the 60 s TTLs), Jira is gone.
    caches.advance_clock(Duration::from_secs(120));
    let mut stale = IssueData::new();
    let r1 = loader.load(&admin, &needs, &mut stale).await.unwrap();
    let r2 = loader.load(&admin, &fetch, &mut stale).await.unwrap();
    assert!(r1.stale && r2.stale);
    assert!(r2.age(&caches).unwrap() >= Duration::from_secs(120));
    assert_eq!(stale.jql(query), data.jql(query));
    assert!(ids.iter().all(|&i| stale.issue(i).is_some()));
    assert!(ids.iter().all(|&i| stale.children(i) == data.children(i)));
    // The children the lists name were fetched with them, and are served stale too.
    let kids = Needs {
        issues: children.iter().copied().collect(),
        fields: fields(),
        ..Needs::default()
    };
    assert!(loader.load(&admin, &kids, &mut stale).await.unwrap().stale);
    assert!(children.iter().all(|&i| stale.issue(i) == data.issue(i)));

    // Past the maximum age, it says Jira is unavailable.
    caches.advance_clock(Duration::from_secs(600));
    let mut none = IssueData::new();
    let outcome = loader.load(&admin, &needs, &mut none).await;
    assert!(
        matches!(outcome, Err(JiraError::Unavailable { .. })),
        "{outcome:?}"
    );
}

/// The requests a [`proxy`] saw, in order of arrival: `search` or `bulkfetch` (other calls are not listed).
type Seen = Arc<Mutex<Vec<&'static str>>>;

/// What a [`proxy`] does besides forwarding.
#[derive(Clone, Copy)]
enum Odd {
    Nothing,
    /// Answers `parent in (...)` searches with a 200 and this body.
    ChildrenAnswer(&'static str),
    /// Goes down (503 to everything) when a `parent in (...)` search asks for its second page.
    DownFromSecondChildrenPage,
}

/// A Jira in front of the simulator: it lists the searches and bulk fetches it receives, behaves as `odd`
/// says, and forwards everything else.
async fn proxy(sim: &jira_sim::server::RunningSim, odd: Odd) -> (url::Url, Seen) {
    use axum::body::{Body, to_bytes};
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Clone)]
    struct Proxy {
        base: String,
        odd: Odd,
        down: Arc<AtomicBool>,
        seen: Seen,
    }

    async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap();
        let kind = match parts.uri.path() {
            "/rest/api/3/search/jql" => Some("search"),
            "/rest/api/3/issue/bulkfetch" => Some("bulkfetch"),
            _ => None,
        };
        proxy.seen.lock().unwrap().extend(kind);
        let text = String::from_utf8_lossy(&bytes);
        let children_search = kind == Some("search") && text.contains("parent in");
        match proxy.odd {
            Odd::ChildrenAnswer(answer) if children_search => {
                return (StatusCode::OK, answer).into_response();
            }
            Odd::DownFromSecondChildrenPage
                if children_search && text.contains("nextPageToken") =>
            {
                proxy.down.store(true, Ordering::SeqCst);
            }
            _ => {}
        }
        if proxy.down.load(Ordering::SeqCst) {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let url = format!(
            "{}{}",
            proxy.base,
            parts.uri.path_and_query().map_or("", |p| p.as_str())
        );
        let mut forwarded = reqwest::Client::new()
            .request(parts.method, url)
            .body(bytes.to_vec());
        for (name, value) in &parts.headers {
            if name != axum::http::header::HOST {
                forwarded = forwarded.header(name, value);
            }
        }
        let answer = forwarded.send().await.unwrap();
        let status = answer.status();
        let mut response = Response::new(Body::from(answer.bytes().await.unwrap()));
        *response.status_mut() = status;
        response
    }

    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(forward).with_state(Proxy {
        base: sim.base_url().trim_end_matches('/').to_owned(),
        odd,
        down: Arc::default(),
        seen: Arc::clone(&seen),
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url::Url::parse(&format!("http://{addr}")).unwrap(), seen)
}

fn client_of(base: url::Url, tenants: &Tenants) -> arbor_jira::client::JiraClient {
    arbor_jira::client::JiraClient::new(
        arbor_jira::client::TenantId::new("site-a"),
        arbor_jira::client::ApiBase::Site(base),
        &config(),
        tenants,
    )
    .unwrap()
}

#[tokio::test]
async fn fetching_starts_while_searches_are_still_paging_and_takes_no_extra_calls() {
    let sim = sim().await;
    let admin = person(&sim, "admin");
    let epics = "project = CORE AND issuetype = Epic";
    // Small pages and batches: the epics' children take several pages.
    let small = LoaderConfig {
        limits: Limits {
            ids_per_page: 10,
            issues_per_bulkfetch: 7,
            parents_per_query: 500,
        },
        ..LoaderConfig::default()
    };
    let tenants = Tenants::new();
    let (base, seen) = proxy(&sim, Odd::Nothing).await;
    let loader = Loader::new(
        client_of(base, &tenants),
        Caches::new(CacheConfig::default()),
        small,
    );
    let mut data = IssueData::new();
    let mut needs = Needs::default();
    needs.jql.insert(epics.into());
    loader.load(&admin, &needs, &mut data).await.unwrap();
    let ids = data.jql(epics).unwrap().to_vec();
    let needs = Needs {
        issues: ids.iter().copied().collect(),
        fields: fields(),
        children: ids.iter().copied().collect(),
        ..Needs::default()
    };
    seen.lock().unwrap().clear();
    let report = loader.load(&admin, &needs, &mut data).await.unwrap();

    let calls = seen.lock().unwrap().clone();
    let pages = calls.iter().filter(|&&c| c == "search").count();
    let last_page = calls.iter().rposition(|&c| c == "search").unwrap();
    let children: usize = ids.iter().map(|&e| data.children(e).unwrap().len()).sum();
    assert!(pages >= 3, "{calls:?}");
    assert!(
        calls[..last_page].contains(&"bulkfetch"),
        "a batch left before the last page was asked for: {calls:?}"
    );
    assert_eq!(
        report.requests as usize,
        pages + (ids.len() + children).div_ceil(7),
        "every batch but the last is full: {calls:?}"
    );

    // The same lists and issues as a load with the usual pages and batches.
    let usual = fresh_loader(&sim, &tenants);
    let mut expected = IssueData::new();
    usual.load(&admin, &needs, &mut expected).await.unwrap();
    for &epic in &ids {
        assert_eq!(data.children(epic), expected.children(epic), "{epic:?}");
        for &child in expected.children(epic).unwrap() {
            assert_eq!(data.issue(child), expected.issue(child));
        }
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_children_search_answered_without_issues_is_an_error_not_an_empty_list() {
    let sim = sim().await;
    let admin = person(&sim, "admin");
    let epics = "project = CORE AND issuetype = Epic";
    // An empty 200 (the body a gateway or a cut connection without a length leaves), and JSON without `issues`.
    for answer in ["", "{}", "{\"isLast\": true}"] {
        let tenants = Tenants::new();
        let caches = Caches::new(CacheConfig::default());
        let (base, _) = proxy(&sim, Odd::ChildrenAnswer(answer)).await;
        let loader = Loader::new(
            client_of(base, &tenants),
            caches.clone(),
            LoaderConfig::default(),
        );
        let mut data = IssueData::new();
        let mut needs = Needs::default();
        needs.jql.insert(epics.into());
        loader.load(&admin, &needs, &mut data).await.unwrap();
        let ids = data.jql(epics).unwrap().to_vec();
        assert!(!ids.is_empty());
        let needs = Needs {
            issues: ids.iter().copied().collect(),
            fields: fields(),
            children: ids.iter().copied().collect(),
            ..Needs::default()
        };
        let outcome = loader.load(&admin, &needs, &mut data).await;
        let empty = ids
            .iter()
            .filter(|&&e| data.children(e).is_some_and(<[IssueId]>::is_empty))
            .count();
        assert!(
            outcome.is_err(),
            "answer {answer:?}: the load succeeded ({outcome:?}) with {empty} of {} epics without children",
            ids.len()
        );
        // And nothing was remembered as "no children".
        for &epic in &ids {
            let cached = caches
                .result(
                    &arbor_jira::client::TenantId::new("site-a"),
                    &admin.account_id,
                    &arbor_jira::cache::ResultKey::Children(epic),
                )
                .await;
            assert!(
                cached.is_none(),
                "answer {answer:?}: epic {epic:?} cached as {cached:?}"
            );
        }
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn children_read_earlier_without_their_parent_field_still_join_their_parents_list() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let loader = fresh_loader(&sim, &tenants);
    let admin = person(&sim, "admin");
    let epics = loader
        .client()
        .search_ids(&admin.token, "project = CORE AND issuetype = Epic", 5000)
        .await
        .unwrap();
    let mut with_children = None;
    for &epic in &epics {
        let jql = format!("parent = {}", epic.get());
        let mut children = loader
            .client()
            .search_ids(&admin.token, &jql, 5000)
            .await
            .unwrap();
        if !children.is_empty() {
            children.sort();
            with_children = Some((epic, children));
            break;
        }
    }
    let (epic, children) = with_children.unwrap();

    // The children come into the run first as rows of their own (their columns, not their parent) ...
    let mut data = IssueData::new();
    let columns = Needs {
        issues: children.iter().copied().collect(),
        fields: fields(),
        ..Needs::default()
    };
    loader.load(&admin, &columns, &mut data).await.unwrap();
    // ... then as the epic's children: the list waits for their `parent` field.
    let needs = Needs {
        children: [epic].into(),
        fields: fields(),
        ..Needs::default()
    };
    loader.load(&admin, &needs, &mut data).await.unwrap();
    let sorted = |list: Option<&[IssueId]>| {
        let mut list = list.unwrap().to_vec();
        list.sort();
        list
    };
    assert_eq!(sorted(data.children(epic)), children);
    // The cached list is the whole list too.
    let mut again = IssueData::new();
    let reopen = loader.load(&admin, &needs, &mut again).await.unwrap();
    assert_eq!(reopen.requests, 0);
    assert_eq!(sorted(again.children(epic)), children);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_children_search_cut_off_by_an_outage_serves_the_stale_lists_without_its_first_pages() {
    let sim = sim().await;
    let admin = person(&sim, "admin");
    let tenants = Tenants::new();
    let caches = Caches::new(CacheConfig {
        max_stale: Duration::from_secs(600),
        ..CacheConfig::default()
    });
    let direct = Loader::new(
        client(&sim, &tenants, &config()),
        caches.clone(),
        LoaderConfig::default(),
    );
    let epics: BTreeSet<IssueId> = direct
        .client()
        .search_ids(&admin.token, "project = CORE AND issuetype = Epic", 5000)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let needs = Needs {
        issues: epics.clone(),
        fields: fields(),
        children: epics.clone(),
        ..Needs::default()
    };
    let mut before = IssueData::new();
    direct.load(&admin, &needs, &mut before).await.unwrap();
    // The lists stay cached; the children's fields do not (as if evicted), and everything ages past its TTL.
    let tenant = arbor_jira::client::TenantId::new("site-a");
    for &epic in &epics {
        for &child in before.children(epic).unwrap() {
            caches.invalidate_issue(&tenant, child).await;
        }
    }
    caches.advance_clock(Duration::from_secs(120));

    // Jira goes down when the children search asks for its second page: the first page's children are not
    // needed by anything once the search is given up, so they do not fail the load.
    let (base, seen) = proxy(&sim, Odd::DownFromSecondChildrenPage).await;
    let paging = Loader::new(
        client_of(base, &tenants),
        caches.clone(),
        LoaderConfig {
            limits: Limits {
                ids_per_page: 10,
                issues_per_bulkfetch: 5,
                parents_per_query: 500,
            },
            ..LoaderConfig::default()
        },
    );
    let mut data = IssueData::new();
    let report = paging.load(&admin, &needs, &mut data).await.unwrap();
    assert!(report.stale);
    assert!(seen.lock().unwrap().contains(&"bulkfetch"));
    for &epic in &epics {
        assert_eq!(data.children(epic), before.children(epic));
        assert_eq!(data.issue(epic), before.issue(epic));
    }
    sim.shutdown().await.unwrap();
}
