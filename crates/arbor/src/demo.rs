//! `arbor demo`: one command, no configuration. jira-sim in-process with the real TiDev data
//! (`../shared/data/tidev-jira`, a synthetic site when it is absent), SQLite in a data directory, arbor over
//! HTTPS on a local port with a self-signed certificate, and example structures owned by the site's admin and
//! shared with everyone signed in. The site's admin is arbor's admin: their sign-in registers the webhooks
//! through which changes made in the simulator (its `/_sim` API) show on the board at once. The app's client
//! secret, which signs those deliveries, is random for each start (`SiteConfig::simulated`): nobody can forge
//! deliveries to a demo from what the code says.
//!
//! The demo's master key is generated on first start and kept next to its database (mode 0600): convenient
//! for a demo, and exactly what `arbor serve` never does.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arbor_core::columns::{Column, TotalFunction, TotalScope, View};
use arbor_core::data::{FieldId, LinkDirection};
use arbor_core::generator::{Generator, Levels};
use arbor_core::ids::ActorId;
use arbor_core::permission::{Grantee, Level, Rule};
use arbor_core::progress::ProgressBasis;
use arbor_server::seed::{self, Blueprint};
use arbor_server::tls::Tls;
use arbor_server::{ServerConfig, SiteConfig};
use arbor_store::{Location, MasterKey, Store};
use jira_sim::model::{Site, Target};
use jira_sim::server::{DataSource, RunningSim, SimConfig};
use url::Url;

/// Where the demo keeps its data, and on which port it serves.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub port: u16,
    /// The TiDev archive; a synthetic site when it does not exist.
    pub tidev: PathBuf,
}

/// The default place of the real data, relative to the repository.
pub fn default_tidev() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tidev-jira")
}

fn master_key(dir: &Path) -> anyhow::Result<MasterKey> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let path = dir.join("demo-master.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return MasterKey::parse(text.trim()).context("the demo's master key file is unusable");
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?
    };
    file.write_all(text.as_bytes())?;
    MasterKey::parse(&text).context("the generated master key is unusable")
}

/// Starts the simulator with the real data, or a synthetic site.
/// The simulator's port: next to arbor's (`port + 1`), so that its address — the Jira site's, which names the
/// demo's tenant — is the same at every start and the data directory's structures stay reachable. With port 0
/// (tests), or when that port is taken, any free port (a restart then starts a new tenant, and says so).
fn sim_port(port: u16) -> u16 {
    let Some(next) = port.checked_add(1).filter(|_| port != 0) else {
        return 0;
    };
    if std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, next)).is_ok() {
        next
    } else {
        eprintln!(
            "port {next} is taken: the simulated Jira site gets another address, so structures of earlier demo runs are not shown"
        );
        0
    }
}

async fn start_sim(tidev: &Path, port: u16) -> anyhow::Result<RunningSim> {
    let data = if tidev.join("issues.jsonl.gz").exists() {
        DataSource::Tidev(tidev.to_path_buf())
    } else {
        eprintln!(
            "{} not found: the demo uses a synthetic site instead",
            tidev.display()
        );
        DataSource::Synthetic {
            issues: 20_000,
            seed: 42,
        }
    };
    let mut config = SimConfig::new(data);
    config.port = port;
    config.controls.quota.hourly_points = 0;
    config.controls.quota.burst_per_second = 0;
    // Webhooks are delivered to the demo's own server, whose certificate is self-signed.
    config.controls.webhooks.trust_any_certificate = true;
    Ok(jira_sim::server::start(config).await?)
}

/// What the examples are built from, chosen from the site so they show something on any data.
struct Choices {
    project: String,
    blocks_link: Option<String>,
    blocked: Vec<String>,
    release: Option<(String, String)>,
    admin: String,
}

fn choose(site: &Site) -> anyhow::Result<Choices> {
    let admin = site
        .person_by_name("admin")
        .map(|p| site.person(p).account_id.to_string())
        .context("the demo site has no admin")?;
    let dev = site.person_by_name("dev");
    // The project with the most epics that both people may browse.
    let mut epics: HashMap<u16, usize> = HashMap::new();
    for issue in &site.issues {
        let level = site.issue_types[usize::from(issue.issue_type)].hierarchy_level;
        let shared = dev.is_none_or(|d| site.can_browse_project(d, issue.project));
        if level == 1 && shared {
            *epics.entry(issue.project).or_default() += 1;
        }
    }
    let (project, _) = epics
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p)))
        .context("the demo site has no epics")?;
    let key = site.projects[usize::from(project)].key.clone();
    // Unresolved issues of that project that something blocks.
    let blocks = site
        .link_types
        .iter()
        .position(|t| t.name.eq_ignore_ascii_case("blocks"));
    let mut blocked = Vec::new();
    if let Some(blocks) = blocks {
        for link in site.links.iter().flatten() {
            if usize::from(link.link_type) != blocks {
                continue;
            }
            if let Target::Local(idx) = link.destination {
                let issue = site.issue(idx);
                if issue.project == project && issue.resolution.is_none() && blocked.len() < 60 {
                    blocked.push(issue.key.to_string());
                }
            }
        }
    }
    blocked.sort();
    blocked.dedup();
    // The project's version with the most issues.
    let mut per_version: HashMap<u32, usize> = HashMap::new();
    for issue in site.issues.iter().filter(|i| i.project == project) {
        for v in &issue.fix_versions {
            *per_version.entry(*v).or_default() += 1;
        }
    }
    let release = per_version
        .into_iter()
        .max_by_key(|(v, n)| (*n, std::cmp::Reverse(*v)))
        .map(|(v, _)| {
            let version = &site.versions[v as usize];
            (version.name.clone(), key.clone())
        });
    Ok(Choices {
        project: key,
        blocks_link: blocks.map(|b| site.link_types[b].id.clone()),
        blocked,
        release,
        admin,
    })
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn blueprints(choices: &Choices, points: &str) -> anyhow::Result<Vec<Blueprint>> {
    let owner = ActorId::new(&choices.admin).map_err(|e| anyhow::anyhow!("{e}"))?;
    let shared = vec![Rule {
        grantee: Grantee::Everyone,
        level: Level::Edit,
    }];
    let mut planning = View::default_columns();
    planning.extend([
        Column::Progress {
            basis: ProgressBasis::StoryPoints,
        },
        Column::Totals {
            function: TotalFunction::Sum,
            field: "story_points".into(),
            scope: TotalScope::All,
            with_duplicates: false,
        },
        Column::Field {
            field: FieldId::new(points),
        },
    ]);
    let mut list = vec![Blueprint {
        name: format!("{} epics → stories → sub-tasks", choices.project),
        description: "Every epic of the project with its stories and their sub-tasks, with progress and story-point totals."
            .into(),
        owner: owner.clone(),
        generators: vec![
            Generator::InsertJql {
                jql: format!("project = {} AND issuetype = Epic ORDER BY rank", choices.project),
            },
            Generator::ExtendChildren {
                levels: Levels { from: 1, to: 2 },
            },
        ],
        rows: Vec::new(),
        rules: shared.clone(),
        views: vec![("Planning".into(), planning)],
    }];
    if let (Some(link), false) = (&choices.blocks_link, choices.blocked.is_empty()) {
        list.push(Blueprint {
            name: format!("{}: work blocked by links", choices.project),
            description: "Unresolved issues that something blocks, with what blocks them (three levels deep).".into(),
            owner: owner.clone(),
            generators: vec![
                Generator::InsertKeys {
                    keys: choices.blocked.clone(),
                },
                Generator::ExtendLinks {
                    link_type_id: link.clone(),
                    direction: LinkDirection::Inward,
                    levels: Levels { from: 1, to: 3 },
                },
            ],
            rows: Vec::new(),
            rules: shared.clone(),
            views: Vec::new(),
        });
    }
    if let Some((version, project)) = &choices.release {
        list.push(Blueprint {
            name: format!("{project} {version}, by component"),
            description: "The release's issues grouped by component, highest priority first."
                .into(),
            owner,
            generators: vec![
                Generator::InsertJql {
                    jql: format!("project = {project} AND fixVersion = {}", quoted(version)),
                },
                Generator::GroupByField {
                    field: FieldId::new("components"),
                },
                Generator::SortByField {
                    field: FieldId::new("priority"),
                    descending: false,
                },
            ],
            rows: Vec::new(),
            rules: shared,
            views: Vec::new(),
        });
    }
    Ok(list)
}

/// A running demo.
#[derive(Debug)]
pub struct Demo {
    pub url: Url,
    /// One line per person one can sign in as.
    pub people: Vec<String>,
    pub fingerprint: String,
    /// The self-signed certificate, for clients that should trust it.
    pub certificate_pem: String,
    pub sim: RunningSim,
    pub server: arbor_server::Running,
}

impl Demo {
    pub async fn stop(self) -> anyhow::Result<()> {
        self.server.shutdown().await?;
        self.sim.shutdown().await?;
        Ok(())
    }
}

/// Starts the simulator, the store and the server, and creates the example structures on first start.
pub async fn start(options: &DemoOptions) -> anyhow::Result<Demo> {
    let sim = start_sim(&options.tidev, sim_port(options.port)).await?;
    let choices = sim.handle().with_site(choose)?;
    let people = sim.handle().with_site(|site| {
        ["admin", "dev"]
            .iter()
            .filter_map(|name| {
                let p = site.person_by_name(name)?;
                let visible = (0..site.issues.len())
                    .filter(|i| u32::try_from(*i).is_ok_and(|i| site.can_browse(p, i)))
                    .count();
                Some(format!(
                    "  {name:<6} {} — sees {visible} issues",
                    site.person(p).display_name
                ))
            })
            .collect::<Vec<_>>()
    });
    let store: Arc<dyn Store> = arbor_store::open(
        &Location::Sqlite(PathBuf::from("arbor.db")),
        &options.data_dir,
        master_key(&options.data_dir)?,
    )
    .await?;
    let listener_addr = SocketAddr::from(([127, 0, 0, 1], options.port));
    let listener = std::net::TcpListener::bind(listener_addr)
        .with_context(|| format!("cannot listen on {listener_addr}"))?;
    let addr = listener.local_addr()?;
    let public = Url::parse(&format!("https://127.0.0.1:{}/", addr.port()))?;
    let mut site =
        SiteConfig::simulated(sim.base_url(), public.join("/auth/callback")?, "arbor-demo")?;
    // The site's admin is arbor's admin too: their sign-in registers the webhooks that keep the board current
    // when issues change in the simulator.
    site.admins = vec![choices.admin.clone()];
    let points = site.story_points_field.clone();
    let config = ServerConfig::new(public.clone(), vec![site]);
    let tls = Tls::self_signed(
        &["127.0.0.1".to_owned(), "localhost".to_owned()],
        Some(&options.data_dir),
    )?;
    let state = arbor_server::AppState::new(config, Arc::clone(&store)).await?;
    let tenant = state.sites[0].tenant;
    if store.structures(tenant).await?.is_empty() {
        for blueprint in blueprints(&choices, &points)? {
            seed::create(store.as_ref(), tenant, &blueprint).await?;
        }
    }
    let server = arbor_server::start(state, listener, &tls).await?;
    Ok(Demo {
        url: public,
        people,
        fingerprint: tls.fingerprint().to_owned(),
        certificate_pem: tls.self_signed_pem().unwrap_or_default().to_owned(),
        sim,
        server,
    })
}

/// `arbor demo`: starts, says where, and runs until Ctrl-C or SIGTERM.
pub async fn demo(options: &DemoOptions) -> anyhow::Result<()> {
    let stopped = crate::server::shutdown_signal();
    let demo = start(options).await?;
    println!("arbor demo ready: {}", demo.url);
    println!("Sign in as one of (they see different issues):");
    for line in &demo.people {
        println!("{line}");
    }
    println!(
        "The certificate is self-signed (SHA-256 {}); data in {}. Stop with Ctrl-C.",
        demo.fingerprint,
        options.data_dir.display()
    );
    let _ = std::io::stdout().flush();
    stopped.await;
    demo.stop().await
}
