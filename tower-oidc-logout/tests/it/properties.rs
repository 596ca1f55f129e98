//! Property tests through the public API: the sealed state round-trips and
//! refuses any alteration, the return-target validator never lets a browser
//! leave the site, and key rotation keeps logouts in flight working.

use std::{
    convert::Infallible,
    future::Future,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::{Duration, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use proptest::{prelude::*, sample::Index, test_runner::RngSeed};
use tower::{Layer, ServiceExt, service_fn};
use tower_oidc_logout::{
    LoggedOut, OidcLogoutLayer, ReturnTarget, SessionCookie, StateKey,
    limits::MAX_RETURN_TARGET_LEN,
};
use url::Url;

const KEY_A: &[u8] = b"properties key A 0123456789abcdef";
const KEY_B: &[u8] = b"properties key B fedcba9876543210";
const KEY_C: &[u8] = b"properties key C 02468ace13579bdf";
const START: u64 = 1_800_000_000;
const TTL: u64 = 300;
const APP_ORIGIN: &str = "https://app.example";
const CALLBACK: &str = "/logout/callback";

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, as the sealed cookie value is written (the
/// test's own codec: the crate's is private).
fn base64url_decode(text: &str) -> Vec<u8> {
    let sextets: Vec<u32> = text
        .bytes()
        .map(|c| BASE64URL.iter().position(|&a| a == c).expect("base64url") as u32)
        .collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let bits = chunk.iter().fold(0u32, |acc, s| acc << 6 | s) << (6 * (4 - chunk.len()));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut word = [0u8; 4];
        word[1..=chunk.len()].copy_from_slice(chunk);
        let bits = u32::from_be_bytes(word);
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[(bits >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// `cases` cases from a fixed seed, so every run checks the same inputs;
/// `PROPTEST_RNG_SEED=<n>` explores others, `PROPTEST_CASES=<n>` more of them.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    if std::env::var_os("PROPTEST_CASES").is_some() {
        config.cases = ProptestConfig::default().cases;
    }
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(0x10_6007);
    }
    config
}

/// Everything the middleware awaits here is ready at once: poll to the end.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("the middleware awaited something that never became ready");
}

/// An instance of the app: its keys, and a clock the test moves.
struct App {
    layer: OidcLogoutLayer,
    now: Arc<AtomicU64>,
}

impl App {
    fn new(current: &[u8], previous: &[&[u8]]) -> Self {
        Self::with_clock(current, previous, Arc::new(AtomicU64::new(START)))
    }

    fn with_clock(current: &[u8], previous: &[&[u8]], now: Arc<AtomicU64>) -> Self {
        let clock = now.clone();
        let layer = OidcLogoutLayer::builder()
            .end_session_endpoint("https://op.example/endsession")
            .client_id("properties")
            .post_logout_redirect_uri(format!("{APP_ORIGIN}{CALLBACK}"))
            .state_key(StateKey::from_bytes(current).unwrap())
            .previous_state_keys(previous.iter().map(|k| StateKey::from_bytes(k).unwrap()))
            .state_ttl(Duration::from_secs(TTL))
            .expire_cookie(SessionCookie::new("__Host-session"))
            .clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)))
            .build()
            .unwrap();
        Self { layer, now }
    }

    fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        // The inner service reports the return target the callback handed it.
        let inner = service_fn(|request: Request<Full<Bytes>>| async move {
            let logged_out = request.extensions().get::<LoggedOut>().cloned();
            let body = match logged_out {
                Some(done) => {
                    format!("inner\n{}", done.return_target().map_or("", ReturnTarget::as_str))
                }
                None => "inner without LoggedOut".to_owned(),
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        });
        block_on(async {
            let response = self.layer.layer(inner).oneshot(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Answer {
                status: parts.status,
                set_cookies: parts
                    .headers
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect(),
                location: parts
                    .headers
                    .get(header::LOCATION)
                    .map(|v| v.to_str().unwrap().to_owned()),
                body: String::from_utf8(body.to_vec()).unwrap(),
            }
        })
    }

    /// `POST /logout` from the app's own page; the state and its cookie.
    fn sign_out(&self, return_to: Option<&str>) -> Issued {
        let mut uri = "/logout".to_owned();
        if let Some(target) = return_to {
            uri.push_str("?return_to=");
            uri.extend(url::form_urlencoded::byte_serialize(target.as_bytes()));
        }
        let request =
            Request::post(uri).header(header::ORIGIN, APP_ORIGIN).body(Full::default()).unwrap();
        let answer = self.send(request);
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
        let location = Url::parse(answer.location.as_deref().unwrap()).unwrap();
        let state = location.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        let set = answer.set_cookies.iter().find(|c| c.starts_with("__Host-oidc-logout-")).unwrap();
        let (pair, _) = set.split_once(';').unwrap();
        let (name, sealed) = pair.split_once('=').unwrap();
        Issued { state, cookie_name: name.to_owned(), sealed: sealed.to_owned() }
    }

    /// The provider sends the browser back with `state`; the browser sends `cookie`.
    fn callback(&self, state: &str, cookie: &str) -> Answer {
        self.callback_with_cookie_bytes(state, cookie.as_bytes())
    }

    /// As [`callback`](Self::callback), with a `Cookie` header of any bytes.
    fn callback_with_cookie_bytes(&self, state: &str, cookie: &[u8]) -> Answer {
        let cookie = header::HeaderValue::from_bytes(cookie).unwrap();
        let mut uri = format!("{CALLBACK}?state=");
        uri.extend(url::form_urlencoded::byte_serialize(state.as_bytes()));
        uri.push_str("&logout=ok");
        let request =
            Request::get(uri).header(header::COOKIE, cookie).body(Full::default()).unwrap();
        self.send(request)
    }
}

#[derive(Debug, Clone)]
struct Issued {
    state: String,
    cookie_name: String,
    sealed: String,
}

impl Issued {
    fn cookie(&self) -> String {
        format!("{}={}", self.cookie_name, self.sealed)
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    set_cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

impl Answer {
    /// The return target handed to the inner service, if it was reached.
    fn passed(&self) -> Option<Option<&str>> {
        let target = self.body.strip_prefix("inner\n")?;
        assert_eq!(self.status, StatusCode::OK);
        Some(Some(target).filter(|t| !t.is_empty()))
    }

    /// The refusal's code, from the `code: message` body.
    fn code(&self) -> &str {
        assert!(self.status.is_client_error(), "{self:?}");
        self.body.split_once(": ").unwrap().0
    }
}

/// A path any app might return to: segments, a query, a fragment.
/// A `name=value` pair of any bytes a header may carry (UTF-8 or not, no `;`),
/// as another site of the same domain may plant.
fn odd_cookie() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![Just(b'\t'), 0x20u8..=0x3a, 0x3cu8..=0x7e, 0x80u8..=0xff];
    (prop::collection::vec(byte.clone(), 0..12), prop::collection::vec(byte, 0..24)).prop_map(
        |(mut name, value)| {
            name.push(b'=');
            name.extend(value);
            name
        },
    )
}

fn safe_target() -> impl Strategy<Value = String> {
    // Dot segments are refused on purpose (see `ReturnTarget`), so not generated.
    // No markup characters either (`"`, `'`, `<`, `>`, backtick): refused on purpose.
    let segment = "[A-Za-z0-9._~!$&()*+,;=:@-]{1,12}"
        .prop_filter("a dot segment", |segment| segment != "." && segment != "..");
    (
        prop::collection::vec(segment, 0..5),
        prop::option::of("[A-Za-z0-9=&._~/?-]{0,20}"),
        prop::option::of("[A-Za-z0-9/?-]{0,10}"),
    )
        .prop_map(|(segments, query, fragment)| {
            let mut target = format!("/{}", segments.join("/"));
            if let Some(query) = query {
                target.push('?');
                target.push_str(&query);
            }
            if let Some(fragment) = fragment {
                target.push('#');
                target.push_str(&fragment);
            }
            target
        })
}

/// Where a browser on `base` goes when told to go to `target`, WHATWG rules.
fn resolves_on_site(target: &str) -> bool {
    [
        "https://app.example/",
        "https://app.example/logout/callback?state=x",
        "https://app.example/a/b/c",
    ]
    .iter()
    .all(|base| {
        let base = Url::parse(base).unwrap();
        base.join(target).is_ok_and(|to| to.origin() == base.origin() && to.host() == base.host())
    })
}

/// `%XX` decoded once, as a careless downstream might, lossily as UTF-8.
fn percent_decode_once(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The ways open-redirect filters are known to be bypassed.
fn bypass_prefix() -> impl Strategy<Value = String> {
    let slash = prop_oneof![
        4 => Just("/".to_owned()),
        2 => Just("\\".to_owned()),
        1 => "%2[fF]",
        1 => "%5[cC]",
        1 => "%25(2[fF]|5[cC])",
        1 => "%25252[fF]",
        1 => Just("\u{2215}".to_owned()), // division slash
        1 => Just("\u{ff0f}".to_owned()), // fullwidth solidus
        1 => Just("\u{ff3c}".to_owned()), // fullwidth reverse solidus
    ];
    let noise = prop_oneof![
        6 => Just(String::new()),
        1 => Just("\t".to_owned()),
        1 => Just("\n".to_owned()),
        1 => Just("\r".to_owned()),
        1 => Just(" ".to_owned()),
        1 => Just("\u{0}".to_owned()),
        1 => Just("\u{b}".to_owned()),
        1 => Just("\u{c}".to_owned()),
        1 => Just("\u{7f}".to_owned()),
        1 => Just("\u{a0}".to_owned()),
        1 => Just("\u{200b}".to_owned()), // zero-width space
        1 => "%0[9aAdD0]",
    ];
    let scheme = prop_oneof![
        "[jJ][aA][vV][aA][sS][cC][rR][iI][pP][tT]",
        "[hH][tT][tT][pP][sS]?",
        "data|vbscript|file|ftp|blob|ws|wss|mailto",
    ];
    prop_oneof![
        // `//host`, `/\host`, `\/host`, encoded or not, with noise between.
        (slash.clone(), noise.clone(), slash.clone(), noise.clone())
            .prop_map(|(a, n1, b, n2)| format!("{a}{n1}{b}{n2}")),
        (Just("/"), noise.clone(), slash.clone()).prop_map(|(a, n, b)| format!("{a}{n}{b}")),
        // `scheme:`, with noise inside the scheme name and after it.
        (scheme, any::<Index>(), noise.clone(), noise.clone(), slash).prop_map(
            |(scheme, at, n1, n2, s)| {
                let mut scheme = scheme;
                let at = at.index(scheme.len() + 1);
                scheme.insert_str(at, &n1);
                format!("{scheme}:{n2}{s}{s}")
            }
        ),
        // Leading noise before a protocol-relative URL.
        (noise.clone(), noise).prop_map(|(n1, n2)| format!("{n1}/{n2}/")),
    ]
}

fn hostile_target() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        Just("evil.example".to_owned()),
        Just("EVIL.example:8443".to_owned()),
        Just("app.example@evil.example".to_owned()),
        Just("evil.example%2eapp.example".to_owned()),
        Just("0x7f.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("\u{0435}vil.example".to_owned()), // Cyrillic е
        Just("alert(1)".to_owned()),
    ];
    (bypass_prefix(), host, prop::option::of(safe_target()), any::<bool>()).prop_map(
        |(prefix, host, tail, upper)| {
            let target = format!("{prefix}{host}{}", tail.unwrap_or_default());
            if upper { target.to_uppercase() } else { target }
        },
    )
}

/// A safe path with something a filter might miss spliced in anywhere.
fn spliced_target() -> impl Strategy<Value = String> {
    let splice = prop_oneof![
        Just("/"),
        Just("\\"),
        Just("%"),
        Just("%2f"),
        Just("%5C"),
        Just("%25"),
        Just("\t"),
        Just("\n"),
        Just("\r"),
        Just("\u{0}"),
        Just("\u{1b}"),
        Just(":"),
        Just("@"),
        Just("."),
        Just("#"),
        Just("?"),
        Just("\u{ff0f}"),
        Just("\u{e9}"),
    ];
    (safe_target(), prop::collection::vec((any::<Index>(), splice), 1..4)).prop_map(
        |(mut target, splices)| {
            for (at, text) in splices {
                let mut at = at.index(target.len() + 1);
                while !target.is_char_boundary(at) {
                    at -= 1;
                }
                target.insert_str(at, text);
            }
            target
        },
    )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn sealed_state_round_trips_within_its_lifetime(
        target in prop::option::of(safe_target()),
        elapsed in 0..TTL,
    ) {
        let app = App::new(KEY_A, &[]);
        let issued = app.sign_out(target.as_deref());
        app.now.fetch_add(elapsed, Ordering::SeqCst);
        let answer = app.callback(&issued.state, &issued.cookie());
        prop_assert_eq!(answer.passed(), Some(target.as_deref()), "{:?}", answer);
        let removal = format!("{}=;", issued.cookie_name);
        prop_assert!(
            answer.set_cookies.iter().any(|c| c.starts_with(&removal) && c.contains("Max-Age=0")),
            "the used state cookie is expired: {:?}", answer
        );
    }

    #[test]
    fn a_state_past_its_lifetime_is_refused(late in TTL..TTL * 100) {
        let app = App::new(KEY_A, &[]);
        let issued = app.sign_out(None);
        app.now.fetch_add(late, Ordering::SeqCst);
        let answer = app.callback(&issued.state, &issued.cookie());
        prop_assert_eq!(answer.code(), "state_expired");
    }

    #[test]
    fn changing_any_byte_of_the_sealed_state_is_refused(
        target in prop::option::of(safe_target()),
        at in any::<Index>(),
        flip in 1..=255u8,
    ) {
        let app = App::new(KEY_A, &[]);
        let issued = app.sign_out(target.as_deref());
        let mut raw = base64url_decode(&issued.sealed);
        prop_assert_eq!(base64url_encode(&raw), issued.sealed.as_str(), "the test's codec round-trips");
        let at = at.index(raw.len());
        raw[at] ^= flip;
        let altered = format!("{}={}", issued.cookie_name, base64url_encode(&raw));
        let answer = app.callback(&issued.state, &altered);
        prop_assert_eq!(answer.code(), "state_tampered", "byte {} ^ {:#x}: {:?}", at, flip, answer);
    }

    #[test]
    fn changing_any_character_of_the_cookie_is_refused(
        at in any::<Index>(),
        to in "[A-Za-z0-9_=\"; ,-]",
    ) {
        let app = App::new(KEY_A, &[]);
        let issued = app.sign_out(Some("/account"));
        let mut sealed = issued.sealed.clone();
        let at = at.index(sealed.len());
        prop_assume!(sealed[at..=at] != to);
        sealed.replace_range(at..=at, &to);
        let answer = app.callback(&issued.state, &format!("{}={sealed}", issued.cookie_name));
        prop_assert!(answer.passed().is_none(), "altered cookie {:?} passed", sealed);
    }

    #[test]
    fn changing_any_character_of_the_state_is_refused(
        at in any::<Index>(),
        to in "[A-Za-z0-9_-]",
    ) {
        let app = App::new(KEY_A, &[]);
        let issued = app.sign_out(None);
        let mut state = issued.state.clone();
        let at = at.index(state.len());
        prop_assume!(state[at..=at] != to);
        state.replace_range(at..=at, &to);
        let answer = app.callback(&state, &issued.cookie());
        // Past the 8 characters that name the cookie, the cookie is found
        // and only the constant-time nonce match can refuse it.
        let expected: &[&str] = if at < 8 {
            &["state_cookie_missing"]
        } else {
            &["state_mismatch", "state_malformed"]
        };
        prop_assert!(expected.contains(&answer.code()), "{:?} for {:?}", answer, state);
    }

    #[test]
    fn an_odd_cookie_beside_the_state_cookie_hides_nothing(
        before in odd_cookie(),
        after in odd_cookie(),
    ) {
        let app = App::new(KEY_A, &[]);
        let issued = app.sign_out(Some("/bye"));
        let mut line = before;
        line.extend_from_slice(b"; ");
        line.extend_from_slice(issued.cookie().as_bytes());
        line.extend_from_slice(b"; ");
        line.extend_from_slice(&after);
        let answer = app.callback_with_cookie_bytes(&issued.state, &line);
        prop_assert_eq!(answer.passed(), Some(Some("/bye")), "{:?}", answer);
    }

    #[test]
    fn a_state_is_refused_with_another_tabs_cookie_under_its_name(target in prop::option::of(safe_target())) {
        let app = App::new(KEY_A, &[]);
        let mine = app.sign_out(target.as_deref());
        let other = app.sign_out(None);
        // Authentic and unexpired, but sealed for another state.
        let swapped = format!("{}={}", mine.cookie_name, other.sealed);
        let answer = app.callback(&mine.state, &swapped);
        prop_assert_eq!(answer.code(), "state_mismatch");
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn safe_paths_are_accepted_as_given(target in safe_target()) {
        prop_assume!(!target.starts_with("//") && target.len() <= MAX_RETURN_TARGET_LEN);
        let parsed = ReturnTarget::parse(&target);
        prop_assert_eq!(parsed.as_ref().map(ReturnTarget::as_str), Some(target.as_str()));
        prop_assert!(resolves_on_site(&target));
    }

    #[test]
    fn markup_anywhere_is_refused(
        target in safe_target(),
        at in any::<Index>(),
        markup in prop::sample::select(vec!['"', '\'', '<', '>', '`']),
    ) {
        let mut target = target;
        target.insert(at.index(target.len()).max(1), markup);
        prop_assert!(ReturnTarget::parse(&target).is_none(), "{:?}", target);
    }

    #[test]
    fn bypass_families_are_refused(target in hostile_target()) {
        prop_assert!(ReturnTarget::parse(&target).is_none(), "accepted {:?}", target);
    }

    #[test]
    fn an_accepted_target_never_leaves_the_site(
        target in prop_oneof![hostile_target(), spliced_target(), any::<String>()],
    ) {
        if let Some(accepted) = ReturnTarget::parse(&target) {
            prop_assert_eq!(accepted.as_str(), target.as_str());
            prop_assert!(resolves_on_site(&target), "{:?} leaves the site", target);
            // Double encoding: still on the site after one decoding downstream.
            let decoded = percent_decode_once(&target);
            prop_assert!(resolves_on_site(&decoded), "{:?} leaves once decoded: {:?}", target, decoded);
        }
    }
}

#[test]
fn known_bypasses_are_refused() {
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "\\\\evil.example",
        "/%2f/evil.example",
        "/%2F%2Fevil.example",
        "/%5c%5cevil.example",
        "/%252f%252fevil.example",
        "/%25252f/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
        "/%09/evil.example",
        "/%0d%0a/evil.example",
        "java\tscript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "javascript://%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https:evil.example",
        "https:/evil.example",
        "https://evil.example",
        "HTTPS://evil.example",
        "/\u{ff0f}evil.example",
        "/\u{2215}evil.example",
        "/\u{0}//evil.example",
        "/ /evil.example",
        "/\u{7f}/evil.example",
        "@evil.example",
        "evil.example",
        "/x\r\nSet-Cookie: a=b",
        "/x%0d%0aSet-Cookie:%20a=b",
    ] {
        assert!(ReturnTarget::parse(bad).is_none(), "{bad:?} accepted");
    }
}

#[test]
fn a_state_sealed_under_the_old_key_validates_after_rotation() {
    let now = Arc::new(AtomicU64::new(START));
    let before = App::with_clock(KEY_A, &[], now.clone());
    let issued = before.sign_out(Some("/after"));

    // Rotated: B seals, A still opens (listed among older keys, not first).
    let rotated = App::with_clock(KEY_B, &[KEY_C, KEY_A], now.clone());
    let answer = rotated.callback(&issued.state, &issued.cookie());
    assert_eq!(answer.passed(), Some(Some("/after")), "{answer:?}");
    // New states are sealed under B and open on the rotated instance.
    let fresh = rotated.sign_out(None);
    assert_eq!(rotated.callback(&fresh.state, &fresh.cookie()).passed(), Some(None));

    // Expiry still applies to states sealed under an older key.
    now.fetch_add(TTL, Ordering::SeqCst);
    let late = rotated.callback(&issued.state, &issued.cookie());
    assert_eq!(late.code(), "state_expired");
}

#[test]
fn a_key_removed_from_the_list_no_longer_validates() {
    let before = App::new(KEY_A, &[]);
    let issued = before.sign_out(None);
    let dropped = App::new(KEY_B, &[KEY_C]);
    let answer = dropped.callback(&issued.state, &issued.cookie());
    assert_eq!(answer.code(), "state_tampered", "{answer:?}");
    assert!(answer.passed().is_none());
}
