//! The layer composes with axum, hyper and tonic as users wire it.

use crate::layer_fixtures;

use std::convert::Infallible;

use axum::{Extension, Router, body::Body, routing::get};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use layer_fixtures::*;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;
use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, body::WrapBodyLayer};

fn layer() -> OidcLogoutLayer {
    builder(&TestClock::new()).build().unwrap()
}

async fn signed_out(Extension(done): Extension<LoggedOut>) -> String {
    format!("signed out, back to {}", done.return_target().map_or("/", |t| t.as_str()))
}

/// Logout then callback through an axum service; returns the callback's body.
async fn round_trip(app: Router) -> String {
    let request = post("/logout?return_to=/bye").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let state = param(&location(response.headers()), "state").unwrap();
    let cookie = state_cookie(response.headers());
    let request = Request::get(format!("/logout/callback?state={state}"))
        .header(header::COOKIE, format!("{}={}", cookie.0, cookie.1))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn axum_router_layer() {
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route("/logout/callback", get(signed_out))
        .layer(layer());
    assert_eq!(round_trip(app.clone()).await, "signed out, back to /bye");
    let home = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(home.into_body().collect().await.unwrap().to_bytes(), "home");
}

#[tokio::test]
async fn axum_route_service() {
    let layer = layer();
    // Named without type parameters, like the layer it came from.
    let _: tower_oidc_logout::routes::LogoutService = layer.logout_service();
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route_service("/logout", layer.logout_service())
        .route_service("/logout/callback", layer.callback_service(get(signed_out)));
    assert_eq!(round_trip(app).await, "signed out, back to /bye");
}

/// Serves one hyper connection with `service` on a loopback listener.
async fn serve_hyper<S>(service: S) -> std::net::SocketAddr
where
    S: tower::Service<
            Request<hyper::body::Incoming>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service.clone();
            tokio::spawn(async move {
                let hyper_service =
                    hyper::service::service_fn(move |request| service.clone().oneshot(request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });
    addr
}

async fn http1(
    addr: std::net::SocketAddr,
    request: Request<Full<Bytes>>,
) -> (Response<()>, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn hyper_server_with_service_fn() {
    let app = tower::service_fn(|request: Request<hyper::body::Incoming>| async move {
        let body = match request.extensions().get::<LoggedOut>() {
            Some(_) => "signed out",
            None => "hello",
        };
        Ok::<_, Infallible>(Response::new(Full::from(body)))
    });
    let addr = serve_hyper(tower::Layer::layer(&layer(), app)).await;

    let (hello, body) =
        http1(addr, Request::get("/").header(header::HOST, "app").body(empty()).unwrap()).await;
    assert_eq!((hello.status(), body.as_str()), (StatusCode::OK, "hello"));

    let request = post("/logout").header(header::HOST, "app").body(empty()).unwrap();
    let (response, _) = http1(addr, request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let state = param(&location(response.headers()), "state").unwrap();
    let mut request = callback(&state, &state_cookie(response.headers()));
    request.headers_mut().insert(header::HOST, "app".parse().unwrap());
    let (response, body) = http1(addr, request).await;
    assert_eq!((response.status(), body.as_str()), (StatusCode::OK, "signed out"));
}

#[tokio::test]
async fn tonic_server_passes_grpc_through_unchanged() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("demo.Greeter", tonic_health::ServingStatus::Serving).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .layer(layer())
        // tonic's body is not `From<Bytes>`: the layer answers in a wrapper.
        .layer(WrapBodyLayer)
        .add_service(health)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let response = client
        .check(HealthCheckRequest { service: "demo.Greeter".into() })
        .await
        .expect("the gRPC call passes through");
    assert_eq!(response.get_ref().status(), ServingStatus::Serving);
    let unknown = client.check(HealthCheckRequest { service: "nope".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "gRPC errors pass through too");

    // The same server answers the logout route itself, over HTTP/2.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = post(&format!("http://{addr}/logout")).body(empty()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// A body the layer cannot write in (boxed here; tonic's is another) travels
/// in a `ResponseBody` behind `WrapBodyLayer`: untouched on the way through,
/// and the layer's own answers are as readable as anywhere else.
#[tokio::test]
async fn boxed_body_behind_wrap_body_layer() {
    use http_body_util::combinators::UnsyncBoxBody;

    let app = tower::service_fn(|_: Request<Full<Bytes>>| async {
        let body: UnsyncBoxBody<Bytes, Infallible> = Full::from("inner").boxed_unsync();
        Ok::<_, Infallible>(Response::new(body))
    });
    let service = tower::ServiceBuilder::new().layer(layer()).layer(WrapBodyLayer).service(app);

    let (response, body) = send(service.clone(), Request::get("/").body(empty()).unwrap()).await;
    assert_eq!((response.status(), body.as_str()), (StatusCode::OK, "inner"));

    let (response, body) = send(service.clone(), callback("nope", &("a".into(), "b".into()))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body.starts_with(&format!("{}: ", rejection(&response).code())), "{body}");

    let (response, body) = send(service, post("/logout").body(empty()).unwrap()).await;
    assert_eq!((response.status(), body.as_str()), (StatusCode::SEE_OTHER, ""));
}

/// An app's own body type can take the layer's replies by implementing
/// `FromReply` itself (coherence allows it beside the `From<Bytes>` impl).
#[tokio::test]
async fn own_body_type_implements_from_reply() {
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };

    struct Page(Option<Bytes>);
    impl http_body::Body for Page {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.get_mut().0.take().map(|bytes| Ok(http_body::Frame::data(bytes))))
        }
    }
    impl tower_oidc_logout::body::FromReply for Page {
        fn from_reply(reply: tower_oidc_logout::body::ReplyBody) -> Self {
            let text = String::from_utf8_lossy(&reply.into_bytes()).into_owned();
            Page(Some(format!("<pre>{text}</pre>").into()))
        }
    }

    let app = tower::service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Page(Some("inner".into()))))
    });
    let service = tower::Layer::layer(&layer(), app);
    let (response, body) = send(service.clone(), Request::get("/").body(empty()).unwrap()).await;
    assert_eq!((response.status(), body.as_str()), (StatusCode::OK, "inner"));
    let (response, body) = send(service, Request::get("/logout").body(empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(body.starts_with("<pre>method_not_allowed: "), "{body}");
}

/// Behind `Router::nest("/auth", ...)` the layer sees paths without `/auth`.
#[tokio::test]
async fn axum_nested_router_needs_the_callback_path_the_layer_sees() {
    callback_path_matters("https://app.example/auth/logout/callback", "/auth", |logout| {
        // A nested router runs its layers only for requests it routes; the
        // fallback makes it route every `/auth/...` path, `/auth/logout` too.
        let inner = Router::new()
            .route("/logout/callback", get(signed_out))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(logout);
        Router::new().nest("/auth", inner)
    })
    .await;
}

/// A proxy serves the app under `/myapp` and strips it: the app receives `/logout/callback`.
#[tokio::test]
async fn path_stripping_proxy_needs_the_callback_path_the_app_receives() {
    callback_path_matters("https://example.com/myapp/logout/callback", "", |logout| {
        Router::new().route("/logout/callback", get(signed_out)).layer(logout)
    })
    .await;
}

/// The provider sends the browser to `public`; the app's router receives
/// `<prefix>/logout/callback` and its layer `/logout/callback`. Without
/// `callback_path` a forged callback reaches the handler (which then fails
/// for want of `LoggedOut`); with it, it is refused and a real sign-out
/// completes, sending `public` exactly.
async fn callback_path_matters(
    public: &str,
    prefix: &str,
    app: impl Fn(OidcLogoutLayer) -> Router,
) {
    let request = |path: &str, state: Option<&str>, cookie: Option<&(String, String)>| {
        let mut uri = format!("{prefix}{path}");
        if let Some(state) = state {
            uri = format!("{uri}?state={state}");
        }
        let mut request = Request::get(uri);
        if let Some((name, value)) = cookie {
            request = request.header(header::COOKIE, format!("{name}={value}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let forged = || request("/logout/callback", None, None);

    let unaware = builder(&TestClock::new()).post_logout_redirect_uri(public).build().unwrap();
    assert_ne!(unaware.callback_path(), "/logout/callback");
    let response = app(unaware).oneshot(forged()).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "handler ran unchecked");

    let aware = builder(&TestClock::new())
        .post_logout_redirect_uri(public)
        .callback_path("/logout/callback")
        .build()
        .unwrap();
    let app = app(aware);
    let response = app.clone().oneshot(forged()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let sign_out = post(&format!("{prefix}/logout")).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(sign_out).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let sent = location(response.headers());
    assert_eq!(param(&sent, "post_logout_redirect_uri").as_deref(), Some(public));
    let state = param(&sent, "state").unwrap();
    let cookie = state_cookie(response.headers());
    let back = request("/logout/callback", Some(&state), Some(&cookie));
    assert_eq!(app.oneshot(back).await.unwrap().status(), StatusCode::OK);
}
