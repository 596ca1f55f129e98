//! A post-logout callback with any query and any cookies, through the layer.
//!
//! The fuzzer splices and mutates states the app really issued (current key,
//! previous key, expired, unknown key), so it reaches the MAC check, the
//! expiry check and the nonce match, not only the parsers. Invariants: no
//! panic, never a 5xx, a `code:` on every refusal, and the inner service is
//! reached only with a state and its own untouched cookie, both issued by
//! this app and still valid.

#![no_main]

use http::{Method, header::COOKIE};
use libfuzzer_sys::{
    arbitrary::{self, Arbitrary},
    fuzz_target,
};
use tower_oidc_logout_fuzz::{
    CALLBACK_PATH, CookiePart, Seed, app, check_answer, cookie_headers, issued, push_pair, request,
    send, sent_cookie_pairs,
};

#[derive(Arbitrary, Debug)]
enum QueryPart {
    State(Seed),
    EditedState { seed: Seed, at: u8, ch: u8 },
    StateText(String),
    Logout(String),
    Pair(String, String),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    not_get: Option<u8>,
    query: Vec<QueryPart>,
    cookies: Vec<CookiePart>,
    cookies_per_header: u8,
}

fuzz_target!(|input: Input| {
    let mut query = String::new();
    let mut raw = Vec::new();
    for part in &input.query {
        match part {
            QueryPart::State(seed) => push_pair(&mut query, "state", &issued(*seed).state),
            QueryPart::EditedState { seed, at, ch } => {
                let mut state = issued(*seed).state.clone().into_bytes();
                let at = usize::from(*at) % state.len();
                state[at] = *ch;
                push_pair(&mut query, "state", &String::from_utf8_lossy(&state));
            }
            QueryPart::StateText(text) => push_pair(&mut query, "state", text),
            QueryPart::Logout(text) => push_pair(&mut query, "logout", text),
            QueryPart::Pair(name, value) => push_pair(&mut query, name, value),
            QueryPart::Raw(bytes) => {
                raw.push(b'&');
                raw.extend_from_slice(bytes);
            }
        }
    }
    let mut query = query.into_bytes();
    query.extend_from_slice(&raw);

    let method = match input.not_get {
        None => Method::GET,
        Some(n) => {
            [Method::POST, Method::HEAD, Method::PUT, Method::OPTIONS][usize::from(n) % 4].clone()
        }
    };
    let headers = cookie_headers(&input.cookies, input.cookies_per_header)
        .into_iter()
        .map(|value| (COOKIE, value))
        .collect();
    let Some(request) = request(method, CALLBACK_PATH, &query, headers, Vec::new()) else {
        return;
    };
    let sent_query = request.uri().query().unwrap_or_default().to_owned();
    let sent_cookies = sent_cookie_pairs(request.headers());
    let is_get = request.method() == Method::GET;

    let answer = send(&app(false), request);
    check_answer(&answer);
    assert!(
        answer.reached_inner() || answer.status.is_client_error(),
        "a callback either passes or is refused: {answer:?}"
    );
    if answer.reached_inner() {
        assert!(is_get, "only GET passes");
        let states: Vec<_> = url::form_urlencoded::parse(sent_query.as_bytes())
            .filter(|(name, _)| name == "state")
            .map(|(_, value)| value.into_owned())
            .collect();
        let [state] = &states[..] else {
            panic!("passed without exactly one state: {states:?}");
        };
        let seed = [Seed::Fresh, Seed::OtherTab, Seed::OldKey]
            .into_iter()
            .find(|seed| issued(*seed).state == *state)
            .unwrap_or_else(|| panic!("passed with a state the app never issued: {state:?}"));
        let issued = issued(seed);
        assert!(
            sent_cookies
                .iter()
                .any(|(name, value)| *name == issued.cookie_name && *value == issued.sealed),
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
