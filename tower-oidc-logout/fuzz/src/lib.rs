//! What the fuzz targets share: a layer built once, real sealed states for
//! the fuzzer to splice and mutate, a poll loop, and the oracles.
//!
//! Everything the middleware awaits is ready at once here (no server
//! session, in-memory bodies), so a future still pending after a few polls
//! is itself a bug.

pub mod backchannel;
pub mod callback;
pub mod logout;

use std::{
    convert::Infallible,
    future::Future,
    pin::pin,
    sync::OnceLock,
    task::{Context, Poll, Waker},
    time::{Duration, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use tower::{Layer, ServiceExt, service_fn};
use tower_oidc_logout::{LoggedOut, OidcLogout, OidcLogoutLayer, ReturnTarget, SessionCookie, StateKey};

/// The app's callback path (from the redirect URI).
pub const CALLBACK_PATH: &str = "/logout/callback";
/// The provider's end-session URL as configured.
pub const END_SESSION: &str = "https://op.example/endsession?tenant=fuzz";
/// The longest callback query the middleware reads (its `MAX_QUERY_LEN`).
pub const MAX_CALLBACK_QUERY_LEN: usize = 4096;
/// The middleware's clock: fixed, so runs are repeatable.
pub const NOW_SECS: u64 = 1_800_000_000;

const KEY: &[u8] = b"fuzz key: 0123456789abcdef0123456789abcdef";
const OLD_KEY: &[u8] = b"old fuzz key: fedcba9876543210fedcba98765";
const INNER_BODY: &str = "inner service reached";

/// The body every fuzzed request carries.
pub type FuzzBody = Full<Bytes>;
/// The app under test: the layer around an inner service that says it was reached.
pub type App =
    OidcLogout<tower::util::ServiceFn<fn(Request<FuzzBody>) -> std::future::Ready<InnerResult>>>;
type InnerResult = Result<Response<FuzzBody>, Infallible>;

/// Says it was reached, and which return target the callback handed over.
fn inner(request: Request<FuzzBody>) -> std::future::Ready<InnerResult> {
    let target = request
        .extensions()
        .get::<LoggedOut>()
        .and_then(LoggedOut::return_target)
        .map_or("", ReturnTarget::as_str);
    let body = format!("{INNER_BODY}\n{target}");
    std::future::ready(Ok(Response::new(Full::new(Bytes::from(body)))))
}

fn layer_at(
    key: &[u8],
    previous: Option<&[u8]>,
    now_secs: u64,
    allow_get: bool,
) -> OidcLogoutLayer {
    let at = UNIX_EPOCH + Duration::from_secs(now_secs);
    let mut builder = OidcLogoutLayer::builder()
        .end_session_endpoint(END_SESSION)
        .client_id("fuzz-client")
        .post_logout_redirect_uri(format!("https://app.example{CALLBACK_PATH}"))
        .state_key(StateKey::from_bytes(key).expect("fuzz key"))
        .expire_cookie(SessionCookie::new("__Host-session"))
        .expire_cookie(SessionCookie::new("sid").domain("app.example").also_host_only())
        .clock(move || at);
    if let Some(previous) = previous {
        builder =
            builder.previous_state_keys([StateKey::from_bytes(previous).expect("old fuzz key")]);
    }
    if allow_get {
        builder = builder.dangerous_allow_get_logout();
    }
    builder.build().expect("fuzz configuration is valid")
}

/// The app as deployed: current key, the old key still accepted.
pub fn app(allow_get: bool) -> App {
    let f: fn(Request<FuzzBody>) -> std::future::Ready<InnerResult> = inner;
    layer_at(KEY, Some(OLD_KEY), NOW_SECS, allow_get).layer(service_fn(f))
}

/// Polls `future` to completion; everything it awaits is ready at once.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("the middleware awaited something that never became ready");
}

/// A response with its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// Whether the inner service answered (the callback passed).
    pub fn reached_inner(&self) -> bool {
        self.status == StatusCode::OK && self.body.starts_with(INNER_BODY.as_bytes())
    }

    /// The return target the inner service was handed, if it was reached.
    pub fn handed_target(&self) -> Option<&str> {
        let body = std::str::from_utf8(self.body.strip_prefix(INNER_BODY.as_bytes())?).ok()?;
        body.strip_prefix('\n').filter(|t| !t.is_empty())
    }

    /// `Set-Cookie` values as text.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("Set-Cookie is ASCII"))
            .collect()
    }
}

/// Sends `request` through `app` and reads the whole answer.
pub fn send(app: &App, request: Request<FuzzBody>) -> Answer {
    block_on(async {
        let response = app.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer { status: parts.status, headers: parts.headers, body }
    })
}

/// The invariants every answer keeps: never a 5xx, a machine-readable reason
/// on every refusal, and never cached.
pub fn check_answer(answer: &Answer) {
    assert!(!answer.status.is_server_error(), "5xx answered: {answer:?}");
    if answer.status.is_client_error() {
        let body = std::str::from_utf8(&answer.body).expect("refusals are text");
        let (code, _) = body.split_once(": ").expect("refusal body is `code: message`");
        assert!(
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "refusal code {code:?}"
        );
    }
    assert_eq!(
        answer.headers.get(header::CACHE_CONTROL),
        Some(&HeaderValue::from_static("no-store")),
        "not no-store: {answer:?}"
    );
}

/// A state the app really issued: the parameter and its cookie.
#[derive(Debug, Clone)]
pub struct Issued {
    pub state: String,
    pub cookie_name: String,
    pub sealed: String,
}

/// Which real state the fuzzer refers to.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Issued by the app now, with `return_to=/account`.
    Fresh,
    /// Another one issued now (another tab), no return target.
    OtherTab,
    /// Issued under the previous key, still within its lifetime.
    OldKey,
    /// Issued ten minutes ago: past its lifetime.
    Expired,
    /// Issued under a key the app never knew.
    Foreign,
}

impl Seed {
    /// Whether a callback holding this seed's state and cookie may pass.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Fresh | Self::OtherTab | Self::OldKey)
    }
}

/// Real states, minted once per process.
pub fn issued(seed: Seed) -> &'static Issued {
    static ISSUED: OnceLock<[Issued; 5]> = OnceLock::new();
    let all = ISSUED.get_or_init(|| {
        const FOREIGN_KEY: &[u8] = b"a key nobody configured 0123456789abcdef";
        [
            mint(layer_at(KEY, None, NOW_SECS, false), "?return_to=/account"),
            mint(layer_at(KEY, None, NOW_SECS, false), ""),
            mint(layer_at(OLD_KEY, None, NOW_SECS - 60, false), ""),
            mint(layer_at(KEY, None, NOW_SECS - 600, false), ""),
            mint(layer_at(FOREIGN_KEY, None, NOW_SECS, false), ""),
        ]
    });
    &all[seed as usize]
}

fn mint(layer: OidcLogoutLayer, query: &str) -> Issued {
    let f: fn(Request<FuzzBody>) -> std::future::Ready<InnerResult> = inner;
    let app = layer.layer(service_fn(f));
    let request =
        Request::post(format!("/logout{query}")).body(FuzzBody::default()).expect("request");
    let answer = send(&app, request);
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{answer:?}");
    Issued::from_sign_out(&answer)
}

impl Issued {
    /// The state a `303` sign-out answer sent to the provider, and its cookie.
    pub fn from_sign_out(answer: &Answer) -> Self {
        let location = answer.headers[header::LOCATION].to_str().expect("ASCII");
        assert!(location.starts_with(END_SESSION), "{location}");
        let url = url::Url::parse(location).expect("absolute Location");
        let states: Vec<_> =
            url.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).collect();
        let [state] = &states[..] else { panic!("one state expected in {location}") };
        assert_eq!(state.len(), 22, "128 bits in base64url");
        let sets: Vec<_> =
            answer.set_cookies().into_iter().filter(|c| !c.contains("Max-Age=0")).collect();
        let [set] = &sets[..] else { panic!("one cookie set expected: {sets:?}") };
        let (pair, attributes) = set.split_once(';').expect("attributes");
        for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(attributes.contains(attribute), "{set} lacks {attribute}");
        }
        let (name, sealed) = pair.split_once('=').expect("name=value");
        assert_eq!(name, format!("{STATE_COOKIE_PREFIX}{}", &state[..8]));
        Issued { state: state.clone(), cookie_name: name.to_owned(), sealed: sealed.to_owned() }
    }
}

/// Names of state cookies: the prefix and 8 characters of the state.
pub const STATE_COOKIE_PREFIX: &str = "__Host-oidc-logout-";

/// Whether `name` is a state cookie's name: the prefix and 8 characters a
/// state can start with (base64url). Names with other bytes were never set
/// by the app, whatever a request carries.
pub fn is_state_cookie_name(name: &[u8]) -> bool {
    name.strip_prefix(STATE_COOKIE_PREFIX.as_bytes()).is_some_and(|id| {
        id.len() == 8 && id.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// One `name=value` of a fuzzed `Cookie` header.
#[derive(Arbitrary, Debug)]
pub enum CookiePart {
    /// A real state cookie as issued.
    Real(Seed),
    /// One state's sealed value under another state's cookie name.
    Renamed { value_of: Seed, name_of: Seed },
    /// A real sealed value with one byte replaced.
    Edited { seed: Seed, at: u16, byte: u8 },
    /// A real sealed value cut short.
    Truncated { seed: Seed, len: u16 },
    /// Any text (UTF-8, so `lang=français` too).
    Raw { name: String, value: String },
    /// A session cookie.
    Session(String),
    /// Any bytes at all (`\xff`, Latin-1, half a UTF-8 sequence): what
    /// another site of the domain may plant.
    RawBytes { name: Vec<u8>, value: Vec<u8> },
}

impl CookiePart {
    /// The pair as written in the header (may hold bytes a header refuses).
    pub fn render(&self) -> Vec<u8> {
        let pair = |name: &[u8], value: &[u8]| [name, b"=", value].concat();
        match *self {
            Self::Real(seed) => {
                let issued = issued(seed);
                pair(issued.cookie_name.as_bytes(), issued.sealed.as_bytes())
            }
            Self::Renamed { value_of, name_of } => {
                pair(issued(name_of).cookie_name.as_bytes(), issued(value_of).sealed.as_bytes())
            }
            Self::Edited { seed, at, byte } => {
                let issued = issued(seed);
                let mut value = issued.sealed.clone().into_bytes();
                let at = usize::from(at) % value.len();
                value[at] = byte;
                pair(issued.cookie_name.as_bytes(), &value)
            }
            Self::Truncated { seed, len } => {
                let issued = issued(seed);
                let len = usize::from(len) % issued.sealed.len();
                pair(issued.cookie_name.as_bytes(), &issued.sealed.as_bytes()[..len])
            }
            Self::Raw { ref name, ref value } => pair(name.as_bytes(), value.as_bytes()),
            Self::Session(ref value) => pair(b"__Host-session", value.as_bytes()),
            Self::RawBytes { ref name, ref value } => pair(name, value),
        }
    }
}

/// Joins cookie pairs into `Cookie` header values: `per_header` pairs each
/// (0 or 1 means one header per pair). Values a header cannot hold are dropped.
pub fn cookie_headers(parts: &[CookiePart], per_header: u8) -> Vec<HeaderValue> {
    let per_header = usize::from(per_header.max(1));
    parts
        .chunks(per_header)
        .filter_map(|chunk| {
            let joined = chunk.iter().map(CookiePart::render).collect::<Vec<_>>().join(&b"; "[..]);
            HeaderValue::from_bytes(&joined).ok()
        })
        .collect()
}

/// The `name=value` pairs the `Cookie` headers carry, as bytes, parsed as
/// browsers and most servers do: pairs split at `;`, each at its first `=`
/// (pairs without one are skipped), names and values trimmed of ASCII
/// whitespace, values of the `"` around them. Read from the raw bytes, so a
/// header holding UTF-8 (`lang=français`) or any other byte keeps its pairs.
pub fn sent_cookie_pairs(headers: &http::HeaderMap) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    for header in headers.get_all(header::COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else { continue };
            let name = pair[..eq].trim_ascii();
            let mut value = pair[eq + 1..].trim_ascii();
            while let Some(rest) = value.strip_prefix(b"\"") {
                value = rest;
            }
            while let Some(rest) = value.strip_suffix(b"\"") {
                value = rest;
            }
            pairs.push((name.to_vec(), value.to_vec()));
        }
    }
    pairs
}

/// Whether any `Cookie` header holds a byte outside ASCII; `Some(true)` if
/// every such header is still UTF-8 text, `Some(false)` if one is not.
pub fn non_ascii_cookies(headers: &http::HeaderMap) -> Option<bool> {
    let odd: Vec<&[u8]> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .filter(|bytes| !bytes.is_ascii())
        .collect();
    (!odd.is_empty()).then(|| odd.iter().all(|bytes| std::str::from_utf8(bytes).is_ok()))
}

/// Whether `target` resolves to the app's own origin from a page of the app.
pub fn stays_on_site(target: &str) -> bool {
    ["https://app.example/", "https://app.example/a/b?c#d"].iter().all(|base| {
        let base = url::Url::parse(base).expect("base");
        base.join(target).is_ok_and(|resolved| resolved.origin() == base.origin())
    })
}

/// Appends a query pair to a query string, encoded as a browser would.
pub fn push_pair(query: &mut String, name: &str, value: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    query.extend(url::form_urlencoded::byte_serialize(name.as_bytes()));
    query.push('=');
    query.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
}

/// Builds a request from parts that may not form a valid URI; `None` if not.
pub fn request(
    method: http::Method,
    path: &str,
    query: &[u8],
    headers: Vec<(http::HeaderName, HeaderValue)>,
    body: Vec<u8>,
) -> Option<Request<FuzzBody>> {
    let mut uri = path.as_bytes().to_vec();
    if !query.is_empty() {
        uri.push(b'?');
        uri.extend_from_slice(query);
    }
    let uri = http::Uri::try_from(uri).ok()?;
    let mut request = Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    for (name, value) in headers {
        request.headers_mut().append(name, value);
    }
    Some(request)
}

/// `%XX` decoded once (what a careless downstream might do), lossily as UTF-8.
pub fn percent_decode_once(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}
