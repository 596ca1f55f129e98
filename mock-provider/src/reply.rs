//! The mock's responses: JSON errors, HTML pages and redirects, all `no-store`.

use axum::{
    body::Body,
    http::{
        HeaderValue, Response, StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, SET_COOKIE, WWW_AUTHENTICATE},
    },
};
use serde_json::{Value, json};
use url::form_urlencoded;

/// The body Next Identity documents for an incorrect `client_id`.
pub(super) const FORBIDDEN_BODY: &str =
    r#"{"error":"http_exception","error_details":{"message":"Forbidden"}}"#;

fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `response` with `Cache-Control: no-store` unless it has a `Cache-Control` already.
pub(super) async fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .entry(CACHE_CONTROL)
        .or_insert_with(|| HeaderValue::from_static("no-store"));
    response
}

/// `403` with exactly the documented body.
pub(super) fn forbidden() -> Response<Body> {
    response(StatusCode::FORBIDDEN, "application/json", FORBIDDEN_BODY.to_owned())
}

/// `400` in the documented error shape (the code and message are our assumption).
pub(super) fn invalid_request(message: &str) -> Response<Body> {
    let body = format!(
        r#"{{"error":"invalid_request","error_details":{{"message":"{}"}}}}"#,
        json_escape(message)
    );
    response(StatusCode::BAD_REQUEST, "application/json", body)
}

/// A JSON document given as text, served as is.
pub(super) fn json_text(status: StatusCode, document: String) -> Response<Body> {
    let mut response = response(status, "application/json", document);
    response.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON document (`200` for discovery, the JWKS and tokens).
pub(super) fn json(status: StatusCode, document: &Value) -> Response<Body> {
    let mut response = response(status, "application/json", document.to_string());
    // RFC 6749 5.1 names both for token responses; harmless elsewhere.
    response.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An OAuth 2.0 error (RFC 6749 5.2): `{"error": .., "error_description": ..}`.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json(status, &json!({ "error": error, "error_description": description }))
}

/// `401 invalid_client` with the challenge RFC 6749 5.2 asks for.
pub(super) fn invalid_client(description: &str) -> Response<Body> {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"mock-provider\""));
    response
}

/// `200` with an HTML page.
pub(super) fn page(title: &str, body_html: &str) -> Response<Body> {
    page_with_status(StatusCode::OK, title, body_html)
}

/// An HTML page with the given status.
pub(super) fn page_with_status(status: StatusCode, title: &str, body_html: &str) -> Response<Body> {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto\">\n\
         <p><small>Mock Next Identity provider</small></p>\n<h1>{title}</h1>\n{body_html}\n</body></html>\n",
        title = html_escape(title)
    );
    response(status, "text/html; charset=utf-8", body)
}

/// A redirect with the given status to `location`, setting `cookie` if any.
/// `None` if `location` cannot be a header value.
pub(super) fn redirect(
    status: StatusCode,
    location: &str,
    cookie: Option<HeaderValue>,
) -> Option<Response<Body>> {
    let location = HeaderValue::try_from(location).ok()?;
    let mut response = response(status, "text/plain; charset=utf-8", String::new());
    response.headers_mut().insert(LOCATION, location);
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    Some(response)
}

/// `uri` with `pairs` appended to its query (form-encoded), before any fragment.
pub(super) fn with_query<'a>(
    uri: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let (base, fragment) = match uri.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (uri, None),
    };
    let mut added = form_urlencoded::Serializer::new(String::new());
    added.extend_pairs(pairs);
    let separator = match base.split_once('?') {
        None => "?",
        Some((_, "")) => "",
        Some((_, query)) if query.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut location = format!("{base}{separator}{}", added.finish());
    if let Some(fragment) = fragment {
        location.push('#');
        location.push_str(fragment);
    }
    location
}

pub(super) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }
}
