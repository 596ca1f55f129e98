//! `/authorize`: the authorization code flow with PKCE (RFC 6749 4.1, RFC 7636,
//! OpenID Connect Core 3.1), signing the browser in to a hosted session.

use std::sync::Arc;

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Response, StatusCode, Uri},
};
use url::form_urlencoded;

use crate::{
    backchannel,
    client::MockClient,
    codes::Grant,
    hosted::set_cookie,
    pages,
    pkce::is_pkce_value,
    reply::{self, html_escape},
    state::Provider,
};

/// The parameters of an authorization request the mock reads; each may be given once.
const PARAMS: [&str; 9] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
];

/// `GET /authorize`: without OAuth parameters, the page that shows whether the
/// browser has a hosted session; with them, an authorization request.
pub(super) async fn authorize(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let params = decode(uri.query().unwrap_or_default().as_bytes());
    let is_oauth = params
        .iter()
        .any(|(name, _)| matches!(name.as_str(), "client_id" | "response_type" | "redirect_uri"));
    if !is_oauth {
        return pages::hosted_session_page(&provider, &headers);
    }
    let request = match AuthorizationRequest::check(&provider, &params) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(&provider, StatusCode::FOUND),
    };
    let session = provider.sessions.find(&headers);
    match session {
        Some((session, _)) if !request.prompt_has("login") => {
            request.issue_code(&provider, session, StatusCode::FOUND, None)
        }
        None if request.prompt_has("none") => Refusal::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: "login_required",
            description: "nobody is signed in and prompt=none",
        }
        .into_response(&provider, StatusCode::FOUND),
        _ => {
            let user = first(&params, "user").unwrap_or(pages::DEFAULT_USER);
            pages::sign_in_page(&provider, &headers, &request.client_id, &params, user, None)
        }
    }
}

/// `POST /authorize`: the sign-in form, with the authorization request's
/// parameters carried in hidden fields. Starts a new hosted session (ending
/// the browser's previous one) and redirects with the code.
pub(super) async fn sign_in(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let params = decode(&body);
    let request = match AuthorizationRequest::check(&provider, &params) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(&provider, StatusCode::SEE_OTHER),
    };
    let given = first(&params, "user").unwrap_or_default();
    let Some(user) = pages::user_name(given) else {
        let mut page = pages::sign_in_page(
            &provider,
            &headers,
            &request.client_id,
            &params,
            given,
            Some("The user name must be 1 to 64 characters."),
        );
        *page.status_mut() = StatusCode::BAD_REQUEST;
        return page;
    };
    // The session this one replaces has ended: its clients are told (back-channel only).
    let replaced = provider.sessions.end(&headers);
    backchannel::notify(&provider, &replaced).await;
    let Some(session) = provider.sessions.start(user, provider.now()) else {
        return error_page("The hosted session could not be started.");
    };
    let cookie = set_cookie(&session);
    request.issue_code(&provider, session, StatusCode::SEE_OTHER, Some(cookie))
}

/// A checked authorization request.
#[derive(Debug)]
struct AuthorizationRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    /// The `scope` parameter as given (it has `openid`).
    scope: String,
    code_challenge: Option<String>,
    prompt: Option<String>,
}

/// Why a request is refused (RFC 6749 4.1.2.1).
#[derive(Debug)]
enum Refusal {
    /// The client or redirect URI cannot be trusted: shown, never redirected.
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
}

impl Refusal {
    fn into_response(self, provider: &Provider, status: StatusCode) -> Response<Body> {
        match self {
            Self::Page(message) => error_page(&message),
            Self::Redirect { redirect_uri, state, error, description } => {
                let mut pairs = vec![("error", error), ("error_description", description)];
                if let Some(state) = &state {
                    pairs.push(("state", state));
                }
                pairs.push(("iss", &provider.issuer));
                redirect(&redirect_uri, pairs, status, None)
            }
        }
    }
}

impl AuthorizationRequest {
    fn check(provider: &Provider, params: &[(String, String)]) -> Result<Self, Refusal> {
        let repeated =
            PARAMS.iter().find(|name| params.iter().filter(|(n, _)| n == *name).count() > 1);
        if let Some(name @ ("client_id" | "redirect_uri")) = repeated.copied() {
            return Err(Refusal::Page(format!("{name} is given more than once.")));
        }
        let client: &MockClient = first(params, "client_id")
            .and_then(|id| provider.clients.get(id))
            .ok_or_else(|| Refusal::Page("client_id is missing or not registered.".to_owned()))?;
        // OpenID Connect requires redirect_uri; it must be registered exactly.
        let redirect_uri = first(params, "redirect_uri")
            .filter(|uri| client.redirect_uris().iter().any(|registered| registered == uri))
            .ok_or_else(|| {
                Refusal::Page(
                    "redirect_uri is missing or not registered for this client.".to_owned(),
                )
            })?
            .to_owned();
        let state = first(params, "state").map(str::to_owned);
        let refuse = |error, description| Refusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description,
        };
        if repeated.is_some() {
            return Err(refuse("invalid_request", "a parameter is given more than once"));
        }
        match first(params, "response_type") {
            None => return Err(refuse("invalid_request", "response_type is required")),
            Some("code") => {}
            Some(_) => {
                return Err(refuse("unsupported_response_type", "only response_type=code"));
            }
        }
        let scope = first(params, "scope").unwrap_or_default();
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(refuse("invalid_scope", "scope must contain openid"));
        }
        let code_challenge = first(params, "code_challenge");
        match (code_challenge, first(params, "code_challenge_method")) {
            (None, None) if client.is_confidential() => {}
            (None, _) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge (PKCE, S256) is required for public clients",
                ));
            }
            (Some(_), Some("S256")) => {}
            (Some(_), _) => {
                return Err(refuse("invalid_request", "code_challenge_method must be S256"));
            }
        }
        if code_challenge.is_some_and(|challenge| !is_pkce_value(challenge)) {
            return Err(refuse("invalid_request", "code_challenge is not an S256 challenge"));
        }
        let prompt = first(params, "prompt").map(str::to_owned);
        let request = Self {
            client_id: client.id().to_owned(),
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            nonce: first(params, "nonce").map(str::to_owned),
            scope: scope.to_owned(),
            code_challenge: code_challenge.map(str::to_owned),
            prompt,
        };
        if request.prompt_has("none") && request.prompt_has("login") {
            return Err(refuse("invalid_request", "prompt=none cannot be combined"));
        }
        Ok(request)
    }

    fn prompt_has(&self, value: &str) -> bool {
        self.prompt.as_deref().is_some_and(|prompt| prompt.split(' ').any(|p| p == value))
    }

    /// Redirects to the client with a new code for the hosted session `session` (its cookie value).
    fn issue_code(
        self,
        provider: &Provider,
        session: String,
        status: StatusCode,
        cookie: Option<axum::http::HeaderValue>,
    ) -> Response<Body> {
        let grant = Grant {
            client_id: self.client_id,
            redirect_uri: self.redirect_uri.clone(),
            code_challenge: self.code_challenge,
            nonce: self.nonce,
            scope: self.scope,
            session,
            expires_at: 0,
        };
        let Some(code) = provider.codes.issue(grant, provider.now()) else {
            return error_page("The authorization code could not be issued.");
        };
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        // RFC 9207: the issuer in the response, against mix-up attacks.
        pairs.push(("iss", &provider.issuer));
        redirect(&self.redirect_uri, pairs, status, cookie)
    }
}

fn redirect(
    uri: &str,
    pairs: Vec<(&str, &str)>,
    status: StatusCode,
    cookie: Option<axum::http::HeaderValue>,
) -> Response<Body> {
    reply::redirect(status, &reply::with_query(uri, pairs), cookie)
        .unwrap_or_else(|| error_page("The redirect URI cannot be redirected to."))
}

/// `400` page for errors the browser must see rather than be redirected with.
fn error_page(message: &str) -> Response<Body> {
    reply::page_with_status(
        StatusCode::BAD_REQUEST,
        "Sign-in error",
        &format!("<p id=\"error\">{}</p>", html_escape(message)),
    )
}

fn decode(query: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(query).map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}
