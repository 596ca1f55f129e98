use std::{fs, path::Path};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use tower_oidc_logout_fuzz::{FuzzBody, Seed, callback, issued, logout, non_ascii_cookies, sent_cookie_pairs};

fn classify<I>(target: &str, request: impl Fn(&I) -> Option<http::Request<FuzzBody>>)
where I: for<'a> Arbitrary<'a> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        if data.len() < I::size_hint(0).0 { continue; }
        let Ok(input) = I::arbitrary_take_rest(Unstructured::new(&data)) else { continue };
        let Some(request) = request(&input) else { continue };
        let class = match non_ascii_cookies(request.headers()) {
            None => "ascii",
            Some(utf8) => {
                let pairs = sent_cookie_pairs(request.headers());
                let real = [Seed::Fresh, Seed::OtherTab, Seed::OldKey, Seed::Expired, Seed::Foreign]
                    .into_iter().map(issued).any(|i| pairs.iter().any(|(n, v)| *n == i.cookie_name.as_bytes() && *v == i.sealed.as_bytes()));
                match (utf8, real) { (true, false) => "utf8", (true, true) => "utf8-state", (false, false) => "bytes", (false, true) => "bytes-state" }
            }
        };
        println!("SEL {target} {class} {} {}", data.len(), path.file_name().unwrap().to_string_lossy());
    }
}

#[test]
fn select() {
    classify("callback", callback::Input::request);
    classify("logout", logout::Input::request);
}
