//! The storage hook: how the app's server-side session ends at sign-out.

use std::{convert::Infallible, future::Future};

use http::request::Parts;

use crate::error::BoxError;

/// Ends the app's server-side session when the user signs out.
///
/// The logout route calls it first, with the request's parts (headers,
/// cookies, extensions), before anything is sent to the browser. It deletes
/// the session from the app's store and may return [`LogoutHints`] for the
/// provider. If it fails, the user is *not* sent to the provider as if all went
/// well: the local cookies are still expired and the route answers `500`.
///
/// Any `Fn(&Parts) -> impl Future<Output = Result<T, E>>` is a hook, where
/// `T: Into<LogoutHints>` (so `()` works) and `E` is any error. The future
/// must not borrow the parts: read what you need from them first, then move
/// it into an `async move` block. No boxing is needed.
///
/// ```
/// use std::{collections::HashSet, convert::Infallible, sync::{Arc, Mutex}};
/// use http::request::Parts;
/// use tower_oidc_logout::EndSessionHook;
///
/// let store: Arc<Mutex<HashSet<String>>> = Arc::default();
/// let hook = move |parts: &Parts| {
///     let session_id = parts
///         .headers
///         .get("x-session-id")
///         .and_then(|v| v.to_str().ok())
///         .map(str::to_owned);
///     let store = store.clone();
///     async move {
///         if let Some(id) = session_id {
///             store.lock().unwrap().remove(&id);
///         }
///         Ok::<_, Infallible>(())
///     }
/// };
/// fn is_hook(_: &impl EndSessionHook) {}
/// is_hook(&hook);
/// ```
pub trait EndSessionHook: Send + Sync + 'static {
    /// What the hook hands back for the end-session request.
    type Hints: Into<LogoutHints>;
    /// Why the session could not be ended.
    type Error: Into<BoxError>;
    /// The future that ends the session.
    type Future: Future<Output = Result<Self::Hints, Self::Error>> + Send + 'static;

    /// Starts ending the session of the user who sent `request`.
    fn end_session(&self, request: &Parts) -> Self::Future;

    /// Whether `error` means the request carries no session because the
    /// app's session layer is missing or inside the logout layer: a layer
    /// order to fix, which no retry helps. The `500` then says so. Default: never.
    fn is_layer_order(&self, error: &Self::Error) -> bool {
        let _ = error;
        false
    }
}

/// Optional hints for the provider, returned by an [`EndSessionHook`].
///
/// `id_token_hint` is the ID token the provider issued at sign-in; it lets the
/// provider end the right session without asking the user. `logout_hint`
/// names the user (e.g. their login). Both are sent only if the URL stays
/// under the configured cap; see
/// [`max_end_session_url_len`](crate::OidcLogoutBuilder::max_end_session_url_len).
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutHints {
    /// The ID token previously issued to this user, sent as `id_token_hint`.
    pub id_token_hint: Option<String>,
    /// A hint about the user, sent as `logout_hint`.
    pub logout_hint: Option<String>,
}

impl LogoutHints {
    /// No hints.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the ID token previously issued to this user.
    #[must_use]
    pub fn id_token_hint(mut self, id_token: impl Into<String>) -> Self {
        self.id_token_hint = Some(id_token.into());
        self
    }

    /// Adds a hint about the user (e.g. their login).
    #[must_use]
    pub fn logout_hint(mut self, hint: impl Into<String>) -> Self {
        self.logout_hint = Some(hint.into());
        self
    }
}

impl std::fmt::Debug for LogoutHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // An ID token is a bearer credential: never print it.
        f.debug_struct("LogoutHints")
            .field("id_token_hint", &self.id_token_hint.as_ref().map(|_| "<redacted>"))
            .field("logout_hint", &self.logout_hint)
            .finish()
    }
}

impl From<()> for LogoutHints {
    fn from((): ()) -> Self {
        Self::default()
    }
}

/// The default hook: the app keeps no server-side session (or ends it elsewhere).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoServerSession;

impl EndSessionHook for NoServerSession {
    type Hints = LogoutHints;
    type Error = Infallible;
    type Future = std::future::Ready<Result<LogoutHints, Infallible>>;

    fn end_session(&self, _request: &Parts) -> Self::Future {
        std::future::ready(Ok(LogoutHints::default()))
    }
}

impl<F, Fut, T, E> EndSessionHook for F
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Into<LogoutHints>,
    E: Into<BoxError>,
{
    type Hints = T;
    type Error = E;
    type Future = Fut;

    fn end_session(&self, request: &Parts) -> Fut {
        self(request)
    }
}
