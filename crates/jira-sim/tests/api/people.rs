//! Finding people, groups and project roles: `user/search`, `user/bulk`, `groups/picker`, `group/bulk` and
//! `project/{key}/roledetails`, with the permissions Jira asks for.

use jira_sim::server::{DataSource, SimConfig};
use jira_sim::site::SiteFile;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestSim, spawn, spawn_synthetic};

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| u["displayName"].as_str().unwrap().to_owned())
        .collect()
}

/// People who may browse users (`admin`, `dev`), one who may not (`olga`), an inactive one (`ivy`) and one
/// who browses no project (`nobody`, yet may browse users).
const PEOPLE_SITE: &str = r#"
[[people]]
name = "admin"
display_name = "Ada Admin"
[[people]]
name = "dev"
display_name = "Devon Developer"
[[people]]
name = "ivy"
display_name = "Devi Inactive"
active = false
[[people]]
name = "olga"
display_name = "Olga Outsider"
[[people]]
name = "nobody"
display_name = "Nora Nobody"

[[groups]]
name = "jira-administrators"
members = ["admin"]
[[groups]]
name = "jira-software-users"
members = ["admin", "dev", "ivy", "olga"]
[[groups]]
name = "developers"
members = ["admin", "dev", "ivy", "nobody"]

[[project_roles]]
role = "Administrators"
groups = ["jira-administrators"]
[[project_roles]]
role = "Developers"
groups = ["jira-software-users"]

[[browse]]
roles = ["Administrators", "Developers"]

[browse_users]
groups = ["jira-administrators", "developers"]
"#;

async fn spawn_people() -> TestSim {
    let mut site = jira_sim::synthetic::generate(400, 7);
    SiteFile::parse(PEOPLE_SITE)
        .unwrap()
        .apply(&mut site)
        .unwrap();
    spawn(SimConfig::new(DataSource::Site(Box::new(site)))).await
}

#[tokio::test]
async fn user_search_finds_active_people_by_the_start_of_a_word() {
    let t = spawn_people().await;
    let dev = t.token("dev").await;
    let found = t.get(&dev, "/rest/api/3/user/search?query=dev").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    // Devon Developer matches on both words; the inactive Devi is left out.
    assert_eq!(names(&found.body), ["Devon Developer"]);
    let user = &found.body[0];
    assert_eq!(user["accountType"], "atlassian");
    assert_eq!(user["active"], true);
    assert!(user["accountId"].is_string() && user["avatarUrls"]["48x48"].is_string());
    // Their own email address only.
    assert_eq!(user["emailAddress"], "dev@example.invalid");
    for query in ["DEVELOPER", "devon d", "Devon%20Developer", "dev%40example"] {
        let r = t
            .get(&dev, &format!("/rest/api/3/user/search?query={query}"))
            .await;
        assert_eq!(names(&r.body), ["Devon Developer"], "{query}");
    }
    for query in ["eveloper", "von", "example.invalid"] {
        let r = t
            .get(&dev, &format!("/rest/api/3/user/search?query={query}"))
            .await;
        assert_eq!(names(&r.body), Vec::<String>::new(), "{query}");
    }
    // Someone else's address is private.
    let ada = t.get(&dev, "/rest/api/3/user/search?query=ada").await;
    assert_eq!(names(&ada.body), ["Ada Admin"]);
    assert!(ada.body[0].get("emailAddress").is_none(), "{}", ada.body);

    // Sorted by display name; paged with startAt and maxResults.
    let everyone = t.get(&dev, "/rest/api/3/user/search?query=a").await;
    let all = names(&everyone.body);
    assert!(all.len() > 3, "{all:?}");
    let mut sorted = all.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(all, sorted);
    let page = t
        .get(
            &dev,
            "/rest/api/3/user/search?query=a&startAt=1&maxResults=2",
        )
        .await;
    assert_eq!(names(&page.body), all[1..3]);
    let account = user["accountId"].as_str().unwrap();
    let by_id = t
        .get(
            &dev,
            &format!("/rest/api/3/user/search?accountId={account}"),
        )
        .await;
    assert_eq!(names(&by_id.body), ["Devon Developer"]);

    // 2 points per user returned.
    t.sim.handle().reset_stats();
    t.get(&dev, "/rest/api/3/user/search?query=a&maxResults=3")
        .await;
    assert_eq!(t.sim.handle().stats()["total"]["points"], 1 + 2 * 3);

    // Bad requests, as Jira words them.
    for bad in [
        "/rest/api/3/user/search",
        "/rest/api/3/user/search?query=%20",
        &format!("/rest/api/3/user/search?query=dev&accountId={account}"),
        "/rest/api/3/user/search?query=dev&maxResults=many",
    ] {
        let r = t.get(&dev, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert!(r.body["errorMessages"][0].is_string(), "{}", r.body);
    }

    // Without "Browse users and groups": an empty list, as for anonymous calls.
    let olga = t.token("olga").await;
    let hidden = t.get(&olga, "/rest/api/3/user/search?query=dev").await;
    assert_eq!(hidden.status, StatusCode::OK);
    assert_eq!(hidden.body, serde_json::json!([]));
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn group_picker_matches_names_and_respects_permissions() {
    let t = spawn_people().await;
    let dev = t.token("dev").await;
    let r = t.get(&dev, "/rest/api/3/groups/picker?query=jira").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["header"], "Showing 2 of 2 matching groups");
    let groups = r.body["groups"].as_array().unwrap();
    assert_eq!(groups[0]["name"], "jira-administrators");
    assert_eq!(groups[0]["html"], "<b>jira</b>-administrators");
    assert_eq!(groups[0]["labels"][0]["type"], "ADMIN");
    assert_eq!(groups[1]["name"], "jira-software-users");
    assert_eq!(groups[1]["labels"], serde_json::json!([]));
    let id = groups[1]["groupId"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());

    // Case-sensitive unless asked otherwise, like Jira.
    let upper = t.get(&dev, "/rest/api/3/groups/picker?query=USERS").await;
    assert_eq!(upper.body["total"], 0);
    let upper = t
        .get(
            &dev,
            "/rest/api/3/groups/picker?query=USERS&caseInsensitive=true",
        )
        .await;
    assert_eq!(upper.body["groups"][0]["name"], "jira-software-users");
    assert_eq!(
        upper.body["groups"][0]["html"],
        "jira-software-<b>users</b>"
    );
    // Limited, excluded, and every group for an empty query.
    let one = t
        .get(&dev, "/rest/api/3/groups/picker?query=jira&maxResults=1")
        .await;
    assert_eq!(one.body["header"], "Showing 1 of 2 matching groups");
    let without = t
        .get(
            &dev,
            &format!("/rest/api/3/groups/picker?query=jira&excludeId={id}"),
        )
        .await;
    assert_eq!(without.body["total"], 1);
    let both = t
        .get(
            &dev,
            &format!("/rest/api/3/groups/picker?query=jira&excludeId={id}&exclude=x"),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    let all = t.get(&dev, "/rest/api/3/groups/picker").await;
    assert_eq!(all.body["total"], 3, "{}", all.body);

    // Without "Browse users and groups", only an exact name; without browsing any project, nothing.
    let olga = t.token("olga").await;
    let part = t.get(&olga, "/rest/api/3/groups/picker?query=jira").await;
    assert_eq!(part.body["total"], 0, "{}", part.body);
    let exact = t
        .get(&olga, "/rest/api/3/groups/picker?query=jira-software-users")
        .await;
    assert_eq!(exact.body["groups"][0]["groupId"], id.as_str());
    let nobody = t.token("nobody").await;
    let none = t.get(&nobody, "/rest/api/3/groups/picker?query=jira").await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body["groups"], serde_json::json!([]));
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn people_and_groups_by_id_in_bulk() {
    let t = spawn_people().await;
    let dev = t.token("dev").await;
    let (ada, ivy, group) = t.sim.handle().with_site(|s| {
        let id = |n: &str| s.person(s.person_by_name(n).unwrap()).account_id.clone();
        (id("admin"), id("ivy"), s.groups[0].group_id.clone())
    });
    let r = t
        .get(
            &dev,
            &format!("/rest/api/3/user/bulk?accountId={ada}&accountId=nobody-here&accountId={ivy}&maxResults=50"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(names(&r.body["values"]), ["Ada Admin", "Devi Inactive"]);
    assert_eq!(r.body["values"][1]["active"], false);
    assert_eq!(
        (r.body["total"].as_u64(), r.body["isLast"].as_bool()),
        (Some(2), Some(true))
    );
    let paged = t
        .get(
            &dev,
            &format!("/rest/api/3/user/bulk?accountId={ada}&accountId={ivy}&maxResults=1"),
        )
        .await;
    assert_eq!(names(&paged.body["values"]), ["Ada Admin"]);
    assert_eq!(paged.body["isLast"], false);
    assert!(
        paged.body["nextPage"]
            .as_str()
            .unwrap()
            .contains("startAt=1")
    );
    let missing = t.get(&dev, "/rest/api/3/user/bulk").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    let groups = t
        .get(
            &dev,
            &format!("/rest/api/3/group/bulk?groupId={group}&groupId=nope"),
        )
        .await;
    assert_eq!(groups.status, StatusCode::OK, "{}", groups.body);
    assert_eq!(groups.body["values"].as_array().unwrap().len(), 1);
    assert_eq!(groups.body["values"][0]["name"], "jira-administrators");
    let by_name = t
        .get(&dev, "/rest/api/3/group/bulk?groupName=developers")
        .await;
    assert_eq!(by_name.body["values"][0]["name"], "developers");
    let olga = t.token("olga").await;
    let refused = t
        .get(&olga, &format!("/rest/api/3/group/bulk?groupId={group}"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["errorMessages"][0],
        "Browse users and groups permission is required to view groups."
    );
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn role_details_are_for_project_administrators() {
    let t = spawn_synthetic().await;
    let (admin, dev) = (t.token("admin").await, t.token("dev").await);
    let r = t.get(&admin, "/rest/api/3/project/CORE/roledetails").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let roles = r.body.as_array().unwrap();
    let named: Vec<(&str, u64)> = roles
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["id"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> = t
        .sim
        .handle()
        .with_site(|s| s.roles.iter().map(|r| (r.name.clone(), r.id)).collect());
    assert_eq!(
        named,
        expected
            .iter()
            .map(|(n, id)| (n.as_str(), *id))
            .collect::<Vec<_>>()
    );
    let administrators = roles
        .iter()
        .find(|r| r["name"] == "Administrators")
        .unwrap();
    assert_eq!(administrators["admin"], true);
    assert!(
        administrators["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/role/{}", administrators["id"]))
    );
    // By id as by key, and only the roles one holds when asked.
    let project_id = t.sim.handle().with_site(|s| s.projects[0].id.clone());
    let by_id = t
        .get(
            &admin,
            &format!("/rest/api/3/project/{project_id}/roledetails?currentMember=true"),
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.body);
    assert_eq!(
        by_id.body.as_array().unwrap().len(),
        2,
        "admin holds both roles"
    );
    // dev may browse CORE but not administer it: to dev, the project is not there.
    let refused = t.get(&dev, "/rest/api/3/project/CORE/roledetails").await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert_eq!(
        refused.body["errorMessages"][0],
        "No project could be found with key 'CORE'."
    );
    let unknown = t.get(&admin, "/rest/api/3/project/NOPE/roledetails").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    t.sim.shutdown().await.unwrap();
}
