//! `RedisIndex` on a real Redis: the session index and the logout-token
//! replay set shared by two app instances, TTLs on every key, one round trip
//! per take and per `jti` check, and ending tower-sessions sessions kept in
//! Redis by tower-sessions-redis-store.
//!
//! Needs `redis-server` (Debian's package) or `REDIS_URL`; run with
//! `cargo test --features redis-tests,redis --test redis_index`.

#[allow(dead_code)] // the harness also serves tests/redis.rs, which stops and restarts Redis
#[path = "redis/server.rs"]
mod server;

use std::{
    collections::BTreeMap,
    str::FromStr,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, SystemTime},
};

use server::Redis;
use tower_oidc_logout::index::{EndSessions, RedisIndex, ReplayGuard, SessionIndex, SignIn};
use tower_sessions_redis_store::{
    RedisStore,
    fred::{
        prelude::{Client, ClientLike, KeysInterface, Pool},
        types::{ClusterHash, CustomCommand, InfoKind},
    },
};

const ISS: &str = "https://op.example";
const HOUR: Duration = Duration::from_secs(3600);

/// A key prefix of this test's own, so tests sharing one Redis (`REDIS_URL`) do not meet.
fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("test-{test}-{}-{nanos}-{}:", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn index(redis: &Redis, prefix: &str) -> RedisIndex<Pool> {
    RedisIndex::new(redis.app_pool().await).prefix(prefix)
}

fn sign_in(sub: &str, sid: Option<&str>, session_id: &str, lasts: Duration) -> SignIn {
    let mut sign_in = SignIn::new(ISS, sub, session_id, SystemTime::now() + lasts);
    sign_in.sid = sid.map(str::to_owned);
    sign_in
}

/// Every key under `prefix` (KEYS is fine on a test's own few keys).
async fn keys_under(client: &Client, prefix: &str) -> Vec<String> {
    let keys = CustomCommand::new_static("KEYS", ClusterHash::FirstKey, false);
    let mut keys: Vec<String> = client.custom(keys, vec![format!("{prefix}*")]).await.unwrap();
    keys.sort();
    keys
}

/// `cmdstat_<name>` → calls, from `INFO commandstats`, without `info` itself.
async fn command_calls(client: &Client) -> BTreeMap<String, u64> {
    let info: String = client.info(Some(InfoKind::CommandStats)).await.unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .filter(|(name, _)| name != "info")
        .collect()
}

/// The commands run between two `command_calls` snapshots, with their counts.
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(name, calls)| ((*name).to_owned(), *calls)).collect()
}

#[tokio::test]
async fn take_by_sid_and_by_sub_remove_and_return_only_what_they_name() {
    let redis = Redis::shared_or_own();
    let index = index(&redis, &unique_prefix("take")).await;
    index.record(&sign_in("alice", Some("sid-1"), "a1", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-1"), "a2", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-2"), "a3", HOUR)).await.unwrap();
    index.record(&sign_in("alice", None, "a4", HOUR)).await.unwrap();
    index.record(&sign_in("bob", Some("sid-9"), "b1", HOUR)).await.unwrap();
    let other = SignIn::new("https://other.example", "alice", "x1", SystemTime::now() + HOUR);
    index.record(&other.sid("sid-1")).await.unwrap();

    assert_eq!(index.take_by_sid(ISS, "sid-1").await.unwrap(), ["a1", "a2"]);
    assert!(index.take_by_sid(ISS, "sid-1").await.unwrap().is_empty(), "taken twice");
    assert_eq!(index.take(ISS, Some("sid-2"), Some("alice")).await.unwrap(), ["a3"], "sid first");

    // Every session of alice at ISS; a1..a3 were already taken by sid and are
    // still listed under her sub (documented: ending them again deletes nothing).
    assert_eq!(index.take_by_sub(ISS, "alice").await.unwrap(), ["a1", "a2", "a3", "a4"]);
    assert!(index.take_by_sub(ISS, "alice").await.unwrap().is_empty());
    assert_eq!(index.take_by_sub(ISS, "bob").await.unwrap(), ["b1"], "bob's session was touched");
    assert_eq!(index.take_by_sid("https://other.example", "sid-1").await.unwrap(), ["x1"]);
}

#[tokio::test]
async fn every_key_has_a_ttl_the_longest_sessions_and_hostile_claims_stay_inside_the_digest() {
    let redis = Redis::shared_or_own();
    let client = redis.client().await;
    let prefix = unique_prefix("ttl");
    let index = index(&redis, &prefix).await;

    let hostile_sid = "sid\r\n*3\r\n$3\r\nDEL{}:*\u{0}";
    index.record(&sign_in("alice", Some(hostile_sid), "s1", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some(hostile_sid), "s2", 2 * HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some(hostile_sid), "s3", HOUR / 2)).await.unwrap();
    assert!(
        index
            .first_use(ISS, "jti:*\n", SystemTime::now() + Duration::from_secs(120))
            .await
            .unwrap()
    );

    let keys = keys_under(&client, &prefix).await;
    assert_eq!(keys.len(), 3, "one sid set, one sub set, one jti: {keys:?}");
    for key in &keys {
        let rest = key.strip_prefix(&prefix).unwrap();
        let (kind, digest) = rest.split_once(':').unwrap();
        assert!(["sid", "sub", "jti"].contains(&kind), "{key}");
        assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        let pttl: i64 = client.pttl(key.as_str()).await.unwrap();
        let expected = if kind == "jti" { Duration::from_secs(120) } else { 2 * HOUR };
        let expected = i64::try_from(expected.as_millis()).unwrap();
        assert!(
            pttl > expected - 5_000 && pttl <= expected,
            "{key}: PTTL {pttl}, want ~{expected}"
        );
    }
    assert_eq!(index.take_by_sid(ISS, hostile_sid).await.unwrap(), ["s1", "s2", "s3"]);
}

#[tokio::test]
async fn two_instances_share_records_and_a_replayed_jti_is_refused_by_the_other() {
    let redis = Redis::shared_or_own();
    let prefix = unique_prefix("instances");
    let (a, b) = (index(&redis, &prefix).await, index(&redis, &prefix).await);

    a.record(&sign_in("alice", Some("sid-1"), "on-a", HOUR)).await.unwrap();
    b.record(&sign_in("alice", Some("sid-1"), "on-b", HOUR)).await.unwrap();
    assert_eq!(b.take_by_sid(ISS, "sid-1").await.unwrap(), ["on-a", "on-b"]);
    assert!(a.take_by_sid(ISS, "sid-1").await.unwrap().is_empty(), "A still sees what B took");

    let exp = SystemTime::now() + Duration::from_secs(120);
    assert!(a.first_use(ISS, "jti-1", exp).await.unwrap());
    assert!(!b.first_use(ISS, "jti-1", exp).await.unwrap(), "B accepted A's token again");
    assert!(!a.first_use(ISS, "jti-1", exp).await.unwrap());
    assert!(b.first_use("https://other.example", "jti-1", exp).await.unwrap(), "issuers mixed");
}

#[tokio::test]
async fn concurrent_takes_of_one_sid_hand_each_session_to_exactly_one_instance() {
    let redis = Redis::shared_or_own();
    let prefix = unique_prefix("race");
    let (a, b) = (index(&redis, &prefix).await, index(&redis, &prefix).await);
    for round in 0..20 {
        let sid = format!("sid-{round}");
        for n in 0..5 {
            a.record(&sign_in("alice", Some(&sid), &format!("s{round}-{n}"), HOUR)).await.unwrap();
        }
        let (x, y) = tokio::join!(a.take_by_sid(ISS, &sid), b.take_by_sid(ISS, &sid));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.len() + y.len(), 5, "round {round}: {x:?} {y:?}");
        assert!(x.is_empty() || y.is_empty(), "round {round}: a set split between takes");
    }
}

#[tokio::test]
async fn record_take_and_jti_are_one_command_each() {
    // Its own Redis: commandstats of a shared one would count other tests' commands.
    let redis = Redis::own();
    let client = redis.client().await;
    let index = index(&redis, &unique_prefix("round-trips")).await;

    let before = command_calls(&client).await;
    index.record(&sign_in("alice", Some("sid-1"), "s1", HOUR)).await.unwrap();
    let after = command_calls(&client).await;
    // One EVAL; SADD, PEXPIRETIME and PEXPIREAT run inside it, on the server.
    assert_eq!(
        delta(&before, &after),
        counts(&[("eval", 1), ("sadd", 2), ("pexpiretime", 2), ("pexpireat", 2)])
    );

    let before = after;
    assert_eq!(index.take_by_sid(ISS, "sid-1").await.unwrap(), ["s1"]);
    let after = command_calls(&client).await;
    assert_eq!(delta(&before, &after), counts(&[("eval", 1), ("smembers", 1), ("del", 1)]));

    let before = after;
    let exp = SystemTime::now() + Duration::from_secs(60);
    assert!(index.first_use(ISS, "jti-1", exp).await.unwrap());
    assert!(!index.first_use(ISS, "jti-1", exp).await.unwrap());
    let after = command_calls(&client).await;
    assert_eq!(delta(&before, &after), counts(&[("set", 2)]), "one SET NX PXAT per check");
}

#[tokio::test]
async fn a_store_that_is_down_is_an_error_not_an_empty_answer() {
    let mut redis = Redis::own();
    let index = index(&redis, &unique_prefix("down")).await;
    index.record(&sign_in("alice", Some("sid-1"), "s1", HOUR)).await.unwrap();
    redis.stop();

    let error = index.take_by_sid(ISS, "sid-1").await.unwrap_err();
    assert!(matches!(error, tower_oidc_logout::IndexError::Store(_)), "{error:?}");
    let exp = SystemTime::now() + Duration::from_secs(60);
    assert!(index.first_use(ISS, "jti-1", exp).await.is_err(), "replay check passed without Redis");
    assert!(index.record(&sign_in("bob", None, "s2", HOUR)).await.is_err());
}

#[tokio::test]
async fn a_sign_in_taken_by_sid_is_deleted_from_tower_sessions_redis_store() {
    use tower_oidc_logout::index::tower_sessions_0_14::{DeleteFromStore, record_sign_in};
    use tower_sessions_0_14::{Session, SessionStore, session::Id};

    let redis = Redis::shared_or_own();
    let pool = redis.app_pool().await;
    let store = std::sync::Arc::new(RedisStore::new(pool.clone()));
    let index = RedisIndex::new(pool).prefix(unique_prefix("tower-sessions"));

    let session = Session::new(None, store.clone(), None);
    session.insert("user", "alice").await.unwrap();
    session.save().await.unwrap();
    let id = session.id().unwrap();
    record_sign_in(&index, &session, ISS, Some("sid-1"), "alice").await.unwrap();
    assert!(store.load(&id).await.unwrap().is_some());

    let mut ended = index.take_by_sid(ISS, "sid-1").await.unwrap();
    assert_eq!(ended, [id.to_string()]);
    ended.push("not a session id".to_owned());
    let report = DeleteFromStore::from_arc(store.clone()).end_sessions(&ended).await.unwrap();
    assert_eq!(report.deleted, [id.to_string()]);
    assert_eq!(report.malformed, ["not a session id"]);
    assert!(store.load(&Id::from_str(&id.to_string()).unwrap()).await.unwrap().is_none());

    let client = redis.client().await;
    assert_eq!(client.exists::<u32, _>(id.to_string()).await.unwrap(), 0, "record left in Redis");
}

#[tokio::test]
async fn a_session_store_that_is_down_reports_which_sessions_were_not_ended() {
    use tower_oidc_logout::index::{EndSessionsError, tower_sessions_0_14::DeleteFromStore};
    use tower_sessions_0_14::{Session, session::Id};

    let mut redis = Redis::own();
    let store = RedisStore::new(redis.app_pool().await);
    let session = Session::new(None, std::sync::Arc::new(store.clone()), None);
    session.insert("user", "alice").await.unwrap();
    session.save().await.unwrap();
    let live = session.id().unwrap().to_string();
    let other = Id::default().to_string();
    redis.stop();

    let ids = [live.clone(), "not an id".to_owned(), other.clone()];
    let error = DeleteFromStore::new(store).end_sessions(&ids).await.unwrap_err();
    let EndSessionsError::Store { ended, failed, .. } = &error else { panic!("{error:?}") };
    assert_eq!(failed, &[live, other], "every valid ID tried, each failure listed");
    assert!(ended.deleted.is_empty());
    assert_eq!(ended.malformed, ["not an id"]);
    assert!(error.to_string().contains("2 session(s)"), "{error}");
}
