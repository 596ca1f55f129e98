//! An ES256 signing key for tests: its `kid`, its public JWK and JWK Set, and
//! compact JWS signed with it, without a running provider.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use p256::ecdsa::{
    Signature, VerifyingKey,
    signature::{Signer as _, Verifier as _},
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The one algorithm the mock signs with.
pub(crate) const ALG: &str = "ES256";

/// An ES256 (ECDSA on P-256 with SHA-256) signing key, for tests.
///
/// The key the mock provider signs its ID tokens and Logout Tokens with, and
/// the key a relying party's tests, fuzz targets and benchmarks can sign
/// with on their own, without starting a server: build it from a fixed
/// secret ([`from_secret`](Self::from_secret)) for the same key, `kid`, JWK
/// Set and signatures on every run (signatures are deterministic, RFC 6979),
/// or [`generate`](Self::generate) a new one.
///
/// Its `kid` is its RFC 7638 thumbprint unless [`with_kid`](Self::with_kid)
/// sets another. Its private half never leaves it: not in [`public_jwk`](Self::public_jwk),
/// not in `Debug`.
///
/// ```
/// use tower_oidc_logout_mock::{LogoutTokenClaims, SigningKey};
///
/// let key = SigningKey::from_secret([7; 32])?.with_kid("op-key-1");
/// let jwks = key.jwks(); // {"keys":[{"kty":"EC","crv":"P-256",..,"kid":"op-key-1"}]}
/// let token = LogoutTokenClaims::new("https://op.example", "client-1", "sid-1", "alice", 1_800_000_000)
///     .jti("jti-1") // random otherwise
///     .sign(&key);
/// assert_eq!(token, LogoutTokenClaims::new("https://op.example", "client-1", "sid-1", "alice", 1_800_000_000)
///     .jti("jti-1")
///     .sign(&SigningKey::from_secret([7; 32])?.with_kid("op-key-1")), "the same bytes every run");
/// # assert!(jwks.contains(r#""kid":"op-key-1""#));
/// # Ok::<(), tower_oidc_logout_mock::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
    kid: String,
    /// The public point's coordinates, base64url.
    x: String,
    y: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &ALG)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key whose private scalar is `secret` (big-endian), e.g. a constant
    /// in a test, so that the key, its `kid` and its signatures are the same
    /// on every run.
    ///
    /// To reuse a P-256 key kept as PKCS#8 DER (`openssl genpkey`), `secret`
    /// is the 32-byte octet string of its `ECPrivateKey` (`openssl pkey
    /// -inform DER -text` prints it as `priv:`).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidSecret`] if `secret` is zero or not below the
    /// P-256 group order (never for a small constant such as `[7; 32]`).
    pub fn from_secret(secret: [u8; 32]) -> Result<Self, KeyError> {
        let key =
            p256::ecdsa::SigningKey::from_slice(&secret).map_err(|_| KeyError::InvalidSecret)?;
        Ok(Self::from_key(key))
    }

    /// A new key from the operating system's randomness.
    ///
    /// # Errors
    ///
    /// [`KeyError::Randomness`] if the operating system has no randomness to give.
    pub fn generate() -> Result<Self, KeyError> {
        // 32 random bytes are a valid scalar but for odds of about 2^-32; retry then.
        for _ in 0..8 {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|_| KeyError::Randomness)?;
            if let Ok(key) = Self::from_secret(secret) {
                return Ok(key);
            }
        }
        Err(KeyError::Randomness)
    }

    fn from_key(key: p256::ecdsa::SigningKey) -> Self {
        // Uncompressed SEC1: 04 || x || y, 32 bytes each.
        let point = key.verifying_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..].split_at(32);
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        // RFC 7638: the required members, in lexicographic order, no spaces.
        let thumbprint = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        Self { key, kid, x, y }
    }

    /// The same key under another `kid` (in its JWK and in the header of
    /// what it signs), e.g. a fixed name a test's JWK Set uses.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// Its key ID: the RFC 7638 thumbprint of the public key (base64url
    /// SHA-256, 43 characters), or what [`with_kid`](Self::with_kid) set.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK: `kty` `EC`, `crv` `P-256`, `x`, `y`, `kid`,
    /// `alg` `ES256`, `use` `sig`; never the private `d`. A value, to put in
    /// a JWK Set of several keys or to alter (e.g. without `alg`).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
            "kid": self.kid, "alg": ALG, "use": "sig",
        })
    }

    /// The JWK Set of this key alone, `{"keys": [<public_jwk>]}`, as JSON text:
    /// what a provider with this key serves at its `jwks_uri`.
    #[must_use]
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.public_jwk()] }).to_string()
    }

    /// `header` and `claims` as a compact JWS (`header.payload.signature`),
    /// signed ES256 with this key; both exactly as given (nothing added, not
    /// even `alg` or `kid`), so any header can be tried against a verifier.
    /// [`LogoutTokenClaims::sign`](crate::LogoutTokenClaims::sign) writes
    /// the header of a Logout Token.
    #[must_use]
    pub fn sign_jws(&self, header: &Value, claims: &Value) -> String {
        compact(header, claims, |input| self.sign_es256(input))
    }

    /// The ES256 signature (`r || s`, 64 bytes) of `signing_input`.
    pub(crate) fn sign_es256(&self, signing_input: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(signing_input);
        signature.to_bytes().to_vec()
    }

    /// Whether `signature` is this key's ES256 signature of `signing_input`.
    pub(crate) fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::from_slice(signature) else {
            return false;
        };
        let verifying_key: &VerifyingKey = self.key.verifying_key();
        verifying_key.verify(signing_input, &signature).is_ok()
    }

    /// The public key as an uncompressed SEC1 point (`04 || x || y`, 65 bytes).
    pub(crate) fn public_sec1(&self) -> Vec<u8> {
        self.key.verifying_key().to_sec1_point(false).as_bytes().to_vec()
    }

    /// Another key, derived from this one and never published with it: the
    /// same for the same key, so tokens signed with it are deterministic too.
    pub(crate) fn unpublished_sibling(&self) -> Self {
        let secret = self.key.to_bytes();
        (0u8..=u8::MAX)
            .find_map(|counter| {
                let derived: [u8; 32] = Sha256::new()
                    .chain_update(b"tower-oidc-logout-mock unpublished key")
                    .chain_update(secret)
                    .chain_update([counter])
                    .finalize()
                    .into();
                Self::from_secret(derived).ok()
            })
            // 256 hashes all out of range: odds of 2^-8000; sign with this key then.
            .unwrap_or_else(|| self.clone())
    }
}

/// A [`SigningKey`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret given to [`SigningKey::from_secret`] is not a P-256 private key.
    #[error("the secret is not a P-256 private key: it must be from 1 to the group order minus 1")]
    InvalidSecret,
    /// The operating system gave no randomness to [`SigningKey::generate`].
    #[error("no randomness from the operating system to generate a signing key")]
    Randomness,
}

/// `header.payload.signature`, each part base64url without padding; `sign`
/// gets the signing input (`header.payload`) and returns the signature bytes.
pub(crate) fn compact(
    header: &Value,
    claims: &Value,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> String {
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

/// HMAC-SHA-256 of `message` keyed with `key` (RFC 2104), for forged `HS256` tokens.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; the error case cannot happen.
    Hmac::<Sha256>::new_from_slice(key)
        .map(|mac| mac.chain_update(message).finalize().into_bytes().to_vec())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_fixed_secret_is_the_same_key_and_signature_every_time() {
        let (a, b) =
            (SigningKey::from_secret([7; 32]).unwrap(), SigningKey::from_secret([7; 32]).unwrap());
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 43);
        assert_eq!(a.jwks(), b.jwks());
        let (header, claims) = (json!({"alg": "ES256"}), json!({"sub": "alice"}));
        assert_eq!(a.sign_jws(&header, &claims), b.sign_jws(&header, &claims), "RFC 6979");
        let other = SigningKey::from_secret([8; 32]).unwrap();
        assert_ne!(other.kid(), a.kid());
        assert_ne!(SigningKey::generate().unwrap().kid(), SigningKey::generate().unwrap().kid());
    }

    #[test]
    fn a_secret_outside_the_group_is_refused() {
        assert_eq!(SigningKey::from_secret([0; 32]).unwrap_err(), KeyError::InvalidSecret);
        assert_eq!(SigningKey::from_secret([0xff; 32]).unwrap_err(), KeyError::InvalidSecret);
        let mut one = [0; 32];
        one[31] = 1;
        assert!(SigningKey::from_secret(one).is_ok());
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint_unless_set() {
        let key = SigningKey::from_secret([7; 32]).unwrap();
        let jwk = key.public_jwk();
        let members = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(key.kid(), URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes())));
        let named = key.with_kid("k1");
        assert_eq!(named.kid(), "k1");
        assert_eq!(named.public_jwk()["kid"], "k1");
        assert_eq!(
            decode(named.sign_jws(&json!({"kid": "k1"}), &json!({})).split('.').next().unwrap())["kid"],
            "k1"
        );
    }

    #[test]
    fn the_jwk_is_public_only() {
        let key = SigningKey::from_secret([7; 32]).unwrap();
        let jwks: Value = serde_json::from_str(&key.jwks()).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk, &key.public_jwk());
        for (member, value) in
            [("kty", "EC"), ("crv", "P-256"), ("alg", "ES256"), ("use", "sig"), ("kid", key.kid())]
        {
            assert_eq!(jwk[member], value, "{member}");
        }
        for coordinate in ["x", "y"] {
            assert_eq!(
                URL_SAFE_NO_PAD.decode(jwk[coordinate].as_str().unwrap()).unwrap().len(),
                32
            );
        }
        assert!(jwk.get("d").is_none(), "the private key must not be published");
        assert_eq!(
            format!("{key:?}"),
            format!(r#"SigningKey {{ alg: "ES256", kid: "{}", .. }}"#, key.kid())
        );
        assert_eq!(key.public_sec1().len(), 65);
    }

    #[test]
    fn sign_jws_signs_header_and_claims_as_given() {
        let key = SigningKey::from_secret([7; 32]).unwrap();
        let header = json!({"alg": "HS256", "crit": ["x"]});
        let token = key.sign_jws(&header, &json!(["not", "an", "object"]));
        let (input, signature) = token.rsplit_once('.').unwrap();
        assert_eq!(decode(input.split('.').next().unwrap()), header, "nothing added");
        assert!(key.verifies(input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap()));
        assert!(
            !SigningKey::from_secret([8; 32])
                .unwrap()
                .verifies(input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap())
        );
    }

    #[test]
    fn the_unpublished_sibling_is_another_fixed_key() {
        let key = SigningKey::from_secret([7; 32]).unwrap();
        let sibling = key.unpublished_sibling();
        assert_ne!(sibling.kid(), key.kid());
        assert_eq!(sibling.kid(), key.unpublished_sibling().kid());
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231, test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
