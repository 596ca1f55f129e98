//! The index in this process's memory: bounded, expiring, one app instance.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::SystemTime,
};

use crate::state::Clock;

use super::{IndexError, IndexFuture, ReplayGuard, SessionIndex, SignIn};

/// How many sign-ins a [`MemoryIndex`] holds by default.
pub const DEFAULT_MAX_SIGN_INS: usize = 100_000;
/// How many logout-token IDs a [`MemoryIndex`] remembers by default.
pub const DEFAULT_MAX_TOKEN_IDS: usize = 100_000;

/// A [`SessionIndex`] and [`ReplayGuard`] in this process's memory.
///
/// **One app instance only**: a logout token reaching another instance
/// finds nothing there, and a `jti` seen here is unknown there. With several
/// instances, use [`RedisIndex`](super::RedisIndex) (feature `redis`).
///
/// Bounded, so it cannot grow without end:
///
/// - each sign-in is dropped when its session expires (`expires_at`), and
///   when taken; each token ID when its `until` passes;
/// - at most [`max_sign_ins`](Self::max_sign_ins) sign-ins
///   ([`DEFAULT_MAX_SIGN_INS`]) and
///   [`max_token_ids`](Self::max_token_ids) token IDs
///   ([`DEFAULT_MAX_TOKEN_IDS`]). When full, expired entries go first; if
///   none has expired, the new one is **refused** ([`IndexError::Full`],
///   [`IndexError::ReplaySetFull`]) rather than silently evicting a live
///   one, which would leave that session beyond the reach of a logout.
///   The app sees the error and decides (refuse the sign-in, or accept a
///   session that a provider logout will not end).
///
/// A session ID is one sign-in: recording it again replaces its entry
/// (with the later of the two expiries when `iss`, `sid` and `sub` are
/// unchanged). [`forget`](Self::forget) drops it at a local sign-out.
///
/// Thread-safe (one mutex; every operation is a few map updates).
pub struct MemoryIndex {
    max_sign_ins: usize,
    max_token_ids: usize,
    clock: Option<Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sign_ins: HashMap<String, Entry>,
    by_sid: HashMap<(String, String), HashSet<String>>,
    by_sub: HashMap<(String, String), HashSet<String>>,
    /// (expiry, session ID): the next sign-ins to expire first.
    sign_in_expiry: BTreeSet<(SystemTime, String)>,
    token_ids: HashMap<(String, String), SystemTime>,
    token_expiry: BTreeSet<(SystemTime, (String, String))>,
}

struct Entry {
    iss: String,
    sid: Option<String>,
    sub: String,
    expires_at: SystemTime,
}

impl MemoryIndex {
    /// An empty index with the default bounds and the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_sign_ins: DEFAULT_MAX_SIGN_INS,
            max_token_ids: DEFAULT_MAX_TOKEN_IDS,
            clock: None,
            state: Mutex::default(),
        }
    }

    /// At most `max` sign-ins at once (at least 1).
    #[must_use]
    pub fn max_sign_ins(mut self, max: usize) -> Self {
        self.max_sign_ins = max.max(1);
        self
    }

    /// At most `max` logout-token IDs remembered at once (at least 1).
    #[must_use]
    pub fn max_token_ids(mut self, max: usize) -> Self {
        self.max_token_ids = max.max(1);
        self
    }

    /// Reads the time from `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Drops the sign-in of `session_id`, if recorded (at a local sign-out,
    /// so its entry does not wait for the session's expiry). Returns whether
    /// it was there.
    pub fn forget(&self, session_id: &str) -> bool {
        let now = self.now();
        let mut state = self.lock();
        state.purge(now);
        state.remove(session_id)
    }

    /// How many unexpired sign-ins the index holds.
    #[must_use]
    pub fn len(&self) -> usize {
        let now = self.now();
        let mut state = self.lock();
        state.purge(now);
        state.sign_ins.len()
    }

    /// Whether the index holds no unexpired sign-in.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now(&self) -> SystemTime {
        self.clock.as_ref().map_or_else(SystemTime::now, |clock| clock())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent before it can panic, so a
        // poisoned lock still guards usable state.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record_now(&self, sign_in: &SignIn) -> Result<(), IndexError> {
        let now = self.now();
        if sign_in.expires_at <= now {
            return Ok(()); // already expired: nothing left to end
        }
        let mut state = self.lock();
        state.purge(now);
        let mut expires_at = sign_in.expires_at;
        if let Some(old) = state.sign_ins.get(&sign_in.session_id) {
            if old.iss == sign_in.iss && old.sid == sign_in.sid && old.sub == sign_in.sub {
                expires_at = expires_at.max(old.expires_at);
            }
            state.remove(&sign_in.session_id);
        } else if state.sign_ins.len() >= self.max_sign_ins {
            return Err(IndexError::Full { capacity: self.max_sign_ins });
        }
        let id = &sign_in.session_id;
        if let Some(sid) = &sign_in.sid {
            state.by_sid.entry((sign_in.iss.clone(), sid.clone())).or_default().insert(id.clone());
        }
        state
            .by_sub
            .entry((sign_in.iss.clone(), sign_in.sub.clone()))
            .or_default()
            .insert(id.clone());
        state.sign_in_expiry.insert((expires_at, id.clone()));
        state.sign_ins.insert(
            id.clone(),
            Entry {
                iss: sign_in.iss.clone(),
                sid: sign_in.sid.clone(),
                sub: sign_in.sub.clone(),
                expires_at,
            },
        );
        Ok(())
    }

    fn take_now(&self, by_sid: bool, iss: &str, value: &str) -> Vec<String> {
        let now = self.now();
        let mut state = self.lock();
        state.purge(now);
        let key = (iss.to_owned(), value.to_owned());
        let ids = if by_sid { state.by_sid.get(&key) } else { state.by_sub.get(&key) };
        let mut ids: Vec<String> = ids.into_iter().flatten().cloned().collect();
        for id in &ids {
            state.remove(id);
        }
        ids.sort_unstable();
        ids
    }

    fn first_use_now(&self, iss: &str, jti: &str, until: SystemTime) -> Result<bool, IndexError> {
        let now = self.now();
        if until <= now {
            return Ok(true); // the validator refuses expired tokens; nothing to remember
        }
        let mut state = self.lock();
        state.purge(now);
        let key = (iss.to_owned(), jti.to_owned());
        if state.token_ids.contains_key(&key) {
            return Ok(false);
        }
        if state.token_ids.len() >= self.max_token_ids {
            return Err(IndexError::ReplaySetFull { capacity: self.max_token_ids });
        }
        state.token_expiry.insert((until, key.clone()));
        state.token_ids.insert(key, until);
        Ok(true)
    }
}

impl State {
    /// Drops every sign-in and token ID expired at `now`.
    fn purge(&mut self, now: SystemTime) {
        while let Some((at, _)) = self.sign_in_expiry.first() {
            if *at > now {
                break;
            }
            if let Some((_, id)) = self.sign_in_expiry.pop_first() {
                self.remove(&id);
            }
        }
        while let Some((at, _)) = self.token_expiry.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.token_expiry.pop_first() {
                self.token_ids.remove(&key);
            }
        }
    }

    /// Drops the sign-in of `id` from every map.
    fn remove(&mut self, id: &str) -> bool {
        let Some(entry) = self.sign_ins.remove(id) else { return false };
        self.sign_in_expiry.remove(&(entry.expires_at, id.to_owned()));
        if let Some(sid) = entry.sid {
            remove_from(&mut self.by_sid, (entry.iss.clone(), sid), id);
        }
        remove_from(&mut self.by_sub, (entry.iss, entry.sub), id);
        true
    }
}

/// Removes `id` from the set at `key`, and the set once empty.
fn remove_from(
    map: &mut HashMap<(String, String), HashSet<String>>,
    key: (String, String),
    id: &str,
) {
    if let Some(ids) = map.get_mut(&key) {
        ids.remove(id);
        if ids.is_empty() {
            map.remove(&key);
        }
    }
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryIndex")
            .field("sign_ins", &state.sign_ins.len())
            .field("token_ids", &state.token_ids.len())
            .field("max_sign_ins", &self.max_sign_ins)
            .field("max_token_ids", &self.max_token_ids)
            .finish_non_exhaustive()
    }
}

impl SessionIndex for MemoryIndex {
    fn record<'a>(&'a self, sign_in: &'a SignIn) -> IndexFuture<'a, ()> {
        Box::pin(std::future::ready(self.record_now(sign_in)))
    }

    fn take_by_sid<'a>(&'a self, iss: &'a str, sid: &'a str) -> IndexFuture<'a, Vec<String>> {
        Box::pin(std::future::ready(Ok(self.take_now(true, iss, sid))))
    }

    fn take_by_sub<'a>(&'a self, iss: &'a str, sub: &'a str) -> IndexFuture<'a, Vec<String>> {
        Box::pin(std::future::ready(Ok(self.take_now(false, iss, sub))))
    }
}

impl ReplayGuard for MemoryIndex {
    fn first_use<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        until: SystemTime,
    ) -> IndexFuture<'a, bool> {
        Box::pin(std::future::ready(self.first_use_now(iss, jti, until)))
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU64, Ordering},
        time::{Duration, UNIX_EPOCH},
    };

    use super::*;

    const ISS: &str = "https://op.example";
    const HOUR: Duration = Duration::from_secs(3600);

    /// An index whose clock reads `secs` seconds after the epoch.
    fn index_at(secs: &Arc<AtomicU64>) -> MemoryIndex {
        let secs = secs.clone();
        MemoryIndex::new()
            .clock(move || UNIX_EPOCH + Duration::from_secs(secs.load(Ordering::SeqCst)))
    }

    fn start() -> Arc<AtomicU64> {
        Arc::new(AtomicU64::new(1_000_000))
    }

    fn at(secs: &AtomicU64, later: Duration) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs.load(Ordering::SeqCst)) + later
    }

    async fn record(
        index: &MemoryIndex,
        sub: &str,
        sid: Option<&str>,
        id: &str,
        until: SystemTime,
    ) {
        let mut sign_in = SignIn::new(ISS, sub, id, until);
        sign_in.sid = sid.map(str::to_owned);
        index.record(&sign_in).await.unwrap();
    }

    #[tokio::test]
    async fn take_by_sid_returns_that_provider_sessions_app_sessions_once() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-1"), "s2", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-2"), "s3", at(&now, HOUR)).await;

        assert_eq!(index.take_by_sid(ISS, "sid-1").await.unwrap(), ["s1", "s2"]);
        assert!(index.take_by_sid(ISS, "sid-1").await.unwrap().is_empty(), "taken twice");
        assert!(index.take_by_sid("https://other.example", "sid-2").await.unwrap().is_empty());
        // Taken by sid, also gone from the user's list.
        assert_eq!(index.take_by_sub(ISS, "alice").await.unwrap(), ["s3"]);
        assert!(index.is_empty());
    }

    #[tokio::test]
    async fn take_by_sub_ends_all_of_that_users_sessions_and_no_one_elses() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "a1", at(&now, HOUR)).await;
        record(&index, "alice", None, "a2", at(&now, HOUR)).await;
        record(&index, "bob", Some("sid-3"), "b1", at(&now, HOUR)).await;
        let other_issuer = SignIn::new("https://other.example", "alice", "x1", at(&now, HOUR));
        index.record(&other_issuer).await.unwrap();

        assert_eq!(index.take_by_sub(ISS, "alice").await.unwrap(), ["a1", "a2"]);
        assert!(index.take_by_sid(ISS, "sid-1").await.unwrap().is_empty(), "a1 left under its sid");
        assert_eq!(index.len(), 2, "bob's and the other issuer's alice's remain");
        assert_eq!(index.take_by_sub(ISS, "bob").await.unwrap(), ["b1"]);
    }

    #[tokio::test]
    async fn take_prefers_sid_over_sub() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "laptop", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-2"), "phone", at(&now, HOUR)).await;

        assert_eq!(index.take(ISS, Some("sid-1"), Some("alice")).await.unwrap(), ["laptop"]);
        assert_eq!(index.take(ISS, None, Some("alice")).await.unwrap(), ["phone"]);
        assert!(index.take(ISS, None, None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn entries_expire_with_their_sessions() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "short", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-1"), "long", at(&now, 2 * HOUR)).await;
        record(&index, "alice", Some("sid-1"), "dead", at(&now, Duration::ZERO)).await;
        assert_eq!(index.len(), 2, "an already expired session is not recorded");

        now.fetch_add(HOUR.as_secs(), Ordering::SeqCst);
        assert_eq!(index.len(), 1);
        assert_eq!(index.take_by_sid(ISS, "sid-1").await.unwrap(), ["long"]);
    }

    #[tokio::test]
    async fn recording_again_keeps_the_later_expiry_and_forget_drops_it() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "s1", at(&now, 2 * HOUR)).await;
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;
        assert_eq!(index.len(), 1);
        now.fetch_add(HOUR.as_secs() + 1, Ordering::SeqCst);
        assert_eq!(index.len(), 1, "the earlier expiry won");

        assert!(index.forget("s1"));
        assert!(!index.forget("s1"));
        assert!(index.take_by_sub(ISS, "alice").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn when_full_expired_entries_go_first_then_new_sign_ins_are_refused() {
        let now = start();
        let index = index_at(&now).max_sign_ins(2);
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;
        record(&index, "bob", Some("sid-2"), "s2", at(&now, 2 * HOUR)).await;

        let third = SignIn::new(ISS, "carol", "s3", at(&now, HOUR));
        let refused = index.record(&third).await.unwrap_err();
        assert!(matches!(refused, IndexError::Full { capacity: 2 }), "{refused:?}");
        assert_eq!(index.take_by_sub(ISS, "alice").await.unwrap(), ["s1"], "a live entry evicted");
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;

        // Re-recording a session already there needs no room.
        record(&index, "bob", Some("sid-2"), "s2", at(&now, 2 * HOUR)).await;

        now.fetch_add(HOUR.as_secs(), Ordering::SeqCst); // s1 expires
        let fourth = SignIn::new(ISS, "carol", "s4", at(&now, HOUR));
        index.record(&fourth).await.unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index.take_by_sub(ISS, "carol").await.unwrap(), ["s4"]);
    }

    #[tokio::test]
    async fn a_token_id_is_used_once_until_it_expires_and_the_set_is_bounded() {
        let now = start();
        let index = index_at(&now).max_token_ids(2);
        let exp = at(&now, Duration::from_secs(120));

        assert!(index.first_use(ISS, "jti-1", exp).await.unwrap());
        assert!(!index.first_use(ISS, "jti-1", exp).await.unwrap(), "replay accepted");
        assert!(index.first_use("https://other.example", "jti-1", exp).await.unwrap());
        let full = index.first_use(ISS, "jti-2", exp).await.unwrap_err();
        assert!(matches!(full, IndexError::ReplaySetFull { capacity: 2 }), "{full:?}");
        assert!(!index.first_use(ISS, "jti-1", exp).await.unwrap(), "refused while full");

        now.fetch_add(120, Ordering::SeqCst);
        assert!(index.first_use(ISS, "jti-2", at(&now, HOUR)).await.unwrap(), "expired ones kept");
        assert!(index.first_use(ISS, "jti-1", at(&now, HOUR)).await.unwrap());
    }
}
