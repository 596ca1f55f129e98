//! `GET /.well-known/openid-configuration` and `GET /jwks`.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{Response, StatusCode},
};
use serde_json::{Value, json};

use crate::{reply, signing_key::ALG, state::Provider};

pub(super) async fn configuration(State(provider): State<Arc<Provider>>) -> Response<Body> {
    let mut document = metadata(&provider.issuer);
    let advertised = provider.advertised;
    for (name, on) in [
        ("backchannel_logout_supported", advertised.backchannel),
        ("backchannel_logout_session_supported", advertised.backchannel_session),
        ("frontchannel_logout_supported", advertised.frontchannel),
        ("frontchannel_logout_session_supported", advertised.frontchannel_session),
    ] {
        document[name] = Value::Bool(on);
    }
    if advertised.revocation {
        document["revocation_endpoint"] = format!("{}/revoke", provider.issuer).into();
        document["revocation_endpoint_auth_methods_supported"] =
            document["token_endpoint_auth_methods_supported"].clone();
    }
    reply::json(StatusCode::OK, &document)
}

pub(super) async fn jwks(State(provider): State<Arc<Provider>>) -> Response<Body> {
    let mut response = match &provider.jwks_document {
        Some(document) => reply::json_text(StatusCode::OK, document.clone()),
        None => reply::json(StatusCode::OK, &provider.keys.jwks()),
    };
    if let Ok(value) = "application/jwk-set+json".parse() {
        response.headers_mut().insert(axum::http::header::CONTENT_TYPE, value);
    }
    if let Some(max_age) = provider.jwks_max_age
        && let Ok(value) = format!("public, max-age={}", max_age.as_secs()).parse()
    {
        response.headers_mut().insert(axum::http::header::CACHE_CONTROL, value);
    }
    response
}

/// The provider metadata (OpenID Connect Discovery 1.0, section 3).
fn metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/endsession"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALG],
        "scopes_supported": ["openid", "offline_access"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_under_the_issuer() {
        let metadata = metadata("http://localhost:3001");
        assert_eq!(metadata["issuer"], "http://localhost:3001");
        for endpoint in
            ["authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"]
        {
            assert!(
                metadata[endpoint].as_str().unwrap().starts_with("http://localhost:3001/"),
                "{endpoint}"
            );
        }
    }
}
