//! Hostile requests over real HTTP: raw bytes on a loopback socket to an axum
//! app with the layer. Every one is refused with a 4xx that says why (a
//! `code:` body where the layer answers; hyper answers some malformed or
//! oversized requests itself, also with a 4xx), never a 5xx, the inner
//! callback handler never runs, and the server keeps serving.

use crate::wire;

use std::sync::atomic::Ordering;

use tower_oidc_logout_mock::{LogoutTokenClaims, SigningKey};

use wire::{
    APP_ORIGIN, BACKCHANNEL, CALLBACK, Jar, KEY, TTL, callback, exchange, request, serve, sign_out,
    state_cookie_name,
};

/// Who must answer, and how.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The layer: this status and a `code: message` body.
    Layer(u16, &'static str),
    /// The layer, to a `HEAD` request: this status, no body.
    LayerHead(u16),
    /// hyper, before the layer sees anything: some 4xx.
    Server,
    /// The Back-Channel Logout route: this status and
    /// `{"error":"invalid_request","error_description":"<code>: ..."}`.
    Backchannel(u16, &'static str),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
}

fn case(name: &'static str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case { name, bytes, expect }
}

const SAME_ORIGIN: (&str, &[u8]) = ("origin", APP_ORIGIN.as_bytes());
const FORM: (&str, &[u8]) = ("content-type", b"application/x-www-form-urlencoded");

fn callback_target(query: &str) -> Vec<u8> {
    format!("{CALLBACK}?{query}").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_a_4xx_with_a_reason_and_the_server_keeps_serving() {
    let server = serve(KEY).await;
    let addr = server.addr;

    // A real pending sign-out, so cases can reuse a well-formed state.
    let issued = sign_out(addr, &Jar::default(), None).await;
    let state = issued.sent_state();
    let name = state_cookie_name(&state);
    let mut jar = Jar::default();
    jar.apply(&issued);
    let sealed = jar.get(&name).unwrap().to_owned();
    let state_query = format!("state={state}");

    let long = "a".repeat(5_000);
    let huge_header = vec![b'x'; 600 * 1024];
    let many_cookies: String =
        (0..400).map(|i| format!("c{i}=v{i}")).collect::<Vec<_>>().join("; ");
    let many_state_cookies: String = (0..300)
        .map(|i| format!("__Host-oidc-logout-{i:08}=junk{i}"))
        .collect::<Vec<_>>()
        .join("; ");
    let tampered = {
        let mut bytes = sealed.clone().into_bytes();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let mut non_utf8_cookie = format!("{name}=").into_bytes();
    non_utf8_cookie.extend_from_slice(b"\xff\xfe\x80");
    let cookie_pairs: Vec<String> = (0..300).map(|i| format!("c{i}=v")).collect();
    let mut too_many_headers: Vec<(&str, &[u8])> = Vec::new();
    for pair in &cookie_pairs {
        too_many_headers.push(("cookie", pair.as_bytes()));
    }

    // The wire app trusts op-jwks.json (kid `k`); these tokens are refused before any key fits.
    let claims = LogoutTokenClaims::new("https://op.example", "socket-tests", "s", "u", 1)
        .without("sid")
        .exp(99_999_999_999)
        .jti("j");
    let other_key = SigningKey::from_secret([9; 32]).unwrap().with_kid("k");
    let alg_none = format!("logout_token={}", claims.clone().unsigned().sign(&other_key));
    // A real ES256 signature, by a key the provider never published, under its kid.
    let forged = format!("logout_token={}", claims.sign(&other_key));
    let oversized_token = format!("logout_token={}", "a".repeat(30 * 1024));
    let bcl = BACKCHANNEL.as_bytes();

    let cases = vec![
        // Back-Channel Logout: what the provider (or anyone) may post.
        case(
            "GET at the back channel",
            request("GET", bcl, &[], b""),
            Expect::Backchannel(405, "method_not_allowed"),
        ),
        case(
            "PUT at the back channel",
            request("PUT", bcl, &[FORM], b"logout_token=a.b.c"),
            Expect::Backchannel(405, "method_not_allowed"),
        ),
        case(
            "a body over the back channel's limit",
            request("POST", bcl, &[FORM], oversized_token.as_bytes()),
            Expect::Backchannel(400, "too_large"),
        ),
        case(
            "JSON at the back channel",
            request(
                "POST",
                bcl,
                &[("content-type", b"application/json")],
                br#"{"logout_token":"a.b.c"}"#,
            ),
            Expect::Backchannel(400, "not_a_form"),
        ),
        case(
            "no content type at the back channel",
            request("POST", bcl, &[], b"logout_token=a.b.c"),
            Expect::Backchannel(400, "not_a_form"),
        ),
        case(
            "an empty form",
            request("POST", bcl, &[FORM], b""),
            Expect::Backchannel(400, "no_logout_token"),
        ),
        case(
            "a logout token that is not a JWT",
            request("POST", bcl, &[FORM], b"logout_token=not-a-jwt"),
            Expect::Backchannel(400, "malformed"),
        ),
        case(
            "an alg none logout token",
            request("POST", bcl, &[FORM], alg_none.as_bytes()),
            Expect::Backchannel(400, "alg_none"),
        ),
        case(
            "a logout token with a forged signature",
            request("POST", bcl, &[FORM], forged.as_bytes()),
            Expect::Backchannel(400, "bad_signature"),
        ),
        case(
            "two logout tokens",
            request("POST", bcl, &[FORM], b"logout_token=a.b.c&logout_token=a.b.c"),
            Expect::Backchannel(400, "no_logout_token"),
        ),
        case(
            "a logout token of bytes that are not UTF-8",
            request("POST", bcl, &[FORM], b"logout_token=\xff\xfe\x80.\xc3(.\xa0"),
            Expect::Backchannel(400, "malformed"),
        ),
        case(
            "a body of bytes that are not UTF-8",
            request("POST", bcl, &[FORM], b"\xff\xfe\x00\x80\xc3("),
            Expect::Backchannel(400, "no_logout_token"),
        ),
        // Oversized query, header and cookie values.
        case(
            "oversized callback query",
            request("GET", &callback_target(&format!("{state_query}&pad={long}")), &[], b""),
            Expect::Layer(413, "too_large"),
        ),
        case(
            "oversized return target",
            request("POST", format!("/logout?return_to=/{long}").as_bytes(), &[SAME_ORIGIN], b""),
            Expect::Layer(400, "invalid_return_target"),
        ),
        case(
            "oversized form body",
            request(
                "POST",
                b"/logout",
                &[SAME_ORIGIN, FORM],
                format!("return_to=/&pad={long}").as_bytes(),
            ),
            Expect::Layer(413, "too_large"),
        ),
        case(
            "20 KB header at the callback, no state",
            request("GET", CALLBACK.as_bytes(), &[("x-pad", &huge_header[..20 * 1024])], b""),
            Expect::Layer(400, "state_missing"),
        ),
        case(
            "600 KB header",
            request("GET", &callback_target(&state_query), &[("x-pad", &huge_header)], b""),
            Expect::Server,
        ),
        case(
            "oversized state cookie value",
            request(
                "GET",
                &callback_target(&state_query),
                &[("cookie", format!("{name}={}", "A".repeat(10_000)).as_bytes())],
                b"",
            ),
            Expect::Layer(400, "state_tampered"),
        ),
        case(
            "oversized state parameter",
            request("GET", &callback_target(&format!("state={}", "A".repeat(2_000))), &[], b""),
            Expect::Layer(400, "state_malformed"),
        ),
        // Repeated parameters.
        case(
            "repeated state",
            request(
                "GET",
                &callback_target(&format!("{state_query}&{state_query}")),
                &[("cookie", jar.header().as_bytes())],
                b"",
            ),
            Expect::Layer(400, "malformed_query"),
        ),
        case(
            "two different states",
            request(
                "GET",
                &callback_target(&format!("state=AAAAAAAAAAAAAAAAAAAAAA&{state_query}")),
                &[("cookie", jar.header().as_bytes())],
                b"",
            ),
            Expect::Layer(400, "malformed_query"),
        ),
        case(
            "repeated logout parameter",
            request("GET", &callback_target(&format!("{state_query}&logout=1&logout=2")), &[], b""),
            Expect::Layer(400, "malformed_query"),
        ),
        case(
            "return target in query and form",
            request("POST", b"/logout?return_to=/a", &[SAME_ORIGIN, FORM], b"return_to=/b"),
            Expect::Layer(400, "malformed_query"),
        ),
        // Hundreds of cookies.
        case(
            "400 cookies in one header, the state's own missing",
            request(
                "GET",
                &callback_target(&state_query),
                &[("cookie", many_cookies.as_bytes())],
                b"",
            ),
            Expect::Layer(400, "state_cookie_missing"),
        ),
        case(
            "300 forged state cookies, no state",
            request("GET", CALLBACK.as_bytes(), &[("cookie", many_state_cookies.as_bytes())], b""),
            Expect::Layer(400, "state_missing"),
        ),
        case(
            "300 Cookie headers",
            request("GET", &callback_target(&state_query), &too_many_headers, b""),
            Expect::Server,
        ),
        case(
            "400 cookies at a cross-site logout",
            request(
                "POST",
                b"/logout",
                &[("origin", b"https://evil.example"), ("cookie", many_cookies.as_bytes())],
                b"",
            ),
            Expect::Layer(403, "cross_site"),
        ),
        // Non-UTF-8 bytes.
        case(
            "raw non-UTF-8 bytes in the path",
            request("GET", b"/logout/callback\xff?state=x", &[], b""),
            Expect::Server,
        ),
        case(
            "raw non-UTF-8 bytes in the query",
            request("GET", b"/logout/callback?state=\xff\xfe", &[], b""),
            Expect::Server,
        ),
        case(
            "percent-encoded non-UTF-8 state",
            request("GET", &callback_target("state=%FF%FE%80AAAAAAAAAAAAAAAAAAA"), &[], b""),
            Expect::Layer(400, "state_malformed"),
        ),
        case(
            "non-UTF-8 state cookie",
            request("GET", &callback_target(&state_query), &[("cookie", &non_utf8_cookie)], b""),
            // Read from the raw bytes, found, and refused as not sealed by us.
            Expect::Layer(400, "state_tampered"),
        ),
        case(
            "non-UTF-8 Origin",
            request("POST", b"/logout", &[("origin", b"https://app.example\xff")], b""),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "non-UTF-8 return target in a form",
            request("POST", b"/logout", &[SAME_ORIGIN, FORM], b"return_to=/\xff\xfe"),
            Expect::Layer(400, "invalid_return_target"),
        ),
        case(
            "non-ASCII header name",
            request("GET", &callback_target(&state_query), &[("x-\u{ff}", b"1")], b""),
            Expect::Server,
        ),
        // Wrong methods.
        case(
            "GET /logout",
            request("GET", b"/logout", &[SAME_ORIGIN], b""),
            Expect::Layer(405, "method_not_allowed"),
        ),
        case(
            "PUT /logout",
            request("PUT", b"/logout", &[SAME_ORIGIN], b""),
            Expect::Layer(405, "method_not_allowed"),
        ),
        case(
            "DELETE /logout",
            request("DELETE", b"/logout", &[SAME_ORIGIN], b""),
            Expect::Layer(405, "method_not_allowed"),
        ),
        case(
            "OPTIONS /logout (preflight)",
            request(
                "OPTIONS",
                b"/logout",
                &[("origin", b"https://evil.example"), ("access-control-request-method", b"POST")],
                b"",
            ),
            Expect::Layer(405, "method_not_allowed"),
        ),
        case(
            "HEAD /logout",
            request("HEAD", b"/logout", &[SAME_ORIGIN], b""),
            Expect::LayerHead(405),
        ),
        case(
            "POST to the callback",
            request(
                "POST",
                &callback_target(&state_query),
                &[("cookie", jar.header().as_bytes())],
                b"",
            ),
            Expect::Layer(405, "method_not_allowed"),
        ),
        case(
            "PUT to the callback",
            request(
                "PUT",
                &callback_target(&state_query),
                &[("cookie", jar.header().as_bytes())],
                b"",
            ),
            Expect::Layer(405, "method_not_allowed"),
        ),
        // Cross-site and null origins.
        case(
            "Sec-Fetch-Site: cross-site",
            request(
                "POST",
                b"/logout",
                &[("sec-fetch-site", b"cross-site"), ("origin", b"https://evil.example")],
                b"",
            ),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "Sec-Fetch-Site: same-site from a sibling",
            request(
                "POST",
                b"/logout",
                &[("sec-fetch-site", b"same-site"), ("origin", b"https://blog.app.example")],
                b"",
            ),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "cross-site, no Origin",
            request("POST", b"/logout", &[("sec-fetch-site", b"cross-site")], b""),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "Origin: null",
            request("POST", b"/logout", &[("origin", b"null")], b""),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "Origin: null with a form",
            request("POST", b"/logout", &[("origin", b"null"), FORM], b"return_to=/"),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "Origin of another site",
            request("POST", b"/logout", &[("origin", b"https://evil.example")], b""),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "Origin that extends ours",
            request("POST", b"/logout", &[("origin", b"https://app.example.evil.example")], b""),
            Expect::Layer(403, "cross_site"),
        ),
        case(
            "Origin over plain http",
            request("POST", b"/logout", &[("origin", b"http://app.example")], b""),
            Expect::Layer(403, "cross_site"),
        ),
        // Open redirects and header injection through the return target.
        case(
            "protocol-relative return target",
            request("POST", b"/logout?return_to=//evil.example", &[SAME_ORIGIN], b""),
            Expect::Layer(400, "invalid_return_target"),
        ),
        case(
            "backslash return target in a form",
            request("POST", b"/logout", &[SAME_ORIGIN, FORM], b"return_to=%2F%5Cevil.example"),
            Expect::Layer(400, "invalid_return_target"),
        ),
        case(
            "CRLF in the return target",
            request("POST", b"/logout?return_to=%2Fx%0D%0ASet-Cookie:%20a=b", &[SAME_ORIGIN], b""),
            Expect::Layer(400, "invalid_return_target"),
        ),
        // States that are not this browser's.
        case(
            "no state",
            request("GET", CALLBACK.as_bytes(), &[("cookie", jar.header().as_bytes())], b""),
            Expect::Layer(400, "state_missing"),
        ),
        case(
            "a state without its cookie",
            request("GET", &callback_target(&state_query), &[], b""),
            Expect::Layer(400, "state_cookie_missing"),
        ),
        case(
            "a tampered state cookie",
            request(
                "GET",
                &callback_target(&state_query),
                &[("cookie", format!("{name}={tampered}").as_bytes())],
                b"",
            ),
            Expect::Layer(400, "state_tampered"),
        ),
    ];

    for case in &cases {
        let reply = exchange(addr, case.bytes.clone()).await;
        let what = format!("{}: {} {:?}", case.name, reply.status, reply.body_text());
        assert!((400..500).contains(&reply.status), "{what}: a 4xx was expected");
        match case.expect {
            Expect::Layer(status, code) => {
                assert_eq!(reply.status, status, "{what}");
                assert_eq!(reply.code().as_deref(), Some(code), "{what}");
                assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
            }
            Expect::LayerHead(status) => assert_eq!(reply.status, status, "{what}"),
            Expect::Server => eprintln!("{what}: answered by hyper"),
            Expect::Backchannel(status, code) => {
                assert_eq!(reply.status, status, "{what}");
                assert_eq!(reply.header("content-type"), Some("application/json"), "{what}");
                assert_eq!(reply.header("cache-control"), Some("no-cache, no-store"), "{what}");
                assert_eq!(reply.header("pragma"), Some("no-cache"), "{what}");
                let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
                assert_eq!(json["error"], "invalid_request", "{what}");
                let description = json["error_description"].as_str().unwrap();
                assert!(description.starts_with(&format!("{code}: ")), "{what}");
            }
        }
        // Still serving, and the callback handler never ran.
        let home = exchange(addr, request("GET", b"/", &[], b"")).await;
        assert_eq!((home.status, home.body_text().as_str()), (200, "home"), "after {what}");
        assert_eq!(server.callbacks.load(Ordering::SeqCst), 0, "after {what}");
    }

    // A stale state: the sign-out took longer than the state's lifetime.
    server.now.fetch_add(TTL, Ordering::SeqCst);
    let stale = callback(addr, &jar, &state).await;
    assert_eq!((stale.status, stale.code().as_deref()), (400, Some("state_expired")));
    server.now.fetch_sub(TTL, Ordering::SeqCst);

    // After all that, a good sign-out still completes.
    let mut jar = Jar::with(&[("__Host-session", "s1")]);
    let out = sign_out(addr, &jar, Some("/goodbye")).await;
    jar.apply(&out);
    assert_eq!(jar.get("__Host-session"), None, "the session cookie is expired");
    let back = callback(addr, &jar, &out.sent_state()).await;
    assert_eq!(back.status, 200, "{back:?}");
    assert_eq!(back.body_text(), "signed out\n/goodbye");
    assert_eq!(server.callbacks.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_with_hundreds_of_junk_state_cookies_expires_them_all() {
    let server = serve(KEY).await;
    let junk: Vec<(String, String)> =
        (0..300).map(|i| (format!("__Host-oidc-logout-{i:08}"), format!("junk{i}"))).collect();
    let pairs: Vec<(&str, &str)> = junk.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let mut jar = Jar::with(&pairs);
    let out = sign_out(server.addr, &jar, None).await;
    assert_eq!(out.status, 303, "{out:?}");
    jar.apply(&out);
    // Only the fresh state is left in the browser.
    let state = out.sent_state();
    assert_eq!(jar.state_cookies(), [state_cookie_name(&state)]);
    let back = callback(server.addr, &jar, &state).await;
    assert_eq!(back.status, 200, "{back:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_cookie_hides_neither_the_state_cookie_nor_the_pending_ones() {
    let server = serve(KEY).await;
    // As a browser sends a UTF-8 value, and as another site may plant raw bytes.
    let odd: &[u8] = "lang=français; x=\u{1f36a}; y=".as_bytes();
    let odd = [odd, b"\xff\xfe"].concat();
    let with_odd = |jar: &Jar| [&odd[..], b"; ", jar.header().as_bytes()].concat();
    let mut jar = Jar::default();
    let mut state = String::new();
    for round in 0..7 {
        let cookie = with_odd(&jar);
        let headers: [(&str, &[u8]); 3] =
            [SAME_ORIGIN, ("sec-fetch-site", b"same-origin"), ("cookie", &cookie)];
        let out = exchange(server.addr, request("POST", b"/logout", &headers, b"")).await;
        state = out.sent_state();
        jar.apply(&out);
        let pending = jar.state_cookies().len();
        assert!(
            pending <= tower_oidc_logout::limits::MAX_PENDING_STATES,
            "round {round}: {pending}"
        );
    }
    let cookie = with_odd(&jar);
    let target = callback_target(&format!("state={state}&logout=true"));
    let headers: [(&str, &[u8]); 2] = [("sec-fetch-site", b"cross-site"), ("cookie", &cookie)];
    let back = exchange(server.addr, request("GET", &target, &headers, b"")).await;
    assert_eq!(back.status, 200, "{back:?}");
    assert_eq!(server.callbacks.load(Ordering::SeqCst), 1);
}
