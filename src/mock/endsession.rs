//! `GET /endsession`, as Next Identity documents it.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, Response, StatusCode, Uri},
};
use url::form_urlencoded;

use super::{
    LOGOUT_PARAM_VALUE,
    hosted::removal_cookie,
    reply,
    server::{EndSessionCall, Provider},
};

pub(super) async fn end_session(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    let mut ended_hosted_session = false;
    let response = answer(&provider, &params, &headers, &mut ended_hosted_session);
    provider.record(EndSessionCall {
        params,
        status: response.status().as_u16(),
        ended_hosted_session,
    });
    response
}

fn answer(
    provider: &Provider,
    params: &[(String, String)],
    headers: &HeaderMap,
    ended_hosted_session: &mut bool,
) -> Response<Body> {
    let count = |name: &str| params.iter().filter(|(n, _)| n == name).count();
    let first = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if let Some(name) =
        ["client_id", "post_logout_redirect_uri", "state"].into_iter().find(|name| count(name) > 1)
    {
        return reply::invalid_request(&format!("{name} is given more than once"));
    }
    let (client_id, redirect_uri, state) =
        (first("client_id"), first("post_logout_redirect_uri"), first("state"));

    let Some(allowed) = client_id.and_then(|id| provider.clients.get(id)) else {
        return reply::forbidden();
    };
    let Some(redirect_uri) = redirect_uri else {
        return reply::invalid_request("post_logout_redirect_uri is required");
    };
    if !allowed.iter().any(|uri| uri == redirect_uri) {
        return reply::invalid_request(
            "post_logout_redirect_uri is not on this client's allow-list",
        );
    }

    *ended_hosted_session = provider.sessions.end(headers);
    let location = post_logout_location(redirect_uri, state);
    reply::redirect(StatusCode::FOUND, &location, Some(removal_cookie())).unwrap_or_else(|| {
        reply::invalid_request("post_logout_redirect_uri cannot be redirected to")
    })
}

/// `uri` with `logout` and `state` appended to its query, before any fragment.
fn post_logout_location(uri: &str, state: Option<&str>) -> String {
    let (base, fragment) = match uri.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (uri, None),
    };
    let mut added = form_urlencoded::Serializer::new(String::new());
    added.append_pair("logout", LOGOUT_PARAM_VALUE);
    if let Some(state) = state {
        added.append_pair("state", state);
    }
    let separator = match base.split_once('?') {
        None => "?",
        Some((_, "")) => "",
        Some((_, query)) if query.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut location = format!("{base}{separator}{}", added.finish());
    if let Some(fragment) = fragment {
        location.push('#');
        location.push_str(fragment);
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_to_the_uri_and_keeps_its_query() {
        assert_eq!(
            post_logout_location("https://app.example/cb", Some("abc")),
            "https://app.example/cb?logout=success&state=abc"
        );
        assert_eq!(
            post_logout_location("https://app.example/cb?x=1%202", None),
            "https://app.example/cb?x=1%202&logout=success"
        );
        assert_eq!(
            post_logout_location("https://app.example/cb?", Some("a b&c")),
            "https://app.example/cb?logout=success&state=a+b%26c"
        );
        assert_eq!(
            post_logout_location("https://app.example/cb#top", Some("s")),
            "https://app.example/cb?logout=success&state=s#top"
        );
    }
}
