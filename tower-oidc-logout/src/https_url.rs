//! The rule every configured or discovered URL follows: absolute `https`, or
//! plain `http` on a loopback host for development; no credentials, no
//! fragment, nothing a provider's exact comparison would trip on.
//!
//! An endpoint of a provider (what its discovery document names, or a
//! `jwks_uri` beside its issuer) follows one more rule, [`parse_endpoint`]:
//! plain `http` only when the issuer itself is plain `http` on loopback. An
//! `https` provider's document naming `http://127.0.0.1:.../jwks` would
//! otherwise let anyone who can POST a logout token with a made-up `kid`
//! make the app GET a local URL.

use url::{Host, Url};

/// Parses `text` as a URL the crate may send browsers to or fetch from, or
/// says what is wrong with it (a reason that completes "... is not usable: ").
pub(crate) fn parse(text: &str) -> Result<Url, &'static str> {
    if text.trim() != text || text.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(
            "it holds spaces or control characters; it must be given exactly as registered",
        );
    }
    let url = Url::parse(text).map_err(|_| "it is not an absolute URL")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(
                "use `https` (plain `http` is accepted on localhost, 127.0.0.1 and [::1] only)",
            );
        }
        _ => return Err("the scheme must be `https`"),
    }
    if url.fragment().is_some() || text.contains('#') {
        return Err("a URL with a `#fragment` cannot carry query parameters reliably: remove it");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not hold credentials");
    }
    Ok(url)
}

/// [`parse`], and plain `http` only when `issuer` is itself plain `http` on a
/// loopback host (a development provider): the rule for every endpoint a
/// provider names.
#[cfg(feature = "discovery")]
pub(crate) fn parse_endpoint(text: &str, issuer: &str) -> Result<Url, &'static str> {
    let url = parse(text)?;
    let issuer_is_local_http =
        Url::parse(issuer).is_ok_and(|issuer| issuer.scheme() == "http" && is_loopback(&issuer));
    if url.scheme() == "http" && !issuer_is_local_http {
        return Err(
            "plain `http` (even on loopback) is accepted only when the issuer is itself plain `http` on loopback; an `https` issuer's endpoints must be `https`",
        );
    }
    Ok(url)
}

/// `localhost`, `127.0.0.0/8` or `::1`: where plain `http` is allowed, for development.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_issuers_endpoints_are_https_even_on_loopback() {
        for endpoint in ["http://127.0.0.1:9/jwks", "http://localhost/jwks", "http://[::1]/jwks"] {
            for issuer in ["https://op.example", "https://127.0.0.1", "http://op.example", "x"] {
                assert!(parse_endpoint(endpoint, issuer).is_err(), "{endpoint} of {issuer}");
            }
            for issuer in ["http://127.0.0.1:8080", "http://localhost:3001/realm", "http://[::1]"] {
                assert!(parse_endpoint(endpoint, issuer).is_ok(), "{endpoint} of {issuer}");
            }
        }
        for issuer in ["https://op.example", "http://127.0.0.1:8080"] {
            assert!(parse_endpoint("https://op.example/jwks", issuer).is_ok(), "{issuer}");
            assert!(parse_endpoint("http://op.example/jwks", issuer).is_err(), "{issuer}");
        }
    }
}
