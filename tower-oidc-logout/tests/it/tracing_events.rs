//! With the `tracing` feature: a failed storage hook is a `warn` event with
//! its cause, a refusal a `debug` event with its code.

use crate::layer_fixtures;

use std::{
    io,
    sync::{Arc, Mutex},
};

use http::{Request, StatusCode};
use layer_fixtures::*;
use tower::Layer;
use tracing::{
    Event, Level, Metadata, Subscriber,
    field::{Field, Visit},
    span,
};

/// Keeps every event's level and fields as text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

impl Recorder {
    fn events(&self) -> Vec<(Level, String)> {
        self.0.lock().unwrap().clone()
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!("{}={} ", field.name(), value));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Runs `future` on this thread with `recorder` as the subscriber.
fn recorded<F: Future>(recorder: &Recorder, future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    tracing::subscriber::with_default(recorder.clone(), || runtime.block_on(future))
}

#[test]
fn a_failing_hook_is_a_warning_with_its_cause() {
    let recorder = Recorder::default();
    let hook = |_: &http::request::Parts| async {
        Err::<(), _>(io::Error::other("session store is down"))
    };
    let service = builder(&TestClock::new())
        .end_session_hook(hook)
        .build()
        .unwrap()
        .layer(App::default().service());
    let (response, _) = recorded(&recorder, send(service, post("/logout").body(empty()).unwrap()));
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let events = recorder.events();
    assert!(
        events.iter().any(|(level, text)| *level == Level::WARN
            && text.contains("session store is down")
            && text.contains("storage hook failed")),
        "{events:?}"
    );
}

#[test]
fn a_refusal_is_a_debug_event_with_its_code() {
    let recorder = Recorder::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(App::default().service());
    let request = Request::get("/logout/callback?state=nope").body(empty()).unwrap();
    let (response, _) = recorded(&recorder, send(service, request));
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let events = recorder.events();
    assert!(
        events
            .iter()
            .any(|(level, text)| *level == Level::DEBUG && text.contains("code=state_malformed")),
        "{events:?}"
    );
}

/// Runs `future` on a runtime with IO and timers, on this thread, with `recorder` as the subscriber.
#[cfg(feature = "revocation")]
fn recorded_with_io<F: Future>(recorder: &Recorder, future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(recorder.clone(), || runtime.block_on(future))
}

#[cfg(feature = "revocation")]
#[test]
fn a_provider_without_revocation_endpoint_is_said_once() {
    use tower_oidc_logout::{
        discovery::ProviderMetadata,
        revocation::{ClientAuth, TokenRevoker, TokenTypeHint},
    };
    let recorder = Recorder::default();
    let metadata =
        ProviderMetadata::from_json("https://op.example", br#"{"issuer":"https://op.example"}"#)
            .unwrap();
    recorded_with_io(&recorder, async {
        let revoker = TokenRevoker::from_metadata(&metadata, ClientAuth::public("app"));
        for _ in 0..3 {
            assert!(!revoker.revoke("rt", TokenTypeHint::RefreshToken).await.unwrap());
        }
    });
    let events = recorder.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, Level::WARN);
    assert!(events[0].1.contains("no revocation_endpoint"), "{events:?}");
}

#[cfg(all(feature = "revocation", feature = "tower-sessions-0-14"))]
#[test]
fn a_failed_revocation_is_a_warning_with_its_cause_and_never_the_token() {
    use crate::revocation::{Answer, endpoint};
    use tower_oidc_logout::{
        revocation::{ClientAuth, TokenRevoker},
        tower_sessions::FlushSession,
    };
    use tower_sessions_0_14::{MemoryStore, Session};

    let recorder = Recorder::default();
    let hints = recorded_with_io(&recorder, async {
        let (endpoint, _) =
            endpoint(vec![Answer::Status(400, r#"{"error":"unsupported_token_type"}"#)]).await;
        let revoker = TokenRevoker::new(&endpoint.url, ClientAuth::public("app")).unwrap();
        let session = Session::new(None, Arc::new(MemoryStore::default()), None);
        session.insert("refresh_token", "rt-very-secret").await.unwrap();
        let mut request = Request::new(());
        request.extensions_mut().insert(session);
        let hook = FlushSession::new().revoke_refresh_token("refresh_token", revoker);
        use tower_oidc_logout::EndSessionHook as _;
        hook.end_session(&request.into_parts().0).await
    });
    assert!(hints.is_ok(), "the default policy signs out: {hints:?}");
    let events = recorder.events();
    let warning = events
        .iter()
        .find(|(level, text)| *level == Level::WARN && text.contains("did not revoke"))
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(
        warning.1.contains("400") && warning.1.contains("unsupported_token_type"),
        "{warning:?}"
    );
    assert!(warning.1.contains("refresh_token"), "{warning:?}");
    assert!(!format!("{events:?}").contains("rt-very-secret"), "a token was logged: {events:?}");
}
