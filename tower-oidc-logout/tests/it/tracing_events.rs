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
