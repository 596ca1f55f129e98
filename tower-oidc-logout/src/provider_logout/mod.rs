//! Sessions that end at the provider: OpenID Connect Back-Channel Logout 1.0
//! and Front-Channel Logout 1.0 (feature `provider-logout`).
//!
//! When a user's session ends at the provider (they signed out there or of
//! another app, or an administrator ended it), the provider tells every app
//! that had a session in it: server to server with a signed `logout_token`
//! (back-channel), or by loading `?iss=&sid=` in an iframe of its own page
//! (front-channel). The layer serves both routes; each finds the app's
//! sessions of that provider session in the [session index](index) and
//! deletes them from the app's store, so a copied session cookie is dead on
//! every instance.
//!
//! ```no_run
//! # async fn run(store: tower_sessions_0_14::MemoryStore) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use tower_oidc_logout::{OidcLogoutLayer, StateKey, discovery::ProviderMetadata, tower_sessions::FlushSession};
//! use tower_oidc_logout::provider_logout::{ProviderLogout, index::MemoryIndex};
//! use tower_oidc_logout::tower_sessions::v0_14::DeleteFromStore;
//!
//! let provider = ProviderMetadata::discover("https://id.example").await?;
//! let index = Arc::new(MemoryIndex::new()); // `RedisIndex` for many instances
//! let layer = OidcLogoutLayer::builder()
//!     .provider(&provider) // the end-session endpoint, the issuer and its keys
//!     .client_id("my-client-id")
//!     .post_logout_redirect_uri("https://app.example/logout/callback")
//!     .state_key(StateKey::generate()?)
//!     .end_session_hook(FlushSession::new().session_index(index.clone()))
//!     .provider_logout(ProviderLogout::new(index, DeleteFromStore::new(store)))
//!     .backchannel_logout("/logout/backchannel")
//!     .build()?;
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```
//!
//! The app records each sign-in in the index once the ID token is validated
//! (`record_sign_in` with tower-sessions), and registers
//! `<origin>/logout/backchannel` as the client's `backchannel_logout_uri`.
//!
//! # The routes
//!
//! - **Back-channel** (`POST`, `application/x-www-form-urlencoded`, one
//!   `logout_token`): the token must pass every rule below and its `jti`
//!   must be new; the sessions of its `sid` (or, without one, of its `sub`)
//!   are deleted; `200`, also when no session matched. Otherwise `400` with
//!   `{"error":"invalid_request","error_description":"<code>: ..."}`, or
//!   `"server_error"` when the store or the index failed (nothing was
//!   changed: the provider's retry ends the sessions), `405` for other
//!   methods. Always `Cache-Control: no-cache, no-store`. The [`Refusal`]
//!   rides in the response extensions.
//! - **Front-channel** (`GET ?iss=&sid=`): `iss` must be the provider's; the
//!   sessions of `sid` are ended server-side; the answer is a small page only
//!   the provider's origin may frame. `HEAD` and requests that are not loaded
//!   as a frame or a page (`Sec-Fetch-Dest`) are refused. Anyone who knows a
//!   `sid` can end that session this way (inherent to the spec): prefer
//!   back-channel.
//!
//! A logout is either done or left as it was: see the index's
//! [Nothing lost](index#nothing-lost).
//!
//! # Validating logout tokens by hand
//!
//! The layer's back-channel route validates every token itself; an app that
//! receives logout tokens some other way (a queue, its own route) uses
//! [`LogoutTokenValidator`] directly:
//!
//! ```no_run
//! use tower_oidc_logout::provider_logout::LogoutTokenValidator;
//! use tower_oidc_logout::discovery::ProviderMetadata;
//!
//! # async fn run(logout_token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
//! let validator = LogoutTokenValidator::builder()
//!     .provider(&provider) // issuer and jwks_uri
//!     .client_id("my-client-id")
//!     .build()?;
//! validator.refresh_keys().await?; // optional: fetch the keys at start-up
//!
//! match validator.validate(logout_token).await {
//!     Ok(token) => {
//!         // Check `(token.issuer(), token.jti())` was not used before, end the sessions of
//!         // `token.sid()` or `token.sub()`, then remember the jti until `token.remember_until()`.
//!     }
//!     Err(error) => {
//!         // 400 {"error":"invalid_request","error_description": error.to_string()}
//!         let _ = error.code();
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # What a logout token must be
//!
//! In the order of section 2.6 (Logout Token Validation), with the claims
//! of section 2.4 (Logout Token):
//!
//! 1. A compact JWS of three parts; encrypted tokens (JWE, step 1) are not
//!    supported. At most [`MAX_LOGOUT_TOKEN_LEN`] bytes.
//! 2. The signature (step 2), by a key of the provider's JWK Set
//!    ([`KeySet`] lists which keys are used): the one named by `kid`, or
//!    without `kid` the only key for the token's `alg`.
//! 3. `alg` (step 3): never `none`, never an HMAC algorithm (a token
//!    "signed" with the public key as HMAC secret is refused), and one that
//!    the key itself allows (its `alg`, or what its type implies).
//!    When the header has `typ`, it is `logout+jwt` (section 2.4,
//!    explicit typing against cross-JWT confusion, section 4.1);
//!    a header with `crit` is refused (RFC 7515 section 4.1.11).
//! 4. As Core 1.0 section 3.1.3.7 for ID tokens (step 4): `iss` equals the
//!    configured issuer exactly; `aud` (a string or an array) contains the
//!    client ID; when `aud` names other audiences too, `azp` is present, and
//!    when `azp` is present it is the client ID. `iat` is present and not
//!    later than now plus the [clock skew](LogoutTokenValidatorBuilder::clock_skew);
//!    `exp` is present and now is before `exp` plus the skew. A token
//!    without `exp` is refused unless the app
//!    [accepts them up to a maximum age](LogoutTokenValidatorBuilder::accept_tokens_without_exp).
//!    Whatever `exp` says, now is before `iat` plus the
//!    [token max age](LogoutTokenValidatorBuilder::token_max_age) (default
//!    [`DEFAULT_TOKEN_MAX_AGE`]) plus the skew.
//! 5. `sub`, `sid`, or both (step 5), as strings.
//! 6. `events` is an object holding the member
//!    `http://schemas.openid.net/event/backchannel-logout`, itself an
//!    object (step 6).
//! 7. No `nonce` (step 7), so that a logout token cannot pass for an ID token.
//! 8. `jti` is present and not empty (section 2.4).
//!
//! Step 8, refusing a `jti` seen before, needs storage shared by the app's
//! instances and is not done here: [`LogoutToken`] carries `iss`, `jti` and
//! [`remember_until`](LogoutToken::remember_until) for it: the moment from
//! which the token is refused anyway (the earlier of the `exp` and the token
//! max age bounds), so a `jti` is remembered no longer than the token max age
//! plus the skew, even for a token whose `exp` is centuries away. Steps 9
//! and 10 (matching `sid`/`sub` with the app's sessions) are the session index's.
//!
//! Every refusal is a [`LogoutTokenError`] with a stable
//! [`code`](LogoutTokenError::code); nothing panics on any input.
//!
//! # The provider's keys
//!
//! From a [`jwks_uri`](LogoutTokenValidatorBuilder::jwks_uri), fetched over
//! the crate's one HTTP GET (rustls, timeouts, size cap, no redirects; set
//! with [`fetcher`](LogoutTokenValidatorBuilder::fetcher)), or given once
//! with [`keys`](LogoutTokenValidatorBuilder::keys) and never fetched. Fetched keys:
//!
//! - **Maximum age.** The set is fetched on the first token, then used for
//!   the [key max age](LogoutTokenValidatorBuilder::key_max_age) (default
//!   [`DEFAULT_KEY_MAX_AGE`]), or for the `Cache-Control: max-age` of the
//!   response when that is shorter (never below [`MIN_KEY_MAX_AGE`]; other
//!   `Cache-Control` directives are not read). The first token after that
//!   fetches it again, so a key the provider removed (compromised and
//!   rotated out) stops verifying.
//! - **Provider unreachable.** If fetching a stale set fails, the stale set
//!   keeps verifying for at most one more key max age (fetches are retried
//!   meanwhile, within the limits below), so a provider outage shorter than
//!   that loses no logout; after it, every token is refused
//!   `keys_unavailable` until a fetch succeeds. A removed key thus verifies
//!   at most the key max age after the provider dropped it, or twice that
//!   while the app cannot reach the provider.
//! - **Rotation.** A token naming a `kid` the set lacks fetches it again
//!   when the last fetch started at least the
//!   [minimum gap](LogoutTokenValidatorBuilder::unknown_kid_min_gap) ago
//!   (default [`DEFAULT_UNKNOWN_KID_MIN_GAP`]), otherwise it is refused
//!   `unknown_key`. A token with a made-up `kid` (which needs no signature)
//!   can therefore delay a key the provider rotates in by at most that gap:
//!   any fetch, whoever caused it, brings the new key.
//! - **Limits.** At most
//!   [`max_key_fetches_per_minute`](LogoutTokenValidatorBuilder::max_key_fetches_per_minute)
//!   fetches start in any 60 seconds (default
//!   [`DEFAULT_MAX_KEY_FETCHES_PER_MINUTE`], which at the default gap never
//!   makes a `kid` wait longer than the gap), so forged `kid`s cannot make
//!   the app hammer the provider. Concurrent tokens that need a fetch wait
//!   for the same one. A failed fetch keeps the keys already held.
//! - **Where from.** The `jwks_uri` is `https`; plain `http` only on
//!   loopback and only for a plain-`http` loopback issuer (see
//!   [`crate::discovery`]), so that no document can point the fetch at a
//!   local service.
//!
//! # Why back-channel
//!
//! Front-Channel Logout loads the app's logout URL in an invisible iframe
//! of the provider's page; browsers that block third-party cookies send no
//! cookie there, so the app cannot tell whose session to end. Back-channel
//! logout needs no browser at all: the provider tells the app's server
//! directly, signed, and the app ends the sessions server-side, which also
//! kills copied cookies.

mod backchannel;
mod frontchannel;
pub mod index;
mod keys;
mod refusal;
#[cfg(test)]
mod testkit;
mod token;
mod validator;

use std::{fmt, sync::Arc};

use http::{HeaderValue, Request};
use http_body::Body;
use url::Url;

pub use keys::{
    DEFAULT_KEY_MAX_AGE, DEFAULT_MAX_KEY_FETCHES_PER_MINUTE, DEFAULT_UNKNOWN_KID_MIN_GAP, KeySet,
    KeySetError, MAX_KEY_MAX_AGE, MAX_UNKNOWN_KID_MIN_GAP, MIN_KEY_MAX_AGE,
};
pub use refusal::Refusal;
pub use token::{BACKCHANNEL_LOGOUT_EVENT, LogoutToken, LogoutTokenError, MAX_LOGOUT_TOKEN_LEN};
pub use validator::{
    DEFAULT_CLOCK_SKEW, DEFAULT_TOKEN_MAX_AGE, LogoutTokenValidator, LogoutTokenValidatorBuilder,
    MAX_CLOCK_SKEW, MAX_TOKEN_MAX_AGE, ValidatorConfigError,
};

use self::index::{EndSessions, LogoutNotice, Pending, SessionIndex};
use crate::{error::BoxError, logout::LogoutFuture};

/// What the provider-logout routes need beside the layer's own settings:
/// where the app's sessions (and the token IDs used) are indexed, and how
/// the app's sessions end.
///
/// Given to [`OidcLogoutBuilder::provider_logout`](crate::OidcLogoutBuilder::provider_logout);
/// the logout tokens are then checked against the provider and client the
/// builder has (by [`provider`](crate::OidcLogoutBuilder::provider) and
/// [`client_id`](crate::OidcLogoutBuilder::client_id)), unless a
/// [`validator`](Self::validator) is given here.
#[derive(Clone)]
pub struct ProviderLogout {
    pub(crate) validator: Option<LogoutTokenValidator>,
    index: Arc<dyn SessionIndex>,
    sessions: Arc<dyn EndSessions>,
}

impl ProviderLogout {
    /// `index` finds the app sessions of a provider session (recorded by the
    /// app at sign-in) and refuses a token ID used before (shared by every
    /// instance when it is a [`RedisIndex`](index::RedisIndex)); `sessions`
    /// deletes them from the app's store.
    pub fn new(index: Arc<dyn SessionIndex>, sessions: impl EndSessions + 'static) -> Self {
        Self { validator: None, index, sessions: Arc::new(sessions) }
    }

    /// Checks logout tokens with `validator` instead of one built from the
    /// layer builder's provider and client ID (for keys given by hand, or
    /// other clock-skew, key or age settings).
    #[must_use]
    pub fn validator(mut self, validator: LogoutTokenValidator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Ends the app sessions `notice` names, or changes nothing: the index
    /// gives them up (and the token's `jti` is used) only once the store
    /// deleted them, so a failure leaves all for the provider's retry.
    async fn end_app_sessions(&self, notice: &LogoutNotice<'_>) -> Result<Ended, BoxError> {
        let ids = match self.index.pending(notice).await? {
            Pending::Replayed => return Ok(Ended::Replayed),
            Pending::Sessions(ids) => ids,
        };
        let mut ended = Vec::new();
        if !ids.is_empty() {
            let report = self.sessions.end_sessions(&ids).await?;
            // Malformed IDs can never be deleted: they leave the index too.
            ended = report.deleted;
            ended.extend(report.malformed);
        }
        self.index.complete(notice, &ended).await?;
        Ok(Ended::Sessions)
    }
}

impl fmt::Debug for ProviderLogout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderLogout").field("validator", &self.validator).finish_non_exhaustive()
    }
}

/// How [`ProviderLogout::end_app_sessions`] went.
enum Ended {
    /// The sessions named are gone, and the token's `jti` used.
    Sessions,
    /// The token's `jti` was used before: nothing done.
    Replayed,
}

/// The provider-logout routes of a layer: their paths and parts, checked by
/// the layer's builder.
#[derive(Debug)]
pub(crate) struct Routes {
    backchannel_path: Option<String>,
    frontchannel_path: Option<String>,
    validator: LogoutTokenValidator,
    logout: ProviderLogout,
    /// `frame-ancestors` limited to the provider's origin.
    pub(crate) frame_ancestors: HeaderValue,
}

impl Routes {
    /// `None` when the issuer is not a URL with an origin.
    pub(crate) fn new(
        validator: LogoutTokenValidator,
        logout: ProviderLogout,
        backchannel_path: Option<String>,
        frontchannel_path: Option<String>,
    ) -> Option<Self> {
        let origin = Url::parse(validator.issuer()).ok()?.origin().ascii_serialization();
        let policy = format!("frame-ancestors {origin}; default-src 'none'");
        let frame_ancestors = HeaderValue::try_from(policy).ok()?;
        Some(Self { backchannel_path, frontchannel_path, validator, logout, frame_ancestors })
    }

    /// Whether `path` is one of these routes.
    #[inline]
    pub(crate) fn serves(&self, path: &str) -> bool {
        self.backchannel_path.as_deref() == Some(path)
            || self.frontchannel_path.as_deref() == Some(path)
    }

    /// Answers a request to one of these routes.
    pub(crate) fn respond<B>(self: &Arc<Self>, request: Request<B>) -> LogoutFuture
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let routes = self.clone();
        let (parts, body) = request.into_parts();
        if routes.backchannel_path.as_deref() == Some(parts.uri.path()) {
            LogoutFuture::new(Box::pin(
                async move { backchannel::respond(&routes, parts, body).await },
            ))
        } else {
            LogoutFuture::new(Box::pin(async move { frontchannel::respond(&routes, &parts).await }))
        }
    }
}
