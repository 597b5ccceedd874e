//! `serve` with short limits: every phase a client can stall is cut off, and shutdown
//! returns while a client still holds a partial header.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use irsa_runtime::{ServeLimits, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

fn limits() -> ServeLimits {
    ServeLimits {
        max_connections: 8,
        handshake_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        drain_timeout: Duration::from_millis(300),
    }
}

async fn start() -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
        // Answers before reading the body, as a body limit does for a large Content-Length.
        .route(
            "/refuse",
            post(|| async { (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "too large") }),
        );
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, None, router, limits(), async move {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx, task)
}

/// Reads until EOF (or 10 s, which fails the caller's assertion) and returns what came.
async fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| out)
}

#[tokio::test]
async fn partial_header_is_cut_off() {
    let (addr, _stop, _task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert!(read_to_close(&mut s).await.is_some(), "connection held");
}

#[tokio::test]
async fn short_body_and_unterminated_chunks_get_408() {
    let (addr, _stop, _task) = start().await;
    for request in [
        &b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort"[..],
        &b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"[..],
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let answer = read_to_close(&mut s).await.expect("connection held");
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_and_requests_still_work() {
    let (addr, _stop, _task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        read_to_close(&mut s).await.is_some(),
        "idle connection held"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_instead_of_failing() {
    let (addr, _stop, _task) = start().await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    // The ninth waits in the backlog until the header timeout frees a slot, then is served.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await.expect("never served");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn shutdown_returns_while_a_client_holds_a_partial_header() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    // No header timeout to speak of: only the drain bound can end this connection.
    let limits = ServeLimits {
        header_read_timeout: Duration::from_secs(3600),
        idle_timeout: Duration::from_secs(3600),
        ..limits()
    };
    let task = tokio::spawn(serve(listener, None, Router::new(), limits, async move {
        let _ = stop_rx.await;
    }));
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost:").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shutdown hung")
        .unwrap();
    assert!(read_to_close(&mut s).await.is_some());
}

#[tokio::test]
async fn an_early_answer_reaches_a_client_still_uploading() {
    let (addr, _stop, _task) = start().await;
    let body = vec![b'a'; 4 * 1024 * 1024];
    for _ in 0..5 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        // Like urllib or the AWS SDKs: send the whole body, then read the answer.
        s.write_all(&body)
            .await
            .expect("the server closed with the upload unread (RST)");
        let answer = read_to_close(&mut s).await.expect("connection held");
        assert!(
            answer.starts_with(b"HTTP/1.1 413"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
}
