//! `POST /token`: exchanges an authorization code for an ID token (RFC 6749
//! 4.1.3 and 5, RFC 7636 4.6, OpenID Connect Core 3.1.3), and a refresh
//! token for new tokens (RFC 6749 6, OpenID Connect Core 12). The form and
//! client authentication `/revoke` shares.

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{
        HeaderMap, Response, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::json;
use url::form_urlencoded;

use crate::{
    client::MockClient,
    pkce::{self, constant_time_eq, is_pkce_value},
    reply,
    state::Provider,
    tokens::{RefreshGrant, RefreshRefusal},
};

/// How long an ID token is valid (`exp - iat`).
pub const ID_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The `expires_in` of the access tokens (opaque: nothing at the mock
/// accepts them, but they can be revoked and
/// [`MockProvider::token_is_active`](crate::MockProvider::token_is_active) says until when they are active).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The parameters of a token request the mock reads; each may be given once.
const PARAMS: [&str; 8] = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
];

pub(super) async fn token(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    exchange(&provider, &headers, &body).unwrap_or_else(Refusal::into_response)
}

/// Why a token request is refused (RFC 6749 5.2).
#[derive(Debug)]
pub(super) enum Refusal {
    InvalidRequest(String),
    InvalidGrant(&'static str),
    InvalidClient(&'static str),
    InvalidScope,
    UnsupportedGrantType,
}

impl Refusal {
    pub(super) fn into_response(self) -> Response<Body> {
        let bad_request = |error, description: &str| {
            reply::oauth_error(StatusCode::BAD_REQUEST, error, description)
        };
        match self {
            Self::InvalidRequest(description) => bad_request("invalid_request", &description),
            Self::InvalidGrant(description) => bad_request("invalid_grant", description),
            Self::InvalidClient(description) => reply::invalid_client(description),
            Self::InvalidScope => bad_request(
                "invalid_scope",
                "scope asks for more than the refresh token was granted",
            ),
            Self::UnsupportedGrantType => bad_request(
                "unsupported_grant_type",
                "only grant_type=authorization_code or refresh_token",
            ),
        }
    }
}

pub(super) fn invalid_request(description: &str) -> Refusal {
    Refusal::InvalidRequest(description.to_owned())
}

fn invalid_grant(description: &'static str) -> Refusal {
    Refusal::InvalidGrant(description)
}

/// The parameters of a form body, once each: `names` may be given once
/// (`invalid_request` otherwise), and the body must be
/// `application/x-www-form-urlencoded`.
pub(super) fn form_params(
    headers: &HeaderMap,
    body: &[u8],
    names: &[&str],
) -> Result<Vec<(String, String)>, Refusal> {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let params: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    if let Some(name) =
        names.iter().find(|name| params.iter().filter(|(n, _)| n == *name).count() > 1)
    {
        return Err(invalid_request(&format!("{name} is given more than once")));
    }
    Ok(params)
}

/// The value of the parameter `name`, if given.
pub(super) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn exchange(
    provider: &Provider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response<Body>, Refusal> {
    let params = form_params(headers, body, &PARAMS)?;
    let first = |name: &str| param(&params, name);
    let refresh = match first("grant_type") {
        None => return Err(invalid_request("grant_type is required")),
        Some("authorization_code") => false,
        Some("refresh_token") => true,
        Some(_) => return Err(Refusal::UnsupportedGrantType),
    };
    let client = authenticate(provider, headers, first("client_id"), first("client_secret"))?;
    if refresh {
        return refresh_grant(provider, client, &params);
    }
    let code = first("code").ok_or_else(|| invalid_request("code is required"))?;
    let redirect_uri =
        first("redirect_uri").ok_or_else(|| invalid_request("redirect_uri is required"))?;

    let grant = provider
        .codes
        .take(code)
        .ok_or_else(|| invalid_grant("the code is unknown or was already used"))?;
    let now = provider.now();
    if now > grant.expires_at {
        return Err(invalid_grant("the code has expired"));
    }
    if grant.client_id != client.id() {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(invalid_grant("redirect_uri differs from the authorization request's"));
    }
    match (&grant.code_challenge, first("code_verifier")) {
        (Some(challenge), Some(verifier))
            if is_pkce_value(verifier) && pkce::s256_matches(verifier, challenge) => {}
        (Some(_), _) => return Err(invalid_grant("code_verifier does not match code_challenge")),
        // A verifier for a code issued without PKCE is refused (RFC 9700 2.1.1, downgrade).
        (None, Some(_)) => {
            return Err(invalid_grant("the authorization request had no code_challenge"));
        }
        (None, None) if !client.is_confidential() => {
            return Err(invalid_grant("a public client must use PKCE"));
        }
        (None, None) => {}
    }
    let session = provider
        .sessions
        .add_client(&grant.session, client.id())
        .ok_or_else(|| invalid_grant("the hosted session has ended"))?;

    let no_randomness = || invalid_request("the token could not be issued");
    let refresh_token = if provider.refresh_tokens.issued_for(&grant.scope) {
        let refresh_grant = RefreshGrant {
            client_id: client.id().to_owned(),
            scope: grant.scope.clone(),
            sub: session.user.clone(),
            sid: session.sid.clone(),
            auth_time: session.auth_time,
        };
        Some(provider.tokens.issue_refresh(refresh_grant).ok_or_else(no_randomness)?)
    } else {
        None
    };
    let access_token = provider
        .tokens
        .issue_access(client.id(), access_expiry(now), refresh_token.as_deref(), now)
        .ok_or_else(no_randomness)?;
    let id_token = IdToken {
        sub: &session.user,
        aud: client.id(),
        auth_time: session.auth_time,
        sid: &session.sid,
        nonce: grant.nonce.as_deref(),
    };
    Ok(token_response(provider, &access_token, refresh_token.as_deref(), &id_token, now))
}

/// `grant_type=refresh_token` (RFC 6749 6, OpenID Connect Core 12): new
/// access and ID tokens; the same refresh token (no rotation).
fn refresh_grant(
    provider: &Provider,
    client: &MockClient,
    params: &[(String, String)],
) -> Result<Response<Body>, Refusal> {
    let refresh_token = param(params, "refresh_token")
        .ok_or_else(|| invalid_request("refresh_token is required"))?;
    let now = provider.now();
    let (grant, access_token) = provider
        .tokens
        .refresh(refresh_token, client.id(), access_expiry(now), param(params, "scope"))
        .map_err(|refusal| match refusal {
            RefreshRefusal::InvalidGrant => {
                invalid_grant("the refresh token is unknown, revoked or issued to another client")
            }
            RefreshRefusal::InvalidScope => Refusal::InvalidScope,
        })?;
    let access_token =
        access_token.ok_or_else(|| invalid_request("the token could not be issued"))?;
    let id_token = IdToken {
        sub: &grant.sub,
        aud: client.id(),
        auth_time: grant.auth_time,
        sid: &grant.sid,
        nonce: None,
    };
    Ok(token_response(provider, &access_token, Some(refresh_token), &id_token, now))
}

fn access_expiry(now: u64) -> u64 {
    now.saturating_add(ACCESS_TOKEN_LIFETIME.as_secs())
}

/// The claims of an ID token that vary.
struct IdToken<'a> {
    sub: &'a str,
    aud: &'a str,
    auth_time: u64,
    sid: &'a str,
    nonce: Option<&'a str>,
}

/// The successful token response (RFC 6749 5.1), with an ID token issued at `now`.
fn token_response(
    provider: &Provider,
    access_token: &str,
    refresh_token: Option<&str>,
    id_token: &IdToken<'_>,
    now: u64,
) -> Response<Body> {
    let mut claims = json!({
        "iss": provider.issuer,
        "sub": id_token.sub,
        "aud": id_token.aud,
        "iat": now,
        "exp": now.saturating_add(ID_TOKEN_LIFETIME.as_secs()),
        "auth_time": id_token.auth_time,
        "sid": id_token.sid,
    });
    if let Some(nonce) = id_token.nonce {
        claims["nonce"] = nonce.into();
    }
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME.as_secs(),
        "id_token": provider.keys.sign(&claims),
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = refresh_token.into();
    }
    reply::json(StatusCode::OK, &body)
}

/// The client of a token request (RFC 6749 2.3.1): a confidential client by
/// its secret, in the `Authorization: Basic` header or the body (not both);
/// a public client by its `client_id` alone.
pub(super) fn authenticate<'p>(
    provider: &'p Provider,
    headers: &HeaderMap,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<&'p MockClient, Refusal> {
    let mut basic = headers.get_all(AUTHORIZATION).iter();
    let basic = match (basic.next(), basic.next()) {
        (None, _) => None,
        (Some(value), None) => Some(basic_credentials(value.as_bytes()).ok_or({
            Refusal::InvalidClient("the Authorization header is not valid Basic credentials")
        })?),
        (Some(_), Some(_)) => return Err(invalid_request("Authorization is given more than once")),
    };
    let (id, secret) = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(invalid_request("one client authentication method at a time"));
        }
        (Some((id, _)), Some(body_id), None) if id != body_id => {
            return Err(invalid_request("client_id differs from the Authorization header's"));
        }
        (Some((id, secret)), _, None) => (id, Some(secret)),
        (None, Some(id), secret) => (id.to_owned(), secret.map(str::to_owned)),
        (None, None, _) => return Err(Refusal::InvalidClient("client authentication is required")),
    };
    let client = provider.clients.get(&id).ok_or(Refusal::InvalidClient("unknown client"))?;
    match (client.secret_value(), secret) {
        (Some(expected), Some(given)) if constant_time_eq(expected, &given) => Ok(client),
        (Some(_), _) => Err(Refusal::InvalidClient("client authentication failed")),
        (None, None) => Ok(client),
        (None, Some(_)) => Err(Refusal::InvalidClient("a public client has no secret")),
    }
}

/// `client_id` and `client_secret` from `Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    // The scheme is case-insensitive (RFC 9110 11.1).
    let at = value.iter().position(|&b| b == b' ')?;
    let (scheme, encoded) = value.split_at(at);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim_ascii()).ok()?;
    let decoded = std::str::from_utf8(&decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| -> Option<String> {
        let pair = format!("x={part}");
        let mut once = form_urlencoded::parse(pair.as_bytes());
        once.next().map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:p%3Ass+word"));
        assert_eq!(
            basic_credentials(header.as_bytes()),
            Some(("my app".to_owned(), "p:ss word".to_owned()))
        );
        let lower = format!("bASIC {}", STANDARD.encode("a:b"));
        assert_eq!(basic_credentials(lower.as_bytes()), Some(("a".to_owned(), "b".to_owned())));
        assert_eq!(basic_credentials(b"Basic !!!"), None);
        assert_eq!(basic_credentials(b"Basic"), None);
        assert_eq!(basic_credentials(b"Bearer abc"), None);
        let no_colon = format!("Basic {}", STANDARD.encode("nocolon"));
        assert_eq!(basic_credentials(no_colon.as_bytes()), None);
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, b':', b'x']));
        assert_eq!(basic_credentials(not_utf8.as_bytes()), None);
    }
}
