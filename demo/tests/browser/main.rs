//! Sign-in and sign-out in a real browser: headless Chromium driven over
//! WebDriver (chromedriver) through the demo app and its embedded mock
//! provider (the sign-in is the authorization code flow with PKCE, through
//! the mock's sign-in form). Cookies, `SameSite`, `Clear-Site-Data` and redirects are the
//! browser's decisions, so every assertion reads what the browser holds: its
//! cookie jar, its storage, the page it shows.
//!
//! The app runs at `http://127.0.0.1:<port>` and the mock at
//! `http://localhost:<port>`: coming back from the provider is a cross-site
//! navigation, as in production.
//!
//! Behind the `browser-tests` feature; needs Debian's `chromium` and
//! `chromium-driver` (`scripts/browser-tests.sh` installs them and runs
//! `cargo test --features browser-tests --test browser`). Without them the
//! tests fail and say what to install.

mod harness;

use tower_oidc_logout_demo as app;

use std::{future::Future, str::FromStr, time::Duration};

use axum::{Router, response::Html, routing::get};
use fantoccini::Locator;
use harness::Browser;
use tokio::net::TcpListener;
use tower_oidc_logout_mock::HOSTED_SESSION_COOKIE;
use tower_sessions_0_14::session::Id;

use app::{DEMO_USER, ID_TOKEN_KEY, LOCAL_COOKIE, REFRESH_TOKEN_KEY, SESSION_COOKIE, SID_KEY};

/// No test may take longer than this, browser start included.
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// Runs a test's body, failing it when it outlives [`TEST_LIMIT`] (the
/// browser and its driver are shut down on the way out).
async fn bounded(test: impl Future<Output = ()>) {
    if tokio::time::timeout(TEST_LIMIT, test).await.is_err() {
        panic!("the test took longer than {TEST_LIMIT:?}");
    }
}

/// The sign-out form of the demo's pages.
const LOGOUT_FORM: &str = "form[action=\"/logout\"]";

/// Signs in as [`DEMO_USER`] through the provider's form; see [`sign_in_as`].
async fn sign_in(browser: &Browser, demo: &app::Demo) -> Id {
    sign_in_as(browser, demo, DEMO_USER).await.0
}

/// Signs in as `user` as a person would: "Sign in" on the app's home page,
/// the name typed into the mock provider's sign-in form, "Sign in" there,
/// and back through the app's `/login/callback`. Checks all three sessions
/// exist; returns the server-side session's ID and the `sid` it holds.
async fn sign_in_as(browser: &Browser, demo: &app::Demo, user: &str) -> (Id, String) {
    let (mock, mock_url) = demo.mock.as_ref().expect("the demo runs the mock");
    browser.goto(&format!("{}/", demo.rp_url)).await;
    browser.page_at("/", "#status").await;
    let link = browser.client.find(Locator::Css("#status a[href=\"/login\"]")).await;
    link.expect("the Sign in link").click().await.expect("click Sign in");

    // At the provider: its sign-in form, on its own host.
    browser.page_at("/authorize", "#sign-in").await;
    let at = browser.client.current_url().await.expect("URL");
    assert_eq!(at.origin().ascii_serialization(), *mock_url, "the provider's form: {at}");
    let name = browser.client.find(Locator::Css("#sign-in input[name=user]")).await;
    let name = name.expect("the user name field");
    name.clear().await.expect("clear the name");
    name.send_keys(user).await.expect("type the name");
    let submit = browser.client.find(Locator::Css("#sign-in button[type=submit]")).await;
    submit.expect("the provider's Sign in button").click().await.expect("click Sign in");

    let status = browser.page_at("/", "#status").await;
    assert_eq!(status, format!("Signed in as {user}."), "back home after the provider's sign-in");
    assert!(mock.has_session(user), "the mock has the hosted session");
    let sid = browser.text("#sid").await.expect("the home page shows the sid");

    let cookies = browser.cookies().await;
    let value = |name: &str| cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(value(LOCAL_COOKIE).as_deref(), Some(user), "local cookie: {cookies:?}");
    let session = value(SESSION_COOKIE).unwrap_or_else(|| panic!("session cookie: {cookies:?}"));
    let id = Id::from_str(&session).expect("a tower-sessions ID");
    let record = demo.store.load(&id).await.expect("store").expect("server session stored");
    assert_eq!(record.data.get(SID_KEY).and_then(|v| v.as_str()), Some(sid.as_str()));
    assert!(record.data.contains_key(ID_TOKEN_KEY), "the ID token is in the session");
    let hosted: Vec<_> = mock.hosted_sessions().into_iter().filter(|h| h.user == user).collect();
    assert_eq!(hosted.len(), 1);
    assert_eq!(hosted[0].sid, sid, "the session's sid is the hosted session's");

    // The provider's own cookie lives on the provider's host.
    browser.goto(&format!("{mock_url}/authorize")).await;
    assert!(
        browser.cookie_names().await.contains(&HOSTED_SESSION_COOKIE.to_owned()),
        "the mock's cookie is in the browser"
    );
    browser.goto(&format!("{}/", demo.rp_url)).await;
    browser.page_at("/", "#status").await;
    (id, sid)
}

/// Presses the page's "Sign out" button, as a person would.
async fn click_sign_out(browser: &Browser) {
    let button = format!("{LOGOUT_FORM} button[type=submit]");
    let button = browser.client.find(Locator::Css(&button)).await.expect("the Sign out button");
    button.click().await.expect("click Sign out");
}

/// The HTTP status of the page the browser shows, as the browser saw it.
async fn shown_status(browser: &Browser) -> u64 {
    let status =
        browser.script("return performance.getEntriesByType('navigation')[0].responseStatus").await;
    status.as_u64().unwrap_or_else(|| panic!("no response status: {status}"))
}

async fn local_storage(browser: &Browser, key: &str) -> Option<String> {
    let script = format!("return window.localStorage.getItem('{key}')");
    browser.script(&script).await.as_str().map(str::to_owned)
}

/// Whether the demo's home page, loaded afresh, says the user is signed in.
async fn home_status(browser: &Browser, demo: &app::Demo) -> String {
    browser.goto(&format!("{}/", demo.rp_url)).await;
    browser.page_at("/", "#status").await
}

#[tokio::test]
async fn sign_out_ends_every_session_and_leaves_no_cookie() {
    bounded(async {
        let demo = harness::demo().await;
        let (mock, mock_url) = demo.mock.clone().expect("mock");
        let browser = Browser::launch().await;
        assert_eq!(home_status(&browser, &demo).await, "Not signed in. Sign in");
        let id = sign_in(&browser, &demo).await;
        let record = demo.store.load(&id).await.expect("store").expect("session");
        let refresh = record.data[REFRESH_TOKEN_KEY].as_str().expect("a refresh token").to_owned();
        assert!(mock.token_is_active(&refresh));
        let shown = browser.text("#refresh").await.unwrap_or_default();
        assert!(shown.starts_with("1 active"), "refresh token shown as {shown:?}");

        // A person's sign-out: pick where to land, press the button.
        let form = browser.client.find(Locator::Css(LOGOUT_FORM)).await.expect("form");
        let select = form.find(Locator::Css("select[name=return_to]")).await.expect("select");
        select.select_by_value("/goodbye").await.expect("choose /goodbye");
        click_sign_out(&browser).await;

        // To the provider and back: the callback page the layer let through.
        let status = browser.page_at(app::CALLBACK_PATH, "#status").await;
        assert!(status.starts_with("Signed out."), "{status}");
        assert_eq!(shown_status(&browser).await, 200);
        for (part, css) in [("local", "#local"), ("server", "#server"), ("hosted", "#hosted")] {
            let text = browser.text(css).await.unwrap_or_default();
            assert!(text.starts_with("none"), "{part} session shown as {text:?}");
        }

        // The browser's jar for the app: no session cookie, no local cookie,
        // no state cookie.
        assert_eq!(browser.cookie_names().await, Vec::<String>::new(), "cookies left on the app");
        // The server session and the hosted one are gone.
        assert!(demo.store.load(&id).await.expect("store").is_none(), "server session left");
        assert!(!mock.has_session(DEMO_USER), "hosted session left");
        assert_eq!(mock.hosted_session_count(), 0);
        let calls = mock.end_session_calls();
        assert_eq!(calls.len(), 1, "one call at the provider");
        assert!(calls[0].ended_hosted_session, "the provider ended the browser's session");
        // The refresh token is dead at the provider: revoked at sign-out.
        assert!(!mock.token_is_active(&refresh), "the refresh token outlived the sign-out");
        assert_eq!(mock.revocations().len(), 1, "revoked once");

        // The provider's cookie is gone from its host too.
        browser.goto(&format!("{mock_url}/authorize")).await;
        assert!(
            !browser.cookie_names().await.contains(&HOSTED_SESSION_COOKIE.to_owned()),
            "the provider's cookie is still in the browser"
        );
        let hosted = browser.text("#hosted-session").await.unwrap_or_default();
        assert!(hosted.starts_with("Hosted session: none"), "{hosted}");

        // The landing chosen at sign-out, and the home page, signed out.
        assert_eq!(home_status(&browser, &demo).await, "Not signed in. Sign in");
        // The state was single use: the same return from the provider is refused.
        let state = calls[0].param("state").expect("state sent to the provider").to_owned();
        let replay = format!("{}{}?logout=success&state={state}", demo.rp_url, app::CALLBACK_PATH);
        browser.goto(&replay).await;
        let error = browser.page_at(app::CALLBACK_PATH, "#error").await;
        assert!(error.contains("(state_cookie_missing)"), "{error}");
        browser.quit().await;
    })
    .await;
}

/// The real sign-in, then sign-out: the layer sends the ID token the
/// sign-in kept as `id_token_hint`, and the provider accepts it for the
/// very session the browser signed in to.
#[tokio::test]
async fn sign_in_at_the_provider_then_sign_out_sends_the_id_token_hint() {
    bounded(async {
        let demo = harness::demo().await;
        let (mock, _) = demo.mock.clone().expect("mock");
        let browser = Browser::launch().await;
        let (id, sid) = sign_in_as(&browser, &demo, "alice").await;
        let record = demo.store.load(&id).await.expect("store").expect("session");
        let id_token = record.data[ID_TOKEN_KEY].as_str().expect("a string").to_owned();

        click_sign_out(&browser).await;
        let status = browser.page_at(app::CALLBACK_PATH, "#status").await;
        assert!(status.starts_with("Signed out."), "{status}");

        let call = mock.last_end_session_call().expect("a call at /endsession");
        assert_eq!(call.id_token_hint.as_deref(), Some(id_token.as_str()), "the session's token");
        assert_eq!(call.id_token_hint_sid.as_deref(), Some(sid.as_str()), "accepted, for that sid");
        assert!(call.ended_hosted_session);
        assert!(!mock.has_session("alice"), "hosted session left");
        assert!(demo.store.load(&id).await.expect("store").is_none(), "server session left");
        assert_eq!(browser.cookie_names().await, Vec::<String>::new(), "cookies left on the app");
        assert_eq!(home_status(&browser, &demo).await, "Not signed in. Sign in");
        browser.quit().await;
    })
    .await;
}

/// Signed out at the provider, never at the app: the provider's own page
/// ("Sign out everywhere", as the demo's home page tells a person to do) ends
/// the hosted session and sends a logout token to the app's back-channel
/// route, which deletes the app's session; the app's home page, loaded
/// again with the same cookies, shows nobody signed in.
#[tokio::test]
async fn sign_out_at_the_provider_ends_the_apps_session() {
    bounded(async {
        let demo = harness::demo().await;
        let (mock, mock_url) = demo.mock.clone().expect("mock");
        let browser = Browser::launch().await;
        let (id, sid) = sign_in_as(&browser, &demo, DEMO_USER).await;
        let link = browser.client.find(Locator::Css("#provider-page")).await;
        let href = link.expect("the home page links to the provider's page").attr("href").await;
        assert_eq!(href.expect("href").as_deref(), Some(format!("{mock_url}/authorize").as_str()));

        // The provider's page, in this browser: its "Sign out everywhere" button.
        browser.goto(&format!("{mock_url}/authorize")).await;
        let button = "#sign-out-everywhere button[type=submit]";
        let button = browser.client.find(Locator::Css(button)).await;
        button.expect("the Sign out everywhere button").click().await.expect("click it");
        let ended = browser.page_at("/logout", "#hosted-session").await;
        assert!(ended.contains("ended"), "{ended}");
        assert!(!mock.has_session(DEMO_USER), "hosted session left");

        // The app was told by back-channel, not through this browser.
        let deliveries = mock.backchannel_deliveries();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        assert_eq!(deliveries[0].sid, sid);
        assert_eq!(deliveries[0].status, Some(200), "{:?}", deliveries[0]);
        assert!(demo.store.load(&id).await.expect("store").is_none(), "server session left");

        // Back to the app, with the cookies it set at sign-in: signed out.
        assert_eq!(home_status(&browser, &demo).await, "Not signed in. Sign in");
        let server = browser.text("#server").await.expect("the server-side session line");
        assert!(server.starts_with("none"), "{server}");
        browser.quit().await;
    })
    .await;
}

/// `Clear-Site-Data: "storage"` on the sign-out response empties the app's
/// localStorage.
///
/// What this Chromium does (checked when the test was written, Chromium 156
/// from Debian 12): it honours the header on plain-http `127.0.0.1`, which is
/// a potentially trustworthy origin and so a secure context. The value is
/// gone after sign-out; with the demo built without `Clear-Site-Data`
/// (`.clear_site_data([])`) it stays, so nothing else removes it.
#[tokio::test]
async fn sign_out_clears_local_storage() {
    bounded(async {
        let demo = harness::demo().await;
        let browser = Browser::launch().await;
        sign_in(&browser, &demo).await;

        let secure = browser.script("return window.isSecureContext").await;
        assert_eq!(
            secure.as_bool(),
            Some(true),
            "http://127.0.0.1 must be a secure context, or Clear-Site-Data is ignored"
        );
        browser.script("window.localStorage.setItem('draft', 'unsent message'); return null").await;
        assert_eq!(local_storage(&browser, "draft").await.as_deref(), Some("unsent message"));

        click_sign_out(&browser).await;
        let status = browser.page_at(app::CALLBACK_PATH, "#status").await;
        assert!(status.starts_with("Signed out."), "{status}");

        assert_eq!(
            local_storage(&browser, "draft").await,
            None,
            "Chromium honours Clear-Site-Data: \"storage\" on http://127.0.0.1 (a secure context), \
             so the app's localStorage must be empty after sign-out"
        );
        browser.quit().await;
    })
    .await;
}

/// Two tabs of the same browser sign out at the same time, each with its own
/// landing; both complete, each with its own state.
#[tokio::test]
async fn two_tabs_sign_out_at_once() {
    bounded(async {
        let demo = harness::demo().await;
        let (mock, _) = demo.mock.clone().expect("mock");
        let browser = Browser::launch().await;
        sign_in(&browser, &demo).await;

        // Tab B is opened by tab A's page, so tab A can script it (same origin).
        let tab_a = browser.client.window().await.expect("tab A");
        browser.script("window.tabB = window.open('/', 'tab-b'); return null").await;
        let tab_b = browser
            .until("a second tab", || async {
                let tabs = browser.client.windows().await.ok()?;
                tabs.into_iter().find(|tab| *tab != tab_a)
            })
            .await;
        browser.client.switch_to_window(tab_b.clone()).await.expect("to tab B");
        let status = browser.page_at("/", "#status").await;
        assert_eq!(status, format!("Signed in as {DEMO_USER}."), "tab B");
        browser.client.switch_to_window(tab_a.clone()).await.expect("to tab A");

        // Both forms are submitted in one script: both sign-outs leave before
        // either round trip completes.
        browser
            .script(
                "const form = (doc, landing) => {
                     const f = doc.querySelector('form[action=\"/logout\"]');
                     f.querySelector('select').value = landing;
                     return f;
                 };
                 const a = form(document, '/goodbye');
                 const b = form(window.tabB.document, '/help?topic=sign-out');
                 b.submit();
                 a.submit();
                 return null",
            )
            .await;

        for (tab, name, landing) in
            [(tab_a, "tab A", "/goodbye"), (tab_b, "tab B", "/help?topic=sign-out")]
        {
            browser.client.switch_to_window(tab).await.expect("switch tab");
            let status = browser.page_at(app::CALLBACK_PATH, "#status").await;
            assert!(status.starts_with("Signed out."), "{name}: {status}");
            let href =
                browser.script("return document.getElementById('continue').getAttribute('href')");
            assert_eq!(href.await.as_str(), Some(landing), "{name} kept its own landing");
        }

        let calls = mock.end_session_calls();
        assert_eq!(calls.len(), 2, "two sign-outs at the provider");
        assert_ne!(calls[0].param("state"), calls[1].param("state"), "one state per tab");
        assert_eq!(browser.cookie_names().await, Vec::<String>::new(), "cookies left on the app");
        browser.quit().await;
    })
    .await;
}

/// A `state` altered on the way back from the provider is refused with the
/// demo's readable error page, and the user stays signed out locally.
///
/// The browser cannot be stopped between the provider's redirect and the
/// callback, so the round trip is broken one hop earlier: the mock provider
/// is shut down, and the browser, sent there by the sign-out, stops on its
/// network-error page at the end-session URL, holding the state cookie the
/// app set. The test reads the state from that URL, changes one character,
/// and takes the browser to the callback as the provider would have, with
/// the altered state. The browser sends its real state cookie.
#[tokio::test]
async fn an_altered_state_is_refused_and_the_user_stays_signed_out() {
    bounded(async {
        let demo = harness::demo().await;
        let (mock, _) = demo.mock.clone().expect("mock");
        let browser = Browser::launch().await;
        let id = sign_in(&browser, &demo).await;

        mock.shutdown().await;
        click_sign_out(&browser).await;
        let stopped = browser
            .until("the browser stopped at the provider", || async {
                let url = browser.client.current_url().await.ok()?;
                (url.path() == "/endsession").then_some(url)
            })
            .await;
        let state = stopped
            .query_pairs()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_else(|| panic!("no state sent to the provider: {stopped}"));

        // Signed out locally already; the state cookie waits for the callback.
        browser.goto(&format!("{}/", demo.rp_url)).await;
        let state_cookie = format!("oidc-logout-{}", &state[..8]);
        assert_eq!(browser.cookie_names().await, vec![state_cookie.clone()]);
        assert!(demo.store.load(&id).await.expect("store").is_none(), "server session left");

        // One character past the eight that name the cookie, and not the last
        // one (whose low bits are base64 padding): a well-formed state for the
        // same cookie, which only the seal can tell apart.
        let mut altered = state.clone().into_bytes();
        assert!(altered.len() > 12, "a 128-bit state: {state}");
        altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ASCII");
        assert_ne!(altered, state);
        browser
            .goto(&format!("{}{}?logout=success&state={altered}", demo.rp_url, app::CALLBACK_PATH))
            .await;

        let error = browser.page_at(app::CALLBACK_PATH, "#error").await;
        assert!(error.contains("(state_mismatch)"), "the reason is named: {error}");
        assert_eq!(shown_status(&browser).await, 400);
        let title = browser.text("h1").await.unwrap_or_default();
        assert_eq!(title, "Sign-out could not be completed");
        assert_eq!(browser.text("#status").await, None, "the callback page must not be shown");

        // Still signed out: no session cookie, no server session, home says so.
        let left = browser.cookie_names().await;
        assert!(!left.iter().any(|n| n == LOCAL_COOKIE || n == SESSION_COOKIE), "{left:?}");
        assert!(demo.store.load(&id).await.expect("store").is_none(), "server session left");
        assert_eq!(home_status(&browser, &demo).await, "Not signed in. Sign in");
        browser.quit().await;
    })
    .await;
}

/// A page on another site auto-submits a sign-out form to the app: the
/// browser lands on the layer's `403` (its `Sec-Fetch-Site: cross-site` is
/// refused) and the user is still signed in everywhere.
///
/// The attacker's page is served from a third origin, `http://127.0.0.2:<port>`.
/// The demo's cookies are `SameSite=Lax`, so the browser may not even send
/// them on this cross-site POST; what matters is that nothing is ended and
/// the layer's refusal is what the browser shows.
#[tokio::test]
async fn a_cross_site_form_does_not_sign_the_user_out() {
    bounded(async {
        let demo = harness::demo().await;
        let (mock, _) = demo.mock.clone().expect("mock");
        let attacker = attacker_page(&format!("{}/logout", demo.rp_url)).await;
        let browser = Browser::launch().await;
        let id = sign_in(&browser, &demo).await;
        let before = browser.cookies().await;

        browser.goto(&attacker).await;
        // Wherever the forged sign-out takes the browser on the app, once a
        // page of the demo is shown there.
        let landed = browser
            .until("the browser to land on the app", || async {
                let url = browser.client.current_url().await.ok()?;
                if url.origin().ascii_serialization() != demo.rp_url {
                    return None;
                }
                browser.text("h1").await.map(|title| (url, title))
            })
            .await;
        let (url, title) = landed;
        assert_eq!((url.path(), title.as_str()), ("/logout", "Sign-out could not be completed"));
        let error = browser.text("#error").await.unwrap_or_default();
        assert!(error.contains("(cross_site)"), "the layer's cross-site refusal: {error}");
        assert_eq!(shown_status(&browser).await, 403);

        // Everything is as before: cookies, server session, hosted session.
        browser.goto(&format!("{}/", demo.rp_url)).await;
        assert_eq!(browser.cookies().await, before, "the browser's cookies for the app changed");
        assert_eq!(home_status(&browser, &demo).await, format!("Signed in as {DEMO_USER}."));
        assert!(demo.store.load(&id).await.expect("store").is_some(), "server session ended");
        assert!(mock.has_session(DEMO_USER), "hosted session ended");
        assert!(mock.end_session_calls().is_empty(), "the browser was sent to the provider");
        browser.quit().await;
    })
    .await;
}

/// Serves, from `http://127.0.0.2:<port>/`, a page that auto-submits a
/// sign-out form to `action`; its URL.
async fn attacker_page(action: &str) -> String {
    let html = format!(
        "<!doctype html><title>Win a prize</title>\
         <form id=\"f\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"/\"></form>\
         <script>document.getElementById('f').submit()</script>"
    );
    let listener = TcpListener::bind("127.0.0.2:0").await.expect("a port on 127.0.0.2");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let page = Router::new().route("/", get(move || async move { Html(html) }));
    tokio::spawn(async move { axum::serve(listener, page).await });
    url
}
