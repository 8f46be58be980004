//! The stage of the benchmarks that go through the real server: arbor over HTTPS on loopback (self-signed
//! certificate), jira-sim in-process with a synthetic site and no quota, SQLite in a temporary directory, and
//! one structure of `rows` stored issue rows in the site's hierarchy (top issues, their children and
//! grandchildren), owned by the site's admin.

use std::sync::Arc;

use arbor_core::edit::NewRow;
use arbor_core::forest::Item;
use arbor_core::ids::{ActorId, IssueId};
use arbor_server::seed::{self, Blueprint};
use arbor_server::tls::Tls;
use arbor_server::{AppState, ServerConfig, SiteConfig};
use arbor_store::model::StructureId;
use arbor_store::{Location, MasterKey};
use jira_sim::model::Site;
use jira_sim::server::{DataSource, RunningSim, SimConfig};
use url::Url;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    Setup(String),
}

pub(crate) fn setup(e: impl std::fmt::Display) -> StageError {
    StageError::Setup(e.to_string())
}

/// The server, the simulator behind it and the structure to open. The person is the site's `admin`.
#[derive(Debug)]
pub struct Stage {
    /// `https://127.0.0.1:PORT`
    pub base: String,
    /// The server's self-signed certificate.
    pub pem: String,
    pub sim: RunningSim,
    pub structure: StructureId,
    server: arbor_server::Running,
    // The database; removed when the stage is dropped.
    _dir: tempfile::TempDir,
}

impl Stage {
    pub async fn start(rows: usize) -> Result<Self, StageError> {
        let mut sim_config = SimConfig::new(DataSource::Synthetic {
            issues: rows + rows / 10,
            seed: 42,
        });
        sim_config.controls.quota.hourly_points = 0;
        sim_config.controls.quota.burst_per_second = 0;
        let sim = jira_sim::server::start(sim_config).await.map_err(setup)?;
        let (admin, structure_rows) = sim.handle().with_site(|site| {
            let admin = site
                .person_by_name("admin")
                .map(|p| site.person(p).account_id.to_string());
            (admin, hierarchy(site, rows))
        });
        let admin = admin.ok_or_else(|| setup("the site has no admin"))?;
        let dir = tempfile::tempdir().map_err(setup)?;
        let store = arbor_store::open(
            &Location::Sqlite("arbor.db".into()),
            dir.path(),
            MasterKey::generate().map_err(setup)?,
        )
        .await
        .map_err(setup)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(setup)?;
        let base = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().map_err(setup)?.port()
        );
        let callback = Url::parse(&format!("{base}/auth/callback")).map_err(setup)?;
        let site = SiteConfig::simulated(sim.base_url(), callback, "arbor-bench").map_err(setup)?;
        let mut config = ServerConfig::new(Url::parse(&base).map_err(setup)?, vec![site]);
        // The load comes from one address and one person, as if from many: the per-client and per-person limits
        // would refuse it (64 clients' connection pools alone can hold more than one address's share).
        config.limits.per_client_per_minute = u32::MAX;
        config.limits.per_person_per_minute = u32::MAX;
        config.limits.jira_calls_per_person_per_minute = u32::MAX;
        config.connections.max_per_client = config.connections.max;
        let state = AppState::new(config, Arc::clone(&store))
            .await
            .map_err(setup)?;
        let tenant = state.sites[0].tenant;
        let structure = seed::create(
            store.as_ref(),
            tenant,
            &Blueprint {
                name: "Benchmark".into(),
                description: String::new(),
                owner: ActorId::new(&admin).map_err(setup)?,
                generators: Vec::new(),
                rows: structure_rows,
                rules: Vec::new(),
                views: Vec::new(),
            },
        )
        .await
        .map_err(setup)?;
        let tls = Tls::self_signed(&["127.0.0.1".to_owned()], None).map_err(setup)?;
        let pem = tls.self_signed_pem().unwrap_or_default().to_owned();
        let server = arbor_server::start(state, listener, &tls)
            .await
            .map_err(setup)?;
        Ok(Self {
            base,
            pem,
            sim,
            structure,
            server,
            _dir: dir,
        })
    }

    pub async fn stop(self) -> Result<(), StageError> {
        self.server.shutdown().await.map_err(setup)?;
        self.sim.shutdown().await.map_err(setup)
    }
}

/// The site's issues in hierarchy order: each top issue, then its children and their children.
fn hierarchy(site: &Site, rows: usize) -> Vec<NewRow> {
    fn visit(site: &Site, idx: u32, depth: u16, out: &mut Vec<NewRow>, rows: usize) {
        if out.len() >= rows {
            return;
        }
        let issue = site.issue(idx);
        if let Ok(id) = IssueId::new(issue.id) {
            out.push(NewRow::new(depth, Item::Issue(id)));
        }
        if depth < 2 {
            for child in &issue.children {
                visit(site, *child, depth + 1, out, rows);
            }
        }
    }
    let mut out = Vec::with_capacity(rows);
    for (idx, issue) in site.issues.iter().enumerate() {
        if out.len() >= rows {
            break;
        }
        if issue.parent.is_none()
            && let Ok(idx) = u32::try_from(idx)
        {
            visit(site, idx, 0, &mut out, rows);
        }
    }
    out
}
