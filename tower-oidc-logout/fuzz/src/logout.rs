//! The `logout` target's input: any method, headers, cookies, query and
//! form body. Here rather than in the target so that a test can decode the
//! committed corpus (`tests/corpus.rs`).

use http::{HeaderName, HeaderValue, Method, Request, header};
use libfuzzer_sys::arbitrary::{self, Arbitrary};

use crate::{CookiePart, FuzzBody, cookie_headers, push_pair};

/// The app's origin, as a browser sends it.
pub const APP_ORIGIN: &str = "https://app.example";

#[derive(Arbitrary, Debug)]
pub enum MethodChoice {
    Get,
    Post,
    Head,
    Put,
    Delete,
    Options,
    Other(String),
}

#[derive(Arbitrary, Debug)]
pub enum Name {
    Origin,
    SecFetchSite,
    ContentType,
    Referer,
    Other(String),
}

#[derive(Arbitrary, Debug)]
pub enum Value {
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

/// One pair of the query or the form body.
#[derive(Arbitrary, Debug)]
pub enum Pair {
    ReturnTo(String),
    Safe(u8),
    Other(String, String),
    Raw(Vec<u8>),
}

/// A request at the logout route as the fuzzer describes it.
#[derive(Arbitrary, Debug)]
pub struct Input {
    pub allow_get: bool,
    pub method: MethodChoice,
    pub headers: Vec<(Name, Value)>,
    pub cookies: Vec<CookiePart>,
    pub cookies_per_header: u8,
    pub query: Vec<Pair>,
    pub body: Vec<Pair>,
}

/// Pairs as a query string or form body.
pub fn encode(pairs: &[Pair]) -> Vec<u8> {
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

impl Input {
    /// The request at `/logout`; `None` if the method or URI is not valid.
    pub fn request(&self) -> Option<Request<FuzzBody>> {
        let method = match &self.method {
            MethodChoice::Get => Method::GET,
            MethodChoice::Post => Method::POST,
            MethodChoice::Head => Method::HEAD,
            MethodChoice::Put => Method::PUT,
            MethodChoice::Delete => Method::DELETE,
            MethodChoice::Options => Method::OPTIONS,
            MethodChoice::Other(name) => Method::from_bytes(name.as_bytes()).ok()?,
        };
        let mut headers: Vec<_> = self.headers.iter().filter_map(|(n, v)| header(n, v)).collect();
        headers.extend(
            cookie_headers(&self.cookies, self.cookies_per_header)
                .into_iter()
                .map(|value| (header::COOKIE, value)),
        );
        let query = encode(&self.query);
        let body = encode(&self.body);
        crate::request(method, "/logout", &query, headers, body)
    }
}
