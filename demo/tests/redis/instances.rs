//! Many instances on a real Redis: two app instances (tower-sessions 0.14,
//! tower-sessions-redis-store) share sessions in Redis and one `StateKey`.

use tower_oidc_logout_demo as demo;
use tower_oidc_logout_mock::browser as http_client;

use crate::{app, server};

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::{END_SESSION, ID_TOKEN, Instance, SESSION_COOKIE, SetCookies, replaying, session_key};
use http::{StatusCode, header};
use http_client::CookieClient;
use server::Redis;
use tokio::task::JoinSet;
use tower_oidc_logout::StateKey;
use tower_sessions_redis_store::fred::prelude::{Client, KeysInterface, ServerInterface};

/// Two instances on the same Redis with the same state key.
async fn two_instances(redis: &Redis) -> (Instance, Instance) {
    let key = StateKey::generate().unwrap();
    let a = Instance::start(redis.app_pool().await, key.clone()).await;
    let b = Instance::start(redis.app_pool().await, key).await;
    (a, b)
}

/// Whether Redis holds the session record, asked directly (not through an app).
async fn stored(client: &Client, session_cookie: &str) -> bool {
    client.exists::<u32, _>(session_key(session_cookie)).await.unwrap() == 1
}

#[tokio::test]
async fn signed_in_on_a_signed_out_on_b_back_on_a() {
    let redis = Redis::shared_or_own();
    let client = redis.client().await;
    let (a, b) = two_instances(&redis).await;
    let mut browser = CookieClient::new();

    let session = app::sign_in(&mut browser, &a).await;
    assert!(stored(&client, &session).await, "no record in Redis after sign-in on A");
    assert_eq!(app::me(&mut browser, &b).await, "alice", "B does not see A's session");

    let signed_out = app::sign_out(&mut browser, &b.base).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER, "{}", signed_out.body);
    let to_provider = signed_out.location().unwrap();
    assert!(to_provider.as_str().starts_with(END_SESSION), "{to_provider}");
    let hint = to_provider.query_pairs().find(|(n, _)| n == "id_token_hint").map(|(_, v)| v);
    assert_eq!(hint.as_deref(), Some(ID_TOKEN), "B read the ID token A stored");
    assert!(signed_out.removes(SESSION_COOKIE), "{:?}", signed_out.set_cookies());
    assert!(!stored(&client, &session).await, "the record is still in Redis");

    let back = app::come_back(&mut browser, &a.base, &signed_out).await;
    assert_eq!(back.status, StatusCode::OK, "A refused B's state: {}", back.body);
    assert_eq!(back.body, "signed out");

    // The old session cookie, replayed: no session on either instance.
    assert_eq!(app::me(&mut replaying(&session), &a).await, "nobody");
    assert_eq!(app::me(&mut replaying(&session), &b).await, "nobody");
    assert!(!stored(&client, &session).await, "replaying the cookie brought the record back");
}

#[tokio::test]
async fn redis_stopped_during_sign_out_fails_it_then_the_next_one_completes() {
    // This test stops its Redis, so it always starts its own.
    let mut redis = Redis::own();
    let (a, b) = two_instances(&redis).await;
    let mut browser = CookieClient::new();
    app::sign_in(&mut browser, &a).await;

    redis.stop();
    let started = Instant::now();
    let failed = app::sign_out(&mut browser, &b.base).await;
    let took = started.elapsed();

    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
    assert!(failed.body.contains("end_session_failed"), "{}", failed.body);
    let cause = failed.headers.get(app::HOOK_ERROR).map(|v| v.to_str().unwrap());
    assert!(
        cause.is_some_and(|c| c.starts_with("the session store could not delete the session")),
        "not the store's failure: {cause:?}"
    );
    assert!(failed.headers.get(header::LOCATION).is_none(), "sent to the provider anyway");
    assert!(failed.cookie_set("__Host-oidc-logout-").is_none(), "a state to complete with");
    assert!(failed.removes(SESSION_COOKIE), "local cookie kept: {:?}", failed.set_cookies());
    assert!(took < Duration::from_secs(2), "the failing sign-out took {took:?}");
    // Without a state cookie, no callback can report this sign-out as done.
    let forged = CookieClient::new()
        .send(
            http::Method::GET,
            &format!("{}{}?state=x&logout=success", a.base, app::CALLBACK),
            None,
        )
        .await;
    assert!(forged.status.is_client_error(), "{} {}", forged.status, forged.body);

    redis.start();
    let client = redis.client().await;
    let session = app::sign_in(&mut browser, &a).await;
    let done = app::sign_out(&mut browser, &b.base).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(!stored(&client, &session).await);
    assert_eq!(app::come_back(&mut browser, &a.base, &done).await.status, StatusCode::OK);
}

#[tokio::test]
async fn two_hundred_concurrent_sign_outs_over_both_instances() {
    const USERS: usize = 200;
    let redis = Redis::shared_or_own();
    let client = redis.client().await;
    let (a, b) = two_instances(&redis).await;
    let instances = Arc::new([a, b]);

    // User i signs in, in a browser of their own, on instance i % 2 ...
    let mut sign_ins = JoinSet::new();
    for i in 0..USERS {
        let instances = instances.clone();
        sign_ins.spawn(async move {
            let mut browser = CookieClient::new();
            let session = app::sign_in(&mut browser, &instances[i % 2]).await;
            (i, session, browser)
        });
    }
    let mut users = sign_ins.join_all().await;
    users.sort_by_key(|(i, ..)| *i);
    let sessions: Vec<String> = users.iter().map(|(_, session, _)| session.clone()).collect();
    for session in &sessions {
        assert!(stored(&client, session).await);
    }

    // ... all sign out at once, each on the other instance, and come back to the first.
    let mut flows = JoinSet::new();
    for (i, _, mut browser) in users {
        let instances = instances.clone();
        flows.spawn(async move {
            let signed_out = app::sign_out(&mut browser, &instances[(i + 1) % 2].base).await;
            let back = match signed_out.status {
                StatusCode::SEE_OTHER => {
                    app::come_back(&mut browser, &instances[i % 2].base, &signed_out).await
                }
                _ => signed_out,
            };
            (back.status, back.body)
        });
    }
    let outcomes = flows.join_all().await;
    assert_eq!(outcomes.len(), USERS);
    for (status, body) in &outcomes {
        assert_eq!((*status, body.as_str()), (StatusCode::OK, "signed out"));
    }

    let keys: Vec<String> = sessions.iter().map(|s| session_key(s)).collect();
    assert_eq!(client.exists::<u32, _>(keys).await.unwrap(), 0, "session records left in Redis");
    if redis.is_own() {
        assert_eq!(client.dbsize::<u32>().await.unwrap(), 0, "records left in Redis");
    }
}

/// Two demo processes' worth of app (the demo package) with the same `STATE_KEY`
/// and `SESSION_STORE`: signed in through one, signed out through the other.
#[tokio::test]
async fn two_demos_on_one_redis_serve_one_user() {
    two_demos_serve_one_user(&Redis::shared_or_own().url).await;
}

/// Two demos with `SESSION_STORE` = `url`: signed in through one, signed out through the other.
pub(crate) async fn two_demos_serve_one_user(url: &str) {
    let client = server::redis_client(url).await;
    let start = |url: String| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rp_url = format!("http://{}", listener.local_addr().unwrap());
        let settings = demo::Settings::from_lookup(|name| match name {
            "RP_URL" => Some(rp_url.clone()),
            "PROVIDER_END_SESSION_URL" => Some(END_SESSION.to_owned()),
            "STATE_KEY" => Some("cGxlYXNlIHVzZSBhIHJlYWwgcmFuZG9tIGtleSBoZXJlIQ==".to_owned()),
            "SESSION_STORE" => Some(url.clone()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.session_store, demo::SessionBackend::Redis { url });
        demo::start(settings, Some(listener), None).await.unwrap()
    };
    let (one, other) = (start(url.to_owned()).await, start(url.to_owned()).await);
    let mut browser = CookieClient::new();
    let server_session = |page: &str| page.contains("id=\"server\"><strong>present</strong>");

    let signed_in = browser.send(http::Method::GET, &format!("{}/login", one.rp_url), None).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    let session = signed_in.cookie_set("demo_session=").expect("a session cookie");
    assert!(stored(&client, &session).await, "no record in Redis");
    let home = browser.send(http::Method::GET, &format!("{}/", other.rp_url), None).await;
    assert!(server_session(&home.body), "the other demo does not see it: {}", home.body);

    let signed_out = app::sign_out(&mut browser, &other.rp_url).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER, "{}", signed_out.body);
    assert!(!stored(&client, &session).await, "the record is still in Redis");
    let back = app::come_back(&mut browser, &other.rp_url, &signed_out).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);

    // The old session cookie, replayed.
    let home = replaying(&session).send(http::Method::GET, &format!("{}/", one.rp_url), None).await;
    assert!(!server_session(&home.body), "still signed in on the first: {}", home.body);
}

/// Signs in as [`demo::DEMO_USER`] through the demo at `rp_url` and its
/// embedded mock's form: the page the browser ends on.
async fn sign_in_at_the_mock(browser: &mut CookieClient, rp_url: &str) -> http_client::Page {
    let form = browser.get(&format!("{rp_url}/login")).await;
    assert_eq!(form.url.path(), "/authorize", "{}", form.body);
    let mut fields: Vec<(String, String)> = form.url.query_pairs().into_owned().collect();
    fields.push(("user".to_owned(), demo::DEMO_USER.to_owned()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    browser.post_form(form.url.join("/authorize").unwrap().as_str(), &fields).await
}

/// Back-Channel Logout across instances: two demos with the same client on
/// one Redis (sessions and the `RedisIndex`), A signing in at the embedded
/// mock and B configured from its issuer. The provider's logout token, sent
/// to A, ends the session the browser uses on B; the same token replayed to
/// B is refused, because the token IDs seen are in the shared Redis too.
#[tokio::test]
async fn a_logout_token_sent_to_a_ends_the_session_on_b_and_is_refused_replayed_on_b() {
    logout_token_across_two_demos(&Redis::shared_or_own().url).await;
}

/// The flow above with `SESSION_STORE` = `url`; the token replayed to A is refused too.
pub(crate) async fn logout_token_across_two_demos(url: &str) {
    let client = server::redis_client(url).await;
    let rp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a_url = format!("http://{}", rp.local_addr().unwrap());
    let mock_url = format!("http://localhost:{}", mock.local_addr().unwrap().port());
    let key = "cGxlYXNlIHVzZSBhIHJlYWwgcmFuZG9tIGtleSBoZXJlIQ==";
    let settings = demo::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(a_url.clone()),
        "MOCK_PROVIDER_URL" => Some(mock_url.clone()),
        "STATE_KEY" => Some(key.to_owned()),
        "SESSION_STORE" => Some(url.to_owned()),
        _ => None,
    })
    .unwrap();
    let a = demo::start(settings, Some(rp), Some(mock)).await.unwrap();
    let (provider, _) = a.mock.clone().unwrap();
    let rp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_url = format!("http://{}", rp.local_addr().unwrap());
    let settings = demo::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(b_url.clone()),
        "PROVIDER_ISSUER" => Some(mock_url.clone()),
        "STATE_KEY" => Some(key.to_owned()),
        "SESSION_STORE" => Some(url.to_owned()),
        _ => None,
    })
    .unwrap();
    let b = demo::start(settings, Some(rp), None).await.unwrap();

    // Signed in through A at the provider (cookies are per host: B gets them too).
    let mut browser = http_client::CookieClient::new();
    let home = sign_in_at_the_mock(&mut browser, &a.rp_url).await;
    assert!(home.body.contains("<strong>Signed in</strong>"), "{}", home.body);
    let session = browser.cookie(&a.rp_url, demo::SESSION_COOKIE).expect("session cookie");
    let session = format!("{}={session}", demo::SESSION_COOKIE);
    assert!(stored(&client, &session).await, "no record in Redis");
    let on_b = browser.get(&format!("{}/", b.rp_url)).await;
    assert!(on_b.body.contains("<strong>Signed in</strong>"), "B: {}", on_b.body);

    // The provider ends its session and tells A (the one URI registered).
    let sid = provider.hosted_sessions()[0].sid.clone();
    provider.end_session_by_sid(&sid).await;
    let deliveries = provider.backchannel_deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].uri, format!("{}{}", a.rp_url, demo::BACKCHANNEL_PATH));
    assert_eq!(deliveries[0].status, Some(200), "{:?}", deliveries[0]);
    assert!(!stored(&client, &session).await, "the record is still in Redis");
    let on_b = browser.get(&format!("{}/", b.rp_url)).await;
    assert!(on_b.body.contains("Not signed in"), "still signed in on B: {}", on_b.body);

    // The same token, replayed to B: refused, B saw its ID through Redis.
    let token = deliveries[0].logout_token.as_str();
    let replayed = http_client::CookieClient::new()
        .post_form(&format!("{}{}", b.rp_url, demo::BACKCHANNEL_PATH), &[("logout_token", token)])
        .await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST, "{}", replayed.body);
    assert!(replayed.body.contains("replayed"), "{}", replayed.body);
    let replayed = http_client::CookieClient::new()
        .post_form(&format!("{}{}", a.rp_url, demo::BACKCHANNEL_PATH), &[("logout_token", token)])
        .await;
    assert!(replayed.body.contains("replayed"), "A: {} {}", replayed.status, replayed.body);
}

/// The sign-in's record in the index fails (Redis refuses the index's keys
/// to the demo's ACL user; the sessions' keys, 22 characters, it allows):
/// the demo signs nobody in and keeps no session that a provider's logout
/// could not end, and a later sign-in, with the index back, works.
#[tokio::test]
async fn a_sign_in_the_index_cannot_record_signs_nobody_in() {
    let redis = Redis::own();
    let client = redis.client().await; // the default user: sees every key
    let port = redis.addr().port();
    let acl = |keys: &str| {
        let set = ["ACL", "SETUSER", "demo", "reset", "on", ">demo-secret", "+@all", keys];
        assert_eq!(crate::cluster::cli(port, &set).trim(), "OK");
    };
    acl("~??????????????????????");
    let rp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_url = format!("http://{}", rp.local_addr().unwrap());
    let mock_url = format!("http://localhost:{}", mock.local_addr().unwrap().port());
    let settings = demo::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "MOCK_PROVIDER_URL" => Some(mock_url.clone()),
        "SESSION_STORE" => Some(format!("redis://demo:demo-secret@127.0.0.1:{port}/0")),
        _ => None,
    })
    .unwrap();
    let demo = demo::start(settings, Some(rp), Some(mock)).await.unwrap();
    let mut browser = CookieClient::new();
    let failed = sign_in_at_the_mock(&mut browser, &rp_url).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", failed.body);
    let keys = crate::cluster::keys_by_node(std::slice::from_ref(&client), "").await.concat();
    assert!(keys.is_empty(), "a session the index does not know is left in Redis: {keys:?}");
    let home = browser.get(&format!("{rp_url}/")).await;
    assert!(home.body.contains("Not signed in"), "{}", home.body);

    acl("~*");
    // The provider's session is still there: it sends the browser straight back.
    let home = browser.get(&format!("{rp_url}/login")).await;
    assert!(home.body.contains("<strong>Signed in</strong>"), "{}", home.body);
    drop(demo);
}
