//! The server itself: separate instances, shutdown.

use http::{Method, StatusCode};
use tower_oidc_logout_mock::{MockProvider, browser::CookieClient};

use crate::support::{CALLBACK, demo_provider, end_session_url, sign_in};

#[tokio::test]
async fn instances_share_nothing() {
    let (one, two) =
        (demo_provider().await, MockProvider::builder().serve("127.0.0.1:0").await.unwrap());
    assert_ne!(one.addr(), two.addr());
    let mut browser = CookieClient::new();
    sign_in(&mut browser, &one, "alice").await;
    assert_eq!(two.hosted_session_count(), 0);
    // `two` has no clients registered at all.
    let query = [("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK)];
    let page = browser.send(Method::GET, &end_session_url(&two, &query), None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(one.end_session_calls().is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let provider = demo_provider().await;
    let addr = provider.addr();
    provider.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
