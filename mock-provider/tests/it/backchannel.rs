//! The mock as the sender of Back-Channel Logout: a relying party's endpoint
//! is a [`Receiver`] on an ephemeral loopback port; tokens are checked with
//! p256 against `/jwks`, independently of the mock's code.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use tower_oidc_logout_mock::{HOSTED_SESSION_COOKIE, LOGOUT_PARAM_VALUE, browser::CookieClient};

use crate::support::{
    CALLBACK, CHALLENGE, Receiver, assert_logout_token, builder, client, end_session_for,
    fetch_jwks, logout_token_of, sign_in, tokens_for,
};

#[tokio::test]
async fn end_session_posts_one_logout_token_to_each_client_that_had_the_session() {
    let rp = Receiver::start(200, Duration::ZERO).await;
    let provider = builder()
        .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
        .register(client("b").backchannel_logout_uri(format!("{}/b?tenant=1", rp.url)))
        .register(client("c").backchannel_logout_uri(format!("{}/c", rp.url)))
        .register(client("d"))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let (mut alice, mut bob) = (CookieClient::new(), CookieClient::new());
    let sid = sign_in(&mut alice, &provider, "alice").await;
    for client_id in ["a", "b", "d"] {
        tokens_for(&mut alice, &provider, client_id).await;
    }
    // Bob's session had "c": it does not end, "c" hears nothing.
    sign_in(&mut bob, &provider, "bob").await;
    tokens_for(&mut bob, &provider, "c").await;

    let page = alice.send(Method::GET, &end_session_for(&provider, "a", "xyz"), None).await;
    // No front-channel client: the redirect is exactly as before.
    assert_eq!(page.status, StatusCode::FOUND);
    assert_eq!(
        page.header("location"),
        Some(format!("{CALLBACK}?logout={LOGOUT_PARAM_VALUE}&state=xyz").as_str())
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(!provider.has_session("alice") && provider.has_session("bob"));

    let mut received = rp.received();
    received.sort_by(|x, y| x.path_and_query.cmp(&y.path_and_query));
    let paths: Vec<&str> = received.iter().map(|r| r.path_and_query.as_str()).collect();
    assert_eq!(paths, ["/a", "/b?tenant=1"], "one per client that had the session");
    let jwks = fetch_jwks(&provider).await;
    let mut jtis = Vec::new();
    for (request, client_id) in received.iter().zip(["a", "b"]) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        let token = logout_token_of(&request.body);
        let claims = assert_logout_token(&jwks, &provider, &token, client_id, &sid, "alice");
        jtis.push(claims["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1], "a jti per token");

    let deliveries = provider.backchannel_deliveries();
    assert_eq!(deliveries.len(), 2);
    for (delivery, request) in deliveries.iter().zip(&received) {
        assert!(delivery.succeeded(), "{delivery:?}");
        assert_eq!(delivery.status, Some(200));
        assert_eq!(delivery.error, None);
        assert_eq!(delivery.sid, sid);
        assert_eq!(delivery.sub, "alice");
        assert_eq!(delivery.logout_token, logout_token_of(&request.body));
        assert_eq!(delivery.uri, format!("{}{}", rp.url, request.path_and_query));
    }
    assert_eq!(deliveries[0].client_id, "a");
    assert_eq!(deliveries[1].client_id, "b");
    assert!(provider.frontchannel_logouts().is_empty());
    assert_eq!(provider.last_end_session_call().unwrap().status, 302);
}

#[tokio::test]
async fn the_sign_out_everywhere_button_ends_the_session_and_tells_its_clients() {
    let rp = Receiver::start(204, Duration::ZERO).await;
    let provider = builder()
        .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
        .register(client("b").backchannel_logout_uri(format!("{}/b", rp.url)))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let nobody = CookieClient::new().get(&provider.authorize_url()).await;
    assert!(!nobody.body.contains("sign-out-everywhere"), "no button without a session");

    let mut browser = CookieClient::new();
    let sid = sign_in(&mut browser, &provider, "alice").await;
    tokens_for(&mut browser, &provider, "a").await;
    let page = browser.get(&provider.authorize_url()).await;
    assert!(
        page.body.contains("<form id=\"sign-out-everywhere\" method=\"post\" action=\"/logout\">"),
        "{}",
        page.body
    );

    let page = browser.send(Method::POST, &format!("{}/logout", provider.url()), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("<strong>ended</strong>"), "{}", page.body);
    assert_eq!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE), None);
    assert_eq!(provider.hosted_session_count(), 0);

    let received = rp.received();
    assert_eq!(received.len(), 1, "only the client that had the session");
    assert_eq!(received[0].path_and_query, "/a");
    let token = logout_token_of(&received[0].body);
    assert_logout_token(&fetch_jwks(&provider).await, &provider, &token, "a", &sid, "alice");
    let deliveries = provider.backchannel_deliveries();
    assert!(deliveries[0].succeeded(), "204 counts as success: {deliveries:?}");

    let page = browser.get(&provider.authorize_url()).await;
    assert!(!page.body.contains("sign-out-everywhere"));
    // Again, signed out: a page that says so, nothing sent.
    let page = browser.send(Method::POST, &format!("{}/logout", provider.url()), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<strong>none</strong>"));
    assert_eq!(rp.received().len(), 1);
}

#[tokio::test]
async fn a_sign_in_that_replaces_the_session_tells_its_clients() {
    let rp = Receiver::start(200, Duration::ZERO).await;
    let provider = builder()
        .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut browser = CookieClient::new();
    let sid = sign_in(&mut browser, &provider, "alice").await;
    tokens_for(&mut browser, &provider, "a").await;
    // The sign-in form of /authorize, posted by the same browser as bob.
    let form = [
        ("client_id", "a"),
        ("redirect_uri", "http://127.0.0.1:3000/a/callback"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("user", "bob"),
    ];
    let page = browser.send(Method::POST, &provider.authorize_url(), Some(&form)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(provider.has_session("bob") && !provider.has_session("alice"));
    let received = rp.received();
    assert_eq!(received.len(), 1);
    let token = logout_token_of(&received[0].body);
    assert_logout_token(&fetch_jwks(&provider).await, &provider, &token, "a", &sid, "alice");
}

#[tokio::test]
async fn the_api_ends_a_session_by_sid_or_every_session_of_a_user() {
    let rp = Receiver::start(200, Duration::ZERO).await;
    let provider = builder()
        .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
        .register(client("b"))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let (mut laptop, mut phone, mut bob) =
        (CookieClient::new(), CookieClient::new(), CookieClient::new());
    let laptop_sid = sign_in(&mut laptop, &provider, "alice").await;
    tokens_for(&mut laptop, &provider, "a").await;
    let phone_sid = sign_in(&mut phone, &provider, "alice").await;
    tokens_for(&mut phone, &provider, "a").await;
    tokens_for(&mut phone, &provider, "b").await;
    sign_in(&mut bob, &provider, "bob").await;
    tokens_for(&mut bob, &provider, "a").await;
    assert_ne!(laptop_sid, phone_sid);

    let unknown = provider.end_session_by_sid("no-such-sid").await;
    assert!(unknown.sessions.is_empty() && unknown.backchannel.is_empty());
    assert_eq!(provider.hosted_session_count(), 3);

    let ended = provider.end_session_by_sid(&laptop_sid).await;
    assert_eq!(ended.sessions.len(), 1);
    assert_eq!(ended.sessions[0].sid, laptop_sid);
    assert_eq!(ended.backchannel.len(), 1);
    assert_eq!(ended.backchannel[0].sid, laptop_sid);
    assert!(ended.backchannel[0].succeeded());
    assert!(provider.has_session("alice"), "the phone's session is another one");

    let ended = provider.end_sessions_of("alice").await;
    assert_eq!(ended.sessions.len(), 1);
    assert_eq!(ended.sessions[0].clients, ["a", "b"]);
    assert_eq!(ended.backchannel.len(), 1, "b has no backchannel_logout_uri");
    assert_eq!(ended.backchannel[0].client_id, "a");
    assert!(!provider.has_session("alice") && provider.has_session("bob"));

    let jwks = fetch_jwks(&provider).await;
    let received = rp.received();
    assert_eq!(received.len(), 2);
    for (request, sid) in received.iter().zip([&laptop_sid, &phone_sid]) {
        let token = logout_token_of(&request.body);
        assert_logout_token(&jwks, &provider, &token, "a", sid, "alice");
    }
    assert_eq!(provider.backchannel_deliveries().len(), 2);
    assert!(provider.end_sessions_of("alice").await.sessions.is_empty());
}

#[tokio::test]
async fn failed_deliveries_are_recorded_and_do_not_break_the_sign_out() {
    let failing = Receiver::start(500, Duration::ZERO).await;
    let slow = Receiver::start(200, Duration::from_secs(30)).await;
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/gone", listener.local_addr().unwrap())
    };
    let provider = builder()
        .backchannel_timeout(Duration::from_millis(300))
        .register(client("failing").backchannel_logout_uri(format!("{}/bc", failing.url)))
        .register(client("closed").backchannel_logout_uri(closed.clone()))
        .register(client("slow").backchannel_logout_uri(format!("{}/bc", slow.url)))
        .register(client("tls").backchannel_logout_uri("https://rp.example/bc"))
        .register(client("junk").backchannel_logout_uri("not a uri"))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut browser = CookieClient::new();
    sign_in(&mut browser, &provider, "alice").await;
    for client_id in ["failing", "closed", "slow", "tls", "junk"] {
        tokens_for(&mut browser, &provider, client_id).await;
    }

    let started = Instant::now();
    let page = browser.send(Method::GET, &end_session_for(&provider, "failing", "s"), None).await;
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    assert_eq!(
        page.header("location"),
        Some(format!("{CALLBACK}?logout={LOGOUT_PARAM_VALUE}&state=s").as_str())
    );
    assert_eq!(provider.hosted_session_count(), 0);

    let deliveries = provider.backchannel_deliveries();
    let by_client = |id: &str| deliveries.iter().find(|d| d.client_id == id).unwrap();
    assert_eq!(deliveries.len(), 5);
    assert_eq!(by_client("failing").status, Some(500));
    assert!(!by_client("failing").succeeded());
    assert_eq!(failing.received().len(), 1);
    for id in ["closed", "slow", "tls", "junk"] {
        let delivery = by_client(id);
        assert_eq!(delivery.status, None, "{delivery:?}");
        assert!(delivery.error.is_some(), "{delivery:?}");
        assert!(!delivery.succeeded());
        assert!(!delivery.logout_token.is_empty(), "the token is recorded all the same");
    }
    assert!(by_client("slow").error.as_deref().unwrap().contains("300 ms"));
    assert_eq!(by_client("closed").uri, closed);
}
