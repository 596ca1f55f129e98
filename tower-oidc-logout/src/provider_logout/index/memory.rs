//! The index in this process's memory: bounded, expiring, one app instance.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::SystemTime,
};

use crate::state::Clock;

use super::{
    DEFAULT_MAX_SIGN_INS_PER_SUBJECT, IndexError, IndexFuture, LogoutNotice, Pending, SessionIndex,
    SignIn,
};

/// How many sign-ins a [`MemoryIndex`] holds by default.
pub const DEFAULT_MAX_SIGN_INS: usize = 100_000;
/// How many logout-token IDs a [`MemoryIndex`] remembers by default.
pub const DEFAULT_MAX_TOKEN_IDS: usize = 100_000;

/// A [`SessionIndex`] in this process's memory.
///
/// **One app instance only**: a logout token reaching another instance
/// finds nothing there, and a `jti` seen here is unknown there. With several
/// instances, use [`RedisIndex`](super::RedisIndex) (feature `redis`).
///
/// Bounded, so it cannot grow without end:
///
/// - each sign-in is dropped when its session expires (`expires_at`), when
///   forgotten and when its logout completes; each token ID when its
///   `until` passes;
/// - each user holds at most
///   [`max_sign_ins_per_subject`](Self::max_sign_ins_per_subject)
///   ([`DEFAULT_MAX_SIGN_INS_PER_SUBJECT`]): one more drops that user's
///   entry that expires first;
/// - at most [`max_sign_ins`](Self::max_sign_ins) sign-ins
///   ([`DEFAULT_MAX_SIGN_INS`]) and
///   [`max_token_ids`](Self::max_token_ids) token IDs
///   ([`DEFAULT_MAX_TOKEN_IDS`]) in all. When full, expired entries go
///   first; if none has expired, the new one is **refused**
///   ([`IndexError::Full`], [`IndexError::ReplaySetFull`]) rather than
///   silently evicting another user's live one, which would leave that
///   session beyond the reach of a logout. The app sees the error and
///   decides (refuse the sign-in, or accept a session that a provider
///   logout will not end). A refused token ID fails that logout's
///   [`complete`](SessionIndex::complete), which the provider retries.
///
/// Thread-safe (one mutex; every operation is a few map updates, and a
/// scan of one user's entries when that user is at the bound).
pub struct MemoryIndex {
    max_sign_ins: usize,
    max_per_subject: usize,
    max_token_ids: usize,
    clock: Option<Clock>,
    state: Mutex<State>,
}

/// (`iss`, `sid` or `sub`), or (`iss`, `jti`).
type Claim = (String, String);

#[derive(Default)]
struct State {
    sign_ins: HashMap<String, Entry>,
    by_sid: HashMap<Claim, HashSet<String>>,
    /// Each user's sign-ins, by (expiry, session ID): the first to expire first.
    by_sub: HashMap<Claim, BTreeSet<(SystemTime, String)>>,
    /// (expiry, session ID): the next sign-ins to expire first.
    sign_in_expiry: BTreeSet<(SystemTime, String)>,
    token_ids: HashMap<Claim, SystemTime>,
    token_expiry: BTreeSet<(SystemTime, Claim)>,
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
            max_per_subject: DEFAULT_MAX_SIGN_INS_PER_SUBJECT,
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

    /// At most `max` sign-ins of one user (`iss`, `sub`) at once (at least
    /// 1); one more drops that user's entry that expires first.
    #[must_use]
    pub fn max_sign_ins_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
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

    /// How many unexpired sign-ins the index holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock_purged().sign_ins.len()
    }

    /// Whether the index holds no unexpired sign-in.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many unexpired logout-token IDs the index remembers.
    #[must_use]
    pub fn token_ids(&self) -> usize {
        self.lock_purged().token_ids.len()
    }

    fn now(&self) -> SystemTime {
        self.clock.as_ref().map_or_else(SystemTime::now, |clock| clock())
    }

    /// The state, with everything expired by now dropped.
    fn lock_purged(&self) -> MutexGuard<'_, State> {
        let now = self.now();
        // Every update leaves the maps consistent before it can panic, so a
        // poisoned lock still guards usable state.
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.purge(now);
        state
    }

    fn record_now(&self, sign_in: &SignIn) -> Result<(), IndexError> {
        if sign_in.expires_at <= self.now() {
            return Ok(()); // already expired: nothing left to end
        }
        let mut state = self.lock_purged();
        let id = &sign_in.session_id;
        let mut expires_at = sign_in.expires_at;
        let user = (sign_in.iss.clone(), sign_in.sub.clone());
        if let Some(old) = state.sign_ins.get(id) {
            if old.iss == sign_in.iss && old.sid == sign_in.sid && old.sub == sign_in.sub {
                expires_at = expires_at.max(old.expires_at);
            }
            state.remove(id);
        }
        if state.by_sub.get(&user).is_some_and(|ids| ids.len() >= self.max_per_subject) {
            state.drop_first_to_expire(&user);
        } else if state.sign_ins.len() >= self.max_sign_ins {
            return Err(IndexError::Full { capacity: self.max_sign_ins });
        }
        if let Some(sid) = &sign_in.sid {
            state.by_sid.entry((sign_in.iss.clone(), sid.clone())).or_default().insert(id.clone());
        }
        state.by_sub.entry(user).or_default().insert((expires_at, id.clone()));
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

    fn pending_now(&self, notice: &LogoutNotice<'_>) -> Pending {
        let state = self.lock_purged();
        if let Some((jti, _)) = notice.token
            && state.token_ids.contains_key(&(notice.iss.to_owned(), jti.to_owned()))
        {
            return Pending::Replayed;
        }
        let key = |value: &str| (notice.iss.to_owned(), value.to_owned());
        let mut ids: Vec<String> = match (notice.sid, notice.sub) {
            (Some(sid), _) => state.by_sid.get(&key(sid)).into_iter().flatten().cloned().collect(),
            (None, Some(sub)) => state
                .by_sub
                .get(&key(sub))
                .into_iter()
                .flatten()
                .map(|(_, id)| id.clone())
                .collect(),
            (None, None) => Vec::new(),
        };
        ids.sort_unstable();
        Pending::Sessions(ids)
    }

    fn complete_now(&self, notice: &LogoutNotice<'_>, ended: &[String]) -> Result<(), IndexError> {
        let now = self.now();
        let mut state = self.lock_purged();
        // Checked before anything changes, so a refusal leaves the index as it was.
        let token = notice
            .token
            .filter(|(_, until)| *until > now)
            .map(|(jti, until)| ((notice.iss.to_owned(), jti.to_owned()), until))
            .filter(|(key, _)| !state.token_ids.contains_key(key));
        if token.is_some() && state.token_ids.len() >= self.max_token_ids {
            return Err(IndexError::ReplaySetFull { capacity: self.max_token_ids });
        }
        for id in ended {
            state.remove(id);
        }
        if let Some((key, until)) = token {
            state.token_expiry.insert((until, key.clone()));
            state.token_ids.insert(key, until);
        }
        Ok(())
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

    /// Drops the entry of `user` that expires first.
    fn drop_first_to_expire(&mut self, user: &Claim) {
        let first = self.by_sub.get(user).and_then(|ids| ids.first()).map(|(_, id)| id.clone());
        if let Some(id) = first {
            self.remove(&id);
        }
    }

    /// Drops the sign-in of `id` from every map.
    fn remove(&mut self, id: &str) {
        let Some(entry) = self.sign_ins.remove(id) else { return };
        self.sign_in_expiry.remove(&(entry.expires_at, id.to_owned()));
        if let Some(sid) = entry.sid {
            remove_from(&mut self.by_sid, (entry.iss.clone(), sid), |ids| {
                ids.remove(id);
                ids.is_empty()
            });
        }
        remove_from(&mut self.by_sub, (entry.iss, entry.sub), |ids| {
            ids.remove(&(entry.expires_at, id.to_owned()));
            ids.is_empty()
        });
    }
}

/// Runs `take_out` on the set at `key` (it removes a member and says
/// whether the set is now empty), and drops the set once empty.
fn remove_from<S>(map: &mut HashMap<Claim, S>, key: Claim, take_out: impl FnOnce(&mut S) -> bool) {
    if map.get_mut(&key).is_some_and(take_out) {
        map.remove(&key);
    }
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_struct("MemoryIndex")
            .field("sign_ins", &state.sign_ins.len())
            .field("token_ids", &state.token_ids.len())
            .field("max_sign_ins", &self.max_sign_ins)
            .field("max_sign_ins_per_subject", &self.max_per_subject)
            .field("max_token_ids", &self.max_token_ids)
            .finish_non_exhaustive()
    }
}

impl SessionIndex for MemoryIndex {
    fn record<'a>(&'a self, sign_in: &'a SignIn) -> IndexFuture<'a, ()> {
        Box::pin(std::future::ready(self.record_now(sign_in)))
    }

    fn forget<'a>(&'a self, session_id: &'a str) -> IndexFuture<'a, ()> {
        self.lock_purged().remove(session_id);
        Box::pin(std::future::ready(Ok(())))
    }

    fn pending<'a>(&'a self, notice: &'a LogoutNotice<'a>) -> IndexFuture<'a, Pending> {
        Box::pin(std::future::ready(Ok(self.pending_now(notice))))
    }

    fn complete<'a>(
        &'a self,
        notice: &'a LogoutNotice<'a>,
        ended: &'a [String],
    ) -> IndexFuture<'a, ()> {
        Box::pin(std::future::ready(self.complete_now(notice, ended)))
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

    /// The IDs a logout of `notice` names now.
    async fn named(index: &MemoryIndex, notice: &LogoutNotice<'_>) -> Vec<String> {
        match index.pending(notice).await.unwrap() {
            Pending::Sessions(ids) => ids,
            Pending::Replayed => panic!("replayed"),
        }
    }

    /// Pending, then complete with what it named: a logout that succeeded.
    async fn end(index: &MemoryIndex, notice: &LogoutNotice<'_>) -> Vec<String> {
        let ids = named(index, notice).await;
        index.complete(notice, &ids).await.unwrap();
        ids
    }

    fn by_sid(sid: &str) -> LogoutNotice<'_> {
        LogoutNotice::new(ISS, Some(sid), None)
    }

    fn by_sub(sub: &str) -> LogoutNotice<'_> {
        LogoutNotice::new(ISS, None, Some(sub))
    }

    #[tokio::test]
    async fn pending_changes_nothing_and_complete_removes_what_ended() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-1"), "s2", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-2"), "s3", at(&now, HOUR)).await;

        assert_eq!(named(&index, &by_sid("sid-1")).await, ["s1", "s2"]);
        assert_eq!(named(&index, &by_sid("sid-1")).await, ["s1", "s2"], "pending consumed");
        index.complete(&by_sid("sid-1"), &["s1".to_owned()]).await.unwrap();
        assert_eq!(named(&index, &by_sid("sid-1")).await, ["s2"], "only what ended leaves");
        assert_eq!(end(&index, &by_sid("sid-1")).await, ["s2"]);
        assert!(
            named(&index, &LogoutNotice::new("https://other.example", Some("sid-2"), None))
                .await
                .is_empty()
        );
        // Ended by sid, also gone from the user's list.
        assert_eq!(end(&index, &by_sub("alice")).await, ["s3"]);
        assert!(index.is_empty());
    }

    #[tokio::test]
    async fn a_token_id_is_consumed_by_complete_only() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;
        let exp = at(&now, Duration::from_secs(120));
        let notice = by_sid("sid-1").token("jti-1", exp);

        // A failed logout (the store failed: complete never called) leaves all as it was.
        assert_eq!(named(&index, &notice).await, ["s1"]);
        assert_eq!(named(&index, &notice).await, ["s1"], "the retry finds the session");
        index.complete(&notice, &["s1".to_owned()]).await.unwrap();
        assert_eq!(index.pending(&notice).await.unwrap(), Pending::Replayed);
        // Completing again (a concurrent delivery) is no error.
        index.complete(&notice, &["s1".to_owned()]).await.unwrap();
        let other_issuer =
            LogoutNotice::new("https://other.example", Some("sid-1"), None).token("jti-1", exp);
        assert_eq!(index.pending(&other_issuer).await.unwrap(), Pending::Sessions(vec![]));

        now.fetch_add(120, Ordering::SeqCst);
        assert_eq!(index.token_ids(), 0, "kept past its until");
    }

    #[tokio::test]
    async fn by_sub_ends_all_of_that_users_sessions_and_no_one_elses() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "a1", at(&now, HOUR)).await;
        record(&index, "alice", None, "a2", at(&now, HOUR)).await;
        record(&index, "bob", Some("sid-3"), "b1", at(&now, HOUR)).await;
        let other_issuer = SignIn::new("https://other.example", "alice", "x1", at(&now, HOUR));
        index.record(&other_issuer).await.unwrap();

        assert_eq!(end(&index, &by_sub("alice")).await, ["a1", "a2"]);
        assert!(named(&index, &by_sid("sid-1")).await.is_empty(), "a1 left under its sid");
        assert_eq!(index.len(), 2, "bob's and the other issuer's alice's remain");
        assert_eq!(end(&index, &by_sub("bob")).await, ["b1"]);
    }

    #[tokio::test]
    async fn sid_is_preferred_over_sub() {
        let now = start();
        let index = index_at(&now);
        record(&index, "alice", Some("sid-1"), "laptop", at(&now, HOUR)).await;
        record(&index, "alice", Some("sid-2"), "phone", at(&now, HOUR)).await;

        let both = LogoutNotice::new(ISS, Some("sid-1"), Some("alice"));
        assert_eq!(end(&index, &both).await, ["laptop"]);
        assert_eq!(end(&index, &by_sub("alice")).await, ["phone"]);
        assert!(named(&index, &LogoutNotice::new(ISS, None, None)).await.is_empty());
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
        assert_eq!(end(&index, &by_sid("sid-1")).await, ["long"]);
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

        index.forget("s1").await.unwrap();
        index.forget("s1").await.unwrap();
        assert!(named(&index, &by_sub("alice")).await.is_empty());
        assert!(named(&index, &by_sid("sid-1")).await.is_empty());
        assert!(index.is_empty());
    }

    #[tokio::test]
    async fn one_user_at_the_bound_drops_their_own_first_to_expire_and_no_one_elses() {
        let now = start();
        let index = index_at(&now).max_sign_ins(10).max_sign_ins_per_subject(3);
        record(&index, "alice", Some("sid-a"), "alice-1", at(&now, HOUR)).await;
        for n in 0..1_000u64 {
            let lasts = 2 * HOUR + Duration::from_secs(n);
            record(&index, "mallory", Some("sid-m"), &format!("m{n:04}"), at(&now, lasts)).await;
        }
        assert_eq!(named(&index, &by_sub("mallory")).await, ["m0997", "m0998", "m0999"]);
        assert_eq!(named(&index, &by_sid("sid-m")).await, ["m0997", "m0998", "m0999"]);
        assert_eq!(index.len(), 4);

        // The newest is recorded even when it expires before the others.
        record(&index, "mallory", None, "short", at(&now, HOUR)).await;
        assert_eq!(named(&index, &by_sub("mallory")).await, ["m0998", "m0999", "short"]);

        // Everyone else can still sign in, and their logout still ends them.
        record(&index, "bob", Some("sid-b"), "bob-1", at(&now, HOUR)).await;
        assert_eq!(end(&index, &by_sid("sid-a")).await, ["alice-1"]);
        assert_eq!(end(&index, &by_sid("sid-b")).await, ["bob-1"]);
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
        assert_eq!(named(&index, &by_sub("alice")).await, ["s1"], "a live entry evicted");

        // Re-recording a session already there needs no room.
        record(&index, "bob", Some("sid-2"), "s2", at(&now, 2 * HOUR)).await;

        now.fetch_add(HOUR.as_secs(), Ordering::SeqCst); // s1 expires
        let fourth = SignIn::new(ISS, "carol", "s4", at(&now, HOUR));
        index.record(&fourth).await.unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(end(&index, &by_sub("carol")).await, ["s4"]);
    }

    #[tokio::test]
    async fn a_full_replay_set_fails_complete_and_changes_nothing() {
        let now = start();
        let index = index_at(&now).max_token_ids(1);
        record(&index, "alice", Some("sid-1"), "s1", at(&now, HOUR)).await;
        let exp = at(&now, Duration::from_secs(120));
        index.complete(&by_sid("other").token("jti-0", exp), &[]).await.unwrap();

        let notice = by_sid("sid-1").token("jti-1", exp);
        let full = index.complete(&notice, &["s1".to_owned()]).await.unwrap_err();
        assert!(matches!(full, IndexError::ReplaySetFull { capacity: 1 }), "{full:?}");
        assert_eq!(named(&index, &notice).await, ["s1"], "removed although complete failed");

        now.fetch_add(120, Ordering::SeqCst);
        let notice = by_sid("sid-1").token("jti-1", at(&now, HOUR));
        assert_eq!(end(&index, &notice).await, ["s1"], "expired token IDs make room");
        assert_eq!(index.pending(&notice).await.unwrap(), Pending::Replayed);
    }
}
