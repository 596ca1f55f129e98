//! A logout request with any method, headers, cookies, query and form body.
//!
//! Invariants: no panic, never a 5xx, a `code:` on every refusal and nothing
//! changed by one (no cookie set or expired); a sign-out happens only for an
//! allowed method from the app's own origin, redirects to the configured
//! provider with a fresh state whose callback then passes and hands back the
//! return target exactly as sent (and only one that stays on the site); at
//! most `MAX_PENDING_STATES` state cookies are left in the browser.

#![no_main]

use http::{HeaderName, HeaderValue, Method, Request, header};
use libfuzzer_sys::{
    arbitrary::{self, Arbitrary},
    fuzz_target,
};
use tower_oidc_logout::MAX_PENDING_STATES;
use tower_oidc_logout_fuzz::{
    CALLBACK_PATH, CookiePart, FuzzBody, Issued, app, check_answer, cookie_headers,
    is_state_cookie_name, push_pair, request, send, sent_cookie_pairs, stays_on_site,
};

const APP_ORIGIN: &str = "https://app.example";

#[derive(Arbitrary, Debug)]
enum MethodChoice {
    Get,
    Post,
    Head,
    Put,
    Delete,
    Options,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Name {
    Origin,
    SecFetchSite,
    ContentType,
    Referer,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    AppOrigin,
    Null,
    OtherOrigin,
    SameOrigin,
    SameSite,
    CrossSite,
    None,
    Form,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Pair {
    ReturnTo(String),
    Safe(u8),
    Other(String, String),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    allow_get: bool,
    method: MethodChoice,
    headers: Vec<(Name, Value)>,
    cookies: Vec<CookiePart>,
    cookies_per_header: u8,
    query: Vec<Pair>,
    body: Vec<Pair>,
}

fn encode(pairs: &[Pair]) -> Vec<u8> {
    const SAFE: [&str; 4] = ["/", "/account?tab=1#top", "/a/b;c", "/..//x"];
    let mut text = String::new();
    let mut raw = Vec::new();
    for pair in pairs {
        match pair {
            Pair::ReturnTo(value) => push_pair(&mut text, "return_to", value),
            Pair::Safe(n) => push_pair(&mut text, "return_to", SAFE[usize::from(*n) % SAFE.len()]),
            Pair::Other(name, value) => push_pair(&mut text, name, value),
            Pair::Raw(bytes) => {
                raw.push(b'&');
                raw.extend_from_slice(bytes);
            }
        }
    }
    let mut out = text.into_bytes();
    out.extend_from_slice(&raw);
    out
}

fn header(name: &Name, value: &Value) -> Option<(HeaderName, HeaderValue)> {
    let name = match name {
        Name::Origin => header::ORIGIN,
        Name::SecFetchSite => HeaderName::from_static("sec-fetch-site"),
        Name::ContentType => header::CONTENT_TYPE,
        Name::Referer => header::REFERER,
        Name::Other(name) => HeaderName::from_bytes(name.as_bytes()).ok()?,
    };
    let value = match value {
        Value::AppOrigin => HeaderValue::from_static(APP_ORIGIN),
        Value::Null => HeaderValue::from_static("null"),
        Value::OtherOrigin => HeaderValue::from_static("https://evil.example"),
        Value::SameOrigin => HeaderValue::from_static("same-origin"),
        Value::SameSite => HeaderValue::from_static("same-site"),
        Value::CrossSite => HeaderValue::from_static("cross-site"),
        Value::None => HeaderValue::from_static("none"),
        Value::Form => HeaderValue::from_static("application/x-www-form-urlencoded"),
        Value::Raw(bytes) => HeaderValue::from_bytes(bytes).ok()?,
    };
    Some((name, value))
}

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
    let method = match &input.method {
        MethodChoice::Get => Method::GET,
        MethodChoice::Post => Method::POST,
        MethodChoice::Head => Method::HEAD,
        MethodChoice::Put => Method::PUT,
        MethodChoice::Delete => Method::DELETE,
        MethodChoice::Options => Method::OPTIONS,
        MethodChoice::Other(name) => match Method::from_bytes(name.as_bytes()) {
            Ok(method) => method,
            Err(_) => return,
        },
    };
    let mut headers: Vec<_> = input.headers.iter().filter_map(|(n, v)| header(n, v)).collect();
    headers.extend(
        cookie_headers(&input.cookies, input.cookies_per_header)
            .into_iter()
            .map(|value| (header::COOKIE, value)),
    );
    let query = encode(&input.query);
    let body = encode(&input.body);
    let Some(request) = request(method, "/logout", &query, headers, body) else {
        return;
    };
    let allowed_method =
        request.method() == Method::POST || (input.allow_get && request.method() == Method::GET);
    let own_site = from_own_site(&request);
    let sent_state_names: Vec<String> = sent_cookie_pairs(request.headers())
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
    let mut kept: Vec<&String> =
        sent_state_names.iter().filter(|name| !removed.contains(&name.as_str())).collect();
    kept.sort();
    kept.dedup();
    assert!(
        kept.len() < MAX_PENDING_STATES,
        "more than {MAX_PENDING_STATES} state cookies left: {kept:?}"
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
