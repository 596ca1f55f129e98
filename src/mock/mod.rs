//! A mock Next Identity provider: the other party of a sign-in and a sign-out, for tests and demos.
//!
//! It is a small HTTP server (axum on tokio) that behaves as Next Identity's
//! hosted screens document their end-session endpoint, and as a small
//! OpenID provider (authorization code flow with PKCE, ID tokens signed with
//! its own ES256 key, discovery, JWKS) where Next Identity follows the
//! OpenID Connect and OAuth 2.0 specifications. It shares no code with the
//! relying-party side of this crate, so tests against it check the
//! middleware against an independent reading of the documentation and specs.
//!
//! ```
//! use tower_oidc_logout::mock::{MockClient, MockProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oidc_logout::mock::MockError> {
//! let provider = MockProvider::builder()
//!     // Post-logout redirect URIs only (a public client):
//!     .client("demo-client", ["http://127.0.0.1:3000/logout/callback"])
//!     // Every setting:
//!     .register(
//!         MockClient::new("web-app")
//!             .redirect_uri("http://127.0.0.1:3000/auth/callback")
//!             .post_logout_redirect_uri("http://127.0.0.1:3000/logout/callback")
//!             .secret("s3cret"),
//!     )
//!     .serve("127.0.0.1:0") // an ephemeral port: nothing is shared between instances
//!     .await?;
//!
//! // Point the logout layer at it:
//! let end_session_endpoint = provider.end_session_url(); // "http://127.0.0.1:<port>/endsession"
//! # assert!(end_session_endpoint.ends_with("/endsession"));
//! // Or discover it from the issuer:
//! assert_eq!(provider.discovery_url(), format!("{}/.well-known/openid-configuration", provider.issuer()));
//! assert_eq!(provider.hosted_session_count(), 0);
//! provider.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! Every answer of every endpoint (errors, and axum's own 404 and 405
//! included) is `Cache-Control: no-store`. OAuth errors are JSON
//! `{"error": "...", "error_description": "..."}` (RFC 6749 5.2).
//!
//! - **`GET /endsession`**, as documented by Next Identity:
//!   - `client_id` missing or not registered: `403 Forbidden`, content type
//!     `application/json`, body exactly
//!     `{"error":"http_exception","error_details":{"message":"Forbidden"}}`.
//!   - `post_logout_redirect_uri` missing, or not on the client's allow-list
//!     (compared as an exact string, byte for byte): `400 Bad Request` with a
//!     JSON error and no redirect.
//!     *Our assumption*: the documentation does not say what this error
//!     looks like; the mock answers
//!     `{"error":"invalid_request","error_details":{"message":"..."}}`.
//!   - A parameter given twice: `400 Bad Request`, same shape (*our
//!     assumption*; the documentation is silent).
//!   - `id_token_hint` (OpenID Connect RP-Initiated Logout 1.0), optional:
//!     it must be an ID token this mock signed, with its `iss`, whose `aud`
//!     is the `client_id`; an expired one is still a good hint. Otherwise
//!     `400`, same shape, no redirect. It is recorded in
//!     [`EndSessionCall::id_token_hint`] (and its `sid` in
//!     [`EndSessionCall::id_token_hint_sid`]). *Our assumptions*: Next
//!     Identity does not document the hint; `client_id` stays required even
//!     with a hint (as Next Identity documents it), and the session that
//!     ends is the browser's (by its cookie), whatever the hint names.
//!     `logout_hint` and `ui_locales` are accepted and ignored.
//!   - Otherwise the hosted session of the browser (the mock's own
//!     [`HOSTED_SESSION_COOKIE`]) ends, if there is one, and the answer is
//!     `302 Found` to `post_logout_redirect_uri` with `logout` and, if the
//!     request had one, `state` (returned unchanged) appended to any query
//!     the URI already has. *Our assumption*: the documentation says a
//!     `logout` parameter is sent but not its value; the mock sends
//!     [`LOGOUT_PARAM_VALUE`]. Relying parties must not depend on it.
//! - **`GET /.well-known/openid-configuration`** (OpenID Connect Discovery
//!   1.0): `issuer` is [`MockProvider::issuer`] exactly (`http://<addr>`, or
//!   what [`MockProviderBuilder::issuer`] set; no trailing slash) and every
//!   endpoint is under it; `code` only, `S256` only, `ES256` only,
//!   `client_secret_basic`, `client_secret_post` and `none`, and the four
//!   Back-/Front-Channel Logout capability flags, all `true`.
//!   *Our assumption*: the flags announce the next step of this mock; it
//!   stores each client's `backchannel_logout_uri` and
//!   `frontchannel_logout_uri` but sends nothing to them yet.
//! - **`GET /jwks`**: the JWK Set of the signing key (`kty` `EC`, `crv`
//!   `P-256`, `x`, `y`, `kid`, `alg` `ES256`, `use` `sig`). A new key is
//!   generated at each start; the `kid` is its RFC 7638 thumbprint.
//! - **`GET /authorize`** without `client_id`, `response_type` or
//!   `redirect_uri`: a minimal HTML page that says whether the browser has a
//!   hosted session, with a form to sign in (through `/login`).
//! - **`GET /authorize`** with them: an authorization request (RFC 6749 4.1,
//!   RFC 7636, OpenID Connect Core 3.1.2).
//!   - `client_id` missing, unknown or repeated, or `redirect_uri` missing,
//!     repeated or not registered for the client (exact string): a `400`
//!     HTML error page, never a redirect (RFC 6749 4.1.2.1).
//!   - Otherwise errors are redirected to `redirect_uri` with `error`,
//!     `error_description`, `state` and `iss`: `invalid_request` (a
//!     parameter repeated, `response_type` missing, PKCE missing for a
//!     public client, a method other than `S256`, a malformed challenge,
//!     `prompt=none` with another value), `unsupported_response_type`
//!     (anything but `code`), `invalid_scope` (no `openid`),
//!     `login_required` (`prompt=none` and no hosted session).
//!   - With a hosted session and no `prompt=login`, the code is issued at
//!     once: `302` to `redirect_uri` with `code`, `state` and `iss`
//!     (RFC 9207). Otherwise the sign-in form, pre-filled with the `user`
//!     parameter if given (mock-only), posts to `POST /authorize`, which
//!     ends the browser's previous hosted session, starts a new one (its
//!     cookie is set) and answers `303` with the code.
//!   - PKCE (`S256`) is required of public clients and optional for
//!     confidential ones. `nonce` is copied to the ID token. `max_age`,
//!     `response_mode` and other parameters are ignored. *Our
//!     assumption*: the sign-in form has no CSRF protection and no
//!     password (it is a mock).
//! - **`POST /token`** (form; RFC 6749 4.1.3, 5.1, 5.2):
//!   `grant_type=authorization_code` only (`unsupported_grant_type`;
//!   missing: `invalid_request`). The client authenticates with
//!   `client_secret_basic` or `client_secret_post` if it has a secret, and
//!   by `client_id` alone if it is public; bad or missing client
//!   authentication (or a secret from a public client) is `401 invalid_client` with `WWW-Authenticate:
//!   Basic` (two methods at once: `400 invalid_request`). The code must be
//!   known, unexpired ([`AUTHORIZATION_CODE_LIFETIME`]), issued to this
//!   client, come with the same `redirect_uri` and the PKCE verifier of its
//!   challenge, and its hosted session must still exist, or
//!   `invalid_grant`. A code is consumed by the first exchange that gets
//!   to it, whether or not that exchange succeeds. The answer is
//!   `{"access_token", "token_type": "Bearer", "expires_in", "id_token"}`;
//!   the ID token (ES256, with the `kid` of the JWKS) has `iss`, `aud` (the
//!   client ID), `sub` (the user name), `sid` (the hosted session's public
//!   ID, never its cookie), `nonce` (if the request had one), `iat`, `exp`
//!   ([`ID_TOKEN_LIFETIME`]) and `auth_time`. *Our assumption*: the access
//!   token is opaque and nothing at the mock accepts it (no userinfo).
//! - **`GET /login?user=NAME[&client_id=ID&redirect_uri=URL]`**: mock-only
//!   (Next Identity has no such endpoint): creates a hosted session for
//!   `user` and sets its cookie, then redirects to `redirect_uri`, which must
//!   be on the origin of one of the client's registered redirect or
//!   post-logout redirect URIs, or to `/authorize` when none is given.
//!
//! Tests inspect the mock through [`MockProvider`]: the hosted sessions with
//! their `sid` and the clients that received tokens for them
//! ([`MockProvider::hosted_sessions`]), every `/endsession` call
//! ([`MockProvider::end_session_calls`]), the JWKS and the clients. Times
//! come from [`MockProviderBuilder::clock`], so a test can move past a
//! code's lifetime without waiting.

mod authorize;
mod backchannel;
mod client;
mod codes;
mod discovery;
mod endsession;
mod frontchannel;
mod hosted;
mod jws;
mod logout_token;
mod pages;
mod reply;
mod server;
mod token;

use std::time::Duration;

pub use backchannel::BackchannelDelivery;
pub use client::MockClient;
pub use frontchannel::{FRONTCHANNEL_CONTINUE_AFTER, FrontchannelLogout};
pub use hosted::{HOSTED_SESSION_COOKIE, HostedSession};
pub use logout_token::{BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TYPE, LogoutTokenClaims};
pub use server::{EndSessionCall, EndedSessions, MockError, MockProvider, MockProviderBuilder};

/// How long an authorization code can be exchanged at `/token` after `/authorize` issued it.
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long an ID token is valid (`exp - iat`).
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// How long a Logout Token is valid (`exp - iat`): short, as a logout
/// notification is used at once (*our choice*; Back-Channel Logout 1.0 only
/// requires `exp`).
pub const LOGOUT_TOKEN_LIFETIME: Duration = Duration::from_secs(120);

/// How long one Back-Channel Logout delivery may take unless
/// [`MockProviderBuilder::backchannel_timeout`] says otherwise.
pub const DEFAULT_BACKCHANNEL_TIMEOUT: Duration = Duration::from_secs(5);

/// The `expires_in` of the access tokens (opaque: nothing at the mock accepts them).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The value of the `logout` parameter the mock appends on success.
///
/// *Our assumption*: Next Identity documents that a `logout` parameter is
/// sent back but not its value.
pub const LOGOUT_PARAM_VALUE: &str = "success";
