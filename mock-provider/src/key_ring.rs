//! The mock provider's key ring: the key that signs its ID and Logout
//! Tokens, the earlier ones still published in its JWK Set, and the check of
//! the ID tokens it gets back as `id_token_hint`.

use std::sync::{Arc, PoisonError, RwLock};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::signing_key::{ALG, SigningKey};

/// The current signing key and the earlier ones still published.
#[derive(Debug)]
struct Ring {
    current: Arc<SigningKey>,
    /// Newest first; in the JWK Set after the current key.
    previous: Vec<Arc<SigningKey>>,
}

/// The mock's keys: one signs, every published one verifies.
pub(crate) struct KeyRing(RwLock<Ring>);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("kid", &self.kid()).finish_non_exhaustive()
    }
}

impl KeyRing {
    /// A ring of `key` alone.
    pub(crate) fn new(key: SigningKey) -> Self {
        Self(RwLock::new(Ring { current: Arc::new(key), previous: Vec::new() }))
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        // A panic elsewhere cannot leave the ring half-written: keep serving.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key that signs now.
    pub(crate) fn current(&self) -> Arc<SigningKey> {
        self.ring().current.clone()
    }

    /// The `kid` of the key that signs now.
    pub(crate) fn kid(&self) -> String {
        self.ring().current.kid().to_owned()
    }

    /// `key` signs from now on; the previous one stays in the JWK Set if
    /// `keep_previous`, else every earlier key leaves it. The new `kid`.
    pub(crate) fn rotate(&self, key: SigningKey, keep_previous: bool) -> String {
        let key = Arc::new(key);
        let kid = key.kid().to_owned();
        let mut ring = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let previous = std::mem::replace(&mut ring.current, key);
        if keep_previous {
            ring.previous.insert(0, previous);
        } else {
            ring.previous.clear();
        }
        kid
    }

    /// Removes every earlier key from the JWK Set (the second half of a
    /// rotation made with `rotate(true)`), so that only the current key
    /// verifies; how many were removed.
    pub(crate) fn retire_previous(&self) -> usize {
        let mut ring = self.0.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut ring.previous).len()
    }

    /// The JWK Set with the public keys: the current one first.
    pub(crate) fn jwks(&self) -> Value {
        let ring = self.ring();
        let keys: Vec<Value> = std::iter::once(&ring.current)
            .chain(&ring.previous)
            .map(|key| key.public_jwk())
            .collect();
        json!({ "keys": keys })
    }

    /// `claims` as a compact JWS (`header.payload.signature`) with the current
    /// key and the header `{"alg":"ES256","typ":"JWT","kid":..}`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let key = self.current();
        key.sign_jws(&json!({ "alg": ALG, "typ": "JWT", "kid": key.kid() }), claims)
    }

    /// The claims of `token` if a published key signed it (ES256, that key's
    /// `kid`); nothing else (expiry, audience) is checked here.
    pub(crate) fn verify(&self, token: &str) -> Option<Map<String, Value>> {
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
            std::iter::once(&ring.current)
                .chain(&ring.previous)
                .find(|key| key.kid() == kid)?
                .clone()
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

/// The length of `header.payload` in a compact JWS.
fn header_and_payload_len(token: &str) -> Option<usize> {
    token.rfind('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_its_own_tokens_only() {
        let (ring, other) = (
            KeyRing::new(SigningKey::generate().unwrap()),
            KeyRing::new(SigningKey::generate().unwrap()),
        );
        assert_ne!(ring.kid(), other.kid());
        assert_eq!(ring.kid().len(), 43);
        let token = ring.sign(&json!({"sub": "alice", "n": 1}));
        let claims = ring.verify(&token).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(other.verify(&token), None, "another key's token");

        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": ring.kid()}));
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
            assert_eq!(ring.verify(&forged), None, "{forged}");
        }
    }

    #[test]
    fn rotation_signs_with_the_new_key_and_keeps_the_old_one_if_asked() {
        let ring = KeyRing::new(SigningKey::generate().unwrap());
        let first = ring.kid();
        let old_token = ring.sign(&json!({"n": 1}));
        let second = ring.rotate(SigningKey::generate().unwrap(), true);
        assert_ne!(first, second);
        assert_eq!(ring.kid(), second);
        let kids = |ring: &KeyRing| -> Vec<String> {
            ring.jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|key| key["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(kids(&ring), [second.clone(), first.clone()], "current first");
        assert!(ring.verify(&old_token).is_some(), "a published key still verifies");
        let new_token = ring.sign(&json!({"n": 2}));
        assert!(ring.verify(&new_token).is_some());

        // A real provider's rotation: the new key beside the old, the old removed later.
        let fourth = {
            let fourth = ring.rotate(SigningKey::generate().unwrap(), true);
            assert_eq!(kids(&ring), [fourth.clone(), second.clone(), first.clone()]);
            assert_eq!(ring.retire_previous(), 2);
            assert_eq!(ring.retire_previous(), 0);
            fourth
        };
        assert_eq!(kids(&ring), [fourth]);
        assert_eq!(ring.verify(&new_token), None, "retired");

        let third = ring.rotate(SigningKey::generate().unwrap(), false);
        assert_eq!(kids(&ring), [third]);
        assert_eq!(ring.verify(&old_token), None, "no longer published");
        assert_eq!(ring.verify(&new_token), None);
    }
}
