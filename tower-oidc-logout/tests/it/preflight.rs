//! The start-up preflight (`discovery::Preflight`): against the mock provider,
//! each way a provider refuses this app's sign-out and the all-good case;
//! against hand-written servers, the answers it cannot read (a 500, a
//! redirect elsewhere, a hang, a huge body, an unusable key set) and what
//! it sends (no cookie, no token, no state, no redirect followed).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    http::{HeaderMap, StatusCode, Uri, header},
    routing::get,
};
use tower_oidc_logout::{
    OidcLogoutLayer, StateKey,
    discovery::{CheckId, Discovery, Outcome, Preflight, PreflightReport, ProviderMetadata},
};
use tower_oidc_logout_mock::{LogoutCapability, MockProvider, MockProviderBuilder};

use crate::servers::{hanging_server, serve};

const CLIENT: &str = "preflight-client";
const RETURN: &str = "http://127.0.0.1:9/signed-out";

/// Timeouts short enough that no test waits long.
fn quick() -> Discovery {
    Discovery::new().connect_timeout(Duration::from_millis(300)).timeout(Duration::from_millis(400))
}

async fn mock(builder: MockProviderBuilder) -> (MockProvider, ProviderMetadata) {
    let provider = builder.client(CLIENT, [RETURN]).serve("127.0.0.1:0").await.unwrap();
    let metadata = quick_discover(provider.issuer()).await;
    (provider, metadata)
}

async fn quick_discover(issuer: &str) -> ProviderMetadata {
    Discovery::new().timeout(Duration::from_secs(2)).discover(issuer).await.unwrap()
}

/// Every check, back- and front-channel on, against the mock with `client_id` and `uri`.
async fn run_against(
    provider: &MockProvider,
    metadata: &ProviderMetadata,
    client_id: &str,
    uri: &str,
) -> PreflightReport {
    Preflight::new(provider.end_session_url(), client_id, uri)
        .metadata(metadata)
        .backchannel(true)
        .frontchannel(true)
        .fetcher(quick())
        .run()
        .await
}

fn outcome(report: &PreflightReport, id: CheckId) -> &Outcome {
    &report.get(id).unwrap_or_else(|| panic!("{id:?} not run:\n{report}")).outcome
}

fn assert_passed(report: &PreflightReport, id: CheckId) {
    assert!(matches!(outcome(report, id), Outcome::Passed { .. }), "{id:?}:\n{report}");
}

fn failed(report: &PreflightReport, id: CheckId) -> (String, String) {
    match outcome(report, id) {
        Outcome::Failed { answer, fix } => (answer.clone(), fix.clone()),
        other => panic!("{id:?} did not fail: {other:?}\n{report}"),
    }
}

fn unknown(report: &PreflightReport, id: CheckId) -> String {
    match outcome(report, id) {
        Outcome::Unknown { reason } => reason.clone(),
        other => panic!("{id:?} is not unknown: {other:?}\n{report}"),
    }
}

#[tokio::test]
async fn everything_the_mock_advertises_passes() {
    let (provider, metadata) = mock(MockProvider::builder()).await;
    let report = run_against(&provider, &metadata, CLIENT, RETURN).await;
    assert!(report.is_ok(), "{report}");
    assert!(!report.has_failures());
    let ids: Vec<_> = report.checks().iter().map(|check| check.id).collect();
    assert_eq!(
        ids,
        [
            CheckId::ClientId,
            CheckId::PostLogoutRedirectUri,
            CheckId::Issuer,
            CheckId::EndSessionEndpoint,
            CheckId::BackchannelLogoutSupported,
            CheckId::BackchannelLogoutSessionSupported,
            CheckId::Jwks,
            CheckId::FrontchannelLogoutSupported,
            CheckId::FrontchannelLogoutSessionSupported,
        ]
    );
    let text = report.to_string();
    assert_eq!(text.lines().count(), 9, "{text}");
    assert!(text.lines().all(|line| line.starts_with("[ok]")), "{text}");
    assert!(text.contains("1 usable key(s)"), "{text}");

    // One call reached /endsession: the client and the URI only, and it ended nothing.
    let calls = provider.end_session_calls();
    assert_eq!(calls.len(), 1);
    let names: Vec<_> = calls[0].params.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["client_id", "post_logout_redirect_uri"]);
    assert_eq!(calls[0].status, 302);
    assert!(!calls[0].ended_hosted_session);
}

#[tokio::test]
async fn an_unknown_client_is_named_with_the_providers_403() {
    let (provider, metadata) = mock(MockProvider::builder()).await;
    let report = run_against(&provider, &metadata, "not-registered", RETURN).await;
    assert!(!report.is_ok() && report.has_failures());
    let (answer, fix) = failed(&report, CheckId::ClientId);
    assert!(answer.starts_with("403 Forbidden"), "{answer}");
    assert!(answer.contains("http_exception: Forbidden"), "{answer}");
    assert!(fix.contains("client_id `not-registered`"), "{fix}");
    unknown(&report, CheckId::PostLogoutRedirectUri);
    let text = report.to_string();
    assert!(text.contains("[FAIL] end session: client_id known"), "{text}");
    // The provider's other checks still run.
    assert_passed(&report, CheckId::Jwks);
}

#[tokio::test]
async fn an_unlisted_post_logout_redirect_uri_is_named_with_the_providers_text() {
    let (provider, metadata) = mock(MockProvider::builder()).await;
    let elsewhere = "http://127.0.0.1:9/other";
    let report = run_against(&provider, &metadata, CLIENT, elsewhere).await;
    assert_passed(&report, CheckId::ClientId);
    let (answer, fix) = failed(&report, CheckId::PostLogoutRedirectUri);
    assert!(answer.starts_with("400 Bad Request"), "{answer}");
    assert!(answer.contains("not on this client's allow-list"), "{answer}");
    assert!(fix.contains(elsewhere) && fix.contains("allow-list"), "{fix}");
    // A URI on the list but for another path, or with a trailing slash, is refused too.
    let report = run_against(&provider, &metadata, CLIENT, &format!("{RETURN}/")).await;
    failed(&report, CheckId::PostLogoutRedirectUri);
}

#[tokio::test]
async fn logout_capabilities_not_advertised_fail_each_their_check() {
    let builder = MockProvider::builder()
        .advertise(LogoutCapability::Backchannel, false)
        .advertise(LogoutCapability::BackchannelSession, false)
        .advertise(LogoutCapability::Frontchannel, false)
        .advertise(LogoutCapability::FrontchannelSession, false);
    let (provider, metadata) = mock(builder).await;
    let report = run_against(&provider, &metadata, CLIENT, RETURN).await;
    assert_passed(&report, CheckId::ClientId);
    assert_passed(&report, CheckId::PostLogoutRedirectUri);
    for id in [
        CheckId::BackchannelLogoutSupported,
        CheckId::BackchannelLogoutSessionSupported,
        CheckId::FrontchannelLogoutSupported,
        CheckId::FrontchannelLogoutSessionSupported,
    ] {
        failed(&report, id);
    }
    let (_, fix) = failed(&report, CheckId::BackchannelLogoutSessionSupported);
    assert!(fix.contains("ends all of the user's sessions"), "{fix}");

    // Only the missing `sid`: the rest passes.
    let builder = MockProvider::builder().advertise(LogoutCapability::BackchannelSession, false);
    let (provider, metadata) = mock(builder).await;
    let report = run_against(&provider, &metadata, CLIENT, RETURN).await;
    let failures: Vec<_> =
        report.checks().iter().filter(|check| !check.is_passed()).map(|check| check.id).collect();
    assert_eq!(failures, [CheckId::BackchannelLogoutSessionSupported], "{report}");

    // Routes that are off are not checked.
    let report = Preflight::new(provider.end_session_url(), CLIENT, RETURN)
        .metadata(&metadata)
        .fetcher(quick())
        .run()
        .await;
    assert!(report.is_ok(), "{report}");
    assert!(report.get(CheckId::BackchannelLogoutSessionSupported).is_none());
}

#[tokio::test]
async fn a_key_set_with_no_usable_key_fails() {
    let oct = r#"{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}"#;
    let (provider, metadata) = mock(MockProvider::builder().jwks_document(oct)).await;
    let report = run_against(&provider, &metadata, CLIENT, RETURN).await;
    let (answer, fix) = failed(&report, CheckId::Jwks);
    assert!(answer.contains("no key usable") && answer.contains("1 skipped"), "{answer}");
    assert!(fix.contains("signing key"), "{fix}");
}

#[tokio::test]
async fn the_layer_hands_its_own_configuration_to_the_preflight() {
    let (_provider, metadata) = mock(MockProvider::builder()).await;
    let layer = OidcLogoutLayer::builder()
        .provider(&metadata)
        .client_id(CLIENT)
        .post_logout_redirect_uri(RETURN)
        .state_key(StateKey::generate().unwrap())
        .build()
        .unwrap();
    let report = layer.preflight().fetcher(quick()).run().await;
    assert!(report.is_ok(), "{report}");
    assert_passed(&report, CheckId::EndSessionEndpoint);
    assert!(report.get(CheckId::Jwks).is_none(), "no back-channel route");

    let layer = OidcLogoutLayer::builder()
        .provider(&metadata)
        .client_id("someone-else")
        .post_logout_redirect_uri(RETURN)
        .state_key(StateKey::generate().unwrap())
        .build()
        .unwrap();
    let report = layer.preflight().fetcher(quick()).run().await;
    failed(&report, CheckId::ClientId);
}

// ---- Hand-written providers ----

/// What one request to a recording server looked like.
#[derive(Debug, Clone, Default)]
struct Seen {
    uri: String,
    headers: Vec<(String, String)>,
}

fn end_session_only(endpoint: &str) -> Preflight {
    Preflight::new(endpoint, CLIENT, RETURN).fetcher(quick())
}

#[tokio::test]
async fn a_server_error_is_unknown_not_failed() {
    let base = serve(|_| {
        Router::new().route(
            "/endsession",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream\n\u{1b}[1mdown") }),
        )
    })
    .await;
    let report = end_session_only(&format!("{base}/endsession")).run().await;
    assert!(!report.is_ok() && !report.has_failures(), "{report}");
    let reason = unknown(&report, CheckId::ClientId);
    assert!(reason.contains("500") && reason.contains("upstream [1mdown"), "{reason}");
    unknown(&report, CheckId::PostLogoutRedirectUri);
}

#[tokio::test]
async fn a_redirect_elsewhere_is_unknown_and_not_followed() {
    let elsewhere_hits = Arc::new(Mutex::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = serve(move |_| {
        Router::new().fallback(move || {
            *hits.lock().unwrap() += 1;
            async { "followed" }
        })
    })
    .await;
    let target = format!("{elsewhere}/error?code=unknown_client");
    let base = serve(move |_| {
        Router::new().route(
            "/endsession",
            get(move || async move { (StatusCode::FOUND, [(header::LOCATION, target)]) }),
        )
    })
    .await;
    let report = end_session_only(&format!("{base}/endsession")).run().await;
    let reason = unknown(&report, CheckId::PostLogoutRedirectUri);
    assert!(reason.contains(&format!("{elsewhere}/error?code=unknown_client")), "{reason}");
    unknown(&report, CheckId::ClientId);
    assert_eq!(*elsewhere_hits.lock().unwrap(), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_redirect_back_with_parameters_added_or_a_page_passes() {
    let base = serve(|_| {
        Router::new()
            .route(
                "/endsession",
                get(|| async {
                    (
                        StatusCode::SEE_OTHER,
                        [(header::LOCATION, format!("{RETURN}?logout=success"))],
                    )
                }),
            )
            .route("/page", get(|| async { "You are signed out." }))
    })
    .await;
    let report = end_session_only(&format!("{base}/endsession")).run().await;
    assert!(report.is_ok(), "{report}");
    let report = end_session_only(&format!("{base}/page")).run().await;
    assert!(report.is_ok(), "{report}");
}

#[tokio::test]
async fn a_provider_that_never_answers_is_unknown_within_the_bound() {
    let base = hanging_server(Vec::new()).await;
    let preflight = end_session_only(&format!("{base}/endsession"));
    assert_eq!(preflight.bound(), Duration::from_millis(400));
    let started = Instant::now();
    let report = preflight.run().await;
    let took = started.elapsed();
    assert!(took < preflight.bound() + Duration::from_millis(300), "took {took:?}");
    let reason = unknown(&report, CheckId::ClientId);
    assert!(reason.contains("no answer within 400ms"), "{reason}");
}

#[tokio::test]
async fn a_huge_body_is_unknown_and_not_read_past_the_cap() {
    // Announced: refused from Content-Length.
    let mut announced = b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n".to_vec();
    announced.extend(std::iter::repeat_n(b'x', 70_000));
    // Streamed: refused when it grows past the cap.
    let mut streamed = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        streamed.extend(b"1000\r\n");
        streamed.extend(std::iter::repeat_n(b'y', 0x1000));
        streamed.extend(b"\r\n");
    }
    for reply in [announced, streamed] {
        let base = hanging_server(reply).await;
        let fetcher = quick().max_document_len(16 * 1024);
        let started = Instant::now();
        let report = Preflight::new(format!("{base}/endsession"), CLIENT, RETURN)
            .fetcher(fetcher)
            .run()
            .await;
        assert!(started.elapsed() < Duration::from_millis(700));
        let reason = unknown(&report, CheckId::ClientId);
        assert!(reason.contains("larger than 16384 bytes"), "{reason}");
    }
}

/// A hand-written provider: discovery metadata naming its own `/jwks`, which serves `jwks`.
async fn provider_with_jwks(jwks: &'static str) -> (String, ProviderMetadata) {
    let base = serve(|base| {
        let base = base.to_owned();
        Router::new()
            .route(
                "/endsession",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, RETURN)]) }),
            )
            .route("/jwks", get(move || async move { jwks }))
            .route(
                "/.well-known/openid-configuration",
                get(move || async move {
                    format!(
                        r#"{{"issuer":"{base}","jwks_uri":"{base}/jwks",
                            "end_session_endpoint":"{base}/endsession",
                            "backchannel_logout_supported":true,
                            "backchannel_logout_session_supported":true}}"#
                    )
                }),
            )
    })
    .await;
    let metadata = quick_discover(&base).await;
    (base, metadata)
}

#[tokio::test]
async fn a_key_set_with_only_unsupported_algorithms_fails() {
    let jwks = r#"{"keys":[
        {"kty":"oct","kid":"hmac","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"},
        {"kty":"EC","kid":"enc","use":"enc","crv":"P-256",
         "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    let (base, metadata) = provider_with_jwks(jwks).await;
    let report = Preflight::new(format!("{base}/endsession"), CLIENT, RETURN)
        .metadata(&metadata)
        .backchannel(true)
        .fetcher(quick())
        .run()
        .await;
    assert_passed(&report, CheckId::PostLogoutRedirectUri);
    assert_passed(&report, CheckId::BackchannelLogoutSupported);
    let (answer, _) = failed(&report, CheckId::Jwks);
    assert!(answer.contains("2 skipped"), "{answer}");
    assert_eq!(report.checks().iter().filter(|check| !check.is_passed()).count(), 1, "{report}");
}

#[tokio::test]
async fn a_key_set_that_hangs_is_unknown_and_the_run_stays_within_its_bound() {
    let hang = hanging_server(Vec::new()).await;
    let (base, _) = provider_with_jwks("{}").await;
    let document = format!(
        r#"{{"issuer":"{base}","jwks_uri":"{hang}/jwks","end_session_endpoint":"{base}/endsession",
            "backchannel_logout_supported":true,"backchannel_logout_session_supported":true}}"#
    );
    let metadata = ProviderMetadata::from_json(&base, document.as_bytes()).unwrap();
    let preflight = Preflight::new(format!("{base}/endsession"), CLIENT, RETURN)
        .metadata(&metadata)
        .backchannel(true)
        .fetcher(quick());
    assert_eq!(preflight.bound(), Duration::from_millis(800), "two requests");
    let started = Instant::now();
    let report = preflight.run().await;
    assert!(started.elapsed() < preflight.bound() + Duration::from_millis(300));
    assert_passed(&report, CheckId::ClientId);
    assert!(unknown(&report, CheckId::Jwks).contains("no answer within"), "{report}");
}

#[tokio::test]
async fn the_request_carries_no_cookie_no_token_and_no_state() {
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let record = seen.clone();
    let base = serve(move |_| {
        Router::new().route(
            "/endsession",
            get(move |uri: Uri, headers: HeaderMap| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(Seen {
                        uri: uri.to_string(),
                        headers: headers
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect(),
                    });
                    // A redirect to itself: followed, it would be a second request.
                    (StatusCode::FOUND, [(header::LOCATION, "/endsession?again=1")])
                }
            }),
        )
    })
    .await;
    let report = end_session_only(&format!("{base}/endsession?tenant=a")).run().await;
    unknown(&report, CheckId::ClientId);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one request, no redirect followed: {seen:?}");
    let request = &seen[0];
    let query = request.uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        params,
        [
            ("tenant".to_owned(), "a".to_owned()),
            ("client_id".to_owned(), CLIENT.to_owned()),
            ("post_logout_redirect_uri".to_owned(), RETURN.to_owned()),
        ]
    );
    for (name, value) in &request.headers {
        assert!(!["cookie", "authorization"].contains(&name.as_str()), "{name}: {value} was sent");
        assert!(!value.contains("id_token_hint") && !value.contains("state="), "{name}: {value}");
    }
}

#[test]
fn the_report_reads_as_a_checklist() {
    // Display without a network: a report built from the public types is not possible
    // (Check is non-exhaustive), so this checks the shape of a real one instead.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = runtime.block_on(async {
        let base = serve(|_| {
            Router::new().route(
                "/endsession",
                get(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        r#"{"error":"invalid_request","error_details":{"message":"not allowed"}}"#,
                    )
                }),
            )
        })
        .await;
        end_session_only(&format!("{base}/endsession")).run().await
    });
    let text = report.to_string();
    let lines: Vec<_> = text.lines().collect();
    assert!(lines[0].starts_with("[ok]   end session: client_id known: "), "{text}");
    assert_eq!(lines[1], "[FAIL] end session: post_logout_redirect_uri allowed");
    assert_eq!(lines[2], "       provider answered: 400 Bad Request: invalid_request: not allowed");
    assert!(lines[3].starts_with("       to do: add `http://127.0.0.1:9/signed-out` exactly"));
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn revocation_needs_a_published_revocation_endpoint() {
    let check = |report: &PreflightReport| report.get(CheckId::RevocationEndpoint).cloned();
    let (provider, metadata) = mock(MockProvider::builder()).await;
    let preflight = Preflight::new(provider.end_session_url(), CLIENT, RETURN).fetcher(quick());
    assert_eq!(check(&preflight.clone().run().await), None, "not asked for, not checked");
    let report = preflight.clone().metadata(&metadata).revocation(true).run().await;
    assert_passed(&report, CheckId::RevocationEndpoint);
    assert!(report.to_string().contains(&provider.revoke_url()), "{report}");
    let without_metadata = preflight.clone().revocation(true).run().await;
    assert!(
        unknown(&without_metadata, CheckId::RevocationEndpoint).contains("no discovery metadata")
    );

    let (provider, metadata) = mock(MockProvider::builder().advertise_revocation(false)).await;
    let report = Preflight::new(provider.end_session_url(), CLIENT, RETURN)
        .metadata(&metadata)
        .revocation(true)
        .fetcher(quick())
        .run()
        .await;
    let (answer, fix) = failed(&report, CheckId::RevocationEndpoint);
    assert!(answer.contains("no revocation_endpoint"), "{answer}");
    assert!(fix.contains("TokenRevoker::new"), "{fix}");
    assert!(report.has_failures());
}
