//! The logout-token validator and its builder: the rules are in the [module docs](super).

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime},
};

use super::{
    keys::{
        DEFAULT_KEY_MAX_AGE, DEFAULT_MAX_KEY_FETCHES_PER_MINUTE, DEFAULT_UNKNOWN_KID_MIN_GAP,
        FetchKeys, KeyPolicy, KeySet, KeySetError, MAX_KEY_MAX_AGE, MAX_UNKNOWN_KID_MIN_GAP,
        MIN_KEY_MAX_AGE, ProviderKeys,
    },
    token::{ClaimRules, LogoutToken, LogoutTokenError},
};
use crate::{
    discovery::{Discovery, ProviderMetadata},
    https_url,
    state::{Clock, now_secs},
};

/// Default clock skew allowed on `iat` and `exp`.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Largest clock skew accepted by the builder.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Default [`token_max_age`](LogoutTokenValidatorBuilder::token_max_age): a
/// logout token issued more than 10 minutes ago is refused. Providers send
/// logout tokens the moment a session ends; 10 minutes leave room for their
/// retries and for slow queues, and bound how long a `jti` is remembered.
pub const DEFAULT_TOKEN_MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// Largest token max age the builder accepts.
pub const MAX_TOKEN_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Checks logout tokens of one provider for one client; cheap to clone.
///
/// Built by [`LogoutTokenValidator::builder`]. See the [module](super) for
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
            .field("token_max_age_secs", &self.inner.rules.max_age_secs)
            .field("without_exp_max_age_secs", &self.inner.rules.without_exp_max_age_secs)
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
    /// rule of section 2.6 but replay; see the [module](super).
    ///
    /// May fetch the provider's keys when those held are past their maximum
    /// age or lack the token's key (needs a Tokio runtime then), or wait for
    /// such a fetch under way; otherwise it does not wait on anything.
    pub async fn validate(&self, token: &str) -> Result<LogoutToken, LogoutTokenError> {
        let signed = super::token::parse(token)?;
        let keys = self.inner.keys.key_set_for(signed.kid.as_deref(), signed.alg).await?;
        let key = keys
            .select(signed.kid.as_deref(), signed.alg)
            .map_err(|_| LogoutTokenError::BadSignature)?;
        super::token::verify_signature(&signed, key)?;
        super::token::check_claims(&signed, &self.inner.rules, now_secs(&self.inner.clock))
    }

    /// Fetches the provider's keys now, whatever the fetch limits (it counts
    /// towards them), and returns how many are usable; keys given with
    /// [`keys`](LogoutTokenValidatorBuilder::keys) are not fetched.
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
    token_max_age: Duration,
    without_exp_max_age: Option<Duration>,
    key_max_age: Duration,
    unknown_kid_min_gap: Duration,
    max_key_fetches_per_minute: u32,
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
            token_max_age: DEFAULT_TOKEN_MAX_AGE,
            without_exp_max_age: None,
            key_max_age: DEFAULT_KEY_MAX_AGE,
            unknown_kid_min_gap: DEFAULT_UNKNOWN_KID_MIN_GAP,
            max_key_fetches_per_minute: DEFAULT_MAX_KEY_FETCHES_PER_MINUTE,
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
            .field("token_max_age", &self.token_max_age)
            .field("without_exp_max_age", &self.without_exp_max_age)
            .field("key_max_age", &self.key_max_age)
            .field("unknown_kid_min_gap", &self.unknown_kid_min_gap)
            .field("max_key_fetches_per_minute", &self.max_key_fetches_per_minute)
            .field("clock", &self.clock.as_ref().map(|_| "injected"))
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

    /// Fetch the provider's keys from this URL, on the first token and then
    /// as described in the [module](super). It must be `https`; plain `http`
    /// only on loopback and only when the issuer is plain `http` on loopback
    /// too (the rule of every provider endpoint, see [`crate::discovery`]).
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

    /// Clock difference tolerated on `iat`, `exp` and the token's age (default
    /// [`DEFAULT_CLOCK_SKEW`], at most [`MAX_CLOCK_SKEW`]).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Refuse a token issued (`iat`) longer ago than `max_age` plus the
    /// clock skew, whatever its `exp` says (default
    /// [`DEFAULT_TOKEN_MAX_AGE`], above zero and at most
    /// [`MAX_TOKEN_MAX_AGE`], whole seconds).
    ///
    /// It also bounds how long the replay check remembers a `jti`: see
    /// [`LogoutToken::remember_until`].
    pub fn token_max_age(mut self, max_age: Duration) -> Self {
        self.token_max_age = max_age;
        self
    }

    /// Accept tokens without `exp` (which Back-Channel Logout 1.0 requires,
    /// but some providers omit) when `iat` is at most `max_age` old; above
    /// zero and at most the [token max age](Self::token_max_age).
    pub fn accept_tokens_without_exp(mut self, max_age: Duration) -> Self {
        self.without_exp_max_age = Some(max_age);
        self
    }

    /// How long a fetched key set is used before it is fetched again, so that
    /// a key the provider removed stops verifying (default
    /// [`DEFAULT_KEY_MAX_AGE`], within [`MIN_KEY_MAX_AGE`] ..=
    /// [`MAX_KEY_MAX_AGE`]). A `Cache-Control: max-age` on the key set's
    /// response shortens it, never below [`MIN_KEY_MAX_AGE`]; see the
    /// [module](super) for what happens while the provider is unreachable.
    pub fn key_max_age(mut self, max_age: Duration) -> Self {
        self.key_max_age = max_age;
        self
    }

    /// Least time since the last fetch of the key set before a token naming
    /// a `kid` the set lacks fetches it again (default
    /// [`DEFAULT_UNKNOWN_KID_MIN_GAP`], at most [`MAX_UNKNOWN_KID_MIN_GAP`],
    /// whole seconds). It is how long a key the provider just rotated in may
    /// be refused at worst; zero fetches at once, within
    /// [`max_key_fetches_per_minute`](Self::max_key_fetches_per_minute).
    pub fn unknown_kid_min_gap(mut self, gap: Duration) -> Self {
        self.unknown_kid_min_gap = gap;
        self
    }

    /// Most fetches of the key set started in any 60 seconds, whatever
    /// caused them (default [`DEFAULT_MAX_KEY_FETCHES_PER_MINUTE`], at least
    /// 1), so that tokens with made-up `kid`s cannot make the app hammer the
    /// provider. [`LogoutTokenValidator::refresh_keys`] is never refused but counts.
    pub fn max_key_fetches_per_minute(mut self, fetches: u32) -> Self {
        self.max_key_fetches_per_minute = fetches;
        self
    }

    /// Where the validator reads the time (default [`SystemTime::now`]); for
    /// tests of expiry and of the key set's maximum age.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    #[cfg(test)]
    pub(crate) fn fetch_keys_with(mut self, fetch: FetchKeys) -> Self {
        self.keys = Some(KeySource::Fetch(fetch));
        self
    }

    /// Checks the settings and builds the validator; no network call.
    pub fn build(self) -> Result<LogoutTokenValidator, ValidatorConfigError> {
        let issuer = self.issuer.filter(|issuer| !issuer.is_empty());
        let issuer = issuer.ok_or(ValidatorConfigError::MissingIssuer)?;
        let client_id = self.client_id.filter(|id| !id.is_empty());
        let client_id = client_id.ok_or(ValidatorConfigError::MissingClientId)?;
        if self.clock_skew > MAX_CLOCK_SKEW {
            return Err(ValidatorConfigError::ClockSkewTooLarge(self.clock_skew));
        }
        let token_max_age = self.token_max_age;
        if token_max_age.as_secs() == 0 || token_max_age > MAX_TOKEN_MAX_AGE {
            return Err(ValidatorConfigError::TokenMaxAgeOutOfRange(token_max_age));
        }
        match self.without_exp_max_age {
            Some(max_age) if max_age.as_secs() == 0 => {
                return Err(ValidatorConfigError::ZeroMaxAge);
            }
            Some(max_age) if max_age > token_max_age => {
                return Err(ValidatorConfigError::WithoutExpMaxAgeAboveTokenMaxAge {
                    without_exp: max_age,
                    token_max_age,
                });
            }
            _ => {}
        }
        if !(MIN_KEY_MAX_AGE..=MAX_KEY_MAX_AGE).contains(&self.key_max_age) {
            return Err(ValidatorConfigError::KeyMaxAgeOutOfRange(self.key_max_age));
        }
        if self.unknown_kid_min_gap > MAX_UNKNOWN_KID_MIN_GAP {
            return Err(ValidatorConfigError::UnknownKidMinGapTooLong(self.unknown_kid_min_gap));
        }
        if self.max_key_fetches_per_minute == 0 {
            return Err(ValidatorConfigError::NoKeyFetches);
        }
        let (initial, fetch): (KeySet, Option<FetchKeys>) =
            match self.keys.ok_or(ValidatorConfigError::MissingKeys)? {
                KeySource::Given(set) => (set, None),
                KeySource::JwksUri(uri) => {
                    let url = https_url::parse_endpoint(&uri, &issuer).map_err(|reason| {
                        ValidatorConfigError::InvalidJwksUri { uri: uri.clone(), reason }
                    })?;
                    (KeySet::default(), Some(super::keys::fetch_from(url, self.fetcher)))
                }
                #[cfg(test)]
                KeySource::Fetch(fetch) => (KeySet::default(), Some(fetch)),
            };
        super::keys::ensure_crypto_provider();
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemTime::now));
        let rules = ClaimRules {
            issuer,
            client_id,
            skew_secs: self.clock_skew.as_secs(),
            max_age_secs: token_max_age.as_secs(),
            without_exp_max_age_secs: self.without_exp_max_age.map(|max_age| max_age.as_secs()),
        };
        let policy = KeyPolicy {
            max_age: self.key_max_age,
            unknown_kid_min_gap: self.unknown_kid_min_gap,
            max_fetches_per_minute: self.max_key_fetches_per_minute,
        };
        let keys = ProviderKeys::new(initial, fetch, policy, clock.clone());
        Ok(LogoutTokenValidator { inner: Arc::new(Inner { rules, keys, clock }) })
    }
}

/// A mistake in a [`LogoutTokenValidatorBuilder`], caught by `build`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorConfigError {
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
    /// `accept_tokens_without_exp` was given more than the token max age, which bounds every token.
    #[error(
        "`accept_tokens_without_exp({without_exp:?})` is longer than the token max age ({token_max_age:?}), which bounds every token: lower it, or raise `token_max_age`"
    )]
    WithoutExpMaxAgeAboveTokenMaxAge {
        /// The maximum age given to `accept_tokens_without_exp`.
        without_exp: Duration,
        /// The token max age.
        token_max_age: Duration,
    },
    /// The token max age is under a second or above [`MAX_TOKEN_MAX_AGE`].
    #[error(
        "a token max age of {0:?} is out of range: give at least 1 second and at most 1 hour (default 10 minutes)"
    )]
    TokenMaxAgeOutOfRange(Duration),
    /// The key max age is outside [`MIN_KEY_MAX_AGE`] ..= [`MAX_KEY_MAX_AGE`].
    #[error(
        "a key max age of {0:?} is out of range: give at least 1 minute (shorter would fetch the keys for nearly every token) and at most 1 day (a key the provider removed verifies that long)"
    )]
    KeyMaxAgeOutOfRange(Duration),
    /// The minimum gap for unknown `kid`s is above [`MAX_UNKNOWN_KID_MIN_GAP`].
    #[error(
        "an unknown-kid minimum gap of {0:?} is too long: at most 5 minutes, since a key the provider rotates in is refused that long (default 10 s)"
    )]
    UnknownKidMinGapTooLong(Duration),
    /// `max_key_fetches_per_minute` is zero.
    #[error(
        "`max_key_fetches_per_minute(0)` would never fetch the keys again: give at least 1 (default 6)"
    )]
    NoKeyFetches,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{LogoutTokenValidator, ValidatorConfigError};
    use crate::discovery::ProviderMetadata;
    use crate::provider_logout::testkit::*;

    fn error(builder: super::LogoutTokenValidatorBuilder) -> ValidatorConfigError {
        builder.build().expect_err("the configuration must be refused")
    }

    #[test]
    fn issuer_client_id_and_keys_are_required() {
        let keys = || super::KeySet::from_jwks(&es256_jwks()).unwrap();
        let builder = LogoutTokenValidator::builder;
        assert_eq!(
            error(builder().client_id(CLIENT_ID).keys(keys())),
            ValidatorConfigError::MissingIssuer
        );
        assert_eq!(
            error(builder().issuer("").client_id(CLIENT_ID).keys(keys())),
            ValidatorConfigError::MissingIssuer
        );
        assert_eq!(
            error(builder().issuer(ISSUER).client_id("").keys(keys())),
            ValidatorConfigError::MissingClientId
        );
        assert_eq!(
            error(builder().issuer(ISSUER).client_id(CLIENT_ID)),
            ValidatorConfigError::MissingKeys
        );
    }

    #[test]
    fn the_jwks_uri_follows_the_crates_url_rule() {
        for uri in ["http://op.example/jwks", "ftp://op.example/jwks", "/jwks"] {
            let result = error(
                LogoutTokenValidator::builder().issuer(ISSUER).client_id(CLIENT_ID).jwks_uri(uri),
            );
            assert!(matches!(result, ValidatorConfigError::InvalidJwksUri { .. }), "{uri}");
        }
        // Plain http on loopback only beside a plain-http loopback issuer.
        let local = |issuer: &str| {
            LogoutTokenValidator::builder()
                .issuer(issuer)
                .client_id(CLIENT_ID)
                .jwks_uri("http://127.0.0.1:8080/jwks")
                .build()
        };
        assert!(
            matches!(local(ISSUER), Err(ValidatorConfigError::InvalidJwksUri { .. })),
            "an https issuer's jwks_uri is https"
        );
        local("http://localhost:8080").unwrap();
    }

    #[test]
    fn key_and_token_age_settings_are_checked() {
        let secs = Duration::from_secs;
        let fetched = || {
            LogoutTokenValidator::builder()
                .issuer(ISSUER)
                .client_id(CLIENT_ID)
                .jwks_uri("https://op.example/jwks")
        };
        for bad in [secs(59), secs(86_401), Duration::ZERO] {
            assert_eq!(
                error(fetched().key_max_age(bad)),
                ValidatorConfigError::KeyMaxAgeOutOfRange(bad)
            );
        }
        fetched().key_max_age(secs(60)).build().unwrap();
        fetched().key_max_age(secs(86_400)).build().unwrap();
        assert_eq!(
            error(fetched().unknown_kid_min_gap(secs(301))),
            ValidatorConfigError::UnknownKidMinGapTooLong(secs(301))
        );
        fetched().unknown_kid_min_gap(Duration::ZERO).build().unwrap();
        assert_eq!(
            error(fetched().max_key_fetches_per_minute(0)),
            ValidatorConfigError::NoKeyFetches
        );
        for bad in [Duration::ZERO, Duration::from_millis(999), secs(3601)] {
            assert_eq!(
                error(builder().token_max_age(bad)),
                ValidatorConfigError::TokenMaxAgeOutOfRange(bad)
            );
        }
        builder().token_max_age(secs(3600)).build().unwrap();
        assert_eq!(
            error(builder().accept_tokens_without_exp(secs(601))),
            ValidatorConfigError::WithoutExpMaxAgeAboveTokenMaxAge {
                without_exp: secs(601),
                token_max_age: secs(600),
            }
        );
        builder().accept_tokens_without_exp(secs(600)).build().unwrap();
        for error in [
            ValidatorConfigError::KeyMaxAgeOutOfRange(secs(1)),
            ValidatorConfigError::UnknownKidMinGapTooLong(secs(301)),
            ValidatorConfigError::NoKeyFetches,
            ValidatorConfigError::TokenMaxAgeOutOfRange(secs(0)),
        ] {
            let message = error.to_string();
            assert!(message.contains("at least") || message.contains("at most"), "{message}");
        }
    }

    #[test]
    fn skew_and_max_age_are_bounded() {
        assert_eq!(
            error(builder().clock_skew(Duration::from_secs(301))),
            ValidatorConfigError::ClockSkewTooLarge(Duration::from_secs(301))
        );
        builder().clock_skew(Duration::from_secs(300)).build().unwrap();
        assert_eq!(
            error(builder().accept_tokens_without_exp(Duration::ZERO)),
            ValidatorConfigError::ZeroMaxAge
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
