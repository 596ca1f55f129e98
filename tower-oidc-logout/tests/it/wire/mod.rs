//! For the socket-level tests: the layer in an axum app served on loopback,
//! a raw HTTP/1.1 client that sends any bytes, and a minimal cookie jar.

// Each test file uses part of this module.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, UNIX_EPOCH},
};

use axum::{Extension, Router, routing::get};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tower_oidc_logout::{
    LoggedOut, OidcLogoutLayer, ReturnTarget, SessionCookie, StateKey,
    provider_logout::index::EndSessionsFuture,
    provider_logout::index::{EndSessions, MemoryIndex, SessionsEnded},
    provider_logout::{KeySet, LogoutTokenValidator, ProviderLogout},
};

pub(crate) const KEY: &[u8] = b"socket tests key 0123456789abcdef";
pub(crate) const APP_ORIGIN: &str = "https://app.example";
pub(crate) const CALLBACK: &str = "/logout/callback";
pub(crate) const START: u64 = 1_800_000_000;
pub(crate) const TTL: u64 = 300;
/// The Back-Channel Logout route; its provider's one public key (P-256) is
/// the static key set in `op-jwks.json` (no fetch, no private key needed:
/// the hostile cases never carry a valid signature).
pub(crate) const BACKCHANNEL: &str = "/logout/backchannel";
pub(crate) const FRONTCHANNEL: &str = "/logout/frontchannel";
pub(crate) const ISSUER: &str = "https://op.example";

/// Ends nothing: no session is ever indexed in these tests.
struct NoSessions;

impl EndSessions for NoSessions {
    fn end_sessions<'a>(&'a self, _: &'a [String]) -> EndSessionsFuture<'a> {
        Box::pin(std::future::ready(Ok(SessionsEnded::default())))
    }
}

fn provider_logout() -> ProviderLogout {
    let keys = KeySet::from_jwks(include_bytes!("op-jwks.json")).unwrap();
    let validator = LogoutTokenValidator::builder()
        .issuer(ISSUER)
        .client_id("socket-tests")
        .keys(keys)
        .build()
        .unwrap();
    ProviderLogout::new(Arc::new(MemoryIndex::new()), NoSessions).validator(validator)
}
/// Longest a single exchange may take before the test fails.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// One running instance of the app.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    /// How many times the callback handler ran (valid callbacks only).
    pub(crate) callbacks: Arc<AtomicUsize>,
    /// The middleware's clock, in seconds since the epoch.
    pub(crate) now: Arc<AtomicU64>,
}

/// Serves `GET /` and the callback behind the layer (with the Back- and
/// Front-Channel Logout routes), sealed with `key`, on
/// 127.0.0.1 with a port of its own. The server task lives as long as the
/// test's runtime.
pub(crate) async fn serve(key: &[u8]) -> Server {
    let now = Arc::new(AtomicU64::new(START));
    let clock = now.clone();
    let layer = OidcLogoutLayer::builder()
        .end_session_endpoint("https://op.example/endsession")
        .client_id("socket-tests")
        .post_logout_redirect_uri(format!("{APP_ORIGIN}{CALLBACK}"))
        .state_key(StateKey::from_bytes(key).unwrap())
        .state_ttl(Duration::from_secs(TTL))
        .expire_cookie(SessionCookie::new("__Host-session"))
        .clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)))
        .provider_logout(provider_logout())
        .backchannel_logout(BACKCHANNEL)
        .frontchannel_logout(FRONTCHANNEL)
        .build()
        .unwrap();
    let callbacks = Arc::new(AtomicUsize::new(0));
    let counter = callbacks.clone();
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route(
            CALLBACK,
            get(move |Extension(done): Extension<LoggedOut>| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let target = done.return_target().map_or("", ReturnTarget::as_str);
                format!("signed out\n{target}")
            }),
        )
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { addr, callbacks, now }
}

/// A response as read off the socket.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The refusal code of a `code: message` body the layer wrote.
    pub(crate) fn code(&self) -> Option<String> {
        let body = std::str::from_utf8(&self.body).ok()?;
        let (code, _) = body.split_once(": ")?;
        code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_').then(|| code.to_owned())
    }

    /// The state a `303` to the provider carries.
    pub(crate) fn sent_state(&self) -> String {
        assert_eq!(self.status, 303, "{self:?}");
        let location = url::Url::parse(self.header("location").unwrap()).unwrap();
        location.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned()
    }
}

/// A request's bytes: `Host`, `Connection: close` and `Content-Length` added.
pub(crate) fn request(
    method: &str,
    target: &[u8],
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + target.len() + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nhost: app.example\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Sends raw bytes on a fresh connection and reads the answer to the end.
///
/// The request is written while the answer is read, so a server that
/// answers before reading everything (a `431`) is still heard.
pub(crate) async fn exchange(addr: SocketAddr, bytes: Vec<u8>) -> Reply {
    tokio::time::timeout(EXCHANGE_TIMEOUT, async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let writer = tokio::spawn(async move {
            // The server may close early on an oversized request: not an error here.
            let _ = write.write_all(&bytes).await;
            write
        });
        let mut raw = Vec::new();
        let read_result = read.read_to_end(&mut raw).await;
        let _write_half = writer.await.unwrap();
        if raw.is_empty() {
            panic!("no answer at all ({read_result:?})");
        }
        parse(&raw)
    })
    .await
    .expect("the server answers in time")
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = std::str::from_utf8(&raw[..split]).expect("an ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&data[..end]).unwrap().split(';').next().unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// A browser's cookies for the app, applied from `Set-Cookie` as it would.
#[derive(Debug, Default, Clone)]
pub(crate) struct Jar(BTreeMap<String, String>);

impl Jar {
    pub(crate) fn with(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect())
    }

    /// Applies every `Set-Cookie` of `reply`: `Max-Age=0` deletes.
    pub(crate) fn apply(&mut self, reply: &Reply) {
        for set in reply.set_cookies() {
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn insert(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// Names of the state cookies held.
    pub(crate) fn state_cookies(&self) -> Vec<&str> {
        self.0.keys().filter(|n| n.starts_with("__Host-oidc-logout-")).map(String::as_str).collect()
    }

    /// The `Cookie` header value.
    pub(crate) fn header(&self) -> String {
        self.0.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }
}

/// The name of the state cookie for `state` (the prefix and 8 characters).
pub(crate) fn state_cookie_name(state: &str) -> String {
    format!("__Host-oidc-logout-{}", &state[..8])
}

/// `POST /logout` from the app's own page, with `jar`'s cookies.
pub(crate) async fn sign_out(addr: SocketAddr, jar: &Jar, return_to: Option<&str>) -> Reply {
    let mut target = "/logout".to_owned();
    if let Some(to) = return_to {
        target.push_str("?return_to=");
        target.extend(url::form_urlencoded::byte_serialize(to.as_bytes()));
    }
    let cookie = jar.header();
    let mut headers: Vec<(&str, &[u8])> =
        vec![("origin", APP_ORIGIN.as_bytes()), ("sec-fetch-site", b"same-origin")];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie.as_bytes()));
    }
    exchange(addr, request("POST", target.as_bytes(), &headers, b"")).await
}

/// The provider sends the browser back to the callback with `state`.
pub(crate) async fn callback(addr: SocketAddr, jar: &Jar, state: &str) -> Reply {
    let mut target = format!("{CALLBACK}?state=");
    target.extend(url::form_urlencoded::byte_serialize(state.as_bytes()));
    target.push_str("&logout=true");
    let cookie = jar.header();
    let mut headers: Vec<(&str, &[u8])> = vec![("sec-fetch-site", b"cross-site")];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie.as_bytes()));
    }
    exchange(addr, request("GET", target.as_bytes(), &headers, b"")).await
}
