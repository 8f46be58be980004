//! Headless Chromium through chromedriver, for the `ui` benchmark and the board's browser tests: chromedriver
//! on a free loopback port in a process group of its own (stopped with the Chromium it started when dropped,
//! on every path), and a WebDriver session with the flags Debian's Chromium needs to run headless here.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// How long chromedriver may take to listen.
const START: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// Why there is no browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{0}")]
    Start(String),
    #[error("no WebDriver session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
}

fn start_error(e: impl std::fmt::Display) -> BrowserError {
    BrowserError::Start(e.to_string())
}

/// Which colour scheme pages see (`prefers-color-scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The browser's own: light, headless.
    System,
    Dark,
}

/// chromedriver, in a process group of its own so that the Chromium it starts goes with it.
#[derive(Debug)]
pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts `binary` with `tmp` as its and its browser's temporary directory, so that nothing they leave
    /// behind when killed outlives the caller's own temporary directory.
    pub fn start(binary: &str, tmp: &Path) -> Result<Self, BrowserError> {
        std::fs::create_dir_all(tmp).map_err(start_error)?;
        // Ask the kernel for a free port, release it, and hand it to chromedriver.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .map_err(start_error)?
            .port();
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new(binary)
                .arg(format!("--port={port}"))
                .env("TMPDIR", tmp)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .map_err(|e| start_error(format!("cannot start {binary}: {e}")))?
        };
        let mut driver = Self { child, port };
        let started = Instant::now();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = driver.child.try_wait().map_err(start_error)? {
                return Err(start_error(format!(
                    "chromedriver exited at start: {status}"
                )));
            }
            if started.elapsed() > START {
                return Err(start_error(format!(
                    "chromedriver did not listen on port {port} within {START:?}"
                )));
            }
            std::thread::sleep(POLL);
        }
        Ok(driver)
    }

    /// A session of headless `chromium` (a 1280×900 window) with its profile in `profile`, showing pages in
    /// `scheme`. The servers it is pointed at are on loopback with self-signed certificates.
    pub async fn session(
        &self,
        chromium: &str,
        profile: &Path,
        scheme: Scheme,
    ) -> Result<Client, BrowserError> {
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--ignore-certificate-errors".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if scheme == Scheme::Dark {
            args.push("--force-dark-mode".into());
        }
        let capabilities = json!({
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            return Err(start_error("capabilities are an object"));
        };
        let mut builder = ClientBuilder::rustls().map_err(start_error)?;
        Ok(builder
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await?)
    }

    /// Sends `signal` to chromedriver's process group (its id is chromedriver's own); false when no process
    /// of the group is left. Through `kill(1)`: no unsafe code for a signal call.
    fn signal_group(&self, signal: &str) -> bool {
        Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // Politely first, so that Chromium can shut down; then for good.
        self.signal_group("-TERM");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let _ = self.child.try_wait();
            if !self.signal_group("-0") {
                break;
            }
            std::thread::sleep(POLL);
        }
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
