//! Configuration errors and the typed reasons a request is refused.

use std::{error::Error as StdError, fmt, sync::Arc};

use http::StatusCode;

/// A boxed error, as returned by a failing [`EndSessionHook`](crate::EndSessionHook).
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A mistake in the configuration, caught when the layer is built.
///
/// Every message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No end-session endpoint was configured.
    #[error(
        "no end-session endpoint: call `end_session_endpoint(url)` with the provider's `end_session_endpoint`, or `next_identity(base_domain)`"
    )]
    MissingEndSessionEndpoint,
    /// The discovered provider has no `end_session_endpoint`, and none was set by hand.
    #[error(
        "the provider `{issuer}` publishes no `end_session_endpoint` in its discovery document: set one by hand with `end_session_endpoint(url)` if it has one, or check the issuer"
    )]
    NoEndSessionEndpoint {
        /// The issuer whose document lacks it.
        issuer: String,
    },
    /// Back- or Front-Channel Logout routes were given a path but no parts.
    #[error(
        "a provider-logout route has a path but nothing to end sessions with: call `provider_logout(ProviderLogout::new(index, store))`"
    )]
    ProviderLogoutMissing,
    /// `provider_logout` was given but neither route.
    #[error(
        "`provider_logout` is set but no route serves it: call `backchannel_logout(path)` (preferred) and/or `frontchannel_logout(path)`"
    )]
    ProviderLogoutRouteMissing,
    /// Provider logout needs to know whose logout tokens to accept.
    #[error(
        "provider logout needs the provider's issuer and keys: call `provider(&metadata)` with its discovered metadata, or give `ProviderLogout::validator(validator)`"
    )]
    ProviderLogoutWithoutProvider,
    /// The logout-token validator built from the provider and client ID was
    /// refused; the text is its builder's error.
    #[error("the logout-token validator could not be built: {0}")]
    LogoutTokenValidator(String),
    /// No `client_id` was configured, or it is empty.
    #[error(
        "`client_id` is missing or empty: set it to the client ID the provider issued for this app"
    )]
    MissingClientId,
    /// No `post_logout_redirect_uri` was configured.
    #[error(
        "no `post_logout_redirect_uri`: set it to the callback URL registered with the provider, e.g. `https://app.example/logout/callback`"
    )]
    MissingPostLogoutRedirectUri,
    /// A configured URL is not usable.
    #[error("{what} `{value}` is not usable: {reason}")]
    InvalidUrl {
        /// Which setting holds the URL.
        what: &'static str,
        /// The configured value.
        value: String,
        /// What is wrong with it and how to fix it.
        reason: &'static str,
    },
    /// The logout route is not a plain absolute path.
    #[error(
        "logout path `{0}` must start with `/` and hold no query, fragment, whitespace or control characters"
    )]
    InvalidLogoutPath(String),
    /// The callback route's path is not a plain absolute path.
    #[error(
        "callback path `{0}` must start with `/` and hold no query, fragment, whitespace or control characters: give the path the app receives, e.g. `/logout/callback`"
    )]
    InvalidCallbackPath(String),
    /// The logout route and the callback route are the same path.
    #[error(
        "the logout path and the callback path (from `post_logout_redirect_uri` or `callback_path`) are both `{0}`: give the logout route another path"
    )]
    RoutesCollide(String),
    /// A cookie to expire is described wrongly.
    #[error("cookie `{name}` cannot be expired as configured: {reason}")]
    InvalidCookie {
        /// The cookie's name.
        name: String,
        /// What is wrong with it and how to fix it.
        reason: &'static str,
    },
    /// No state key was configured.
    #[error(
        "no state key: call `state_key(StateKey::from_bytes(secret)?)` with a secret of at least 32 bytes shared by every instance of the app"
    )]
    MissingStateKey,
    /// A state key is too short or has no entropy.
    #[error(
        "state key rejected: {0}; use at least 32 random bytes (e.g. `openssl rand -base64 32`)"
    )]
    WeakStateKey(&'static str),
    /// A state key is not valid base64.
    #[error("state key is not valid base64 (standard or URL-safe alphabet)")]
    StateKeyNotBase64,
    /// The state lifetime is out of range.
    #[error(
        "state lifetime of {secs} s is out of range: use between {min} s and {max} s (default {default} s)"
    )]
    InvalidStateTtl {
        /// The lifetime given, in seconds.
        secs: u64,
        /// The shortest accepted.
        min: u64,
        /// The longest accepted.
        max: u64,
        /// The default.
        default: u64,
    },
    /// The end-session URL would exceed its length cap even without hints.
    #[error(
        "the end-session URL needs {needed} bytes without hints but the cap is {cap}: raise `max_end_session_url_len` or shorten the configured URLs"
    )]
    UrlCapTooSmall {
        /// Bytes the URL needs with `client_id`, `post_logout_redirect_uri`, `state` and `ui_locales`.
        needed: usize,
        /// The configured cap.
        cap: usize,
    },
    /// `ui_locales` holds characters it may not.
    #[error("`ui_locales` must be space-separated BCP 47 language tags, got `{0}`")]
    InvalidUiLocales(String),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator is unavailable")]
    Randomness,
}

/// Why the middleware refused a request.
///
/// Every refusal is a 4xx response whose body is `"<code>: <message>"`; the
/// same value rides in the response extensions, so an outer layer can map it
/// to the app's own error page.
///
/// ```
/// use tower_oidc_logout::Rejection;
///
/// assert_eq!(Rejection::StateMismatch.code(), "state_mismatch");
/// assert_eq!(Rejection::StateMismatch.status(), http::StatusCode::BAD_REQUEST);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The method is not one the route accepts (405, with `Allow`).
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// The logout request came from another site (`Sec-Fetch-Site` or `Origin`).
    #[error("sign-out requests must come from this site's own pages")]
    CrossSite,
    /// The return target is not a plain path on this site.
    #[error("the return target must be a path on this site, like `/account`")]
    InvalidReturnTarget,
    /// The query string could not be read or names a parameter twice.
    #[error("the query string is malformed or repeats a parameter")]
    MalformedQuery,
    /// The query string, form body or a parameter is larger than accepted.
    #[error("the request is larger than a sign-out request can be")]
    TooLarge,
    /// The form body could not be read.
    #[error("the request body could not be read")]
    UnreadableBody,
    /// The callback carries no `state`.
    #[error("the callback carries no state: start again from the sign-out button")]
    StateMissing,
    /// The callback's `state` is not one this app could have issued.
    #[error("the callback's state is not one this app issued")]
    StateMalformed,
    /// The browser holds no state cookie for this callback.
    #[error("no sign-out is pending in this browser (the state cookie is missing or already used)")]
    StateCookieMissing,
    /// The state cookie was altered or sealed under an unknown key.
    #[error("the state cookie was altered or sealed with a key this app no longer accepts")]
    StateTampered,
    /// The state cookie is past its lifetime.
    #[error("the sign-out took too long and its state expired: sign out again")]
    StateExpired,
    /// The callback's `state` differs from the one sealed in the browser.
    #[error("the callback's state does not match the one this browser was given")]
    StateMismatch,
}

impl Rejection {
    /// A stable, machine-matchable name for this rejection, e.g. `"state_expired"`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::CrossSite => "cross_site",
            Self::InvalidReturnTarget => "invalid_return_target",
            Self::MalformedQuery => "malformed_query",
            Self::TooLarge => "too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::StateMissing => "state_missing",
            Self::StateMalformed => "state_malformed",
            Self::StateCookieMissing => "state_cookie_missing",
            Self::StateTampered => "state_tampered",
            Self::StateExpired => "state_expired",
            Self::StateMismatch => "state_mismatch",
        }
    }

    /// The status code the refusal is answered with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::CrossSite => StatusCode::FORBIDDEN,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The storage hook failed: the server-side session may still exist.
///
/// Placed in the extensions of the `500 Internal Server Error` the logout
/// route answers with in that case. The local cookies were expired anyway and
/// the user was *not* sent on to the provider, so they can try again.
#[derive(Clone)]
pub struct EndSessionFailed {
    error: Arc<dyn StdError + Send + Sync>,
    /// The hook said the session layer is missing or misplaced.
    layer_order: bool,
}

impl EndSessionFailed {
    pub(crate) fn new(error: BoxError, layer_order: bool) -> Self {
        Self { error: Arc::from(error), layer_order }
    }

    /// The error the hook returned.
    #[must_use]
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// Whether the hook found no session in the request: the session layer
    /// is missing or sits inside the logout layer, so retrying never helps
    /// (see [`EndSessionHook::is_layer_order`](crate::EndSessionHook::is_layer_order)).
    #[must_use]
    pub fn is_layer_order(&self) -> bool {
        self.layer_order
    }
}

impl fmt::Debug for EndSessionFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndSessionFailed")
            .field("error", &self.error)
            .field("layer_order", &self.layer_order)
            .finish()
    }
}

impl fmt::Display for EndSessionFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server-side session could not be ended: {}", self.error)
    }
}

impl StdError for EndSessionFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Rejection::MethodNotAllowed,
            Rejection::CrossSite,
            Rejection::InvalidReturnTarget,
            Rejection::MalformedQuery,
            Rejection::TooLarge,
            Rejection::UnreadableBody,
            Rejection::StateMissing,
            Rejection::StateMalformed,
            Rejection::StateCookieMissing,
            Rejection::StateTampered,
            Rejection::StateExpired,
            Rejection::StateMismatch,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(Rejection::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(all.iter().all(|r| r.status().is_client_error()));
    }
}
