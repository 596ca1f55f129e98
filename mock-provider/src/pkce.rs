//! PKCE (RFC 7636) checks, and the constant-time comparison they and client secrets use.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

/// PKCE S256 (RFC 7636 4.6): whether `verifier` hashes to `challenge`.
pub(crate) fn s256_matches(verifier: &str, challenge: &str) -> bool {
    constant_time_eq(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge)
}

/// Whether `a` and `b` are equal, without an early exit on the first difference
/// (client secrets; PKCE values too, though they are not secret).
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `value` is a PKCE code verifier or S256 challenge as RFC 7636
/// allows: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(s256_matches(verifier, challenge));
        assert!(!s256_matches(challenge, verifier));
        assert!(!s256_matches(verifier, &challenge[1..]));
        assert!(!is_pkce_value(&verifier[1..]), "42 characters");
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", &verifier[1..])));
    }
}
