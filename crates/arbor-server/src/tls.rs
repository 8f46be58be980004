//! The HTTPS transport of `arbor serve`: the TLS configuration, certificates (operator files or a self-signed one),
//! hot reload of operator files, the HTTPS server loop and the plain-HTTP redirect listener.
//!
//! Invariants:
//! - Only TLS 1.3 and TLS 1.2 are negotiated, with the AEAD, forward-secret suites of Mozilla's "intermediate"
//!   profile, from rustls' aws-lc-rs provider (no other crypto stack; no CBC, no RSA key exchange).
//! - A certificate is swapped in only after it parsed and its key matched it; a bad or half-written file is logged and
//!   the certificate already serving stays.
//! - Key material never reaches logs or errors: messages name files and what is wrong with them, never contents.
//! - Plain HTTP serves no content: every request gets a redirect to the same path under the public URL; the
//!   `Host` header is never reflected.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Request;
use axum::http::uri::PathAndQuery;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum_server::Handle;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::TokioTimer;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::config::ConnectionLimits;
use crate::connections::Limiter;

/// How often [`Tls::spawn_reloader`] looks at the certificate files unless told otherwise.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(30);
/// How long in-flight requests may run on after shutdown was asked for before connections are cut.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Lifetime of a generated self-signed certificate.
pub const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// A stored self-signed certificate is replaced once it has less than this left.
pub const SELF_SIGNED_RENEW_BEFORE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Names a self-signed certificate covers when the caller gives none: what a browser on the same machine uses.
pub const DEFAULT_SELF_SIGNED_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Shortest reload interval accepted; `tokio::time::interval` panics on zero and a busy loop helps nobody.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_millis(10);
/// Clients with a slightly slow clock should accept a certificate generated a moment ago.
const BACKDATE: Duration = Duration::from_secs(60 * 60);
const SELF_SIGNED_CERT_FILE: &str = "self-signed.crt";
const SELF_SIGNED_KEY_FILE: &str = "self-signed.key";

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// PEM files from the operator (chain first in `cert`, leaf first); reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
    /// A generated ECDSA P-256 certificate for these DNS names and IP addresses
    /// (empty: [`DEFAULT_SELF_SIGNED_HOSTS`]).
    SelfSigned { hosts: Vec<String> },
}

/// Why TLS could not be set up. Messages name the file and the problem, never key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} is not valid PEM: {problem}", path.display())]
    Pem {
        path: PathBuf,
        problem: &'static str,
    },
    #[error("{} contains no certificate (expected a `-----BEGIN CERTIFICATE-----` block)", path.display())]
    NoCertificate { path: PathBuf },
    #[error(
        "{} contains no private key (expected a `-----BEGIN PRIVATE KEY-----`, `EC PRIVATE KEY` or `RSA PRIVATE KEY` \
         block)",
        path.display()
    )]
    NoKey { path: PathBuf },
    #[error("the private key in {} does not belong to the certificate in {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot use the certificate in {} with the key in {}: {source}", cert.display(), key.display())]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS configuration rejected: {0}")]
    Config(#[from] rustls::Error),
    #[error("{0:?} is neither a DNS name nor an IP address")]
    InvalidHost(String),
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The cipher suites and key exchange groups we allow, from aws-lc-rs.
///
/// Mozilla "intermediate" (v5.7): every suite is AEAD with ephemeral ECDHE. X25519MLKEM768 is listed first, as
/// rustls' own default does, because it is the provider's default hybrid post-quantum group and costs clients that
/// do not offer it nothing.
fn crypto_provider() -> CryptoProvider {
    use rustls::crypto::aws_lc_rs::{self, cipher_suite as suite, kx_group};
    CryptoProvider {
        // Mozilla's order; the client's preference decides among them (rustls' default), as the profile asks.
        cipher_suites: vec![
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        kx_groups: vec![
            kx_group::X25519MLKEM768,
            kx_group::X25519,
            kx_group::SECP256R1,
            kx_group::SECP384R1,
        ],
        ..aws_lc_rs::default_provider()
    }
}

/// A server configuration for this chain (leaf first) and key: TLS 1.3 and 1.2, Mozilla "intermediate" suites,
/// ALPN `h2` then `http/1.1`. Fails if the key does not match the leaf or is of a kind aws-lc-rs cannot sign with.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        // `with_single_cert` checks that the key belongs to the leaf (`CertifiedKey::keys_match`).
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The HTTPS configuration of a running server: the swappable rustls config plus what callers print or trust.
pub struct Tls {
    config: RustlsConfig,
    fingerprint: String,
    certificate_pem: Option<String>,
    watched: Option<WatchedFiles>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint)
            .field("self_signed", &self.certificate_pem.is_some())
            .field("watched", &self.watched.as_ref().map(|w| (&w.cert, &w.key)))
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the certificate `source` names. `data_dir` is where a self-signed certificate is kept (under `tls/`)
    /// and reused across starts; `None` generates a fresh one each time. Blocking file I/O: call it at start-up.
    pub fn load(source: &CertSource, data_dir: Option<&Path>) -> Result<Self, TlsError> {
        match source {
            CertSource::Files { cert, key } => Self::from_files(cert, key),
            CertSource::SelfSigned { hosts } => Self::self_signed(hosts, data_dir),
        }
    }

    /// Loads an operator's PEM certificate chain and private key; [`Tls::spawn_reloader`] then watches both.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        let (config, leaf) = config_from_pem(cert, &cert_pem, key, &key_pem)?;
        Ok(Self {
            config: RustlsConfig::from_config(Arc::new(config)),
            fingerprint: sha256_fingerprint(&leaf),
            certificate_pem: None,
            watched: Some(WatchedFiles {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                digest: content_digest(&cert_pem, &key_pem),
                last_problem: None,
            }),
        })
    }

    /// A self-signed ECDSA P-256 certificate for `hosts`, valid [`SELF_SIGNED_VALIDITY`]. With `data_dir` it is
    /// kept as `tls/self-signed.crt` and `tls/self-signed.key` there and reused while it covers `hosts` and has more
    /// than [`SELF_SIGNED_RENEW_BEFORE`] left.
    pub fn self_signed(hosts: &[String], data_dir: Option<&Path>) -> Result<Self, TlsError> {
        let hosts = certificate_hosts(hosts)?;
        let Some(data_dir) = data_dir else {
            let generated = generate_self_signed(&hosts, SELF_SIGNED_VALIDITY)?;
            let label = Path::new("(generated certificate)");
            return Self::from_self_signed(label, label, generated.cert_pem, &generated.key_pem);
        };
        let dir = data_dir.join("tls");
        create_private_dir(&dir)?;
        let cert_path = dir.join(SELF_SIGNED_CERT_FILE);
        let key_path = dir.join(SELF_SIGNED_KEY_FILE);
        if let Some(tls) = reuse_self_signed(&cert_path, &key_path, &hosts) {
            return Ok(tls);
        }
        let generated = generate_self_signed(&hosts, SELF_SIGNED_VALIDITY)?;
        // Key first: a crash between the two writes leaves a pair that does not match, which the next start
        // replaces, never a new certificate beside an old key.
        write_atomically(&key_path, generated.key_pem.as_bytes())?;
        write_atomically(&cert_path, generated.cert_pem.as_bytes())?;
        let tls = Self::from_self_signed(
            &cert_path,
            &key_path,
            generated.cert_pem,
            &generated.key_pem,
        )?;
        tracing::info!(
            cert = %cert_path.display(),
            fingerprint = %tls.fingerprint,
            "generated a self-signed TLS certificate"
        );
        Ok(tls)
    }

    fn from_self_signed(
        cert: &Path,
        key: &Path,
        cert_pem: String,
        key_pem: &str,
    ) -> Result<Self, TlsError> {
        let (config, leaf) = config_from_pem(cert, cert_pem.as_bytes(), key, key_pem.as_bytes())?;
        Ok(Self {
            config: RustlsConfig::from_config(Arc::new(config)),
            fingerprint: sha256_fingerprint(&leaf),
            certificate_pem: Some(cert_pem),
            watched: None,
        })
    }

    /// The configuration to serve with; clones share it, so a reload reaches every clone.
    pub fn rustls_config(&self) -> RustlsConfig {
        self.config.clone()
    }

    /// SHA-256 fingerprint of the leaf certificate loaded at start, as `AB:CD:…` (what `openssl x509 -fingerprint
    /// -sha256` and browsers show).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The PEM of a self-signed certificate, for clients that must trust it; `None` for operator files.
    pub fn self_signed_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Starts watching the operator's files: every `interval` (at least 10 ms) both are read, and when their
    /// content changed a new configuration is built and swapped in; a file that does not work is logged and the
    /// current certificate kept. The task ends when `shutdown` turns `true` or its sender is dropped (the caller may
    /// also abort the handle). `None` for a self-signed certificate, which has nothing to watch.
    pub fn spawn_reloader(
        &self,
        interval: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        let watched = self.watched.clone()?;
        let config = self.config.clone();
        Some(tokio::spawn(reload_loop(
            config,
            watched,
            interval.max(MIN_RELOAD_INTERVAL),
            shutdown,
        )))
    }
}

#[derive(Clone)]
struct WatchedFiles {
    cert: PathBuf,
    key: PathBuf,
    /// Digest of the content last looked at (good or bad), so each new content is tried and reported once.
    digest: [u8; 32],
    /// The last warning, so a file that stays missing is reported once rather than every tick.
    last_problem: Option<String>,
}

async fn reload_loop(
    config: RustlsConfig,
    mut files: WatchedFiles,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once; the files were read a moment ago.
    ticker.tick().await;
    loop {
        tokio::select! {
            () = wait_for_shutdown(&mut shutdown) => return,
            _ = ticker.tick() => files.poll(&config).await,
        }
    }
}

impl WatchedFiles {
    /// Reads both files and reloads when their content changed. Content, not modification time, decides: mtimes
    /// have a granularity of a second or two on some filesystems and survive `cp -p` or tar extraction, so a renewed
    /// certificate could go unseen, while reading two small files every few seconds costs nothing.
    async fn poll(&mut self, config: &RustlsConfig) {
        let read_both = async { tokio::try_join!(read_async(&self.cert), read_async(&self.key)) };
        let (cert_pem, key_pem) = match read_both.await {
            Ok(both) => both,
            Err(error) => return self.warn(&error),
        };
        let digest = content_digest(&cert_pem, &key_pem);
        if digest == self.digest {
            return;
        }
        self.digest = digest;
        match config_from_pem(&self.cert, &cert_pem, &self.key, &key_pem) {
            Ok((new, leaf)) => {
                config.reload_from_config(Arc::new(new));
                self.last_problem = None;
                tracing::info!(
                    cert = %self.cert.display(),
                    fingerprint = %sha256_fingerprint(&leaf),
                    "reloaded the TLS certificate"
                );
            }
            Err(error) => self.warn(&error),
        }
    }

    fn warn(&mut self, error: &TlsError) {
        let problem = error.to_string();
        if self.last_problem.as_deref() != Some(problem.as_str()) {
            tracing::warn!(error = %problem, "keeping the current TLS certificate: the files on disk are not usable");
            self.last_problem = Some(problem);
        }
    }
}

/// Resolves once `shutdown` is `true`.
async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped: nobody is left who could stop us later, so that is a shutdown too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Parses PEM bytes that came from `cert_path` and `key_path` (named in errors) into a configuration and the leaf.
///
/// Bytes rather than paths, so the reloader parses exactly the content it digested.
fn config_from_pem(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<(ServerConfig, CertificateDer<'static>), TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(cert_path, &error))?;
    let Some(leaf) = chain.first().cloned() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    };
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: key_path.to_path_buf(),
        },
        other => pem_error(key_path, &other),
    })?;
    let config = server_config(chain, key).map_err(|error| match error {
        TlsError::Config(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            TlsError::KeyMismatch {
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
            }
        }
        TlsError::Config(source) => TlsError::Unusable {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
            source,
        },
        other => other,
    })?;
    Ok((config, leaf))
}

/// Our own words for PEM problems: the parser's messages may quote lines of the file, which could be key material.
fn pem_error(path: &Path, error: &pem::Error) -> TlsError {
    let problem = match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line (truncated file?)",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::NoItemsFound => "it holds no item of the expected kind",
        _ => "it cannot be parsed",
    };
    TlsError::Pem {
        path: path.to_path_buf(),
        problem,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

async fn read_async(path: &Path) -> Result<Vec<u8>, TlsError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn content_digest(cert_pem: &[u8], key_pem: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    // The length keeps `cert|key` boundaries apart: moving bytes between the files is a change.
    hasher.update((cert_pem.len() as u64).to_le_bytes());
    hasher.update(cert_pem);
    hasher.update(key_pem);
    hasher.finalize().into()
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex.
pub fn sha256_fingerprint(cert_der: &[u8]) -> String {
    let digest = Sha256::digest(cert_der);
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{byte:02X}"));
    }
    out
}

/// Validated names for a self-signed certificate: brackets dropped from IPv6 literals, defaults when empty.
fn certificate_hosts(hosts: &[String]) -> Result<Vec<String>, TlsError> {
    let hosts: Vec<String> = if hosts.is_empty() {
        DEFAULT_SELF_SIGNED_HOSTS
            .iter()
            .map(|h| (*h).to_owned())
            .collect()
    } else {
        hosts.to_vec()
    };
    hosts
        .into_iter()
        .map(|host| {
            let bare = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(&host);
            // A name rustls cannot match a certificate against would give a certificate no client accepts.
            ServerName::try_from(bare)
                .map(|_| bare.to_owned())
                .map_err(|_| TlsError::InvalidHost(host.clone()))
        })
        .collect()
}

struct GeneratedCert {
    cert_pem: String,
    key_pem: String,
}

fn generate_self_signed(hosts: &[String], valid_for: Duration) -> Result<GeneratedCert, TlsError> {
    let mut params = rcgen::CertificateParams::new(hosts.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "arbor self-signed");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "arbor");
    // rcgen takes `time` dates; from the epoch plus a std Duration we need no direct dependency on `time`.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch.saturating_sub(BACKDATE);
    params.not_after = epoch + since_epoch.saturating_add(valid_for);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    // Strict validators (Python's `cryptography`, used by scanners) want an authority key identifier on every
    // certificate, self-signed ones included.
    params.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok(GeneratedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The stored self-signed certificate if it is usable, covers `hosts` and has enough time left; `None` (with the
/// reason logged) when a new one must be made.
fn reuse_self_signed(cert_path: &Path, key_path: &Path, hosts: &[String]) -> Option<Tls> {
    let (cert_pem, key_pem) = match (std::fs::read(cert_path), std::fs::read(key_path)) {
        (Ok(cert), Ok(key)) => (cert, key),
        (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::NotFound => return None,
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, dir = ?cert_path.parent(), "cannot read the stored self-signed certificate");
            return None;
        }
    };
    let (config, leaf) = match config_from_pem(cert_path, &cert_pem, key_path, &key_pem) {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::warn!(%error, "replacing the stored self-signed certificate");
            return None;
        }
    };
    let renew_at = SystemTime::now().checked_add(SELF_SIGNED_RENEW_BEFORE)?;
    if let Err(reason) = valid_for_hosts_at(&leaf, hosts, renew_at) {
        tracing::info!(%reason, "replacing the stored self-signed certificate");
        return None;
    }
    let certificate_pem = String::from_utf8(cert_pem).ok()?;
    let fingerprint = sha256_fingerprint(&leaf);
    tracing::info!(cert = %cert_path.display(), %fingerprint, "reusing the stored self-signed TLS certificate");
    Some(Tls {
        config: RustlsConfig::from_config(Arc::new(config)),
        fingerprint,
        certificate_pem: Some(certificate_pem),
        watched: None,
    })
}

/// Checks, as a client trusting this very certificate would at time `at`, that it is valid for every host. This
/// checks the dates and the names with the same code that will judge it later, without a certificate parser of our
/// own.
fn valid_for_hosts_at(
    leaf: &CertificateDer<'static>,
    hosts: &[String],
    at: SystemTime,
) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(leaf.clone())
        .map_err(|e| format!("not a usable certificate: {e}"))?;
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(crypto_provider()))
            .build()
            .map_err(|e| e.to_string())?;
    let at = UnixTime::since_unix_epoch(at.duration_since(UNIX_EPOCH).unwrap_or_default());
    for host in hosts {
        let name = ServerName::try_from(host.as_str()).map_err(|e| e.to_string())?;
        verifier
            .verify_server_cert(leaf, &[], &name, &[], at)
            .map_err(|e| {
                format!(
                    "not valid for {host} {} days from now: {e}",
                    SELF_SIGNED_RENEW_BEFORE.as_secs() / 86_400
                )
            })?;
    }
    Ok(())
}

/// Creates `dir` (and parents) readable by the owner only; an existing one is tightened, since it holds a key.
fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let write_error = |source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(dir).map_err(write_error)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(write_error)?;
    }
    #[cfg(not(unix))]
    builder.create(dir).map_err(write_error)?;
    Ok(())
}

/// Writes through a temporary file and a rename, so a reader never sees half a file; mode 0600 on unix from the
/// moment the file exists, since this is also how the key is written.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let write_error = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    // A leftover from a crash would make `create_new` fail; it is ours to remove.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(write_error(e)),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(write_error)
}

/// Serves `app` over HTTPS on `listener` until `handle` is told to shut down; each handler can extract
/// `ConnectInfo<SocketAddr>`. Call `handle.graceful_shutdown(Some(SHUTDOWN_GRACE))` (or use
/// [`shutdown_on_signal`]) so in-flight requests finish before the connections close. `limits` bound the
/// connections: how many may be open, and how long one may take to handshake, to send a request head, or stay
/// idle.
pub async fn serve_https(
    listener: std::net::TcpListener,
    config: RustlsConfig,
    app: Router,
    handle: Handle<SocketAddr>,
    limits: ConnectionLimits,
) -> io::Result<()> {
    // Tokio requires a non-blocking socket; a listener from `std` is blocking by default.
    listener.set_nonblocking(true)?;
    let acceptor = RustlsAcceptor::new(config)
        .handshake_timeout(limits.tls_handshake_timeout)
        .acceptor(Limiter::new(&limits));
    let mut server = axum_server::from_tcp(listener)?.acceptor(acceptor);
    time_request_heads(&mut server, &limits);
    server
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Gives hyper a timer, which it needs to time request heads (HTTP/1.1) at all.
fn time_request_heads<A>(
    server: &mut axum_server::Server<SocketAddr, A>,
    limits: &ConnectionLimits,
) {
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
}

/// Starts a graceful shutdown of `handle`'s server with `grace` for in-flight requests once `shutdown` turns
/// `true` (or its sender is dropped). Abort the returned task if the server ends first.
pub fn shutdown_on_signal(
    handle: Handle<SocketAddr>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        wait_for_shutdown(&mut shutdown).await;
        handle.graceful_shutdown(Some(grace));
    })
}

/// Plain HTTP on `listener`: every request, whatever its method or path, gets `308 Permanent Redirect` to the same
/// path and query under `public_url` (an `https://` URL), whose scheme, host and port alone make the target: the
/// `Host` header is never reflected. `limits` bound its connections as they do the HTTPS listener's (but for the
/// handshake timeout: there is no TLS). Runs until `shutdown` turns `true` (or its sender is dropped), then lets
/// open requests finish for up to [`SHUTDOWN_GRACE`].
pub fn redirect_listener(
    listener: tokio::net::TcpListener,
    public_url: &Url,
    limits: ConnectionLimits,
    shutdown: watch::Receiver<bool>,
) -> impl Future<Output = io::Result<()>> + Send + 'static {
    let origin: Arc<str> = public_url.origin().ascii_serialization().into();
    let app =
        Router::new().fallback(move |request: Request| async move { redirect(&request, &origin) });
    let mut server = axum_server::Server::from_listener(listener).acceptor(Limiter::new(&limits));
    time_request_heads(&mut server, &limits);
    let handle = Handle::new();
    let server = server.handle(handle.clone());
    async move {
        let stopper = shutdown_on_signal(handle, shutdown, SHUTDOWN_GRACE);
        let served = server.serve(app.into_make_service()).await;
        stopper.abort();
        served
    }
}

fn redirect(request: &Request, origin: &str) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(PathAndQuery::as_str)
        // `OPTIONS *` has no path to keep.
        .filter(|pq| pq.starts_with('/'))
        .unwrap_or("/");
    // Appended to the origin, a path such as `//evil.example/` stays a path on our host.
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, format!("{origin}{path}"))],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Read as _;
    use std::net::TcpStream;

    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use rustls::{
        CipherSuite, ClientConfig, ClientConnection, ProtocolVersion, SupportedProtocolVersion,
    };

    static TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
    static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    static HTTP1: &[&[u8]] = &[b"http/1.1"];
    static H2_AND_HTTP1: &[&[u8]] = &[b"h2", b"http/1.1"];

    fn app() -> Router {
        Router::new()
            .route(
                "/",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    format!("hello {}", peer.ip())
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "slow done"
                }),
            )
    }

    struct Running {
        addr: SocketAddr,
        handle: Handle<SocketAddr>,
        server: JoinHandle<io::Result<()>>,
    }

    fn start(config: RustlsConfig) -> Running {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = Handle::new();
        let server = tokio::spawn(serve_https(
            listener,
            config,
            app(),
            handle.clone(),
            ConnectionLimits::default(),
        ));
        Running {
            addr,
            handle,
            server,
        }
    }

    fn pem_to_der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    struct Handshake {
        version: ProtocolVersion,
        alpn: Option<Vec<u8>>,
        suite: Option<CipherSuite>,
        leaf: CertificateDer<'static>,
        response: String,
    }

    /// A bare rustls client, so versions and ALPN are ours to choose and the peer certificate is visible.
    fn connect(
        addr: SocketAddr,
        trusted: &[CertificateDer<'static>],
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Result<Handshake, String> {
        let mut roots = RootCertStore::empty();
        for cert in trusted {
            roots.add(cert.clone()).unwrap();
        }
        let mut config = ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        }
        let version = conn.protocol_version().unwrap();
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
        let leaf = conn.peer_certificates().unwrap()[0].clone().into_owned();
        let mut response = String::new();
        if alpn.as_deref() != Some(b"h2") {
            let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            // The server closes without close_notify sometimes; what was read is what counts.
            let _ = stream.read_to_string(&mut response);
        }
        Ok(Handshake {
            version,
            alpn,
            suite,
            leaf,
            response,
        })
    }

    async fn connect_async(
        addr: SocketAddr,
        trusted: Vec<CertificateDer<'static>>,
        versions: &'static [&'static SupportedProtocolVersion],
        alpn: &'static [&'static [u8]],
    ) -> Result<Handshake, String> {
        tokio::task::spawn_blocking(move || connect(addr, &trusted, versions, alpn))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reqwest_trusting_the_self_signed_certificate_gets_the_page_with_connect_info() {
        let tls = Tls::self_signed(&[], None).unwrap();
        let pem = tls.self_signed_pem().unwrap().to_owned();
        let running = start(tls.rustls_config());
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .resolve("localhost", running.addr)
            .build()
            .unwrap();
        for url in [
            format!("https://localhost:{}/", running.addr.port()),
            format!("https://127.0.0.1:{}/", running.addr.port()),
        ] {
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{url}");
            assert_eq!(response.text().await.unwrap(), "hello 127.0.0.1");
        }
        // Without trusting it, the same client setup must refuse the certificate.
        let untrusting = reqwest::Client::builder()
            .resolve("localhost", running.addr)
            .build()
            .unwrap();
        assert!(
            untrusting
                .get(format!("https://localhost:{}/", running.addr.port()))
                .send()
                .await
                .is_err()
        );
        running.handle.shutdown();
    }

    #[tokio::test]
    async fn tls12_only_and_tls13_only_clients_connect_and_alpn_offers_h2() {
        let tls = Tls::self_signed(&["localhost".to_owned()], None).unwrap();
        let trusted = vec![pem_to_der(tls.self_signed_pem().unwrap())];
        let running = start(tls.rustls_config());

        let v12 = connect_async(running.addr, trusted.clone(), TLS12_ONLY, HTTP1)
            .await
            .unwrap();
        assert_eq!(v12.version, ProtocolVersion::TLSv1_2);
        assert!(v12.response.starts_with("HTTP/1.1 200"), "{}", v12.response);

        let v13 = connect_async(running.addr, trusted.clone(), TLS13_ONLY, HTTP1)
            .await
            .unwrap();
        assert_eq!(v13.version, ProtocolVersion::TLSv1_3);
        assert!(
            v13.response.ends_with("hello 127.0.0.1"),
            "{}",
            v13.response
        );

        let h2 = connect_async(running.addr, trusted, TLS13_ONLY, H2_AND_HTTP1)
            .await
            .unwrap();
        assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
        running.handle.shutdown();
    }

    #[tokio::test]
    async fn operator_rsa_certificates_negotiate_ecdhe_rsa_over_tls12() {
        let dir = tempfile::tempdir().unwrap();
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let generated = GeneratedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        let (cert_path, key_path) = write_pair(dir.path(), &generated);
        let tls = Tls::from_files(&cert_path, &key_path).unwrap();
        let running = start(tls.rustls_config());
        let trusted = vec![cert.der().clone()];
        let v12 = connect_async(running.addr, trusted, TLS12_ONLY, HTTP1)
            .await
            .unwrap();
        assert_eq!(v12.version, ProtocolVersion::TLSv1_2);
        assert_eq!(
            v12.suite,
            Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
        );
        running.handle.shutdown();
    }

    #[test]
    fn only_the_intermediate_suites_groups_and_versions_are_configured() {
        let tls = Tls::self_signed(&[], None).unwrap();
        let config = tls.rustls_config().get_inner();
        let suites: Vec<String> = config
            .crypto_provider()
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(
            suites,
            [
                "TLS13_AES_128_GCM_SHA256",
                "TLS13_AES_256_GCM_SHA384",
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            ]
        );
        let groups: Vec<String> = config
            .crypto_provider()
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect();
        assert_eq!(
            groups,
            ["X25519MLKEM768", "X25519", "secp256r1", "secp384r1"]
        );
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    /// A TLS 1.2 ClientHello offering only `suites`, written by hand: rustls clients cannot offer CBC or RSA key
    /// exchange at all, so this is the only way to knock on that door.
    fn client_hello(suites: &[u16]) -> Vec<u8> {
        let mut extensions = Vec::new();
        // supported_groups: x25519, secp256r1
        extensions.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
        // ec_point_formats: uncompressed
        extensions.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
        // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
        extensions.extend_from_slice(&[
            0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01,
        ]);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x42; 32]);
        body.push(0); // no session id
        body.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
        for suite in suites {
            body.extend_from_slice(&suite.to_be_bytes());
        }
        body.extend_from_slice(&[0x01, 0x00]); // null compression only
        body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&extensions);
        let mut handshake = vec![0x01];
        handshake.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        handshake.extend_from_slice(&body);
        let mut record = vec![0x16, 0x03, 0x01];
        record.extend_from_slice(&u16::try_from(handshake.len()).unwrap().to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }

    /// The first record the server answers with: its content type and first two payload bytes.
    fn first_record(addr: SocketAddr, hello: &[u8]) -> (u8, [u8; 2]) {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.write_all(hello).unwrap();
        let mut header = [0u8; 7];
        tcp.read_exact(&mut header).unwrap();
        (header[0], [header[5], header[6]])
    }

    #[tokio::test]
    async fn cbc_and_rsa_key_exchange_suites_are_refused() {
        let tls = Tls::self_signed(&[], None).unwrap();
        let running = start(tls.rustls_config());
        let addr = running.addr;
        let (control, cbc) = tokio::task::spawn_blocking(move || {
            // Control: the same hand-made hello with an intermediate suite gets a ServerHello (handshake type 2).
            let control = first_record(addr, &client_hello(&[0xc02b]));
            let cbc = first_record(
                addr,
                &client_hello(&[
                    0xc009, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
                    0xc00a, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
                    0xc023, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
                    0xc013, // ECDHE_RSA_WITH_AES_128_CBC_SHA
                    0xc027, // ECDHE_RSA_WITH_AES_128_CBC_SHA256
                    0x002f, // RSA_WITH_AES_128_CBC_SHA
                    0x009c, // RSA_WITH_AES_128_GCM_SHA256 (RSA key exchange)
                    0x000a, // RSA_WITH_3DES_EDE_CBC_SHA
                ]),
            );
            (control, cbc)
        })
        .await
        .unwrap();
        assert_eq!(control.0, 0x16, "handshake record expected");
        assert_eq!(control.1[0], 0x02, "ServerHello expected");
        // Alert record, fatal (2), handshake_failure (40).
        assert_eq!(cbc, (0x15, [2, 40]));
        running.handle.shutdown();
    }

    fn write_pair(dir: &Path, cert: &GeneratedCert) -> (PathBuf, PathBuf) {
        let cert_path = dir.join("server.crt");
        let key_path = dir.join("server.key");
        std::fs::write(&cert_path, &cert.cert_pem).unwrap();
        std::fs::write(&key_path, &cert.key_pem).unwrap();
        (cert_path, key_path)
    }

    #[tokio::test]
    async fn changed_files_are_reloaded_and_bad_ones_keep_the_current_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = ["localhost".to_owned()];
        let a = generate_self_signed(&hosts, SELF_SIGNED_VALIDITY).unwrap();
        let b = generate_self_signed(&hosts, SELF_SIGNED_VALIDITY).unwrap();
        let (a_der, b_der) = (pem_to_der(&a.cert_pem), pem_to_der(&b.cert_pem));
        let trusted = vec![a_der.clone(), b_der.clone()];
        let (cert_path, key_path) = write_pair(dir.path(), &a);

        let tls = Tls::from_files(&cert_path, &key_path).unwrap();
        assert_eq!(tls.fingerprint(), sha256_fingerprint(&a_der));
        assert!(tls.self_signed_pem().is_none());
        let (stop, shutdown) = watch::channel(false);
        let reloader = tls
            .spawn_reloader(Duration::from_millis(100), shutdown)
            .unwrap();
        let running = start(tls.rustls_config());
        let served = || connect_async(running.addr, trusted.clone(), TLS13_ONLY, HTTP1);
        assert_eq!(served().await.unwrap().leaf, a_der);

        write_pair(dir.path(), &b);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while served().await.unwrap().leaf != b_der {
            assert!(
                tokio::time::Instant::now() < deadline,
                "certificate B never served"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        std::fs::write(&cert_path, "-----BEGIN CERTIFICATE-----\ngarbage\n").unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(served().await.unwrap().leaf, b_der, "garbage must keep B");

        // A's certificate with B's key still on disk: a mismatch, also kept out.
        std::fs::write(&cert_path, &a.cert_pem).unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            served().await.unwrap().leaf,
            b_der,
            "mismatched pair must keep B"
        );

        std::fs::remove_file(&key_path).unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            served().await.unwrap().leaf,
            b_der,
            "missing key must keep B"
        );

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), reloader)
            .await
            .unwrap()
            .unwrap();
        running.handle.shutdown();
    }

    #[test]
    fn load_errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = ["localhost".to_owned()];
        let a = generate_self_signed(&hosts, SELF_SIGNED_VALIDITY).unwrap();
        let b = generate_self_signed(&hosts, SELF_SIGNED_VALIDITY).unwrap();
        let (cert, key) = write_pair(dir.path(), &a);
        let missing = dir.path().join("missing.pem");

        let err = Tls::from_files(&missing, &key).unwrap_err();
        assert!(
            matches!(err, TlsError::Read { ref path, .. } if *path == missing),
            "{err}"
        );
        assert!(err.to_string().contains("missing.pem"), "{err}");

        // Files swapped by mistake: no certificate in the "certificate", no key in the "key".
        let err = Tls::from_files(&key, &key).unwrap_err();
        assert!(
            matches!(err, TlsError::NoCertificate { ref path } if *path == key),
            "{err}"
        );
        let err = Tls::from_files(&cert, &cert).unwrap_err();
        assert!(
            matches!(err, TlsError::NoKey { ref path } if *path == cert),
            "{err}"
        );

        std::fs::write(&key, &b.key_pem).unwrap();
        let err = Tls::from_files(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("server.key") && message.contains("server.crt"),
            "{message}"
        );

        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = Tls::from_files(&cert, &key).unwrap_err();
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
        // No key material in any message.
        assert!(!err.to_string().contains("PRIVATE"));
    }

    #[test]
    fn self_signed_certificates_are_kept_private_and_reused_until_near_expiry() {
        let data = tempfile::tempdir().unwrap();
        let hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
        ];
        let first = Tls::self_signed(&hosts, Some(data.path())).unwrap();
        let cert_path = data.path().join("tls").join(SELF_SIGNED_CERT_FILE);
        let key_path = data.path().join("tls").join(SELF_SIGNED_KEY_FILE);
        assert_eq!(
            std::fs::read_to_string(&cert_path).unwrap(),
            first.self_signed_pem().unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&key_path), 0o600);
            assert_eq!(mode(&data.path().join("tls")), 0o700);
        }
        assert_eq!(first.fingerprint().len(), 32 * 3 - 1);

        let again = Tls::self_signed(&hosts, Some(data.path())).unwrap();
        assert_eq!(
            again.fingerprint(),
            first.fingerprint(),
            "a fresh certificate is reused"
        );

        let other_hosts = vec!["arbor.example".to_owned()];
        let renamed = Tls::self_signed(&other_hosts, Some(data.path())).unwrap();
        assert_ne!(
            renamed.fingerprint(),
            first.fingerprint(),
            "new hosts need a new certificate"
        );

        // Six days left: under the seven-day margin, so it is replaced.
        let expiring = generate_self_signed(&other_hosts, Duration::from_secs(6 * 86_400)).unwrap();
        std::fs::write(&cert_path, &expiring.cert_pem).unwrap();
        std::fs::write(&key_path, &expiring.key_pem).unwrap();
        let expiring_fp = sha256_fingerprint(&pem_to_der(&expiring.cert_pem));
        let renewed = Tls::self_signed(&other_hosts, Some(data.path())).unwrap();
        assert_ne!(renewed.fingerprint(), expiring_fp);

        // Eight days left: still reused.
        let lasting = generate_self_signed(&other_hosts, Duration::from_secs(8 * 86_400)).unwrap();
        std::fs::write(&cert_path, &lasting.cert_pem).unwrap();
        std::fs::write(&key_path, &lasting.key_pem).unwrap();
        let kept = Tls::self_signed(&other_hosts, Some(data.path())).unwrap();
        assert_eq!(
            kept.fingerprint(),
            sha256_fingerprint(&pem_to_der(&lasting.cert_pem))
        );

        assert!(matches!(
            Tls::self_signed(&["bad host".to_owned()], None),
            Err(TlsError::InvalidHost(_))
        ));
    }

    #[tokio::test]
    async fn graceful_shutdown_lets_in_flight_requests_finish() {
        let tls = Tls::self_signed(&[], None).unwrap();
        let pem = tls.self_signed_pem().unwrap().to_owned();
        let running = start(tls.rustls_config());
        let (stop, shutdown) = watch::channel(false);
        let _watcher = shutdown_on_signal(running.handle.clone(), shutdown, Duration::from_secs(5));
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
            .build()
            .unwrap();
        let url = format!("https://127.0.0.1:{}/slow", running.addr.port());
        let slow =
            tokio::spawn(
                async move { client.get(url).send().await.unwrap().text().await.unwrap() },
            );
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(true).unwrap();
        assert_eq!(slow.await.unwrap(), "slow done");
        tokio::time::timeout(Duration::from_secs(5), running.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn plain_http_only_redirects_to_the_public_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, shutdown) = watch::channel(false);
        let public = Url::parse("https://arbor.example:8443/").unwrap();
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            ..ConnectionLimits::default()
        };
        let server = tokio::spawn(redirect_listener(listener, &public, limits, shutdown));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let send = |host: &'static str, path: &'static str| {
            let client = client.clone();
            async move {
                client
                    .post(format!("http://{addr}{path}"))
                    .header(header::HOST, host)
                    .send()
                    .await
                    .unwrap()
            }
        };

        let response = send("arbor.example", "/a/b?c=d&e").await;
        assert_eq!(response.status(), 308);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://arbor.example:8443/a/b?c=d&e"
        );
        assert!(
            response.text().await.unwrap().is_empty(),
            "no content over plain HTTP"
        );
        // Whatever the Host header says, the target is the public URL.
        for (hostile, path, location) in [
            ("evil.example", "/x", "https://arbor.example:8443/x"),
            (
                "evil.example:443",
                "//evil.example/",
                "https://arbor.example:8443//evil.example/",
            ),
            ("evil.example/path", "/", "https://arbor.example:8443/"),
            ("", "/", "https://arbor.example:8443/"),
        ] {
            let response = send(hostile, path).await;
            assert_eq!(response.status(), 308, "{hostile:?}");
            assert_eq!(
                response.headers()[header::LOCATION],
                location,
                "{hostile:?}"
            );
        }
        // Its connections are bounded too: half a request head is not waited for beyond the timeout.
        let closed_after = tokio::task::spawn_blocking(move || {
            let mut tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
            tcp.write_all(b"GET / HTTP/1.1\r\nHost: arbor.example\r\n")
                .unwrap();
            let started = std::time::Instant::now();
            tcp.read_to_end(&mut Vec::new()).map(|_| started.elapsed())
        })
        .await
        .unwrap();
        assert!(
            closed_after
                .as_ref()
                .is_ok_and(|after| *after < Duration::from_secs(3)),
            "{closed_after:?}"
        );

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
