//! Front-Channel Logout (OpenID Connect Front-Channel Logout 1.0, sections 2
//! and 4): the page whose iframes load each client's `frontchannel_logout_uri`.

use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderValue, Response, header::SET_COOKIE},
};

use crate::{
    hosted::HostedSession,
    records::FrontchannelLogout,
    reply::{self, html_escape},
    state::Provider,
};

/// How long the logged-out page waits, with its iframes loading, before its
/// `<meta http-equiv="refresh">` continues to the post-logout redirect URI.
pub const FRONTCHANNEL_CONTINUE_AFTER: Duration = Duration::from_secs(2);

/// The front-channel logouts of `ended`: one per client of a session that has
/// a `frontchannel_logout_uri`, sorted by `sid`, then client.
pub(super) fn logouts(provider: &Provider, ended: &[HostedSession]) -> Vec<FrontchannelLogout> {
    let mut logouts: Vec<FrontchannelLogout> = ended
        .iter()
        .flat_map(|session| {
            session.clients.iter().filter_map(|client_id| {
                let uri = provider.clients.get(client_id)?.registered_frontchannel_logout_uri()?;
                Some(FrontchannelLogout {
                    client_id: client_id.clone(),
                    sid: session.sid.clone(),
                    // Section 2: iss and sid always (the mock announces session support).
                    uri: reply::with_query(
                        uri,
                        [("iss", provider.issuer.as_str()), ("sid", session.sid.as_str())],
                    ),
                })
            })
        })
        .collect();
    logouts.sort_by(|a, b| (&a.sid, &a.client_id).cmp(&(&b.sid, &b.client_id)));
    logouts
}

/// One hidden iframe per logout, each `src` escaped for the attribute.
fn iframes(logouts: &[FrontchannelLogout]) -> String {
    logouts
        .iter()
        .map(|logout| {
            format!(
                "<iframe class=\"frontchannel-logout\" src=\"{}\" title=\"Signing out of {}\" \
                 width=\"0\" height=\"0\" style=\"border:0\"></iframe>\n",
                html_escape(&logout.uri),
                html_escape(&logout.client_id),
            )
        })
        .collect()
}

/// The list of apps signed out, for the page's text.
fn app_list(logouts: &[FrontchannelLogout]) -> String {
    let items: String = logouts
        .iter()
        .map(|logout| format!("<li>{}</li>", html_escape(&logout.client_id)))
        .collect();
    format!("<ul id=\"signed-out-apps\">{items}</ul>\n")
}

/// The logged-out page of `/endsession`: the iframes, then on to `location`
/// (the post-logout redirect URI with `logout` and `state`) by a
/// `<meta http-equiv="refresh">` after [`FRONTCHANNEL_CONTINUE_AFTER`] and by
/// a link, without script. `200`, removing the hosted-session cookie.
pub(super) fn logged_out_page(
    logouts: &[FrontchannelLogout],
    location: &str,
    cookie: HeaderValue,
) -> Response<Body> {
    let location = html_escape(location);
    let body = format!(
        "<meta http-equiv=\"refresh\" content=\"{delay}; url={location}\">\n\
         <p id=\"hosted-session\">You are signed out at the provider. Signing you out of:</p>\n\
         {apps}{iframes}\
         <p><a id=\"continue\" href=\"{location}\">Continue</a></p>",
        delay = FRONTCHANNEL_CONTINUE_AFTER.as_secs(),
        apps = app_list(logouts),
        iframes = iframes(logouts),
    );
    with_cookie(reply::page("Signed out", &body), cookie)
}

/// The page of the "sign out everywhere" button: what was ended, the iframes,
/// and a link back to the hosted-session page.
pub(super) fn signed_out_everywhere_page(
    ended: bool,
    logouts: &[FrontchannelLogout],
    cookie: HeaderValue,
) -> Response<Body> {
    let status = if ended {
        "<p id=\"hosted-session\">Hosted session: <strong>ended</strong>. Every app that had it was told.</p>"
    } else {
        "<p id=\"hosted-session\">Hosted session: <strong>none</strong>. Nobody was signed in here.</p>"
    };
    let apps = if logouts.is_empty() { String::new() } else { app_list(logouts) };
    let body = format!(
        "{status}\n{apps}{iframes}<p><a id=\"continue\" href=\"/authorize\">Back</a></p>",
        iframes = iframes(logouts),
    );
    with_cookie(reply::page("Signed out everywhere", &body), cookie)
}

fn with_cookie(mut response: Response<Body>, cookie: HeaderValue) -> Response<Body> {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iframe_sources_are_escaped() {
        let logouts = [FrontchannelLogout {
            client_id: "a<b".into(),
            sid: "s".into(),
            uri: "https://rp.example/fc?x=\"1\"&iss=i".into(),
        }];
        let html = iframes(&logouts);
        assert!(html.contains("src=\"https://rp.example/fc?x=&quot;1&quot;&amp;iss=i\""), "{html}");
        assert!(html.contains("title=\"Signing out of a&lt;b\""), "{html}");
    }
}
