//! arbor's configuration, built in layers: defaults → the TOML file (`--config` or `ARBOR_CONFIG`, else
//! `arbor.toml` when it exists) → `ARBOR_*` environment variables (sections nested with `__`) → `ARBOR_*_FILE`
//! variables, whose named file holds the value (the way secrets are handed over).
//!
//! Invariants:
//! - A loaded [`Config`] is valid: every value has been parsed into its type, and an invalid value is an error
//!   naming the key and where it came from (file and line, or the environment variable).
//! - Secrets are [`Secret`]s: their `Debug` and serialised forms are `***`, so neither `config check` nor a log
//!   line can show them.
//! - The set of keys is the set of fields of [`Config`]; the serialised defaults are the schema that environment
//!   variables are checked and typed against.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// The prefix of every environment variable arbor reads.
const ENV_PREFIX: &str = "ARBOR_";
/// Environment variables that are not configuration keys.
const ENV_NOT_KEYS: &[&str] = &["ARBOR_CONFIG"];
/// Variables reserved for arbor's own test suite (e.g. `ARBOR_TEST_POSTGRES_URL`); the service ignores them.
const ENV_TEST_PREFIX: &str = "ARBOR_TEST_";
/// The file read when neither `--config` nor `ARBOR_CONFIG` names one, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "arbor.toml";

/// The effective settings of an arbor process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where arbor keeps its database, certificates and backups.
    pub data_dir: PathBuf,
    /// The key that wraps every tenant's data key. Never stored in the database.
    pub master_key: Secret,
    pub log: LogSettings,
    pub server: ServerSettings,
    pub tls: TlsSettings,
    pub database: DatabaseSettings,
    pub jira: JiraSettings,
    pub sessions: SessionSettings,
    pub limits: LimitSettings,
    pub connections: ConnectionSettings,
    /// Atlassian account ids of arbor admins: Control on every structure of the site.
    pub admins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("arbor-data"),
            master_key: Secret::default(),
            log: LogSettings::default(),
            server: ServerSettings::default(),
            tls: TlsSettings::default(),
            database: DatabaseSettings::default(),
            jira: JiraSettings::default(),
            sessions: SessionSettings::default(),
            limits: LimitSettings::default(),
            connections: ConnectionSettings::default(),
            admins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// A session not used for this many minutes ends.
    pub idle_minutes: u64,
    /// A session ends this many hours after sign-in, used or not.
    pub absolute_hours: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
        }
    }
}

/// How much people may store; see arbor-server's `ContentLimits`, whose defaults these are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// The largest request body accepted, in bytes.
    pub request_body_bytes: usize,
    /// Seconds one request may take before it is answered with 503.
    pub request_timeout_secs: u64,
    /// Requests per minute from one client address (before sign-in too).
    pub requests_per_client_per_minute: u32,
    /// Requests per minute of one signed-in person.
    pub requests_per_person_per_minute: u32,
    /// Stored rows of one structure.
    pub rows_per_structure: u64,
    /// Rows one edit may create (an add, or a copy of subtrees).
    pub rows_per_edit: u64,
    pub generators_per_structure: u64,
    pub views_per_structure: u64,
    /// Structures one person may own.
    pub structures_per_person: u64,
    /// Bytes one site's content may take in storage.
    pub tenant_storage_bytes: u64,
    /// A structure's content unused for this many minutes is dropped from memory.
    pub content_idle_minutes: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let content = arbor_server::config::ContentLimits::default();
        let requests = arbor_server::config::RequestLimits::default();
        Self {
            request_body_bytes: requests.body_bytes,
            request_timeout_secs: requests.request_timeout.as_secs(),
            requests_per_client_per_minute: requests.per_client_per_minute,
            requests_per_person_per_minute: requests.per_person_per_minute,
            rows_per_structure: content.rows_per_structure,
            rows_per_edit: content.rows_per_edit,
            generators_per_structure: content.generators_per_structure,
            views_per_structure: content.views_per_structure,
            structures_per_person: content.structures_per_person,
            tenant_storage_bytes: content.tenant_storage_bytes,
            content_idle_minutes: content.content_idle.as_secs() / 60,
        }
    }
}

impl LimitSettings {
    /// The content limits these settings make.
    pub fn content(&self) -> arbor_server::config::ContentLimits {
        arbor_server::config::ContentLimits {
            rows_per_structure: self.rows_per_structure,
            rows_per_edit: self.rows_per_edit,
            generators_per_structure: self.generators_per_structure,
            views_per_structure: self.views_per_structure,
            structures_per_person: self.structures_per_person,
            tenant_storage_bytes: self.tenant_storage_bytes,
            content_idle: std::time::Duration::from_secs(self.content_idle_minutes.max(1) * 60),
        }
    }
}

/// Bounds on the HTTPS listener's connections; see `arbor_server::config::ConnectionLimits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionSettings {
    /// Seconds a new connection has for its TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Seconds a client has to send a request's head (HTTP/1.1), counted from when the connection is ready for one.
    pub header_read_timeout_secs: u64,
    /// Seconds after which a connection with no request in progress and nothing sent to it is closed.
    pub idle_timeout_secs: u64,
    /// Connections open at once on each listener; more are closed as soon as they are accepted.
    pub max: usize,
    /// Connections open at once from one client address.
    pub max_per_client: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        let limits = arbor_server::config::ConnectionLimits::default();
        Self {
            tls_handshake_timeout_secs: limits.tls_handshake_timeout.as_secs(),
            header_read_timeout_secs: limits.header_read_timeout.as_secs(),
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            max: limits.max,
            max_per_client: limits.max_per_client,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `arbor=debug,tower_http=info`.
    pub level: LogFilter,
    /// `auto` is human-readable on a terminal and JSON otherwise.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: LogFilter(String::from("info")),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

/// A `tracing` filter directive, checked when it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LogFilter(String);

impl LogFilter {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for LogFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        tracing_subscriber::EnvFilter::builder()
            .parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("not a valid log filter ({e})")))?;
        Ok(Self(text))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The address the HTTPS listener binds to.
    pub listen: SocketAddr,
    /// The address people use to reach arbor; OAuth redirects and links are built from it.
    pub public_url: Url,
    /// An optional plain-HTTP address that only redirects to HTTPS (e.g. `0.0.0.0:80`); empty for none.
    pub redirect_listen: String,
    /// The bearer token Prometheus presents for `/metrics`; when empty, metrics are off.
    pub metrics_token: Secret,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_url: Url::parse("https://127.0.0.1:8443/").expect("the default URL is valid"),
            redirect_listen: String::new(),
            metrics_token: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain. Empty, together with `key_file`, means a generated self-signed certificate.
    pub cert_file: PathBuf,
    /// PEM private key for `cert_file`.
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite:FILE` (relative to `data_dir`) or `postgres://...`.
    pub url: DatabaseUrl,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::Sqlite(PathBuf::from("arbor.db")),
        }
    }
}

/// Where the database lives. A PostgreSQL password is a secret, so it is never shown.
#[derive(Clone, PartialEq)]
pub enum DatabaseUrl {
    /// A SQLite file; a relative path is inside the data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`).
    Postgres(Url),
}

impl DatabaseUrl {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(String::from(
                    "a sqlite URL needs a file name, e.g. sqlite:arbor.db",
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        let url = Url::parse(text).map_err(|e| format!("not a database URL ({e})"))?;
        match url.scheme() {
            "postgres" | "postgresql" if url.host_str().is_some() => Ok(Self::Postgres(url)),
            "postgres" | "postgresql" => Err(String::from("a postgres URL needs a host")),
            other => Err(format!(
                "unsupported database scheme `{other}`: use sqlite:FILE or postgres://..."
            )),
        }
    }

    /// The URL with any password replaced by `***`.
    fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => {
                let mut shown = url.clone();
                if shown.password().is_some() {
                    // Only fails for URLs that cannot carry a password, which `parse` ruled out.
                    let _ = shown.set_password(Some("***"));
                }
                shown.to_string()
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JiraSettings {
    /// The Jira Cloud site people sign in to, e.g. `https://example.atlassian.net`. Empty until configured.
    pub site_url: String,
    /// The site's cloud id: when set, REST calls go through `api_url/ex/jira/{cloud_id}` (as Atlassian
    /// requires for OAuth apps); when empty, straight to `site_url` (jira-sim).
    pub cloud_id: String,
    /// The OAuth 2.0 (3LO) client id of arbor's app in the Atlassian developer console.
    pub client_id: String,
    /// The OAuth 2.0 client secret.
    pub client_secret: Secret,
    /// The authorisation server (authorize, token).
    pub auth_url: Url,
    /// The API gateway (accessible resources, `/me`, and REST calls by cloud id).
    pub api_url: Url,
    /// The site's story point field.
    pub story_points_field: String,
    /// The site's rank field.
    pub rank_field: String,
    /// Every this many minutes, ask Jira (as a site admin who has signed in) which issues changed and drop
    /// them from the caches: for changes webhooks do not bring. 0 turns polling off.
    pub poll_minutes: u64,
    /// Jira calls per minute that one person's requests may spend (bursts of a minute's worth): work that
    /// would call Jira is refused with 429 while they are spent, so that no one person uses up the site's
    /// quota. At least 1.
    pub calls_per_person_per_minute: u32,
    /// The largest webhook delivery body accepted, in KiB; a larger one is refused (413) before it is read.
    pub webhook_max_body_kib: u64,
    /// The longest a webhook delivery's token may be valid from its issue, in minutes (1 to 60).
    pub webhook_token_max_minutes: u64,
}

impl Default for JiraSettings {
    fn default() -> Self {
        Self {
            site_url: String::new(),
            cloud_id: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            auth_url: Url::parse("https://auth.atlassian.com").expect("the default URL is valid"),
            api_url: Url::parse("https://api.atlassian.com").expect("the default URL is valid"),
            story_points_field: "customfield_10016".into(),
            rank_field: "customfield_10019".into(),
            poll_minutes: 5,
            calls_per_person_per_minute: 1200,
            webhook_max_body_kib: 1024,
            webhook_token_max_minutes: 10,
        }
    }
}

/// A secret value. Its `Debug` and serialised forms are `***` when set and empty when not, so it cannot reach
/// a log line or `config check`; the value itself is read only through [`Secret::expose`].
#[derive(Clone, Default)]
pub struct Secret(Option<SecretString>);

impl Secret {
    pub fn new(value: &str) -> Self {
        if value.is_empty() {
            Self(None)
        } else {
            Self(Some(SecretString::from(value)))
        }
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> Option<&str> {
        self.0.as_ref().map(ExposeSecret::expose_secret)
    }

    fn shown(&self) -> &'static str {
        if self.is_set() { "***" } else { "" }
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.shown())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::new(&text))
    }
}

/// Why the configuration could not be loaded. Messages name the key and its source; they never contain a
/// secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    InFile {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{var}: {message}")]
    InEnv { var: String, message: String },
    #[error("{var}: cannot read {path}: {source}")]
    ReadSecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A loaded configuration, with the warnings met on the way (to be logged once logging is set up).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    pub warnings: Vec<String>,
}

/// Where the configuration file comes from.
#[derive(Debug, Clone)]
pub enum ConfigFile {
    /// Named by `--config` or `ARBOR_CONFIG`: it must exist.
    Given(PathBuf),
    /// Nothing named: `arbor.toml` in the working directory is read when it exists.
    Default,
}

/// Loads the configuration from `file` and the given environment (passed in so that tests need not change
/// the process environment).
pub fn load(
    file: &ConfigFile,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let (path, text) = match file {
        ConfigFile::Given(path) => (Some(path.clone()), Some(read_file(path)?)),
        ConfigFile::Default => {
            let path = PathBuf::from(DEFAULT_CONFIG_FILE);
            if path.exists() {
                (Some(path.clone()), Some(read_file(&path)?))
            } else {
                (None, None)
            }
        }
    };

    // The file alone is parsed straight into `Config` first, so that its errors keep their line and column.
    let mut table = toml::Table::new();
    if let (Some(path), Some(text)) = (&path, &text) {
        from_file_text(path, text)?;
        table = text
            .parse::<toml::Table>()
            .map_err(|e| file_error(path, text, &e, None))?;
    }

    let schema = schema();
    let mut warnings = Vec::new();
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    // Direct values first, then `_FILE` values, so that a file overrides a plain variable for the same key.
    env.sort_by_key(|(name, _)| {
        (
            name.ends_with("_FILE") && lookup(&schema, &key_path(name)).is_none(),
            name.clone(),
        )
    });
    let mut set_by: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (name, raw) in env {
        if ENV_NOT_KEYS.contains(&name.as_str()) || name.starts_with(ENV_TEST_PREFIX) {
            continue;
        }
        let Some((key, raw)) = env_value(&schema, &name, raw, &mut warnings)? else {
            continue;
        };
        let value = typed_env_value(&schema, &key, &name, &raw)?;
        if let Some(earlier) = set_by.insert(key.clone(), name.clone()) {
            warnings.push(format!(
                "{name} overrides {earlier} for `{}`",
                key.join(".")
            ));
        }
        insert(&mut table, &key, value);
    }

    let config =
        serde_path_to_error::deserialize::<_, Config>(toml::Value::Table(table)).map_err(|e| {
            let key: Vec<String> = e.path().to_string().split('.').map(str::to_owned).collect();
            let var = set_by
                .get(&key)
                .cloned()
                .unwrap_or_else(|| format!("{ENV_PREFIX}{}", env_name(&key)));
            ConfigError::InEnv {
                var,
                message: format!("invalid value for `{}`: {}", e.path(), e.inner().message()),
            }
        })?;
    Ok(Loaded {
        config,
        file: path,
        warnings,
    })
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

fn from_file_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| file_error(path, text, &e, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        file_error(path, text, e.inner(), Some(&key))
    })
}

fn file_error(path: &Path, text: &str, error: &toml::de::Error, key: Option<&str>) -> ConfigError {
    let (line, column) = error
        .span()
        .map_or((1, 1), |span| line_and_column(text, span.start));
    let message = match key {
        Some(key) if key != "." => format!("invalid value for `{key}`: {}", error.message()),
        _ => error.message().to_owned(),
    };
    ConfigError::InFile {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The defaults as a table: the list of keys and the type each one expects.
fn schema() -> toml::Table {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(table)) => table,
        // The defaults are a struct of plain values: they always serialise to a table.
        _ => toml::Table::new(),
    }
}

/// `ARBOR_SERVER__PUBLIC_URL` → `["server", "public_url"]`.
fn key_path(var: &str) -> Vec<String> {
    var.strip_prefix(ENV_PREFIX)
        .unwrap_or(var)
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect()
}

fn env_name(key: &[String]) -> String {
    key.iter()
        .map(|k| k.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("__")
}

fn lookup<'a>(table: &'a toml::Table, key: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = key.split_first()?;
    let value = table.get(first)?;
    if rest.is_empty() {
        Some(value)
    } else {
        lookup(value.as_table()?, rest)
    }
}

/// Resolves a variable to its key and raw value, reading `_FILE` indirections. Unknown variables become
/// warnings and yield `None`.
fn env_value(
    schema: &toml::Table,
    var: &str,
    raw: String,
    warnings: &mut Vec<String>,
) -> Result<Option<(Vec<String>, String)>, ConfigError> {
    let key = key_path(var);
    if lookup(schema, &key).is_some() {
        return Ok(Some((key, raw)));
    }
    if let Some(direct) = var.strip_suffix("_FILE") {
        let key = key_path(direct);
        if lookup(schema, &key).is_some() {
            let path = PathBuf::from(&raw);
            let content =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::ReadSecretFile {
                    var: var.to_owned(),
                    path,
                    source,
                })?;
            // Secret files usually end with a newline that is not part of the secret.
            let value = content
                .strip_suffix('\n')
                .map_or(content.as_str(), |v| v.strip_suffix('\r').unwrap_or(v));
            return Ok(Some((key, value.to_owned())));
        }
    }
    let hint =
        closest_key(schema, &key).map(|k| format!(" (did you mean {ENV_PREFIX}{}?)", env_name(&k)));
    warnings.push(format!(
        "unknown environment variable {var} is ignored{}",
        hint.unwrap_or_default()
    ));
    Ok(None)
}

/// Turns the text of a variable into a value of the type the key expects.
fn typed_env_value(
    schema: &toml::Table,
    key: &[String],
    var: &str,
    raw: &str,
) -> Result<toml::Value, ConfigError> {
    let error = |message: String| ConfigError::InEnv {
        var: var.to_owned(),
        message,
    };
    let expected =
        lookup(schema, key).ok_or_else(|| error(String::from("not a configuration key")))?;
    let name = key.join(".");
    match expected {
        toml::Value::String(_) => Ok(toml::Value::String(raw.to_owned())),
        toml::Value::Integer(_) => raw.trim().parse().map(toml::Value::Integer).map_err(|_| {
            error(format!(
                "invalid value for `{name}`: expected an integer, found `{raw}`"
            ))
        }),
        toml::Value::Float(_) => raw.trim().parse().map(toml::Value::Float).map_err(|_| {
            error(format!(
                "invalid value for `{name}`: expected a number, found `{raw}`"
            ))
        }),
        toml::Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(toml::Value::Boolean(true)),
            "false" => Ok(toml::Value::Boolean(false)),
            _ => Err(error(format!(
                "invalid value for `{name}`: expected true or false, found `{raw}`"
            ))),
        },
        toml::Value::Array(_) => format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(toml::Value::is_array)
            .ok_or_else(|| {
                error(format!(
                    "invalid value for `{name}`: expected a TOML array such as [\"a\", \"b\"]"
                ))
            }),
        toml::Value::Table(_) => Err(error(format!(
            "`{name}` is a section, not a value: set its keys, e.g. {ENV_PREFIX}{}__KEY",
            env_name(key)
        ))),
        toml::Value::Datetime(_) => raw.trim().parse().map(toml::Value::Datetime).map_err(|_| {
            error(format!(
                "invalid value for `{name}`: expected a date-time, found `{raw}`"
            ))
        }),
    }
}

fn insert(table: &mut toml::Table, key: &[String], value: toml::Value) {
    let Some((last, sections)) = key.split_last() else {
        return;
    };
    let mut current = table;
    for section in sections {
        let entry = current
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert(last.clone(), value);
}

/// The known key nearest to an unknown one, to suggest in a warning.
fn closest_key(schema: &toml::Table, key: &[String]) -> Option<Vec<String>> {
    let wanted = key.join(".");
    let mut keys = Vec::new();
    leaf_keys(schema, &mut Vec::new(), &mut keys);
    keys.into_iter()
        .map(|k| (edit_distance(&k.join("."), &wanted), k))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn leaf_keys(table: &toml::Table, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (name, value) in table {
        prefix.push(name.clone());
        match value {
            toml::Value::Table(inner) => leaf_keys(inner, prefix, out),
            _ => out.push(prefix.clone()),
        }
        prefix.pop();
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The effective settings as TOML, secrets shown as `***`.
pub fn render(config: &Config) -> String {
    toml::to_string(config).unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn file(text: &str) -> (tempfile::TempDir, ConfigFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arbor.toml");
        std::fs::write(&path, text).unwrap();
        (dir, ConfigFile::Given(path))
    }

    #[test]
    fn defaults_apply_without_file_or_environment() {
        let (_dir, given) = file("");
        let loaded = load(&given, env(&[])).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn file_overrides_defaults_and_environment_overrides_file_and_secret_files_override_environment()
     {
        let (dir, given) = file(
            "data_dir = \"/var/lib/arbor\"\nmaster_key = \"from-file\"\n[server]\nlisten = \"0.0.0.0:9000\"\n\
             [jira]\nclient_id = \"file-client\"\n",
        );
        let secret_path = dir.path().join("key");
        std::fs::write(&secret_path, "from-secret-file\n").unwrap();

        let only_file = load(&given, env(&[])).unwrap().config;
        assert_eq!(only_file.data_dir, PathBuf::from("/var/lib/arbor"));
        assert_eq!(only_file.server.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(only_file.master_key.expose(), Some("from-file"));
        assert_eq!(
            only_file.log,
            LogSettings::default(),
            "keys the file does not set keep their defaults"
        );

        let with_env = load(
            &given,
            env(&[
                ("ARBOR_SERVER__LISTEN", "127.0.0.1:7000"),
                ("ARBOR_MASTER_KEY", "from-env"),
            ]),
        )
        .unwrap()
        .config;
        assert_eq!(with_env.server.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(with_env.master_key.expose(), Some("from-env"));
        assert_eq!(with_env.jira.client_id, "file-client");

        let with_secret_file = load(
            &given,
            env(&[
                ("ARBOR_MASTER_KEY_FILE", secret_path.to_str().unwrap()),
                ("ARBOR_MASTER_KEY", "from-env"),
            ]),
        )
        .unwrap();
        assert_eq!(
            with_secret_file.config.master_key.expose(),
            Some("from-secret-file")
        );
        assert!(
            with_secret_file
                .warnings
                .iter()
                .any(|w| w.contains("ARBOR_MASTER_KEY_FILE overrides"))
        );
    }

    #[test]
    fn nested_keys_and_typed_values_come_from_environment() {
        let (_dir, given) = file("");
        let loaded = load(
            &given,
            env(&[
                ("ARBOR_LOG__FORMAT", "json"),
                ("ARBOR_LOG__LEVEL", "arbor=debug,info"),
                (
                    "ARBOR_DATABASE__URL",
                    "postgres://arbor:pw@db.internal:5432/arbor",
                ),
                ("ARBOR_JIRA__CLIENT_SECRET", "s3cr3t"),
                ("ARBOR_TLS__CERT_FILE", "/etc/arbor/cert.pem"),
            ]),
        )
        .unwrap();
        let config = loaded.config;
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.level.as_str(), "arbor=debug,info");
        assert!(matches!(config.database.url, DatabaseUrl::Postgres(_)));
        assert_eq!(config.jira.client_secret.expose(), Some("s3cr3t"));
        assert_eq!(config.tls.cert_file, PathBuf::from("/etc/arbor/cert.pem"));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn unknown_variables_are_warned_about_with_a_suggestion() {
        let (_dir, given) = file("");
        let loaded = load(
            &given,
            env(&[
                ("ARBOR_SERVER__LISTN", "x"),
                ("ARBOR_CONFIG", "ignored"),
                ("ARBOR_TEST_POSTGRES_URL", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("ARBOR_SERVER__LISTN"));
        assert!(loaded.warnings[0].contains("did you mean ARBOR_SERVER__LISTEN?"));
        assert_eq!(loaded.config, Config::default());
    }

    #[test]
    fn invalid_file_values_name_the_key_file_and_line() {
        let (_dir, given) = file("data_dir = \"x\"\n\n[server]\nlisten = \"not an address\"\n");
        let error = load(&given, env(&[])).unwrap_err().to_string();
        assert!(error.contains("arbor.toml:4:10"), "{error}");
        assert!(error.contains("`server.listen`"), "{error}");

        let (_dir, given) = file("[log]\nformat = \"xml\"\n");
        let error = load(&given, env(&[])).unwrap_err().to_string();
        assert!(error.contains("arbor.toml:2:"), "{error}");
        assert!(
            error.contains("`log.format`") && error.contains("xml"),
            "{error}"
        );

        let (_dir, given) = file("[server]\nlisten_port = 1\n");
        let error = load(&given, env(&[])).unwrap_err().to_string();
        assert!(
            error.contains("arbor.toml:2:1") && error.contains("listen_port"),
            "{error}"
        );

        let (_dir, given) = file("[server\n");
        let error = load(&given, env(&[])).unwrap_err().to_string();
        assert!(error.contains("arbor.toml:1:"), "{error}");
    }

    #[test]
    fn invalid_environment_values_name_the_variable_and_key() {
        let (_dir, given) = file("");
        let error = load(&given, env(&[("ARBOR_SERVER__LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("ARBOR_SERVER__LISTEN: invalid value for `server.listen`"),
            "{error}"
        );

        let error = load(&given, env(&[("ARBOR_DATABASE__URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ARBOR_DATABASE__URL") && error.contains("unsupported database scheme"),
            "{error}"
        );

        let error = load(&given, env(&[("ARBOR_SERVER", "x")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a section"), "{error}");

        let error = load(
            &given,
            env(&[("ARBOR_MASTER_KEY_FILE", "/nonexistent/key")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("ARBOR_MASTER_KEY_FILE: cannot read /nonexistent/key"),
            "{error}"
        );
    }

    #[test]
    fn a_named_file_must_exist() {
        let error = load(
            &ConfigFile::Given(PathBuf::from("/nonexistent/arbor.toml")),
            env(&[]),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot read the configuration file /nonexistent/arbor.toml")
        );
    }

    #[test]
    fn secrets_never_show_in_debug_or_rendered_output() {
        let (_dir, given) = file("");
        let config = load(
            &given,
            env(&[
                ("ARBOR_MASTER_KEY", "master-SENTINEL"),
                ("ARBOR_JIRA__CLIENT_SECRET", "client-SENTINEL"),
                (
                    "ARBOR_DATABASE__URL",
                    "postgres://arbor:password-SENTINEL@localhost/arbor",
                ),
            ]),
        )
        .unwrap()
        .config;
        for shown in [
            format!("{config:?}"),
            format!("{config:#?}"),
            render(&config),
        ] {
            assert!(!shown.contains("SENTINEL"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        assert!(render(&config).contains("postgres://arbor:***@localhost/arbor"));
    }

    #[test]
    fn rendered_defaults_parse_back_to_the_defaults() {
        let text = render(&Config::default());
        let (_dir, given) = file(&text);
        assert_eq!(load(&given, env(&[])).unwrap().config, Config::default());
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_and_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_and_column("x", 0), (1, 1));
    }
}
