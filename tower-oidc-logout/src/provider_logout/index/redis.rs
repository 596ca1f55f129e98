//! The index in Redis, shared by every app instance (feature `redis`).

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use fred::interfaces::LuaInterface;

use super::{
    DEFAULT_MAX_SIGN_INS_PER_SUBJECT, IndexError, IndexFuture, LogoutNotice, Pending, SessionIndex,
    SignIn, key::digest,
};

/// The key prefix a [`RedisIndex`] uses unless told otherwise.
pub const DEFAULT_PREFIX: &str = "oidc-logout:";

/// `forget(prefix, id)`: drops session `id` from the sets its record
/// (`<prefix>ses:<id>`) names, and the record; returns the record's nonce
/// and remembers each sid set it touched, so that `gone()` lists those left
/// empty (on a Cluster, their pointers must go). Begins every script below.
macro_rules! with_forget {
    ($script:literal) => {
        concat!(
            r"
local touched = {}
local function forget(prefix, id)
  local record = prefix .. 'ses:' .. id
  local old = redis.call('HMGET', record, 'sid', 'sub', 'n')
  if old[2] then redis.call('ZREM', old[2], id) end
  if old[1] then
    redis.call('ZREM', old[1], id)
    table.insert(touched, old[1])
  end
  redis.call('DEL', record)
  return old[3] or ''
end
local function gone()
  local empty = {}
  for _, set in ipairs(touched) do
    if redis.call('EXISTS', set) == 0 then table.insert(empty, set) end
  end
  return empty
end
",
            $script
        )
    };
}

// After `with_forget!`, which its scripts use too.
mod cluster;

/// Records session ARGV[2] under the sets KEYS[1] (`sub`) and KEYS[2]
/// (`sid`, optional), expiring at ARGV[3] (ms), with nonce ARGV[6]; ARGV[4]
/// is now, ARGV[5] the bound per subject, ARGV[1] the prefix (on a Cluster,
/// with the subject's tag: every key in one slot). See [`RedisIndex`] for
/// the layout. Returns `{{expiry}, {evicted ID, its nonce, ...}, {sid sets
/// left empty}}`, which a Cluster needs to update its pointers.
const RECORD: &str = with_forget!(
    r"
local prefix, id, nonce = ARGV[1], ARGV[2], ARGV[6]
local at, now, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local record = prefix .. 'ses:' .. id
local old = redis.call('HMGET', record, 'sid', 'sub')
if old[2] == KEYS[1] and old[1] == (KEYS[2] or false) then
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) > at then at = tonumber(score) end
end
forget(prefix, id)
redis.call('HSET', record, 'sub', KEYS[1], 'n', nonce)
if KEYS[2] then redis.call('HSET', record, 'sid', KEYS[2]) end
redis.call('PEXPIREAT', record, at)
for _, set in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
end
local evicted = {}
local over = redis.call('ZCARD', KEYS[1]) - max + 1
if over > 0 then
  for _, first in ipairs(redis.call('ZRANGE', KEYS[1], 0, over - 1)) do
    table.insert(evicted, first)
    table.insert(evicted, forget(prefix, first))
  end
end
for _, set in ipairs(KEYS) do
  redis.call('ZADD', set, at, id)
  local last = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', set, last[2])
end
return {{string.format('%.0f', at)}, evicted, gone()}
"
);

/// Forgets session ARGV[2] (ARGV[1] the prefix).
const FORGET: &str = with_forget!(
    r"
forget(ARGV[1], ARGV[2])
return 0
"
);

/// `{'1'}` when KEYS[2] (a `jti`, optional) exists, else `{'0', ids...}`:
/// the members of the set KEYS[1] not expired at ARGV[2] (ms; ARGV[1] the prefix).
const PENDING: &str = r"
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return {'1'} end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')
table.insert(ids, 1, '0')
return ids
";

/// Forgets sessions ARGV[3..] (ARGV[1] the prefix), then remembers the
/// `jti` KEYS[1] (optional) until ARGV[2] (ms).
const COMPLETE: &str = with_forget!(
    r"
for i = 3, #ARGV do forget(ARGV[1], ARGV[i]) end
if KEYS[1] then redis.call('SET', KEYS[1], 1, 'PXAT', ARGV[2], 'NX') end
return 0
"
);

/// A [`SessionIndex`] in Redis, shared by every app instance: one server,
/// a primary with replicas behind Sentinel, or Redis Cluster.
///
/// Works over any fred client that speaks Lua: a `Pool` (e.g. the one
/// `tower-sessions-redis-store` uses) or a `Client`, built from a
/// `redis://`, `redis-sentinel://` or `redis-cluster://` config. Needs
/// Redis 7.0 or later. Give the client short timeouts: a Redis that is down
/// fails a call with [`IndexError::Store`] rather than hanging it.
///
/// # One server, or Sentinel
///
/// Keys, under a [prefix](Self::prefix) ([`DEFAULT_PREFIX`]):
///
/// - `<prefix>sid:<digest>`: a sorted set of app session IDs per (`iss`,
///   `sid`), each scored by its session's expiry (ms since the epoch);
/// - `<prefix>sub:<digest>`: the same per user (`iss`, `sub`), holding at
///   most [`max_sign_ins_per_subject`](Self::max_sign_ins_per_subject);
/// - `<prefix>ses:<session ID>`: a hash naming the two sets that session is
///   in, so that it can be forgotten, and dropped from both when one
///   logout or the bound removes it;
/// - `<prefix>jti:<digest>`: one key per logout token used.
///
/// `<digest>` is a BLAKE3 hash of the kind, `iss` and the value, each
/// length-prefixed: whatever bytes the claims hold, keys are fixed-size
/// hex, no two claims share one, and claims are not readable from Redis
/// (session IDs are, as in the session store itself). Each set expires with
/// the longest session it holds, and drops members already expired whenever
/// it is written; each record with its session; each token ID when its
/// `until` passes. Nothing outlives its session, and a forgotten or ended
/// session leaves nothing behind.
///
/// Round trips: [`record`](SessionIndex::record),
/// [`forget`](SessionIndex::forget), [`pending`](SessionIndex::pending)
/// and [`complete`](SessionIndex::complete) are one `EVAL` each, atomic in
/// Redis: one per sign-out, two per provider logout.
///
/// Behind Sentinel the client follows the primary through a failover, and
/// calls made while there is none fail (a sign-out fails, a provider
/// logout answers `400 server_error` and is retried). Replication is
/// asynchronous: a write the old primary acknowledged just before it died
/// may be missing on the new one (Redis' own caveat; `min-replicas-to-write`
/// narrows it).
///
/// # Redis Cluster
///
/// A script may only touch keys of one hash slot, so on a clustered client
/// (`is_clustered()`) the keys are laid out per user. `<tag>` is the
/// user's `sub` digest, in braces so that it alone picks the slot:
///
/// - `<prefix>{<tag>}:sub:<tag>`, `<prefix>{<tag>}:sid:<digest>` and
///   `<prefix>{<tag>}:ses:<session ID>`: the sets and records above, all of
///   one user in one slot (the record also holds a random nonce), so
///   recording, the bound per user and forgetting are the standalone
///   scripts, atomic in that slot. Users spread over the nodes; one
///   issuer's users are not on one node.
/// - `<prefix>ses-in:<session ID>`: `<tag> <nonce>`, which user's slot holds
///   that session's record (a sign-out knows only the session ID);
/// - `<prefix>sid-in:<digest>`: a sorted set of the users with a session of
///   that (`iss`, `sid`), scored by expiry (a logout token may carry `sid`
///   without `sub`);
/// - `<prefix>jti:<digest>`: as above.
///
/// Each call is then a few single-slot steps. Pointers are written after
/// the user's records and removed after them, a session is only forgotten
/// while its record still holds the nonce its pointer named (so a sign-out
/// racing a new sign-in of the same session ID leaves the newer one whole),
/// and a user's `sid-in` entry, dropped when its set empties, is put back
/// if a sign-in refilled the set meanwhile: interleaved calls of many
/// instances keep the contract. [`pending`](SessionIndex::pending) still
/// changes nothing, and [`complete`](SessionIndex::complete) remembers the
/// token only once every ended session left the index. Sequential round
/// trips (steps of one phase run concurrently): `record` 2 (more when it
/// moves a session from another user or the bound drops one); a sign-out 3,
/// or 4 when its `sid` set empties; `pending` 1 by `sub`, 2 by `sid`;
/// `complete` up to 5. A tag per (`iss`, `sid`) instead would split one user's sessions
/// over slots and leave the bound per user without an atomic home.
#[derive(Clone)]
pub struct RedisIndex<C> {
    client: C,
    prefix: String,
    max_per_subject: usize,
}

impl<C> RedisIndex<C> {
    /// An index over `client`, with keys under [`DEFAULT_PREFIX`].
    pub fn new(client: C) -> Self {
        Self {
            client,
            prefix: DEFAULT_PREFIX.to_owned(),
            max_per_subject: DEFAULT_MAX_SIGN_INS_PER_SUBJECT,
        }
    }

    /// Puts every key under `prefix` instead (e.g. `"my-app:oidc-logout:"`).
    ///
    /// On a Cluster, keep `{` out of it: Redis hashes only the first
    /// `{...}` of a key, so a braced prefix would put every key of the
    /// index in one slot, on one node (still correct, no longer spread).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// At most `max` sign-ins of one user (`iss`, `sub`) at once (at least
    /// 1, default [`DEFAULT_MAX_SIGN_INS_PER_SUBJECT`]); one more drops that
    /// user's entry that expires first.
    #[must_use]
    pub fn max_sign_ins_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
        self
    }

    /// The Redis key of (`kind`, `iss`, `value`); `kind` is `sid`, `sub` or `jti`.
    fn key(&self, kind: &str, iss: &str, value: &str) -> String {
        format!("{}{kind}:{}", self.prefix, digest(kind, iss, value))
    }

    /// The set a logout of `notice` reads: by `sid`, else by `sub`.
    fn set_of(&self, notice: &LogoutNotice<'_>) -> Option<String> {
        match (notice.sid, notice.sub) {
            (Some(sid), _) => Some(self.key("sid", notice.iss, sid)),
            (None, Some(sub)) => Some(self.key("sub", notice.iss, sub)),
            (None, None) => None,
        }
    }

    /// The key of the logout token's `jti`, if the notice has a token.
    fn token_key(&self, notice: &LogoutNotice<'_>) -> Option<(String, SystemTime)> {
        notice.token.map(|(jti, until)| (self.key("jti", notice.iss, jti), until))
    }
}

impl<C> fmt::Debug for RedisIndex<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIndex")
            .field("prefix", &self.prefix)
            .field("max_sign_ins_per_subject", &self.max_per_subject)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch (0 before it), as Redis' `*AT` options take them.
fn epoch_millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn store_error(error: fred::error::Error) -> IndexError {
    IndexError::Store(Box::new(error))
}

impl<C> RedisIndex<C>
where
    C: LuaInterface + Send + Sync,
{
    /// Runs `script` with `keys`, the prefix as `ARGV[1]` and `args` after it.
    async fn run<R>(
        &self,
        script: &str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, IndexError>
    where
        R: fred::types::FromValue,
    {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(self.prefix.clone());
        argv.extend(args);
        self.client.eval(script, keys, argv).await.map_err(store_error)
    }
}

impl<C> SessionIndex for RedisIndex<C>
where
    C: LuaInterface + Send + Sync,
{
    fn record<'a>(&'a self, sign_in: &'a SignIn) -> IndexFuture<'a, ()> {
        Box::pin(async move {
            if self.client.is_clustered() {
                return self.cluster_record(sign_in).await;
            }
            let mut keys = vec![self.key("sub", &sign_in.iss, &sign_in.sub)];
            if let Some(sid) = &sign_in.sid {
                keys.push(self.key("sid", &sign_in.iss, sid));
            }
            let args = vec![
                sign_in.session_id.clone(),
                epoch_millis(sign_in.expires_at).to_string(),
                epoch_millis(SystemTime::now()).to_string(),
                self.max_per_subject.to_string(),
                String::new(),
            ];
            self.run::<fred::types::Value>(RECORD, keys, args).await.map(drop)
        })
    }

    fn forget<'a>(&'a self, session_id: &'a str) -> IndexFuture<'a, ()> {
        Box::pin(async move {
            if self.client.is_clustered() {
                return self.cluster_forget(session_id).await;
            }
            self.run(FORGET, Vec::new(), vec![session_id.to_owned()]).await
        })
    }

    fn pending<'a>(&'a self, notice: &'a LogoutNotice<'a>) -> IndexFuture<'a, Pending> {
        Box::pin(async move {
            if self.client.is_clustered() {
                return self.cluster_pending(notice).await;
            }
            let Some(set) = self.set_of(notice) else { return Ok(Pending::Sessions(Vec::new())) };
            let mut keys = vec![set];
            keys.extend(self.token_key(notice).map(|(key, _)| key));
            let now = epoch_millis(SystemTime::now()).to_string();
            let mut reply: Vec<String> = self.run(PENDING, keys, vec![now]).await?;
            if reply.first().map(String::as_str) != Some("0") {
                return Ok(Pending::Replayed);
            }
            reply.remove(0);
            reply.sort_unstable();
            Ok(Pending::Sessions(reply))
        })
    }

    fn complete<'a>(
        &'a self,
        notice: &'a LogoutNotice<'a>,
        ended: &'a [String],
    ) -> IndexFuture<'a, ()> {
        Box::pin(async move {
            if self.client.is_clustered() {
                return self.cluster_complete(notice, ended).await;
            }
            // A token already expired needs no remembering (the validator refuses it).
            let token = self.token_key(notice).filter(|(_, until)| *until > SystemTime::now());
            let until = token.as_ref().map_or(0, |(_, until)| epoch_millis(*until));
            let keys = token.map(|(key, _)| key).into_iter().collect();
            let mut args = Vec::with_capacity(ended.len() + 1);
            args.push(until.to_string());
            args.extend(ended.iter().cloned());
            self.run(COMPLETE, keys, args).await
        })
    }
}
