//! Logout Tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): the
//! ones the mock sends, and forged ones for a relying party's negative tests.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use serde_json::{Map, Value, json};

use crate::{
    jws::{ALG, Key, Signer, compact, hmac_sha256},
    random::random_hex,
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
    /// ES256 with the provider's current key, its `kid` in the header.
    ProviderKey,
    /// ES256 with a key generated for this token and never published.
    UnpublishedKey,
    /// `alg: none` and an empty signature.
    Unsigned,
    /// `HS256` keyed with these bytes.
    Hmac(Vec<u8>),
    /// `HS256` keyed with the provider's public key (uncompressed SEC1 point).
    HmacWithPublicKey,
}

/// The claims and header of a Logout Token, to sign with
/// [`MockProvider::logout_token`](crate::MockProvider::logout_token).
///
/// [`MockProvider::logout_token_claims`](crate::MockProvider::logout_token_claims)
/// starts from a valid token, exactly what the mock sends: header `alg`
/// `ES256`, `typ` [`LOGOUT_TOKEN_TYPE`], `kid` of the current key; claims
/// `iss`, `aud` (the client ID), `iat` (now, by the provider's clock), `exp`
/// (`iat` + [`LOGOUT_TOKEN_LIFETIME`]), `jti` (random), `events`
/// (`{BACKCHANNEL_LOGOUT_EVENT: {}}`), `sid` and `sub`, and no `nonce`. The
/// setters below break it one way at a time, for a relying party's tests.
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
    /// A valid token for `client_id` about the session `sid` of `sub`, issued
    /// by `issuer` at `now` (seconds since the Unix epoch).
    pub(super) fn valid(issuer: &str, client_id: &str, sid: &str, sub: &str, now: u64) -> Self {
        let mut claims = Map::new();
        claims.insert("iss".into(), issuer.into());
        claims.insert("aud".into(), client_id.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(LOGOUT_TOKEN_LIFETIME.as_secs()).into());
        claims.insert("jti".into(), unique_jti().into());
        claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        claims.insert("sid".into(), sid.into());
        claims.insert("sub".into(), sub.into());
        Self { claims, header: Map::new(), signing: Signing::ProviderKey }
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

    /// Puts `kid` in the header, still signing with the provider's current
    /// key: a key ID the JWK Set does not have, for "unknown `kid` → fetch the
    /// JWKS again".
    pub fn kid(self, kid: impl Into<String>) -> Self {
        self.header("kid", kid.into())
    }

    /// `alg: none`, no `kid`, and an empty signature (the token ends with `.`).
    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::Unsigned;
        self
    }

    /// `alg: HS256` with the `kid` of the provider's key, the MAC keyed with
    /// that key's public bytes (the uncompressed SEC1 point, `04 || x || y`,
    /// 65 bytes): the key-confusion attack on a verifier that takes the
    /// algorithm from the token.
    pub fn hmac_with_public_key(mut self) -> Self {
        self.signing = Signing::HmacWithPublicKey;
        self
    }

    /// `alg: HS256` with the `kid` of the provider's key, the MAC keyed with
    /// `secret` (e.g. the JWK's JSON text, another reading of "the public key").
    pub fn hmac_with_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.signing = Signing::Hmac(secret.into());
        self
    }

    /// Signed (ES256) with a new key that is not in the JWK Set, under that
    /// key's own `kid`.
    pub fn signed_with_unpublished_key(mut self) -> Self {
        self.signing = Signing::UnpublishedKey;
        self
    }

    /// The claim `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// The compact JWS, signed as set; the provider's keys come from `signer`.
    pub(super) fn sign(&self, signer: &Signer) -> String {
        let current = signer.current();
        let (alg, kid) = match &self.signing {
            Signing::Unsigned => ("none", None),
            Signing::Hmac(_) | Signing::HmacWithPublicKey => ("HS256", Some(current.kid())),
            Signing::ProviderKey => (ALG, Some(current.kid())),
            Signing::UnpublishedKey => (ALG, None),
        };
        let unpublished = match self.signing {
            // No randomness: fall back to the provider's key under a kid it does not publish.
            Signing::UnpublishedKey => Key::generate(),
            _ => None,
        };
        let mut header = Map::new();
        header.insert("alg".into(), alg.into());
        header.insert("typ".into(), LOGOUT_TOKEN_TYPE.into());
        match (&unpublished, kid) {
            (Some(key), _) => header.insert("kid".into(), key.kid().into()),
            (None, Some(kid)) => header.insert("kid".into(), kid.into()),
            (None, None) if self.signing == Signing::UnpublishedKey => {
                header.insert("kid".into(), "unpublished".into())
            }
            (None, None) => None,
        };
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
            Signing::HmacWithPublicKey => hmac_sha256(&current.public_sec1(), input),
            Signing::ProviderKey => current.sign_es256(input),
            Signing::UnpublishedKey => unpublished.as_ref().unwrap_or(&current).sign_es256(input),
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

    #[test]
    fn the_valid_token_has_every_claim_and_verifies() {
        let signer = Signer::generate().unwrap();
        let token =
            LogoutTokenClaims::valid("https://op", "rp", "s1", "alice", 1_000).sign(&signer);
        let claims = signer.verify(&token).expect("signed by the provider's key");
        assert_eq!(claims["iss"], "https://op");
        assert_eq!(claims["aud"], "rp");
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["exp"], 1_000 + LOGOUT_TOKEN_LIFETIME.as_secs());
        assert_eq!(claims["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
        assert!(claims.get("nonce").is_none());
        let header = decode(token.split('.').next().unwrap());
        assert_eq!(header, json!({"alg": "ES256", "typ": "logout+jwt", "kid": signer.kid()}));
    }

    #[test]
    fn each_jti_is_new() {
        let a = LogoutTokenClaims::valid("i", "c", "s", "u", 0);
        let b = LogoutTokenClaims::valid("i", "c", "s", "u", 0);
        assert_ne!(a.get("jti"), b.get("jti"));
    }

    #[test]
    fn forged_signings() {
        let signer = Signer::generate().unwrap();
        let valid = LogoutTokenClaims::valid("i", "c", "s", "u", 0);

        let unsigned = valid.clone().unsigned().sign(&signer);
        assert!(unsigned.ends_with('.'));
        assert_eq!(
            decode(unsigned.split('.').next().unwrap()),
            json!({"alg": "none", "typ": "logout+jwt"})
        );

        let hmac = valid.clone().hmac_with_public_key().sign(&signer);
        let (input, mac) = hmac.rsplit_once('.').unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(mac).unwrap(),
            hmac_sha256(&signer.current().public_sec1(), input.as_bytes())
        );
        assert_eq!(decode(input.split('.').next().unwrap())["alg"], "HS256");
        assert_eq!(signer.verify(&hmac), None);

        let unpublished = valid.clone().signed_with_unpublished_key().sign(&signer);
        assert_eq!(signer.verify(&unpublished), None);
        assert_ne!(decode(unpublished.split('.').next().unwrap())["kid"], signer.kid());

        let unknown_kid = valid.kid("nope").without_header("typ").sign(&signer);
        assert_eq!(
            decode(unknown_kid.split('.').next().unwrap()),
            json!({"alg": "ES256", "kid": "nope"})
        );
    }
}
