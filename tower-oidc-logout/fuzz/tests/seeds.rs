//! The committed seeds (`seeds/<target>/`, named for what they hold; the
//! working corpus under `corpus/` is not committed) keep `Cookie` headers
//! that are not ASCII, for both
//! targets that send cookies: UTF-8 text (`lang=français`) and bytes that
//! are not UTF-8 (`\xff`), some beside a real state cookie. The middleware
//! reads cookie pairs from the raw bytes so that such a header hides no state
//! cookie; these inputs replay that on every fuzz run.
//!
//! Each file is decoded as libFuzzer hands it to the target
//! (`arbitrary_take_rest`), and the `Cookie` headers of the request it builds
//! are read. Run from `fuzz/` (prints the counts):
//!
//! ```text
//! cargo test -- --nocapture
//! ```
//!
//! A change to the input types changes what the files decode to; if this
//! then fails, pick new seeds from a grown corpus (`FUZZ_KEEP=1 scripts/fuzz.sh 60 <target>`).

use std::{fs, path::Path};

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use tower_oidc_logout_fuzz::{
    FuzzBody, Seed, callback, issued, logout, non_ascii_cookies, sent_cookie_pairs,
};

/// One target's seeds, by what their `Cookie` headers hold.
#[derive(Debug, Default)]
struct Counts {
    files: usize,
    /// Some header holds a byte outside ASCII, every such header UTF-8.
    utf8: usize,
    /// Some header is not UTF-8.
    not_utf8: usize,
    /// UTF-8 ones with a real state cookie (any seed) in the headers too.
    utf8_beside_state_cookie: usize,
    /// Not UTF-8, with a real state cookie in the headers too.
    not_utf8_beside_state_cookie: usize,
}

fn count<I>(target: &str, request: impl Fn(&I) -> Option<http::Request<FuzzBody>>) -> Counts
where
    I: for<'a> Arbitrary<'a>,
{
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    let mut counts = Counts::default();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = fs::read(entry.expect("seed entry").path()).expect("seed file");
        counts.files += 1;
        // What `fuzz_target!` does: too short is skipped, the rest decoded.
        if data.len() < I::size_hint(0).0 {
            continue;
        }
        let Ok(input) = I::arbitrary_take_rest(Unstructured::new(&data)) else { continue };
        let Some(request) = request(&input) else { continue };
        let Some(utf8) = non_ascii_cookies(request.headers()) else { continue };
        let pairs = sent_cookie_pairs(request.headers());
        let real = [Seed::Fresh, Seed::OtherTab, Seed::OldKey, Seed::Expired, Seed::Foreign]
            .into_iter()
            .map(issued)
            .any(|issued| {
                pairs.iter().any(|(name, value)| {
                    *name == issued.cookie_name.as_bytes() && *value == issued.sealed.as_bytes()
                })
            });
        match (utf8, real) {
            (true, false) => counts.utf8 += 1,
            (true, true) => {
                counts.utf8 += 1;
                counts.utf8_beside_state_cookie += 1;
            }
            (false, false) => counts.not_utf8 += 1,
            (false, true) => {
                counts.not_utf8 += 1;
                counts.not_utf8_beside_state_cookie += 1;
            }
        }
    }
    println!("{target}: {counts:?}");
    counts
}

fn assert_holds_odd_cookies(target: &str, counts: &Counts) {
    assert!(counts.utf8 >= 3, "{target}: too few UTF-8 cookie headers: {counts:?}");
    assert!(counts.not_utf8 >= 3, "{target}: too few non-UTF-8 cookie headers: {counts:?}");
    assert!(
        counts.utf8_beside_state_cookie >= 2 && counts.not_utf8_beside_state_cookie >= 2,
        "{target}: too few odd cookie headers beside a state cookie: {counts:?}"
    );
}

#[test]
fn callback_seeds_hold_non_ascii_cookie_headers() {
    let counts = count("callback", callback::Input::request);
    assert_holds_odd_cookies("callback", &counts);
}

#[test]
fn logout_seeds_hold_non_ascii_cookie_headers() {
    let counts = count("logout", logout::Input::request);
    assert_holds_odd_cookies("logout", &counts);
}
