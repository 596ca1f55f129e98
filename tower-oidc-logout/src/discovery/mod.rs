//! OpenID Connect Discovery: from an issuer to the provider's sign-out metadata.
//!
//! [`ProviderMetadata::discover`] fetches `<issuer>/.well-known/openid-configuration`
//! once and keeps what sign-out needs: `end_session_endpoint`, `jwks_uri`,
//! `authorization_endpoint`, `token_endpoint` and the four logout capability
//! flags. [`Discovery`] changes the timeouts and the size cap. [`Preflight`]
//! checks at start-up that the provider will accept this app's sign-out.
//!
//! ```no_run
//! use std::time::Duration;
//! use tower_oidc_logout::discovery::{Discovery, DiscoveryError, ProviderMetadata};
//!
//! # async fn run() -> Result<(), DiscoveryError> {
//! // Defaults: 5 s to connect, 10 s in all, 64 KiB at most.
//! let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
//!
//! // Or with settings of your own:
//! let provider = Discovery::new()
//!     .connect_timeout(Duration::from_secs(2))
//!     .timeout(Duration::from_secs(5))
//!     .discover("https://id.eu.nextreason.com")
//!     .await?;
//!
//! let end_session = provider.require_end_session_endpoint()?; // typed error if absent
//! println!("sign out at {end_session}");
//! if provider.backchannel_logout_supported() {
//!     println!("keys at {:?}", provider.jwks_uri());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Rules
//!
//! - The document's `issuer` must equal the configured issuer byte for byte
//!   ([`DiscoveryError::IssuerMismatch`] shows both). A trailing `/` on the
//!   configured issuer is stripped before appending the well-known path
//!   (OpenID Connect Discovery 1.0, section 4) but counts in the comparison.
//! - The issuer and every endpoint in the document are `https`; plain `http`
//!   only on `localhost`, `127.0.0.1` and `[::1]`, for development. An `http`
//!   issuer elsewhere is refused before any request, and an `https` issuer's
//!   document may name no plain-`http` endpoint at all, loopback included
//!   (otherwise a made-up `kid` in a logout token could make the app GET a
//!   local URL through the `jwks_uri`).
//! - TLS by rustls with the ring provider; certificates are verified against
//!   Mozilla's roots (webpki-roots) plus any
//!   [`add_root_certificate`](Discovery::add_root_certificate). No OpenSSL.
//! - Redirects are not followed: the provider's document must live under
//!   the issuer it names, so a redirect means the configured issuer is wrong.
//! - Only `200 OK`; a document over the size cap is refused whether
//!   `Content-Length` announces it or the body grows past it.
//! - A document without `end_session_endpoint` is accepted (a provider may
//!   support only back-channel logout, or the end-session URL may be
//!   configured by hand);
//!   [`require_end_session_endpoint`](ProviderMetadata::require_end_session_endpoint)
//!   turns its absence into [`DiscoveryError::NoEndSessionEndpoint`].
//!
//! Every failure is a [`DiscoveryError`] that says what to fix. Discovery is
//! meant for start-up, not for the request path: nothing in the middleware
//! fetches anything.
//!
//! # Preflight: will the provider accept this app's sign-out?
//!
//! [`Preflight`] asks the provider once, at start-up, what a user would
//! otherwise find out on their first **Sign out**: whether it knows the
//! `client_id` (Next Identity answers an unknown one `403 http_exception`),
//! whether the `post_logout_redirect_uri` is on the client's allow-list,
//! and, with discovery metadata, whether the logout capabilities and keys
//! the app's routes need are there. It sends no cookie and no token, follows
//! no redirect and ends within [`Preflight::bound`]. Its answers are a
//! heuristic: see [`Preflight`] for what each provider answer means.
//!
//! ```no_run
//! use tower_oidc_logout::{OidcLogoutLayer, StateKey, discovery::ProviderMetadata};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
//! let logout = OidcLogoutLayer::builder()
//!     .provider(&provider)
//!     .client_id("my-client")
//!     .post_logout_redirect_uri("https://app.example/logout/callback")
//!     .state_key(StateKey::generate()?)
//!     .build()?;
//!
//! let report = logout.preflight().run().await;
//! println!("{report}"); // one line per check: [ok], [FAIL] (with what to do) or [?]
//! if !report.is_ok() {
//!     return Err("the provider will not accept this app's sign-out".into());
//! }
//! let app: axum::Router = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .layer(logout);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! [`PreflightReport::is_ok`] is strict (every check passed);
//! [`has_failures`](PreflightReport::has_failures) only counts what the
//! provider refused, not what it could not be asked (a provider down at
//! start-up).
//!
//! # Next Identity
//!
//! Next Identity's issuer is the integration's base domain as an `https`
//! URL, so `https://<host>` is discovered at
//! `https://<host>/.well-known/openid-configuration`:
//!
//! ```
//! use tower_oidc_logout::discovery::configuration_url;
//!
//! assert_eq!(
//!     configuration_url("https://id.eu.nextreason.com")?,
//!     "https://id.eu.nextreason.com/.well-known/openid-configuration",
//! );
//! # Ok::<(), tower_oidc_logout::discovery::DiscoveryError>(())
//! ```
//!
//! Discovery is optional there: the builder's
//! [`next_identity(host)`](crate::OidcLogoutBuilder::next_identity) sets the
//! documented `https://<host>/endsession` directly, with no network call.
//! Use discovery when you also want `jwks_uri` or the capability flags, or to
//! check the configuration against the provider's own document.

mod error;
mod fetch;
mod metadata;
mod preflight;

pub use error::DiscoveryError;
#[cfg(feature = "provider-logout")]
pub(crate) use fetch::FetchError;
pub use fetch::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_DOCUMENT_LEN, DEFAULT_TIMEOUT, Discovery};
pub use metadata::{ProviderMetadata, configuration_url};
pub use preflight::{Check, CheckId, Outcome, Preflight, PreflightReport};
