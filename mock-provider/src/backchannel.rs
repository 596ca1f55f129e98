//! The Back-Channel Logout sender (OpenID Connect Back-Channel Logout 1.0,
//! section 2.5): a Logout Token POSTed to every client that had an ended session.

use std::{sync::Arc, time::Duration};

use axum::http::{
    Request,
    header::{CONTENT_TYPE, HOST, USER_AGENT},
};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, task::JoinSet};
use url::{Url, form_urlencoded};

use crate::{
    hosted::HostedSession, logout_token::LogoutTokenClaims, records::BackchannelDelivery,
    state::Provider,
};

/// How long one Back-Channel Logout delivery may take unless
/// [`MockProviderBuilder::backchannel_timeout`](crate::MockProviderBuilder::backchannel_timeout) says otherwise.
pub const DEFAULT_BACKCHANNEL_TIMEOUT: Duration = Duration::from_secs(5);

/// POSTs a Logout Token for each of `ended` to each of its clients that has a
/// `backchannel_logout_uri`, all at once, each bounded by the provider's
/// timeout; records and returns the deliveries (sorted by `sid`, then client).
pub(super) async fn notify(
    provider: &Arc<Provider>,
    ended: &[HostedSession],
) -> Vec<BackchannelDelivery> {
    let now = provider.now();
    let timeout = provider.backchannel_timeout;
    let mut sending = JoinSet::new();
    for session in ended {
        for client_id in &session.clients {
            let Some(uri) = provider
                .clients
                .get(client_id)
                .and_then(|client| client.registered_backchannel_logout_uri())
            else {
                continue;
            };
            let claims = LogoutTokenClaims::new(
                &provider.issuer,
                client_id,
                &session.sid,
                &session.user,
                now,
            );
            let delivery = BackchannelDelivery {
                client_id: client_id.clone(),
                uri: uri.to_owned(),
                sid: session.sid.clone(),
                sub: session.user.clone(),
                logout_token: claims.sign(&provider.keys.current()),
                status: None,
                error: None,
            };
            sending.spawn(deliver(delivery, timeout));
        }
    }
    let mut deliveries = Vec::with_capacity(sending.len());
    while let Some(done) = sending.join_next().await {
        // A task cannot panic on a peer's answer; if one did, its record is lost, not the server.
        if let Ok(delivery) = done {
            deliveries.push(delivery);
        }
    }
    deliveries.sort_by(|a, b| (&a.sid, &a.client_id).cmp(&(&b.sid, &b.client_id)));
    provider.record_deliveries(&deliveries);
    deliveries
}

async fn deliver(mut delivery: BackchannelDelivery, timeout: Duration) -> BackchannelDelivery {
    let outcome = tokio::time::timeout(timeout, post(&delivery.uri, &delivery.logout_token))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())));
    match outcome {
        Ok(status) => delivery.status = Some(status),
        Err(error) => delivery.error = Some(error),
    }
    delivery
}

/// `POST uri` with `logout_token=<token>` (section 2.5) over plain HTTP/1.1;
/// the status of the answer (its body is not read).
async fn post(uri: &str, token: &str) -> Result<u16, String> {
    let url = Url::parse(uri).map_err(|error| format!("not a URL: {error}"))?;
    if url.scheme() != "http" {
        return Err(format!("the mock sends over plain http only, not {}", url.scheme()));
    }
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Err("the URL has no host".to_owned());
    };
    let stream = TcpStream::connect(format!("{host}:{port}"))
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP: {error}"))?;
    // The connection is driven beside the request and stops with it (also on timeout).
    let _connection = AbortOnDrop(tokio::spawn(connection));

    let body: String =
        form_urlencoded::Serializer::new(String::new()).append_pair("logout_token", token).finish();
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
    let request = Request::post(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(USER_AGENT, "tower-oidc-logout mock provider")
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| format!("request: {error}"))?;
    let response = sender.send_request(request).await.map_err(|error| format!("HTTP: {error}"))?;
    Ok(response.status().as_u16())
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
