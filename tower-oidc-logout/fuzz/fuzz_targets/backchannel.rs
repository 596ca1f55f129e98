//! Any method, content type and body at the Back-Channel Logout route (raw
//! bytes, or a form whose `logout_token`s are text or really signed tokens
//! spliced and mutated), and any query at the Front-Channel Logout route.
//!
//! Invariants: no panic, never a 5xx, `Cache-Control: no-cache, no-store` and
//! `Pragma: no-cache` on every answer; every back-channel refusal is a 400
//! (405 for another method than POST) with the JSON body
//! `{"error":"invalid_request","error_description":"<code>: ..."}` and a known
//! code; a 200 only for a single token that verifies under the test key with
//! the right `iss`, `aud`, `azp`, `jti` and `events` (re-checked with
//! jsonwebtoken), and it ends the app sessions it names; the same request
//! again is refused as
//! `replayed`. At the front channel, a 200 only for one `iss` (the
//! provider's) and one `sid`.

#![no_main]

use std::sync::atomic::Ordering;

use http::{Method, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use tower_oidc_logout_fuzz::{
    Answer,
    backchannel::{BACKCHANNEL, CODES, ISSUER, Input, app, verifies},
    send,
};

fn check_no_cache(answer: &Answer) {
    assert_eq!(
        answer.headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-cache, no-store"[..]),
        "{answer:?}"
    );
    assert_eq!(
        answer.headers.get(header::PRAGMA).map(|v| v.as_bytes()),
        Some(&b"no-cache"[..]),
        "{answer:?}"
    );
}

/// The refusal's code, after checking its shape.
fn refusal_code(answer: &Answer) -> String {
    assert_eq!(
        answer.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "{answer:?}"
    );
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON refusal");
    assert_eq!(json["error"], "invalid_request", "{answer:?}");
    let description = json["error_description"].as_str().expect("error_description");
    let (code, _) = description.split_once(": ").expect("`code: why`");
    assert!(CODES.contains(&code), "unknown code {code:?}: {answer:?}");
    code.to_owned()
}

fuzz_target!(|input: Input| {
    let Some((request, body)) = input.request() else {
        return;
    };
    let method = request.method().clone();
    let backchannel = request.uri().path() == BACKCHANNEL;
    let query = request.uri().query().unwrap_or_default().to_owned();
    let replay = backchannel.then(|| {
        let mut again = http::Request::new(tower_oidc_logout_fuzz::FuzzBody::from(body.clone()));
        *again.method_mut() = method.clone();
        *again.uri_mut() = request.uri().clone();
        *again.headers_mut() = request.headers().clone();
        again
    });

    let (app, ended) = app();
    let answer = send(&app, request);
    assert!(!answer.status.is_server_error(), "5xx: {answer:?}");
    check_no_cache(&answer);

    if !backchannel {
        if answer.status == StatusCode::OK {
            assert!(method == Method::GET || method == Method::HEAD, "{method}");
            let pairs: Vec<_> = url::form_urlencoded::parse(query.as_bytes()).collect();
            let iss: Vec<_> = pairs.iter().filter(|(k, _)| k == "iss").collect();
            let sid = pairs.iter().filter(|(k, _)| k == "sid").count();
            assert!(
                iss.len() == 1 && iss[0].1 == ISSUER && sid == 1,
                "front channel passed {query:?}"
            );
        } else {
            assert!(answer.status.is_client_error(), "{answer:?}");
        }
        return;
    }

    if answer.status != StatusCode::OK {
        let code = refusal_code(&answer);
        if method == Method::POST {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        } else {
            assert_eq!(
                (answer.status, code.as_str()),
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            );
        }
        assert_eq!(ended.load(Ordering::SeqCst), 0, "a refusal ended sessions");
        return;
    }
    assert!(answer.body.is_empty(), "{answer:?}");
    assert_eq!(method, Method::POST);
    let tokens: Vec<_> = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "logout_token")
        .map(|(_, value)| value.into_owned())
        .collect();
    let [token] = &tokens[..] else { panic!("passed with {} tokens", tokens.len()) };
    assert!(verifies(token), "passed a token jsonwebtoken refuses: {token}");
    assert!(ended.load(Ordering::SeqCst) > 0, "the indexed sessions were not ended");

    let again = send(&app, replay.expect("back channel"));
    check_no_cache(&again);
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "replay: {again:?}");
    assert_eq!(refusal_code(&again), "replayed");
});
