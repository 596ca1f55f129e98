//! Servers the discovery, preflight and revocation tests talk to, on
//! ephemeral loopback ports: an axum router, or raw TCP for answers no
//! framework would send.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::Router;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Serves the router built for `http://127.0.0.1:<port>` on that ephemeral port.
pub(crate) async fn serve(router: impl FnOnce(&str) -> Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(&base);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A raw TCP server: `answer` gets each accepted connection; returns the port and an accept count.
pub(crate) async fn raw_server<F, Fut>(answer: F) -> (u16, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(stream));
        }
    });
    (port, accepted)
}

/// Reads up to the end of the request head.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Answers `head` then `body`, and keeps the connection open without ending the body.
pub(crate) async fn answer_and_hang<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    reply: Vec<u8>,
) {
    read_head(&mut stream).await;
    let _ = stream.write_all(&reply).await;
    let _ = stream.flush().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
}

/// A raw server that reads each request's head, answers `reply` (nothing
/// when empty) and keeps the connection open: its base URL.
pub(crate) async fn hanging_server(reply: Vec<u8>) -> String {
    let (port, _) = raw_server(move |stream| answer_and_hang(stream, reply.clone())).await;
    format!("http://127.0.0.1:{port}")
}
