//! The end-session URL: the provider's endpoint with `client_id`,
//! `post_logout_redirect_uri` and `ui_locales`, fixed when the layer is
//! built, then per sign-out the `state` and whichever hints fit the cap.
//!
//! OpenID Connect RP-Initiated Logout 1.0, section 2: the provider compares
//! `post_logout_redirect_uri` byte for byte with a registered value, so it is
//! sent exactly as configured; any query already on the endpoint is kept.

use url::{Url, form_urlencoded};

use crate::{error::ConfigError, hook::LogoutHints, state::STATE_PARAM_LEN};

/// Default cap on the end-session URL, in bytes.
///
/// Proxies and servers commonly refuse request lines over 8 KiB; half of
/// that leaves room for the provider's own redirects.
pub const DEFAULT_MAX_END_SESSION_URL_LEN: usize = 4096;

/// Next Identity's documented end-session endpoint for an integration's base
/// domain (`id.eu.nextreason.com`, with or without `https://` and a trailing `/`).
pub(crate) fn next_identity_endpoint(base_domain: &str) -> String {
    let base = base_domain.trim_end_matches('/');
    let base = base.strip_prefix("https://").unwrap_or(base);
    format!("https://{base}/endsession")
}

/// The part of the end-session URL that is the same for every sign-out.
#[derive(Debug, Clone)]
pub(crate) struct EndSessionUrl {
    /// The endpoint with its fixed parameters, up to (excluding) `&state=`.
    base: String,
    max_len: usize,
}

impl EndSessionUrl {
    /// Adds the fixed parameters to `endpoint` (already checked to be `https`
    /// or loopback `http`), and checks that a URL with a `state` fits `max_len`.
    pub(crate) fn new(
        mut endpoint: Url,
        client_id: &str,
        post_logout_redirect_uri: &str,
        ui_locales: Option<&str>,
        max_len: usize,
    ) -> Result<Self, ConfigError> {
        if let Some(locales) = ui_locales {
            let tag_chars = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b' ';
            if locales.trim().is_empty() || !locales.bytes().all(tag_chars) {
                return Err(ConfigError::InvalidUiLocales(locales.to_owned()));
            }
        }
        {
            let mut query = endpoint.query_pairs_mut();
            query.append_pair("client_id", client_id);
            query.append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
            if let Some(locales) = ui_locales {
                query.append_pair("ui_locales", locales);
            }
        }
        let base = String::from(endpoint);
        let needed = base.len() + "&state=".len() + STATE_PARAM_LEN;
        if needed > max_len {
            return Err(ConfigError::UrlCapTooSmall { needed, cap: max_len });
        }
        Ok(Self { base, max_len })
    }

    /// The URL for one sign-out: the fixed part, `state`, then each hint
    /// that keeps the URL within the cap. A hint that does not fit is
    /// dropped, never truncated: `id_token_hint` (often kilobytes) first,
    /// then `logout_hint` is still sent if it fits.
    pub(crate) fn with_state(&self, state: &[u8], hints: &LogoutHints) -> Vec<u8> {
        // Exact without hints, so the header value takes the buffer as is.
        let mut url = Vec::with_capacity(self.base.len() + "&state=".len() + state.len());
        url.extend_from_slice(self.base.as_bytes());
        url.extend_from_slice(b"&state=");
        url.extend_from_slice(state);
        let hints = [("id_token_hint", &hints.id_token_hint), ("logout_hint", &hints.logout_hint)];
        for (name, value) in hints {
            let Some(value) = value else { continue };
            let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            if url.len() + 2 + name.len() + encoded.len() <= self.max_len {
                url.push(b'&');
                url.extend_from_slice(name.as_bytes());
                url.push(b'=');
                url.extend_from_slice(encoded.as_bytes());
            }
        }
        url
    }

    #[cfg(test)]
    pub(crate) fn base(&self) -> &str {
        &self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(
        endpoint: &str,
        locales: Option<&str>,
        max_len: usize,
    ) -> Result<EndSessionUrl, ConfigError> {
        let endpoint = Url::parse(endpoint).unwrap();
        EndSessionUrl::new(endpoint, "client", "https://app.example/cb?a=1&b", locales, max_len)
    }

    #[test]
    fn next_identity_is_base_domain_plus_endsession() {
        for base in ["id.eu.nextreason.com", "https://id.eu.nextreason.com/"] {
            assert_eq!(next_identity_endpoint(base), "https://id.eu.nextreason.com/endsession");
        }
    }

    #[test]
    fn keeps_the_endpoints_query_and_sends_the_redirect_exactly() {
        let url = url("https://op.example/logout?tenant=t1", Some("fr-CA fr"), 4096).unwrap();
        let sent = Url::parse(url.base()).unwrap();
        let pairs: Vec<_> = sent.query_pairs().collect();
        assert_eq!(pairs[0], ("tenant".into(), "t1".into()));
        assert_eq!(pairs[1], ("client_id".into(), "client".into()));
        assert_eq!(
            pairs[2],
            ("post_logout_redirect_uri".into(), "https://app.example/cb?a=1&b".into())
        );
        assert_eq!(pairs[3], ("ui_locales".into(), "fr-CA fr".into()));
    }

    #[test]
    fn hints_that_do_not_fit_are_dropped_not_truncated() {
        let url = url("https://op.example/endsession", None, 400).unwrap();
        let state = [b'A'; STATE_PARAM_LEN];
        let hints = LogoutHints::new().id_token_hint("x".repeat(500)).logout_hint("ann");
        let sent = String::from_utf8(url.with_state(&state, &hints)).unwrap();
        assert!(sent.len() <= 400, "{}", sent.len());
        assert!(!sent.contains("id_token_hint"), "{sent}");
        assert!(sent.ends_with(&format!("&state={}&logout_hint=ann", "A".repeat(STATE_PARAM_LEN))));
        let fits = LogoutHints::new().id_token_hint("eyJ.a.b");
        let sent = String::from_utf8(url.with_state(&state, &fits)).unwrap();
        assert!(sent.ends_with("&id_token_hint=eyJ.a.b"), "{sent}");
    }

    #[test]
    fn refuses_a_cap_without_room_for_the_state_and_bad_locales() {
        assert!(matches!(
            url("https://op.example/endsession", None, 64),
            Err(ConfigError::UrlCapTooSmall { cap: 64, .. })
        ));
        for bad in ["", " ", "en;fr", "en\nfr"] {
            assert!(matches!(
                url("https://op.example/endsession", Some(bad), 4096),
                Err(ConfigError::InvalidUiLocales(_))
            ));
        }
    }
}
