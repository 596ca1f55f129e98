//! On a real Redis (started by the tests, on free loopback ports): two app
//! instances sharing sessions and the session index, `RedisIndex` itself,
//! and provider logouts under injected faults.
//!
//! Needs `redis-server` (Debian's package) or `REDIS_URL`; run with
//! `scripts/redis-tests.sh`, or `cargo test -p tower-oidc-logout-demo --features redis-tests --test redis`.

mod app;
mod cluster;
mod index;
mod instances;
mod measure;
mod proxy;
mod sentinel;
mod server;
