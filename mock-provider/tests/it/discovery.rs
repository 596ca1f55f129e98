//! Discovery (`/.well-known/openid-configuration`) and the JWK Set (`/jwks`),
//! its cache header and key rotation.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};
use tower_oidc_logout_mock::{MockError, MockProvider, browser::CookieClient};

use crate::support::{
    Receiver, assert_logout_token, builder, client, demo_provider, fetch_jwks, json_of, parts,
    sign_in, tokens_for, verify,
};

#[tokio::test]
async fn discovery_lists_the_endpoints_and_the_logout_capabilities() {
    let provider = demo_provider().await;
    let page = CookieClient::new().get(&provider.discovery_url()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("content-type"), Some("application/json"));
    let doc = json_of(&page);
    let issuer = format!("http://{}", provider.addr());
    assert_eq!(provider.issuer(), issuer);
    assert_eq!(doc["issuer"], issuer, "exactly, no trailing slash");
    assert_eq!(doc["authorization_endpoint"], provider.authorize_url());
    assert_eq!(doc["token_endpoint"], provider.token_url());
    assert_eq!(doc["jwks_uri"], provider.jwks_url());
    assert_eq!(doc["end_session_endpoint"], provider.end_session_url());
    assert_eq!(doc["end_session_endpoint"], format!("{issuer}/endsession"));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    for flag in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(doc[flag], true, "{flag}");
    }
}

#[tokio::test]
async fn a_configured_issuer_is_the_base_of_every_endpoint_and_must_be_clean() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let provider = MockProvider::builder().issuer(issuer.clone()).serve_on(listener).await.unwrap();
    assert_eq!(provider.issuer(), issuer);
    assert_eq!(provider.end_session_url(), format!("{issuer}/endsession"));
    let page = CookieClient::new()
        .get(&format!("{}/.well-known/openid-configuration", provider.url()))
        .await;
    assert_eq!(json_of(&page)["issuer"], issuer);
    assert_eq!(json_of(&page)["jwks_uri"], format!("{issuer}/jwks"));

    for bad in
        ["http://localhost:3001/", "localhost:3001", "ftp://x", "http://x/?a=b", "http://x#f"]
    {
        let error = MockProvider::builder().issuer(bad).serve("127.0.0.1:0").await.unwrap_err();
        assert!(matches!(error, MockError::Issuer(ref issuer) if issuer == bad), "{bad}: {error}");
    }
}

#[tokio::test]
async fn jwks_serves_the_public_signing_key() {
    let provider = demo_provider().await;
    let page = CookieClient::new().get(&provider.jwks_url()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("content-type"), Some("application/jwk-set+json"));
    let jwks = json_of(&page);
    assert_eq!(jwks, serde_json::from_str::<Value>(&provider.jwks()).unwrap());
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], provider.signing_key_id());
    assert!(key["x"].is_string() && key["y"].is_string());
    assert!(key.get("d").is_none(), "no private key");
    let other = MockProvider::builder().serve("127.0.0.1:0").await.unwrap();
    assert_ne!(other.signing_key_id(), provider.signing_key_id(), "a key per instance");
}

#[tokio::test]
async fn rotated_keys_sign_from_then_on_and_the_old_one_stays_if_asked() {
    let rp = Receiver::start(200, Duration::ZERO).await;
    let provider = builder()
        .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let first = provider.signing_key_id();
    let before = provider.logout_token(&provider.logout_token_claims("a", "s", "u"));

    let second = provider.rotate_signing_key(true).unwrap();
    assert_ne!(second, first);
    assert_eq!(provider.signing_key_id(), second);
    let jwks = fetch_jwks(&provider).await;
    let kids: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert_eq!(kids, [&json!(second), &json!(first)]);
    assert!(verify(&jwks, &before).is_ok(), "the old key is still published");

    // Deliveries are signed with the new key.
    let mut browser = CookieClient::new();
    let sid = sign_in(&mut browser, &provider, "alice").await;
    tokens_for(&mut browser, &provider, "a").await;
    let ended = provider.end_sessions_of("alice").await;
    let token = &ended.backchannel[0].logout_token;
    assert_eq!(parts(token).0["kid"], second.as_str());
    assert_logout_token(&jwks, &provider, token, "a", &sid, "alice");

    let third = provider.rotate_signing_key(false).unwrap();
    let jwks = fetch_jwks(&provider).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], third.as_str());
    assert_eq!(verify(&jwks, &before), Err("kid not in the JWKS".to_owned()));
    assert_eq!(verify(&jwks, token), Err("kid not in the JWKS".to_owned()));
}

/// A rotation as a real provider makes it: the new key published beside
/// the old, which is removed later (e.g. compromised).
#[tokio::test]
async fn a_rotation_retires_the_old_key_later() {
    let provider = builder().serve("127.0.0.1:0").await.unwrap();
    let first = provider.signing_key_id();
    let old = provider.logout_token(&provider.logout_token_claims("a", "s", "u"));
    let second = provider.rotate_signing_key(true).unwrap();
    assert!(verify(&fetch_jwks(&provider).await, &old).is_ok(), "published beside the new");

    assert_eq!(provider.retire_previous_signing_keys(), 1);
    let jwks = fetch_jwks(&provider).await;
    let kids: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert_eq!(kids, [&json!(second)]);
    assert_ne!(second, first);
    assert_eq!(verify(&jwks, &old), Err("kid not in the JWKS".to_owned()));
    let new = provider.logout_token(&provider.logout_token_claims("a", "s", "u"));
    assert!(verify(&jwks, &new).is_ok());
    assert_eq!(provider.retire_previous_signing_keys(), 0);
}

#[tokio::test]
async fn the_jwks_is_no_store_unless_a_max_age_is_set() {
    let provider = builder().serve("127.0.0.1:0").await.unwrap();
    let page = CookieClient::new().get(&provider.jwks_url()).await;
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let provider =
        builder().jwks_max_age(Duration::from_secs(120)).serve("127.0.0.1:0").await.unwrap();
    let page = CookieClient::new().get(&provider.jwks_url()).await;
    assert_eq!(page.header("cache-control"), Some("public, max-age=120"));
    assert_eq!(page.header("content-type"), Some("application/jwk-set+json"));
}

#[tokio::test]
async fn each_logout_capability_can_be_left_unadvertised() {
    use tower_oidc_logout_mock::LogoutCapability as Cap;
    let cases = [
        (Cap::Backchannel, "backchannel_logout_supported"),
        (Cap::BackchannelSession, "backchannel_logout_session_supported"),
        (Cap::Frontchannel, "frontchannel_logout_supported"),
        (Cap::FrontchannelSession, "frontchannel_logout_session_supported"),
    ];
    for (capability, off) in cases {
        let provider = MockProvider::builder()
            .advertise(capability, false)
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let doc = json_of(&CookieClient::new().get(&provider.discovery_url()).await);
        for (_, flag) in cases {
            assert_eq!(doc[flag], flag != off, "{flag} with {off} off");
        }
    }
}

#[tokio::test]
async fn a_chosen_key_set_is_served_in_place_of_the_public_keys() {
    let document = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#;
    let provider =
        MockProvider::builder().jwks_document(document).serve("127.0.0.1:0").await.unwrap();
    let page = CookieClient::new().get(&provider.jwks_url()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, document);
    let default = MockProvider::builder().serve("127.0.0.1:0").await.unwrap();
    let keys = json_of(&CookieClient::new().get(&default.jwks_url()).await);
    assert_eq!(keys["keys"][0]["kty"], "EC");
}
