//! The index in Redis, shared by every app instance (feature `redis`).

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use fred::{
    interfaces::{KeysInterface, LuaInterface},
    types::{Expiration, SetOptions},
};

use super::{IndexError, IndexFuture, ReplayGuard, SessionIndex, SignIn, key::digest};

/// The key prefix a [`RedisIndex`] uses unless told otherwise.
pub const DEFAULT_PREFIX: &str = "oidc-logout:";

/// Adds the session ID (ARGV[1]) to each set in KEYS and pushes the set's
/// expiry to ARGV[2] (ms since the epoch) unless it already lasts longer.
const RECORD: &str = r"
local at = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('SADD', key, ARGV[1])
  if redis.call('PEXPIRETIME', key) < at then
    redis.call('PEXPIREAT', key, at)
  end
end
return 0
";

/// Returns the members of the set KEYS[1] and deletes it, atomically.
const TAKE: &str = r"
local ids = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return ids
";

/// A [`SessionIndex`] and [`ReplayGuard`] in Redis, shared by every app instance.
///
/// Works over any fred client that speaks keys and Lua: a `Pool` (e.g. the
/// one `tower-sessions-redis-store` uses) or a `Client`. Needs Redis 7.0 or
/// later (`PEXPIRETIME`). Give the client short timeouts: a Redis that is
/// down fails a call with [`IndexError::Store`] rather than hanging it.
///
/// Keys, under a [prefix](Self::prefix) ([`DEFAULT_PREFIX`]):
///
/// - `<prefix>sid:<digest>`: a set of app session IDs per (`iss`, `sid`);
/// - `<prefix>sub:<digest>`: a set of app session IDs per (`iss`, `sub`);
/// - `<prefix>jti:<digest>`: one key per logout token seen.
///
/// `<digest>` is a BLAKE3 hash of the kind, `iss` and the value, each
/// length-prefixed: whatever bytes the claims hold, keys are fixed-size
/// hex, no two claims share one, and claims are not readable from Redis.
/// Each set expires with the longest session it holds; each token ID when
/// its `until` passes. Nothing outlives its sessions.
///
/// Round trips: [`record`](SessionIndex::record), each take and each
/// [`first_use`](ReplayGuard::first_use) is one command (`EVAL` of a small
/// Lua script, or `SET NX PXAT`), atomic in Redis.
///
/// Taking by `sid` leaves those session IDs in the user's `sub` set (and
/// taking by `sub` in the `sid` sets) until that set expires: a later take
/// may return an ID already ended, which ending again deletes nothing.
/// Likewise, recording one session ID under another `sid` or `sub` adds it
/// there and leaves it under the old ones until they expire.
/// Redis Cluster is not supported: `record` writes the `sid` and the `sub`
/// set in one script, and they hash to different slots.
#[derive(Clone)]
pub struct RedisIndex<C> {
    client: C,
    prefix: String,
}

impl<C> RedisIndex<C> {
    /// An index over `client`, with keys under [`DEFAULT_PREFIX`].
    pub fn new(client: C) -> Self {
        Self { client, prefix: DEFAULT_PREFIX.to_owned() }
    }

    /// Puts every key under `prefix` instead (e.g. `"my-app:oidc-logout:"`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The Redis key of (`kind`, `iss`, `value`); `kind` is `sid`, `sub` or `jti`.
    fn key(&self, kind: &str, iss: &str, value: &str) -> String {
        format!("{}{kind}:{}", self.prefix, digest(kind, iss, value))
    }
}

impl<C> fmt::Debug for RedisIndex<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIndex").field("prefix", &self.prefix).finish_non_exhaustive()
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
    async fn take_set(&self, key: String) -> Result<Vec<String>, IndexError> {
        let mut ids: Vec<String> =
            self.client.eval(TAKE, vec![key], None::<String>).await.map_err(store_error)?;
        ids.sort_unstable();
        Ok(ids)
    }
}

impl<C> SessionIndex for RedisIndex<C>
where
    C: LuaInterface + KeysInterface + Send + Sync,
{
    fn record<'a>(&'a self, sign_in: &'a SignIn) -> IndexFuture<'a, ()> {
        Box::pin(async move {
            let mut keys = Vec::with_capacity(2);
            if let Some(sid) = &sign_in.sid {
                keys.push(self.key("sid", &sign_in.iss, sid));
            }
            keys.push(self.key("sub", &sign_in.iss, &sign_in.sub));
            let args =
                vec![sign_in.session_id.clone(), epoch_millis(sign_in.expires_at).to_string()];
            self.client.eval::<(), _, _, _>(RECORD, keys, args).await.map_err(store_error)
        })
    }

    fn take_by_sid<'a>(&'a self, iss: &'a str, sid: &'a str) -> IndexFuture<'a, Vec<String>> {
        Box::pin(self.take_set(self.key("sid", iss, sid)))
    }

    fn take_by_sub<'a>(&'a self, iss: &'a str, sub: &'a str) -> IndexFuture<'a, Vec<String>> {
        Box::pin(self.take_set(self.key("sub", iss, sub)))
    }
}

impl<C> ReplayGuard for RedisIndex<C>
where
    C: LuaInterface + KeysInterface + Send + Sync,
{
    fn first_use<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        until: SystemTime,
    ) -> IndexFuture<'a, bool> {
        Box::pin(async move {
            if until <= SystemTime::now() {
                return Ok(true); // the validator refuses expired tokens; nothing to remember
            }
            let set: Option<String> = self
                .client
                .set(
                    self.key("jti", iss, jti),
                    1,
                    Some(Expiration::PXAT(epoch_millis(until))),
                    Some(SetOptions::NX),
                    false,
                )
                .await
                .map_err(store_error)?;
            Ok(set.is_some())
        })
    }
}
