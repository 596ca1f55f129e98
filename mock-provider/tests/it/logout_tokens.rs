//! Logout Tokens built and signed on demand, valid or broken one way at a
//! time: by a running provider, or with a [`SigningKey`] and no server.

use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tower_oidc_logout_mock::{
    BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME, LogoutTokenClaims, SigningKey,
};

use crate::support::{
    START, assert_logout_token, builder, es256_verifies, fetch_jwks, parts, sec1, verify,
};

const ISSUER: &str = "https://op.example";

fn hmac_sha256(key: &[u8], token: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(token.rsplit_once('.').unwrap().0.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn a_key_from_a_fixed_secret_signs_tokens_its_jwks_verifies_without_a_server() {
    let key = SigningKey::from_secret([1; 32]).unwrap();
    // Fixtures and fuzz seeds rely on it: the same key, kid and JWK Set every run.
    assert_eq!(key.kid(), "Nrqg3-M_Xwtx-1tbtc1J7Xul2DyeC0bUSy9u_5NSG6g");
    assert_eq!(key.jwks(), SigningKey::from_secret([1; 32]).unwrap().jwks());
    let jwks: Value = serde_json::from_str(&key.jwks()).unwrap();
    assert_eq!(jwks, json!({ "keys": [key.public_jwk()] }));

    let claims = LogoutTokenClaims::new(ISSUER, "client-1", "sid-1", "alice", START);
    let token = claims.sign(&key);
    let (header, signed) = verify(&jwks, &token).expect("verifies with the key's JWK Set");
    assert_eq!(header, json!({"alg": "ES256", "typ": "logout+jwt", "kid": key.kid()}));
    assert_eq!(signed["iss"], ISSUER);
    assert_eq!(signed["aud"], "client-1");
    assert_eq!(signed["sid"], "sid-1");
    assert_eq!(signed["sub"], "alice");
    assert_eq!(signed["iat"], START);
    assert_eq!(signed["exp"], START + LOGOUT_TOKEN_LIFETIME.as_secs());
    assert_eq!(signed["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    assert!(signed["jti"].as_str().is_some_and(|jti| jti.len() == 32));
    assert_eq!(signed.as_object().unwrap().len(), 8);
    let fixed = claims.clone().jti("jti-1");
    assert_eq!(fixed.sign(&key), fixed.sign(&SigningKey::from_secret([1; 32]).unwrap()));

    // Under a fixed kid, another key, a key not in the set, forged algorithms.
    let named = key.clone().with_kid("op-key-1");
    let named_jwks: Value = serde_json::from_str(&named.jwks()).unwrap();
    assert_eq!(named_jwks["keys"][0]["kid"], "op-key-1");
    assert_eq!(named_jwks["keys"][0]["x"], jwks["keys"][0]["x"]);
    assert!(verify(&named_jwks, &claims.sign(&named)).is_ok());
    assert_eq!(verify(&jwks, &claims.sign(&named)), Err("kid not in the JWKS".to_owned()));
    let other = SigningKey::from_secret([2; 32]).unwrap();
    assert_eq!(verify(&jwks, &claims.sign(&other)), Err("kid not in the JWKS".to_owned()));
    assert_eq!(
        verify(&jwks, &claims.clone().kid(key.kid()).sign(&other)),
        Err("bad signature".to_owned())
    );
    let unpublished = claims.clone().signed_with_unpublished_key().sign(&key);
    assert_eq!(verify(&jwks, &unpublished), Err("kid not in the JWKS".to_owned()));
    let unsigned = claims.clone().unsigned().sign(&key);
    assert_eq!(parts(&unsigned).0, json!({"alg": "none", "typ": "logout+jwt"}));
    assert!(verify(&jwks, &unsigned).is_err());
    let confused = claims.clone().hmac_with_public_key().sign(&key);
    assert_eq!(parts(&confused).0["kid"], key.kid());
    assert_eq!(parts(&confused).2, hmac_sha256(&sec1(&jwks["keys"][0]), &confused));
}

#[test]
fn sign_jws_signs_any_header_and_claims() {
    let key = SigningKey::from_secret([1; 32]).unwrap().with_kid("k");
    let header = json!({"alg": "ES256", "kid": "k", "crit": ["exp"]});
    let token = key.sign_jws(&header, &json!({"sub": "alice"}));
    let jwks: Value = serde_json::from_str(&key.jwks()).unwrap();
    let (signed_header, claims) = verify(&jwks, &token).unwrap();
    assert_eq!(signed_header, header, "exactly as given");
    assert_eq!(claims, json!({"sub": "alice"}));
}

#[tokio::test]
async fn a_provider_started_with_a_key_publishes_it_and_signs_with_it() {
    let key = SigningKey::from_secret([1; 32]).unwrap().with_kid("op-key-1");
    let provider = builder().signing_key(key.clone()).serve("127.0.0.1:0").await.unwrap();
    assert_eq!(provider.signing_key_id(), "op-key-1");
    assert_eq!(provider.jwks(), key.jwks());
    assert_eq!(fetch_jwks(&provider).await, serde_json::from_str::<Value>(&key.jwks()).unwrap());
    let claims = provider.logout_token_claims("rp", "sid-1", "alice");
    assert_eq!(provider.logout_token(&claims), claims.sign(&key), "the same key, RFC 6979");
    let by_hand = LogoutTokenClaims::new(provider.issuer(), "rp", "sid-1", "alice", START)
        .jti(claims.get("jti").unwrap().as_str().unwrap());
    assert_eq!(by_hand, claims, "what the provider builds is what `new` builds");
}

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
