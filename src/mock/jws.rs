//! The mock's signing key: ES256 compact JWS for its ID tokens, and its JWK Set.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::ecdsa::{
    Signature, SigningKey, VerifyingKey,
    signature::{Signer as _, Verifier as _},
};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

/// The one algorithm the mock signs with.
pub(super) const ALG: &str = "ES256";

/// A P-256 key generated at start, with its key ID.
pub(super) struct Signer {
    key: SigningKey,
    /// The RFC 7638 thumbprint of the public key (base64url SHA-256).
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Signer {
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

    /// The JWK Set with the public key.
    pub(super) fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// `claims` as a compact JWS (`header.payload.signature`).
    pub(super) fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": ALG, "typ": "JWT", "kid": self.kid });
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        token
    }

    /// The claims of `token` if this key signed it (ES256, this `kid`);
    /// nothing else (expiry, audience) is checked here.
    pub(super) fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != ALG || header.get("kid")?.as_str()? != self.kid {
            return None;
        }
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
        let signed = &token[..header_and_payload_len(token)?];
        let verifying_key: &VerifyingKey = self.key.verifying_key();
        verifying_key.verify(signed.as_bytes(), &signature).ok()?;
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

/// PKCE S256 (RFC 7636 4.6): whether `verifier` hashes to `challenge`.
pub(super) fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    constant_time_eq(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge)
}

/// Whether `a` and `b` are equal, without an early exit on the first difference
/// (client secrets; PKCE values too, though they are not secret).
pub(super) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `value` is a PKCE code verifier or S256 challenge as RFC 7636
/// allows: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(super) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
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
        let jwks = signer.jwks();
        let key = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        for (member, value) in [
            ("kty", "EC"),
            ("crv", "P-256"),
            ("alg", "ES256"),
            ("use", "sig"),
            ("kid", signer.kid()),
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
    fn secrets_compare_whole() {
        assert!(constant_time_eq("secret", "secret"));
        assert!(!constant_time_eq("secret", "secreT"));
        assert!(!constant_time_eq("secret", "secret2"));
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_pkce_value(verifier) && is_pkce_value(challenge));
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(challenge, verifier));
        assert!(!pkce_s256_matches(verifier, &challenge[1..]));
        assert!(!is_pkce_value(&verifier[1..]), "42 characters");
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", &verifier[1..])));
    }
}
