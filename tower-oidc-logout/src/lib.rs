//! Middleware that signs users out of an OpenID Connect provider, correctly by default.
//!
//! One layer in front of the app:
//!
//! ```
//! use axum::{Extension, Router, routing::get};
//! use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, SessionCookie, StateKey};
//!
//! # fn main() -> Result<(), tower_oidc_logout::ConfigError> {
//! let logout = OidcLogoutLayer::builder()
//!     .next_identity("id.eu.nextreason.com") // or .end_session_endpoint(url)
//!     .client_id("my-client-id")
//!     .post_logout_redirect_uri("https://app.example/logout/callback")
//!     .state_key(StateKey::from_base64("cGxlYXNlIHVzZSBhIHJlYWwgcmFuZG9tIGtleSBoZXJlIQ==")?)
//!     .expire_cookie(SessionCookie::new("__Host-session"))
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "home" }))
//!     // Reached only once the provider sent the browser back with a valid state.
//!     .route("/logout/callback", get(|Extension(done): Extension<LoggedOut>| async move {
//!         format!("Signed out. Next stop: {:?}", done.return_target())
//!     }))
//!     .layer(logout);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! # What it does
//!
//! - **`POST /logout`** (the path is configurable): refuses cross-site
//!   requests (`Sec-Fetch-Site`, else `Origin`) with `403`; runs the app's
//!   [`EndSessionHook`] to end the server-side session; expires every
//!   configured [`SessionCookie`] with the exact attributes a browser needs;
//!   sends `Clear-Site-Data: "storage"`; mints a 128-bit `state`, seals it in
//!   a short-lived `__Host-` cookie; and answers `303 See Other` to the
//!   provider's end-session endpoint with `client_id`,
//!   `post_logout_redirect_uri` and `state`. Works whether or not the user
//!   still has a session. If the hook fails, the cookies are still expired,
//!   the user is not redirected, and the answer is a `500` carrying
//!   [`EndSessionFailed`].
//! - **`GET <path of post_logout_redirect_uri>`**: checks the `state` the
//!   provider echoes against the sealed cookie (constant time, unexpired,
//!   sealed under a current or previous key), expires the cookie, puts a
//!   [`LoggedOut`] in the request extensions and calls the inner service.
//!   Any failure is a `4xx` whose body is `"<code>: <message>"` (or the
//!   app's own page, below), with the [`Rejection`] in the response
//!   extensions; the inner service is not called.
//!   When that path is the site root, only requests carrying `state` or
//!   `logout` are callbacks: the home page itself passes through.
//! - **Everything else** passes straight through: no header touched, no
//!   allocation, the response body not even rewrapped.
//!
//! Every response the middleware writes, and the callback's, is
//! `Cache-Control: no-store`.
//!
//! # The app's own refusal page
//!
//! Refusals are plain text unless the app renders them itself with
//! [`refusal_page`](OidcLogoutBuilder::refusal_page): a function from the
//! [`Rejection`] and the request's parts to a response. The crate still sets
//! the status, `Cache-Control: no-store`, `Allow` on a `405` and the
//! `Rejection` in the extensions, whatever the page returns.
//!
//! # Response bodies
//!
//! The layer answers in the inner service's own body type, so that every
//! other response passes through as it is: any body that is `From<Bytes>`
//! ([`FromReply`](body::FromReply)), which covers axum's `Body` and `http_body_util::Full`.
//! For any other (tonic's, a boxed body), add [`WrapBodyLayer`](body::WrapBodyLayer) just inside
//! the logout layer:
//!
//! ```
//! # use tower_oidc_logout::{OidcLogoutLayer, StateKey, body::WrapBodyLayer};
//! # fn main() -> Result<(), tower_oidc_logout::ConfigError> {
//! # let logout = OidcLogoutLayer::builder()
//! #     .end_session_endpoint("https://op.example/endsession")
//! #     .client_id("my-client-id")
//! #     .post_logout_redirect_uri("https://app.example/logout/callback")
//! #     .state_key(StateKey::generate()?)
//! #     .build()?;
//! let (_, grpc_health) = tonic_health::server::health_reporter();
//! let server = tonic::transport::Server::builder()
//!     .layer(logout)
//!     .layer(WrapBodyLayer)
//!     .add_service(grpc_health);
//! # let _ = server;
//! # Ok(())
//! # }
//! ```
//!
//! # Where to land after sign-out
//!
//! A logout request may carry `return_to=/some/path`, as a query parameter
//! or a field of an `application/x-www-form-urlencoded` form. It must be a
//! path on the same site ([`ReturnTarget`] lists the rules); anything else is
//! refused with `400 invalid_return_target` before anything changes. It is
//! sealed inside the state and handed back as
//! [`LoggedOut::return_target`]; it is never read from the callback URL.
//!
//! # Sign-out with tower-sessions
//!
//! With the feature `tower-sessions-0-14` (or `-0-15`), the hook
//! [`tower_sessions::FlushSession`] ends the server-side session; the
//! session manager sits outside the logout layer. `examples/tower_sessions_redis.rs`
//! is the whole setup with sessions in Redis.
//!
//! # When the session ends at the provider
//!
//! With the `provider-logout` feature the same layer also serves OpenID
//! Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0: when the
//! user signs out at the provider, or of another app, or an administrator
//! ends the session, the provider tells this app, which deletes the
//! sessions from its store, so a copied session cookie is dead on every
//! instance. The [`provider_logout`] module says how, and
//! `examples/backchannel_redis.rs` is the whole setup on Redis.
//!
//! # Tokens, and a check at start-up
//!
//! With the `revocation` feature, [`FlushSession`](tower_sessions::FlushSession)
//! also revokes the refresh (and access) token the app kept in the session
//! at the provider's `revocation_endpoint` (RFC 7009), beside the store's
//! delete: see the [`revocation`] module. With `discovery`,
//! [`OidcLogoutLayer::preflight`] asks the provider at start-up whether it
//! will accept this app's sign-out, and reports a checklist.
//! `examples/revocation.rs` is both.
//!
//! # Behind a reverse proxy or in a nested router
//!
//! The layer routes by the request's path only, and never reads `Host`,
//! `Forwarded` or `X-Forwarded-*`: the scheme and origin come from the
//! configured `post_logout_redirect_uri`, which is sent exactly as given.
//! Add the layer to the outermost router, where it sees full paths. When the
//! path the app receives differs from the public one (a proxy strips
//! `/myapp`; axum's `Router::nest("/auth", ...)` strips `/auth` before
//! inner layers run), tell the layer with
//! [`callback_path`](OidcLogoutBuilder::callback_path) (and
//! [`logout_path`](OidcLogoutBuilder::logout_path)): otherwise it never sees
//! its callback and a forged one reaches the app unchecked.
//! [`OidcLogoutLayer::callback_path`] shows what it watches.
//!
//! # Many instances, key rotation, many tabs
//!
//! The state lives in the browser, so any instance with the same
//! [`StateKey`] validates any callback. Rotate by making the new key
//! current and passing the old one to
//! [`previous_state_keys`](OidcLogoutBuilder::previous_state_keys) for at
//! least the state lifetime. Each sign-out gets its own state cookie, so
//! tabs signing out at once all complete; at most
//! [`MAX_PENDING_STATES`](limits::MAX_PENDING_STATES) are kept.
//!
//! # Feature flags
//!
//! None is on by default.
//!
//! - **`tracing`**: [tracing](https://docs.rs/tracing) events: a failed
//!   storage hook at `warn` with its cause, each refusal at `debug` with its
//!   code.
//! - **`tower-sessions-0-14`**, **`tower-sessions-0-15`**: the
//!   [`tower_sessions`] module: `FlushSession`, an [`EndSessionHook`] that
//!   flushes the [tower-sessions](https://docs.rs/tower-sessions) session
//!   (data, store record and ID) at sign-out, and the session-index helpers,
//!   for tower-sessions 0.14 (the version the Redis, SQLx and Moka stores
//!   build on) and 0.15. Both may be on at once.
//! - **`discovery`**: the [`discovery`] module, OpenID Connect Discovery:
//!   `ProviderMetadata::discover(issuer)` fetches the provider's
//!   `end_session_endpoint`, `jwks_uri` and logout capabilities over rustls,
//!   checking that the document's `issuer` is the configured one.
//! - **`provider-logout`** (implies `discovery`): the [`provider_logout`]
//!   module, Back-Channel and Front-Channel Logout: the logout-token
//!   validator (pure-Rust signature checks, jsonwebtoken's RustCrypto
//!   backend), the provider's keys, the routes and the session index.
//! - **`revocation`** (implies `discovery`): the [`revocation`] module,
//!   OAuth 2.0 Token Revocation (RFC 7009) at sign-out, over the same client.
//! - **`redis`** (implies `provider-logout`): `provider_logout::index::RedisIndex`,
//!   the session index and logout-token replay set in Redis (through
//!   [fred](https://docs.rs/fred) 10, the client `tower-sessions-redis-store`
//!   uses), shared by every app instance.
//!
//! # Pieces for framework authors
//!
//! [`OidcLogoutLayer::logout_service`] ([`routes::LogoutService`]) and
//! [`OidcLogoutLayer::callback_service`] ([`routes::CallbackService`]) give the two
//! routes as services of their own, for routers that dispatch by path
//! themselves; [`OidcLogoutLayer::logout_path`] and
//! [`OidcLogoutLayer::callback_path`] say which paths the layer would
//! watch. The [`body`] module holds what the layer answers in:
//! [`FromReply`](body::FromReply) (with the compile error it answers and
//! the newtype recipe for boxed bodies), [`ReplyBody`](body::ReplyBody),
//! and the [`WrapBodyLayer`](body::WrapBodyLayer) pieces. The [`limits`]
//! module lists every bound the crate enforces.

// `unsafe_code` is forbidden, and the other lints set, in Cargo.toml's `[lints]`.
// On docs.rs (nightly, `--cfg docsrs`), label feature-gated items with their feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod base64url;
pub mod body;
mod callback;
mod config;
mod cookies;
#[cfg(feature = "discovery")]
pub mod discovery;
mod end_session;
mod error;
mod form;
mod future;
mod hook;
mod https_url;
mod layer;
pub mod limits;
mod logout;
#[cfg(feature = "provider-logout")]
pub mod provider_logout;
mod reply;
#[cfg(feature = "revocation")]
pub mod revocation;
pub mod routes;
mod same_origin;
mod state;
mod target;
#[cfg(any(feature = "tower-sessions-0-14", feature = "tower-sessions-0-15"))]
pub mod tower_sessions;

pub use callback::LoggedOut;
pub use config::{ClearSiteData, OidcLogoutBuilder};
pub use cookies::SessionCookie;
pub use error::{BoxError, ConfigError, EndSessionFailed, Rejection};
pub use future::ResponseFuture;
pub use hook::{EndSessionHook, LogoutHints, NoServerSession};
pub use layer::{OidcLogout, OidcLogoutLayer};
pub use state::StateKey;
pub use target::ReturnTarget;
