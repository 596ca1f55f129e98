//! The mock's signing keys: ES256 compact JWS for its ID and logout tokens, and its JWK Set.

use std::sync::{Arc, PoisonError, RwLock};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use p256::ecdsa::{
    Signature, SigningKey, VerifyingKey,
    signature::{Signer as _, Verifier as _},
};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

/// The one algorithm the mock signs with.
pub(super) const ALG: &str = "ES256";

/// One P-256 key with its key ID and public JWK.
pub(super) struct Key {
    key: SigningKey,
    /// The RFC 7638 thumbprint of the public key (base64url SHA-256).
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Key {
    /// A new key from the OS's randomness; `None` if it has none.
    pub(super) fn generate() -> Option<Self> {
        // A random 32-byte string is a valid scalar but for odds of about 2^-32; retry then.
        let key = (0..8).find_map(|_| {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).ok()?;
            SigningKey::from_slice(&secret).ok()
        })?;
        let point = key.verifying_key().to_sec1_point(false);
        let (x, y) = (URL_SAFE_NO_PAD.encode(point.x()?), URL_SAFE_NO_PAD.encode(point.y()?));
        // RFC 7638: the required members, in lexicographic order, no spaces.
        let thumbprint = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": ALG, "use": "sig",
        });
        Some(Self { key, kid, jwk })
    }

    pub(super) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as an uncompressed SEC1 point (`04 || x || y`, 65 bytes).
    pub(super) fn public_sec1(&self) -> Vec<u8> {
        self.key.verifying_key().to_sec1_point(false).as_bytes().to_vec()
    }

    /// The ES256 signature (`r || s`) of `signing_input`.
    pub(super) fn sign_es256(&self, signing_input: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(signing_input);
        signature.to_bytes().to_vec()
    }

    fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::from_slice(signature) else {
            return false;
        };
        let verifying_key: &VerifyingKey = self.key.verifying_key();
        verifying_key.verify(signing_input, &signature).is_ok()
    }
}

/// The current signing key and the earlier ones still published.
#[derive(Debug)]
struct Ring {
    current: Arc<Key>,
    /// Newest first; in the JWK Set after the current key.
    previous: Vec<Arc<Key>>,
}

/// The mock's keys: one signs, every published one verifies.
pub(super) struct Signer(RwLock<Ring>);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid()).finish_non_exhaustive()
    }
}

impl Signer {
    /// A new key from the OS's randomness; `None` if it has none.
    pub(super) fn generate() -> Option<Self> {
        Some(Self(RwLock::new(Ring { current: Arc::new(Key::generate()?), previous: Vec::new() })))
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        // A panic elsewhere cannot leave the ring half-written: keep serving.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key that signs now.
    pub(super) fn current(&self) -> Arc<Key> {
        self.ring().current.clone()
    }

    /// The `kid` of the key that signs now.
    pub(super) fn kid(&self) -> String {
        self.ring().current.kid.clone()
    }

    /// A new current key; the previous one stays in the JWK Set if
    /// `keep_previous`, else every earlier key leaves it. The new `kid`, or
    /// `None` (nothing changed) if the OS has no randomness.
    pub(super) fn rotate(&self, keep_previous: bool) -> Option<String> {
        let key = Arc::new(Key::generate()?);
        let kid = key.kid.clone();
        let mut ring = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let previous = std::mem::replace(&mut ring.current, key);
        if keep_previous {
            ring.previous.insert(0, previous);
        } else {
            ring.previous.clear();
        }
        Some(kid)
    }

    /// Removes every earlier key from the JWK Set (the second half of a
    /// rotation made with `rotate(true)`), so that only the current key
    /// verifies; how many were removed.
    pub(super) fn retire_previous(&self) -> usize {
        let mut ring = self.0.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut ring.previous).len()
    }

    /// The JWK Set with the public keys: the current one first.
    pub(super) fn jwks(&self) -> Value {
        let ring = self.ring();
        let keys: Vec<&Value> =
            std::iter::once(&ring.current).chain(&ring.previous).map(|key| &key.jwk).collect();
        json!({ "keys": keys })
    }

    /// `claims` as a compact JWS (`header.payload.signature`) with the current
    /// key and the header `{"alg":"ES256","typ":"JWT","kid":..}`.
    pub(super) fn sign(&self, claims: &Value) -> String {
        let key = self.current();
        let header = json!({ "alg": ALG, "typ": "JWT", "kid": key.kid });
        compact(&header, claims, |input| key.sign_es256(input))
    }

    /// The claims of `token` if a published key signed it (ES256, that key's
    /// `kid`); nothing else (expiry, audience) is checked here.
    pub(super) fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != ALG {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let key = {
            let ring = self.ring();
            std::iter::once(&ring.current).chain(&ring.previous).find(|key| key.kid == kid)?.clone()
        };
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let signed = &token[..header_and_payload_len(token)?];
        if !key.verifies(signed.as_bytes(), &signature) {
            return None;
        }
        match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
            Value::Object(claims) => Some(claims),
            _ => None,
        }
    }
}

/// `header.payload.signature`, each part base64url without padding; `sign`
/// gets the signing input (`header.payload`) and returns the signature bytes.
pub(super) fn compact(
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
pub(super) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; the error case cannot happen.
    Hmac::<Sha256>::new_from_slice(key)
        .map(|mac| mac.chain_update(message).finalize().into_bytes().to_vec())
        .unwrap_or_default()
}

/// The length of `header.payload` in a compact JWS.
fn header_and_payload_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_its_own_tokens_only() {
        let (signer, other) = (Signer::generate().unwrap(), Signer::generate().unwrap());
        assert_ne!(signer.kid(), other.kid());
        assert_eq!(signer.kid().len(), 43);
        let token = signer.sign(&json!({"sub": "alice", "n": 1}));
        let claims = signer.verify(&token).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(other.verify(&token), None, "another key's token");

        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": signer.kid()}));
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64, "r || s");

        // A changed payload, a changed header (alg none), extra or missing parts.
        let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"mallory","n":1}"#);
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"x"}"#);
        for forged in [
            format!("{}.{forged_payload}.{}", parts[0], parts[2]),
            format!("{none_header}.{}.", parts[1]),
            format!("{token}.x"),
            format!("{}.{}", parts[0], parts[1]),
            String::new(),
            "...".to_owned(),
            "é.é.é".to_owned(),
        ] {
            assert_eq!(signer.verify(&forged), None, "{forged}");
        }
    }

    #[test]
    fn the_jwks_has_the_public_key_only() {
        let signer = Signer::generate().unwrap();
        let kid = signer.kid();
        let jwks = signer.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        for (member, value) in [
            ("kty", "EC"),
            ("crv", "P-256"),
            ("alg", "ES256"),
            ("use", "sig"),
            ("kid", kid.as_str()),
        ] {
            assert_eq!(key[member], value, "{member}");
        }
        for coordinate in ["x", "y"] {
            assert_eq!(
                URL_SAFE_NO_PAD.decode(key[coordinate].as_str().unwrap()).unwrap().len(),
                32
            );
        }
        assert!(key.get("d").is_none(), "the private key must not be published");
    }

    #[test]
    fn rotation_signs_with_the_new_key_and_keeps_the_old_one_if_asked() {
        let signer = Signer::generate().unwrap();
        let first = signer.kid();
        let old_token = signer.sign(&json!({"n": 1}));
        let second = signer.rotate(true).unwrap();
        assert_ne!(first, second);
        assert_eq!(signer.kid(), second);
        let kids = |signer: &Signer| -> Vec<String> {
            signer.jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|key| key["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(kids(&signer), [second.clone(), first.clone()], "current first");
        assert!(signer.verify(&old_token).is_some(), "a published key still verifies");
        let new_token = signer.sign(&json!({"n": 2}));
        assert!(signer.verify(&new_token).is_some());

        // A real provider's rotation: the new key beside the old, the old removed later.
        let fourth = {
            let fourth = signer.rotate(true).unwrap();
            assert_eq!(kids(&signer), [fourth.clone(), second.clone(), first.clone()]);
            assert_eq!(signer.retire_previous(), 2);
            assert_eq!(signer.retire_previous(), 0);
            fourth
        };
        assert_eq!(kids(&signer), [fourth]);
        assert_eq!(signer.verify(&new_token), None, "retired");

        let third = signer.rotate(false).unwrap();
        assert_eq!(kids(&signer), [third]);
        assert_eq!(signer.verify(&old_token), None, "no longer published");
        assert_eq!(signer.verify(&new_token), None);
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231, test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(Signer::generate().unwrap().current().public_sec1().len(), 65);
    }
}
