//! Bounds on the connections of a listener (the HTTPS one, and the plain-HTTP redirect), applied to each accepted
//! TCP connection before anything is read from it: a cap on connections open at once, in total and per client
//! address, and an idle timer that closes a connection with no request in progress and nothing sent to the client
//! for the configured time (HTTP/2 included, which hyper has no such timer for). Each listener counts its own.
//!
//! Invariants:
//! - A connection over either cap is closed as soon as it is accepted, before any TLS work is spent on it.
//! - A connection's slot is given back when its stream is dropped, however the connection ended.
//! - A request being handled keeps its connection open: only the request timeout bounds it.

use std::collections::HashMap;
use std::future::{Future, Ready};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::config::ConnectionLimits;

/// The innermost acceptor of a listener (under TLS on the HTTPS one): counts connections and gives each its idle
/// timer.
#[derive(Debug, Clone)]
pub struct Limiter {
    slots: Arc<Slots>,
    idle_timeout: Duration,
}

impl Limiter {
    pub fn new(limits: &ConnectionLimits) -> Self {
        Self {
            slots: Arc::new(Slots {
                max: limits.max,
                max_per_client: limits.max_per_client,
                open: Mutex::default(),
            }),
            // Zero would make the timer spin while a request is handled.
            idle_timeout: limits.idle_timeout.max(Duration::from_millis(1)),
        }
    }
}

impl<S> Accept<TcpStream, S> for Limiter {
    type Stream = Limited<TcpStream>;
    type Service = Tracked<S>;
    type Future = Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        // An error here makes axum-server drop the stream: the connection is closed at once.
        let accepted = stream.peer_addr().and_then(|peer| {
            let slot = Slots::take(&self.slots, peer.ip()).ok_or_else(|| {
                tracing::debug!(client = %peer.ip(), "connection refused: too many open connections");
                io::Error::other("too many open connections")
            })?;
            // As axum-server's own acceptor does: without it, Nagle's algorithm holds back the last small TLS
            // record of an answer until the client's delayed ACK (some 40 ms per window).
            stream.set_nodelay(true)?;
            let activity = Arc::new(Activity::new());
            let stream = Limited {
                inner: stream,
                _slot: slot,
                activity: Arc::clone(&activity),
                idle_timeout: self.idle_timeout,
                timer: Box::pin(tokio::time::sleep(self.idle_timeout)),
            };
            Ok((
                stream,
                Tracked {
                    inner: service,
                    activity,
                },
            ))
        });
        std::future::ready(accepted)
    }
}

#[derive(Debug)]
struct Slots {
    max: usize,
    max_per_client: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Slots {
    /// A slot for one more connection from `client`, or `None` when either cap is reached.
    fn take(slots: &Arc<Self>, client: IpAddr) -> Option<Slot> {
        let client = client_of(client);
        // The counts stay consistent under a poisoned lock: every update is a single step.
        let mut open = slots.open.lock().unwrap_or_else(PoisonError::into_inner);
        let from_client = open.per_client.get(&client).copied().unwrap_or(0);
        if open.total >= slots.max || from_client >= slots.max_per_client {
            return None;
        }
        open.total += 1;
        open.per_client.insert(client, from_client + 1);
        Some(Slot {
            slots: Arc::clone(slots),
            client,
        })
    }
}

/// The client a connection from `address` counts for: an IPv4 address (also when written as IPv4-mapped IPv6),
/// or an IPv6 address's /64 — one host's share, which it may fill with as many addresses as it likes.
fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

/// One open connection's place in the counts, given back on drop.
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        // Entries of clients without connections go, so the map never outgrows the open connections.
        if let Some(count) = open.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.per_client.remove(&self.client);
            }
        }
    }
}

/// What the idle timer of one connection goes by: requests in progress and the last sign of life.
#[derive(Debug)]
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` of the last request start or end, or of the last bytes sent.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        let since_start = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        // Never in the future, so never past the end of time either.
        self.started
            .checked_add(since_start)
            .unwrap_or_else(Instant::now)
    }
}

/// An accepted connection's stream: holds its slot, and fails reads once the connection has been idle too long,
/// which makes hyper close it.
#[derive(Debug)]
pub struct Limited<S> {
    inner: S,
    _slot: Slot,
    activity: Arc<Activity>,
    idle_timeout: Duration,
    timer: Pin<Box<Sleep>>,
}

impl<S> Limited<S> {
    /// `Ready` with an error once idle for the timeout; otherwise `Pending`, with the timer armed to wake the
    /// task when the connection may have become idle for long enough.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let busy = self.activity.in_flight.load(Ordering::Relaxed) > 0;
            // A request being handled is looked at again later; its end counts as activity.
            let since = if busy { now } else { self.activity.last() };
            let Some(deadline) = since.checked_add(self.idle_timeout) else {
                // So far off that it never comes.
                return Poll::Pending;
            };
            if !busy && deadline <= now {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection was idle too long",
                )));
            }
            self.timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }

    /// Bytes sent are a sign of life: an answer still streaming out is not idleness (a client that stops
    /// reading it is).
    fn sent(&self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.activity.touch();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            // Whoever reads is waiting for the client: the time to stop waiting may have come.
            Poll::Pending => this.poll_idle(cx),
            ready => ready,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.sent(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.sent(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A connection's service: marks the connection busy while one of its requests is handled.
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// A request in progress on a connection.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S, R> tower_service::Service<R> for Tracked<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let busy = Busy::start(&self.activity);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(busy);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_in_total_and_per_client_and_given_back_on_drop() {
        let limiter = Limiter::new(&ConnectionLimits {
            max: 3,
            max_per_client: 2,
            ..ConnectionLimits::default()
        });
        let (a, b, c) = (
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([10, 0, 0, 2]),
            IpAddr::from([10, 0, 0, 3]),
        );
        let take = |client| Slots::take(&limiter.slots, client);
        let a1 = take(a).unwrap();
        let _a2 = take(a).unwrap();
        assert!(take(a).is_none(), "a third from one client");
        let _b1 = take(b).unwrap();
        assert!(take(c).is_none(), "a fourth in total");
        drop(a1);
        let _c1 = take(c).unwrap();
        assert!(take(a).is_none());
        let open = limiter.slots.open.lock().unwrap();
        assert_eq!(open.total, 3);
        assert_eq!(open.per_client.len(), 3);
    }

    #[tokio::test]
    async fn accepted_connections_send_without_delay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let ((accepted, _), _client) =
            tokio::join!(async { listener.accept().await.unwrap() }, async {
                client.await.unwrap()
            });
        let limiter = Limiter::new(&ConnectionLimits::default());
        let (stream, _) = limiter.accept(accepted, ()).await.unwrap();
        assert!(stream.inner.nodelay().unwrap());
    }

    #[test]
    fn an_ipv6_host_counts_as_one_client_across_its_64_and_mapped_ipv4_as_ipv4() {
        let limiter = Limiter::new(&ConnectionLimits {
            max: 10,
            max_per_client: 2,
            ..ConnectionLimits::default()
        });
        let take = |client: &str| Slots::take(&limiter.slots, client.parse().unwrap());
        let _one = take("2001:db8:1:2::1").unwrap();
        let _two = take("2001:db8:1:2:ffff::9").unwrap();
        assert!(
            take("2001:db8:1:2::3").is_none(),
            "a third from the same /64"
        );
        let _other = take("2001:db8:1:3::1").unwrap();
        let _v4 = take("192.0.2.7").unwrap();
        let _mapped = take("::ffff:192.0.2.7").unwrap();
        assert!(
            take("192.0.2.7").is_none(),
            "mapped counts as the IPv4 address"
        );
    }
}
