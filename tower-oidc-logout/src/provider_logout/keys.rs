//! The provider's signing keys: a JWK Set given at start-up or fetched from
//! its `jwks_uri`, cached for a maximum age, fetched again when it is stale or
//! a token names a key it lacks, within limits (see [`ProviderKeys`]).

use std::{
    collections::VecDeque,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
    time::Duration,
};

use jsonwebtoken::{Algorithm, DecodingKey, crypto::CryptoProvider};
use serde_json::{Map, Value};
use url::Url;

use super::LogoutTokenError;
use crate::{
    base64url,
    discovery::{Discovery, FetchError},
    error::BoxError,
    state::{Clock, now_secs},
};

/// Default [`key_max_age`](super::LogoutTokenValidatorBuilder::key_max_age):
/// a fetched key set is fetched again after an hour.
pub const DEFAULT_KEY_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Shortest key max age: the builder's least, and the floor of a
/// `Cache-Control: max-age` on the key set.
pub const MIN_KEY_MAX_AGE: Duration = Duration::from_secs(60);
/// Longest key max age the builder accepts: a key the provider removed
/// verifies no longer than this (twice this while the provider is unreachable).
pub const MAX_KEY_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Default [`unknown_kid_min_gap`](super::LogoutTokenValidatorBuilder::unknown_kid_min_gap).
pub const DEFAULT_UNKNOWN_KID_MIN_GAP: Duration = Duration::from_secs(10);
/// Longest minimum gap the builder accepts.
pub const MAX_UNKNOWN_KID_MIN_GAP: Duration = Duration::from_secs(5 * 60);
/// Default [`max_key_fetches_per_minute`](super::LogoutTokenValidatorBuilder::max_key_fetches_per_minute):
/// 60 s divided by the default gap, so that at the defaults no `kid` waits
/// longer than the gap for a fetch.
pub const DEFAULT_MAX_KEY_FETCHES_PER_MINUTE: u32 = 6;

/// Smallest RSA modulus accepted, in bytes (2048 bits, as RFC 7518 section 3.3 requires).
const MIN_RSA_MODULUS_LEN: usize = 256;

/// Every algorithm a logout token may be signed with: no `none`, no HMAC.
const RSA_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// The name of an algorithm as it appears in `alg`.
pub(crate) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // HMAC (and any later addition) is never accepted, so never named by a key.
        _ => "unsupported",
    }
}

/// The asymmetric signature algorithm `alg` names, if it is one this crate accepts.
pub(crate) fn accepted_algorithm(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// One key usable to verify a signature, with the algorithms it allows.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    kid: Option<String>,
    /// The key's `alg` if it has one, else what its `kty` and `crv` imply.
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl VerificationKey {
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// Why no key of a set fits a token's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyMiss {
    /// No key has the token's `kid` (or, without `kid`, none allows its `alg`).
    Unknown,
    /// Without `kid`, several keys allow the token's `alg`.
    Ambiguous(usize),
    /// The key with the token's `kid` is for other algorithms.
    WrongAlgorithm { kid: String, allowed: Vec<Algorithm> },
}

/// A provider's public signing keys, read from a JWK Set document (RFC 7517 section 5).
///
/// Only keys usable to verify signatures are kept: `use` absent or `sig`,
/// `key_ops` absent or holding `verify`, and `kty` one of `EC` (P-256, P-384),
/// `RSA` (2048 bits or more) or `OKP` (Ed25519). Each key allows the
/// algorithm of its `alg` member, which must fit its type; without `alg`,
/// what its type implies: P-256 → `ES256`, P-384 → `ES384`, Ed25519 →
/// `EdDSA`, RSA → `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`.
/// Symmetric (`oct`) keys, encryption keys and keys this crate cannot use
/// are skipped, not refused: [`skipped`](Self::skipped) counts them.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
    skipped: usize,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|key| {
                let algorithms: Vec<_> =
                    key.algorithms.iter().map(|&alg| algorithm_name(alg)).collect();
                (key.kid.as_deref(), algorithms)
            })
            .collect();
        f.debug_struct("KeySet").field("keys", &keys).field("skipped", &self.skipped).finish()
    }
}

impl KeySet {
    /// Reads a JWK Set document (`{"keys":[...]}`), keeping the keys usable
    /// to verify signatures.
    ///
    /// Refused when it is not a JSON object with a `keys` array, or when no
    /// key in it is usable ([`KeySetError::NoUsableKey`]).
    pub fn from_jwks(document: &[u8]) -> Result<Self, KeySetError> {
        ensure_crypto_provider();
        let value: Value = serde_json::from_slice(document)
            .map_err(|error| KeySetError::InvalidJson { reason: error.to_string() })?;
        let Some(Value::Array(keys)) = value.get("keys") else {
            return Err(KeySetError::NoKeysArray);
        };
        let mut set = Self::default();
        for key in keys {
            match key.as_object().and_then(verification_key) {
                Some(key) => set.keys.push(key),
                None => set.skipped += 1,
            }
        }
        if set.keys.is_empty() {
            return Err(KeySetError::NoUsableKey { skipped: set.skipped });
        }
        Ok(set)
    }

    /// How many keys are usable to verify signatures.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable (only for a set not yet fetched).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys of the document were skipped as unusable for signatures.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The algorithms the key with this `kid` allows (`"ES256"`, ...), if
    /// the set holds such a key.
    pub fn algorithms(&self, kid: &str) -> Option<Vec<&'static str>> {
        let key = self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))?;
        Some(key.algorithms.iter().map(|&alg| algorithm_name(alg)).collect())
    }

    /// The key a token signed with `alg` under `kid` must be verified with.
    ///
    /// With a `kid`, the key that has it and allows `alg`. Without one, the
    /// only key allowing `alg` (OpenID Connect Core 1.0 section 10.1: with
    /// several keys, the token must name one).
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerificationKey, KeyMiss> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid));
                let first = named.clone().next().ok_or(KeyMiss::Unknown)?;
                named.find(|key| key.algorithms.contains(&alg)).ok_or_else(|| {
                    KeyMiss::WrongAlgorithm {
                        kid: kid.to_owned(),
                        allowed: first.algorithms.clone(),
                    }
                })
            }
            None => {
                let mut fitting = self.keys.iter().filter(|key| key.algorithms.contains(&alg));
                match (fitting.next(), fitting.count()) {
                    (None, _) => Err(KeyMiss::Unknown),
                    (Some(key), 0) => Ok(key),
                    (Some(_), more) => Err(KeyMiss::Ambiguous(more + 1)),
                }
            }
        }
    }
}

/// Makes sure jsonwebtoken has a backend: with both of its backends enabled in one build
/// (another crate may turn on `aws_lc_rs`), it picks none and would panic at the first
/// signature. Ours is the pure-Rust one.
pub(crate) fn ensure_crypto_provider() {
    if CryptoProvider::try_get_default().is_none() {
        // Losing a race to another installer is fine: then one is installed.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}

/// The JWK as a verification key, or `None` if it is not one this crate may use.
fn verification_key(jwk: &Map<String, Value>) -> Option<VerificationKey> {
    let text = |name: &str| match jwk.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(text.as_str())),
        Some(_) => None,
    };
    if !matches!(text("use")?, None | Some("sig")) {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array()?;
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return None;
        }
    }
    let kid = text("kid")?.map(str::to_owned);
    let stated = match text("alg")? {
        Some(alg) => Some(accepted_algorithm(alg)?),
        None => None,
    };
    let component = |name: &str, len: Option<usize>| -> Option<&str> {
        let value = text(name)??;
        let bytes = decode(value)?;
        (len.is_none_or(|len| bytes.len() == len) && !bytes.is_empty()).then_some(value)
    };
    let (implied, key): (&[Algorithm], DecodingKey) = match (text("kty")??, text("crv")?) {
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (len, implied) = if crv == "P-256" {
                (32, &[Algorithm::ES256][..])
            } else {
                (48, &[Algorithm::ES384][..])
            };
            let x = component("x", Some(len))?;
            let y = component("y", Some(len))?;
            (implied, DecodingKey::from_ec_components(x, y).ok()?)
        }
        ("RSA", _) => {
            let n = component("n", None)?;
            let modulus = decode(n)?;
            // A leading zero byte does not count towards the key's size.
            let significant = modulus.iter().skip_while(|&&byte| byte == 0).count();
            if significant < MIN_RSA_MODULUS_LEN {
                return None;
            }
            let e = component("e", None)?;
            (RSA_ALGORITHMS, DecodingKey::from_rsa_components(n, e).ok()?)
        }
        ("OKP", Some("Ed25519")) => {
            let x = component("x", Some(32))?;
            (&[Algorithm::EdDSA][..], DecodingKey::from_ed_components(x).ok()?)
        }
        _ => return None,
    };
    let algorithms = match stated {
        Some(alg) if implied.contains(&alg) => vec![alg],
        Some(_) => return None,
        None => implied.to_vec(),
    };
    // The backend parses the key now (a point on the curve, a sane modulus), not at the first token.
    let provider = CryptoProvider::try_get_default()?;
    (provider.verifier_factory)(&algorithms[0], &key).ok()?;
    Some(VerificationKey { kid, algorithms, key })
}

/// Strict base64url without padding.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = vec![0; text.len() / 4 * 3 + 3];
    let len = base64url::decode_into(text.as_bytes(), &mut out)?;
    out.truncate(len);
    Some(out)
}

/// Why a key set could not be read or fetched.
///
/// Every message says what to check. A failed fetch keeps the keys
/// already held (a stale set for at most one more key max age: see the
/// [module](super) on the provider's keys).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// The configured `jwks_uri` is not a URL the crate fetches from.
    #[error("jwks_uri `{uri}` is not usable: {reason}")]
    InvalidJwksUri {
        /// The configured value.
        uri: String,
        /// What is wrong with it and how to fix it.
        reason: &'static str,
    },
    /// The key set was fetched outside a Tokio runtime.
    #[error(
        "fetching the provider's keys needs a Tokio runtime with IO and time enabled: validate from `#[tokio::main]` or a task it runs"
    )]
    NoTokioRuntime,
    /// An extra root certificate given to the fetcher is not a DER certificate.
    #[error(
        "an extra root certificate was refused ({reason}): pass the CA certificate in DER form"
    )]
    InvalidRootCertificate {
        /// Why rustls refused it.
        reason: String,
    },
    /// The provider could not be reached (name resolution, connection, TLS, HTTP).
    #[error("could not fetch the provider's keys from `{url}`: {source}")]
    Unreachable {
        /// The `jwks_uri` (or its host, when name resolution failed).
        url: String,
        /// What failed.
        source: BoxError,
    },
    /// The provider's TLS certificate was refused.
    #[error(
        "the TLS certificate of `{url}` is not trusted ({reason}): the provider must present a valid certificate for its host name"
    )]
    UntrustedCertificate {
        /// The `jwks_uri`.
        url: String,
        /// What rustls found wrong with it.
        reason: String,
    },
    /// Connecting or fetching took longer than the fetcher allows.
    #[error("`{url}` did not answer within {timeout:?}: check the provider, or raise the timeout")]
    Timeout {
        /// The `jwks_uri`.
        url: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The provider answered with a redirect, which is not followed.
    #[error(
        "`{url}` redirects ({status}) to {location:?}: no redirect is followed; configure the `jwks_uri` of the provider's discovery document"
    )]
    Redirect {
        /// The `jwks_uri`.
        url: String,
        /// The redirect's status code.
        status: u16,
        /// Its `Location` header, if readable.
        location: Option<String>,
    },
    /// The provider answered with a status other than `200 OK`.
    #[error(
        "`{url}` answered {status} instead of 200: check the `jwks_uri` in the provider's discovery document"
    )]
    Status {
        /// The `jwks_uri`.
        url: String,
        /// The status code received.
        status: u16,
    },
    /// The key set is larger than the fetcher's size cap.
    #[error("the key set at `{url}` is larger than {limit} bytes: raise `max_document_len`")]
    TooLarge {
        /// The `jwks_uri`.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The document is not JSON.
    #[error("the key set is not valid JSON ({reason})")]
    InvalidJson {
        /// Where and why parsing failed.
        reason: String,
    },
    /// The document has no `keys` array.
    #[error("the key set is not a JWK Set: it has no `keys` array")]
    NoKeysArray,
    /// No key in the set can verify a signature.
    #[error(
        "the key set holds no key usable to verify signatures ({skipped} skipped): keys must be EC P-256/P-384, RSA of 2048 bits or more, or Ed25519, with `use` absent or `sig`"
    )]
    NoUsableKey {
        /// How many keys were skipped.
        skipped: usize,
    },
}

/// A key set as fetched, and how long the provider says it stays fresh.
pub(crate) struct FetchedKeys {
    pub(crate) set: KeySet,
    /// The `max-age` of the response's `Cache-Control`, if it states one.
    pub(crate) max_age: Option<Duration>,
}

/// Fetches the key set anew.
pub(crate) type FetchKeys = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<FetchedKeys, KeySetError>> + Send>>
        + Send
        + Sync,
>;

/// The fetch of a `jwks_uri` through the crate's one HTTP GET.
pub(crate) fn fetch_from(url: Url, fetcher: Discovery) -> FetchKeys {
    Arc::new(move || {
        let (url, fetcher) = (url.clone(), fetcher.clone());
        Box::pin(async move {
            let fetched = fetcher.get(&url).await?;
            Ok(FetchedKeys { set: KeySet::from_jwks(&fetched.body)?, max_age: fetched.max_age })
        })
    })
}

/// When fetched keys are fetched again; the builder checked each value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPolicy {
    /// How long a fetched set is used before it is fetched again (the
    /// `Cache-Control: max-age` may shorten it, down to [`MIN_KEY_MAX_AGE`]).
    pub(crate) max_age: Duration,
    /// Least time since the last fetch before a token with an unknown `kid` fetches again.
    pub(crate) unknown_kid_min_gap: Duration,
    /// Most fetches started in any 60 seconds, whatever caused them.
    pub(crate) max_fetches_per_minute: u32,
}

/// The set in use and until when it may be used.
#[derive(Clone)]
struct Held {
    set: Arc<KeySet>,
    /// Until when (seconds since the epoch) the set is fresh: past it, the
    /// next token fetches it again. `u64::MAX` for keys given at start-up,
    /// `0` before the first fetch.
    fresh_until: u64,
    /// Until when a set past `fresh_until` still verifies while fetching it
    /// again fails: `fresh_until` plus the configured maximum age.
    usable_until: u64,
}

/// The fetches started lately, for the limits on how often to fetch.
#[derive(Debug, Default)]
struct FetchLog {
    /// Start times (seconds) of the fetches of the last 60 seconds, oldest first.
    recent: VecDeque<u64>,
    /// Start time of the last fetch.
    last: Option<u64>,
    /// Why the last fetch failed, while no fetch since has succeeded.
    last_error: Option<String>,
}

impl FetchLog {
    /// Whether a fetch may start `now`: at least `gap` after the last one,
    /// and fewer than the policy's fetches in the last 60 seconds.
    fn may_fetch(&mut self, now: u64, gap: Duration, per_minute: u32) -> bool {
        // A clock set back forgets the fetches "in the future", rather than stalling.
        self.recent.retain(|&start| start <= now && now - start < 60);
        let gap_passed = self.last.is_none_or(|last| last > now || now - last >= gap.as_secs());
        gap_passed && self.recent.len() < per_minute as usize
    }

    fn start(&mut self, now: u64) {
        self.last = Some(now);
        self.recent.push_back(now);
    }
}

/// The keys in use, and the rules for fetching them again.
///
/// A fetched set is fresh for the maximum age (or the shorter
/// `Cache-Control: max-age` of its response, at least [`MIN_KEY_MAX_AGE`]);
/// the first token after that fetches it again, so a key the provider
/// removed stops verifying. While that fetch fails, the stale set keeps
/// verifying for at most one more maximum age, then tokens are refused
/// `keys_unavailable`. A token naming a `kid` the fresh set lacks fetches
/// again when the last fetch started at least the minimum gap ago. Every
/// fetch counts towards the per-minute limit.
pub(crate) struct ProviderKeys {
    current: RwLock<Held>,
    /// `None` for keys given at start-up, which are never fetched.
    fetch: Option<FetchKeys>,
    /// Held across a fetch, so that concurrent misses wait for one fetch
    /// instead of each starting one.
    log: tokio::sync::Mutex<FetchLog>,
    policy: KeyPolicy,
    clock: Clock,
}

impl fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("current", &self.snapshot())
            .field("fetched", &self.fetch.is_some())
            .field("key_max_age", &self.policy.max_age)
            .field("unknown_kid_min_gap", &self.policy.unknown_kid_min_gap)
            .field("max_fetches_per_minute", &self.policy.max_fetches_per_minute)
            .finish()
    }
}

impl ProviderKeys {
    /// Keys given at start-up (`fetch` is `None`) are fresh for ever; fetched
    /// keys start empty and stale, so the first token fetches them.
    pub(crate) fn new(
        initial: KeySet,
        fetch: Option<FetchKeys>,
        policy: KeyPolicy,
        clock: Clock,
    ) -> Self {
        let fresh_until = if fetch.is_some() { 0 } else { u64::MAX };
        Self {
            current: RwLock::new(Held {
                set: Arc::new(initial),
                fresh_until,
                usable_until: fresh_until,
            }),
            fetch,
            log: tokio::sync::Mutex::new(FetchLog::default()),
            policy,
            clock,
        }
    }

    fn held(&self) -> Held {
        // A poisoned lock still holds a whole value: writers only swap it.
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn snapshot(&self) -> Arc<KeySet> {
        self.held().set
    }

    /// Puts a set fetched at `started` in use and returns it.
    fn replace(&self, fetched: FetchedKeys, started: u64) -> Held {
        let max_age = self.policy.max_age;
        let fresh_for =
            fetched.max_age.map_or(max_age, |stated| stated.clamp(MIN_KEY_MAX_AGE, max_age));
        let fresh_until = started.saturating_add(fresh_for.as_secs());
        let held = Held {
            set: Arc::new(fetched.set),
            fresh_until,
            usable_until: fresh_until.saturating_add(max_age.as_secs()),
        };
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = held.clone();
        held
    }

    /// Fetches the key set now (waiting for a fetch under way), whatever the limits.
    pub(crate) async fn refresh(&self) -> Result<usize, KeySetError> {
        let Some(fetch) = &self.fetch else {
            return Ok(self.snapshot().len());
        };
        let mut log = self.log.lock().await;
        let now = now_secs(&self.clock);
        log.start(now);
        match fetch().await {
            Ok(fetched) => {
                log.last_error = None;
                Ok(self.replace(fetched, now).set.len())
            }
            Err(error) => {
                log.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// The set holding the key for a token with this `kid` and `alg`,
    /// fetched again first when the set held is stale or lacks the `kid`,
    /// within the limits (see [`ProviderKeys`]).
    pub(crate) async fn key_set_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<KeySet>, LogoutTokenError> {
        let held = self.held();
        let now = now_secs(&self.clock);
        let Some(fetch) = &self.fetch else {
            return answer(&held, kid, alg, now, None);
        };
        if now < held.fresh_until {
            match held.set.select(kid, alg) {
                Ok(_) => return Ok(held.set),
                // Only a missing key may be found by fetching again.
                Err(KeyMiss::Unknown) => {}
                Err(miss) => return Err(miss_error(miss, kid, alg)),
            }
        }

        let mut log = self.log.lock().await;
        let now = now_secs(&self.clock);
        // Another request may have fetched while this one waited: its answer is this one's too.
        let latest = self.held();
        if !Arc::ptr_eq(&latest.set, &held.set) {
            return answer(&latest, kid, alg, now, None);
        }
        let policy = self.policy;
        if !log.may_fetch(now, policy.unknown_kid_min_gap, policy.max_fetches_per_minute) {
            // Within the limits' wait, the keys held answer; past their use, the last failure does.
            let unavailable = log.last_error.as_deref().filter(|_| now >= held.usable_until);
            return answer(&held, kid, alg, now, unavailable);
        }
        log.start(now);
        match fetch().await {
            Ok(fetched) => {
                log.last_error = None;
                let latest = self.replace(fetched, now);
                answer(&latest, kid, alg, now, None)
            }
            Err(error) => {
                let reason = error.to_string();
                let result = answer(&held, kid, alg, now, Some(&reason));
                log.last_error = Some(reason);
                result
            }
        }
    }
}

/// What `held` answers for this `kid` and `alg` at `now`, without fetching.
/// `unavailable` says why the provider's keys could not be fetched, when
/// that is why a key is missing.
fn answer(
    held: &Held,
    kid: Option<&str>,
    alg: Algorithm,
    now: u64,
    unavailable: Option<&str>,
) -> Result<Arc<KeySet>, LogoutTokenError> {
    let keys_unavailable =
        |reason: &str| LogoutTokenError::KeysUnavailable { reason: reason.to_owned() };
    if now >= held.usable_until {
        // Never fetched, or stale for longer than the grace: no key verifies.
        return Err(keys_unavailable(unavailable.unwrap_or(
            "the keys held are past their maximum age and the fetch limits put off fetching them again; retry in a few seconds",
        )));
    }
    match (held.set.select(kid, alg), unavailable) {
        (Ok(_), _) => Ok(held.set.clone()),
        (Err(KeyMiss::Unknown), Some(reason)) => Err(keys_unavailable(reason)),
        (Err(miss), _) => Err(miss_error(miss, kid, alg)),
    }
}

fn miss_error(miss: KeyMiss, kid: Option<&str>, alg: Algorithm) -> LogoutTokenError {
    let alg = algorithm_name(alg);
    match miss {
        KeyMiss::Unknown => LogoutTokenError::UnknownKey {
            kid: kid.map(str::to_owned),
            detail: match kid {
                Some(_) => "no key of the provider has this `kid`",
                None => "the token names no `kid` and no key of the provider allows its `alg`",
            },
            alg,
        },
        KeyMiss::Ambiguous(_) => LogoutTokenError::UnknownKey {
            kid: None,
            detail: "the token names no `kid` and several keys of the provider allow its `alg`",
            alg,
        },
        KeyMiss::WrongAlgorithm { kid, allowed } => LogoutTokenError::AlgorithmNotAllowed {
            alg: alg.to_owned(),
            detail: format!(
                "key `{kid}` is for {}",
                allowed.iter().map(|&alg| algorithm_name(alg)).collect::<Vec<_>>().join(", ")
            ),
        },
    }
}

/// A failed fetch of the key set, in the key set's words.
impl From<FetchError> for KeySetError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::NoTokioRuntime => KeySetError::NoTokioRuntime,
            FetchError::InvalidRootCertificate { reason } => {
                KeySetError::InvalidRootCertificate { reason }
            }
            FetchError::Resolve { host, source } => {
                KeySetError::Unreachable { url: host, source: Box::new(source) }
            }
            FetchError::Connect { url, source } | FetchError::Tls { url, source } => {
                KeySetError::Unreachable { url, source: Box::new(source) }
            }
            FetchError::Http { url, source } => KeySetError::Unreachable { url, source },
            FetchError::UntrustedCertificate { url, reason } => {
                KeySetError::UntrustedCertificate { url, reason }
            }
            FetchError::ConnectTimeout { url, timeout } | FetchError::Timeout { url, timeout } => {
                KeySetError::Timeout { url, timeout }
            }
            FetchError::Redirect { url, status, location } => {
                KeySetError::Redirect { url, status, location }
            }
            FetchError::Status { url, status } => KeySetError::Status { url, status },
            FetchError::TooLarge { url, limit } => KeySetError::TooLarge { url, limit },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    };

    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use super::*;
    use crate::provider_logout::{LogoutTokenValidator, LogoutTokenValidatorBuilder, testkit::*};

    fn ec_jwk(kid: &str) -> Value {
        public_jwk(&es256(), Algorithm::ES256, kid, None)
    }

    #[test]
    fn only_keys_usable_for_signatures_are_kept() {
        let mut enc = ec_jwk("enc");
        enc["use"] = json!("enc");
        let mut ops = ec_jwk("ops");
        ops["key_ops"] = json!(["encrypt"]);
        let mut verify_ops = ec_jwk("verify-ops");
        verify_ops["key_ops"] = json!(["verify"]);
        let mut wrong_curve_alg = ec_jwk("p256-as-es384");
        wrong_curve_alg["alg"] = json!("ES384");
        let mut hmac_alg = ec_jwk("hs256");
        hmac_alg["alg"] = json!("HS256");
        let mut off_curve = ec_jwk("off-curve");
        off_curve["y"] = off_curve["x"].clone();
        let mut short_rsa = public_jwk(&rsa(), Algorithm::RS256, "rsa-1024", None);
        short_rsa["n"] = json!(crate::base64url::encode(&[0xc5; 128]));
        let mut p521 = ec_jwk("p521");
        p521["crv"] = json!("P-521");
        let document = jwks(&[
            ec_jwk("sig"),
            verify_ops,
            enc,
            ops,
            wrong_curve_alg,
            hmac_alg,
            off_curve,
            short_rsa,
            p521,
            json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "oct" }),
            json!({ "kty": "EC", "crv": "P-256", "kid": "no-coordinates" }),
            json!("not an object"),
        ]);
        let set = KeySet::from_jwks(&document).unwrap();
        assert_eq!(set.len(), 2, "{set:?}");
        assert_eq!(set.skipped(), 10);
        assert_eq!(set.algorithms("sig"), Some(vec!["ES256"]));
        assert_eq!(set.algorithms("verify-ops"), Some(vec!["ES256"]));
        assert_eq!(set.algorithms("enc"), None);
    }

    #[test]
    fn each_key_records_the_algorithms_it_allows() {
        let document = jwks(&[
            public_jwk(&es256(), Algorithm::ES256, "p256", None),
            public_jwk(&es384(), Algorithm::ES384, "p384", None),
            public_jwk(&rsa(), Algorithm::RS256, "rsa", None),
            public_jwk(&rsa(), Algorithm::RS256, "rsa-ps256", Some("PS256")),
            public_jwk(&ed25519(), Algorithm::EdDSA, "ed", None),
        ]);
        let set = KeySet::from_jwks(&document).unwrap();
        assert_eq!(set.algorithms("p256"), Some(vec!["ES256"]));
        assert_eq!(set.algorithms("p384"), Some(vec!["ES384"]));
        assert_eq!(
            set.algorithms("rsa"),
            Some(vec!["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
        );
        assert_eq!(set.algorithms("rsa-ps256"), Some(vec!["PS256"]));
        assert_eq!(set.algorithms("ed"), Some(vec!["EdDSA"]));
    }

    #[test]
    fn documents_that_are_not_key_sets_are_typed_errors() {
        assert!(matches!(KeySet::from_jwks(b"{"), Err(KeySetError::InvalidJson { .. })));
        assert!(matches!(KeySet::from_jwks(b"{\"keys\":{}}"), Err(KeySetError::NoKeysArray)));
        assert!(matches!(KeySet::from_jwks(b"[]"), Err(KeySetError::NoKeysArray)));
        assert!(matches!(
            KeySet::from_jwks(b"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}"),
            Err(KeySetError::NoUsableKey { skipped: 1 })
        ));
    }

    /// A fetch the test controls: counts calls, serves `sets` in turn (the last one again
    /// and again) with `max_age` as their `Cache-Control: max-age`, fails when the next
    /// entry is `None`, and waits for `gate` when given.
    struct FakeProvider {
        calls: AtomicUsize,
        sets: Vec<Option<Vec<u8>>>,
        max_age: Option<Duration>,
        gate: Option<Arc<tokio::sync::Semaphore>>,
    }

    impl FakeProvider {
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    fn fetching(provider: Arc<FakeProvider>) -> FetchKeys {
        Arc::new(move || {
            let provider = provider.clone();
            Box::pin(async move {
                let call = provider.calls.fetch_add(1, Ordering::SeqCst);
                if let Some(gate) = &provider.gate {
                    let _permit = gate.acquire().await.unwrap();
                }
                match &provider.sets[call.min(provider.sets.len() - 1)] {
                    Some(document) => Ok(FetchedKeys {
                        set: KeySet::from_jwks(document)?,
                        max_age: provider.max_age,
                    }),
                    None => Err(KeySetError::Status {
                        url: "https://op.example/jwks".into(),
                        status: 503,
                    }),
                }
            })
        })
    }

    fn fake(sets: Vec<Option<Vec<u8>>>) -> Arc<FakeProvider> {
        Arc::new(FakeProvider { calls: AtomicUsize::new(0), sets, max_age: None, gate: None })
    }

    /// The default minimum gap, in seconds.
    const GAP: u64 = DEFAULT_UNKNOWN_KID_MIN_GAP.as_secs();
    /// The default key max age, in seconds.
    const MAX_AGE: u64 = DEFAULT_KEY_MAX_AGE.as_secs();

    /// A validator fetching from `provider` with the default key settings,
    /// changed by `settings`, and the handle of its clock.
    fn fetching_validator_with(
        provider: &Arc<FakeProvider>,
        settings: impl FnOnce(LogoutTokenValidatorBuilder) -> LogoutTokenValidatorBuilder,
    ) -> (LogoutTokenValidator, Arc<AtomicU64>) {
        let (clock, now) = clock();
        let builder = LogoutTokenValidator::builder()
            .issuer(ISSUER)
            .client_id(CLIENT_ID)
            .fetch_keys_with(fetching(provider.clone()))
            .clock(clock);
        (settings(builder).build().unwrap(), now)
    }

    fn fetching_validator(provider: &Arc<FakeProvider>) -> (LogoutTokenValidator, Arc<AtomicU64>) {
        fetching_validator_with(provider, |builder| builder)
    }

    /// A token valid at `now` (seconds), signed by `key` under `kid`.
    fn token_at(now: u64, kid: &str, key: &jsonwebtoken::EncodingKey) -> String {
        let mut header = header();
        header["kid"] = json!(kid);
        let mut claims = claims();
        claims["iat"] = json!(now - 10);
        claims["exp"] = json!(now + 110);
        sign_as(&header, &claims, key, Algorithm::ES256)
    }

    fn token_with_kid(kid: &str) -> String {
        let mut header = header();
        header["kid"] = json!(kid);
        sign(&header, &claims())
    }

    /// The provider's set before and during a rotation: the old key, then the
    /// new one published beside it.
    fn old_only() -> Vec<u8> {
        jwks(&[ec_jwk(KID)])
    }

    fn old_and_new() -> Vec<u8> {
        jwks(&[public_jwk(&es256_other(), Algorithm::ES256, "new", None), ec_jwk(KID)])
    }

    fn new_only() -> Vec<u8> {
        jwks(&[public_jwk(&es256_other(), Algorithm::ES256, "new", None)])
    }

    #[tokio::test]
    async fn keys_are_fetched_on_first_use_and_then_cached() {
        let provider = fake(vec![Some(es256_jwks())]);
        let (validator, _) = fetching_validator(&provider);
        assert!(validator.keys().is_empty());
        for _ in 0..3 {
            validator.validate(&sign(&header(), &claims())).await.unwrap();
        }
        assert_eq!(provider.calls(), 1);
    }

    #[tokio::test]
    async fn a_rotated_key_is_found_by_refetching() {
        let provider = fake(vec![Some(old_only()), Some(old_and_new())]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        // The first fetch counts: the next may happen a gap later.
        now.fetch_add(GAP, Ordering::SeqCst);
        let token = token_at(NOW + GAP, "new", &es256_other());
        validator.validate(&token).await.unwrap();
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_gap() {
        let provider = fake(vec![Some(es256_jwks())]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        assert_eq!(provider.calls(), 1);

        // The first fetch counts: a forged kid right after it fetches nothing.
        for kid in ["forged-1", "forged-2", "forged-3"] {
            let error = validator.validate(&token_with_kid(kid)).await.unwrap_err();
            assert_eq!(error.code(), "unknown_key");
        }
        assert_eq!(provider.calls(), 1);

        now.fetch_add(GAP - 1, Ordering::SeqCst);
        let _ = validator.validate(&token_with_kid("forged-4")).await;
        assert_eq!(provider.calls(), 1);
        now.fetch_add(1, Ordering::SeqCst);
        let _ = validator.validate(&token_with_kid("forged-5")).await;
        let _ = validator.validate(&token_with_kid("forged-6")).await;
        assert_eq!(provider.calls(), 2);
    }

    /// Issue 18: one POST with a made-up `kid` used the single refetch of a
    /// 5-minute interval, so a key rotated in during it was refused for up to
    /// 5 minutes. Now it waits at most the minimum gap.
    #[tokio::test]
    async fn a_made_up_kid_delays_a_rotation_by_at_most_the_gap() {
        let provider = fake(vec![Some(old_only()), Some(old_only()), Some(old_and_new())]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        now.fetch_add(GAP, Ordering::SeqCst);
        // Anyone's forged kid: a fetch (the provider has not rotated yet).
        let error = validator.validate(&token_with_kid("made-up")).await.unwrap_err();
        assert_eq!(error.code(), "unknown_key");
        assert_eq!(provider.calls(), 2);
        // The provider rotates in a new key and signs with it at once.
        now.fetch_add(1, Ordering::SeqCst);
        let rotated = token_at(NOW + GAP + 1, "new", &es256_other());
        assert_eq!(validator.validate(&rotated).await.unwrap_err().code(), "unknown_key");
        now.fetch_add(GAP - 1, Ordering::SeqCst);
        validator.validate(&token_at(NOW + 2 * GAP, "new", &es256_other())).await.unwrap();
        assert_eq!(provider.calls(), 3);
    }

    #[tokio::test]
    async fn forged_kids_fetch_at_most_the_limit_per_minute() {
        let provider = fake(vec![Some(es256_jwks())]);
        let (validator, now) = fetching_validator_with(&provider, |builder| {
            builder.unknown_kid_min_gap(Duration::ZERO).max_key_fetches_per_minute(3)
        });
        for second in 0..60 {
            for n in 0..5 {
                let kid = format!("forged-{second}-{n}");
                assert!(validator.validate(&token_with_kid(&kid)).await.is_err());
            }
            now.fetch_add(1, Ordering::SeqCst);
        }
        // The first three, all in the first second; none for the rest of that minute.
        assert_eq!(provider.calls(), 3);
        let _ = validator.validate(&token_with_kid("forged-next-minute")).await;
        assert_eq!(provider.calls(), 4);
        // The genuine key still verifies throughout.
        let token = token_at(NOW + 60, KID, &es256());
        validator.validate(&token).await.unwrap();
    }

    #[tokio::test]
    async fn a_removed_key_stops_verifying_after_the_max_age() {
        // The provider published a new key beside the old, then removed the old one.
        let provider = fake(vec![Some(old_and_new()), Some(new_only())]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        now.fetch_add(MAX_AGE - 1, Ordering::SeqCst);
        validator.validate(&token_at(NOW + MAX_AGE - 1, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 1);

        now.fetch_add(1, Ordering::SeqCst);
        let old = token_at(NOW + MAX_AGE, KID, &es256());
        assert_eq!(validator.validate(&old).await.unwrap_err().code(), "unknown_key");
        assert_eq!(provider.calls(), 2);
        validator.validate(&token_at(NOW + MAX_AGE, "new", &es256_other())).await.unwrap();
        assert_eq!(validator.keys().len(), 1);
    }

    #[tokio::test]
    async fn the_key_max_age_is_configurable() {
        let provider = fake(vec![Some(es256_jwks())]);
        let (validator, now) = fetching_validator_with(&provider, |builder| {
            builder.key_max_age(Duration::from_secs(300))
        });
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        now.fetch_add(299, Ordering::SeqCst);
        validator.validate(&token_at(NOW + 299, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 1);
        now.fetch_add(1, Ordering::SeqCst);
        validator.validate(&token_at(NOW + 300, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 2);
    }

    /// How many fetches happen by `at` seconds after the first when the
    /// provider states `max_age` and a token comes every second.
    async fn fetches_with_cache_control(max_age: Option<Duration>, at: u64) -> usize {
        let provider = Arc::new(FakeProvider {
            calls: AtomicUsize::new(0),
            sets: vec![Some(es256_jwks())],
            max_age,
            gate: None,
        });
        let (validator, now) = fetching_validator(&provider);
        for second in 0..=at {
            now.store(NOW + second, Ordering::SeqCst);
            validator.validate(&token_at(NOW + second, KID, &es256())).await.unwrap();
        }
        provider.calls()
    }

    #[tokio::test]
    async fn cache_control_max_age_is_honoured_within_bounds() {
        let secs = Duration::from_secs;
        // Shorter than the key max age: honoured.
        assert_eq!(fetches_with_cache_control(Some(secs(120)), 119).await, 1);
        assert_eq!(fetches_with_cache_control(Some(secs(120)), 120).await, 2);
        // Below the floor (max-age=0): one minute.
        assert_eq!(fetches_with_cache_control(Some(secs(0)), 59).await, 1);
        assert_eq!(fetches_with_cache_control(Some(secs(0)), 60).await, 2);
        // Longer than the key max age, or absent: the key max age.
        let provider = Arc::new(FakeProvider {
            calls: AtomicUsize::new(0),
            sets: vec![Some(es256_jwks())],
            max_age: Some(secs(30 * 24 * 3600)),
            gate: None,
        });
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        now.fetch_add(MAX_AGE, Ordering::SeqCst);
        validator.validate(&token_at(NOW + MAX_AGE, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test]
    async fn a_stale_set_verifies_while_the_provider_is_unreachable_for_one_more_max_age() {
        let provider = fake(vec![Some(es256_jwks()), None]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();

        // Stale: the fetch fails, the stale keys still verify.
        now.fetch_add(MAX_AGE, Ordering::SeqCst);
        validator.validate(&token_at(NOW + MAX_AGE, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 2);
        // Retried no more often than the gap allows.
        validator.validate(&token_at(NOW + MAX_AGE, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 2);
        now.fetch_add(GAP, Ordering::SeqCst);
        validator.validate(&token_at(NOW + MAX_AGE + GAP, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 3);

        // One more max age: no key verifies until a fetch succeeds.
        now.store(NOW + 2 * MAX_AGE - 1, Ordering::SeqCst);
        validator.validate(&token_at(NOW + 2 * MAX_AGE - 1, KID, &es256())).await.unwrap();
        now.store(NOW + 2 * MAX_AGE, Ordering::SeqCst);
        let token = token_at(NOW + 2 * MAX_AGE, KID, &es256());
        let error = validator.validate(&token).await.unwrap_err();
        assert_eq!(error.code(), "keys_unavailable");
        assert!(error.to_string().contains("503"), "{error}");
        // Within the gap, without a fetch: still refused, with the last failure.
        let error = validator.validate(&token).await.unwrap_err();
        assert_eq!(error.code(), "keys_unavailable");
        assert!(error.to_string().contains("503"), "{error}");
    }

    #[tokio::test]
    async fn a_stale_set_is_replaced_as_soon_as_a_fetch_succeeds() {
        let provider = fake(vec![Some(old_only()), None, Some(new_only())]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        now.fetch_add(MAX_AGE, Ordering::SeqCst);
        validator.validate(&token_at(NOW + MAX_AGE, KID, &es256())).await.unwrap();
        now.fetch_add(GAP, Ordering::SeqCst);
        let old = token_at(NOW + MAX_AGE + GAP, KID, &es256());
        assert_eq!(validator.validate(&old).await.unwrap_err().code(), "unknown_key");
        assert_eq!(provider.calls(), 3);
    }

    #[test]
    fn the_key_settings_have_documented_defaults() {
        assert_eq!(DEFAULT_KEY_MAX_AGE, Duration::from_secs(3600));
        assert_eq!(DEFAULT_UNKNOWN_KID_MIN_GAP, Duration::from_secs(10));
        assert_eq!(DEFAULT_MAX_KEY_FETCHES_PER_MINUTE, 6);
        let validator = LogoutTokenValidator::builder()
            .issuer(ISSUER)
            .client_id(CLIENT_ID)
            .jwks_uri("https://op.example/jwks")
            .build()
            .unwrap();
        let debug = format!("{validator:?}");
        for field in ["key_max_age: 3600s", "unknown_kid_min_gap: 10s", "max_fetches_per_minute: 6"]
        {
            assert!(debug.contains(field), "{field}: {debug}");
        }
    }

    #[tokio::test]
    async fn a_failed_refetch_keeps_the_keys_held() {
        let provider = fake(vec![Some(es256_jwks()), None]);
        let (validator, now) = fetching_validator(&provider);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        now.fetch_add(GAP, Ordering::SeqCst);
        let error = validator.validate(&token_with_kid("new")).await.unwrap_err();
        assert_eq!(error.code(), "keys_unavailable");
        assert!(error.to_string().contains("503"), "{error}");
        assert_eq!(provider.calls(), 2);
        validator.validate(&sign(&header(), &claims())).await.unwrap();
        assert_eq!(validator.keys().len(), 1);
        // And the failed fetch counts for the gap too.
        let error = validator.validate(&token_with_kid("newer")).await.unwrap_err();
        assert_eq!(error.code(), "unknown_key");
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test]
    async fn a_first_fetch_that_fails_is_retried_after_the_gap() {
        let provider = fake(vec![None, Some(es256_jwks())]);
        let (validator, now) = fetching_validator(&provider);
        for _ in 0..2 {
            let error = validator.validate(&sign(&header(), &claims())).await.unwrap_err();
            assert_eq!(error.code(), "keys_unavailable");
        }
        assert_eq!(provider.calls(), 1);
        now.fetch_add(GAP, Ordering::SeqCst);
        validator.validate(&token_at(NOW + GAP, KID, &es256())).await.unwrap();
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let provider = Arc::new(FakeProvider {
            calls: AtomicUsize::new(0),
            sets: vec![Some(es256_jwks())],
            max_age: None,
            gate: Some(gate.clone()),
        });
        let (validator, _) = fetching_validator(&provider);
        let token = sign(&header(), &claims());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (validator, token) = (validator.clone(), token.clone());
                tokio::spawn(async move { validator.validate(&token).await })
            })
            .collect();
        // Let every task reach the fetch (or the queue behind it) before it answers.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(provider.calls(), 1);
        gate.add_permits(100);
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(provider.calls(), 1);
    }

    #[tokio::test]
    async fn given_keys_are_never_fetched() {
        let validator = validator();
        assert_eq!(validator.refresh_keys().await.unwrap(), 1);
        let error = validator.validate(&token_with_kid("other")).await.unwrap_err();
        assert_eq!(error.code(), "unknown_key");
    }

    /// Serves `routes` on an ephemeral loopback port; returns `http://127.0.0.1:<port>`.
    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        base
    }

    /// A token valid at `now` from the issuer `issuer`, signed by the test key.
    fn token_of(issuer: &str, now: u64) -> String {
        let mut claims = claims();
        claims["iss"] = json!(issuer);
        claims["iat"] = json!(now - 10);
        claims["exp"] = json!(now + 110);
        sign(&header(), &claims)
    }

    #[tokio::test]
    async fn keys_come_over_the_crates_http_get_with_its_rules() {
        use axum::{http::StatusCode, response::Redirect, routing::get};
        let document = String::from_utf8(es256_jwks()).unwrap();
        let base = serve(
            axum::Router::new()
                .route("/jwks", get(move || async move { document }))
                .route("/moved", get(|| async { Redirect::temporary("/jwks") }))
                .route("/gone", get(|| async { StatusCode::NOT_FOUND }))
                .route("/big", get(|| async { "x".repeat(4096) })),
        )
        .await;
        // A plain-http loopback jwks_uri needs a plain-http loopback issuer.
        let build = |path: &str| {
            LogoutTokenValidator::builder()
                .issuer(&base)
                .client_id(CLIENT_ID)
                .jwks_uri(format!("{base}{path}"))
                .fetcher(crate::discovery::Discovery::new().max_document_len(2048))
                .clock(clock().0)
                .build()
                .unwrap()
        };
        let validator = build("/jwks");
        validator.validate(&token_of(&base, NOW)).await.unwrap();
        assert_eq!(validator.refresh_keys().await.unwrap(), 1);

        assert!(matches!(
            build("/moved").refresh_keys().await,
            Err(KeySetError::Redirect { status: 307, .. })
        ));
        assert!(matches!(
            build("/gone").refresh_keys().await,
            Err(KeySetError::Status { status: 404, .. })
        ));
        assert!(matches!(
            build("/big").refresh_keys().await,
            Err(KeySetError::TooLarge { limit: 2048, .. })
        ));
        let error = build("/gone").validate(&token_of(&base, NOW)).await.unwrap_err();
        assert_eq!(error.code(), "keys_unavailable");
    }

    #[tokio::test]
    async fn the_key_sets_cache_control_max_age_comes_over_the_http_get() {
        use axum::{http::header::CACHE_CONTROL, routing::get};
        let document = String::from_utf8(es256_jwks()).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let base = serve(axum::Router::new().route(
            "/jwks",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let document = document.clone();
                async move { ([(CACHE_CONTROL, "public, max-age=120")], document) }
            }),
        ))
        .await;
        let (clock, now) = clock();
        let validator = LogoutTokenValidator::builder()
            .issuer(&base)
            .client_id(CLIENT_ID)
            .jwks_uri(format!("{base}/jwks"))
            .clock(clock)
            .build()
            .unwrap();
        validator.validate(&token_of(&base, NOW)).await.unwrap();
        now.store(NOW + 119, Ordering::SeqCst);
        validator.validate(&token_of(&base, NOW + 119)).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        now.store(NOW + 120, Ordering::SeqCst);
        validator.validate(&token_of(&base, NOW + 120)).await.unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }
}
