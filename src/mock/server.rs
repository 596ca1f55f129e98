//! Registration of clients, the running server and what tests can ask it.

use std::{
    collections::HashMap,
    fmt, io,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{Router, routing::get};
use tokio::{
    net::{TcpListener, ToSocketAddrs},
    sync::watch,
    task::JoinHandle,
};

use super::{endsession, hosted::HostedSessions, pages};

/// Registers clients, then starts a [`MockProvider`].
///
/// Start with [`MockProvider::builder`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct MockProviderBuilder {
    clients: HashMap<String, Vec<String>>,
}

impl MockProviderBuilder {
    /// Registers `client_id` with its allow-listed post-logout redirect URIs.
    ///
    /// The URIs are compared with `post_logout_redirect_uri` as exact strings,
    /// as Next Identity does: `https://app.example/cb` and
    /// `https://app.example/cb/` are different. Registering the same client
    /// again adds to its allow-list.
    pub fn client<I, U>(
        mut self,
        client_id: impl Into<String>,
        post_logout_redirect_uris: I,
    ) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
    {
        self.clients
            .entry(client_id.into())
            .or_default()
            .extend(post_logout_redirect_uris.into_iter().map(Into::into));
        self
    }

    /// Binds `addr` (use port `0` for an ephemeral port) and starts serving.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> Result<MockProvider, MockError> {
        let listener = TcpListener::bind(addr).await.map_err(MockError::Bind)?;
        self.serve_on(listener).await
    }

    /// Starts serving on a listener the caller bound.
    pub async fn serve_on(self, listener: TcpListener) -> Result<MockProvider, MockError> {
        let addr = listener.local_addr().map_err(MockError::Bind)?;
        let provider = Arc::new(Provider {
            clients: self.clients,
            sessions: HostedSessions::default(),
            calls: Mutex::default(),
        });
        let router = Router::new()
            .route("/endsession", get(endsession::end_session))
            .route("/authorize", get(pages::authorize))
            .route("/login", get(pages::login))
            .with_state(provider.clone());
        let (stop, mut stopped) = watch::channel(false);
        let server = tokio::spawn(async move {
            let shutdown = async move {
                // Stops on `shutdown()` or when every handle is dropped.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            axum::serve(listener, router).with_graceful_shutdown(shutdown).await
        });
        Ok(MockProvider {
            addr,
            provider,
            control: Arc::new(Control { stop, server: Mutex::new(Some(server)) }),
        })
    }
}

/// A running mock Next Identity provider.
///
/// Cloning gives another handle to the same server; it stops when
/// [`shutdown`](Self::shutdown) is called or every handle is dropped.
/// Each server started has its own clients, sessions and records.
#[derive(Clone)]
pub struct MockProvider {
    addr: SocketAddr,
    provider: Arc<Provider>,
    control: Arc<Control>,
}

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("addr", &self.addr)
            .field("clients", &self.provider.clients)
            .field("hosted_sessions", &self.provider.sessions.count())
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// Starts registering clients.
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder::default()
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://<addr>`, without a trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The end-session endpoint, `<url>/endsession`.
    #[must_use]
    pub fn end_session_url(&self) -> String {
        format!("{}/endsession", self.url())
    }

    /// The page showing whether the browser has a hosted session, `<url>/authorize`.
    #[must_use]
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.url())
    }

    /// How many hosted sessions exist right now.
    #[must_use]
    pub fn hosted_session_count(&self) -> usize {
        self.provider.sessions.count()
    }

    /// Whether `user` has a hosted session (started through `/login`).
    #[must_use]
    pub fn has_session(&self, user: &str) -> bool {
        self.provider.sessions.has_user(user)
    }

    /// Every request `/endsession` received so far, oldest first.
    #[must_use]
    pub fn end_session_calls(&self) -> Vec<EndSessionCall> {
        self.provider.calls.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops accepting connections and waits for the open ones to finish.
    pub async fn shutdown(&self) {
        let _ = self.control.stop.send(true);
        let server = self.control.server.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(server) = server {
            let _ = server.await;
        }
    }
}

/// The mock could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The address could not be bound.
    #[error("the mock provider could not listen: {0}")]
    Bind(#[source] io::Error),
}

/// One request the mock's `/endsession` received, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndSessionCall {
    /// The query parameters, decoded, in order.
    pub params: Vec<(String, String)>,
    /// The status code of the answer (302 on success).
    pub status: u16,
    /// Whether a hosted session was ended.
    pub ended_hosted_session: bool,
}

impl EndSessionCall {
    /// The first value of the query parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the handlers share: one per running server.
#[derive(Debug)]
pub(super) struct Provider {
    /// Client ID to its allow-listed post-logout redirect URIs.
    pub(super) clients: HashMap<String, Vec<String>>,
    pub(super) sessions: HostedSessions,
    pub(super) calls: Mutex<Vec<EndSessionCall>>,
}

impl Provider {
    pub(super) fn record(&self, call: EndSessionCall) {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(call);
    }
}

struct Control {
    stop: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<io::Result<()>>>>,
}
