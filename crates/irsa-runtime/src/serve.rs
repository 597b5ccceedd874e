//! The bounded HTTP serving loop (plain or TLS, HTTP/1.1 and HTTP/2).
//!
//! Every resource a client can hold is bounded, because a server that waits for its
//! clients can be held by them:
//!
//! - **Connections** are capped ([`ServeLimits::max_connections`], lowered further to leave
//!   file descriptors for the rest of the process under a small `ulimit -n`). At the cap the
//!   loop stops accepting, so new clients wait in the kernel's backlog until a connection
//!   ends, instead of the process running out of descriptors and failing everything else.
//! - **Accept errors** (EMFILE, ENFILE, ECONNABORTED) back off exponentially up to one
//!   second and are logged at most once a second with a count, never in a busy loop.
//! - **Each phase has a deadline**: the TLS handshake, reading a request's header (hyper's
//!   `header_read_timeout`, which also covers the wait for the next request on a keep-alive
//!   HTTP/1.1 connection), and the request itself including its body (a Content-Length
//!   larger than the body or a chunked body without its terminator gets 408 and the
//!   connection is closed). A connection with no request in flight for
//!   [`ServeLimits::idle_timeout`] is closed gracefully (HTTP/2 GOAWAY, or HTTP/1.1 close).
//! - **Shutdown** stops accepting, asks every connection to finish its requests, and closes
//!   whatever is still open after [`ServeLimits::drain_timeout`], including a client that
//!   holds a partial header.
//! - **Closing lingers**, as nginx's `lingering_close` does: after the server's last
//!   response the write side is shut and whatever the client is still sending is read and
//!   discarded for up to [`LINGER_TIME`] (at most [`LINGER_BYTES`]). An early answer such
//!   as 413 for an oversized body is sent before the client finishes its upload; closing
//!   with unread data would make the kernel send RST, and the client would see "connection
//!   reset" or "broken pipe" instead of the answer. The connection keeps its slot while it
//!   lingers, so lingering never exceeds the connection cap.
//!
//! Each accepted connection is served on one of the [`workers`](crate::workers) threads
//! for its whole life (see there for why).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::workers;

/// Bounds of one listener. The defaults suit both servers: every phase ends well below the
/// 30 s an API server waits for a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Most connections open at once (lowered to fit `RLIMIT_NOFILE`, see the module docs).
    pub max_connections: usize,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// How long a client may take to send a complete request header, counted from the
    /// first byte it is awaited (for keep-alive, from the end of the previous response).
    pub header_read_timeout: Duration,
    /// How long one request may take once its header arrived: reading the body and
    /// producing the response. Exceeding it answers 408.
    pub request_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// After shutdown is requested, how long open connections may finish their requests.
    pub drain_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(20),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// File descriptors kept free for everything that is not a client connection: the
/// listener, the runtime, the store, outgoing requests, log files.
const RESERVED_FDS: u64 = 64;

/// The soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (Linux); `None` elsewhere or
/// when unlimited.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `configured`, lowered so that connections cannot exhaust the process's descriptors.
fn connection_cap(configured: usize, fd_limit: Option<u64>) -> usize {
    let by_fds = fd_limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit.saturating_sub(RESERVED_FDS).max(limit / 2)).unwrap_or(usize::MAX)
    });
    configured.min(by_fds).max(1)
}

/// Logs accept errors at most once a second and paces retries.
struct AcceptBackoff {
    delay: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Self {
            delay: Self::FIRST,
            last_log: None,
            suppressed: 0,
        }
    }

    fn succeeded(&mut self) {
        self.delay = Self::FIRST;
    }

    /// Logs (rate-limited) and answers how long to wait before accepting again.
    fn failed(&mut self, addr: Option<SocketAddr>, error: &std::io::Error) -> Duration {
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            tracing::warn!(listener = ?addr, error = %error, suppressed = self.suppressed,
                "accept failed; backing off");
            self.last_log = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Self::MAX);
        delay
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves,
/// then drains as described in the module docs and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let local = listener.local_addr().ok();
    let cap = connection_cap(limits.max_connections, open_files_limit());
    if cap < limits.max_connections {
        tracing::info!(listener = ?local, connections = cap,
            "connection cap lowered to fit the open-files limit");
    }
    let slots = Arc::new(Semaphore::new(cap));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut backoff = AcceptBackoff::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Back-pressure: take a slot before accepting, so at the cap clients queue in the
        // kernel backlog rather than consuming descriptors here.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => {
                backoff.succeeded();
                pair
            }
            Err(e) => {
                drop(permit);
                let delay = backoff.failed(local, &e);
                tokio::select! {
                    () = tokio::time::sleep(delay) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop_rx.clone();
        // The connection moves to the worker thread that will serve it for its whole life.
        let tcp = match tcp.into_std() {
            Ok(tcp) => tcp,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "cannot hand the connection to a worker");
                continue;
            }
        };
        workers::spawn(async move {
            // Registered with the reactor of the thread that runs this task.
            let tcp = match TcpStream::from_std(tcp) {
                Ok(tcp) => tcp,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "cannot register the connection");
                    return;
                }
            };
            let (tcp, returned) = ReturnOnDrop::new(tcp);
            match tls {
                None => connection(tcp, peer, router, limits, stop).await,
                Some(acceptor) => {
                    let mut stop_handshake = stop.clone();
                    let handshake = tokio::select! {
                        r = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)) => r,
                        _ = stop_handshake.wait_for(|s| *s) => return,
                    };
                    match handshake {
                        Ok(Ok(stream)) => connection(stream, peer, router, limits, stop).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            // Everything that held the stream is gone by now, so it has come back.
            if let Ok(tcp) = returned.await {
                linger(tcp).await;
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection task holds one slot: all slots back means all connections closed.
    // Each task bounds itself by the drain timeout; the extra second covers scheduling.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(
        limits.drain_timeout + LINGER_TIME + Duration::from_secs(1),
        slots.acquire_many(all),
    )
    .await;
    if drained.is_err() {
        tracing::warn!(listener = ?local, "connections still open after the drain timeout");
    }
}

/// How long a closing connection keeps reading what its client still sends.
pub const LINGER_TIME: Duration = Duration::from_secs(1);
/// How much a closing connection reads and discards at most.
pub const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// A TCP stream that goes back to its connection task when hyper (or TLS) drops it, so
/// the task can close it gracefully ([`linger`]) while still holding its slot.
struct ReturnOnDrop {
    stream: Option<TcpStream>,
    back: Option<oneshot::Sender<TcpStream>>,
}

impl ReturnOnDrop {
    fn new(stream: TcpStream) -> (Self, oneshot::Receiver<TcpStream>) {
        let (back, returned) = oneshot::channel();
        let wrapped = Self {
            stream: Some(stream),
            back: Some(back),
        };
        (wrapped, returned)
    }

    fn stream(&mut self) -> std::io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl Drop for ReturnOnDrop {
    fn drop(&mut self) {
        if let (Some(stream), Some(back)) = (self.stream.take(), self.back.take()) {
            let _ = back.send(stream);
        }
    }
}

impl AsyncRead for ReturnOnDrop {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for ReturnOnDrop {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(AsyncWrite::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stream() {
            Ok(stream) => Pin::new(stream).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// Shuts the write side, then reads and discards until the client closes, [`LINGER_TIME`]
/// passes or [`LINGER_BYTES`] were read (see the module docs for why).
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut sink = vec![0_u8; 16 * 1024];
    let mut discarded = 0_usize;
    while discarded < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => discarded = discarded.saturating_add(n),
            _ => break,
        }
    }
}

/// What a connection's requests report to its watchdog.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when the last request ended (or the connection began).
    last_done_ms: AtomicU64,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_done_ms.load(Ordering::Acquire));
        Some(self.started.elapsed().saturating_sub(last))
    }
}

/// Decrements `in_flight` when a request ends, however it ends (also when hyper drops it).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_done_ms.store(ms, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn request_timeout_response(version: Version) -> Response<Body> {
    let mut response = Response::new(Body::from("request not received in time\n"));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if version <= Version::HTTP_11 {
        // The rest of the body may still be on its way: the connection cannot be reused.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        started: Instant::now(),
        in_flight: AtomicUsize::new(0),
        last_done_ms: AtomicU64::new(0),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            activity.in_flight.fetch_add(1, Ordering::AcqRel);
            let guard = InFlight(activity.clone());
            let router = router.clone();
            async move {
                let version = request.version();
                let response = tokio::time::timeout(
                    limits.request_timeout,
                    router.oneshot(request.map(Body::new)),
                )
                .await;
                drop(guard);
                Ok::<_, Infallible>(match response {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => request_timeout_response(version),
                })
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut deadline: Option<tokio::time::Instant> = None;
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection closed with an error");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if deadline.is_none() => {
                conn.as_mut().graceful_shutdown();
                deadline = Some(tokio::time::Instant::now() + limits.drain_timeout);
            }
            _ = ticker.tick(), if deadline.is_none() => {
                if activity.idle_for().is_some_and(|idle| idle >= limits.idle_timeout) {
                    tracing::debug!(%peer, "closing idle connection");
                    conn.as_mut().graceful_shutdown();
                    deadline = Some(tokio::time::Instant::now() + limits.drain_timeout);
                }
            }
            () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                tracing::debug!(%peer, "connection still open after the drain timeout; closing");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_leaves_descriptors_for_the_process() {
        assert_eq!(connection_cap(1024, None), 1024);
        assert_eq!(connection_cap(1024, Some(1_048_576)), 1024);
        // ulimit -n 256: 192 connections, 64 descriptors for everything else.
        assert_eq!(connection_cap(1024, Some(256)), 192);
        // A tiny limit still leaves half for the rest.
        assert_eq!(connection_cap(1024, Some(20)), 10);
        assert_eq!(connection_cap(0, Some(20)), 1);
    }

    #[test]
    fn accept_errors_back_off_exponentially_and_log_rarely() {
        let mut b = AcceptBackoff::new();
        let e = std::io::Error::other("too many open files");
        let delays: Vec<_> = (0..10).map(|_| b.failed(None, &e)).collect();
        assert_eq!(delays[0], Duration::from_millis(5));
        assert_eq!(delays[1], Duration::from_millis(10));
        assert_eq!(delays[9], Duration::from_secs(1));
        assert_eq!(b.suppressed, 9);
        b.succeeded();
        assert_eq!(b.failed(None, &e), Duration::from_millis(5));
    }
}
