//! Sign-in as a relying party does it: the authorization code flow with PKCE,
//! through the `openidconnect` crate (discovery, the token request, and the
//! ID token's signature against the JWKS, `iss`, `aud`, `nonce` and `exp`).
//!
//! The logout layer needs none of this; the demo signs in for real so that
//! the session holds a real ID token, which the layer sends as `id_token_hint`.

use std::{fmt, time::Duration};

use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
        CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
        CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
    },
    reqwest,
};
use serde::{Deserialize, Serialize};

/// Where the provider sends the browser back with the code, under `RP_URL`.
pub const LOGIN_CALLBACK_PATH: &str = "/login/callback";

/// The `sid` claim (OpenID Connect Front-/Back-Channel Logout), which the
/// standard claims of `openidconnect` do not carry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct SessionIdClaim {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

impl AdditionalClaims for SessionIdClaim {}

type IdTokenWithSid = IdTokenFields<
    SessionIdClaim,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// `openidconnect`'s `CoreClient` with the `sid` claim, its endpoints from discovery.
type OidcClient = Client<
    SessionIdClaim,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<IdTokenWithSid, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,      // authorization endpoint
    EndpointNotSet,   // device authorization
    EndpointNotSet,   // introspection
    EndpointNotSet,   // revocation
    EndpointMaybeSet, // token endpoint
    EndpointMaybeSet, // userinfo
>;

/// The relying party's side of the sign-in, configured once from discovery.
#[derive(Clone)]
pub(crate) struct SignIn {
    client: OidcClient,
    http: reqwest::Client,
    issuer: String,
}

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// What `/login` keeps in the session until `/login/callback`: the `state`
/// (CSRF), the `nonce` and the PKCE verifier, all single use.
pub(crate) type PendingSignIn = (String, String, String);

/// A signed-in user, from a validated ID token.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    /// The `sub` claim: who signed in.
    pub(crate) sub: String,
    /// The `sid` claim: the session at the provider, if it sent one.
    pub(crate) sid: Option<String>,
    /// The ID token as received (a JWS), for `id_token_hint` at sign-out.
    pub(crate) id_token: String,
    /// The refresh token, if the provider issued one: revoked at sign-out.
    pub(crate) refresh_token: Option<String>,
}

/// Why a return to `/login/callback` signs nobody in.
#[derive(Debug)]
pub(crate) enum SignInFailure {
    /// No sign-in was started in this browser (or it was already used).
    NothingPending,
    /// `state` missing or not the one this browser was given.
    StateMismatch,
    /// The provider answered with an error (`access_denied`, ...).
    Provider { error: String, description: Option<String> },
    /// No `code` in the callback.
    NoCode,
    /// The callback's `iss` (RFC 9207) names another issuer.
    WrongIssuer(String),
    /// The token endpoint refused the code.
    TokenRefused(String),
    /// The token endpoint could not be reached.
    TokenUnreachable(String),
    /// The token response has no ID token.
    NoIdToken,
    /// The ID token failed validation (signature, `iss`, `aud`, `nonce`, `exp`).
    InvalidIdToken(String),
}

impl SignInFailure {
    /// 400 for anything about the request or the tokens, 502 when the provider could not be reached.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::TokenUnreachable(_) => 502,
            _ => 400,
        }
    }

    /// A short machine-readable reason, shown on the error page.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::NothingPending => "no_sign_in_pending",
            Self::StateMismatch => "state_mismatch",
            Self::Provider { .. } => "provider_error",
            Self::NoCode => "code_missing",
            Self::WrongIssuer(_) => "issuer_mismatch",
            Self::TokenRefused(_) => "token_refused",
            Self::TokenUnreachable(_) => "token_endpoint_unreachable",
            Self::NoIdToken => "id_token_missing",
            Self::InvalidIdToken(_) => "id_token_invalid",
        }
    }
}

impl fmt::Display for SignInFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NothingPending => f.write_str(
                "no sign-in was started in this browser, or it was already completed: start again",
            ),
            Self::StateMismatch => f.write_str(
                "the state the provider returned is missing or not the one this browser was given",
            ),
            Self::Provider { error, description } => {
                write!(f, "the provider refused the sign-in: {error}")?;
                match description {
                    Some(description) => write!(f, " ({description})"),
                    None => Ok(()),
                }
            }
            Self::NoCode => f.write_str("the provider sent no authorization code"),
            Self::WrongIssuer(iss) => {
                write!(f, "the response names the issuer `{iss}`, not the configured one")
            }
            Self::TokenRefused(why) => write!(f, "the token endpoint refused the code: {why}"),
            Self::TokenUnreachable(why) => write!(f, "the token endpoint failed: {why}"),
            Self::NoIdToken => f.write_str("the token response has no ID token"),
            Self::InvalidIdToken(why) => write!(f, "the ID token is not valid: {why}"),
        }
    }
}

/// The query of a return to `/login/callback`, as the provider sent it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl SignIn {
    /// Discovers `issuer` and registers the demo as client `client_id`
    /// (confidential with `secret`), returning to `redirect_uri`.
    pub(crate) async fn discover(
        issuer: &str,
        client_id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            // openidconnect's advice: no redirects, so a response cannot point the client elsewhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| format!("discovery at `{issuer}` failed: {}", error_chain(&e)))?;
        if metadata.token_endpoint().is_none() {
            return Err(format!("`{issuer}` publishes no token_endpoint: no code flow there"));
        }
        let redirect_uri = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| e.to_string())?;
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(redirect_uri);
        Ok(Self { client, http, issuer: issuer.to_owned() })
    }

    /// Where to send the browser to sign in, and what to keep until it comes back.
    pub(crate) fn start(&self) -> (String, PendingSignIn) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            // A refresh token, as an app that calls APIs on the user's behalf holds one:
            // the sign-out revokes it.
            .add_scope(Scope::new("offline_access".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = (state.secret().clone(), nonce.secret().clone(), verifier.secret().clone());
        (url.to_string(), pending)
    }

    /// Checks the return to `/login/callback` against what `/login` kept,
    /// exchanges the code and validates the ID token.
    pub(crate) async fn finish(
        &self,
        pending: Option<PendingSignIn>,
        query: CallbackQuery,
    ) -> Result<SignedIn, SignInFailure> {
        let (state, nonce, verifier) = pending.ok_or(SignInFailure::NothingPending)?;
        let echoed = query.state.as_deref().unwrap_or_default();
        // The state is a CSRF token: compared in constant time, like the logout state.
        if !constant_time_eq::constant_time_eq(echoed.as_bytes(), state.as_bytes()) {
            return Err(SignInFailure::StateMismatch);
        }
        if let Some(iss) = query.iss.filter(|iss| *iss != self.issuer) {
            return Err(SignInFailure::WrongIssuer(iss));
        }
        if let Some(error) = query.error {
            return Err(SignInFailure::Provider { error, description: query.error_description });
        }
        let code = query.code.ok_or(SignInFailure::NoCode)?;
        let request = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            // No token endpoint: refused at start by `discover`, so not seen here.
            .map_err(|e| SignInFailure::TokenUnreachable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier));
        let response = request.request_async(&self.http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(refusal) => {
                SignInFailure::TokenRefused(refusal.to_string())
            }
            other => SignInFailure::TokenUnreachable(error_chain(&other)),
        })?;
        let id_token = response.id_token().ok_or(SignInFailure::NoIdToken)?;
        let claims = id_token
            .claims(&self.client.id_token_verifier(), &Nonce::new(nonce))
            .map_err(|e| SignInFailure::InvalidIdToken(error_chain(&e)))?;
        Ok(SignedIn {
            sub: claims.subject().as_str().to_owned(),
            sid: claims.additional_claims().sid.clone(),
            id_token: id_token.to_string(),
            refresh_token: response.refresh_token().map(|token| token.secret().clone()),
        })
    }
}

/// An error and its causes, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
