//! A logout request with any method, headers, cookies (any bytes, real
//! state cookies among them), query and form body.
//!
//! Invariants: no panic, never a 5xx, a `code:` on every refusal and nothing
//! changed by one (no cookie set or expired); a sign-out happens only for an
//! allowed method from the app's own origin, redirects to the configured
//! provider with a fresh state whose callback then passes and hands back the
//! return target exactly as sent (and only one that stays on the site); at
//! most `MAX_PENDING_STATES` state cookies are left in the browser.

#![no_main]

use http::{HeaderValue, Method, Request, header};
use libfuzzer_sys::fuzz_target;
use tower_oidc_logout::limits::MAX_PENDING_STATES;
use tower_oidc_logout_fuzz::{
    CALLBACK_PATH, FuzzBody, Issued, app, check_answer, is_state_cookie_name,
    logout::{APP_ORIGIN, Input, encode},
    push_pair, send, sent_cookie_pairs, stays_on_site,
};

/// The same-origin rule, written out independently of the crate.
fn from_own_site(request: &Request<FuzzBody>) -> bool {
    let origin = request.headers().get(header::ORIGIN);
    let trusted = origin.is_some_and(|o| o.as_bytes().eq_ignore_ascii_case(APP_ORIGIN.as_bytes()));
    match request.headers().get("sec-fetch-site").map(HeaderValue::as_bytes) {
        Some(b"same-origin" | b"none") => true,
        Some(_) => trusted,
        None => origin.is_none() || trusted,
    }
}

fuzz_target!(|input: Input| {
    let Some(request) = input.request() else {
        return;
    };
    let allowed_method =
        request.method() == Method::POST || (input.allow_get && request.method() == Method::GET);
    let own_site = from_own_site(&request);
    let sent_state_names: Vec<Vec<u8>> = sent_cookie_pairs(request.headers())
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| is_state_cookie_name(name))
        .collect();
    let sent_targets: Vec<String> = {
        let mut sources = vec![request.uri().query().unwrap_or_default().as_bytes().to_vec()];
        let is_form = request.method() == Method::POST
            && request.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
                v.as_bytes()
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or_default()
                    .trim_ascii()
                    .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
            });
        if is_form {
            sources.push(encode(&input.body));
        }
        sources
            .iter()
            .flat_map(|source| url::form_urlencoded::parse(source).collect::<Vec<_>>())
            .filter(|(name, _)| name == "return_to")
            .map(|(_, value)| value.into_owned())
            .collect()
    };

    let app = app(input.allow_get);
    let answer = send(&app, request);
    check_answer(&answer);

    if answer.status.is_client_error() {
        assert!(answer.set_cookies().is_empty(), "a refused sign-out changes nothing: {answer:?}");
        return;
    }
    assert_eq!(answer.status, http::StatusCode::SEE_OTHER, "{answer:?}");
    assert!(allowed_method, "signed out with a method that is not allowed");
    assert!(own_site, "signed out from another site");
    assert!(sent_targets.len() <= 1, "two return targets accepted");
    let sent_target = sent_targets.first().filter(|t| !t.is_empty());
    if let Some(target) = sent_target {
        assert!(stays_on_site(target), "accepted {target:?}");
    }
    let clear = answer.headers.get("clear-site-data").map(HeaderValue::as_bytes);
    assert!(
        !clear.is_some_and(|c| c.windows(9).any(|w| w == b"\"cookies\"")),
        "Clear-Site-Data \"cookies\" would wipe the state cookie"
    );

    let removed: Vec<&str> = answer
        .set_cookies()
        .into_iter()
        .filter(|c| c.contains("Max-Age=0"))
        .filter_map(|c| c.split_once('=').map(|(name, _)| name))
        .collect();
    for session in ["__Host-session", "sid"] {
        assert!(removed.contains(&session), "{session} not expired");
    }
    let mut kept: Vec<&[u8]> = sent_state_names
        .iter()
        .map(Vec::as_slice)
        .filter(|name| !removed.iter().any(|r| r.as_bytes() == *name))
        .collect();
    kept.sort();
    kept.dedup();
    assert!(
        kept.len() < MAX_PENDING_STATES,
        "more than {MAX_PENDING_STATES} state cookies left: {:?}",
        kept.iter().map(|name| String::from_utf8_lossy(name)).collect::<Vec<_>>()
    );

    // The callback for this very sign-out passes and hands back the target.
    let issued = Issued::from_sign_out(&answer);
    let mut query = String::new();
    push_pair(&mut query, "state", &issued.state);
    let cookie = HeaderValue::from_str(&format!("{}={}", issued.cookie_name, issued.sealed))
        .expect("cookie");
    let callback = tower_oidc_logout_fuzz::request(
        Method::GET,
        CALLBACK_PATH,
        query.as_bytes(),
        vec![(header::COOKIE, cookie)],
        Vec::new(),
    )
    .expect("callback request");
    let back = send(&app, callback);
    assert!(back.reached_inner(), "own callback refused: {back:?}");
    assert_eq!(back.handed_target(), sent_target.map(String::as_str));
});
