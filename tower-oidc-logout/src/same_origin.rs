//! The cross-site rule of the logout route: sign-out is a state change, so
//! only the app's own pages (and origins it trusts) may ask for it.

use http::{HeaderMap, HeaderName, HeaderValue, header::ORIGIN};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The origins whose pages may post to the logout route.
///
/// A request passes when:
/// - its `Sec-Fetch-Site` (sent by every current browser) is `same-origin`,
///   or `none` (the user typed or bookmarked the URL);
/// - its `Sec-Fetch-Site` is `same-site` or `cross-site` and its `Origin` is
///   trusted: the app's own (the origin of `post_logout_redirect_uri`, or
///   `app_origin`) or one added with `trust_origin`;
/// - it has no `Sec-Fetch-Site` and either no `Origin` or a trusted one.
///   Browsers send `Origin` on every cross-site `POST`, so a request with
///   neither header does not come from a browser that could be tricked into
///   sending it with the user's cookies.
///
/// Anything else is refused (`403 cross_site`) before anything changes.
/// `Origin: null` (sandboxed frames, some redirects) is never trusted;
/// origins compare ASCII case-insensitively. `Host` and `X-Forwarded-*` are
/// never read: the app's origin is configuration.
#[derive(Debug, Clone)]
pub(crate) struct SameOrigin {
    trusted: Vec<String>,
}

impl SameOrigin {
    /// `trusted`: serialised origins (`https://app.example`), the app's own first.
    pub(crate) fn new(trusted: Vec<String>) -> Self {
        Self { trusted }
    }

    /// Whether a request with these headers may sign the user out.
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let trusted_origin = || {
            headers
                .get(ORIGIN)
                .and_then(|origin| origin.to_str().ok())
                .is_some_and(|origin| self.trusted.iter().any(|t| t.eq_ignore_ascii_case(origin)))
        };
        match headers.get(SEC_FETCH_SITE).map(HeaderValue::as_bytes) {
            Some(b"same-origin" | b"none") => true,
            Some(_) => trusted_origin(),
            None => !headers.contains_key(ORIGIN) || trusted_origin(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (HeaderName::from_static(name), HeaderValue::from_static(value)))
            .collect()
    }

    #[test]
    fn follows_fetch_metadata_then_origin() {
        let rule =
            SameOrigin::new(vec!["https://app.example".into(), "https://www.app.example".into()]);
        let cases: [(&[(&str, &str)], bool); 11] = [
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "none")], true),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")], false),
            (&[("sec-fetch-site", "same-site"), ("origin", "https://www.app.example")], true),
            (&[("sec-fetch-site", "same-site"), ("origin", "HTTPS://APP.EXAMPLE")], true),
            (&[("origin", "https://app.example")], true),
            (&[("origin", "https://evil.example")], false),
            (&[("origin", "null")], false),
            (&[("sec-fetch-site", "same-site"), ("origin", "null")], false),
            (&[], true),
        ];
        for (pairs, allowed) in cases {
            assert_eq!(rule.allows(&headers(pairs)), allowed, "{pairs:?}");
        }
    }
}
