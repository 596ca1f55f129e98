//! OpenID Connect Discovery against real servers on loopback: what each rule refuses, and
//! that it refuses it over the wire (timeouts, size cap, TLS verification).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    http::{StatusCode, header},
    routing::get,
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpSocket, TcpStream},
};
use tokio_rustls::{TlsAcceptor, rustls};
use tower_oidc_logout::discovery::{Discovery, DiscoveryError};

use crate::servers::{answer_and_hang, raw_server, read_head, serve};

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Settings short enough that no test waits long.
fn quick() -> Discovery {
    Discovery::new().connect_timeout(Duration::from_millis(500)).timeout(Duration::from_secs(2))
}

fn document(issuer: &str) -> String {
    format!(
        r#"{{"issuer":"{issuer}",
            "authorization_endpoint":"{issuer}/authorize",
            "token_endpoint":"{issuer}/token",
            "jwks_uri":"{issuer}/jwks",
            "end_session_endpoint":"{issuer}/endsession",
            "backchannel_logout_supported":true,
            "backchannel_logout_session_supported":true,
            "response_types_supported":["code"]}}"#
    )
}

/// Serves `document` at the well-known path of `http://127.0.0.1:<port>`.
async fn serve_document(document: impl Fn(&str) -> String) -> String {
    serve(|base| {
        let body = document(base);
        Router::new().route(
            WELL_KNOWN,
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
        )
    })
    .await
}

#[tokio::test]
async fn a_good_document_is_fetched_from_the_well_known_path() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let seen_by_server = seen.clone();
    let base = serve(|base| {
        let body = document(base);
        Router::new().route(
            WELL_KNOWN,
            get(move |headers: axum::http::HeaderMap| async move {
                *seen_by_server.lock().unwrap() =
                    headers.get(header::ACCEPT).map(|value| value.to_str().unwrap().to_owned());
                body
            }),
        )
    })
    .await;

    let metadata = quick().discover(&base).await.unwrap();
    assert_eq!(metadata.issuer(), base);
    assert_eq!(metadata.end_session_endpoint(), Some(&*format!("{base}/endsession")));
    assert_eq!(metadata.jwks_uri(), Some(&*format!("{base}/jwks")));
    assert_eq!(metadata.authorization_endpoint(), Some(&*format!("{base}/authorize")));
    assert_eq!(metadata.token_endpoint(), Some(&*format!("{base}/token")));
    assert!(metadata.backchannel_logout_supported());
    assert!(metadata.backchannel_logout_session_supported());
    assert!(!metadata.frontchannel_logout_supported());
    assert!(!metadata.frontchannel_logout_session_supported());
    assert_eq!(seen.lock().unwrap().as_deref(), Some("application/json"));

    // The default settings and the crate-root re-export reach the same document.
    let again = tower_oidc_logout::discovery::ProviderMetadata::discover(&base).await.unwrap();
    assert_eq!(again, metadata);
}

#[tokio::test]
async fn an_issuer_with_a_path_keeps_it() {
    let base = serve(|base| {
        let body = document(&format!("{base}/realms/app"));
        Router::new().route(&format!("/realms/app{WELL_KNOWN}"), get(move || async move { body }))
    })
    .await;
    let issuer = format!("{base}/realms/app");
    assert_eq!(quick().discover(&issuer).await.unwrap().issuer(), issuer);
}

#[tokio::test]
async fn the_documents_issuer_must_equal_the_configured_one() {
    // A document naming another issuer.
    let base = serve_document(|_| document("https://evil.example")).await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::IssuerMismatch { configured, document }
            if *configured == base && document == "https://evil.example"),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(&base) && message.contains("https://evil.example"), "{message}");
}

#[tokio::test]
async fn a_trailing_slash_is_stripped_for_the_url_but_counts_in_the_comparison() {
    // The document says `http://127.0.0.1:<port>` (no slash).
    let base = serve_document(document).await;
    let with_slash = format!("{base}/");
    let err = quick().discover(&with_slash).await.unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::IssuerMismatch { configured, document }
            if *configured == with_slash && *document == base),
        "the document was fetched from `{base}{WELL_KNOWN}`, then refused: {err}"
    );

    // A provider whose issuer has the slash is discovered with it.
    let base = serve_document(|base| document(&format!("{base}/"))).await;
    let issuer = format!("{base}/");
    assert_eq!(quick().discover(&issuer).await.unwrap().issuer(), issuer);
    let err = quick().discover(&base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::IssuerMismatch { .. }), "{err}");
}

#[tokio::test]
async fn an_http_issuer_off_loopback_is_refused_before_any_connection() {
    let (port, accepted) = raw_server(|stream| answer_and_hang(stream, Vec::new())).await;
    // 0.0.0.0 reaches this machine's listeners on Linux, but is not a loopback address.
    for issuer in [format!("http://0.0.0.0:{port}"), "http://op.example".to_owned()] {
        let err = quick().discover(&issuer).await.unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::InvalidIssuer { issuer: named, .. } if *named == issuer),
            "{issuer}: {err}"
        );
        assert!(err.to_string().contains("https"), "{err}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was attempted");
}

#[tokio::test]
async fn endpoints_in_the_document_must_be_https_except_on_loopback() {
    let base = serve_document(|base| {
        format!(r#"{{"issuer":"{base}","end_session_endpoint":"http://op.example/endsession"}}"#)
    })
    .await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::InvalidEndpoint { field: "end_session_endpoint", value, .. }
            if value == "http://op.example/endsession"),
        "{err}"
    );

    let base = serve_document(|base| {
        format!(r#"{{"issuer":"{base}","jwks_uri":"http://localhost:1/jwks"}}"#)
    })
    .await;
    let metadata = quick().discover(&base).await.unwrap();
    assert_eq!(metadata.jwks_uri(), Some("http://localhost:1/jwks"));
}

#[tokio::test]
async fn a_document_without_end_session_endpoint_is_accepted_and_its_absence_typed() {
    let base = serve_document(|base| format!(r#"{{"issuer":"{base}"}}"#)).await;
    let metadata = quick().discover(&base).await.unwrap();
    assert_eq!(metadata.end_session_endpoint(), None);
    let err = metadata.require_end_session_endpoint().unwrap_err();
    assert!(matches!(&err, DiscoveryError::NoEndSessionEndpoint { issuer } if *issuer == base));
    let message = err.to_string();
    assert!(message.contains(&base) && message.contains("end_session_endpoint(url)"), "{message}");
}

#[tokio::test]
async fn a_status_other_than_200_is_refused() {
    let base = serve(|_| Router::new()).await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::Status { status: 404, .. }), "{err}");

    let base =
        serve(|_| Router::new().route(WELL_KNOWN, get(|| async { (StatusCode::NO_CONTENT, "") })))
            .await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::Status { status: 204, .. }), "{err}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let followed = Arc::new(AtomicUsize::new(0));
    let counter = followed.clone();
    let base = serve(|base| {
        let target = format!("{base}/elsewhere{WELL_KNOWN}");
        let body = document(base);
        Router::new()
            .route(
                WELL_KNOWN,
                get(move || async move { (StatusCode::FOUND, [(header::LOCATION, target)]) }),
            )
            .route(
                &format!("/elsewhere{WELL_KNOWN}"),
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    body
                }),
            )
    })
    .await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::Redirect { status: 302, location: Some(location), .. }
            if location.ends_with("/elsewhere/.well-known/openid-configuration")),
        "{err}"
    );
    assert_eq!(followed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bodies_that_are_not_a_json_object_are_typed_errors() {
    let base = serve_document(|_| "<html>sign in</html>".to_owned()).await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(matches!(&err, DiscoveryError::InvalidJson { issuer, .. } if *issuer == base), "{err}");

    let base = serve_document(|base| format!(r#"["{base}"]"#)).await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::NotAnObject { .. }), "{err}");

    let base = serve_document(|base| {
        format!(r#"{{"issuer":"{base}","frontchannel_logout_supported":"yes"}}"#)
    })
    .await;
    let err = quick().discover(&base).await.unwrap_err();
    assert!(
        matches!(err, DiscoveryError::WrongType { field: "frontchannel_logout_supported", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_document_at_the_cap_is_accepted_and_one_byte_more_refused() {
    let cap = 1000;
    let padded = |base: &str, len: usize| {
        let head = format!(r#"{{"issuer":"{base}","x":""#);
        format!("{head}{}\"}}", "a".repeat(len - head.len() - 2))
    };
    let base = serve_document(move |base| padded(base, cap)).await;
    assert!(quick().max_document_len(cap).discover(&base).await.is_ok());
    let base = serve_document(move |base| padded(base, cap + 1)).await;
    let err = quick().max_document_len(cap).discover(&base).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::TooLarge { limit: 1000, .. }), "{err}");
}

#[tokio::test]
async fn content_length_over_the_cap_is_refused_without_reading_the_body() {
    // Announces 100 000 bytes, sends one and hangs: only the header check can answer in time.
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{".to_vec();
    let (port, _) = raw_server(move |stream| answer_and_hang(stream, reply.clone())).await;
    let err = quick()
        .max_document_len(1000)
        .discover(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoveryError::TooLarge { limit: 1000, .. }), "{err}");
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_is_refused_while_it_streams() {
    // No Content-Length: two chunks of 800 bytes, then the body never ends.
    let chunk = format!("320\r\n{}\r\n", "a".repeat(800));
    let reply = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}");
    let (port, _) =
        raw_server(move |stream| answer_and_hang(stream, reply.clone().into_bytes())).await;
    let err = quick()
        .max_document_len(1000)
        .discover(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoveryError::TooLarge { limit: 1000, .. }), "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_total_timeout() {
    let (port, accepted) = raw_server(|stream| answer_and_hang(stream, Vec::new())).await;
    let err = Discovery::new()
        .timeout(Duration::from_millis(200))
        .discover(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::Timeout { timeout, .. } if timeout == Duration::from_millis(200)),
        "{err}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the connection itself succeeded");
}

#[tokio::test]
async fn a_connection_that_cannot_be_opened_hits_the_connect_timeout() {
    // A listener that never accepts, with its accept queue filled: Linux then drops further
    // SYNs, so a new connect hangs as it would towards a firewalled host. All on loopback.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut queue_full = false;
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(address)).await {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(error)) => panic!("connect failed: {error}"),
            Err(_) => {
                queue_full = true;
                break;
            }
        }
    }
    assert!(queue_full, "the accept queue never filled; cannot simulate a silent host");

    let err = Discovery::new()
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .discover(&format!("http://{address}"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DiscoveryError::ConnectTimeout { timeout, .. } if timeout == Duration::from_millis(200)),
        "{err}"
    );
    drop((held, listener));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = quick().discover(&format!("http://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::Connect { .. }), "{err}");
}

/// A TLS server on 127.0.0.1 whose certificate (for `localhost`) is self-signed; returns the
/// port and the certificate (DER).
async fn tls_server() -> (u16, Vec<u8>) {
    tls_server_with(document).await
}

/// [`tls_server`], serving `document(issuer)` for its issuer `https://localhost:<port>`.
async fn tls_server_with(document: fn(&str) -> String) -> (u16, Vec<u8>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                read_head(&mut tls).await;
                let body = document(&format!("https://localhost:{port}"));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, der)
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let (port, _) = tls_server().await;
    let url = format!("https://localhost:{port}");
    let err = quick().discover(&url).await.unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::UntrustedCertificate { url: at, .. } if at.starts_with(&url)),
        "{err}"
    );
    assert!(err.to_string().contains("add_root_certificate"), "{err}");
}

#[tokio::test]
async fn a_trusted_certificate_works_and_its_host_name_is_checked() {
    let (port, der) = tls_server().await;
    let trusting = quick().add_root_certificate(der);
    // Proves the TLS path itself works, so the refusal above is the certificate's.
    let metadata = trusting.discover(&format!("https://localhost:{port}")).await.unwrap();
    assert_eq!(
        metadata.end_session_endpoint(),
        Some(&*format!("https://localhost:{port}/endsession"))
    );
    // Same server and root, but the certificate is for `localhost`, not `127.0.0.1`.
    let err = trusting.discover(&format!("https://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(err, DiscoveryError::UntrustedCertificate { .. }), "{err}");
}

/// An `https` provider's document may not send the key fetch to a plain-`http`
/// loopback URL (a forged `kid` would make the app GET it); a plain-`http`
/// loopback provider's may.
#[tokio::test]
async fn an_https_issuers_document_naming_a_loopback_http_endpoint_is_refused() {
    fn local_jwks(issuer: &str) -> String {
        document(issuer).replace(&format!("{issuer}/jwks"), "http://127.0.0.1:6379/jwks")
    }
    let (port, der) = tls_server_with(local_jwks).await;
    let err = quick()
        .add_root_certificate(der)
        .discover(&format!("https://localhost:{port}"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DiscoveryError::InvalidEndpoint { field: "jwks_uri", value, .. }
            if value == "http://127.0.0.1:6379/jwks"),
        "{err}"
    );
    let base = serve_document(local_jwks).await;
    let metadata = quick().discover(&base).await.unwrap();
    assert_eq!(metadata.jwks_uri(), Some("http://127.0.0.1:6379/jwks"));
}

/// The layer configured from the mock provider's discovery document sends
/// the browser to the end-session endpoint the document names.
#[tokio::test]
async fn the_layer_takes_its_end_session_endpoint_from_the_mock_providers_document() {
    use tower::{Layer, ServiceExt};
    use tower_oidc_logout::{OidcLogoutLayer, StateKey, discovery::ProviderMetadata};
    use tower_oidc_logout_mock::MockProvider;

    let provider = MockProvider::builder()
        .client("rp", ["https://app.example/logout/callback"])
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let metadata = ProviderMetadata::discover(provider.issuer()).await.unwrap();
    assert_eq!(metadata.end_session_endpoint(), Some(provider.end_session_url().as_str()));
    let builder = || {
        OidcLogoutLayer::builder()
            .provider(&metadata)
            .client_id("rp")
            .post_logout_redirect_uri("https://app.example/logout/callback")
            .state_key(StateKey::generate().unwrap())
    };
    let app = tower::service_fn(|_: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
    });
    let sign_out = || {
        http::Request::post("/logout")
            .header("sec-fetch-site", "same-origin")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let response = builder().build().unwrap().layer(app).oneshot(sign_out()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with(&format!("{}?client_id=rp&", provider.end_session_url())));

    // An endpoint set by hand wins over the discovered one.
    let by_hand = builder().end_session_endpoint("https://op.example/bye").build().unwrap();
    let response = by_hand.layer(app).oneshot(sign_out()).await.unwrap();
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("https://op.example/bye?"), "{location}");
    provider.shutdown().await;
}

#[test]
fn a_provider_without_end_session_endpoint_is_a_build_error_naming_the_issuer() {
    use tower_oidc_logout::{ConfigError, OidcLogoutLayer, StateKey, discovery::ProviderMetadata};

    let issuer = "https://backchannel-only.example";
    let metadata =
        ProviderMetadata::from_json(issuer, format!(r#"{{"issuer":"{issuer}"}}"#).as_bytes())
            .unwrap();
    let error = OidcLogoutLayer::builder()
        .provider(&metadata)
        .client_id("rp")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::generate().unwrap())
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::NoEndSessionEndpoint { issuer: issuer.to_owned() });
    assert!(error.to_string().contains(issuer), "{error}");
    assert!(error.to_string().contains("end_session_endpoint(url)"), "{error}");
}
