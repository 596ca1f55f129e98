//! Logout Tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): the
//! ones the mock sends, and valid or forged ones for a relying party's tests,
//! with or without a running provider.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use serde_json::{Map, Value, json};

use crate::{
    random::random_hex,
    signing_key::{ALG, SigningKey, compact, hmac_sha256},
};

/// How long a Logout Token is valid (`exp - iat`): short, as a logout
/// notification is used at once (*our choice*; Back-Channel Logout 1.0 only
/// requires `exp`).
pub const LOGOUT_TOKEN_LIFETIME: Duration = Duration::from_secs(120);

/// The `events` member of every Logout Token (Back-Channel Logout 1.0, section 2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` header of the mock's Logout Tokens (Back-Channel Logout 1.0,
/// section 2.4, which recommends explicit typing).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";

/// How a [`LogoutTokenClaims`] is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signing {
    /// ES256 with the key given to sign, its `kid` in the header.
    Key,
    /// ES256 with a key derived from the one given to sign, never published.
    UnpublishedKey,
    /// `alg: none` and an empty signature.
    Unsigned,
    /// `HS256` keyed with these bytes.
    Hmac(Vec<u8>),
    /// `HS256` keyed with the public key of the key given to sign (uncompressed SEC1 point).
    HmacWithPublicKey,
}

/// The claims and header of a Logout Token, for tests: valid, or broken one
/// way at a time.
///
/// [`new`](Self::new), or [`MockProvider::logout_token_claims`](crate::MockProvider::logout_token_claims)
/// with the provider's issuer and clock, starts from a valid token, exactly
/// what the mock sends: header `alg` `ES256`, `typ` [`LOGOUT_TOKEN_TYPE`],
/// `kid` of the signing key; claims `iss`, `aud` (the client ID), `iat`,
/// `exp` (`iat` + [`LOGOUT_TOKEN_LIFETIME`]), `jti` (128 random bits),
/// `events` (`{BACKCHANNEL_LOGOUT_EVENT: {}}`), `sid` and `sub`, and no
/// `nonce`. The setters below break it one way at a time, for a relying
/// party's negative tests. [`sign`](Self::sign) signs it with any
/// [`SigningKey`], no server needed (unit tests, fuzz seeds, benchmarks);
/// [`MockProvider::logout_token`](crate::MockProvider::logout_token) with
/// the provider's current key.
///
/// Without a server (a fixed key and `jti`: the same token every run):
///
/// ```
/// use tower_oidc_logout_mock::{LogoutTokenClaims, SigningKey};
///
/// let key = SigningKey::from_secret([1; 32])?;
/// let valid = LogoutTokenClaims::new("https://op.example", "client-1", "sid-1", "alice", 1_800_000_000)
///     .jti("jti-1");
/// let token = valid.sign(&key);
/// let jwks = key.jwks(); // the key set a validator needs for `token`
/// let other_key = valid.sign(&SigningKey::from_secret([2; 32])?); // its kid is not in `jwks`
/// let expired = valid.clone().exp(1_800_000_000 - 1).sign(&key);
/// # assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), tower_oidc_logout_mock::KeyError>(())
/// ```
///
/// With the provider's key:
///
/// ```
/// # use tower_oidc_logout_mock::MockProvider;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tower_oidc_logout_mock::MockError> {
/// # let provider = MockProvider::builder().serve("127.0.0.1:0").await?;
/// let valid = provider.logout_token_claims("web-app", "some-sid", "alice");
/// let replayable = provider.logout_token(&valid);
/// let with_nonce = provider.logout_token(&valid.clone().nonce("n-1"));
/// let unsigned = provider.logout_token(&valid.clone().unsigned());
/// let confused = provider.logout_token(&valid.clone().hmac_with_public_key());
/// let unknown_kid = provider.logout_token(&valid.clone().kid("no-such-key"));
/// let no_sid_no_sub = provider.logout_token(&valid.without("sid").without("sub"));
/// # assert!(unsigned.ends_with('.'));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LogoutTokenClaims {
    claims: Map<String, Value>,
    /// Header members set (or, as `Null`, removed) on top of the signing's own.
    header: Map<String, Value>,
    signing: Signing,
}

impl LogoutTokenClaims {
    /// A valid token of `issuer` for `client_id` about the session `sid` of
    /// `sub`, issued at `iat` (seconds since the Unix epoch), expiring
    /// [`LOGOUT_TOKEN_LIFETIME`] later. Its `jti` is new (random): set one
    /// with [`jti`](Self::jti) for the same token on every run.
    pub fn new(issuer: &str, client_id: &str, sid: &str, sub: &str, iat: u64) -> Self {
        let mut claims = Map::new();
        claims.insert("iss".into(), issuer.into());
        claims.insert("aud".into(), client_id.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), iat.saturating_add(LOGOUT_TOKEN_LIFETIME.as_secs()).into());
        claims.insert("jti".into(), unique_jti().into());
        claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        claims.insert("sid".into(), sid.into());
        claims.insert("sub".into(), sub.into());
        Self { claims, header: Map::new(), signing: Signing::Key }
    }

    /// Sets the claim `name` to `value`, replacing it: any JSON, e.g. an `aud`
    /// array, an `iat` in the future, an `events` object without the
    /// back-channel member.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes the claim `name` (e.g. `"sid"`, `"events"`, `"jti"`).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `iss`.
    pub fn iss(self, iss: impl Into<String>) -> Self {
        self.claim("iss", iss.into())
    }

    /// Sets `aud` to one client ID (use [`claim`](Self::claim) for an array).
    pub fn aud(self, aud: impl Into<String>) -> Self {
        self.claim("aud", aud.into())
    }

    /// Sets `iat`, in seconds since the Unix epoch.
    pub fn iat(self, iat: u64) -> Self {
        self.claim("iat", iat)
    }

    /// Sets `exp`, in seconds since the Unix epoch.
    pub fn exp(self, exp: u64) -> Self {
        self.claim("exp", exp)
    }

    /// Sets `jti` (e.g. to replay one a relying party has seen).
    pub fn jti(self, jti: impl Into<String>) -> Self {
        self.claim("jti", jti.into())
    }

    /// Sets `sid`.
    pub fn sid(self, sid: impl Into<String>) -> Self {
        self.claim("sid", sid.into())
    }

    /// Sets `sub`.
    #[allow(clippy::should_implement_trait, reason = "named after the claim, as the other setters")]
    pub fn sub(self, sub: impl Into<String>) -> Self {
        self.claim("sub", sub.into())
    }

    /// Adds a `nonce`, which a Logout Token must not have (section 2.4).
    pub fn nonce(self, nonce: impl Into<String>) -> Self {
        self.claim("nonce", nonce.into())
    }

    /// Sets the header member `name` (applied last: it may even replace
    /// `alg` or `kid` without changing how the token is signed).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// Removes the header member `name` (e.g. `"typ"` or `"kid"`).
    pub fn without_header(mut self, name: impl Into<String>) -> Self {
        self.header.insert(name.into(), Value::Null);
        self
    }

    /// Sets the `typ` header (the mock's is [`LOGOUT_TOKEN_TYPE`]), e.g. `"JWT"`.
    pub fn typ(self, typ: impl Into<String>) -> Self {
        self.header("typ", typ.into())
    }

    /// Puts `kid` in the header, still signing with the key given to sign
    /// (the provider's current key for [`MockProvider::logout_token`](crate::MockProvider::logout_token)):
    /// a key ID the JWK Set does not have, for "unknown `kid` → fetch the
    /// JWKS again".
    pub fn kid(self, kid: impl Into<String>) -> Self {
        self.header("kid", kid.into())
    }

    /// `alg: none`, no `kid`, and an empty signature (the token ends with `.`).
    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::Unsigned;
        self
    }

    /// `alg: HS256` with the `kid` of the key given to sign, the MAC keyed
    /// with that key's public bytes (the uncompressed SEC1 point,
    /// `04 || x || y`, 65 bytes): the key-confusion attack on a verifier that
    /// takes the algorithm from the token.
    pub fn hmac_with_public_key(mut self) -> Self {
        self.signing = Signing::HmacWithPublicKey;
        self
    }

    /// `alg: HS256` with the `kid` of the key given to sign, the MAC keyed
    /// with `secret` (e.g. the JWK's JSON text, another reading of "the
    /// public key").
    pub fn hmac_with_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.signing = Signing::Hmac(secret.into());
        self
    }

    /// Signed (ES256) with another key than the one given to sign, under
    /// that other key's own `kid`: a key the JWK Set does not have. The other
    /// key is derived from the one given, so the token is the same on every
    /// run for a [`SigningKey::from_secret`] key and a fixed `jti`.
    pub fn signed_with_unpublished_key(mut self) -> Self {
        self.signing = Signing::UnpublishedKey;
        self
    }

    /// The claim `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// The compact JWS (`header.payload.signature`), signed with `key` as
    /// set (ES256 by default; see the setters for the forged signings).
    /// The header is `alg`, `typ` [`LOGOUT_TOKEN_TYPE`] and `kid` (none when
    /// unsigned), then what [`header`](Self::header) and
    /// [`without_header`](Self::without_header) changed.
    #[must_use]
    pub fn sign(&self, key: &SigningKey) -> String {
        let unpublished =
            matches!(self.signing, Signing::UnpublishedKey).then(|| key.unpublished_sibling());
        let signer = unpublished.as_ref().unwrap_or(key);
        let mut header = Map::new();
        let alg = match self.signing {
            Signing::Unsigned => "none",
            Signing::Hmac(_) | Signing::HmacWithPublicKey => "HS256",
            Signing::Key | Signing::UnpublishedKey => ALG,
        };
        header.insert("alg".into(), alg.into());
        header.insert("typ".into(), LOGOUT_TOKEN_TYPE.into());
        if self.signing != Signing::Unsigned {
            header.insert("kid".into(), signer.kid().into());
        }
        for (name, value) in &self.header {
            match value {
                Value::Null => header.remove(name),
                value => header.insert(name.clone(), value.clone()),
            };
        }
        let (header, claims) = (Value::Object(header), Value::Object(self.claims.clone()));
        compact(&header, &claims, |input| match &self.signing {
            Signing::Unsigned => Vec::new(),
            Signing::Hmac(secret) => hmac_sha256(secret, input),
            Signing::HmacWithPublicKey => hmac_sha256(&key.public_sec1(), input),
            Signing::Key | Signing::UnpublishedKey => signer.sign_es256(input),
        })
    }
}

/// A `jti` no other token of this process has: 128 random bits, or a counter
/// if the OS has no randomness.
fn unique_jti() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    random_hex(16).unwrap_or_else(|| format!("jti-{}", COUNTER.fetch_add(1, Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// The header and claims of `token` if `key` signed it (ES256).
    fn verified(key: &SigningKey, token: &str) -> Option<(Value, Value)> {
        let (input, signature) = token.rsplit_once('.')?;
        let (header, claims) = input.split_once('.')?;
        key.verifies(input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).ok()?)
            .then(|| (decode(header), decode(claims)))
    }

    #[test]
    fn the_valid_token_has_every_claim_and_verifies() {
        let key = SigningKey::from_secret([3; 32]).unwrap();
        let token = LogoutTokenClaims::new("https://op", "rp", "s1", "alice", 1_000).sign(&key);
        let (header, claims) = verified(&key, &token).expect("signed by the key");
        assert_eq!(header, json!({"alg": "ES256", "typ": "logout+jwt", "kid": key.kid()}));
        assert_eq!(claims["iss"], "https://op");
        assert_eq!(claims["aud"], "rp");
        assert_eq!(claims["sid"], "s1");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["exp"], 1_000 + LOGOUT_TOKEN_LIFETIME.as_secs());
        assert_eq!(claims["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
        assert!(claims.get("nonce").is_none());
        assert_eq!(claims.as_object().unwrap().len(), 8);
    }

    #[test]
    fn each_jti_is_new_unless_set() {
        let a = LogoutTokenClaims::new("i", "c", "s", "u", 0);
        let b = LogoutTokenClaims::new("i", "c", "s", "u", 0);
        assert_ne!(a.get("jti"), b.get("jti"));
        let key = SigningKey::from_secret([3; 32]).unwrap();
        for signing in [
            |claims: LogoutTokenClaims| claims,
            LogoutTokenClaims::signed_with_unpublished_key,
            LogoutTokenClaims::hmac_with_public_key,
            LogoutTokenClaims::unsigned,
        ] {
            let (a, b) = (signing(a.clone().jti("j")), signing(b.clone().jti("j")));
            assert_eq!(a.sign(&key), b.sign(&key), "deterministic");
        }
    }

    #[test]
    fn forged_signings() {
        let key = SigningKey::from_secret([3; 32]).unwrap();
        let valid = LogoutTokenClaims::new("i", "c", "s", "u", 0);

        let unsigned = valid.clone().unsigned().sign(&key);
        assert!(unsigned.ends_with('.'));
        assert_eq!(
            decode(unsigned.split('.').next().unwrap()),
            json!({"alg": "none", "typ": "logout+jwt"})
        );

        let hmac = valid.clone().hmac_with_public_key().sign(&key);
        let (input, mac) = hmac.rsplit_once('.').unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(mac).unwrap(),
            hmac_sha256(&key.public_sec1(), input.as_bytes())
        );
        assert_eq!(
            decode(input.split('.').next().unwrap()),
            json!({"alg": "HS256", "typ": "logout+jwt", "kid": key.kid()})
        );
        assert_eq!(verified(&key, &hmac), None);

        let unpublished = valid.clone().signed_with_unpublished_key().sign(&key);
        assert_eq!(verified(&key, &unpublished), None);
        let sibling = key.unpublished_sibling();
        let (header, _) = verified(&sibling, &unpublished).expect("signed by the sibling");
        assert_eq!(header["kid"], sibling.kid());

        let unknown_kid = valid.kid("nope").without_header("typ").sign(&key);
        let (header, _) = verified(&key, &unknown_kid).expect("still the key's signature");
        assert_eq!(header, json!({"alg": "ES256", "kid": "nope"}));
    }
}
