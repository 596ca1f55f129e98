//! A post-logout callback with any query and any cookies, through the layer.
//!
//! The fuzzer splices and mutates states the app really issued (current key,
//! previous key, expired, unknown key), so it reaches the MAC check, the
//! expiry check and the nonce match, not only the parsers; cookies may hold
//! any bytes (UTF-8 text, or bytes that are not). Invariants: no panic,
//! never a 5xx, a `code:` on every refusal; the inner service is reached
//! only with a state and its own untouched cookie, both issued by this app
//! and still valid; and a GET with one valid state and its own cookie
//! (no other cookie of that name) passes, whatever other cookies it carries.

#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use tower_oidc_logout_fuzz::{
    MAX_CALLBACK_QUERY_LEN, Seed, app, callback::Input, check_answer, issued, send,
    sent_cookie_pairs,
};

fuzz_target!(|input: Input| {
    let Some(request) = input.request() else {
        return;
    };
    let sent_query = request.uri().query().unwrap_or_default().to_owned();
    let sent_cookies = sent_cookie_pairs(request.headers());
    let is_get = request.method() == Method::GET;
    let query_pairs: Vec<_> = url::form_urlencoded::parse(sent_query.as_bytes()).collect();
    let states: Vec<_> = query_pairs
        .iter()
        .filter(|(name, _)| name == "state")
        .map(|(_, value)| value.clone().into_owned())
        .collect();
    // The cookies sent under the name of the state's cookie, if the state is
    // one of a valid seed.
    let valid_seed = match &states[..] {
        [state] => [Seed::Fresh, Seed::OtherTab, Seed::OldKey]
            .into_iter()
            .find(|seed| issued(*seed).state == *state),
        _ => None,
    };
    let must_pass = valid_seed.is_some_and(|seed| {
        let issued = issued(seed);
        let mut same_name =
            sent_cookies.iter().filter(|(name, _)| *name == issued.cookie_name.as_bytes());
        let only_own =
            same_name.next().is_some_and(|(_, value)| *value == issued.sealed.as_bytes())
                && same_name.next().is_none();
        is_get
            && only_own
            && sent_query.len() <= MAX_CALLBACK_QUERY_LEN
            && query_pairs.iter().filter(|(name, _)| name == "logout").count() <= 1
    });

    let answer = send(&app(false), request);
    check_answer(&answer);
    assert!(
        answer.reached_inner() || answer.status.is_client_error(),
        "a callback either passes or is refused: {answer:?}"
    );
    if must_pass {
        assert!(answer.reached_inner(), "a valid state and its own cookie refused: {answer:?}");
    }
    if answer.reached_inner() {
        assert!(is_get, "only GET passes");
        let [state] = &states[..] else {
            panic!("passed without exactly one state: {states:?}");
        };
        let seed = valid_seed
            .unwrap_or_else(|| panic!("passed with a state the app never issued: {state:?}"));
        let issued = issued(seed);
        assert!(
            sent_cookies.iter().any(|(name, value)| *name == issued.cookie_name.as_bytes()
                && *value == issued.sealed.as_bytes()),
            "passed without the state's own cookie"
        );
        assert!(
            answer
                .set_cookies()
                .iter()
                .any(|c| c.starts_with(&format!("{}=;", issued.cookie_name))
                    && c.contains("Max-Age=0")),
            "a used state cookie is expired"
        );
        assert!(seed.is_valid());
    }
});
