//! The return-target validator against the `url` crate's (WHATWG) resolution.
//!
//! Invariants: no panic; an accepted target is kept exactly as given; it
//! resolves to the app's own origin from any page of the app, and still does
//! if something downstream percent-decodes it once.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_oidc_logout::{ReturnTarget, limits::MAX_RETURN_TARGET_LEN};
use tower_oidc_logout_fuzz::{percent_decode_once, stays_on_site};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(target) = ReturnTarget::parse(&text) else {
        return;
    };
    assert_eq!(target.as_str(), text, "kept exactly");
    assert!(text.len() <= MAX_RETURN_TARGET_LEN);
    assert!(stays_on_site(&text), "{text:?} leaves the site");
    let decoded = percent_decode_once(&text);
    assert!(stays_on_site(&decoded), "{text:?} leaves the site once decoded as {decoded:?}");
});
