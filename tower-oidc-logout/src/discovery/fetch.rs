//! The crate's one HTTP GET: connect, TLS, request, capped body, timeouts, no redirects.
//!
//! Discovery fetches its document with it, and (feature `backchannel`) the provider's key set.

use std::{fmt, io, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::{
    TlsConnector,
    rustls::{self, ClientConfig, RootCertStore, pki_types::CertificateDer, pki_types::ServerName},
};
use url::{Host, Url};

use super::{DiscoveryError, ProviderMetadata, metadata::configuration_url};
use crate::error::BoxError;

/// Default time to open the connection (name resolution, TCP, TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time for the whole fetch, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on the discovery document, in bytes (real ones are a few KiB).
pub const DEFAULT_MAX_DOCUMENT_LEN: usize = 64 * 1024;

/// Settings for fetching discovery documents; [`discover`](Self::discover) does the fetch.
///
/// One `GET <issuer>/.well-known/openid-configuration` over HTTP/1.1:
///
/// - TLS by rustls (ring), certificates verified against Mozilla's root
///   store (webpki-roots) plus any [`add_root_certificate`](Self::add_root_certificate);
///   TLS 1.2 and 1.3 only. Plain `http` only to `localhost`, `127.0.0.1` and `[::1]`.
/// - Redirects are not followed: the document's `issuer` must equal the
///   configured issuer anyway, so a redirect means the configured issuer is
///   not the provider's ([`DiscoveryError::Redirect`]).
/// - Only `200 OK` is accepted; the document is refused when it is larger
///   than [`max_document_len`](Self::max_document_len), whether
///   `Content-Length` says so or the body grows past it.
/// - A [connect timeout](Self::connect_timeout) and a [total timeout](Self::timeout).
///
/// Needs a Tokio runtime with IO and time enabled (`#[tokio::main]` has both).
#[must_use]
#[derive(Clone)]
pub struct Discovery {
    connect_timeout: Duration,
    timeout: Duration,
    max_document_len: usize,
    extra_roots: Vec<Vec<u8>>,
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovery")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_document_len", &self.max_document_len)
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Discovery {
    /// The defaults: [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_MAX_DOCUMENT_LEN`], Mozilla's roots only.
    pub fn new() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_document_len: DEFAULT_MAX_DOCUMENT_LEN,
            extra_roots: Vec::new(),
        }
    }

    /// Time allowed to open the connection: name resolution, TCP connect and
    /// TLS handshake (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for the whole fetch, connection included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest document accepted, in bytes (default 64 KiB).
    pub fn max_document_len(mut self, bytes: usize) -> Self {
        self.max_document_len = bytes;
        self
    }

    /// Also trust this CA certificate (DER), e.g. a company's private CA in
    /// front of an internal provider. Mozilla's roots stay trusted.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(der.into());
        self
    }

    /// Fetches `<issuer>/.well-known/openid-configuration` once and checks it
    /// with [`ProviderMetadata::from_json`].
    ///
    /// The issuer is checked before any request: an `http` issuer on a host
    /// other than loopback is refused without touching the network. A
    /// trailing `/` is stripped before appending the well-known path, but the
    /// document's `issuer` is compared with `issuer` as given.
    pub async fn discover(&self, issuer: &str) -> Result<ProviderMetadata, DiscoveryError> {
        let url_text = configuration_url(issuer)?;
        let url = Url::parse(&url_text).map_err(|_| DiscoveryError::InvalidIssuer {
            issuer: issuer.to_owned(),
            reason: "it is not an absolute URL",
        })?;
        let document = self.get(&url).await?.body;
        ProviderMetadata::from_json(issuer, &document)
    }

    /// One `GET url` under these settings: the body of a `200 OK`, at most
    /// [`max_document_len`](Self::max_document_len) bytes, and the
    /// `max-age` its `Cache-Control` states.
    ///
    /// The caller has checked the scheme (`https`, or `http` on loopback).
    pub(crate) async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let answer = self.send(url, Mode::Get).await?;
        Ok(Fetched { body: answer.body, max_age: answer.max_age })
    }

    /// One `GET url` under these settings that takes any answer as it comes:
    /// its status, its `Location` (not followed) and its body, at most
    /// [`max_document_len`](Self::max_document_len) bytes. Only the request
    /// itself failing (connection, TLS, timeout, a body over the cap) is an error.
    ///
    /// The caller has checked the scheme (`https`, or `http` on loopback).
    pub(crate) async fn probe(&self, url: &Url) -> Result<Probed, FetchError> {
        Ok(self.send(url, Mode::Probe).await?.probed())
    }

    /// One `POST url` of the form `form` (`application/x-www-form-urlencoded`),
    /// with `Authorization: <authorization>` when given, under these
    /// settings; the answer is taken as it comes, as [`probe`](Self::probe) does.
    ///
    /// The caller has checked the scheme (`https`, or `http` on loopback).
    #[cfg(feature = "revocation")]
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: String,
        authorization: Option<String>,
    ) -> Result<Probed, FetchError> {
        let mode = Mode::Post { form: Bytes::from(form), authorization };
        Ok(self.send(url, mode).await?.probed())
    }

    /// One request of `mode` to `url`, within the total timeout.
    async fn send(&self, url: &Url, mode: Mode) -> Result<Answer, FetchError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(FetchError::NoTokioRuntime);
        }
        let url_text = url.as_str();
        let tls = if url.scheme() == "https" { Some(self.tls_connector(url_text)?) } else { None };
        tokio::time::timeout(self.timeout, self.fetch(url, url_text, tls, mode))
            .await
            .map_err(|_| FetchError::Timeout { url: url_text.to_owned(), timeout: self.timeout })?
    }

    /// The total timeout: the longest one [`get`](Self::get) or [`probe`](Self::probe) takes.
    pub(crate) fn total_timeout(&self) -> Duration {
        self.timeout
    }

    fn tls_connector(&self, url_text: &str) -> Result<TlsConnector, FetchError> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for der in &self.extra_roots {
            roots.add(CertificateDer::from(der.clone())).map_err(|error| {
                FetchError::InvalidRootCertificate { reason: error.to_string() }
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| FetchError::Tls {
                url: url_text.to_owned(),
                source: io::Error::other(error),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConnector::from(Arc::new(config)))
    }

    async fn fetch(
        &self,
        url: &Url,
        url_text: &str,
        tls: Option<TlsConnector>,
        mode: Mode,
    ) -> Result<Answer, FetchError> {
        // One budget for the whole connection: the TLS handshake gets what TCP left.
        let started = tokio::time::Instant::now();
        let connect_timeout = self.connect_timeout;
        let timed_out =
            || FetchError::ConnectTimeout { url: url_text.to_owned(), timeout: connect_timeout };
        let tcp = tokio::time::timeout(connect_timeout, connect(url, url_text))
            .await
            .map_err(|_| timed_out())??;
        match tls {
            None => self.exchange(tcp, url, url_text, mode).await,
            Some(tls) => {
                let name = server_name(url, url_text)?;
                let left = connect_timeout.saturating_sub(started.elapsed());
                let stream = tokio::time::timeout(left, tls.connect(name, tcp))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|error| tls_error(url_text, error))?;
                self.exchange(stream, url, url_text, mode).await
            }
        }
    }

    async fn exchange<S>(
        &self,
        stream: S,
        url: &Url,
        url_text: &str,
        mode: Mode,
    ) -> Result<Answer, FetchError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let http_error = |error: hyper::Error| FetchError::Http {
            url: url_text.to_owned(),
            source: Box::new(error),
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_error)?;
        // The connection is driven beside the request and dropped with it (also on timeout).
        let _connection = AbortOnDrop(tokio::spawn(connection));

        let request = mode.request(url).map_err(|error| FetchError::Http {
            url: url_text.to_owned(),
            source: Box::new(error),
        })?;
        let response = sender.send_request(request).await.map_err(http_error)?;

        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let retry_after = retry_after(response.headers());
        if mode == Mode::Get && status.is_redirection() {
            return Err(FetchError::Redirect {
                url: url_text.to_owned(),
                status: status.as_u16(),
                location,
            });
        }
        if mode == Mode::Get && status != StatusCode::OK {
            return Err(FetchError::Status { url: url_text.to_owned(), status: status.as_u16() });
        }

        let limit = self.max_document_len;
        let too_large = || FetchError::TooLarge { url: url_text.to_owned(), limit };
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        let max_age = cache_max_age(response.headers());

        let mut body = response.into_body();
        let mut document = Vec::with_capacity(declared.map_or(4096, |len| len as usize).min(limit));
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(http_error)?.into_data() {
                if document.len() + data.len() > limit {
                    return Err(too_large());
                }
                document.extend_from_slice(&data);
            }
        }
        Ok(Answer { status, location, body: Bytes::from(document), max_age, retry_after })
    }
}

/// What a request is and takes: [`Discovery::get`] only a `200`,
/// [`Discovery::probe`] (a `GET`) and the form `POST` anything.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Get,
    Probe,
    #[cfg(feature = "revocation")]
    Post {
        form: Bytes,
        authorization: Option<String>,
    },
}

impl Mode {
    /// The request: the method, `Host`, `Accept`, `User-Agent`, and the form's headers and body.
    fn request(&self, url: &Url) -> Result<http::Request<Full<Bytes>>, http::Error> {
        let builder = http::Request::builder()
            .uri(url_path(url))
            .header(header::HOST, authority(url))
            .header(header::USER_AGENT, concat!("tower-oidc-logout/", env!("CARGO_PKG_VERSION")));
        match self {
            Self::Get => builder.header(header::ACCEPT, "application/json").body(Full::default()),
            // An end-session endpoint answers with a page, a redirect or a JSON error.
            Self::Probe => builder
                .header(header::ACCEPT, "text/html, application/json;q=0.9, */*;q=0.8")
                .body(Full::default()),
            #[cfg(feature = "revocation")]
            Self::Post { form, authorization } => {
                let mut builder = builder
                    .method(http::Method::POST)
                    .header(header::ACCEPT, "application/json")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                if let Some(authorization) = authorization {
                    let mut value = http::HeaderValue::try_from(authorization.as_str())?;
                    value.set_sensitive(true);
                    builder = builder.header(header::AUTHORIZATION, value);
                }
                builder.body(Full::new(form.clone()))
            }
        }
    }
}

/// A response as read, before [`Mode::Get`]'s rules make it a [`Fetched`].
struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
    max_age: Option<Duration>,
    retry_after: Option<Duration>,
}

impl Answer {
    fn probed(self) -> Probed {
        Probed {
            status: self.status,
            location: self.location,
            body: self.body,
            retry_after: self.retry_after,
        }
    }
}

/// The answer to a probe: whatever the server said, redirects not followed.
#[derive(Debug)]
pub(crate) struct Probed {
    pub(crate) status: StatusCode,
    /// The `Location` header, when it is visible ASCII.
    pub(crate) location: Option<String>,
    /// The body, at most the size cap.
    pub(crate) body: Bytes,
    /// `Retry-After` in seconds (RFC 9110 section 10.2.3), if given so.
    #[cfg_attr(not(feature = "revocation"), allow(dead_code))]
    pub(crate) retry_after: Option<Duration>,
}

/// The answer to a GET: the body of a `200 OK`, and how long the server says it stays fresh.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) body: Bytes,
    /// The `max-age` directive of `Cache-Control` (RFC 9111 section 5.2.2.1), if any.
    #[cfg_attr(not(feature = "provider-logout"), allow(dead_code))]
    pub(crate) max_age: Option<Duration>,
}

/// The first `max-age=<seconds>` among the `Cache-Control` fields (RFC 9111:
/// with several, the first may be used); `None` when there is none or it is
/// not a number. Other directives are not read.
fn cache_max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for directive in directives {
        let Some((name, value)) = directive.split_once('=') else { continue };
        if !name.trim().eq_ignore_ascii_case("max-age") {
            continue;
        }
        // A recipient accepts the quoted form too (RFC 9111 section 5.2).
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Past u64 seconds is "forever"; the caller clamps it anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    None
}

/// `Retry-After` as a number of seconds; the HTTP-date form is not read
/// (`None`: the caller does not retry).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

/// Resolves the host and connects to the first address that answers.
async fn connect(url: &Url, url_text: &str) -> Result<TcpStream, FetchError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![(ip, port).into()],
        Some(Host::Ipv6(ip)) => vec![(ip, port).into()],
        Some(Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|source| FetchError::Resolve { host: domain.to_owned(), source })?
            .collect(),
        None => Vec::new(),
    };
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = error,
        }
    }
    Err(FetchError::Connect { url: url_text.to_owned(), source: last_error })
}

fn server_name(url: &Url, url_text: &str) -> Result<ServerName<'static>, FetchError> {
    let name = match url.host() {
        Some(Host::Ipv4(ip)) => Some(ServerName::from(std::net::IpAddr::from(ip))),
        Some(Host::Ipv6(ip)) => Some(ServerName::from(std::net::IpAddr::from(ip))),
        Some(Host::Domain(domain)) => ServerName::try_from(domain.to_owned()).ok(),
        None => None,
    };
    name.ok_or_else(|| FetchError::Tls {
        url: url_text.to_owned(),
        source: io::Error::new(
            io::ErrorKind::InvalidInput,
            "the host is not a valid TLS server name",
        ),
    })
}

/// A refused certificate becomes [`FetchError::UntrustedCertificate`]; anything else [`FetchError::Tls`].
fn tls_error(url_text: &str, error: io::Error) -> FetchError {
    let rustls_error = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(reason)) => FetchError::UntrustedCertificate {
            url: url_text.to_owned(),
            reason: reason.to_string(),
        },
        _ => FetchError::Tls { url: url_text.to_owned(), source: error },
    }
}

fn url_path(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Ends the spawned connection task when the fetch ends, however it ends.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why the GET failed; [`DiscoveryError`] and the key set's error each say it in their words.
#[derive(Debug)]
pub(crate) enum FetchError {
    NoTokioRuntime,
    InvalidRootCertificate { reason: String },
    Resolve { host: String, source: io::Error },
    Connect { url: String, source: io::Error },
    ConnectTimeout { url: String, timeout: Duration },
    UntrustedCertificate { url: String, reason: String },
    Tls { url: String, source: io::Error },
    Http { url: String, source: BoxError },
    Timeout { url: String, timeout: Duration },
    Redirect { url: String, status: u16, location: Option<String> },
    Status { url: String, status: u16 },
    TooLarge { url: String, limit: usize },
}

impl FetchError {
    /// Why the request failed, in a few words, naming no URL.
    pub(crate) fn reason(&self) -> String {
        match self {
            FetchError::NoTokioRuntime => {
                "no Tokio runtime (run the preflight from a Tokio task)".into()
            }
            FetchError::InvalidRootCertificate { reason } => {
                format!("an extra root certificate was refused ({reason})")
            }
            FetchError::Resolve { host, source } => {
                format!("`{host}` could not be resolved ({source})")
            }
            FetchError::Connect { source, .. } => format!("the connection failed ({source})"),
            FetchError::ConnectTimeout { timeout, .. } => {
                format!("no connection within {timeout:?}")
            }
            FetchError::UntrustedCertificate { reason, .. } => {
                format!("its TLS certificate is not trusted ({reason})")
            }
            FetchError::Tls { source, .. } => format!("TLS failed ({source})"),
            FetchError::Http { source, .. } => format!("HTTP failed ({source})"),
            FetchError::Timeout { timeout, .. } => format!("no answer within {timeout:?}"),
            FetchError::Redirect { status, .. } => format!("a {status} redirect"),
            FetchError::Status { status, .. } => format!("status {status}"),
            FetchError::TooLarge { limit, .. } => {
                format!("the answer is larger than {limit} bytes")
            }
        }
    }
}

impl From<FetchError> for DiscoveryError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::NoTokioRuntime => Self::NoTokioRuntime,
            FetchError::InvalidRootCertificate { reason } => {
                Self::InvalidRootCertificate { reason }
            }
            FetchError::Resolve { host, source } => Self::Resolve { host, source },
            FetchError::Connect { url, source } => Self::Connect { url, source },
            FetchError::ConnectTimeout { url, timeout } => Self::ConnectTimeout { url, timeout },
            FetchError::UntrustedCertificate { url, reason } => {
                Self::UntrustedCertificate { url, reason }
            }
            FetchError::Tls { url, source } => Self::Tls { url, source },
            FetchError::Http { url, source } => Self::Http { url, source },
            FetchError::Timeout { url, timeout } => Self::Timeout { url, timeout },
            FetchError::Redirect { url, status, location } => {
                Self::Redirect { url, status, location }
            }
            FetchError::Status { url, status } => Self::Status { url, status },
            FetchError::TooLarge { url, limit } => Self::TooLarge { url, limit },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    #[test]
    fn the_discovery_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let discovery = Discovery::new();
        assert_send(&discovery.discover("https://op.example"));
    }

    #[test]
    fn outside_a_tokio_runtime_it_is_an_error_not_a_panic() {
        let discovery = Discovery::new();
        let mut future = std::pin::pin!(discovery.discover("https://op.example"));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            future.as_mut().poll(&mut context),
            std::task::Poll::Ready(Err(DiscoveryError::NoTokioRuntime))
        ));
    }

    #[test]
    fn the_error_can_cross_threads_and_be_boxed() {
        fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
        assert_error::<DiscoveryError>();
    }

    #[test]
    fn defaults_are_documented_values() {
        let discovery = Discovery::default();
        assert_eq!(discovery.connect_timeout, Duration::from_secs(5));
        assert_eq!(discovery.timeout, Duration::from_secs(10));
        assert_eq!(discovery.max_document_len, 64 * 1024);
    }

    #[test]
    fn a_bad_extra_root_is_a_typed_error() {
        let discovery = Discovery::new().add_root_certificate(b"not a certificate".to_vec());
        assert!(matches!(
            discovery
                .tls_connector("https://op.example/.well-known/openid-configuration")
                .map_err(DiscoveryError::from),
            Err(DiscoveryError::InvalidRootCertificate { .. })
        ));
    }

    #[test]
    fn the_cache_control_max_age_is_read() {
        let headers = |values: &[&str]| {
            let mut map = http::HeaderMap::new();
            for value in values {
                map.append(header::CACHE_CONTROL, value.parse().unwrap());
            }
            map
        };
        let secs = |values: &[&str]| cache_max_age(&headers(values)).map(|age| age.as_secs());
        assert_eq!(secs(&["max-age=300"]), Some(300));
        assert_eq!(secs(&["public, MAX-AGE=60, must-revalidate"]), Some(60));
        assert_eq!(secs(&["public", "max-age=\"120\""]), Some(120));
        assert_eq!(secs(&["max-age=10", "max-age=20"]), Some(10));
        assert_eq!(secs(&["s-maxage=600, max-age=0"]), Some(0));
        assert_eq!(secs(&["max-age=99999999999999999999999"]), Some(u64::MAX));
        for none in [&[][..], &["no-store"], &["no-cache"], &["max-age=-1"], &["max-age=1h"]] {
            assert_eq!(secs(none), None, "{none:?}");
        }
    }

    #[test]
    fn requests_carry_the_path_and_authority() {
        let url = Url::parse("https://op.example:8443/realms/a/.well-known/openid-configuration")
            .unwrap();
        assert_eq!(url_path(&url), "/realms/a/.well-known/openid-configuration");
        assert_eq!(authority(&url), "op.example:8443");
        let url = Url::parse("http://[::1]/.well-known/openid-configuration").unwrap();
        assert_eq!(authority(&url), "[::1]");
    }
}
