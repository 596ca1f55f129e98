//! `FlushSession` through axum, once per tower-sessions version, each with
//! that version's `SessionManagerLayer` and `MemoryStore`. Both version
//! features are on here, as in an app mid-upgrade: each test's request
//! carries only its own version's `Session`.

/// The same test for one version: sign in sets a session; `POST /logout`
/// answers 303 to the provider with the ID token as hint; the record is gone.
macro_rules! through_axum {
    ($version:ident, $tower_sessions:ident) => {
        mod $version {
            use std::str::FromStr;

            use axum::{Router, body::Body, routing::get};
            use http::{Request, StatusCode, header};
            use tower::ServiceExt;
            use tower_oidc_logout::{
                OidcLogoutLayer, SessionCookie, StateKey, tower_sessions::FlushSession,
            };
            use $tower_sessions::{
                MemoryStore, Session, SessionManagerLayer, SessionStore, session::Id,
            };

            fn app(store: MemoryStore) -> Router {
                let logout = OidcLogoutLayer::builder()
                    .end_session_endpoint("https://op.example/endsession")
                    .client_id("client-1")
                    .post_logout_redirect_uri("https://app.example/logout/callback")
                    .state_key(StateKey::generate().unwrap())
                    .expire_cookie(SessionCookie::new("id"))
                    .end_session_hook(FlushSession::new().id_token_key("id_token"))
                    .build()
                    .unwrap();
                Router::new()
                    .route(
                        "/login",
                        get(|session: Session| async move {
                            session.insert("user", "alice").await.unwrap();
                            session.insert("id_token", "eyJ.token.sig").await.unwrap();
                            "signed in"
                        }),
                    )
                    .layer(logout)
                    .layer(SessionManagerLayer::new(store).with_secure(false))
            }

            fn set_cookies(response: &http::Response<Body>) -> Vec<String> {
                response
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect()
            }

            #[tokio::test]
            async fn sign_out_answers_303_and_deletes_the_record() {
                let store = MemoryStore::default();
                let app = app(store.clone());

                let signed_in = app
                    .clone()
                    .oneshot(Request::get("/login").body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(signed_in.status(), StatusCode::OK);
                let cookie = set_cookies(&signed_in)
                    .into_iter()
                    .find(|c| c.starts_with("id="))
                    .expect("session cookie set at sign-in");
                let value = cookie["id=".len()..].split(';').next().unwrap().to_owned();
                let id = Id::from_str(&value).unwrap();
                assert!(store.load(&id).await.unwrap().is_some(), "no record after sign-in");

                let response = app
                    .oneshot(
                        Request::post("/logout")
                            .header(header::COOKIE, format!("id={value}"))
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();

                assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.extensions());
                let location = response.headers()[header::LOCATION].to_str().unwrap();
                assert!(location.starts_with("https://op.example/endsession?"), "{location}");
                assert!(location.contains("id_token_hint=eyJ.token.sig"), "{location}");
                assert!(store.load(&id).await.unwrap().is_none(), "record left in the store");
                assert!(
                    set_cookies(&response)
                        .iter()
                        .any(|c| c.starts_with("id=") && c.contains("Max-Age=0")),
                    "session cookie not expired: {:?}",
                    set_cookies(&response)
                );
            }
        }
    };
}

through_axum!(v0_14, tower_sessions_0_14);
#[cfg(feature = "tower-sessions-0-15")]
through_axum!(v0_15, tower_sessions_0_15);
