//! The cookies the middleware writes and reads: removals, the state cookie, parsing.
//!
//! Every attribute is written by [`attributes`] alone. `Set-Cookie` is written
//! by hand, not with the `cookie` crate, for speed alone: building the state
//! cookie with its builder made a sign-out cost 17,989 instructions instead of
//! 14,061 (+3,928, +28%, callgrind, 2026-11-30; removals are built once, at
//! start-up). Request cookies are read from the raw bytes ([`request_cookies`]).

use http::{HeaderMap, HeaderValue, header::COOKIE};

use crate::error::ConfigError;

/// A local cookie that sign-out expires.
///
/// A browser deletes a cookie only when the removal repeats its name, `Path`
/// and `Domain` exactly, so describe each cookie as the app sets it. The
/// removal is marked `Secure` on an `https` app and always for `__Secure-` and
/// `__Host-` names, whatever their case (browsers match the prefixes
/// case-insensitively and ignore a prefixed cookie without `Secure`).
/// A `Partitioned` cookie can only be removed by a partitioned removal: say
/// so with [`partitioned`](Self::partitioned).
///
/// ```
/// use tower_oidc_logout::SessionCookie;
///
/// // `id=...; Path=/; Domain=example.com`, and an older host-only `id` too.
/// let cookie = SessionCookie::new("id").domain("example.com").also_host_only();
/// # let _ = cookie;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    name: String,
    path: String,
    domain: Option<String>,
    also_host_only: bool,
    partitioned: bool,
}

impl SessionCookie {
    /// A cookie called `name`, set with `Path=/` and no `Domain` (host-only).
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: "/".to_owned(),
            domain: None,
            also_host_only: false,
            partitioned: false,
        }
    }

    /// The `Path` the app sets the cookie with (default `/`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The `Domain` the app sets the cookie with (default: none, host-only).
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Also expire the host-only cookie of the same name.
    ///
    /// A host-only cookie and a `Domain=` cookie of one name are two cookies;
    /// use this when both may exist (e.g. after the app moved from one to the
    /// other). Needs [`domain`](Self::domain).
    #[must_use]
    pub fn also_host_only(mut self) -> Self {
        self.also_host_only = true;
        self
    }

    /// The app sets the cookie with `Partitioned` (CHIPS): its removal is
    /// partitioned too, and `Secure` as partitioned cookies must be.
    #[must_use]
    pub fn partitioned(mut self) -> Self {
        self.partitioned = true;
        self
    }

    /// The `Set-Cookie` values that expire this cookie in the browser.
    pub(crate) fn removals(&self, secure_site: bool) -> Result<Vec<HeaderValue>, ConfigError> {
        let invalid = |reason| ConfigError::InvalidCookie { name: self.name.clone(), reason };
        if !is_token(&self.name) {
            return Err(invalid(
                "the name must be a non-empty HTTP token (no spaces, `;`, `=`, `,` or quotes)",
            ));
        }
        if !self.path.starts_with('/') || !is_attribute_value(&self.path) {
            return Err(invalid(
                "the path must start with `/` and hold no `;`, spaces or control characters",
            ));
        }
        if let Some(domain) = &self.domain
            && (domain.is_empty() || !is_attribute_value(domain) || domain.contains(['/', ':']))
        {
            return Err(invalid("the domain must be a bare host name like `example.com`"));
        }
        let host_prefix = has_prefix(&self.name, "__Host-");
        if host_prefix && (self.domain.is_some() || self.path != "/") {
            return Err(invalid(
                "a `__Host-` cookie has `Path=/` and no `Domain`: browsers refuse any other",
            ));
        }
        if self.also_host_only && self.domain.is_none() {
            return Err(invalid(
                "`also_host_only` needs a `domain`: without one the cookie is host-only already",
            ));
        }
        let secure =
            secure_site || host_prefix || has_prefix(&self.name, "__Secure-") || self.partitioned;
        let removal = |domain| {
            let attributes = attributes(None, &self.path, domain, secure, self.partitioned);
            set_cookie([self.name.as_bytes(), b""], 0, |_| {}, &attributes)
        };
        let mut removals = vec![removal(self.domain.as_deref())];
        if self.also_host_only {
            removals.push(removal(None));
        }
        Ok(removals)
    }
}

/// The state cookie's name and attributes, fixed by the callback's scheme.
#[derive(Debug, Clone)]
pub(crate) struct StateCookies {
    /// `__Host-oidc-logout-` on https, `oidc-logout-` on plain-http loopback.
    prefix: &'static str,
    set_attributes: String,
    removal_attributes: String,
}

/// Characters of the `state` that name its cookie: 48 bits, so tabs do not collide.
const NAME_STATE_CHARS: usize = 8;

impl StateCookies {
    pub(crate) fn new(secure: bool, max_age_secs: u64) -> Self {
        let prefix = if secure { "__Host-oidc-logout-" } else { "oidc-logout-" };
        Self {
            prefix,
            set_attributes: attributes(Some(max_age_secs), "/", None, secure, false),
            removal_attributes: attributes(None, "/", None, secure, false),
        }
    }

    /// The name of the cookie that holds the sealed `state`.
    pub(crate) fn name<'s>(&self, state: &'s [u8]) -> StateCookieName<'s> {
        let id = state.get(..NAME_STATE_CHARS).unwrap_or(state);
        StateCookieName { prefix: self.prefix, id }
    }

    /// Whether any `Cookie` header may hold one of ours: a quick look that
    /// spares parsing the cookies of the many requests that hold none.
    pub(crate) fn any_in(&self, headers: &HeaderMap) -> bool {
        // Eight bytes compared at once, then four: no search set-up, no memcmp.
        let head = u64::from_le_bytes(*b"oidc-log");
        let tail = u32::from_le_bytes(*b"out-");
        headers.get_all(COOKIE).iter().any(|value| {
            value.as_bytes().windows(12).any(|w| {
                w.first_chunk().map(|h| u64::from_le_bytes(*h)) == Some(head)
                    && w.last_chunk().map(|t| u32::from_le_bytes(*t)) == Some(tail)
            })
        })
    }

    /// Whether a request cookie called `name` is one of ours: our prefix,
    /// then the characters a `state` starts with (so its removal is a valid
    /// `Set-Cookie`, whatever else was planted).
    pub(crate) fn is_state_cookie(&self, name: &[u8]) -> bool {
        name.strip_prefix(self.prefix.as_bytes()).is_some_and(|id| {
            id.len() == NAME_STATE_CHARS
                && id.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }

    /// `Set-Cookie` for a freshly sealed state: HttpOnly, SameSite=Lax (the
    /// callback is a cross-site navigation), `Path=/`, short `Max-Age`.
    /// `seal` appends the `sealed_len` bytes of the value.
    pub(crate) fn set(
        &self,
        name: StateCookieName<'_>,
        sealed_len: usize,
        seal: impl FnOnce(&mut Vec<u8>),
    ) -> HeaderValue {
        set_cookie([name.prefix.as_bytes(), name.id], sealed_len, seal, &self.set_attributes)
    }

    /// `Set-Cookie` that expires the state cookie called `name` (one that
    /// passed [`is_state_cookie`](Self::is_state_cookie)).
    pub(crate) fn removal(&self, name: &[u8]) -> HeaderValue {
        set_cookie([name, b""], 0, |_| {}, &self.removal_attributes)
    }

    /// `Set-Cookie` that expires the state cookie `name`.
    pub(crate) fn removal_of(&self, name: StateCookieName<'_>) -> HeaderValue {
        set_cookie([name.prefix.as_bytes(), name.id], 0, |_| {}, &self.removal_attributes)
    }
}

/// A state cookie's name, in two parts so that naming one allocates nothing:
/// our prefix and the first characters of its state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateCookieName<'s> {
    prefix: &'static str,
    id: &'s [u8],
}

impl StateCookieName<'_> {
    /// Whether a request cookie called `name` is this one.
    pub(crate) fn is(&self, name: &[u8]) -> bool {
        name.strip_prefix(self.prefix.as_bytes()) == Some(self.id)
    }
}

/// One place writes every cookie's attributes. A removal (`max_age_secs:
/// None`) repeats the cookie's `Path` and `Domain`, is `Secure` where the
/// prefix or site needs it, and is expired twice over (`Max-Age=0` and a past
/// `Expires`) for old browsers, and `Partitioned` when the cookie is. Inputs
/// were checked to be visible ASCII without `;`.
fn attributes(
    max_age_secs: Option<u64>,
    path: &str,
    domain: Option<&str>,
    secure: bool,
    partitioned: bool,
) -> String {
    let mut text = match max_age_secs {
        Some(secs) => format!("; Max-Age={secs}"),
        None => "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
    };
    text.push_str("; Path=");
    text.push_str(path);
    if let Some(domain) = domain {
        text.push_str("; Domain=");
        text.push_str(domain);
    }
    text.push_str("; HttpOnly; SameSite=Lax");
    if secure {
        text.push_str("; Secure");
    }
    if partitioned {
        text.push_str("; Partitioned");
    }
    text
}

/// Whether `name` starts with a cookie prefix, compared as browsers do: in any case.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// `name=value; attributes`, in one buffer of exactly the right size;
/// `value` appends the `value_len` bytes of the value.
fn set_cookie(
    name: [&[u8]; 2],
    value_len: usize,
    value: impl FnOnce(&mut Vec<u8>),
    attributes: &str,
) -> HeaderValue {
    let len = name[0].len() + name[1].len() + 1 + value_len + attributes.len();
    let mut text = Vec::with_capacity(len);
    text.extend_from_slice(name[0]);
    text.extend_from_slice(name[1]);
    text.push(b'=');
    value(&mut text);
    text.extend_from_slice(attributes.as_bytes());
    // Names and attributes were checked to be visible ASCII, and sealed values
    // are base64url, so this never fails; an empty value is the safe fallback.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Every `name=value` pair the request's `Cookie` headers carry, as bytes.
///
/// Read from the raw header bytes: browsers send UTF-8 values as they are
/// (`lang=français`) and other sites of the same domain may plant any bytes,
/// so one odd pair must never hide another (reading the header as text
/// would drop the whole header). Pairs split at `;`, each at its first `=`;
/// names and values are trimmed of ASCII whitespace, values of surrounding
/// quotes; pairs without `=` are skipped.
pub(crate) fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = (&[u8], &[u8])> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|header| header.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (name, value) = (&pair[..eq], &pair[eq + 1..]);
            Some((name.trim_ascii(), trim_quotes(value.trim_ascii())))
        })
}

/// `value` without the `"` at either end (all of them, as `str::trim_matches`).
fn trim_quotes(mut value: &[u8]) -> &[u8] {
    while let [b'"', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b'"'] = value {
        value = rest;
    }
    value
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_attribute_value(value: &str) -> bool {
    value.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[HeaderValue]) -> Vec<&str> {
        values.iter().map(|v| v.to_str().unwrap()).collect()
    }

    #[test]
    fn removal_repeats_path_and_domain() {
        let removals =
            SessionCookie::new("sid").path("/app").domain("example.com").removals(false).unwrap();
        let [only] = text(&removals)[..] else { panic!("one removal expected") };
        assert!(only.starts_with("sid=;"), "{only}");
        for attr in [
            "Path=/app",
            "Domain=example.com",
            "Max-Age=0",
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            assert!(only.contains(attr), "{only} lacks {attr}");
        }
        assert!(!only.contains("Secure"), "{only}");
    }

    #[test]
    fn removal_of_prefixed_cookies_is_secure() {
        for name in ["__Host-sid", "__Secure-sid"] {
            let removals = SessionCookie::new(name).removals(false).unwrap();
            let value = removals[0].to_str().unwrap();
            assert!(value.contains("; Secure"), "{value}");
            assert!(value.contains("Path=/"), "{value}");
            assert!(!value.contains("Domain"), "{value}");
        }
        let https = SessionCookie::new("sid").removals(true).unwrap();
        assert!(https[0].to_str().unwrap().contains("; Secure"));
    }

    #[test]
    fn prefixes_are_recognised_in_any_case() {
        for name in ["__secure-sid", "__SECURE-sid", "__host-sid", "__HoSt-sid"] {
            let removals = SessionCookie::new(name).removals(false).unwrap();
            let value = removals[0].to_str().unwrap();
            assert!(value.contains("; Secure"), "{value}");
        }
        for bad in [
            SessionCookie::new("__host-sid").domain("example.com"),
            SessionCookie::new("__HOST-sid").path("/app"),
        ] {
            assert!(bad.removals(true).is_err(), "{bad:?} should be refused");
        }
        assert!(!has_prefix("__Hos", "__Host-"));
        assert!(!has_prefix("é__Host-", "__Host-"), "no panic off a char boundary");
    }

    #[test]
    fn a_partitioned_cookie_is_removed_partitioned_and_secure() {
        let removals = SessionCookie::new("embed").partitioned().removals(false).unwrap();
        let value = removals[0].to_str().unwrap();
        assert!(value.contains("; Partitioned"), "{value}");
        assert!(value.contains("; Secure"), "{value}");
        let plain = SessionCookie::new("embed").removals(true).unwrap();
        assert!(!plain[0].to_str().unwrap().contains("Partitioned"));
    }

    #[test]
    fn host_only_and_domain_variants_are_both_expired() {
        let removals = SessionCookie::new("sid")
            .domain("example.com")
            .also_host_only()
            .removals(true)
            .unwrap();
        let texts = text(&removals);
        assert_eq!(texts.len(), 2);
        assert!(texts[0].contains("Domain=example.com"));
        assert!(!texts[1].contains("Domain"));
    }

    #[test]
    fn impossible_cookies_are_refused() {
        for bad in [
            SessionCookie::new(""),
            SessionCookie::new("a b"),
            SessionCookie::new("a;b"),
            SessionCookie::new("sid").path("app"),
            SessionCookie::new("sid").path("/a;b"),
            SessionCookie::new("sid").domain("a b"),
            SessionCookie::new("sid").domain("https://example.com"),
            SessionCookie::new("__Host-sid").domain("example.com"),
            SessionCookie::new("__Host-sid").path("/app"),
            SessionCookie::new("sid").also_host_only(),
        ] {
            assert!(
                matches!(bad.removals(true), Err(ConfigError::InvalidCookie { .. })),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn state_cookie_is_host_prefixed_lax_and_http_only_on_https() {
        let cookies = StateCookies::new(true, 300);
        let name = cookies.name(b"abcdefghijklmnopqrstuv");
        assert!(name.is(b"__Host-oidc-logout-abcdefgh"));
        assert!(!name.is(b"__Host-oidc-logout-abcdefg"));
        assert!(cookies.is_state_cookie(b"__Host-oidc-logout-abcdefgh"));
        assert!(cookies.is_state_cookie(b"__Host-oidc-logout-a-_09XYZ"));
        // Only names a state could have: anything else would make a bad removal.
        for bad in [
            &b"__Host-oidc-logout-abcdefg"[..],
            b"__Host-oidc-logout-abcd efg",
            b"__Host-oidc-logout-abcdef\xc3\xa7",
        ] {
            assert!(!cookies.is_state_cookie(bad), "{bad:?}");
        }
        let set = cookies.set(name, 6, |out| out.extend_from_slice(b"sealed"));
        let set = set.to_str().unwrap();
        for attr in [
            "__Host-oidc-logout-abcdefgh=sealed",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=300",
        ] {
            assert!(set.contains(attr), "{set} lacks {attr}");
        }
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; __Host-oidc-logou=2"));
        assert!(!cookies.any_in(&headers));
        headers.append(COOKIE, HeaderValue::from_static("b=1;oidc-logout-abcdefgh=x"));
        assert!(cookies.any_in(&headers));
        let plain = StateCookies::new(false, 60);
        assert!(plain.any_in(&headers));
        assert!(plain.name(b"abcdefghij").is(b"oidc-logout-abcdefgh"));
        assert!(
            !plain
                .set(plain.name(b"abcdefgh"), 1, |out| out.push(b'v'))
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        let removal = cookies.removal_of(name);
        assert!(removal.to_str().unwrap().contains("Max-Age=0"));
        assert!(removal.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn parses_every_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; b=\"2\"; junk"));
        headers.append(COOKIE, HeaderValue::from_static("c=3"));
        let pairs: Vec<_> = request_cookies(&headers).collect();
        assert_eq!(pairs, [(&b"a"[..], &b"1"[..]), (b"b", b"2"), (b"c", b"3")]);
    }

    proptest::proptest! {
        /// Reading pairs from bytes finds exactly what reading UTF-8 text
        /// did (the parser this one replaced), on any header that is text.
        #[test]
        fn reads_text_headers_as_the_text_parser_did(lines in proptest::collection::vec(
            "([ -~\t]|[\u{80}-\u{10ffff}]|[;=\" ]){0,40}", 1..4
        )) {
            let mut headers = HeaderMap::new();
            for line in &lines {
                if let Ok(value) = HeaderValue::from_str(line) {
                    headers.append(COOKIE, value);
                }
            }
            let text: Vec<(&[u8], &[u8])> = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|value| std::str::from_utf8(value.as_bytes()).ok())
                .flat_map(|header| header.split(';'))
                .filter_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    Some((name.trim_ascii().as_bytes(), value.trim_ascii().trim_matches('"').as_bytes()))
                })
                .collect();
            let bytes: Vec<_> = request_cookies(&headers).collect();
            proptest::prop_assert_eq!(bytes, text);
        }
    }

    #[test]
    fn an_odd_cookie_hides_no_other() {
        let mut headers = HeaderMap::new();
        // UTF-8 as browsers send it, and bytes that are not UTF-8 at all.
        let line = b"lang=fran\xc3\xa7ais; oidc-logout-abcdefgh=sealed; x=\xff\xfe; y=2";
        headers.append(COOKIE, HeaderValue::from_bytes(line).unwrap());
        headers.append(COOKIE, HeaderValue::from_bytes(b"\x80=\x81; z=3").unwrap());
        let pairs: Vec<_> = request_cookies(&headers).collect();
        assert_eq!(
            pairs,
            [
                (&b"lang"[..], &b"fran\xc3\xa7ais"[..]),
                (b"oidc-logout-abcdefgh", b"sealed"),
                (b"x", b"\xff\xfe"),
                (b"y", b"2"),
                (b"\x80", b"\x81"),
                (b"z", b"3"),
            ]
        );
    }
}
