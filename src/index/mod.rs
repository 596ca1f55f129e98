//! The session index: which app sessions a provider's logout ends, and which logout tokens were already used.
//!
//! When the provider says "session `sid` of issuer `iss` ended" (a
//! Back-Channel or Front-Channel Logout), or "every session of user `sub`
//! at `iss`", the app must find its own server-side sessions and delete
//! them, on every instance. Only the app sees the ID token at sign-in, so it
//! writes the index then:
//!
//! 1. at sign-in, [`SessionIndex::record`] a [`SignIn`]: (`iss`, `sid`,
//!    `sub`) → the app's session ID, expiring with the session;
//! 2. when a logout token (or a front-channel request) arrives,
//!    [`SessionIndex::take`] the app sessions it names: they are removed from
//!    the index and returned, atomically, so two instances receiving the same
//!    logout do not both end (or both miss) them;
//! 3. [`EndSessions::end_sessions`] deletes them from the app's session store.
//!
//! Before step 2, [`ReplayGuard::first_use`] refuses a logout token whose
//! `jti` was already seen.
//!
//! # Backends
//!
//! - [`MemoryIndex`]: in this process, bounded, entries expiring with their
//!   sessions. **One app instance only**: a logout reaching another instance
//!   finds nothing there.
//! - [`RedisIndex`] (feature `redis`): in Redis, shared by every instance;
//!   keys carry TTLs; each take and each `jti` check is one round trip.
//!
//! Both are used through the object-safe traits, so the rest of the app holds
//! an `Arc<dyn SessionIndex>` and an `Arc<dyn ReplayGuard>`:
//!
//! ```
//! use std::{sync::Arc, time::{Duration, SystemTime}};
//! use tower_oidc_logout::index::{MemoryIndex, ReplayGuard, SessionIndex, SignIn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oidc_logout::index::IndexError> {
//! let memory = Arc::new(MemoryIndex::new().max_sign_ins(10_000));
//! let index: Arc<dyn SessionIndex> = memory.clone();
//! let replay: Arc<dyn ReplayGuard> = memory;
//!
//! let in_two_weeks = SystemTime::now() + Duration::from_secs(14 * 24 * 3600);
//! index
//!     .record(&SignIn::new("https://op.example", "alice", "app-session-1", in_two_weeks).sid("op-sid-1"))
//!     .await?;
//!
//! // A logout token for (iss, sid) arrives: check its jti, then take the sessions it ends.
//! let token_exp = SystemTime::now() + Duration::from_secs(120);
//! assert!(replay.first_use("https://op.example", "jti-1", token_exp).await?);
//! let ended = index.take("https://op.example", Some("op-sid-1"), Some("alice")).await?;
//! assert_eq!(ended, ["app-session-1"]);
//! assert!(!replay.first_use("https://op.example", "jti-1", token_exp).await?, "replayed");
//! # Ok(())
//! # }
//! ```
//!
//! With Redis (feature `redis`), the same traits over a `fred` pool, e.g. the
//! one `tower-sessions-redis-store` already uses:
//!
//! ```no_run
//! use std::sync::Arc;
//! use fred::prelude::{ClientLike, Config, Pool};
//! use tower_oidc_logout::index::{RedisIndex, ReplayGuard, SessionIndex};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = Pool::new(Config::from_url("redis://127.0.0.1:6379/0")?, None, None, None, 4)?;
//! pool.init().await?;
//! let redis = Arc::new(RedisIndex::new(pool).prefix("my-app:oidc-logout:"));
//! let index: Arc<dyn SessionIndex> = redis.clone();
//! let replay: Arc<dyn ReplayGuard> = redis;
//! # let _ = (index, replay);
//! # Ok(())
//! # }
//! ```
//!
//! # With tower-sessions
//!
//! [`tower_sessions_0_14`] and [`tower_sessions_0_15`] (features
//! `tower-sessions-0-14`, `tower-sessions-0-15`) hold `record_sign_in`,
//! which records a tower-sessions `Session` with its expiry, and
//! `DeleteFromStore`, the [`EndSessions`] of any tower-sessions store:
//!
//! ```
//! # extern crate tower_sessions_0_14 as tower_sessions;
//! use std::sync::Arc;
//! use tower_oidc_logout::index::{EndSessions, MemoryIndex, SessionIndex};
//! use tower_oidc_logout::index::tower_sessions_0_14::{DeleteFromStore, record_sign_in};
//! use tower_sessions::{MemoryStore, Session};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryStore::default());
//! let index = MemoryIndex::new();
//! # let session = Session::new(None, store.clone(), None);
//! // In the sign-in handler, once the ID token is validated:
//! session.insert("user", "alice").await?;
//! session.save().await?; // the session has an ID once saved
//! record_sign_in(&index, &session, "https://op.example", Some("op-sid-1"), "alice").await?;
//!
//! // Later, a logout token for (iss, sid), on any instance:
//! let ended = index.take_by_sid("https://op.example", "op-sid-1").await?;
//! let report = DeleteFromStore::from_arc(store).end_sessions(&ended).await?;
//! assert_eq!(report.deleted.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! `record_sign_in` needs the session's ID, which tower-sessions assigns
//! when the session is first saved: call `save()` (or `cycle_id()`, then
//! `save()`) first, or it fails with [`RecordSignInError::NoSessionId`].
//! After any later `cycle_id()`, record the sign-in again: the index holds
//! the old ID, which no longer names the session.
//!
//! # A caching store in front (`CachingSessionStore`)
//!
//! tower-sessions' `CachingSessionStore` (e.g. Moka in front of Redis) keeps
//! a copy of each session in every instance's memory. `DeleteFromStore` over
//! the caching store deletes the record from the backing store and from the
//! cache *of the instance that received the logout*; every other
//! instance's cache still holds the session and serves it until its cache
//! entry expires. So, for sessions that must end when the provider says so:
//! either give no cache to sessions (use the backing store directly), or
//! give the cache a time-to-live as short as you accept a session
//! outliving its logout (Moka: `time_to_live`), and hand `DeleteFromStore`
//! the caching store (not the backing one), so that at least this instance
//! forgets it at once.
//!
//! # Both `sid` and `sub`
//!
//! A logout token may carry `sid`, `sub` or both. With `sid` (with or
//! without `sub`), [`SessionIndex::take`] ends only the app sessions of that
//! provider session, as Back-Channel Logout 1.0 means it: the same user
//! signed in through another browser keeps that session. With `sub` alone,
//! it ends every session of that user at that issuer.

mod end;
mod error;
#[cfg(feature = "redis")]
mod key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod sign_in;

use std::{future::Future, pin::Pin, time::SystemTime};

pub use end::{EndSessions, EndSessionsError, EndSessionsFuture, SessionsEnded};
pub use error::{IndexError, RecordSignInError};
pub use memory::{DEFAULT_MAX_SIGN_INS, DEFAULT_MAX_TOKEN_IDS, MemoryIndex};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_PREFIX, RedisIndex};
pub use sign_in::SignIn;

#[cfg(feature = "tower-sessions-0-14")]
pub use crate::tower_sessions::index_0_14 as tower_sessions_0_14;
#[cfg(feature = "tower-sessions-0-15")]
pub use crate::tower_sessions::index_0_15 as tower_sessions_0_15;

/// The future of a [`SessionIndex`] or [`ReplayGuard`] call: boxed, so both
/// traits can be used as `dyn` objects.
pub type IndexFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, IndexError>> + Send + 'a>>;

/// Where the app finds its sessions from the provider's (`iss`, `sid`) or (`iss`, `sub`).
///
/// Implemented by [`MemoryIndex`] and [`RedisIndex`]; object safe, so it can be
/// held as `Arc<dyn SessionIndex>`. A failing store is an
/// [`IndexError::Store`], never an empty answer.
pub trait SessionIndex: Send + Sync {
    /// Records a sign-in: its session can then be taken by its (`iss`, `sid`)
    /// and by its (`iss`, `sub`) until `expires_at`.
    ///
    /// Recording the same session ID again (e.g. after the session was
    /// extended) keeps it until the later expiry.
    fn record<'a>(&'a self, sign_in: &'a SignIn) -> IndexFuture<'a, ()>;

    /// Removes and returns the app session IDs recorded for the provider
    /// session `sid` of issuer `iss`, in ascending order. Atomic: of two
    /// concurrent calls, one gets the IDs, the other none.
    fn take_by_sid<'a>(&'a self, iss: &'a str, sid: &'a str) -> IndexFuture<'a, Vec<String>>;

    /// Removes and returns the app session IDs of every sign-in of user `sub`
    /// at issuer `iss`. Atomic, like [`take_by_sid`](Self::take_by_sid).
    fn take_by_sub<'a>(&'a self, iss: &'a str, sub: &'a str) -> IndexFuture<'a, Vec<String>>;

    /// The sessions a logout token with these claims ends: by `sid` when
    /// there is one (whether or not `sub` is there too), else by `sub`, else
    /// none.
    fn take<'a>(
        &'a self,
        iss: &'a str,
        sid: Option<&'a str>,
        sub: Option<&'a str>,
    ) -> IndexFuture<'a, Vec<String>> {
        match (sid, sub) {
            (Some(sid), _) => self.take_by_sid(iss, sid),
            (None, Some(sub)) => self.take_by_sub(iss, sub),
            (None, None) => Box::pin(std::future::ready(Ok(Vec::new()))),
        }
    }
}

/// Refuses a logout token seen before: remembers each (`iss`, `jti`) until the token expires.
///
/// Implemented by [`MemoryIndex`] and [`RedisIndex`]; object safe.
pub trait ReplayGuard: Send + Sync {
    /// `true` the first time (`iss`, `jti`) is seen before `until`, `false`
    /// for every later call until then. Set-if-absent, atomic.
    ///
    /// `until` is the token's `exp` (plus any clock leeway the validator
    /// allows). The validator refuses an expired token before asking: a
    /// `until` already past is not remembered.
    fn first_use<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        until: SystemTime,
    ) -> IndexFuture<'a, bool>;
}
