//! Storage hook for [tower-sessions](https://docs.rs/tower-sessions): sign-out flushes the session.

use std::{fmt, future::Future, pin::Pin};

use ::tower_sessions::Session;
use http::request::Parts;

use crate::{EndSessionHook, LogoutHints};

/// Ends a [tower-sessions](https://docs.rs/tower-sessions) session at sign-out.
///
/// Takes the [`Session`] that `SessionManagerLayer` put in the request
/// extensions and calls [`Session::flush`]: the data is cleared, the record is
/// deleted from the store and the session ID is dropped, so the session
/// manager expires its cookie on the way out. The `SessionManagerLayer` must
/// therefore sit *outside* the logout layer (in axum: added with `.layer`
/// after it).
///
/// Optionally, an ID token kept in the session under
/// [`id_token_key`](Self::id_token_key) is read first and sent to the
/// provider as `id_token_hint`.
///
/// ```
/// use axum::Router;
/// use tower_oidc_logout::{FlushSession, OidcLogoutLayer, SessionCookie, StateKey};
/// use tower_sessions::{MemoryStore, SessionManagerLayer};
///
/// # fn main() -> Result<(), tower_oidc_logout::ConfigError> {
/// let logout = OidcLogoutLayer::builder()
///     .next_identity("id.eu.nextreason.com")
///     .client_id("my-client-id")
///     .post_logout_redirect_uri("https://app.example/logout/callback")
///     .state_key(StateKey::generate()?)
///     .expire_cookie(SessionCookie::new("id")) // the session manager's cookie
///     .end_session_hook(FlushSession::new().id_token_key("id_token"))
///     .build()?;
///
/// let app: Router = Router::new()
///     .layer(logout)
///     .layer(SessionManagerLayer::new(MemoryStore::default()));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct FlushSession {
    id_token_key: Option<String>,
}

impl FlushSession {
    /// A hook that flushes the session and sends no hints.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Read a string stored in the session under `key` before flushing it,
    /// and send it to the provider as `id_token_hint`.
    ///
    /// A missing value, or one that is not a string, sends no hint.
    #[must_use]
    pub fn id_token_key(mut self, key: impl Into<String>) -> Self {
        self.id_token_key = Some(key.into());
        self
    }
}

/// Why [`FlushSession`] could not end the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlushSessionError {
    /// The request carries no tower-sessions `Session`.
    #[error(
        "no tower-sessions `Session` in the request extensions: add `SessionManagerLayer` outside the logout layer"
    )]
    NoSession,
    /// The session store failed to delete the session.
    #[error("the session store could not delete the session: {0}")]
    Store(#[source] ::tower_sessions::session::Error),
}

/// The future returned by [`FlushSession`].
pub struct FlushSessionFuture(
    Pin<Box<dyn Future<Output = Result<LogoutHints, FlushSessionError>> + Send>>,
);

impl fmt::Debug for FlushSessionFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlushSessionFuture").finish_non_exhaustive()
    }
}

impl Future for FlushSessionFuture {
    type Output = Result<LogoutHints, FlushSessionError>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl EndSessionHook for FlushSession {
    type Hints = LogoutHints;
    type Error = FlushSessionError;
    type Future = FlushSessionFuture;

    fn end_session(&self, request: &Parts) -> FlushSessionFuture {
        let session = request.extensions.get::<Session>().cloned();
        let id_token_key = self.id_token_key.clone();
        FlushSessionFuture(Box::pin(async move {
            let session = session.ok_or(FlushSessionError::NoSession)?;
            let mut hints = LogoutHints::new();
            if let Some(key) = id_token_key {
                // The hint is a nicety: a value that cannot be read is not sent.
                if let Ok(Some(id_token)) = session.get::<String>(&key).await {
                    hints = hints.id_token_hint(id_token);
                }
            }
            session.flush().await.map_err(FlushSessionError::Store)?;
            Ok(hints)
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::{str::FromStr, sync::Arc};

    use ::tower_sessions::{MemoryStore, SessionStore, session::Id};
    use http::Request;

    use super::*;

    fn parts_with(session: Option<Session>) -> Parts {
        let mut request = Request::new(());
        if let Some(session) = session {
            request.extensions_mut().insert(session);
        }
        request.into_parts().0
    }

    async fn saved_session(store: &Arc<MemoryStore>) -> (Session, Id) {
        let session = Session::new(None, store.clone(), None);
        session.insert("user", "alice").await.unwrap();
        session.insert("id_token", "eyJ.token.sig").await.unwrap();
        session.save().await.unwrap();
        let id = session.id().unwrap();
        assert!(store.load(&id).await.unwrap().is_some());
        (session, id)
    }

    #[tokio::test]
    async fn flush_deletes_the_record_from_the_store() {
        let store = Arc::new(MemoryStore::default());
        let (session, id) = saved_session(&store).await;
        // The hook sees the session as a later request would: loaded by its ID.
        let incoming =
            Session::new(Some(Id::from_str(&id.to_string()).unwrap()), store.clone(), None);

        let hints =
            FlushSession::new().end_session(&parts_with(Some(incoming.clone()))).await.unwrap();

        assert_eq!(hints, LogoutHints::new());
        assert!(store.load(&id).await.unwrap().is_none(), "record still in the store");
        assert!(incoming.id().is_none(), "session ID kept");
        assert!(incoming.is_empty().await, "session data kept");
        drop(session);
    }

    #[tokio::test]
    async fn id_token_is_sent_as_hint_when_configured() {
        let store = Arc::new(MemoryStore::default());
        let (session, id) = saved_session(&store).await;
        let hints = FlushSession::new()
            .id_token_key("id_token")
            .end_session(&parts_with(Some(session)))
            .await
            .unwrap();
        assert_eq!(hints.id_token_hint.as_deref(), Some("eyJ.token.sig"));
        assert!(store.load(&id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn missing_or_non_string_token_sends_no_hint() {
        let store = Arc::new(MemoryStore::default());
        let (session, _) = saved_session(&store).await;
        let hints = FlushSession::new()
            .id_token_key("nothing-here")
            .end_session(&parts_with(Some(session)))
            .await
            .unwrap();
        assert!(hints.id_token_hint.is_none());

        let (session, _) = saved_session(&store).await;
        session.insert("number", 7).await.unwrap();
        let hints = FlushSession::new()
            .id_token_key("number")
            .end_session(&parts_with(Some(session)))
            .await
            .unwrap();
        assert!(hints.id_token_hint.is_none());
    }

    #[tokio::test]
    async fn a_request_without_a_session_is_an_error() {
        let error = FlushSession::new().end_session(&parts_with(None)).await.unwrap_err();
        assert!(matches!(error, FlushSessionError::NoSession));
        assert!(error.to_string().contains("SessionManagerLayer"));
    }
}
