//! An HTTP client for tests that keeps cookies per host and follows
//! redirects, as a browser would: enough to sign in at the mock and sign out
//! of an app over plain HTTP. Not a browser (no scripts, no frames).

use std::{
    collections::{BTreeMap, HashMap},
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
    /// The response header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect points, resolved against the request's URL.
    pub fn location(&self) -> Option<Url> {
        self.url.join(self.header(LOCATION.as_str())?).ok()
    }
}

/// Cookies keyed by host name, as a browser keeps host-only cookies
/// (`127.0.0.1` and `localhost` are different hosts).
///
/// A test tool: it panics on a transport error, an unreadable body or a
/// redirect loop, so that the test fails where the exchange went wrong.
#[allow(missing_debug_implementations)]
pub struct CookieClient {
    client: Client<HttpConnector, Full<Bytes>>,
    jar: HashMap<String, BTreeMap<String, String>>,
    /// Headers sent with every request (e.g. `Origin`, to play a forged cross-site post).
    pub extra_headers: Vec<(&'static str, String)>,
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

    /// The value of cookie `name` kept for `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let host = Url::parse(url).ok()?.host_str()?.to_owned();
        self.jar.get(&host)?.get(name).cloned()
    }

    /// The names of the cookies kept for `url`'s host.
    pub fn cookie_names(&self, url: &str) -> Vec<String> {
        let host = Url::parse(url).unwrap().host_str().unwrap().to_owned();
        self.jar.get(&host).map(|c| c.keys().cloned().collect()).unwrap_or_default()
    }

    /// One request, redirects not followed.
    pub async fn send(&mut self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Page {
        let url = Url::parse(url).expect("absolute URL");
        let host = url.host_str().expect("host").to_owned();
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
            self.store(&host, value.to_str().expect("ASCII Set-Cookie"));
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

    /// A request, then every redirect (at most 10) as a browser follows it.
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
