//! The "where to land after sign-out" target, checked against open redirects.

use std::fmt;

/// Longest return target accepted, in bytes.
pub const MAX_RETURN_TARGET_LEN: usize = 512;

/// A path on the app's own site to land on after sign-out.
///
/// It can only be built from a string that every browser resolves to the
/// app's own origin: it starts with exactly one `/`, and holds only printable
/// ASCII without `\`, with no percent-encoded slash, backslash, `%` or control
/// character, no `.` or `..` path segment (nor a percent-encoded dot in the
/// path), at most [`MAX_RETURN_TARGET_LEN`] bytes. Anything else
/// (`//evil.example`, `/\evil.example`, `/%2F%2Fevil.example`, a tab or
/// newline, `javascript:...`, an absolute URL) is refused rather than
/// repaired.
///
/// It also holds none of `"`, `'`, `<`, `>` and `` ` ``: no legitimate path
/// needs them raw (browsers percent-encode them), and without them a target
/// cannot close an HTML attribute or open a tag. That is a second line of
/// defence, not a licence: an app that writes the target into a page must
/// still escape it for where it goes (HTML text, an attribute, a script, a
/// URL), as it would any other value; `&` in a query, for one, still needs
/// `&amp;` in HTML.
///
/// ```
/// use tower_oidc_logout::ReturnTarget;
///
/// assert!(ReturnTarget::parse("/account?tab=security#top").is_some());
/// assert!(ReturnTarget::parse("//evil.example").is_none());
/// assert!(ReturnTarget::parse("https://evil.example/").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReturnTarget(String);

impl ReturnTarget {
    /// Accepts `target` if it is a safe same-site path, `None` otherwise.
    #[must_use]
    pub fn parse(target: &str) -> Option<Self> {
        is_safe_path(target).then(|| Self(target.to_owned()))
    }

    /// The path, exactly as it was accepted.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as an owned string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for ReturnTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ReturnTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ReturnTarget {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn is_safe_path(target: &str) -> bool {
    let bytes = target.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_RETURN_TARGET_LEN || bytes[0] != b'/' {
        return false;
    }
    // `//host` and `/\host` are protocol-relative to browsers.
    if matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    // Printable ASCII only: browsers strip tabs and newlines anywhere, and
    // treat `\` as `/`, so either could rebuild `//` after our check. No
    // markup characters: a target is often written into a page.
    if !bytes.iter().all(|&b| (0x21..=0x7e).contains(&b) && !b"\\\"'<>`".contains(&b)) {
        return false;
    }
    // `.` and `..` segments keep browsers on the site, but an app that
    // normalises the path could turn `/..//evil.example` into `//evil.example`.
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if path.split('/').any(|segment| segment == "." || segment == "..") {
        return false;
    }
    // Percent-encoded `/`, `\`, `%` (double encoding), control characters, and
    // `.` in the path become dangerous if anything downstream decodes it.
    let encoded_dot = |w: &[u8]| w[0] == b'%' && w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'e');
    if path.as_bytes().windows(3).any(encoded_dot) {
        return false;
    }
    bytes.windows(3).all(|w| {
        if w[0] != b'%' {
            return true;
        }
        let hex = [w[1].to_ascii_lowercase(), w[2].to_ascii_lowercase()];
        !matches!(&hex, b"2f" | b"5c" | b"25" | b"7f" | [b'0' | b'1', _])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths() {
        for ok in [
            "/",
            "/account",
            "/a/b?c=d&e=%20f#frag",
            "/@user",
            "/a:b",
            "/a.b/.c",
            "/x?p=../..",
            "/x#/..",
        ] {
            assert!(ReturnTarget::parse(ok).is_some(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn refuses_open_redirect_tricks() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_TARGET_LEN));
        for bad in [
            "",
            "account",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/%2F%2Fevil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%252F%252Fevil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/%09/evil.example",
            "/%0a/evil.example",
            "/%00",
            "/%7F",
            "/a\u{0}b",
            "/a b",
            "/caf\u{e9}",
            "https://evil.example/",
            "javascript:alert(1)",
            " /account",
            "/a\\b",
            "/\"><script>alert(1)</script>",
            "/x'onmouseover='alert(1)",
            "/<img src=x>",
            "/a`b",
            "/a?q=\"",
            "/..",
            "/..//evil.example",
            "/a/./b",
            "/a/../b",
            "/%2e%2e//evil.example",
            "/.%2E/x",
            &long,
        ] {
            assert!(ReturnTarget::parse(bad).is_none(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn accepted_targets_resolve_to_the_apps_origin() {
        let base = url::Url::parse("https://app.example/some/page").unwrap();
        for ok in ["/", "/x", "/./x", "/..//x", "/x/..//y", "/;//x", "/?//x", "/#//x"] {
            let Some(target) = ReturnTarget::parse(ok) else {
                continue;
            };
            let resolved = base.join(target.as_str()).unwrap();
            assert_eq!(resolved.origin(), base.origin(), "{ok:?} escaped");
        }
    }
}
