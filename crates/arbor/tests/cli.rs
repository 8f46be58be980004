//! The `arbor` binary as a person or a script meets it: flags, exit codes, and what reaches stdout and stderr.

use std::process::{Command, Output};

fn arbor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_arbor"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    // A directory without an arbor.toml, so that no stray file is picked up.
    command.current_dir(env!("CARGO_TARGET_TMPDIR"));
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the arbor binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_and_version() {
    let help = arbor(&["--help"], &[]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("config"));
    assert!(text(&help.stdout).contains("--log-format"));

    let version = arbor(&["--version"], &[]);
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout).trim(),
        format!("arbor {}", env!("CARGO_PKG_VERSION"))
    );

    let config_help = arbor(&["config", "check", "--help"], &[]);
    assert!(config_help.status.success());
}

#[test]
fn config_check_prints_the_effective_settings_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client-secret");
    std::fs::write(&key_file, "client-SENTINEL-from-file\n").unwrap();
    let config_file = dir.path().join("site.toml");
    std::fs::write(
        &config_file,
        "[log]\nlevel = \"trace\"\n[jira]\nclient_id = \"arbor-app\"\n",
    )
    .unwrap();

    for format in ["json", "text"] {
        let output = arbor(
            &[
                "--config",
                config_file.to_str().unwrap(),
                "--log-format",
                format,
                "config",
                "check",
            ],
            &[
                ("ARBOR_MASTER_KEY", "master-SENTINEL"),
                ("ARBOR_JIRA__CLIENT_SECRET_FILE", key_file.to_str().unwrap()),
                (
                    "ARBOR_DATABASE__URL",
                    "postgres://arbor:db-SENTINEL@127.0.0.1/arbor",
                ),
                ("ARBOR_SERVER__LISTEN", "127.0.0.1:9443"),
            ],
        );
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(output.status.success(), "{stderr}");
        assert!(stdout.contains("listen = \"127.0.0.1:9443\""), "{stdout}");
        assert!(stdout.contains("client_id = \"arbor-app\""), "{stdout}");
        assert!(stdout.contains("master_key = \"***\""), "{stdout}");
        assert!(stdout.contains("client_secret = \"***\""), "{stdout}");
        assert!(
            stdout.contains("postgres://arbor:***@127.0.0.1/arbor"),
            "{stdout}"
        );
        // The trace level makes the effective configuration reach the log too.
        assert!(stderr.contains("effective configuration"), "{stderr}");
        assert!(
            !stdout.contains("SENTINEL") && !stderr.contains("SENTINEL"),
            "{stdout}\n{stderr}"
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let output = arbor(
        &["--log-format", "json", "config", "check"],
        &[("ARBOR_UNKNOWN_THING", "1")],
    );
    assert!(output.status.success());
    let stderr = text(&output.stderr);
    let warning = stderr
        .lines()
        .find(|l| l.contains("ARBOR_UNKNOWN_THING"))
        .expect("a warning line");
    assert!(
        warning.starts_with('{') && warning.contains("\"level\":\"WARN\""),
        "{warning}"
    );
}

#[test]
fn invalid_configuration_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("arbor.toml");
    std::fs::write(&config_file, "[server]\npublic_url = \"not a url\"\n").unwrap();
    let output = arbor(
        &["--config", config_file.to_str().unwrap(), "config", "check"],
        &[],
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("arbor.toml:2:14") && stderr.contains("`server.public_url`"),
        "{stderr}"
    );

    let output = arbor(
        &["config", "check"],
        &[("ARBOR_CONFIG", "/nonexistent/arbor.toml")],
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("/nonexistent/arbor.toml"));

    let output = arbor(&["config", "check"], &[("ARBOR_LOG__LEVEL", "=[")]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("ARBOR_LOG__LEVEL"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn demo_stops_gracefully_on_sigterm() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(["--log-format", "text", "demo", "--port", "0", "--data-dir"])
        .arg(dir.path().join("demo"))
        // No archive there: the small synthetic site, which starts fast.
        .arg("--data")
        .arg(dir.path().join("no-archive"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both pipes are read on threads: the wait for the ready line stays bounded, and stderr never fills up.
    let mut stderr = demo.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    let (lines, ready) = std::sync::mpsc::channel();
    let stdout = demo.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = ready.recv_timeout(left).unwrap_or_else(|_| {
            let _ = demo.kill();
            panic!("the demo did not say it was ready");
        });
        if line.starts_with("arbor demo ready") {
            break;
        }
    }

    let killed = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = demo.kill();
            panic!("the demo did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let logs = logs.join().unwrap();
    // Killed by the signal, it would have no exit code and no goodbye.
    assert_eq!(status.code(), Some(0), "{status}\n{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
}
