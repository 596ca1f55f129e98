//! A mock Next Identity provider, for tests and demos: the other party of a
//! sign-in and a sign-out, and a kit to sign Logout Tokens without it.
//!
//! ```
//! use tower_oidc_logout_mock::MockProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oidc_logout_mock::MockError> {
//! let provider = MockProvider::builder()
//!     .client("demo-client", ["http://127.0.0.1:3000/logout/callback"])
//!     .serve("127.0.0.1:0") // an ephemeral port: nothing is shared between instances
//!     .await?;
//! let end_session_endpoint = provider.end_session_url(); // point the logout layer at it
//! # assert!(end_session_endpoint.ends_with("/endsession"));
//! # assert_eq!(provider.discovery_url(), format!("{}/.well-known/openid-configuration", provider.issuer()));
//! provider.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! It is a small HTTP server (axum on tokio) that behaves as Next Identity's
//! hosted screens document their end-session endpoint, and as a small
//! OpenID provider (authorization code flow with PKCE, ID tokens signed with
//! its own ES256 key, discovery, JWKS, and the sender side of Back-Channel
//! and Front-Channel Logout) where Next Identity follows the
//! OpenID Connect and OAuth 2.0 specifications. It shares no code with the
//! relying-party library (`tower-oidc-logout`), so tests against it check
//! the middleware against an independent reading of the documentation and
//! specs. It issues refresh tokens and revokes tokens (RFC 7009), so a
//! relying party's sign-out can revoke what it holds. [`MockClient`] registers a client with every setting (redirect
//! URIs, a secret, logout URIs); the [`browser`] module is a cookie-keeping
//! HTTP client to drive it from tests.
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
//!     [`HOSTED_SESSION_COOKIE`]) ends, if there is one, its clients are
//!     told (see *Sessions that end* below), and the answer is
//!     `302 Found` to `post_logout_redirect_uri` with `logout` and, if the
//!     request had one, `state` (returned unchanged) appended to any query
//!     the URI already has. *Our assumption*: the documentation says a
//!     `logout` parameter is sent but not its value; the mock sends
//!     [`LOGOUT_PARAM_VALUE`]. Relying parties must not depend on it.
//!   - Unless a client that received tokens for the ended session has a
//!     `frontchannel_logout_uri`: then the answer is `200` with the
//!     logged-out page (Front-Channel Logout 1.0, section 4): one iframe per
//!     such client, and the way on to that same redirect URI without
//!     script, a `<meta http-equiv="refresh">` after
//!     [`FRONTCHANNEL_CONTINUE_AFTER`] (time for the iframes to load) and a
//!     "Continue" link. *Our choice*: the spec leaves how the OP continues
//!     open; a refresh keeps the page free of script, and the link serves
//!     browsers that block refreshes. The hosted-session cookie is removed
//!     either way.
//! - **`GET /.well-known/openid-configuration`** (OpenID Connect Discovery
//!   1.0): `issuer` is [`MockProvider::issuer`] exactly (`http://<addr>`, or
//!   what [`MockProviderBuilder::issuer`] set; no trailing slash) and every
//!   endpoint is under it; `code` only, `S256` only, `ES256` only, the
//!   grant types `authorization_code` and `refresh_token`, the scopes
//!   `openid` and `offline_access`, `client_secret_basic`,
//!   `client_secret_post` and `none` (for the token endpoint and, RFC 8414,
//!   the `revocation_endpoint` `<issuer>/revoke`, unless
//!   [`MockProviderBuilder::advertise_revocation`] turned both off), and the
//!   four Back-/Front-Channel Logout capability flags, all `true` unless
//!   [`MockProviderBuilder::advertise`] turned one off (the mock sends `sid`
//!   to both, see below).
//! - **`GET /jwks`**: the JWK Set of the signing key (`kty` `EC`, `crv`
//!   `P-256`, `x`, `y`, `kid`, `alg` `ES256`, `use` `sig`). A new key is
//!   generated at each start unless [`MockProviderBuilder::signing_key`]
//!   gives one; the `kid` is its RFC 7638 thumbprint unless
//!   [`SigningKey::with_kid`] set another.
//!   [`MockProvider::rotate_signing_key`] replaces it with a new one (new
//!   `kid`), keeping the old one in the set, after the new, or not;
//!   [`MockProvider::retire_previous_signing_keys`] removes the kept ones
//!   later, as a real provider ends a rotation. `Cache-Control: no-store`,
//!   or `public, max-age=<n>` with [`MockProviderBuilder::jwks_max_age`].
//! - **`GET /authorize`** without `client_id`, `response_type` or
//!   `redirect_uri`: a minimal HTML page that says whether the browser has a
//!   hosted session, with a form to sign in (through `/login`) and, when it
//!   has one, a "Sign out everywhere" button (`POST /logout`).
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
//! - **`POST /token`** (form; RFC 6749 4.1.3, 5.1, 5.2, 6):
//!   `grant_type=authorization_code` or `refresh_token` (anything else:
//!   `unsupported_grant_type`; missing: `invalid_request`). A parameter
//!   given twice, or a body that is not `application/x-www-form-urlencoded`:
//!   `400 invalid_request`. The client authenticates with
//!   `client_secret_basic` or `client_secret_post` if it has a secret, and
//!   by `client_id` alone if it is public; bad or missing client
//!   authentication (or a secret from a public client) is `401 invalid_client` with `WWW-Authenticate:
//!   Basic` (two methods at once: `400 invalid_request`).
//!   - `authorization_code`: the code must be
//!     known, unexpired ([`AUTHORIZATION_CODE_LIFETIME`]), issued to this
//!     client, come with the same `redirect_uri` and the PKCE verifier of its
//!     challenge, and its hosted session must still exist, or
//!     `invalid_grant`. A code is consumed by the first exchange that gets
//!     to it, whether or not that exchange succeeds. The answer is
//!     `{"access_token", "token_type": "Bearer", "expires_in", "id_token"}`,
//!     and `"refresh_token"` when the authorization request's `scope` had
//!     `offline_access` (OpenID Connect Core 1.0, section 11), or always,
//!     or never, as [`MockProviderBuilder::refresh_tokens`] says
//!     ([`RefreshTokens`]). *Our assumption*: `offline_access` is granted
//!     without `prompt=consent` (the mock's sign-in stands for consent).
//!     The ID token (ES256, with the `kid` of the JWKS) has `iss`, `aud` (the
//!     client ID), `sub` (the user name), `sid` (the hosted session's public
//!     ID, never its cookie), `nonce` (if the request had one), `iat`, `exp`
//!     ([`ID_TOKEN_LIFETIME`]) and `auth_time`.
//!   - `refresh_token` (OpenID Connect Core 1.0, section 12): the
//!     `refresh_token` parameter is required (`invalid_request`); the token
//!     must be one the mock issued to this client and nobody revoked
//!     (unknown, revoked or another client's: `invalid_grant`, the same for
//!     all three); a `scope` wider than the one granted is `invalid_scope`
//!     (narrower is fine). The answer has a new access token, the same
//!     `refresh_token` (*our choice*: no rotation; refresh tokens do not
//!     expire and outlive the hosted session, until revoked) and a new ID
//!     token: same `iss`, `sub`, `aud`, `sid` and `auth_time` as at
//!     sign-in, a new `iat` and `exp`, no `nonce`.
//!
//!   Refresh tokens and access tokens are opaque random strings. *Our
//!   assumption*: nothing at the mock accepts an access token (no
//!   userinfo), but each is recorded, expires after
//!   [`ACCESS_TOKEN_LIFETIME`] and can be revoked;
//!   [`MockProvider::token_is_active`] tells whether a token is still good.
//! - **`POST /revoke`** (OAuth 2.0 Token Revocation, RFC 7009): a form with
//!   `token` (required: `400 invalid_request`) and an optional
//!   `token_type_hint`, which only hints (every token type is searched,
//!   whatever it says; an unknown value is ignored, section 2.1). Client
//!   authentication, repeated parameters and the content type are checked
//!   exactly as at `/token` (`401 invalid_client`, `400 invalid_request`);
//!   other methods than `POST` are `405`. The token is revoked if it is
//!   active and was issued to the authenticated client; revoking a refresh
//!   token revokes the access tokens issued with it (section 2.1's
//!   SHOULD), revoking an access token leaves its refresh token alone. The
//!   answer is `200` with an empty body (section 2.2) whether or not
//!   anything was revoked: for an unknown token, a token revoked before or
//!   another client's token (which stays active). Every request is recorded
//!   ([`MockProvider::revocations`], [`RevocationCall`]: the client as
//!   authenticated, the hint, whether it revoked a token, the status).
//!   [`MockProvider::fail_revocations`] makes the next requests fail
//!   ([`RevocationFault`]: `503` with `Retry-After`,
//!   `unsupported_token_type`, or no answer) for a relying party's failure
//!   tests.
//! - **`GET /login?user=NAME[&client_id=ID&redirect_uri=URL]`**: mock-only
//!   (Next Identity has no such endpoint): creates a hosted session for
//!   `user` and sets its cookie, then redirects to `redirect_uri`, which must
//!   be on the origin of one of the client's registered redirect or
//!   post-logout redirect URIs, or to `/authorize` when none is given.
//! - **`POST /logout`**: mock-only, the "Sign out everywhere" button: ends
//!   the browser's hosted session, tells its clients (back-channel, and the
//!   front-channel iframes of the `200` page it answers), removes the
//!   cookie, and links back to `/authorize`. *Our assumption*: like the
//!   sign-in form, it has no CSRF protection; "everywhere" means every app
//!   of this browser's session ([`MockProvider::end_sessions_of`] ends every
//!   browser's).
//!
//! # Sessions that end (Back-Channel and Front-Channel Logout 1.0)
//!
//! A hosted session ends through `/endsession`, `POST /logout`, a new
//! sign-in at `POST /authorize` replacing the browser's session, or
//! [`MockProvider::end_session_by_sid`] / [`MockProvider::end_sessions_of`].
//! Then, for each client that received tokens for it (at `/token`):
//!
//! - **Back-channel** (Back-Channel Logout 1.0, sections 2.4 and 2.5), if
//!   the client has a `backchannel_logout_uri`: a Logout Token, ES256 with
//!   the current key, header `typ` [`LOGOUT_TOKEN_TYPE`] and `kid`; claims
//!   `iss`, `aud` (the client ID), `iat`, `exp` (`iat` +
//!   [`LOGOUT_TOKEN_LIFETIME`]), `jti` (128 random bits), `events`
//!   (`{`[`BACKCHANNEL_LOGOUT_EVENT`]`: {}}`), `sid` and `sub`, never
//!   `nonce`; POSTed as `application/x-www-form-urlencoded`
//!   `logout_token=<JWT>`. Every delivery runs at once, each bounded by
//!   [`MockProviderBuilder::backchannel_timeout`] (connect, request, status
//!   line), and is recorded ([`MockProvider::backchannel_deliveries`]) with
//!   the status or the error; `200` and `204` count as success (section
//!   2.8). A failed delivery is not retried and never fails the sign-out.
//!   *Our assumptions*: the sign-out waits for its deliveries before it
//!   answers (so a test sees them once its request returns); delivery is
//!   plain `http` only (an `https` URI is recorded as failed: the mock is
//!   for loopback tests); both `sid` and `sub` are always sent.
//! - **Front-channel** (Front-Channel Logout 1.0, section 2), if the client
//!   has a `frontchannel_logout_uri` and the sign-out has a page to show
//!   (`/endsession`, `POST /logout`; not the API, which has no browser): an
//!   iframe whose `src` is that URI with `iss` and `sid` appended to its
//!   query, recorded ([`MockProvider::frontchannel_logouts`]).
//!
//! For a relying party's negative tests, [`MockProvider::logout_token`]
//! signs any [`LogoutTokenClaims`] with the provider's current key (see
//! *Logout Tokens for tests* below).
//!
//! Tests inspect the mock through [`MockProvider`]: the hosted sessions with
//! their `sid` and the clients that received tokens for them
//! ([`MockProvider::hosted_sessions`]), every `/endsession` call
//! ([`MockProvider::end_session_calls`]), every `/revoke` call and whether
//! a token is still active, every logout sent, the JWKS and the clients. Times in codes and tokens come from
//! [`MockProviderBuilder::clock`], so a test can move past a code's lifetime
//! without waiting.
//!
//! # Logout Tokens for tests
//!
//! *For tests only*: a key made from a fixed secret is no secret. A relying
//! party's unit tests, fuzz targets and benchmarks sign Logout Tokens
//! without starting a server:
//!
//! - [`SigningKey`] is an ES256 (P-256) key, made from a fixed 32-byte secret
//!   ([`SigningKey::from_secret`]: the same key, `kid`, JWK Set and
//!   signatures on every run) or generated; it gives its `kid`, its public
//!   JWK and the JWK Set a validator is configured with ([`SigningKey::jwks`]).
//! - [`LogoutTokenClaims::new`] builds the claims of a valid token (issuer,
//!   client, `sid`, `sub`, `iat`), to break one way at a time (claims dropped
//!   or changed, a `nonce`, another `typ`, `alg: none`, HS256 keyed with the
//!   public key, an unknown `kid`, a key not in the JWK Set), and
//!   [`LogoutTokenClaims::sign`] signs them with a key.
//! - [`SigningKey::sign_jws`] signs any header and claims, for what a Logout
//!   Token's setters do not cover.
//!
//! The same kit runs the mock: [`MockProviderBuilder::signing_key`] starts
//! it with a key of yours, and [`MockProvider::logout_token`] signs with its
//! current key.
//!
//! ```
//! use tower_oidc_logout_mock::{LogoutTokenClaims, SigningKey};
//!
//! let key = SigningKey::from_secret([1; 32])?.with_kid("op-key-1");
//! let jwks: String = key.jwks(); // {"keys":[{"kty":"EC","crv":"P-256",...,"kid":"op-key-1"}]}
//!
//! let claims = LogoutTokenClaims::new("https://op.example", "client-1", "sid-1", "alice", 1_800_000_000)
//!     .jti("jti-1"); // random unless set
//! let valid: String = claims.sign(&key);
//! let unsigned = claims.clone().unsigned().sign(&key); // alg none
//! let confused = claims.clone().hmac_with_public_key().sign(&key); // HS256, the public key as secret
//! let foreign = claims.clone().signed_with_unpublished_key().sign(&key); // a kid not in `jwks`
//! let with_nonce = claims.nonce("n").sign(&key);
//! # assert!(jwks.contains("op-key-1") && unsigned.ends_with('.') && valid != foreign);
//! # let _ = (confused, with_nonce);
//! # Ok::<(), tower_oidc_logout_mock::KeyError>(())
//! ```

// Imports go downward only, so no module imports one that imports it:
// 1. server: the router over the handlers, serving, the `MockProvider` handle;
// 2. the handlers (authorize, which shows pages' sign-in form; pages;
//    revoke, which uses token's form and client authentication; token,
//    endsession, discovery), then the logout senders they call
//    (backchannel, frontchannel);
// 3. state: what the handlers share;
// 4. leaves: client, hosted, codes, tokens, key_ring, logout_token, pkce,
//    records, reply, random, signing_key (under key_ring and logout_token).
// browser stands alone.
mod authorize;
mod backchannel;
pub mod browser;
mod client;
mod codes;
mod discovery;
mod endsession;
mod frontchannel;
mod hosted;
mod key_ring;
mod logout_token;
mod pages;
mod pkce;
mod random;
mod records;
mod reply;
mod revoke;
mod server;
mod signing_key;
mod state;
mod token;
mod tokens;

pub use backchannel::DEFAULT_BACKCHANNEL_TIMEOUT;
pub use client::MockClient;
pub use codes::AUTHORIZATION_CODE_LIFETIME;
pub use endsession::LOGOUT_PARAM_VALUE;
pub use frontchannel::FRONTCHANNEL_CONTINUE_AFTER;
pub use hosted::{HOSTED_SESSION_COOKIE, HostedSession};
pub use logout_token::{
    BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME, LOGOUT_TOKEN_TYPE, LogoutTokenClaims,
};
pub use records::{BackchannelDelivery, EndSessionCall, FrontchannelLogout, RevocationCall};
pub use server::{
    EndedSessions, LogoutCapability, MockError, MockProvider, MockProviderBuilder,
    RefreshTokenCount,
};
pub use signing_key::{KeyError, SigningKey};
pub use token::{ACCESS_TOKEN_LIFETIME, ID_TOKEN_LIFETIME};
pub use tokens::{RefreshTokens, RevocationFault};
