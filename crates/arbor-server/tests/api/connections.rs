//! Connections that send nothing, or too many of them: the handshake, header read and idle timeouts close them
//! in time, and the caps refuse connections beyond them while other clients are still served.

use std::io::{ErrorKind, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_server::config::ConnectionLimits;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::{App, spawn_sites};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// How long a test waits for the server to close a connection before calling it left open.
const PATIENCE: Duration = Duration::from_secs(6);

fn server_addr(app: &App) -> SocketAddr {
    app.server.as_ref().unwrap().addr
}

/// A TCP connection to `to` from the loopback address `from` (any 127.x.y.z works on Linux), so that one test
/// can be several clients.
async fn tcp_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((IpAddr::from(from), 0)))
        .unwrap();
    let stream = socket.connect(to).await.unwrap().into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Completes a TLS handshake over `tcp`, offering `alpn`.
fn handshake(tcp: TcpStream, cert_pem: &str, alpn: &[u8]) -> std::io::Result<Tls> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    tls.sock.set_read_timeout(Some(PATIENCE)).unwrap();
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Reads until the server closes the connection: what arrived and after how long, or `None` when it was still
/// open after [`PATIENCE`].
fn until_closed(read: &mut impl std::io::Read) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match read.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            // A reset or a close without close_notify: closed all the same.
            Err(_) => break,
        }
    }
    Some((
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    ))
}

#[tokio::test]
async fn connections_that_send_nothing_are_closed_in_time() {
    let (short, idle) = (Duration::from_secs(1), Duration::from_secs(2));
    let app = spawn_sites(1, |config| {
        config.connections = ConnectionLimits {
            tls_handshake_timeout: short,
            header_read_timeout: short,
            idle_timeout: idle,
            ..ConnectionLimits::default()
        };
    })
    .await;
    let addr = server_addr(&app);
    let pem = app.cert_pem.clone();
    let (tcp_only, half, silent, kept_alive, h2) = tokio::join!(
        tcp_from([127, 0, 0, 1], addr),
        tcp_from([127, 0, 0, 1], addr),
        tcp_from([127, 0, 0, 1], addr),
        tcp_from([127, 0, 0, 1], addr),
        tcp_from([127, 0, 0, 1], addr),
    );
    let blocking = |work: Box<dyn FnOnce() -> Option<(String, Duration)> + Send>| {
        tokio::task::spawn_blocking(work)
    };
    let (pem1, pem2, pem3, pem4) = (pem.clone(), pem.clone(), pem.clone(), pem);
    let cases = [
        // No ClientHello: the TLS handshake timeout.
        (
            "no handshake",
            short,
            blocking(Box::new(move || {
                let mut tcp = tcp_only;
                tcp.set_read_timeout(Some(PATIENCE)).unwrap();
                until_closed(&mut tcp)
            })),
        ),
        // Half a request head: the header read timeout (HTTP/1.1).
        (
            "half a request",
            short,
            blocking(Box::new(move || {
                let mut tls = handshake(half, &pem1, b"http/1.1").unwrap();
                tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    .unwrap();
                until_closed(&mut tls)
            })),
        ),
        // Nothing at all after the handshake.
        (
            "nothing sent",
            short,
            blocking(Box::new(move || {
                let mut tls = handshake(silent, &pem2, b"http/1.1").unwrap();
                until_closed(&mut tls)
            })),
        ),
        // One answered request, then an idle keep-alive connection: on HTTP/1.1 the wait for the next request
        // head is timed as well.
        (
            "idle keep-alive",
            short,
            blocking(Box::new(move || {
                let mut tls = handshake(kept_alive, &pem3, b"http/1.1").unwrap();
                tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .unwrap();
                until_closed(&mut tls).filter(|(answer, _)| answer.starts_with("HTTP/1.1 200"))
            })),
        ),
        // HTTP/2: the connection preface and settings, then nothing: the idle timeout (hyper has no header
        // timeout for HTTP/2).
        (
            "idle HTTP/2",
            idle,
            blocking(Box::new(move || {
                let mut tls = handshake(h2, &pem4, b"h2").unwrap();
                assert_eq!(tls.conn.alpn_protocol(), Some(&b"h2"[..]));
                tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
                    .unwrap();
                until_closed(&mut tls)
            })),
        ),
    ];
    let mut wrong = Vec::new();
    for (case, timeout, task) in cases {
        match task.await.unwrap() {
            None => wrong.push(format!("{case}: still open after {PATIENCE:?}")),
            // Not before its timeout (so it was that timeout), and not long after it.
            Some((_, after))
                if after + Duration::from_millis(200) < timeout || after >= timeout + short * 2 =>
            {
                wrong.push(format!("{case}: closed after {after:?}"));
            }
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    app.stop().await;
}

#[tokio::test]
async fn connections_over_the_caps_are_refused_while_others_are_served() {
    let app = spawn_sites(1, |config| {
        config.connections.max = 6;
        config.connections.max_per_client = 4;
    })
    .await;
    let addr = server_addr(&app);
    let pem = app.cert_pem.clone();
    let open = |from: [u8; 4]| {
        let pem = pem.clone();
        async move {
            let tcp = tcp_from(from, addr).await;
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                (handshake(tcp, &pem, b"http/1.1"), started.elapsed())
            })
            .await
            .unwrap()
        }
    };

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(open([127, 0, 0, 1]).await.0.unwrap());
    }
    // A fifth from the same address is closed at once, before any TLS.
    let (refused, after) = open([127, 0, 0, 1]).await;
    assert!(refused.is_err(), "a fifth connection from one client");
    assert!(after < Duration::from_secs(1), "refused after {after:?}");

    // Another client is served, and fast.
    let healthy = open([127, 0, 0, 2]).await.0.unwrap();
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || {
        let mut tls = healthy;
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        until_closed(&mut tls).unwrap().0
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(1));

    // Six open in all: a seventh is refused whoever asks.
    held.push(open([127, 0, 0, 3]).await.0.unwrap());
    held.push(open([127, 0, 0, 3]).await.0.unwrap());
    assert!(
        open([127, 0, 0, 4]).await.0.is_err(),
        "a seventh connection"
    );

    // A closed connection gives its place back (once the server has seen it close).
    drop(held.swap_remove(0));
    let deadline = Instant::now() + PATIENCE;
    while open([127, 0, 0, 1]).await.0.is_err() {
        assert!(
            Instant::now() < deadline,
            "the closed connection's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}
