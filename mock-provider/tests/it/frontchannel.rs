//! The mock as the sender of Front-Channel Logout: the logged-out page's iframes.

use std::time::Duration;

use http::{Method, StatusCode};
use tower_oidc_logout_mock::{
    FRONTCHANNEL_CONTINUE_AFTER, HOSTED_SESSION_COOKIE, LOGOUT_PARAM_VALUE, browser::CookieClient,
};

use crate::support::{CALLBACK, Receiver, builder, client, end_session_for, sign_in, tokens_for};

#[tokio::test]
async fn front_channel_clients_get_escaped_iframes_before_the_redirect() {
    let rp = Receiver::start(200, Duration::ZERO).await;
    let weird = "http://127.0.0.1:9/fc?tenant=a&b=\"<x>\"";
    let provider = builder()
        .register(client("fc1").frontchannel_logout_uri(weird))
        .register(
            client("fc2")
                .frontchannel_logout_uri("https://rp2.example/logout")
                .backchannel_logout_uri(format!("{}/fc2", rp.url)),
        )
        .register(client("fc3").frontchannel_logout_uri("https://rp3.example/logout"))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let mut browser = CookieClient::new();
    let sid = sign_in(&mut browser, &provider, "alice").await;
    tokens_for(&mut browser, &provider, "fc1").await;
    tokens_for(&mut browser, &provider, "fc2").await;

    let state = "a\"<b>&c";
    let page = browser.send(Method::GET, &end_session_for(&provider, "fc1", state), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.header("location"), None);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE), None);
    assert!(!provider.has_session("alice"));
    assert_eq!(provider.last_end_session_call().unwrap().status, 200);
    assert!(provider.last_end_session_call().unwrap().ended_hosted_session);
    // Back-channel too, for the client that has both.
    assert_eq!(rp.received().len(), 1);

    let iss =
        url::form_urlencoded::byte_serialize(provider.issuer().as_bytes()).collect::<String>();
    let expected = [
        format!(
            "http://127.0.0.1:9/fc?tenant=a&amp;b=&quot;&lt;x&gt;&quot;&amp;iss={iss}&amp;sid={sid}"
        ),
        format!("https://rp2.example/logout?iss={iss}&amp;sid={sid}"),
    ];
    let srcs: Vec<&str> = page
        .body
        .split("<iframe ")
        .skip(1)
        .map(|iframe| {
            let start = iframe.find("src=\"").unwrap() + 5;
            &iframe[start..start + iframe[start..].find('"').unwrap()]
        })
        .collect();
    assert_eq!(srcs, expected, "{}", page.body);
    assert!(!page.body.contains("<x>") && !page.body.contains("\"<"), "{}", page.body);

    let recorded = provider.frontchannel_logouts();
    assert_eq!(recorded.len(), 2, "fc3 had no tokens for the session");
    for (logout, src) in recorded.iter().zip(&srcs) {
        assert_eq!(logout.sid, sid);
        assert_eq!(
            logout.uri,
            src.replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        );
        let url = url::Url::parse(&logout.uri).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let n = pairs.len();
        assert_eq!(pairs[n - 2], ("iss".to_owned(), provider.issuer().to_owned()));
        assert_eq!(pairs[n - 1], ("sid".to_owned(), sid.clone()));
    }
    assert_eq!(recorded[0].client_id, "fc1");
    assert_eq!(recorded[0].uri, format!("{weird}&iss={iss}&sid={sid}"));

    // Then on to the post-logout redirect URI, without script: a meta refresh and a link.
    let location = format!("{CALLBACK}?logout={LOGOUT_PARAM_VALUE}&amp;state=a%22%3Cb%3E%26c");
    assert!(
        page.body.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"{}; url={location}\">",
            FRONTCHANNEL_CONTINUE_AFTER.as_secs()
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("<a id=\"continue\" href=\"{location}\">")));
    assert!(!page.body.contains("<script"));

    // The button renders the same iframes.
    let mut again = CookieClient::new();
    let sid = sign_in(&mut again, &provider, "bob").await;
    tokens_for(&mut again, &provider, "fc2").await;
    let page = again.send(Method::POST, &format!("{}/logout", provider.url()), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("src=\"https://rp2.example/logout?iss={iss}&amp;sid={sid}\"")),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<iframe ").count(), 1);
    assert_eq!(provider.frontchannel_logouts().len(), 3);
}
