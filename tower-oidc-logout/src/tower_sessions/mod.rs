//! [tower-sessions](https://docs.rs/tower-sessions): sign-out flushes the session.
//!
//! One hook for every supported tower-sessions version, each behind its own
//! feature (`tower-sessions-0-14`, `tower-sessions-0-15`). The logic lives
//! here once; each version's file only names its `Session` type.

#[cfg(feature = "provider-logout")]
use std::sync::Arc;
use std::{fmt, future::Future, pin::Pin};

use http::request::Parts;

#[cfg(feature = "provider-logout")]
use crate::provider_logout::index::SessionIndex;
#[cfg(feature = "revocation")]
use crate::revocation::{RevocationError, TokenRevoker, TokenTypeHint};
use crate::{
    error::BoxError,
    hook::{EndSessionHook, LogoutHints},
};

/// Implements [`VersionedSession`] for one version's `Session`: the same calls on another type.
macro_rules! versioned_session {
    ($tower_sessions:ident) => {
        impl super::VersionedSession for $tower_sessions::Session {
            async fn string(&self, key: &str) -> Option<String> {
                // A value that cannot be read is not sent (a hint) or not revoked (a token).
                self.get::<String>(key).await.ok().flatten()
            }

            fn session_id(&self) -> Option<String> {
                self.id().map(|id| id.to_string())
            }

            async fn end(&self) -> Result<(), crate::error::BoxError> {
                $tower_sessions::Session::flush(self).await.map_err(crate::error::BoxError::from)
            }
        }
    };
}

#[cfg(feature = "provider-logout")]
#[macro_use]
mod index;

/// tower-sessions 0.14 (feature `tower-sessions-0-14`): with `provider-logout`,
/// [`record_sign_in`](v0_14::record_sign_in) at sign-in and
/// [`DeleteFromStore`](v0_14::DeleteFromStore) to end the sessions a logout names.
#[cfg(feature = "tower-sessions-0-14")]
pub mod v0_14 {
    versioned_session!(tower_sessions_0_14);
    #[cfg(feature = "provider-logout")]
    session_index!(tower_sessions_0_14, "0.14");
}

/// tower-sessions 0.15 (feature `tower-sessions-0-15`): with `provider-logout`,
/// [`record_sign_in`](v0_15::record_sign_in) at sign-in and
/// [`DeleteFromStore`](v0_15::DeleteFromStore) to end the sessions a logout names.
#[cfg(feature = "tower-sessions-0-15")]
pub mod v0_15 {
    versioned_session!(tower_sessions_0_15);
    #[cfg(feature = "provider-logout")]
    session_index!(tower_sessions_0_15, "0.15");
}

/// The tower-sessions versions whose `Session` this build looks for.
const VERSIONS: &[&str] = &[
    #[cfg(feature = "tower-sessions-0-14")]
    "0.14",
    #[cfg(feature = "tower-sessions-0-15")]
    "0.15",
];

/// What the hook needs from one version's `Session`.
trait VersionedSession: Clone + Send + Sync + 'static {
    /// The string stored under `key`, if there is one.
    fn string(&self, key: &str) -> impl Future<Output = Option<String>> + Send;
    /// The session's ID, if it has one.
    fn session_id(&self) -> Option<String>;
    /// `Session::flush`: data cleared, store record deleted, ID dropped.
    fn end(&self) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// Ends a [tower-sessions](https://docs.rs/tower-sessions) session at sign-out.
///
/// Takes the `Session` that `SessionManagerLayer` put in the request
/// extensions and calls `Session::flush`: the data is cleared, the record is
/// deleted from the store and the session ID is dropped, so the session
/// manager expires its cookie on the way out. The `SessionManagerLayer` must
/// therefore sit *outside* the logout layer (in axum: added with `.layer`
/// after it).
///
/// Works with tower-sessions 0.14 (feature `tower-sessions-0-14`, the version
/// the Redis, SQLx and Moka stores build on) and 0.15 (feature
/// `tower-sessions-0-15`, alias `tower-sessions`). With both features on (an
/// app mid-upgrade), the session of whichever version the request carries is
/// flushed, and both if it carries both. A request that carries none is an
/// error ([`FlushSessionError::NoSession`]), so the user is not told they
/// are signed out.
///
/// Optionally, an ID token kept in the session under
/// [`id_token_key`](Self::id_token_key) is read first and sent to the
/// provider as `id_token_hint`; with Back-Channel or Front-Channel
/// Logout, the [session index](Self::session_index) forgets the session;
/// and with the `revocation` feature, the refresh and access tokens kept in
/// it are revoked at the provider
/// ([`revoke_refresh_token`](Self::revoke_refresh_token)), beside the
/// store's delete.
///
/// ```
/// # extern crate tower_sessions_0_14 as tower_sessions;
/// // tower-sessions 0.14, with the feature `tower-sessions-0-14`.
/// use axum::Router;
/// use tower_oidc_logout::{OidcLogoutLayer, SessionCookie, StateKey, tower_sessions::FlushSession};
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
///     .layer(SessionManagerLayer::new(MemoryStore::default())); // outside: added after
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct FlushSession {
    id_token_key: Option<String>,
    #[cfg(feature = "provider-logout")]
    index: Option<Arc<dyn SessionIndex>>,
    /// The tokens to revoke: the session key each is kept under, its type, where.
    #[cfg(feature = "revocation")]
    revoke: Vec<(String, TokenTypeHint, TokenRevoker)>,
}

impl fmt::Debug for FlushSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlushSession")
            .field("id_token_key", &self.id_token_key)
            .field("session_index", &self.has_index())
            .field("revoke", &self.revoked_keys())
            .finish()
    }
}

impl FlushSession {
    /// The session keys of the tokens revoked at sign-out.
    fn revoked_keys(&self) -> Vec<&str> {
        #[cfg(feature = "revocation")]
        return self.revoke.iter().map(|(key, ..)| key.as_str()).collect();
        #[cfg(not(feature = "revocation"))]
        Vec::new()
    }

    fn has_index(&self) -> bool {
        #[cfg(feature = "provider-logout")]
        return self.index.is_some();
        #[cfg(not(feature = "provider-logout"))]
        false
    }

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

    /// Once the session is flushed, drop its entry from `index` (the one the
    /// sign-in recorded it in), so that nothing of it outlives the sign-out.
    ///
    /// The sign-out has happened once the store deleted the session: if the
    /// index then fails, the failure is logged (`tracing`, warn) and the
    /// sign-out goes on. The entry left names a session that no longer
    /// exists (a provider logout finding it deletes nothing) and expires
    /// with it.
    #[cfg(feature = "provider-logout")]
    #[must_use]
    pub fn session_index(mut self, index: Arc<dyn SessionIndex>) -> Self {
        self.index = Some(index);
        self
    }
}

#[cfg(feature = "revocation")]
impl FlushSession {
    /// At sign-out, revoke the refresh token the app kept in the session
    /// under `key` (a string) at `revoker`'s endpoint (RFC 7009), concurrently
    /// with the store's delete. A session without one revokes nothing.
    ///
    /// A failed revocation is logged (`tracing`, warn) and the sign-out goes
    /// on, unless the revoker is [`strict`](TokenRevoker::strict): then the
    /// sign-out answers `500 end_session_failed`
    /// ([`FlushSessionError::Revocation`]). If the store's delete fails, the
    /// sign-out fails as it would without revocation, and the revocation
    /// already under way still completes (the user asked to sign out; a
    /// retry revokes again, which the provider answers `200`). See
    /// [`crate::revocation`].
    #[must_use]
    pub fn revoke_refresh_token(mut self, key: impl Into<String>, revoker: TokenRevoker) -> Self {
        self.revoke.push((key.into(), TokenTypeHint::RefreshToken, revoker));
        self
    }

    /// The same for the access token kept under `key` (providers that
    /// revoke a refresh token usually end its access tokens too; this asks
    /// for it explicitly).
    #[must_use]
    pub fn revoke_access_token(mut self, key: impl Into<String>, revoker: TokenRevoker) -> Self {
        self.revoke.push((key.into(), TokenTypeHint::AccessToken, revoker));
        self
    }

    /// Reads the tokens to revoke, then starts revoking them (as tasks, so
    /// they run beside the store's delete; inline without a Tokio runtime).
    async fn start_revocations<S: VersionedSession>(&self, session: &S) -> Vec<Revocation> {
        let mut started = Vec::with_capacity(self.revoke.len());
        for (key, hint, revoker) in &self.revoke {
            let Some(token) = session.string(key).await else { continue };
            let (hint, revoker, strict) = (*hint, revoker.clone(), revoker.is_strict());
            let revocation = async move { revoker.revoke(&token, hint).await };
            started.push(match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    Revocation::Running { hint, strict, task: runtime.spawn(revocation) }
                }
                Err(_) => Revocation::Done { hint, strict, result: revocation.await },
            });
        }
        started
    }
}

/// A revocation started at sign-out.
#[cfg(feature = "revocation")]
enum Revocation {
    Running {
        hint: TokenTypeHint,
        strict: bool,
        task: tokio::task::JoinHandle<Result<bool, RevocationError>>,
    },
    Done {
        hint: TokenTypeHint,
        strict: bool,
        result: Result<bool, RevocationError>,
    },
}

#[cfg(feature = "revocation")]
impl Revocation {
    /// Waits for it; a failure is an error only when the revoker is strict, logged otherwise.
    async fn finish(self) -> Result<(), FlushSessionError> {
        let (hint, strict, result) = match self {
            Self::Running { hint, strict, task } => {
                let result = task.await.unwrap_or_else(|error| {
                    Err(RevocationError::Request(format!("the revocation task failed: {error}")))
                });
                (hint, strict, result)
            }
            Self::Done { hint, strict, result } => (hint, strict, result),
        };
        match result {
            Ok(_) => Ok(()),
            Err(error) if strict => Err(FlushSessionError::Revocation { hint, source: error }),
            Err(error) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(%error, token = %hint, "signed out, but the provider did not revoke the token");
                let _ = (error, hint);
                Ok(())
            }
        }
    }
}

/// Why [`FlushSession`] could not end the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlushSessionError {
    /// The request carries no `Session` of a tower-sessions version this build looks for.
    #[error(
        "no tower-sessions {} `Session` in the request extensions: add `SessionManagerLayer` \
         outside the logout layer (in axum: `.layer(session_manager)` after `.layer(logout)`); \
         an app on another tower-sessions version needs this crate's feature for it \
         (`tower-sessions-0-14` or `tower-sessions-0-15`)",
        looked_for()
    )]
    NoSession,
    /// The session store failed to delete the session; the source is that
    /// tower-sessions version's `session::Error`.
    #[error("the session store could not delete the session: {0}")]
    Store(#[source] BoxError),
    /// A [strict](crate::revocation::TokenRevoker::strict) revoker did not
    /// revoke a token: the session is deleted, the token is still valid at
    /// the provider until it expires.
    #[cfg(feature = "revocation")]
    #[error("the provider did not revoke the {hint}: {source}")]
    Revocation {
        /// Which token.
        hint: TokenTypeHint,
        /// Why.
        #[source]
        source: RevocationError,
    },
}

/// "0.14 or 0.15": the versions this build looks for.
fn looked_for() -> String {
    VERSIONS.join(" or ")
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

    fn is_layer_order(&self, error: &FlushSessionError) -> bool {
        matches!(error, FlushSessionError::NoSession)
    }

    fn end_session(&self, request: &Parts) -> FlushSessionFuture {
        #[cfg(feature = "tower-sessions-0-14")]
        let v0_14 = request.extensions.get::<tower_sessions_0_14::Session>().cloned();
        #[cfg(feature = "tower-sessions-0-15")]
        let v0_15 = request.extensions.get::<tower_sessions_0_15::Session>().cloned();
        let hook = self.clone();
        FlushSessionFuture(Box::pin(async move {
            let mut hints = None;
            #[cfg(feature = "tower-sessions-0-14")]
            hook.end(v0_14, &mut hints).await?;
            #[cfg(feature = "tower-sessions-0-15")]
            hook.end(v0_15, &mut hints).await?;
            hints.ok_or(FlushSessionError::NoSession)
        }))
    }
}

impl FlushSession {
    /// Flushes `session` if the request carries one, forgets it in the
    /// index, and notes the hints it gave.
    async fn end<S: VersionedSession>(
        &self,
        session: Option<S>,
        hints: &mut Option<LogoutHints>,
    ) -> Result<(), FlushSessionError> {
        let Some(session) = session else { return Ok(()) };
        let id_token = match &self.id_token_key {
            Some(key) => session.string(key).await,
            None => None,
        };
        let session_id = session.session_id();
        #[cfg(feature = "revocation")]
        let revocations = self.start_revocations(&session).await;
        session.end().await.map_err(FlushSessionError::Store)?;
        #[cfg(feature = "revocation")]
        for revocation in revocations {
            revocation.finish().await?;
        }
        #[cfg(feature = "provider-logout")]
        if let (Some(index), Some(id)) = (&self.index, session_id)
            && let Err(error) = index.forget(&id).await
        {
            #[cfg(feature = "tracing")]
            tracing::warn!(%error, "signed out, but the session index could not forget the session");
            let _ = error;
        }
        #[cfg(not(feature = "provider-logout"))]
        let _ = session_id;
        let hints = hints.get_or_insert_with(LogoutHints::new);
        // Sessions of two versions (mid-upgrade): the first ID token found is sent.
        if hints.id_token_hint.is_none() {
            hints.id_token_hint = id_token;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "tower-sessions-0-15"))]
mod tests {
    //! The shared logic, on tower-sessions 0.15; `tests/tower_sessions.rs`
    //! runs each version through axum.

    use std::{str::FromStr, sync::Arc};

    use http::Request;
    use tower_sessions_0_15::{MemoryStore, Session, SessionStore, session::Id};

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
    async fn a_request_without_a_session_is_an_error_naming_versions_and_layer_order() {
        let error = FlushSession::new().end_session(&parts_with(None)).await.unwrap_err();
        assert!(matches!(error, FlushSessionError::NoSession));
        let message = error.to_string();
        assert!(!VERSIONS.is_empty());
        for version in VERSIONS {
            assert!(message.contains(version), "{version} not named: {message}");
        }
        assert!(message.contains("SessionManagerLayer"), "{message}");
        assert!(message.contains("after `.layer(logout)`"), "{message}");
    }

    #[cfg(feature = "tower-sessions-0-14")]
    #[tokio::test]
    async fn a_session_of_each_version_is_flushed_and_the_first_id_token_sent() {
        use tower_sessions_0_14 as old;

        let store_0_15 = Arc::new(MemoryStore::default());
        let (new_session, new_id) = saved_session(&store_0_15).await;
        let store_0_14 = Arc::new(old::MemoryStore::default());
        let old_session = old::Session::new(None, store_0_14.clone(), None);
        old_session.insert("id_token", "old.token.sig").await.unwrap();
        old_session.save().await.unwrap();
        let old_id = old_session.id().unwrap();

        let mut parts = parts_with(Some(new_session));
        parts.extensions.insert(old_session);
        let hints = FlushSession::new().id_token_key("id_token").end_session(&parts).await.unwrap();

        assert_eq!(hints.id_token_hint.as_deref(), Some("old.token.sig"));
        assert!(store_0_15.load(&new_id).await.unwrap().is_none(), "0.15 record kept");
        use old::SessionStore as _;
        assert!(store_0_14.load(&old_id).await.unwrap().is_none(), "0.14 record kept");
    }
}
