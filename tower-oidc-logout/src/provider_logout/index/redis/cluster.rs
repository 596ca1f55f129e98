//! [`RedisIndex`] on Redis Cluster: each user's keys in one hash slot,
//! pointers in their own slots, and single-slot steps that stay correct
//! when interleaved. The layout and the reasons are on [`RedisIndex`].

use std::{collections::BTreeMap, time::SystemTime};

use fred::interfaces::LuaInterface;
use futures_util::future::try_join_all;

use super::{RECORD, RedisIndex, epoch_millis, store_error};
use crate::provider_logout::index::{IndexError, LogoutNotice, Pending, SignIn, key::digest};

/// Forgets, in one subject's slot (KEYS[1] its `sub` set, for routing;
/// ARGV[1] the prefix with its tag), each session ARGV[2i] whose record
/// still holds nonce ARGV[2i+1]: one recorded again since keeps its entry.
/// Returns the sid sets left empty.
const FORGET: &str = with_forget!(
    r"
for i = 2, #ARGV, 2 do
  if redis.call('HGET', ARGV[1] .. 'ses:' .. ARGV[i], 'n') == ARGV[i + 1] then
    forget(ARGV[1], ARGV[i])
  end
end
return gone()
"
);

/// The members of the sorted set KEYS[1] not expired at ARGV[1] (ms).
const MEMBERS: &str = r"return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')";

/// The highest score in the sorted set KEYS[1], or nil when it is gone.
const LAST_SCORE: &str = r"return redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]";

/// The session pointer KEYS[1] := ARGV[1] until ARGV[2] (ms); returns the old value.
const POINT: &str = r"return redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2], 'GET')";

/// The value of KEYS[1].
const GET: &str = r"return redis.call('GET', KEYS[1])";

/// Deletes KEYS[1] if it still holds ARGV[1].
const UNPOINT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
";

/// Adds subject ARGV[1] to the sid pointer set KEYS[1] at ARGV[2] (ms, never
/// lowering it), drops members expired at ARGV[3]; the set expires with its last.
const POINT_SID: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
return 0
";

/// Drops subject ARGV[1] from the sid pointer set KEYS[1]; the rest expires with its last.
const UNPOINT_SID: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if last then redis.call('PEXPIREAT', KEYS[1], last) end
return 0
";

/// Whether the token key KEYS[1] exists (1 or 0).
const USED: &str = r"return redis.call('EXISTS', KEYS[1])";

/// Remembers the token key KEYS[1] until ARGV[1] (ms).
const USE: &str = r"
redis.call('SET', KEYS[1], 1, 'PXAT', ARGV[1], 'NX')
return 0
";

/// Where a session's record is: its subject's tag and the record's nonce.
struct Place {
    tag: String,
    nonce: String,
}

impl Place {
    /// The session pointer's value.
    fn value(&self) -> String {
        format!("{} {}", self.tag, self.nonce)
    }

    fn parse(value: &str) -> Result<Self, IndexError> {
        let (tag, nonce) = value
            .split_once(' ')
            .ok_or_else(|| IndexError::Store("a session pointer is not `<tag> <nonce>`".into()))?;
        Ok(Self { tag: tag.to_owned(), nonce: nonce.to_owned() })
    }
}

/// A fresh record nonce: 64 random bits, hex.
fn nonce() -> Result<String, IndexError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| IndexError::Store(e.to_string().into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl<C> RedisIndex<C>
where
    C: LuaInterface + Send + Sync,
{
    async fn eval<R>(&self, script: &str, key: String, args: Vec<String>) -> Result<R, IndexError>
    where
        R: fred::types::FromValue,
    {
        self.client.eval(script, vec![key], args).await.map_err(store_error)
    }

    /// The prefix of subject `tag`'s keys: `<prefix>{<tag>}:`.
    fn subject_prefix(&self, tag: &str) -> String {
        format!("{}{{{tag}}}:", self.prefix)
    }

    /// Subject `tag`'s `sub` set (`tag` is its own digest).
    fn subject_set(&self, tag: &str) -> String {
        format!("{}sub:{tag}", self.subject_prefix(tag))
    }

    /// The pointer to the subject slot of session `id`.
    fn session_pointer(&self, id: &str) -> String {
        format!("{}ses-in:{id}", self.prefix)
    }

    /// The set of subjects with a session of (`iss`, `sid`) digest `sid`.
    fn sid_pointer(&self, sid: &str) -> String {
        format!("{}sid-in:{sid}", self.prefix)
    }

    /// Subject `tag` no longer holds sid set `set` (left empty): drops it
    /// from the sid's pointer, then puts it back if a record raced in.
    async fn unpoint_sid(&self, tag: &str, set: &str) -> Result<(), IndexError> {
        let Some(sid) = set.strip_prefix(&format!("{}sid:", self.subject_prefix(tag))) else {
            return Ok(());
        };
        let pointer = self.sid_pointer(sid);
        self.eval::<i64>(UNPOINT_SID, pointer.clone(), vec![tag.to_owned()]).await?;
        let last: Option<String> = self.eval(LAST_SCORE, set.to_owned(), Vec::new()).await?;
        if let Some(last) = last {
            let now = epoch_millis(SystemTime::now()).to_string();
            self.eval::<i64>(POINT_SID, pointer, vec![tag.to_owned(), last, now]).await?;
        }
        Ok(())
    }

    /// Forgets `sessions` (ID and nonce) in subject `tag`'s slot, then drops
    /// their pointers and the sid pointers of the sets they left empty.
    async fn forget_in(&self, tag: &str, sessions: &[(String, String)]) -> Result<(), IndexError> {
        let mut args = vec![self.subject_prefix(tag)];
        for (id, nonce) in sessions {
            args.extend([id.clone(), nonce.clone()]);
        }
        let empty: Vec<String> = self.eval(FORGET, self.subject_set(tag), args).await?;
        let unpoint = sessions.iter().map(|(id, nonce)| {
            let value = Place { tag: tag.to_owned(), nonce: nonce.clone() }.value();
            self.eval::<i64>(UNPOINT, self.session_pointer(id), vec![value])
        });
        let unpoint_sids = empty.iter().map(|set| self.unpoint_sid(tag, set));
        futures_util::try_join!(try_join_all(unpoint), try_join_all(unpoint_sids))?;
        Ok(())
    }

    pub(super) async fn cluster_record(&self, sign_in: &SignIn) -> Result<(), IndexError> {
        let tag = digest("sub", &sign_in.iss, &sign_in.sub);
        let prefix = self.subject_prefix(&tag);
        let sid = sign_in.sid.as_deref().map(|sid| digest("sid", &sign_in.iss, sid));
        let mut keys = vec![self.subject_set(&tag)];
        keys.extend(sid.as_ref().map(|sid| format!("{prefix}sid:{sid}")));
        let nonce = nonce()?;
        let now = epoch_millis(SystemTime::now()).to_string();
        let args = vec![
            prefix,
            sign_in.session_id.clone(),
            epoch_millis(sign_in.expires_at).to_string(),
            now.clone(),
            self.max_per_subject.to_string(),
            nonce.clone(),
        ];
        let reply: Vec<Vec<String>> =
            self.client.eval(RECORD, keys, args).await.map_err(store_error)?;
        let [at, evicted, empty]: [Vec<String>; 3] = reply
            .try_into()
            .map_err(|_| IndexError::Store("the record script answered an unknown shape".into()))?;
        let at = at.into_iter().next().unwrap_or_default();

        let place = Place { tag: tag.clone(), nonce };
        let point = self.eval::<Option<String>>(
            POINT,
            self.session_pointer(&sign_in.session_id),
            vec![place.value(), at.clone()],
        );
        let point_sid = async {
            match &sid {
                Some(sid) => {
                    let args = vec![tag.clone(), at.clone(), now.clone()];
                    self.eval::<i64>(POINT_SID, self.sid_pointer(sid), args).await.map(drop)
                }
                None => Ok(()),
            }
        };
        let unpoint = evicted.chunks(2).map(|pair| {
            let (id, nonce) = (pair[0].clone(), pair.get(1).cloned().unwrap_or_default());
            let value = Place { tag: tag.clone(), nonce }.value();
            async move { self.eval::<i64>(UNPOINT, self.session_pointer(&id), vec![value]).await }
        });
        let unpoint_sids = empty.iter().map(|set| self.unpoint_sid(&tag, set));
        let (old, (), _, _) = futures_util::try_join!(
            point,
            point_sid,
            try_join_all(unpoint),
            try_join_all(unpoint_sids)
        )?;
        // Recorded before under another user: forget it there (its record
        // still holds the nonce the pointer had).
        if let Some(old) = old.as_deref().map(Place::parse).transpose()?
            && old.tag != tag
        {
            let mut args = vec![self.subject_prefix(&old.tag)];
            args.extend([sign_in.session_id.clone(), old.nonce]);
            let empty: Vec<String> = self.eval(FORGET, self.subject_set(&old.tag), args).await?;
            try_join_all(empty.iter().map(|set| self.unpoint_sid(&old.tag, set))).await?;
        }
        Ok(())
    }

    pub(super) async fn cluster_forget(&self, session_id: &str) -> Result<(), IndexError> {
        let pointer: Option<String> =
            self.eval(GET, self.session_pointer(session_id), Vec::new()).await?;
        let Some(place) = pointer.as_deref().map(Place::parse).transpose()? else {
            return Ok(());
        };
        self.forget_in(&place.tag, &[(session_id.to_owned(), place.nonce)]).await
    }

    /// The subjects whose sets a logout of `notice` reads, and each one's set.
    async fn sets_of(&self, notice: &LogoutNotice<'_>) -> Result<Vec<String>, IndexError> {
        match (notice.sid, notice.sub) {
            (Some(sid), _) => {
                let sid = digest("sid", notice.iss, sid);
                let now = epoch_millis(SystemTime::now()).to_string();
                let tags: Vec<String> =
                    self.eval(MEMBERS, self.sid_pointer(&sid), vec![now]).await?;
                Ok(tags
                    .iter()
                    .map(|tag| format!("{}sid:{sid}", self.subject_prefix(tag)))
                    .collect())
            }
            (None, Some(sub)) => Ok(vec![self.subject_set(&digest("sub", notice.iss, sub))]),
            (None, None) => Ok(Vec::new()),
        }
    }

    pub(super) async fn cluster_pending(
        &self,
        notice: &LogoutNotice<'_>,
    ) -> Result<Pending, IndexError> {
        let used = async {
            match self.token_key(notice) {
                Some((key, _)) => self.eval::<i64>(USED, key, Vec::new()).await.map(|n| n == 1),
                None => Ok(false),
            }
        };
        let (used, sets) = futures_util::try_join!(used, self.sets_of(notice))?;
        if used {
            return Ok(Pending::Replayed);
        }
        let now = epoch_millis(SystemTime::now()).to_string();
        let read =
            sets.into_iter().map(|set| self.eval::<Vec<String>>(MEMBERS, set, vec![now.clone()]));
        let mut ids: Vec<String> = try_join_all(read).await?.into_iter().flatten().collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(Pending::Sessions(ids))
    }

    pub(super) async fn cluster_complete(
        &self,
        notice: &LogoutNotice<'_>,
        ended: &[String],
    ) -> Result<(), IndexError> {
        let read = ended.iter().map(|id| async move {
            let value: Option<String> =
                self.eval(GET, self.session_pointer(id), Vec::new()).await?;
            value.as_deref().map(Place::parse).transpose().map(|place| (id.clone(), place))
        });
        let mut by_tag: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (id, place) in try_join_all(read).await? {
            if let Some(Place { tag, nonce }) = place {
                by_tag.entry(tag).or_default().push((id, nonce));
            }
        }
        try_join_all(by_tag.iter().map(|(tag, sessions)| self.forget_in(tag, sessions))).await?;
        // Only once every session left the index is the token used.
        let token = self.token_key(notice).filter(|(_, until)| *until > SystemTime::now());
        if let Some((key, until)) = token {
            self.eval::<i64>(USE, key, vec![epoch_millis(until).to_string()]).await?;
        }
        Ok(())
    }
}
