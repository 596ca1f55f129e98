//! A TCP proxy on a free loopback port that a test can cut (every open
//! connection dropped, new ones refused) and restore: a network fault
//! between an app and Redis, at the moment the test chooses. In front of
//! several servers, it is a load balancer handing connections out in turn.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// The proxy; stops on drop.
pub(crate) struct Proxy {
    pub(crate) url: String,
    cut: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Forwards a free loopback port to the Redis at `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Self {
        Self::balance(vec![upstream], "redis", "/0").await
    }

    /// Forwards a free loopback port to each of `upstreams` in turn; `url` is
    /// `<scheme>://<the port><path>`.
    pub(crate) async fn balance(upstreams: Vec<SocketAddr>, scheme: &str, path: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("{scheme}://{}{path}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let (cuts, _) = watch::channel(0);
        let (is_cut, on_cut) = (cut.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            let mut next = 0;
            while let Ok((client, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let upstream = upstreams[next % upstreams.len()];
                next += 1;
                let mut cut = on_cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { url, cut, cuts, task }
    }

    /// Drops every open connection and refuses new ones.
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    pub(crate) fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
