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
//! 2. at a local sign-out, [`SessionIndex::forget`] that session ID
//!    (`FlushSession::session_index` does it), so nothing of it outlives
//!    the session;
//! 3. when a logout token (or a front-channel request) arrives,
//!    [`SessionIndex::pending`] reads, **without changing anything**,
//!    whether its `jti` was used and which app sessions it names;
//! 4. [`EndSessions::end_sessions`] deletes those sessions from the app's store;
//! 5. only then, [`SessionIndex::complete`] removes them from the index and
//!    remembers the `jti`.
//!
//! # Nothing lost
//!
//! A logout is either done or left exactly as it was. If the store fails at
//! step 4, or the index at step 5, the route answers `400 server_error`
//! (Back-Channel Logout 1.0 section 2.8: the logout failed) and nothing was
//! consumed: the provider's retry of the same token finds the same sessions
//! and ends them. Deleting a session is idempotent, so a retry (or two
//! instances receiving the same delivery at once) may delete a session
//! already gone; both answer `200` once it is.
//!
//! # Bounded
//!
//! Each entry expires with its session, and each user (`iss`, `sub`) holds
//! at most [`DEFAULT_MAX_SIGN_INS_PER_SUBJECT`] entries (a setting of both
//! backends): recording one more drops that user's own entry that expires
//! first (for sessions of one lifetime, the oldest), never another user's,
//! and never the one being recorded. One user signing in again and again
//! through the provider's single sign-on therefore cannot crowd anyone out.
//!
//! # Backends
//!
//! - [`MemoryIndex`]: in this process, bounded, entries expiring with their
//!   sessions. **One app instance only**: a logout reaching another instance
//!   finds nothing there.
//! - [`RedisIndex`] (feature `redis`): in Redis (one server, Sentinel or
//!   Cluster), shared by every instance; keys carry TTLs; each call is one
//!   round trip on one server, a few single-slot steps on a Cluster.
//!
//! Both are used through one object-safe trait, so the rest of the app holds
//! an `Arc<dyn SessionIndex>`:
//!
//! ```
//! use std::{sync::Arc, time::{Duration, SystemTime}};
//! use tower_oidc_logout::provider_logout::index::{LogoutNotice, MemoryIndex, Pending, SessionIndex, SignIn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oidc_logout::provider_logout::index::IndexError> {
//! let index: Arc<dyn SessionIndex> = Arc::new(MemoryIndex::new().max_sign_ins(10_000));
//!
//! let in_two_weeks = SystemTime::now() + Duration::from_secs(14 * 24 * 3600);
//! index
//!     .record(&SignIn::new("https://op.example", "alice", "app-session-1", in_two_weeks).sid("op-sid-1"))
//!     .await?;
//!
//! // A logout token for (iss, sid) arrives: what it names, nothing changed yet.
//! let token_exp = SystemTime::now() + Duration::from_secs(120);
//! let notice = LogoutNotice::new("https://op.example", Some("op-sid-1"), Some("alice"))
//!     .token("jti-1", token_exp);
//! let Pending::Sessions(ids) = index.pending(&notice).await? else { unreachable!() };
//! assert_eq!(ids, ["app-session-1"]);
//! // ... the app's store deletes them, then:
//! index.complete(&notice, &ids).await?;
//! assert_eq!(index.pending(&notice).await?, Pending::Replayed);
//! # Ok(())
//! # }
//! ```
//!
//! With Redis (feature `redis`), the same trait over a `fred` pool, e.g. the
//! one `tower-sessions-redis-store` already uses:
//!
//! ```no_run
//! use std::sync::Arc;
//! use fred::prelude::{ClientLike, Config, Pool};
//! use tower_oidc_logout::provider_logout::index::{RedisIndex, SessionIndex};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = Pool::new(Config::from_url("redis://127.0.0.1:6379/0")?, None, None, None, 4)?;
//! pool.init().await?;
//! let index: Arc<dyn SessionIndex> = Arc::new(RedisIndex::new(pool).prefix("my-app:oidc-logout:"));
//! # let _ = index;
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
//! use tower_oidc_logout::provider_logout::index::{EndSessions, LogoutNotice, MemoryIndex, Pending, SessionIndex};
//! use tower_oidc_logout::tower_sessions::v0_14::{DeleteFromStore, record_sign_in};
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
//! // Later, a logout for (iss, sid), on any instance (the routes do this):
//! let notice = LogoutNotice::new("https://op.example", Some("op-sid-1"), None);
//! let Pending::Sessions(named) = index.pending(&notice).await? else { unreachable!() };
//! let report = DeleteFromStore::from_arc(store).end_sessions(&named).await?;
//! assert_eq!(report.deleted.len(), 1);
//! index.complete(&notice, &report.deleted).await?;
//! # Ok(())
//! # }
//! ```
//!
//! `record_sign_in` needs the session's ID, which tower-sessions assigns
//! when the session is first saved: call `save()` (or `cycle_id()`, then
//! `save()`) first, or it fails with [`RecordSignInError::NoSessionId`].
//! After any later `cycle_id()`, record the sign-in again: the index then
//! forgets the old ID (`record_sign_in` keeps the ID it recorded in the
//! session, under [`RECORDED_SESSION_ID_KEY`], to know it).
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
//! without `sub`), [`SessionIndex::pending`] names only the app sessions of that
//! provider session, as Back-Channel Logout 1.0 means it: the same user
//! signed in through another browser keeps that session. With `sub` alone,
//! it names every session of that user at that issuer.

mod end;
mod error;
#[cfg(feature = "redis")]
mod key;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod sign_in;

use std::{future::Future, pin::Pin};

pub use end::{EndSessions, EndSessionsError, EndSessionsFuture, SessionsEnded};
pub use error::{IndexError, RecordSignInError};
pub use memory::{DEFAULT_MAX_SIGN_INS, DEFAULT_MAX_TOKEN_IDS, MemoryIndex};
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_PREFIX, RedisIndex};
pub use sign_in::{LogoutNotice, Pending, SignIn};

/// The session key under which `record_sign_in` (tower-sessions) keeps the
/// session ID it recorded, so that recording again after `cycle_id()`
/// forgets the old ID.
pub const RECORDED_SESSION_ID_KEY: &str = "tower_oidc_logout.recorded_session_id";

/// How many sign-ins of one user (`iss`, `sub`) an index holds by default.
///
/// Generous for one person's browsers and devices; small enough that a user
/// signing in again and again (single sign-on makes that three redirects)
/// cannot fill the index.
pub const DEFAULT_MAX_SIGN_INS_PER_SUBJECT: usize = 100;

/// The future of a [`SessionIndex`] call: boxed, so the trait can be used as a `dyn` object.
pub type IndexFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, IndexError>> + Send + 'a>>;

/// Where the app finds its sessions from the provider's (`iss`, `sid`) or
/// (`iss`, `sub`), and which logout tokens were already used.
///
/// Implemented by [`MemoryIndex`] and [`RedisIndex`]; object safe, so it can be
/// held as `Arc<dyn SessionIndex>`. A failing store is an
/// [`IndexError::Store`], never an empty answer.
///
/// The provider-logout routes call [`pending`](Self::pending), delete the
/// sessions it names from the app's store, and only once they are gone
/// call [`complete`](Self::complete): a failure anywhere leaves the index as
/// it was, for the provider's retry (see [Nothing lost](self#nothing-lost)).
pub trait SessionIndex: Send + Sync {
    /// Records a sign-in: its session can then be found by its (`iss`, `sid`)
    /// and by its (`iss`, `sub`) until `expires_at`.
    ///
    /// A session ID is one sign-in: recording it again replaces its entry
    /// (keeping the later of the two expiries when `iss`, `sid` and `sub`
    /// are unchanged). When the user (`iss`, `sub`) already holds the
    /// index's maximum of sign-ins, their entry that expires first is
    /// dropped to make room; this one is always recorded.
    fn record<'a>(&'a self, sign_in: &'a SignIn) -> IndexFuture<'a, ()>;

    /// Drops every entry of `session_id` (at a local sign-out, or for the
    /// old ID after `cycle_id()`). Nothing recorded is not an error.
    fn forget<'a>(&'a self, session_id: &'a str) -> IndexFuture<'a, ()>;

    /// What a provider's logout names, changing nothing:
    /// [`Pending::Replayed`] when its token's `jti` was already used, else
    /// the app session IDs recorded for its `sid` (when it has one, whether
    /// or not `sub` is there too), else for its `sub`, in ascending order.
    fn pending<'a>(&'a self, notice: &'a LogoutNotice<'a>) -> IndexFuture<'a, Pending>;

    /// The logout is done: `ended` (the IDs [`pending`](Self::pending)
    /// named, now deleted from the store) leave the index, and the token's
    /// `jti` is remembered until its `until`. Idempotent: completing twice
    /// (two instances receiving the same delivery) is no error.
    fn complete<'a>(
        &'a self,
        notice: &'a LogoutNotice<'a>,
        ended: &'a [String],
    ) -> IndexFuture<'a, ()>;
}
