//! An HTTP client for tests that keeps cookies per host and follows
//! redirects, as a browser would: enough to sign in at the mock and sign out
//! of an app over plain HTTP. Not a browser: no scripts, no frames, no
//! `Path`, `Domain`, `Secure` or `SameSite` rules (every cookie a host set
//! goes back with every request to that host).
//!
//! A test tool, so it panics rather than return errors: on a transport
//! error, a URL that is not absolute, no answer within 10 seconds, an
//! unreadable body or more than 10 redirects, so that the test fails where
//! the exchange went wrong.
//!
//! ```
//! use tower_oidc_logout_mock::{HOSTED_SESSION_COOKIE, MockProvider, browser::CookieClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oidc_logout_mock::MockError> {
//! let provider = MockProvider::builder().serve("127.0.0.1:0").await?;
//! let mut browser = CookieClient::new();
//! let page = browser.get(&format!("{}/login?user=alice", provider.url())).await;
//! assert!(page.url.path().ends_with("/authorize"), "redirected to the hosted-session page");
//! assert!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).is_some());
//! # Ok(())
//! # }
//! ```

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    time::Duration,
};

use bytes::Bytes;
use cookie::{Cookie, time::OffsetDateTime};
use http::{
    HeaderMap, Method, Request, StatusCode,
    header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE},
};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use url::Url;

/// One response, with where it came from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Page {
    /// The status of the last response.
    pub status: StatusCode,
    /// The URL of the last request.
    pub url: Url,
    /// The headers of the last response.
    pub headers: HeaderMap,
    /// The body of the last response, as text (invalid UTF-8 replaced).
    pub body: String,
    /// Every URL visited to get here, the first request included.
    pub visited: Vec<Url>,
}

impl Page {
    /// The response header `name` (the first, if repeated), if present and text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect points (its `Location`), resolved against the request's URL.
    #[must_use]
    pub fn location(&self) -> Option<Url> {
        self.url.join(self.header(LOCATION.as_str())?).ok()
    }
}

/// An HTTP/1.1 client with a cookie jar keyed by host name, as a browser
/// keeps host-only cookies (`127.0.0.1` and `localhost` are different hosts).
///
/// A cookie is stored from `Set-Cookie` and removed by one that expired it
/// (`Max-Age` zero or less, `Expires` in the past); a `Set-Cookie` that is
/// not UTF-8 or not a cookie is ignored.
///
/// # Panics
///
/// Every method given a URL that is not absolute with a host panics, and
/// requests panic on a transport error, no answer within 10 seconds, an
/// unreadable body or more than 10 redirects (a test tool: the test fails
/// where the exchange went wrong).
pub struct CookieClient {
    client: Client<HttpConnector, Full<Bytes>>,
    jar: HashMap<String, BTreeMap<String, String>>,
    /// Headers sent with every request (e.g. `Origin`, to play a forged cross-site post).
    pub extra_headers: Vec<(&'static str, String)>,
}

impl fmt::Debug for CookieClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cookie names only: their values are sessions and secrets.
        let jar: BTreeMap<&str, Vec<&str>> = self
            .jar
            .iter()
            .map(|(host, cookies)| (host.as_str(), cookies.keys().map(String::as_str).collect()))
            .collect();
        let extra: Vec<&str> = self.extra_headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("CookieClient")
            .field("cookies", &jar)
            .field("extra_headers", &extra)
            .finish_non_exhaustive()
    }
}

impl Default for CookieClient {
    fn default() -> Self {
        Self::new()
    }
}

impl CookieClient {
    /// A client with an empty cookie jar.
    #[must_use]
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            jar: HashMap::new(),
            extra_headers: Vec::new(),
        }
    }

    /// The value of cookie `name` kept for `url`'s host, if any.
    #[must_use]
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&host_of(url))?.get(name).cloned()
    }

    /// The names of the cookies kept for `url`'s host, sorted.
    #[must_use]
    pub fn cookie_names(&self, url: &str) -> Vec<String> {
        self.jar.get(&host_of(url)).map(|c| c.keys().cloned().collect()).unwrap_or_default()
    }

    /// One request with the host's cookies and [`extra_headers`](Self::extra_headers),
    /// and `form` as an `application/x-www-form-urlencoded` body if given;
    /// redirects are not followed.
    pub async fn send(&mut self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Page {
        let url = Url::parse(url).unwrap_or_else(|e| panic!("{url}: not an absolute URL: {e}"));
        let host = host_of(url.as_str());
        let mut request = Request::builder().method(method).uri(url.as_str());
        if let Some(cookies) = self.jar.get(&host).filter(|c| !c.is_empty()) {
            let line: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request = request.header(COOKIE, line.join("; "));
        }
        for (name, value) in &self.extra_headers {
            request = request.header(*name, value);
        }
        let body = match form {
            Some(pairs) => {
                request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut encoded = url::form_urlencoded::Serializer::new(String::new());
                encoded.extend_pairs(pairs);
                Full::new(Bytes::from(encoded.finish()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).expect("request");
        let response = tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
            .await
            .unwrap_or_else(|_| panic!("{url}: no answer within 10 s"))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let (parts, body) = response.into_parts();
        for value in parts.headers.get_all(SET_COOKIE) {
            if let Ok(set_cookie) = std::str::from_utf8(value.as_bytes()) {
                self.store(&host, set_cookie);
            }
        }
        let body = body.collect().await.expect("body").to_bytes();
        Page {
            status: parts.status,
            visited: vec![url.clone()],
            url,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// A request, then every redirect (at most 10) as a browser follows it:
    /// with `GET` and no body. The last page, with every URL visited.
    pub async fn follow(
        &mut self,
        method: Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut page = self.send(method, url, form).await;
        let mut visited = page.visited.clone();
        for _ in 0..10 {
            if !page.status.is_redirection() {
                page.visited = visited;
                return page;
            }
            let next = page.location().expect("redirect without a usable Location");
            page = self.send(Method::GET, next.as_str(), None).await;
            visited.push(next);
        }
        panic!("too many redirects: {visited:?}");
    }

    /// `GET url`, following redirects.
    pub async fn get(&mut self, url: &str) -> Page {
        self.follow(Method::GET, url, None).await
    }

    /// `POST url` with a form body, following redirects.
    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        self.follow(Method::POST, url, Some(form)).await
    }

    fn store(&mut self, host: &str, set_cookie: &str) {
        let Ok(cookie) = Cookie::parse(set_cookie.to_owned()) else {
            return;
        };
        let expired = cookie.max_age().is_some_and(|age| age.is_zero() || age.is_negative())
            || cookie.expires_datetime().is_some_and(|at| at <= OffsetDateTime::now_utc());
        let jar = self.jar.entry(host.to_owned()).or_default();
        if expired {
            jar.remove(cookie.name());
        } else {
            jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
        }
    }
}

/// The host name of the absolute URL `url`, the key of its cookies.
fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("{url}: not an absolute URL with a host"))
}
