//! The mock's responses: JSON errors, HTML pages and redirects, all `no-store`.

use axum::{
    body::Body,
    http::{
        HeaderValue, Response, StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE},
    },
};

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

/// `200` with an HTML page.
pub(super) fn page(title: &str, body_html: &str) -> Response<Body> {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto\">\n\
         <p><small>Mock Next Identity provider</small></p>\n<h1>{title}</h1>\n{body_html}\n</body></html>\n",
        title = html_escape(title)
    );
    response(StatusCode::OK, "text/html; charset=utf-8", body)
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
