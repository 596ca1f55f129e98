//! OpenID Connect Back-Channel Logout 1.0: validating the provider's logout tokens.
//!
//! When a user's session ends at the provider (they signed out there or of
//! another app, or an administrator ended it), the provider `POST`s a
//! `logout_token` to each app's `backchannel_logout_uri`, server to server.
//! [`LogoutTokenValidator::validate`] checks such a token and says whose
//! sessions to end.
//!
//! ```no_run
//! use tower_oidc_logout::backchannel::LogoutTokenValidator;
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
//! # What is checked
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
//! 4. `iss` equals the configured issuer exactly; `aud` (a string or an
//!    array) contains the client ID; `iat` is present and not later than
//!    now plus the [clock skew](LogoutTokenValidatorBuilder::clock_skew);
//!    `exp` is present and now is before `exp` plus the skew (step 4, as
//!    Core 1.0 section 3.1.3.7 for ID tokens). A token without `exp` is
//!    refused unless the app
//!    [accepts them up to a maximum age](LogoutTokenValidatorBuilder::accept_tokens_without_exp).
//! 5. `sub`, `sid`, or both (step 5), as strings.
//! 6. `events` is an object holding the member
//!    `http://schemas.openid.net/event/backchannel-logout`, itself an
//!    object (step 6).
//! 7. No `nonce` (step 7), so that a logout token cannot pass for an ID token.
//! 8. `jti` is present (section 2.4).
//!
//! Step 8, refusing a `jti` seen before, needs storage shared by the app's
//! instances and is not done here: [`LogoutToken`] carries `iss`, `jti` and
//! [`remember_until`](LogoutToken::remember_until) for it. Steps 9 and 10
//! (matching `sid`/`sub` with the app's sessions) are the session index's.
//!
//! Every refusal is a [`LogoutTokenError`] with a stable
//! [`code`](LogoutTokenError::code); nothing panics on any input.
//!
//! # The provider's keys
//!
//! From a [`jwks_uri`](LogoutTokenValidatorBuilder::jwks_uri), fetched over
//! the crate's one HTTP GET (rustls, timeouts, size cap, no redirects; set
//! with [`fetcher`](LogoutTokenValidatorBuilder::fetcher)), or given once
//! with [`keys`](LogoutTokenValidatorBuilder::keys). Fetched keys are
//! cached; a token naming a key the cache lacks (the provider rotated its
//! keys) triggers a refetch, at most once per
//! [interval](LogoutTokenValidatorBuilder::key_refetch_interval) (default
//! [`DEFAULT_KEY_REFETCH_INTERVAL`]), so forged `kid`s cannot make the app
//! hammer the provider. Concurrent misses wait for the same fetch. A failed
//! fetch keeps the keys already held.
//!
//! # Why back-channel
//!
//! Front-Channel Logout loads the app's logout URL in an invisible iframe
//! of the provider's page; browsers that block third-party cookies send no
//! cookie there, so the app cannot tell whose session to end. Back-channel
//! logout needs no browser at all: the provider tells the app's server
//! directly, signed, and the app ends the sessions server-side, which also
//! kills copied cookies.

mod keys;
mod route;
mod token;

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

pub use keys::{DEFAULT_KEY_REFETCH_INTERVAL, KeySet, KeySetError};
pub(crate) use route::ProviderLogoutRoutes;
pub use route::{BackchannelRefusal, ProviderLogout};
pub use token::{BACKCHANNEL_LOGOUT_EVENT, LogoutToken, LogoutTokenError, MAX_LOGOUT_TOKEN_LEN};

use self::{
    keys::{FetchKeys, ProviderKeys},
    token::ClaimRules,
};
use crate::{
    discovery::{Discovery, ProviderMetadata},
    https_url,
    state::Clock,
};

/// Default clock skew allowed on `iat` and `exp`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Largest clock skew accepted by the builder.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Seconds since the epoch by `clock` (0 before it).
fn now_secs(clock: &Clock) -> u64 {
    crate::state::unix_secs(clock())
}

/// Checks logout tokens of one provider for one client; cheap to clone.
///
/// Built by [`LogoutTokenValidator::builder`]. See the [module](self) for
/// every rule.
#[derive(Clone)]
pub struct LogoutTokenValidator {
    inner: Arc<Inner>,
}

struct Inner {
    rules: ClaimRules,
    keys: ProviderKeys,
    clock: Clock,
}

impl fmt::Debug for LogoutTokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutTokenValidator")
            .field("issuer", &self.inner.rules.issuer)
            .field("client_id", &self.inner.rules.client_id)
            .field("clock_skew_secs", &self.inner.rules.skew_secs)
            .field("max_age_secs", &self.inner.rules.max_age_secs)
            .field("keys", &self.inner.keys)
            .finish()
    }
}

impl LogoutTokenValidator {
    /// Starts a configuration: [`issuer`](LogoutTokenValidatorBuilder::issuer),
    /// [`client_id`](LogoutTokenValidatorBuilder::client_id) and a key source are required.
    pub fn builder() -> LogoutTokenValidatorBuilder {
        LogoutTokenValidatorBuilder::default()
    }

    /// Checks a logout token (the `logout_token` form field) against every
    /// rule of section 2.6 but replay; see the [module](self).
    ///
    /// May fetch the provider's keys when the token names a key not held
    /// (needs a Tokio runtime then); otherwise it does not wait on anything.
    pub async fn validate(&self, token: &str) -> Result<LogoutToken, LogoutTokenError> {
        let signed = token::parse(token)?;
        let keys = self.inner.keys.key_set_for(signed.kid.as_deref(), signed.alg).await?;
        let key = keys
            .select(signed.kid.as_deref(), signed.alg)
            .map_err(|_| LogoutTokenError::BadSignature)?;
        token::verify_signature(&signed, key)?;
        token::check_claims(&signed, &self.inner.rules, now_secs(&self.inner.clock))
    }

    /// Fetches the provider's keys now, whatever the refetch interval, and
    /// returns how many are usable; keys given with
    /// [`keys`](LogoutTokenValidatorBuilder::keys) are not refetched.
    ///
    /// Call it at start-up to learn early that the `jwks_uri` works; on
    /// failure the keys held stay in use.
    pub async fn refresh_keys(&self) -> Result<usize, KeySetError> {
        self.inner.keys.refresh().await
    }

    /// The keys in use now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.inner.keys.snapshot()
    }

    /// The issuer whose logout tokens this accepts.
    pub fn issuer(&self) -> &str {
        &self.inner.rules.issuer
    }
}

enum KeySource {
    Given(KeySet),
    JwksUri(String),
    #[cfg(test)]
    Fetch(FetchKeys),
}

/// Settings for a [`LogoutTokenValidator`]; [`build`](Self::build) checks them.
#[must_use]
pub struct LogoutTokenValidatorBuilder {
    issuer: Option<String>,
    client_id: Option<String>,
    keys: Option<KeySource>,
    fetcher: Discovery,
    clock_skew: Duration,
    max_age: Option<Duration>,
    refetch_interval: Duration,
    clock: Option<Clock>,
}

impl Default for LogoutTokenValidatorBuilder {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            keys: None,
            fetcher: Discovery::new(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_age: None,
            refetch_interval: DEFAULT_KEY_REFETCH_INTERVAL,
            clock: None,
        }
    }
}

impl fmt::Debug for LogoutTokenValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            None => "none".to_owned(),
            Some(KeySource::Given(set)) => format!("{} given", set.len()),
            Some(KeySource::JwksUri(uri)) => uri.clone(),
            #[cfg(test)]
            Some(KeySource::Fetch(_)) => "test fetch".to_owned(),
        };
        f.debug_struct("LogoutTokenValidatorBuilder")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("keys", &keys)
            .field("fetcher", &self.fetcher)
            .field("clock_skew", &self.clock_skew)
            .field("max_age", &self.max_age)
            .field("refetch_interval", &self.refetch_interval)
            .finish()
    }
}

impl LogoutTokenValidatorBuilder {
    /// The provider's issuer; a token's `iss` must equal it byte for byte.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// This app's client ID at the provider; a token's `aud` must contain it.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The issuer and, when the document has one, the `jwks_uri` of a
    /// discovered provider.
    pub fn provider(mut self, provider: &ProviderMetadata) -> Self {
        self.issuer = Some(provider.issuer().to_owned());
        if let Some(jwks_uri) = provider.jwks_uri() {
            self.keys = Some(KeySource::JwksUri(jwks_uri.to_owned()));
        }
        self
    }

    /// Fetch the provider's keys from this URL (`https`; `http` on loopback
    /// only), on the first token and then as described in the [module](self).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.keys = Some(KeySource::JwksUri(uri.into()));
        self
    }

    /// Use these keys, never refetched (replaces any `jwks_uri`).
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(KeySource::Given(keys));
        self
    }

    /// The fetcher's timeouts, size cap and extra roots (default [`Discovery::new`]).
    pub fn fetcher(mut self, fetcher: Discovery) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Clock difference tolerated on `iat` and `exp` (default
    /// [`DEFAULT_CLOCK_SKEW`], at most [`MAX_CLOCK_SKEW`]).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Accept tokens without `exp` (which Back-Channel Logout 1.0 requires,
    /// but some providers omit) when `iat` is at most `max_age` old.
    pub fn accept_tokens_without_exp(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Least time between two fetches caused by tokens naming unknown keys
    /// (default [`DEFAULT_KEY_REFETCH_INTERVAL`]).
    pub fn key_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    #[cfg(test)]
    pub(crate) fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    #[cfg(test)]
    pub(crate) fn fetch_keys_with(mut self, fetch: FetchKeys) -> Self {
        self.keys = Some(KeySource::Fetch(fetch));
        self
    }

    /// Checks the settings and builds the validator; no network call.
    pub fn build(self) -> Result<LogoutTokenValidator, BackchannelConfigError> {
        let issuer = self.issuer.filter(|issuer| !issuer.is_empty());
        let issuer = issuer.ok_or(BackchannelConfigError::MissingIssuer)?;
        let client_id = self.client_id.filter(|id| !id.is_empty());
        let client_id = client_id.ok_or(BackchannelConfigError::MissingClientId)?;
        if self.clock_skew > MAX_CLOCK_SKEW {
            return Err(BackchannelConfigError::ClockSkewTooLarge(self.clock_skew));
        }
        if self.max_age.is_some_and(|max_age| max_age.is_zero()) {
            return Err(BackchannelConfigError::ZeroMaxAge);
        }
        let (initial, fetch): (KeySet, Option<FetchKeys>) =
            match self.keys.ok_or(BackchannelConfigError::MissingKeys)? {
                KeySource::Given(set) => (set, None),
                KeySource::JwksUri(uri) => {
                    let url = https_url::parse(&uri).map_err(|reason| {
                        BackchannelConfigError::InvalidJwksUri { uri: uri.clone(), reason }
                    })?;
                    (KeySet::default(), Some(keys::fetch_from(url, self.fetcher)))
                }
                #[cfg(test)]
                KeySource::Fetch(fetch) => (KeySet::default(), Some(fetch)),
            };
        keys::ensure_crypto_provider();
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemTime::now));
        let rules = ClaimRules {
            issuer,
            client_id,
            skew_secs: self.clock_skew.as_secs(),
            max_age_secs: self.max_age.map(|max_age| max_age.as_secs().max(1)),
        };
        let keys = ProviderKeys::new(initial, fetch, self.refetch_interval, clock.clone());
        Ok(LogoutTokenValidator { inner: Arc::new(Inner { rules, keys, clock }) })
    }
}

/// A mistake in a [`LogoutTokenValidatorBuilder`], caught by `build`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackchannelConfigError {
    /// No issuer was configured.
    #[error(
        "no issuer: call `issuer(url)` with the provider's issuer exactly as its discovery document states, or `provider(&metadata)`"
    )]
    MissingIssuer,
    /// No client ID was configured.
    #[error("`client_id` is missing or empty: set it to the client ID the provider issued")]
    MissingClientId,
    /// Neither a `jwks_uri` nor keys were configured.
    #[error(
        "no signing keys: call `jwks_uri(url)` with the provider's `jwks_uri`, `provider(&metadata)` with a document that has one, or `keys(KeySet::from_jwks(json)?)`"
    )]
    MissingKeys,
    /// The `jwks_uri` is not usable.
    #[error("jwks_uri `{uri}` is not usable: {reason}")]
    InvalidJwksUri {
        /// The configured value.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The clock skew is larger than [`MAX_CLOCK_SKEW`].
    #[error("a clock skew of {0:?} is too lenient: at most 5 minutes; synchronise the clocks")]
    ClockSkewTooLarge(Duration),
    /// `accept_tokens_without_exp` was given a zero maximum age.
    #[error("`accept_tokens_without_exp` needs a maximum age above zero, e.g. 2 minutes")]
    ZeroMaxAge,
}

#[cfg(test)]
mod testkit;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{BackchannelConfigError, LogoutTokenValidator, testkit::*};
    use crate::discovery::ProviderMetadata;

    fn error(builder: super::LogoutTokenValidatorBuilder) -> BackchannelConfigError {
        builder.build().expect_err("the configuration must be refused")
    }

    #[test]
    fn issuer_client_id_and_keys_are_required() {
        let keys = || super::KeySet::from_jwks(&es256_jwks()).unwrap();
        let builder = LogoutTokenValidator::builder;
        assert_eq!(
            error(builder().client_id(CLIENT_ID).keys(keys())),
            BackchannelConfigError::MissingIssuer
        );
        assert_eq!(
            error(builder().issuer("").client_id(CLIENT_ID).keys(keys())),
            BackchannelConfigError::MissingIssuer
        );
        assert_eq!(
            error(builder().issuer(ISSUER).client_id("").keys(keys())),
            BackchannelConfigError::MissingClientId
        );
        assert_eq!(
            error(builder().issuer(ISSUER).client_id(CLIENT_ID)),
            BackchannelConfigError::MissingKeys
        );
    }

    #[test]
    fn the_jwks_uri_follows_the_crates_url_rule() {
        for uri in ["http://op.example/jwks", "ftp://op.example/jwks", "/jwks"] {
            let result = error(
                LogoutTokenValidator::builder().issuer(ISSUER).client_id(CLIENT_ID).jwks_uri(uri),
            );
            assert!(matches!(result, BackchannelConfigError::InvalidJwksUri { .. }), "{uri}");
        }
        LogoutTokenValidator::builder()
            .issuer(ISSUER)
            .client_id(CLIENT_ID)
            .jwks_uri("http://127.0.0.1:8080/jwks")
            .build()
            .unwrap();
    }

    #[test]
    fn skew_and_max_age_are_bounded() {
        assert_eq!(
            error(builder().clock_skew(Duration::from_secs(301))),
            BackchannelConfigError::ClockSkewTooLarge(Duration::from_secs(301))
        );
        builder().clock_skew(Duration::from_secs(300)).build().unwrap();
        assert_eq!(
            error(builder().accept_tokens_without_exp(Duration::ZERO)),
            BackchannelConfigError::ZeroMaxAge
        );
    }

    #[test]
    fn a_discovered_provider_gives_issuer_and_jwks_uri() {
        let document = format!(
            r#"{{"issuer":"{ISSUER}","jwks_uri":"{ISSUER}/jwks","backchannel_logout_supported":true}}"#
        );
        let provider = ProviderMetadata::from_json(ISSUER, document.as_bytes()).unwrap();
        let validator = LogoutTokenValidator::builder()
            .provider(&provider)
            .client_id(CLIENT_ID)
            .build()
            .unwrap();
        let debug = format!("{validator:?}");
        assert!(debug.contains(ISSUER) && debug.contains("fetched: true"), "{debug}");
    }

    #[tokio::test]
    async fn a_zero_skew_is_exact() {
        let validator = builder().clock_skew(Duration::ZERO).build().unwrap();
        let mut claims = claims();
        claims["exp"] = serde_json::json!(NOW);
        assert_eq!(
            validator.validate(&sign(&header(), &claims)).await.unwrap_err().code(),
            "expired"
        );
        claims["exp"] = serde_json::json!(NOW + 1);
        validator.validate(&sign(&header(), &claims)).await.unwrap();
    }
}
