//! Token revocation (RFC 7009) at sign-out: the request the revoker sends,
//! each answer of a hand-written endpoint (400, 503 with and without
//! `Retry-After`, a hang, a huge body, a redirect), and `FlushSession`
//! through axum with the default and the strict policy.

use std::{
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus},
    response::{IntoResponse, Response as AxumResponse},
    routing::{get, post},
};
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use tower_oidc_logout::{
    OidcLogoutLayer, SessionCookie, StateKey,
    revocation::{ClientAuth, RevocationError, TokenRevoker, TokenTypeHint},
    tower_sessions::{FlushSession, FlushSessionError},
};
use tower_sessions_0_14::{
    MemoryStore, Session, SessionManagerLayer, SessionStore,
    session::{Id, Record},
    session_store,
};

use crate::servers::serve;

/// How the hand-written endpoint answers one request.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Ok,
    Status(u16, &'static str),
    Unavailable(Option<&'static str>),
    Hang,
    Huge,
    Redirect,
}

/// What the endpoint received, one per request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    authorization: Option<String>,
    content_type: Option<String>,
    cookie: Option<String>,
    form: Vec<(String, String)>,
}

#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Set when a request arrives (for the concurrency test).
    arrived: Arc<tokio::sync::Notify>,
}

impl Endpoint {
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct EndpointState {
    answers: Arc<Vec<Answer>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<tokio::sync::Notify>,
}

/// A revocation endpoint answering the n-th request with `answers[n]`
/// (the last one again past the end), and `/elsewhere` counting visits.
pub(crate) async fn endpoint(answers: Vec<Answer>) -> (Endpoint, Arc<AtomicUsize>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let state =
        EndpointState { answers: Arc::new(answers), seen: seen.clone(), arrived: arrived.clone() };
    let visits = elsewhere.clone();
    let router = Router::new()
        .route("/revoke", post(revoke))
        .route(
            "/elsewhere",
            get(move || async move {
                visits.fetch_add(1, SeqCst);
                "elsewhere"
            })
            .post(|| async { "elsewhere" }),
        )
        .with_state(state);
    let url = format!("{}/revoke", serve(|_| router).await);
    (Endpoint { url, seen, arrived }, elsewhere)
}

async fn revoke(
    State(state): State<EndpointState>,
    headers: HeaderMap,
    body: String,
) -> AxumResponse {
    let text = |name: header::HeaderName| {
        headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    let form = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let n = {
        let mut seen = state.seen.lock().unwrap();
        seen.push(Seen {
            authorization: text(header::AUTHORIZATION),
            content_type: text(header::CONTENT_TYPE),
            cookie: text(header::COOKIE),
            form,
        });
        seen.len() - 1
    };
    state.arrived.notify_one();
    let answer = state.answers.get(n).or(state.answers.last()).cloned().unwrap_or(Answer::Ok);
    match answer {
        Answer::Ok => AxumStatus::OK.into_response(),
        Answer::Status(status, body) => (
            AxumStatus::from_u16(status).unwrap(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Answer::Unavailable(None) => AxumStatus::SERVICE_UNAVAILABLE.into_response(),
        Answer::Unavailable(Some(after)) => {
            (AxumStatus::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, after)]).into_response()
        }
        Answer::Hang => std::future::pending().await,
        Answer::Huge => (AxumStatus::OK, "x".repeat(1024 * 1024)).into_response(),
        Answer::Redirect => {
            (AxumStatus::TEMPORARY_REDIRECT, [(header::LOCATION, "/elsewhere")]).into_response()
        }
    }
}

fn revoker(endpoint: &Endpoint, client: ClientAuth) -> TokenRevoker {
    TokenRevoker::new(&endpoint.url, client).unwrap().timeout(Duration::from_millis(1500))
}

fn pairs(seen: &Seen) -> Vec<(&str, &str)> {
    seen.form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn each_client_authentication_method_is_sent_as_rfc_6749_says() {
    let (endpoint, _) = endpoint(vec![Answer::Ok]).await;

    let basic = revoker(&endpoint, ClientAuth::secret_basic("app", "s3cret"));
    assert!(basic.revoke("rt-1", TokenTypeHint::RefreshToken).await.unwrap());
    let post = revoker(&endpoint, ClientAuth::secret_post("app", "s3cret"));
    post.revoke("at-1", TokenTypeHint::AccessToken).await.unwrap();
    let public = revoker(&endpoint, ClientAuth::public("app"));
    public.revoke("rt-2", TokenTypeHint::RefreshToken).await.unwrap();

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 3);
    // base64("app:s3cret")
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic YXBwOnMzY3JldA=="));
    assert_eq!(pairs(&seen[0]), [("token", "rt-1"), ("token_type_hint", "refresh_token")]);
    assert_eq!(seen[1].authorization, None);
    assert_eq!(
        pairs(&seen[1]),
        [
            ("token", "at-1"),
            ("token_type_hint", "access_token"),
            ("client_id", "app"),
            ("client_secret", "s3cret")
        ]
    );
    assert_eq!(seen[2].authorization, None);
    assert_eq!(
        pairs(&seen[2]),
        [("token", "rt-2"), ("token_type_hint", "refresh_token"), ("client_id", "app")]
    );
    for one in &seen {
        assert_eq!(one.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(one.cookie, None);
    }
}

async fn refused(answers: Vec<Answer>) -> (RevocationError, usize) {
    let (endpoint, _) = endpoint(answers).await;
    let error = revoker(&endpoint, ClientAuth::public("app"))
        .revoke("rt-secret-value", TokenTypeHint::RefreshToken)
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("rt-secret-value"), "{error}");
    (error, endpoint.seen().len())
}

#[tokio::test]
async fn a_400_is_a_failure_naming_the_oauth_error() {
    let (error, requests) =
        refused(vec![Answer::Status(400, r#"{"error":"unsupported_token_type"}"#)]).await;
    assert!(
        matches!(&error, RevocationError::Refused { status: 400, error: Some(code) } if code == "unsupported_token_type"),
        "{error:?}"
    );
    assert!(error.to_string().contains("unsupported_token_type"), "{error}");
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_once() {
    let (endpoint, _) = endpoint(vec![Answer::Unavailable(Some("1")), Answer::Ok]).await;
    let revoker = revoker(&endpoint, ClientAuth::public("app")).timeout(Duration::from_secs(3));
    assert!(revoker.revoke("rt", TokenTypeHint::RefreshToken).await.unwrap());
    assert_eq!(endpoint.seen().len(), 2);

    // Twice unavailable: one retry only, then a failure.
    let (error, requests) =
        refused(vec![Answer::Unavailable(Some("0")), Answer::Unavailable(Some("0"))]).await;
    assert!(matches!(error, RevocationError::Unavailable { .. }), "{error:?}");
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn a_503_without_retry_after_or_past_the_timeout_is_not_retried() {
    let (error, requests) = refused(vec![Answer::Unavailable(None), Answer::Ok]).await;
    assert!(matches!(error, RevocationError::Unavailable { retry_after: None }), "{error:?}");
    assert_eq!(requests, 1);

    // 1.5 s of timeout leave no room for a 60 s wait.
    let (error, requests) = refused(vec![Answer::Unavailable(Some("60")), Answer::Ok]).await;
    assert!(
        matches!(error, RevocationError::Unavailable { retry_after: Some(d) } if d.as_secs() == 60),
        "{error:?}"
    );
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn a_hang_ends_at_the_timeout_and_a_huge_body_at_the_cap() {
    let (endpoint, _) = endpoint(vec![Answer::Hang]).await;
    let error = revoker(&endpoint, ClientAuth::public("app"))
        .timeout(Duration::from_millis(300))
        .revoke("rt", TokenTypeHint::RefreshToken)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RevocationError::Timeout(_) | RevocationError::Request(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("300ms"), "{error}");

    let (error, _) = refused(vec![Answer::Huge]).await;
    assert!(
        matches!(&error, RevocationError::Request(reason) if reason.contains("larger than 16384 bytes")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_the_token_goes_nowhere_else() {
    let (endpoint, elsewhere) = endpoint(vec![Answer::Redirect]).await;
    let error = revoker(&endpoint, ClientAuth::public("app"))
        .revoke("rt", TokenTypeHint::RefreshToken)
        .await
        .unwrap_err();
    assert!(matches!(error, RevocationError::Redirect { status: 307 }), "{error:?}");
    assert_eq!(endpoint.seen().len(), 1);
    assert_eq!(elsewhere.load(SeqCst), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_provider_without_revocation_endpoint_revokes_nothing() {
    let metadata = tower_oidc_logout::discovery::ProviderMetadata::from_json(
        "https://op.example",
        br#"{"issuer":"https://op.example","end_session_endpoint":"https://op.example/end"}"#,
    )
    .unwrap();
    let revoker = TokenRevoker::from_metadata(&metadata, ClientAuth::public("app"));
    assert_eq!(revoker.endpoint(), None);
    assert!(!revoker.revoke("rt", TokenTypeHint::RefreshToken).await.unwrap());
}

// ---- At sign-out, through axum and tower-sessions 0.14 ----

/// A memory store whose `delete` waits (at most 2 s) until `gate` is
/// notified: the revocation endpoint notifies it when a request arrives.
#[derive(Debug, Clone)]
struct GatedStore {
    inner: MemoryStore,
    gate: Option<Arc<tokio::sync::Notify>>,
    /// Whether the revocation request had arrived when the delete began waiting... and ended.
    delete_saw_revocation: Arc<AtomicBool>,
    fail_delete: bool,
}

#[async_trait::async_trait]
impl SessionStore for GatedStore {
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.inner.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        if self.fail_delete {
            return Err(session_store::Error::Backend("the store is down".into()));
        }
        if let Some(gate) = &self.gate {
            let arrived = tokio::time::timeout(Duration::from_secs(2), gate.notified()).await;
            self.delete_saw_revocation.store(arrived.is_ok(), SeqCst);
        }
        self.inner.delete(id).await
    }
}

fn app(store: GatedStore, hook: FlushSession) -> Router {
    let logout = OidcLogoutLayer::builder()
        .end_session_endpoint("https://op.example/endsession")
        .client_id("client-1")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::generate().unwrap())
        .expire_cookie(SessionCookie::new("id"))
        .end_session_hook(hook)
        .build()
        .unwrap();
    Router::new()
        .route(
            "/login/{n}",
            get(|session: Session, axum::extract::Path(n): axum::extract::Path<u32>| async move {
                session.insert("refresh_token", format!("rt-{n}")).await.unwrap();
                session.insert("access_token", format!("at-{n}")).await.unwrap();
                "signed in"
            }),
        )
        .layer(logout)
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

/// Signs in as session `n`: the session cookie's value and its ID.
async fn sign_in(app: &Router, n: u32) -> (String, Id) {
    let response = app
        .clone()
        .oneshot(Request::get(format!("/login/{n}")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("id="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("a session cookie");
    let id = Id::from_str(&cookie).unwrap();
    (cookie, id)
}

async fn sign_out(app: &Router, cookie: &str) -> http::Response<Body> {
    app.clone()
        .oneshot(
            Request::post("/logout")
                .header(header::COOKIE, format!("id={cookie}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

fn store(gate: Option<Arc<tokio::sync::Notify>>) -> GatedStore {
    GatedStore {
        inner: MemoryStore::default(),
        gate,
        delete_saw_revocation: Arc::default(),
        fail_delete: false,
    }
}

#[tokio::test]
async fn sign_out_revokes_both_tokens_while_the_store_deletes() {
    let (endpoint, _) = endpoint(vec![Answer::Ok]).await;
    let revoker = revoker(&endpoint, ClientAuth::secret_basic("client-1", "s"));
    let store = store(Some(endpoint.arrived.clone()));
    let hook = FlushSession::new()
        .revoke_refresh_token("refresh_token", revoker.clone())
        .revoke_access_token("access_token", revoker);
    let app = app(store.clone(), hook);
    let (cookie, id) = sign_in(&app, 7).await;

    let response = sign_out(&app, &cookie).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(store.load(&id).await.unwrap().is_none(), "the record is gone");
    assert!(
        store.delete_saw_revocation.load(SeqCst),
        "the revocation started only after the store's delete ended"
    );
    let mut revoked: Vec<_> = endpoint
        .seen()
        .iter()
        .map(|seen| (seen.form[0].1.clone(), seen.form[1].1.clone()))
        .collect();
    revoked.sort();
    assert_eq!(
        revoked,
        [("at-7".into(), "access_token".into()), ("rt-7".into(), "refresh_token".into())]
    );
}

/// The endpoint failing as `answer`: the default policy signs out (303,
/// record gone), the strict one answers 500 with the cookie expired and no
/// redirect to the provider.
async fn failing_endpoint_under_both_policies(answer: Answer) {
    for strict in [false, true] {
        let (endpoint, _) = endpoint(vec![answer.clone()]).await;
        let mut revoker =
            revoker(&endpoint, ClientAuth::public("client-1")).timeout(Duration::from_millis(400));
        if strict {
            revoker = revoker.strict();
        }
        let store = store(None);
        let app =
            app(store.clone(), FlushSession::new().revoke_refresh_token("refresh_token", revoker));
        let (cookie, id) = sign_in(&app, 1).await;
        let response = sign_out(&app, &cookie).await;
        assert_eq!(endpoint.seen().len().min(1), 1, "{answer:?}: nothing was sent");
        assert!(store.load(&id).await.unwrap().is_none(), "{answer:?}: the record is kept");
        let expired = response.headers().get_all(header::SET_COOKIE).iter().any(|c| {
            c.to_str().unwrap().starts_with("id=") && c.to_str().unwrap().contains("Max-Age=0")
        });
        assert!(expired, "{answer:?}: the session cookie is not expired");
        if strict {
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{answer:?}");
            assert!(response.headers().get(header::LOCATION).is_none(), "{answer:?}");
            let failure = response
                .extensions()
                .get::<tower_oidc_logout::EndSessionFailed>()
                .expect("the failure for the app");
            let error =
                failure.error().downcast_ref::<FlushSessionError>().expect("FlushSessionError");
            assert!(
                matches!(
                    error,
                    FlushSessionError::Revocation { hint: TokenTypeHint::RefreshToken, .. }
                ),
                "{error:?}"
            );
            let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
            assert!(body.starts_with(b"end_session_failed"), "{body:?}");
        } else {
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{answer:?}");
            let location = response.headers().get(header::LOCATION).unwrap().to_str().unwrap();
            assert!(location.starts_with("https://op.example/endsession?"), "{location}");
        }
    }
}

#[tokio::test]
async fn a_400_signs_out_by_default_and_fails_a_strict_sign_out() {
    failing_endpoint_under_both_policies(Answer::Status(
        400,
        r#"{"error":"unsupported_token_type"}"#,
    ))
    .await;
}

#[tokio::test]
async fn a_503_signs_out_by_default_and_fails_a_strict_sign_out() {
    failing_endpoint_under_both_policies(Answer::Unavailable(None)).await;
    failing_endpoint_under_both_policies(Answer::Unavailable(Some("30"))).await;
}

#[tokio::test]
async fn a_hang_signs_out_by_default_and_fails_a_strict_sign_out() {
    failing_endpoint_under_both_policies(Answer::Hang).await;
}

#[tokio::test]
async fn a_huge_body_signs_out_by_default_and_fails_a_strict_sign_out() {
    failing_endpoint_under_both_policies(Answer::Huge).await;
}

#[tokio::test]
async fn a_session_without_tokens_revokes_nothing_and_a_failing_store_still_fails() {
    let (endpoint, _) = endpoint(vec![Answer::Ok]).await;
    let revoker = revoker(&endpoint, ClientAuth::public("client-1")).strict();
    let hook = FlushSession::new().revoke_refresh_token("no_such_key", revoker.clone());
    let plain = app(store(None), hook);
    let (cookie, _) = sign_in(&plain, 1).await;
    assert_eq!(sign_out(&plain, &cookie).await.status(), StatusCode::SEE_OTHER);
    assert!(endpoint.seen().is_empty());

    let mut failing = store(None);
    failing.fail_delete = true;
    let app = app(failing, FlushSession::new().revoke_refresh_token("refresh_token", revoker));
    let (cookie, _) = sign_in(&app, 2).await;
    let response = sign_out(&app, &cookie).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let failure = response.extensions().get::<tower_oidc_logout::EndSessionFailed>().unwrap();
    assert!(matches!(
        failure.error().downcast_ref::<FlushSessionError>(),
        Some(FlushSessionError::Store(_))
    ));
    // The revocation under way when the store failed still reaches the provider.
    let arrived = tokio::time::timeout(Duration::from_secs(2), endpoint.arrived.notified()).await;
    assert!(arrived.is_ok() || !endpoint.seen().is_empty(), "the revocation was dropped");
    assert_eq!(endpoint.seen().len(), 1);
    assert_eq!(endpoint.seen()[0].form[0].1, "rt-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sign_outs_each_revoke_their_own_token_once() {
    let (endpoint, _) = endpoint(vec![Answer::Ok]).await;
    let revoker =
        revoker(&endpoint, ClientAuth::public("client-1")).timeout(Duration::from_secs(10));
    let store = store(None);
    let app =
        app(store.clone(), FlushSession::new().revoke_refresh_token("refresh_token", revoker));
    let mut signed_in = Vec::new();
    for n in 0..200 {
        signed_in.push(sign_in(&app, n).await);
    }
    let sign_outs = signed_in.iter().map(|(cookie, _)| {
        let (app, cookie) = (app.clone(), cookie.clone());
        tokio::spawn(async move { sign_out(&app, &cookie).await.status() })
    });
    for sign_out in sign_outs.collect::<Vec<_>>() {
        assert_eq!(sign_out.await.unwrap(), StatusCode::SEE_OTHER);
    }
    let mut revoked: Vec<String> =
        endpoint.seen().iter().map(|seen| seen.form[0].1.clone()).collect();
    revoked.sort();
    let mut expected: Vec<String> = (0..200).map(|n| format!("rt-{n}")).collect();
    expected.sort();
    assert_eq!(revoked, expected, "each token revoked exactly once, none missed");
    for (_, id) in &signed_in {
        assert!(store.load(id).await.unwrap().is_none());
    }
}
