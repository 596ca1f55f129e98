//! Logout Tokens built and signed on demand, valid or broken one way at a time.

use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::support::{
    START, assert_logout_token, builder, es256_verifies, fetch_jwks, parts, sec1, verify,
};

#[tokio::test]
async fn the_logout_token_builder_produces_what_it_says() {
    let provider = builder().serve("127.0.0.1:0").await.unwrap();
    let jwks = fetch_jwks(&provider).await;
    let jwk = &jwks["keys"][0];
    let valid = provider.logout_token_claims("rp", "sid-1", "alice");
    let token = provider.logout_token(&valid);
    let baseline = assert_logout_token(&jwks, &provider, &token, "rp", "sid-1", "alice");
    let baseline = baseline.as_object().unwrap().clone();

    // Each claim setter changes that claim and nothing else (the jti aside, new per builder).
    let changed = |claims: Value| -> Map<String, Value> {
        let mut claims = claims.as_object().unwrap().clone();
        assert_eq!(claims["jti"], baseline["jti"], "the same builder, the same jti");
        claims.retain(|name, value| baseline.get(name) != Some(value));
        claims
    };
    let dropped = |claims: &Value| -> Vec<String> {
        baseline.keys().filter(|name| claims.get(name.as_str()).is_none()).cloned().collect()
    };
    for (claims, expected_changes, expected_dropped) in [
        (valid.clone().without("iss"), json!({}), vec!["iss"]),
        (valid.clone().iss("https://evil.example"), json!({"iss": "https://evil.example"}), vec![]),
        (valid.clone().aud("other"), json!({"aud": "other"}), vec![]),
        (valid.clone().claim("aud", json!(["rp", "x"])), json!({"aud": ["rp", "x"]}), vec![]),
        (valid.clone().iat(START + 3600), json!({"iat": START + 3600}), vec![]),
        (valid.clone().exp(START - 1), json!({"exp": START - 1}), vec![]),
        (valid.clone().without("exp"), json!({}), vec!["exp"]),
        (valid.clone().claim("events", json!({})), json!({"events": {}}), vec![]),
        (valid.clone().without("events"), json!({}), vec!["events"]),
        (valid.clone().sid("other-sid"), json!({"sid": "other-sid"}), vec![]),
        (valid.clone().without("sid").without("sub"), json!({}), vec!["sid", "sub"]),
        (valid.clone().sub("bob"), json!({"sub": "bob"}), vec![]),
        (valid.clone().nonce("n-1"), json!({"nonce": "n-1"}), vec![]),
    ] {
        let token = provider.logout_token(&claims);
        let (header, claims) = verify(&jwks, &token).expect("still signed by the provider");
        assert_eq!(header["typ"], "logout+jwt");
        if !expected_dropped.contains(&"jti") {
            let mut with_jti = claims.clone();
            with_jti["jti"] = baseline["jti"].clone();
            assert_eq!(Value::Object(changed(with_jti)), expected_changes, "{claims}");
        }
        assert_eq!(dropped(&claims), expected_dropped, "{claims}");
    }
    let replayed = provider.logout_token(&provider.logout_token_claims("rp", "s", "u").jti("same"));
    assert_eq!(parts(&replayed).1["jti"], "same");
    assert_ne!(
        parts(&provider.logout_token(&provider.logout_token_claims("rp", "s", "u"))).1["jti"],
        baseline["jti"],
        "each new builder has a new jti"
    );

    // typ.
    let (header, _) = verify(&jwks, &provider.logout_token(&valid.clone().typ("JWT"))).unwrap();
    assert_eq!(header["typ"], "JWT");
    let (header, _) =
        verify(&jwks, &provider.logout_token(&valid.clone().without_header("typ"))).unwrap();
    assert!(header.get("typ").is_none());

    // alg none: no kid, an empty signature.
    let unsigned = provider.logout_token(&valid.clone().unsigned());
    assert!(unsigned.ends_with('.'));
    let (header, claims, signature) = parts(&unsigned);
    assert_eq!(header, json!({"alg": "none", "typ": "logout+jwt"}));
    assert!(signature.is_empty());
    assert_eq!(claims["sid"], "sid-1");
    assert!(verify(&jwks, &unsigned).is_err());

    // Key confusion: HS256 keyed with the public key's SEC1 bytes, under the real kid.
    let confused = provider.logout_token(&valid.clone().hmac_with_public_key());
    let (header, _, mac) = parts(&confused);
    assert_eq!(header, json!({"alg": "HS256", "typ": "logout+jwt", "kid": jwk["kid"]}));
    let signed = confused.rsplit_once('.').unwrap().0;
    let mut expected = Hmac::<Sha256>::new_from_slice(&sec1(jwk)).unwrap();
    expected.update(signed.as_bytes());
    assert_eq!(mac, expected.finalize().into_bytes().to_vec());
    assert!(verify(&jwks, &confused).is_err());
    let with_secret = provider.logout_token(&valid.clone().hmac_with_secret(b"k".to_vec()));
    let mut expected = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
    expected.update(with_secret.rsplit_once('.').unwrap().0.as_bytes());
    assert_eq!(parts(&with_secret).2, expected.finalize().into_bytes().to_vec());

    // An unknown kid, signed with the published key.
    let unknown_kid = provider.logout_token(&valid.clone().kid("no-such-kid"));
    assert_eq!(parts(&unknown_kid).0["kid"], "no-such-kid");
    assert_eq!(verify(&jwks, &unknown_kid), Err("kid not in the JWKS".to_owned()));
    assert!(es256_verifies(jwk, &unknown_kid), "the signature is the provider's");

    // Another key altogether, not in the JWKS.
    let unpublished = provider.logout_token(&valid.clone().signed_with_unpublished_key());
    let (header, _, _) = parts(&unpublished);
    assert_eq!(header["alg"], "ES256");
    assert_ne!(header["kid"], jwk["kid"]);
    assert!(header["kid"].is_string());
    assert_eq!(verify(&jwks, &unpublished), Err("kid not in the JWKS".to_owned()));
    assert!(!es256_verifies(jwk, &unpublished));

    // alg in the header changed, the signature still ES256.
    let lying = provider.logout_token(&valid.header("alg", "ES512"));
    assert_eq!(parts(&lying).0["alg"], "ES512");
    assert!(es256_verifies(jwk, &lying));
}
