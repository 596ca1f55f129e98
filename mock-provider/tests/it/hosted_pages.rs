//! The hosted screens: the hosted-session page and the mock-only `/login`.

use http::{Method, StatusCode};
use tower_oidc_logout_mock::{HOSTED_SESSION_COOKIE, browser::CookieClient};

use crate::support::{assert_json_error, demo_provider};

#[tokio::test]
async fn login_redirects_only_to_the_clients_origins() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    let login = |query: &str| format!("{}/login?user=carol&{query}", provider.url());

    let page = browser
        .send(
            Method::GET,
            &login("client_id=demo-client&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2F"),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header("location"), Some("http://127.0.0.1:3000/"));
    assert!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).is_some());

    let page = browser
        .send(
            Method::GET,
            &login("client_id=demo-client&redirect_uri=https%3A%2F%2Fevil.example%2F"),
            None,
        )
        .await;
    assert_json_error(&page, StatusCode::BAD_REQUEST);
    let page = browser
        .send(
            Method::GET,
            &login("client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2F"),
            None,
        )
        .await;
    assert_json_error(&page, StatusCode::FORBIDDEN);
    let page = browser.send(Method::GET, &format!("{}/login?user=", provider.url()), None).await;
    assert_json_error(&page, StatusCode::BAD_REQUEST);
    assert_eq!(provider.hosted_session_count(), 1);
}

#[tokio::test]
async fn authorize_escapes_the_user_name() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    let page = browser.get(&format!("{}/login?user=%3Cscript%3E", provider.url())).await;
    assert!(page.body.contains("&lt;script&gt;"));
    assert!(!page.body.contains("<script>"));
}
