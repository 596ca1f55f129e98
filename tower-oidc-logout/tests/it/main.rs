//! The library's integration tests, one binary: a module per topic, each
//! through the layer as an app would use it. (`tests/allocations.rs` is a
//! binary of its own: it counts allocations with a global allocator.)

mod layer_fixtures;
#[cfg(feature = "provider-logout")]
mod wire;

mod callback;
mod compose;
#[cfg(feature = "provider-logout")]
mod concurrency;
#[cfg(feature = "provider-logout")]
mod discovery;
#[cfg(feature = "provider-logout")]
mod hostile;
#[cfg(feature = "tower-sessions-0-14")]
mod logout;
#[cfg(feature = "discovery")]
mod preflight;
mod properties;
#[cfg(all(feature = "provider-logout", feature = "tower-sessions-0-14"))]
mod provider_logout;
#[cfg(all(feature = "provider-logout", feature = "tower-sessions-0-14"))]
mod provider_logout_keys;
mod refusal_page;
#[cfg(all(feature = "revocation", feature = "tower-sessions-0-14"))]
mod revocation;
#[cfg(feature = "discovery")]
mod servers;
#[cfg(feature = "tower-sessions-0-14")]
mod tower_sessions;
#[cfg(feature = "tracing")]
mod tracing_events;
