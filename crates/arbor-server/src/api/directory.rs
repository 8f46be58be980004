//! Naming whom permission rules grant to: people, groups, projects and project roles found by name, and the
//! names of the grantees of a structure's rules — always asked of Jira as the caller, so that nobody learns
//! a name Jira would not tell them.
//!
//! Searches are not cached (their answers depend on the person and on every keystroke; the board debounces
//! them); the projects a person may browse and a project's roles are cached per person in arbor-jira's people
//! cache. Labels for rules are best effort: whatever Jira cannot or will not say within [`LABEL_BUDGET`] is
//! left unnamed, and never fails the request that shows the rules.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arbor_core::permission::{Grantee, Rule};
use arbor_jira::cache::PeopleKind;
use arbor_jira::client::{Credentials, JiraClient, JiraError, MAX_SEARCH_CHARS};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Param, Query};
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::session::Caller;
use crate::state::{AppState, jira_tenant};

/// The most people or groups one search returns.
const MAX_FOUND: usize = 20;
/// How long naming a structure's grantees may take before the rules are shown without the missing names.
const LABEL_BUDGET: Duration = Duration::from_secs(4);

/// `?query=dev`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// 1 to 100 characters (surrounding spaces are ignored).
    pub query: Option<String>,
}

impl SearchQuery {
    /// The search text, trimmed, or a 400 that says what a search needs.
    fn text(&self) -> ApiResult<&str> {
        let text = self.query.as_deref().unwrap_or("").trim();
        let chars = text.chars().count();
        if chars == 0 {
            return Err(ApiError::bad_request(
                "`query` is required: type at least one character of a name",
            ));
        }
        if chars > MAX_SEARCH_CHARS {
            return Err(ApiError::bad_request(format!(
                "`query` is at most {MAX_SEARCH_CHARS} characters (it had {chars})"
            )));
        }
        Ok(text)
    }
}

/// A person a rule may name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    pub account_id: String,
    pub display_name: String,
}

/// People whose names (or email addresses) start with the query, as Jira finds them for you.
#[derive(Debug, Serialize, ToSchema)]
pub struct People {
    pub people: Vec<Person>,
}

/// `GET /api/v1/jira/people?query=dev`: active people whose name or email address starts with the query (at
/// most 20), as Jira finds them for you. Jira finds nobody for people without its "Browse users and groups"
/// permission.
#[utoipa::path(get, path = "/api/v1/jira/people", tag = "assist",
    params(("query" = String, Query, description = "the start of a name or email address, 1 to 100 characters")),
    responses((status = 200, body = People), (status = 400, description = "no query, or a longer one")))]
pub async fn people(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<People>> {
    let text = query.text()?;
    let (client, who) = jira(&state, &caller).await?;
    one_jira_call(&state, &caller)?;
    let found = client.search_users(&who.token, text, MAX_FOUND).await?;
    Ok(Json(People {
        people: found
            .into_iter()
            .map(|u| Person {
                account_id: u.account_id,
                display_name: u.display_name,
            })
            .collect(),
    }))
}

/// A Jira group a rule may name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    pub group_id: String,
    pub name: String,
}

/// Groups whose names contain the query.
#[derive(Debug, Serialize, ToSchema)]
pub struct Groups {
    pub groups: Vec<Group>,
}

/// `GET /api/v1/jira/groups?query=dev`: groups whose names contain the query, whatever its case (at most
/// 20), as Jira finds them for you (without "Browse users and groups", only a group named exactly so).
#[utoipa::path(get, path = "/api/v1/jira/groups", tag = "assist",
    params(("query" = String, Query, description = "part of a group name, 1 to 100 characters")),
    responses((status = 200, body = Groups), (status = 400, description = "no query, or a longer one")))]
pub async fn groups(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<Groups>> {
    let text = query.text()?;
    let (client, who) = jira(&state, &caller).await?;
    one_jira_call(&state, &caller)?;
    let found = client.find_groups(&who.token, text, MAX_FOUND).await?;
    Ok(Json(Groups {
        groups: found
            .into_iter()
            .map(|g| Group {
                group_id: g.group_id,
                name: g.name,
            })
            .collect(),
    }))
}

/// A Jira project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Project {
    pub id: u64,
    pub key: String,
    pub name: String,
}

/// The projects you may browse, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Projects {
    pub projects: Vec<Project>,
}

/// `GET /api/v1/jira/projects`: the projects Jira lets you browse, sorted by name (cached for you for the
/// people TTL).
#[utoipa::path(get, path = "/api/v1/jira/projects", tag = "assist",
    responses((status = 200, body = Projects)))]
pub async fn projects(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Projects>> {
    let (client, who) = jira(&state, &caller).await?;
    Ok(Json(Projects {
        projects: browsable_projects(&state, &caller, &client, &who).await?,
    }))
}

/// A project role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Role {
    pub id: u64,
    pub name: String,
}

/// A project's roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct Roles {
    pub roles: Vec<Role>,
}

/// `GET /api/v1/jira/projects/{id}/roles`: a project's roles with their ids, sorted by name (cached for you
/// for the people TTL). Jira Cloud describes them only to the project's administrators: to anyone else this
/// is a 404, as for a project that does not exist.
#[utoipa::path(get, path = "/api/v1/jira/projects/{id}/roles", tag = "assist",
    params(("id" = u64, Path, description = "Jira project id")),
    responses((status = 200, body = Roles),
        (status = 404, description = "no such project, or Jira lists its roles only to its administrators")))]
pub async fn project_roles(
    State(state): State<AppState>,
    caller: Caller,
    Param(project): Param<u64>,
) -> ApiResult<Json<Roles>> {
    let (client, who) = jira(&state, &caller).await?;
    match roles_of(&state, &caller, &client, &who, project).await {
        Ok(roles) => Ok(Json(Roles { roles })),
        Err(JiraError::NotFound | JiraError::Forbidden { .. }) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "project-roles-not-shown",
            format!(
                "Jira lists the roles of project {project} only to its administrators, and does not count you \
                 among them (or there is no such project); enter the role's id instead"
            ),
        )),
        Err(other) => Err(other.into()),
    }
}

/// The caller's Jira client and credentials.
async fn jira(state: &AppState, caller: &Caller) -> ApiResult<(JiraClient, Credentials)> {
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let who = people::credentials(state, caller).await?;
    Ok((site.loader.client().clone(), who))
}

/// Charges an uncached Jira call (a search as one types) to the caller's budget, unless it is spent.
fn one_jira_call(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let account = caller.account.as_str();
    state.limits.jira(caller.tenant, account)?;
    state.limits.spent_jira_calls(caller.tenant, account, 1);
    Ok(())
}

fn person_key(caller: &Caller) -> Arc<str> {
    Arc::from(caller.account.as_str())
}

/// The projects the caller may browse, sorted by name; cached per person.
async fn browsable_projects(
    state: &AppState,
    caller: &Caller,
    client: &JiraClient,
    who: &Credentials,
) -> Result<Vec<Project>, JiraError> {
    let (client, token) = (client.clone(), who.token.clone());
    let answer = state
        .caches
        .people(
            &jira_tenant(caller.tenant),
            &person_key(caller),
            PeopleKind::Projects,
            async move { client.projects(&token).await.map(Value::Array) },
        )
        .await?;
    let mut projects: Vec<Project> = answer
        .value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(Project {
                id: p["id"].as_str()?.parse().ok()?,
                key: p["key"].as_str()?.to_owned(),
                name: p["name"].as_str()?.to_owned(),
            })
        })
        .collect();
    projects.sort_by_key(|p| (p.name.to_lowercase(), p.id));
    Ok(projects)
}

/// A project's roles as Jira describes them to the caller, sorted by name; cached per person.
async fn roles_of(
    state: &AppState,
    caller: &Caller,
    client: &JiraClient,
    who: &Credentials,
    project: u64,
) -> Result<Vec<Role>, JiraError> {
    let (client, token) = (client.clone(), who.token.clone());
    let answer = state
        .caches
        .people(
            &jira_tenant(caller.tenant),
            &person_key(caller),
            PeopleKind::RoleDetails { project },
            async move {
                match client.project_role_details(&token, project).await {
                    Ok(roles) => Ok(Value::Array(
                        roles
                            .into_iter()
                            .map(|r| json!({ "id": r.id, "name": r.name }))
                            .collect(),
                    )),
                    // Kept for the TTL like an answer: whoever opens a structure's rules again does not
                    // ask Jira again what it will not tell them.
                    Err(JiraError::NotFound | JiraError::Forbidden { .. }) => {
                        Ok(json!({ "not_shown": true }))
                    }
                    Err(other) => Err(other),
                }
            },
        )
        .await?;
    if answer.value["not_shown"] == true {
        return Err(JiraError::NotFound);
    }
    let mut roles: Vec<Role> = answer
        .value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(Role {
                id: r["id"].as_u64()?,
                name: r["name"].as_str()?.to_owned(),
            })
        })
        .collect();
    roles.sort_by_key(|r| (r.name.to_lowercase(), r.id));
    Ok(roles)
}

/// The name of each grantee as Jira tells it to the caller (`None` where it cannot or will not within
/// [`LABEL_BUDGET`]): a person's display name, a group's name, `Project KEY: Role name`. Never fails, and
/// takes at most about [`LABEL_BUDGET`].
pub async fn labels(
    state: &AppState,
    caller: &Caller,
    who: &Credentials,
    grantees: &[Grantee],
) -> Vec<Option<String>> {
    let Some(site) = state.site(caller.tenant) else {
        return vec![None; grantees.len()];
    };
    let client = site.loader.client().clone();
    let names = known_names(state, caller, &client, who, grantees).await;
    grantees
        .iter()
        .map(|grantee| names.label(grantee))
        .collect()
}

/// What Jira told the caller about the grantees of some rules.
#[derive(Debug, Default)]
struct Names {
    people: HashMap<String, String>,
    groups: HashMap<String, String>,
    /// Project id → key.
    projects: HashMap<u64, String>,
    /// (project id, role id) → role name.
    roles: HashMap<(u64, u64), String>,
}

impl Names {
    fn label(&self, grantee: &Grantee) -> Option<String> {
        match grantee {
            Grantee::Person { account_id } => self.people.get(account_id).cloned(),
            Grantee::Group { group_id } => self.groups.get(group_id).cloned(),
            Grantee::ProjectRole {
                project_id,
                role_id,
            } => Some(format!(
                "Project {}: {}",
                self.projects.get(project_id)?,
                self.roles.get(&(*project_id, *role_id))?
            )),
            Grantee::Everyone => None,
        }
    }
}

/// Asks Jira, as the caller, for the names of the people, groups, projects and roles named — each kind at
/// once and concurrently; a kind Jira does not answer stays unnamed.
async fn known_names(
    state: &AppState,
    caller: &Caller,
    client: &JiraClient,
    who: &Credentials,
    grantees: &[Grantee],
) -> Names {
    let mut account_ids = BTreeSet::new();
    let mut group_ids = BTreeSet::new();
    let mut role_projects = BTreeSet::new();
    for grantee in grantees {
        match grantee {
            Grantee::Person { account_id } => {
                account_ids.insert(account_id.as_str());
            }
            Grantee::Group { group_id } => {
                group_ids.insert(group_id.as_str());
            }
            Grantee::ProjectRole { project_id, .. } => {
                role_projects.insert(*project_id);
            }
            Grantee::Everyone => {}
        }
    }
    let account_ids: Vec<&str> = account_ids.into_iter().collect();
    let group_ids: Vec<&str> = group_ids.into_iter().collect();
    let people = async {
        if account_ids.is_empty() {
            return HashMap::new();
        }
        match client.users_by_id(&who.token, &account_ids).await {
            Ok(users) => users
                .into_iter()
                .map(|u| (u.account_id, u.display_name))
                .collect(),
            Err(error) => {
                tracing::info!(%error, "Jira did not name the people of the rules");
                HashMap::new()
            }
        }
    };
    let groups = async {
        if group_ids.is_empty() {
            return HashMap::new();
        }
        match client.groups_by_id(&who.token, &group_ids).await {
            Ok(groups) => groups.into_iter().map(|g| (g.group_id, g.name)).collect(),
            Err(error) => {
                tracing::info!(%error, "Jira did not name the groups of the rules");
                HashMap::new()
            }
        }
    };
    let roles = async {
        if role_projects.is_empty() {
            return (HashMap::new(), HashMap::new());
        }
        let projects: HashMap<u64, String> =
            match browsable_projects(state, caller, client, who).await {
                Ok(list) => list
                    .into_iter()
                    .filter(|p| role_projects.contains(&p.id))
                    .map(|p| (p.id, p.key))
                    .collect(),
                Err(error) => {
                    tracing::info!(%error, "Jira did not name the projects of the rules");
                    HashMap::new()
                }
            };
        // Only projects Jira shows the caller (at most 20: the rules' cap on project roles).
        let asked = projects.keys().map(|&project| async move {
            (project, roles_of(state, caller, client, who, project).await)
        });
        let mut roles = HashMap::new();
        for (project, answer) in futures_util::future::join_all(asked).await {
            match answer {
                Ok(list) => roles.extend(list.into_iter().map(|r| ((project, r.id), r.name))),
                Err(error) => {
                    tracing::debug!(%error, project, "Jira did not name the roles of a project");
                }
            }
        }
        (projects, roles)
    };
    // Each kind within the budget on its own: one slow answer leaves only its own names out.
    // Boxed: each holds Jira calls with their retries, too large to keep on the stack three times over.
    let (people, groups, roles) = tokio::join!(
        Box::pin(within_budget("people", people)),
        Box::pin(within_budget("groups", groups)),
        Box::pin(within_budget("project roles", roles)),
    );
    let (projects, roles) = roles;
    Names {
        people,
        groups,
        projects,
        roles,
    }
}

/// What `names` finds within [`LABEL_BUDGET`], or nothing.
async fn within_budget<T: Default>(what: &str, names: impl Future<Output = T>) -> T {
    tokio::time::timeout(LABEL_BUDGET, names)
        .await
        .unwrap_or_else(|_| {
            tracing::warn!(what, "Jira did not name the grantees of the rules in time");
            T::default()
        })
}

/// A rule as `GET /api/v1/structures/{id}/permissions` shows it: its grantee named where Jira tells you.
#[derive(Debug, Serialize)]
pub struct LabelledRule {
    pub grantee: LabelledGrantee,
    pub level: arbor_core::permission::Level,
}

/// A grantee with its name: a person's display name, a group's name, or `Project KEY: Role name`.
#[derive(Debug, Serialize)]
pub struct LabelledGrantee {
    #[serde(flatten)]
    pub grantee: Grantee,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The rules with their labels, in order.
pub fn labelled(rules: Vec<Rule>, labels: Vec<Option<String>>) -> Vec<LabelledRule> {
    rules
        .into_iter()
        .zip(labels.into_iter().chain(std::iter::repeat(None)))
        .map(|(rule, label)| LabelledRule {
            grantee: LabelledGrantee {
                grantee: rule.grantee,
                label,
            },
            level: rule.level,
        })
        .collect()
}
