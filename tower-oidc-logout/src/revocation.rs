//! Sign-out ends the tokens too: OAuth 2.0 Token Revocation (RFC 7009), feature `revocation`.
//!
//! A sign-out ends the local session, the server-side session and (through
//! the redirect) the provider's session; a refresh token the app holds stays
//! valid at the provider until it expires, and keeps minting access tokens
//! if it was copied from the store or a log, or if the browser never
//! reaches the provider. A [`TokenRevoker`] revokes it at the provider's
//! `revocation_endpoint`; [`FlushSession::revoke_refresh_token`] does so at
//! every sign-out, with the token the app kept in the session:
//!
//! ```no_run
//! # extern crate tower_sessions_0_14 as tower_sessions;
//! use tower_oidc_logout::{
//!     discovery::ProviderMetadata,
//!     revocation::{ClientAuth, TokenRevoker},
//!     tower_sessions::FlushSession,
//! };
//!
//! # async fn setup() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
//! let client = ClientAuth::secret_basic("my-client-id", std::env::var("CLIENT_SECRET")?);
//! let revoker = TokenRevoker::from_metadata(&provider, client);
//! let hook = FlushSession::new()
//!     .id_token_key("id_token")
//!     .revoke_refresh_token("refresh_token", revoker.clone())
//!     .revoke_access_token("access_token", revoker);
//! // ... .end_session_hook(hook) on the layer's builder.
//! # let _ = hook;
//! # Ok(())
//! # }
//! ```
//!
//! # The rules, in one place
//!
//! - **Where tokens go.** Only to the configured or discovered endpoint:
//!   `https`, or plain `http` on loopback (by hand) or when the issuer is
//!   itself plain `http` on loopback (discovered). Redirects are never
//!   followed (a `3xx` is a failure). Token values are never logged and
//!   never appear in an error.
//! - **The request.** `POST` with `token` and `token_type_hint`
//!   (`refresh_token` or `access_token`), and the client's authentication
//!   ([`ClientAuth`]): `client_secret_basic`, `client_secret_post`, or a
//!   public client's `client_id`.
//! - **The answer.** Any `2xx` is success, whatever the token's state (RFC
//!   7009 section 2.2: an invalid or already revoked token is answered
//!   `200`). `503` is retried once, after its `Retry-After` (seconds) when
//!   that fits in the time left; a `503` without it, or asking for longer,
//!   is a failure. Every other status (`400 unsupported_token_type`,
//!   `401 invalid_client`, ...), a redirect, a body over the size cap, a
//!   connection failure or the total timeout is a failure
//!   ([`RevocationError`]).
//! - **Bounds.** 2 s to connect, 5 s in all (the retry and its wait
//!   included), 16 KiB of answer: see [`TokenRevoker::timeout`].
//! - **At sign-out** ([`FlushSession`]): the revocations run concurrently
//!   with the store's delete, so a sign-out takes the longer of the two, not
//!   their sum. By default a failed revocation is logged (`tracing`, warn,
//!   with the cause) and the sign-out goes on: the user must always be able
//!   to sign out. [`TokenRevoker::strict`] fails the sign-out instead
//!   (`500 end_session_failed`, cookies expired, no redirect to the
//!   provider), so nothing is reported signed out that was not; the store's
//!   delete still happens (a session is not kept alive because the provider
//!   is down), and the token stays valid at the provider until it expires.
//! - **A provider without `revocation_endpoint`**:
//!   [`TokenRevoker::from_metadata`] says so once (`tracing`, warn) and the
//!   revoker revokes nothing; the [preflight](crate::discovery::Preflight)
//!   reports it.
//!
//! What revocation does not do: an access token already issued stays valid
//! until it expires at a resource server that does not ask the provider
//! (introspection) — keep access tokens short-lived. See SECURITY.md.
//!
//! [`FlushSession`]: crate::tower_sessions::FlushSession
//! [`FlushSession::revoke_refresh_token`]: crate::tower_sessions::FlushSession::revoke_refresh_token

use std::{fmt, sync::Arc, time::Duration};

use base64::Engine as _;
use url::{Url, form_urlencoded};

use crate::discovery::{Discovery, ProviderMetadata};

/// Default time to open the connection to the revocation endpoint.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time for a whole revocation, a `503`'s retry and its wait included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on the endpoint's answer, in bytes.
pub const DEFAULT_MAX_RESPONSE_LEN: usize = 16 * 1024;

/// How the client authenticates at the revocation endpoint (as at its token endpoint).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAuth {
    client_id: String,
    secret: Option<String>,
    method: Method,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Basic,
    Post,
    None,
}

impl ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded ID and secret
    /// (RFC 6749 section 2.3.1), what most providers expect of a confidential client.
    pub fn secret_basic(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), secret: Some(secret.into()), method: Method::Basic }
    }

    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    pub fn secret_post(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), secret: Some(secret.into()), method: Method::Post }
    }

    /// A public client (`none`): `client_id` in the form, no secret.
    pub fn public(client_id: impl Into<String>) -> Self {
        Self { client_id: client_id.into(), secret: None, method: Method::None }
    }

    /// The client ID.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `Authorization` header, for `client_secret_basic`.
    fn authorization(&self) -> Option<String> {
        let (Method::Basic, Some(secret)) = (self.method, &self.secret) else { return None };
        let encode =
            |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&self.client_id), encode(secret));
        Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
    }

    /// Appends the form's part of the authentication.
    fn append_to(&self, form: &mut form_urlencoded::Serializer<'_, String>) {
        match self.method {
            Method::Basic => {}
            Method::Post => {
                form.append_pair("client_id", &self.client_id);
                form.append_pair("client_secret", self.secret.as_deref().unwrap_or_default());
            }
            Method::None => {
                form.append_pair("client_id", &self.client_id);
            }
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A client secret is a credential: never print it.
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Which token a revocation names (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// `refresh_token`.
    RefreshToken,
    /// `access_token`.
    AccessToken,
}

impl TokenTypeHint {
    /// The value sent as `token_type_hint`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefreshToken => "refresh_token",
            Self::AccessToken => "access_token",
        }
    }
}

impl fmt::Display for TokenTypeHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a [`TokenRevoker`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationConfigError {
    /// The endpoint is not a URL tokens may be sent to.
    #[error(
        "the revocation endpoint `{endpoint}` is not usable: {reason} (tokens go only to an \
         absolute https URL, or plain http on localhost/127.0.0.1/[::1] for development)"
    )]
    InvalidEndpoint {
        /// The endpoint, as given.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Why a token was not revoked. Never holds the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The endpoint answered a status that is not success, e.g. `400` with
    /// `unsupported_token_type`, or `401 invalid_client` (check the client's
    /// authentication method and secret).
    #[error("the revocation endpoint answered {status}{}", error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Refused {
        /// The status.
        status: u16,
        /// The OAuth `error` code of a JSON answer, printable and short.
        error: Option<String>,
    },
    /// `503`, still after the one retry, or with no `Retry-After` that fits
    /// in the time left.
    #[error("the revocation endpoint is unavailable (503{})", retry_after.map(|d| format!(", Retry-After {}s", d.as_secs())).unwrap_or_default())]
    Unavailable {
        /// The last `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// A redirect: not followed, the token goes nowhere else.
    #[error("the revocation endpoint answered a {status} redirect, which is not followed")]
    Redirect {
        /// The status.
        status: u16,
    },
    /// No answer within the total timeout.
    #[error("no answer from the revocation endpoint within {0:?}")]
    Timeout(Duration),
    /// The request failed: connection, TLS, HTTP, an answer over the size
    /// cap, no Tokio runtime.
    #[error("the revocation request failed: {0}")]
    Request(String),
}

/// Revokes tokens at a provider's revocation endpoint (RFC 7009); see the
/// [module docs](self) for every rule it follows. Cheap to clone.
#[derive(Clone)]
pub struct TokenRevoker {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    endpoint: Option<Url>,
    client: ClientAuth,
    /// The HTTP settings; its total timeout bounds the whole revocation.
    fetcher: Discovery,
    strict: bool,
}

impl fmt::Debug for TokenRevoker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRevoker")
            .field("endpoint", &self.inner.endpoint.as_ref().map(Url::as_str))
            .field("client", &self.inner.client)
            .field("timeout", &self.inner.fetcher.total_timeout())
            .field("strict", &self.inner.strict)
            .finish()
    }
}

impl TokenRevoker {
    /// A revoker for the endpoint given by hand: `https`, or plain `http` on loopback.
    pub fn new(endpoint: &str, client: ClientAuth) -> Result<Self, RevocationConfigError> {
        let url = crate::https_url::parse(endpoint).map_err(|reason| {
            RevocationConfigError::InvalidEndpoint { endpoint: endpoint.to_owned(), reason }
        })?;
        Ok(Self::with_endpoint(Some(url), client))
    }

    /// A revoker for the provider's `revocation_endpoint`, checked by
    /// discovery. A provider that publishes none gets a revoker that
    /// revokes nothing: this says so once (`tracing`, warn), and
    /// [`endpoint`](Self::endpoint) is `None`.
    pub fn from_metadata(metadata: &ProviderMetadata, client: ClientAuth) -> Self {
        let endpoint = metadata.revocation_endpoint().and_then(|text| Url::parse(text).ok());
        if endpoint.is_none() {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                issuer = metadata.issuer(),
                "the provider publishes no revocation_endpoint: tokens are not revoked at sign-out"
            );
        }
        Self::with_endpoint(endpoint, client)
    }

    fn with_endpoint(endpoint: Option<Url>, client: ClientAuth) -> Self {
        let fetcher = Discovery::new()
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
            .timeout(DEFAULT_TIMEOUT)
            .max_document_len(DEFAULT_MAX_RESPONSE_LEN);
        Self { inner: Arc::new(Inner { endpoint, client, fetcher, strict: false }) }
    }

    /// Changes a setting (copying the settings first if a clone shares them).
    fn map(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// Fail the sign-out when a revocation fails (`500 end_session_failed`),
    /// instead of logging it and going on (the default). Choose it where a
    /// live refresh token after sign-out is worse than a user who cannot
    /// sign out while the provider is down.
    #[must_use]
    pub fn strict(self) -> Self {
        self.map(|inner| inner.strict = true)
    }

    /// Time for a whole revocation, the `503` retry and its wait included
    /// (default [`DEFAULT_TIMEOUT`]): the most it adds to a sign-out.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|inner| {
            inner.fetcher = inner.fetcher.clone().timeout(timeout);
        })
    }

    /// Time to open the connection (default [`DEFAULT_CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.map(|inner| inner.fetcher = inner.fetcher.clone().connect_timeout(timeout))
    }

    /// Largest answer read, in bytes (default [`DEFAULT_MAX_RESPONSE_LEN`]).
    #[must_use]
    pub fn max_response_len(self, bytes: usize) -> Self {
        self.map(|inner| inner.fetcher = inner.fetcher.clone().max_document_len(bytes))
    }

    /// Also trust this CA certificate (DER), as [`Discovery::add_root_certificate`].
    #[must_use]
    pub fn add_root_certificate(self, der: impl Into<Vec<u8>>) -> Self {
        self.map(|inner| inner.fetcher = inner.fetcher.clone().add_root_certificate(der))
    }

    /// The endpoint tokens are sent to; `None` when the provider publishes none.
    #[must_use]
    pub fn endpoint(&self) -> Option<&Url> {
        self.inner.endpoint.as_ref()
    }

    /// Whether a failed revocation fails the sign-out ([`strict`](Self::strict)).
    #[must_use]
    pub fn is_strict(&self) -> bool {
        self.inner.strict
    }

    /// Revokes `token`, named by `hint`. `Ok(true)`: the endpoint answered
    /// success; `Ok(false)`: there is no endpoint, nothing was sent.
    pub async fn revoke(&self, token: &str, hint: TokenTypeHint) -> Result<bool, RevocationError> {
        let Some(endpoint) = &self.inner.endpoint else { return Ok(false) };
        let timeout = self.inner.fetcher.total_timeout();
        tokio::time::timeout(timeout, self.revoke_at(endpoint, token, hint))
            .await
            .map_err(|_| RevocationError::Timeout(timeout))?
            .map(|()| true)
    }

    /// The request's form: `token`, `token_type_hint`, and the client's part.
    fn form(&self, token: &str, hint: TokenTypeHint) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token).append_pair("token_type_hint", hint.as_str());
        self.inner.client.append_to(&mut form);
        form.finish()
    }

    async fn revoke_at(
        &self,
        endpoint: &Url,
        token: &str,
        hint: TokenTypeHint,
    ) -> Result<(), RevocationError> {
        let started = tokio::time::Instant::now();
        let mut retried = false;
        loop {
            let answer = self
                .inner
                .fetcher
                .post_form(endpoint, self.form(token, hint), self.inner.client.authorization())
                .await
                .map_err(|error| RevocationError::Request(error.reason()))?;
            let status = answer.status;
            if status.is_success() {
                return Ok(());
            }
            if status.is_redirection() {
                return Err(RevocationError::Redirect { status: status.as_u16() });
            }
            if status == http::StatusCode::SERVICE_UNAVAILABLE {
                let left = self.inner.fetcher.total_timeout().saturating_sub(started.elapsed());
                match answer.retry_after {
                    Some(wait) if !retried && wait < left => {
                        retried = true;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    retry_after => return Err(RevocationError::Unavailable { retry_after }),
                }
            }
            return Err(RevocationError::Refused {
                status: status.as_u16(),
                error: oauth_error(&answer.body),
            });
        }
    }
}

/// The `error` code of an OAuth error answer, when it is short and printable.
fn oauth_error(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.as_str()?;
    let printable = code.len() <= 64 && code.bytes().all(|b| b.is_ascii_graphic());
    printable.then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authentication_form_encodes_then_base64_encodes() {
        // RFC 6749 section 2.3.1: the ID and secret are form-encoded first.
        let auth = ClientAuth::secret_basic("my app", "s3cr:t/+");
        assert_eq!(
            auth.authorization().unwrap(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("my+app:s3cr%3At%2F%2B")
            )
        );
        assert_eq!(ClientAuth::secret_post("a", "b").authorization(), None);
        assert_eq!(ClientAuth::public("a").authorization(), None);
    }

    #[test]
    fn secrets_are_never_printed() {
        let auth = ClientAuth::secret_post("app", "hunter2");
        assert!(!format!("{auth:?}").contains("hunter2"));
        let revoker = TokenRevoker::new("https://op.example/revoke", auth).unwrap();
        assert!(!format!("{revoker:?}").contains("hunter2"));
    }

    #[test]
    fn only_https_or_loopback_endpoints_are_accepted() {
        let client = || ClientAuth::public("app");
        for bad in
            ["http://op.example/revoke", "https://u:p@op.example/revoke", "/revoke", "ftp://x"]
        {
            assert!(
                matches!(
                    TokenRevoker::new(bad, client()),
                    Err(RevocationConfigError::InvalidEndpoint { .. })
                ),
                "{bad}"
            );
        }
        for good in ["https://op.example/revoke", "http://127.0.0.1:8080/revoke"] {
            assert!(TokenRevoker::new(good, client()).is_ok(), "{good}");
        }
    }

    #[test]
    fn an_oauth_error_code_is_kept_only_when_short_and_printable() {
        assert_eq!(
            oauth_error(br#"{"error":"unsupported_token_type"}"#).as_deref(),
            Some("unsupported_token_type")
        );
        assert_eq!(oauth_error(br#"{"error":"a\nb"}"#), None);
        assert_eq!(oauth_error(b"<html>"), None);
    }
}
