//! The committed `backchannel` seeds hold well-formed back-channel posts:
//! a form with one really signed, valid `logout_token`, so every run starts
//! from a request that passes (and its replay, refused).
//!
//! `BACKCHANNEL_SEEDS=<n> cargo test --test backchannel_seeds` writes `n`
//! such inputs, found by decoding pseudo-random bytes, to the corpus.

use std::{fs, path::Path};

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use tower_oidc_logout_fuzz::{
    backchannel::{Body, ContentType, FormPart, Input, Route, Token, app, seeds, verifies},
    send,
};

fn valid_form(input: &Input) -> bool {
    let Body::Form(parts) = &input.body else { return false };
    let tokens: Vec<_> = parts.iter().filter(|p| matches!(p, FormPart::Token(_))).collect();
    matches!(input.route, Route::Backchannel)
        && input.method.is_none()
        && matches!(input.content_type, ContentType::Form | ContentType::FormCharset)
        && !parts.iter().any(|p| matches!(p, FormPart::Raw(_)))
        && matches!(tokens[..], [FormPart::Token(Token::Seed(n))] if verifies(&seeds()[usize::from(*n) % seeds().len()]))
}

fn decode(bytes: &[u8]) -> Option<Input> {
    Input::arbitrary_take_rest(Unstructured::new(bytes)).ok()
}

#[test]
fn the_seeds_are_valid_posts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/backchannel");
    if let Ok(n) = std::env::var("BACKCHANNEL_SEEDS") {
        let mut want: usize = n.parse().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        while want > 0 {
            let bytes: Vec<u8> = (0..48)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            if decode(&bytes).as_ref().is_some_and(valid_form) {
                fs::create_dir_all(&dir).unwrap();
                fs::write(dir.join(format!("valid-form-{want}")), &bytes).unwrap();
                want -= 1;
            }
        }
    }
    let mut valid = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let Some(input) = decode(&fs::read(entry.unwrap().path()).unwrap()) else { continue };
        if !valid_form(&input) {
            continue;
        }
        valid += 1;
        // It passes through the layer, and its replay does not.
        let (app, _) = app();
        let (first, _) = input.request().unwrap();
        let (again, _) = input.request().unwrap();
        assert_eq!(send(&app, first).status, http::StatusCode::OK, "{input:?}");
        assert_eq!(send(&app, again).status, http::StatusCode::BAD_REQUEST, "{input:?}");
    }
    assert!(valid >= 3, "{valid} valid posts in {}", dir.display());
}
