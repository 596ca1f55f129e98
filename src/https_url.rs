//! The rule every configured or discovered URL follows: absolute `https`, or
//! plain `http` on a loopback host for development; no credentials, no
//! fragment, nothing a provider's exact comparison would trip on.

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

/// `localhost`, `127.0.0.0/8` or `::1`: where plain `http` is allowed, for development.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
