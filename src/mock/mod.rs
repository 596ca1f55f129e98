//! A mock Next Identity provider: the other party of a sign-out, for tests and demos.
//!
//! It is a small HTTP server (axum on tokio) that behaves as Next Identity's
//! hosted screens document their end-session endpoint, and shares no code
//! with the relying-party side of this crate, so tests against it check the
//! middleware against an independent reading of the provider's documentation.
//!
//! ```
//! use tower_oidc_logout::mock::MockProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oidc_logout::mock::MockError> {
//! let provider = MockProvider::builder()
//!     .client("demo-client", ["http://127.0.0.1:3000/logout/callback"])
//!     .serve("127.0.0.1:0") // an ephemeral port: nothing is shared between instances
//!     .await?;
//!
//! // Point the logout layer at it:
//! let end_session_endpoint = provider.end_session_url(); // "http://127.0.0.1:<port>/endsession"
//! # assert!(end_session_endpoint.ends_with("/endsession"));
//! assert_eq!(provider.hosted_session_count(), 0);
//! provider.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
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
//!   - Otherwise the hosted session of the browser (the mock's own
//!     [`HOSTED_SESSION_COOKIE`]) ends, if there is one, and the answer is
//!     `302 Found` to `post_logout_redirect_uri` with `logout` and, if the
//!     request had one, `state` (returned unchanged) appended to any query
//!     the URI already has. *Our assumption*: the documentation says a
//!     `logout` parameter is sent but not its value; the mock sends
//!     [`LOGOUT_PARAM_VALUE`]. Relying parties must not depend on it.
//! - **`GET /authorize`**: a minimal HTML page that says whether the browser
//!   has a hosted session, with a form to sign in. Not an OpenID Connect
//!   authorization endpoint: it issues no codes or tokens.
//! - **`GET /login?user=NAME[&client_id=ID&redirect_uri=URL]`**: mock-only
//!   (Next Identity has no such endpoint): creates a hosted session for
//!   `user` and sets its cookie, then redirects to `redirect_uri`, which must
//!   be on the origin of one of the client's allow-listed post-logout
//!   redirect URIs, or to `/authorize` when none is given.
//!
//! Every answer of these three endpoints is `Cache-Control: no-store`.

mod authorize;
mod client;
mod codes;
mod discovery;
mod endsession;
mod hosted;
mod jws;
mod pages;
mod reply;
mod server;
mod token;

use std::time::Duration;

pub use client::MockClient;
pub use hosted::{HOSTED_SESSION_COOKIE, HostedSession};
pub use server::{EndSessionCall, MockError, MockProvider, MockProviderBuilder};

/// How long an authorization code can be exchanged at `/token` after `/authorize` issued it.
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long an ID token is valid (`exp - iat`).
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The `expires_in` of the access tokens (opaque: nothing at the mock accepts them).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The value of the `logout` parameter the mock appends on success.
///
/// *Our assumption*: Next Identity documents that a `logout` parameter is
/// sent back but not its value.
pub const LOGOUT_PARAM_VALUE: &str = "success";
