//! `POST /revoke`: OAuth 2.0 Token Revocation (RFC 7009), with `/token`'s
//! client authentication.

use std::sync::Arc;

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{
        HeaderMap, HeaderValue, Response, StatusCode,
        header::{CACHE_CONTROL, RETRY_AFTER},
    },
};
use url::form_urlencoded;

use crate::{
    records::RevocationCall,
    reply,
    state::Provider,
    token::{Refusal, authenticate, form_params, invalid_request, param},
    tokens::RevocationFault,
};

/// The parameters of a revocation request the mock reads; each may be given once.
const PARAMS: [&str; 4] = ["token", "token_type_hint", "client_id", "client_secret"];

pub(super) async fn revoke(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    // What the record shows of a request refused before it was read as a form.
    let first = |name: &str| {
        form_urlencoded::parse(&body).find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
    };
    let mut call = RevocationCall {
        client_id: None,
        token: first("token"),
        token_type_hint: first("token_type_hint"),
        revoked: false,
        status: 0,
    };
    if let Some(fault) = provider.take_revocation_fault() {
        return answer_fault(&provider, fault, call).await;
    }
    let response =
        revocation(&provider, &headers, &body, &mut call).unwrap_or_else(Refusal::into_response);
    call.status = response.status().as_u16();
    provider.record_revocation(call);
    response
}

/// Revokes the token if it is active and the client's (RFC 7009 2.1); `200`
/// whether or not there was anything to revoke (2.2).
fn revocation(
    provider: &Provider,
    headers: &HeaderMap,
    body: &[u8],
    call: &mut RevocationCall,
) -> Result<Response<Body>, Refusal> {
    let params = form_params(headers, body, &PARAMS)?;
    let client = authenticate(
        provider,
        headers,
        param(&params, "client_id"),
        param(&params, "client_secret"),
    )?;
    call.client_id = Some(client.id().to_owned());
    let token = param(&params, "token").ok_or_else(|| invalid_request("token is required"))?;
    // The hint only speeds a search up (2.1): every token type is searched, whatever it says.
    call.revoked = provider.tokens.revoke(token, client.id());
    let mut response = Response::new(Body::empty());
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn answer_fault(
    provider: &Provider,
    fault: RevocationFault,
    mut call: RevocationCall,
) -> Response<Body> {
    let unavailable = |retry_after: Option<u64>| {
        let mut response = reply::oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the revocation service is unavailable (a fault set by the test)",
        );
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    };
    match fault {
        RevocationFault::ServiceUnavailable { retry_after } => {
            let response = unavailable(retry_after);
            call.status = response.status().as_u16();
            provider.record_revocation(call);
            response
        }
        RevocationFault::UnsupportedTokenType => {
            let response = reply::oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_token_type",
                "the server does not revoke this type of token (a fault set by the test)",
            );
            call.status = response.status().as_u16();
            provider.record_revocation(call);
            response
        }
        RevocationFault::Hang => {
            // Recorded on arrival, with the status it gets if it is still waiting at shutdown.
            call.status = StatusCode::SERVICE_UNAVAILABLE.as_u16();
            provider.record_revocation(call);
            let mut stopping = provider.stopping.clone();
            let _ = stopping.wait_for(|stop| *stop).await;
            unavailable(None)
        }
    }
}
