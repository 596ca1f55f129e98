//! `RedisIndex` on a real Redis: the session index and the logout-token
//! replay set shared by two app instances, TTLs on every key, one round trip
//! per call, nothing left behind by ended or forgotten sessions, the bound
//! per user, and ending tower-sessions sessions kept in Redis by
//! tower-sessions-redis-store; a failure between any two steps loses nothing.

use crate::server;

use std::{
    collections::BTreeMap,
    str::FromStr,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, SystemTime},
};

use server::Redis;
use tower_oidc_logout::provider_logout::index::{
    EndSessions, LogoutNotice, Pending, RedisIndex, SessionIndex, SignIn,
};
use tower_sessions_redis_store::{
    RedisStore,
    fred::{
        prelude::{Client, ClientLike, KeysInterface, Pool},
        types::{ClusterHash, CustomCommand, InfoKind},
    },
};

pub(crate) const ISS: &str = "https://op.example";
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

/// What a logout of `notice` names now (panics on a replay).
pub(crate) async fn named(index: &RedisIndex<Pool>, notice: &LogoutNotice<'_>) -> Vec<String> {
    match index.pending(notice).await.unwrap() {
        Pending::Sessions(ids) => ids,
        Pending::Replayed => panic!("replayed"),
    }
}

/// A logout that succeeded: pending, then complete with what it named.
pub(crate) async fn end(index: &RedisIndex<Pool>, notice: &LogoutNotice<'_>) -> Vec<String> {
    let ids = named(index, notice).await;
    index.complete(notice, &ids).await.unwrap();
    ids
}

pub(crate) fn by_sid(sid: &str) -> LogoutNotice<'_> {
    LogoutNotice::new(ISS, Some(sid), None)
}

pub(crate) fn by_sub(sub: &str) -> LogoutNotice<'_> {
    LogoutNotice::new(ISS, None, Some(sub))
}

#[tokio::test]
async fn a_logout_by_sid_or_sub_ends_only_what_it_names_and_leaves_nothing_of_it() {
    let redis = Redis::shared_or_own();
    let client = redis.client().await;
    let prefix = unique_prefix("end");
    let index = index(&redis, &prefix).await;
    index.record(&sign_in("alice", Some("sid-1"), "a1", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-1"), "a2", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-2"), "a3", HOUR)).await.unwrap();
    index.record(&sign_in("alice", None, "a4", HOUR)).await.unwrap();
    index.record(&sign_in("bob", Some("sid-9"), "b1", HOUR)).await.unwrap();
    let other = SignIn::new("https://other.example", "alice", "x1", SystemTime::now() + HOUR);
    index.record(&other.sid("sid-1")).await.unwrap();

    assert_eq!(named(&index, &by_sid("sid-1")).await, ["a1", "a2"]);
    assert_eq!(named(&index, &by_sid("sid-1")).await, ["a1", "a2"], "pending changed the index");
    assert_eq!(end(&index, &by_sid("sid-1")).await, ["a1", "a2"]);
    assert!(named(&index, &by_sid("sid-1")).await.is_empty(), "ended twice");
    let both = LogoutNotice::new(ISS, Some("sid-2"), Some("alice"));
    assert_eq!(end(&index, &both).await, ["a3"], "sid first");

    // Ended by sid, they also left alice's list.
    assert_eq!(end(&index, &by_sub("alice")).await, ["a4"]);
    assert_eq!(end(&index, &by_sub("bob")).await, ["b1"], "bob's session was touched");
    let other = LogoutNotice::new("https://other.example", Some("sid-1"), None);
    assert_eq!(end(&index, &other).await, ["x1"]);
    assert!(keys_under(&client, &prefix).await.is_empty(), "left behind");
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
    let exp = SystemTime::now() + Duration::from_secs(120);
    index.complete(&by_sid("none").token("jti:*\n", exp), &[]).await.unwrap();

    let keys = keys_under(&client, &prefix).await;
    assert_eq!(keys.len(), 6, "one sid set, one sub set, three records, one jti: {keys:?}");
    for key in &keys {
        let rest = key.strip_prefix(&prefix).unwrap();
        let (kind, name) = rest.split_once(':').unwrap();
        let lasts = match kind {
            "jti" => Duration::from_secs(120),
            "ses" => match name {
                "s1" => HOUR,
                "s2" => 2 * HOUR,
                "s3" => HOUR / 2,
                _ => panic!("{key}"),
            },
            "sid" | "sub" => 2 * HOUR,
            _ => panic!("{key}"),
        };
        if kind != "ses" {
            assert!(name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        }
        let pttl: i64 = client.pttl(key.as_str()).await.unwrap();
        let expected = i64::try_from(lasts.as_millis()).unwrap();
        assert!(
            pttl > expected - 5_000 && pttl <= expected,
            "{key}: PTTL {pttl}, want ~{expected}"
        );
    }
    assert_eq!(named(&index, &by_sid(hostile_sid)).await, ["s1", "s2", "s3"]);
}

#[tokio::test]
async fn two_instances_share_records_and_a_used_jti_is_refused_by_the_other() {
    let redis = Redis::shared_or_own();
    let prefix = unique_prefix("instances");
    let (a, b) = (index(&redis, &prefix).await, index(&redis, &prefix).await);

    a.record(&sign_in("alice", Some("sid-1"), "on-a", HOUR)).await.unwrap();
    b.record(&sign_in("alice", Some("sid-1"), "on-b", HOUR)).await.unwrap();
    let exp = SystemTime::now() + Duration::from_secs(120);
    let notice = by_sid("sid-1").token("jti-1", exp);
    assert_eq!(end(&b, &notice).await, ["on-a", "on-b"]);
    assert_eq!(a.pending(&notice).await.unwrap(), Pending::Replayed, "A accepted B's token again");
    assert!(named(&a, &by_sid("sid-1")).await.is_empty(), "A still sees what B ended");
    let other_issuer =
        LogoutNotice::new("https://other.example", Some("sid-1"), None).token("jti-1", exp);
    assert_eq!(b.pending(&other_issuer).await.unwrap(), Pending::Sessions(vec![]), "issuers mixed");
}

#[tokio::test]
async fn one_subject_is_bounded_and_sessions_that_end_leave_redis_as_it_was() {
    let redis = Redis::own();
    let client = redis.client().await;
    let prefix = unique_prefix("flat");
    let index = index(&redis, &prefix).await.max_sign_ins_per_subject(3);
    index.record(&sign_in("alice", Some("sid-a"), "alice-1", HOUR)).await.unwrap();
    for n in 0..50u64 {
        let lasts = 2 * HOUR + Duration::from_secs(n);
        index.record(&sign_in("mallory", Some("sid-m"), &format!("m{n:02}"), lasts)).await.unwrap();
    }
    assert_eq!(named(&index, &by_sub("mallory")).await, ["m47", "m48", "m49"]);
    assert_eq!(named(&index, &by_sid("sid-m")).await, ["m47", "m48", "m49"]);
    // The newest is recorded even when it expires first.
    index.record(&sign_in("mallory", None, "short", HOUR)).await.unwrap();
    assert_eq!(named(&index, &by_sub("mallory")).await, ["m48", "m49", "short"]);
    assert_eq!(named(&index, &by_sid("sid-a")).await, ["alice-1"], "another user's entry went");
    let keys_before = keys_under(&client, &prefix).await.len();

    // Sign-ins and sign-outs (forget), and sign-ins ended by the provider: nothing grows.
    for n in 0..200u32 {
        let (id, sid) = (format!("bob-{n}"), format!("sid-b{n}"));
        index.record(&sign_in("bob", Some(&sid), &id, HOUR)).await.unwrap();
        if n % 2 == 0 {
            index.forget(&id).await.unwrap();
        } else {
            let exp = SystemTime::now() + Duration::from_secs(1);
            let token = format!("jti-{n}");
            end(&index, &by_sid(&sid).token(&token, exp)).await;
        }
    }
    let jti_keys = keys_under(&client, &format!("{prefix}jti:")).await.len();
    assert_eq!(jti_keys, 100, "each used token is remembered until it expires");
    let keys = keys_under(&client, &prefix).await;
    assert_eq!(keys.len(), keys_before + jti_keys, "records left behind: {keys:?}");
}

#[tokio::test]
async fn recording_under_other_claims_moves_the_session_and_expired_members_are_dropped() {
    let redis = Redis::shared_or_own();
    let index = index(&redis, &unique_prefix("move")).await;
    index.record(&sign_in("alice", Some("sid-1"), "s1", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-2"), "s1", HOUR)).await.unwrap();
    assert!(named(&index, &by_sid("sid-1")).await.is_empty(), "left under its old sid");
    assert_eq!(named(&index, &by_sid("sid-2")).await, ["s1"]);

    // A member whose session expired is not named, though its set lives on.
    index
        .record(&sign_in("alice", Some("sid-2"), "short", Duration::from_millis(300)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(named(&index, &by_sid("sid-2")).await, ["s1"]);
}

#[tokio::test]
async fn each_call_is_one_round_trip() {
    // Its own Redis: commandstats of a shared one would count other tests' commands.
    let redis = Redis::own();
    let client = redis.client().await;
    let index = index(&redis, &unique_prefix("round-trips")).await;

    let evals = |before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>| {
        delta(before, after).get("eval").copied().unwrap_or(0)
    };
    let before = command_calls(&client).await;
    index.record(&sign_in("alice", Some("sid-1"), "s1", HOUR)).await.unwrap();
    let after = command_calls(&client).await;
    assert_eq!(evals(&before, &after), 1);
    assert_eq!(delta(&before, &after).get("zadd"), Some(&2), "{:?}", delta(&before, &after));

    let exp = SystemTime::now() + Duration::from_secs(60);
    let notice = by_sid("sid-1").token("jti-1", exp);
    let before = after;
    assert_eq!(named(&index, &notice).await, ["s1"]);
    let after = command_calls(&client).await;
    assert_eq!(delta(&before, &after), counts(&[("eval", 1), ("exists", 1), ("zrangebyscore", 1)]));

    let before = after;
    index.complete(&notice, &["s1".to_owned()]).await.unwrap();
    assert_eq!(index.pending(&notice).await.unwrap(), Pending::Replayed);
    index.forget("s1").await.unwrap();
    let after = command_calls(&client).await;
    assert_eq!(evals(&before, &after), 3, "{:?}", delta(&before, &after));
}

#[tokio::test]
async fn a_store_that_is_down_is_an_error_not_an_empty_answer() {
    let mut redis = Redis::own();
    let index = index(&redis, &unique_prefix("down")).await;
    index.record(&sign_in("alice", Some("sid-1"), "s1", HOUR)).await.unwrap();
    redis.stop();

    let exp = SystemTime::now() + Duration::from_secs(60);
    let notice = by_sid("sid-1").token("jti-1", exp);
    let error = index.pending(&notice).await.unwrap_err();
    assert!(
        matches!(error, tower_oidc_logout::provider_logout::index::IndexError::Store(_)),
        "{error:?}"
    );
    assert!(index.complete(&notice, &["s1".to_owned()]).await.is_err());
    assert!(index.record(&sign_in("bob", None, "s2", HOUR)).await.is_err());
    assert!(index.forget("s1").await.is_err());
}

#[tokio::test]
async fn a_sign_in_named_by_sid_is_deleted_from_tower_sessions_redis_store() {
    use tower_oidc_logout::tower_sessions::v0_14::{DeleteFromStore, record_sign_in};
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

    let mut ended = named(&index, &by_sid("sid-1")).await;
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
    use tower_oidc_logout::{
        provider_logout::index::EndSessionsError, tower_sessions::v0_14::DeleteFromStore,
    };
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

/// Back-Channel Logout through the layer, with the index in Redis and the
/// sessions in tower-sessions-redis-store: faults between the steps.
pub(crate) mod through_the_route {
    use std::{
        convert::Infallible,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering::SeqCst},
        },
    };

    use axum::body::Body;
    use http::{Request, StatusCode, header};
    use http_body_util::BodyExt;
    use tower::{Layer, ServiceExt};
    use tower_oidc_logout::{
        OidcLogoutLayer, StateKey,
        discovery::ProviderMetadata,
        provider_logout::{
            LogoutTokenValidator, ProviderLogout, Refusal, index::EndSessionsFuture,
        },
        tower_sessions::v0_14::DeleteFromStore,
    };
    use tower_oidc_logout_mock::{MockClient, MockProvider};
    use tower_sessions_0_14::{Session, SessionStore, session::Id};

    use super::*;
    use crate::{
        proxy::Proxy,
        server::{app_pool_at, redis_client},
    };

    pub(crate) const CLIENT: &str = "rp";
    const CALLBACK: &str = "https://app.example/logout/callback";
    const BACKCHANNEL: &str = "/logout/backchannel";

    /// Deletes from the store, failing while `failures` is above zero, and
    /// running `after_delete` once the store deleted (a fault between steps).
    struct Store {
        delete: DeleteFromStore<RedisStore<Pool>>,
        failures: Arc<AtomicUsize>,
        after_delete: Option<Box<dyn Fn() + Send + Sync>>,
    }

    impl EndSessions for Store {
        fn end_sessions<'a>(&'a self, ids: &'a [String]) -> EndSessionsFuture<'a> {
            Box::pin(async move {
                if self.failures.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
                    let source = "injected store failure".into();
                    let (ended, failed) = (Default::default(), ids.to_vec());
                    return Err(
                        tower_oidc_logout::provider_logout::index::EndSessionsError::Store {
                            ended,
                            failed,
                            source,
                        },
                    );
                }
                let report = self.delete.end_sessions(ids).await?;
                if let Some(fault) = &self.after_delete {
                    fault();
                }
                Ok(report)
            })
        }
    }

    /// One app instance: its own pools (the index's through `index_url`).
    pub(crate) struct Instance {
        layer: OidcLogoutLayer,
        pub(crate) index: RedisIndex<Pool>,
        failures: Arc<AtomicUsize>,
    }

    /// An instance with its sessions in the Redis at `store` and its index at `index_url`.
    pub(crate) async fn instance(
        provider: &MockProvider,
        store: &str,
        index_url: &str,
        prefix: &str,
        after_delete: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> Instance {
        instance_within(provider, store, index_url, prefix, after_delete, server::TIMEOUT).await
    }

    /// [`instance`] with `timeout` for its Redis commands.
    pub(crate) async fn instance_within(
        provider: &MockProvider,
        store: &str,
        index_url: &str,
        prefix: &str,
        after_delete: Option<Box<dyn Fn() + Send + Sync>>,
        timeout: std::time::Duration,
    ) -> Instance {
        let metadata = ProviderMetadata::discover(provider.issuer()).await.unwrap();
        let validator =
            LogoutTokenValidator::builder().provider(&metadata).client_id(CLIENT).build().unwrap();
        let index =
            RedisIndex::new(server::app_pool_within(index_url, timeout).await).prefix(prefix);
        let failures = Arc::new(AtomicUsize::new(0));
        let store = Store {
            delete: DeleteFromStore::new(RedisStore::new(
                server::app_pool_within(store, timeout).await,
            )),
            failures: failures.clone(),
            after_delete,
        };
        let logout = ProviderLogout::new(Arc::new(index.clone()), store).validator(validator);
        let layer = OidcLogoutLayer::builder()
            .provider(&metadata)
            .client_id(CLIENT)
            .post_logout_redirect_uri(CALLBACK)
            .state_key(StateKey::generate().unwrap())
            .provider_logout(logout)
            .backchannel_logout(BACKCHANNEL)
            .build()
            .unwrap();
        Instance { layer, index, failures }
    }

    impl Instance {
        pub(crate) async fn post(&self, token: &str) -> (StatusCode, Option<&'static str>, String) {
            let app = tower::service_fn(|_: Request<Body>| async {
                Ok::<_, Infallible>(http::Response::new(Body::from("app")))
            });
            let request = Request::post(BACKCHANNEL)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("logout_token={token}")))
                .unwrap();
            let response = self.layer.layer(app).oneshot(request).await.unwrap();
            let code = response.extensions().get::<Refusal>().map(Refusal::code);
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, code, String::from_utf8_lossy(&body).into_owned())
        }
    }

    pub(crate) async fn provider() -> MockProvider {
        MockProvider::builder()
            .register(MockClient::new(CLIENT).post_logout_redirect_uri(CALLBACK))
            .serve("127.0.0.1:0")
            .await
            .unwrap()
    }

    /// A session of alice saved in Redis and recorded under `sid`.
    pub(crate) async fn signed_in(
        store: &str,
        index: &RedisIndex<Pool>,
        iss: &str,
        sid: &str,
    ) -> Id {
        use tower_oidc_logout::tower_sessions::v0_14::record_sign_in;
        let store = Arc::new(RedisStore::new(app_pool_at(store).await));
        let session = Session::new(None, store, None);
        session.insert("user", "alice").await.unwrap();
        session.save().await.unwrap();
        record_sign_in(index, &session, iss, Some(sid), "alice").await.unwrap();
        session.id().unwrap()
    }

    pub(crate) async fn alive(store: &str, id: &Id) -> bool {
        RedisStore::new(app_pool_at(store).await).load(id).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn a_store_failing_once_then_two_instances_receiving_the_retry_end_it_once() {
        let redis = Redis::shared_or_own();
        let provider = provider().await;
        let prefix = unique_prefix("route-store");
        let a = instance(&provider, &redis.url, &redis.url, &prefix, None).await;
        let b = instance(&provider, &redis.url, &redis.url, &prefix, None).await;
        let id = signed_in(&redis.url, &a.index, provider.issuer(), "sid-1").await;
        let token = provider.logout_token(&provider.logout_token_claims(CLIENT, "sid-1", "alice"));

        a.failures.store(1, SeqCst);
        let (status, code, body) = a.post(&token).await;
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, Some("server_error")), "{body}");
        assert!(alive(&redis.url, &id).await);

        let (x, y) = tokio::join!(a.post(&token), b.post(&token));
        for (status, code, body) in [&x, &y] {
            let done = *status == StatusCode::OK || *code == Some("replayed");
            assert!(done, "{status} {code:?} {body}");
        }
        assert!(x.0 == StatusCode::OK || y.0 == StatusCode::OK, "neither ended it");
        assert!(!alive(&redis.url, &id).await, "the retry did not end the session");
        let client = redis.client().await;
        let left = keys_under(&client, &format!("{prefix}s")).await;
        assert!(left.is_empty(), "index entries left: {left:?}");
        assert_eq!(b.post(&token).await.1, Some("replayed"));
    }

    #[tokio::test]
    async fn redis_cut_between_the_delete_and_the_index_update_loses_nothing() {
        let redis = Redis::own();
        let provider = provider().await;
        let prefix = unique_prefix("route-cut");
        let proxy = Arc::new(Proxy::start(redis.addr()).await);
        let (cut, armed) = (proxy.clone(), std::sync::atomic::AtomicBool::new(true));
        let fault = Box::new(move || {
            if armed.swap(false, SeqCst) {
                cut.cut();
            }
        }) as Box<dyn Fn() + Send + Sync>;
        let app = instance(&provider, &redis.url, &proxy.url, &prefix, Some(fault)).await;
        let id = signed_in(&redis.url, &app.index, provider.issuer(), "sid-1").await;
        let token = provider.logout_token(&provider.logout_token_claims(CLIENT, "sid-1", "alice"));

        // The store deletes, then the index's connection drops: complete fails.
        let (status, code, body) = app.post(&token).await;
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, Some("server_error")), "{body}");
        // Still cut: the provider's retry fails at the first step, changing nothing.
        let (status, code, _) = app.post(&token).await;
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, Some("server_error")));

        proxy.restore();
        let mut answer = app.post(&token).await;
        for _ in 0..40 {
            if answer.0 != StatusCode::BAD_REQUEST || answer.1 != Some("server_error") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await; // reconnecting
            answer = app.post(&token).await;
        }
        assert_eq!(answer.0, StatusCode::OK, "the retry after the fault: {answer:?}");
        assert!(!alive(&redis.url, &id).await);
        let client = redis.client().await;
        assert!(keys_under(&client, &format!("{prefix}s")).await.is_empty(), "entries left");
        assert_eq!(app.post(&token).await.1, Some("replayed"));
    }

    /// xorshift64*: the soak's faults, reproducible from the seed it prints.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    /// Two instances on a real Redis (through a proxy that can cut them
    /// off, and restarted at random; it keeps its data on disk), behind a
    /// load balancer registered as the provider's `backchannel_logout_uri`.
    /// Users sign in at the mock; the mock ends their sessions and POSTs the
    /// logout tokens; the store fails, Redis is cut or restarted at random;
    /// failed deliveries are retried as a provider may. Nothing is lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn soak_provider_logouts_under_random_faults_lose_nothing() {
        use std::{sync::Mutex, time::Duration};

        use tower_oidc_logout::tower_sessions::v0_14::record_sign_in;

        use crate::proxy::Proxy;

        const USERS: usize = 40;
        const RETRIES: usize = 60;
        let seed =
            std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64
            }) | 1;
        let rng = Arc::new(Mutex::new(Rng(seed)));
        let roll = |n: u64| rng.lock().unwrap().below(n);

        let redis = Arc::new(Mutex::new(Redis::own_durable()));
        let redis_addr = redis.lock().unwrap().addr();
        let to_redis = Arc::new(Proxy::start(redis_addr).await);
        let listeners = [
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        ];
        let addrs = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let balancer = Proxy::balance(addrs, "http", BACKCHANNEL).await;
        let redirect_uri = "http://127.0.0.1:9/signed-in";
        let provider = MockProvider::builder()
            .register(
                MockClient::new("soak")
                    .secret("soak-secret")
                    .redirect_uri(redirect_uri)
                    .post_logout_redirect_uri(CALLBACK)
                    .backchannel_logout_uri(&balancer.url),
            )
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let metadata = ProviderMetadata::discover(provider.issuer()).await.unwrap();
        let prefix = unique_prefix("soak");
        let mut instances = Vec::new();
        for listener in listeners {
            let pool = app_pool_at(&to_redis.url).await;
            let index = RedisIndex::new(pool.clone()).prefix(&prefix);
            let failures = Arc::new(AtomicUsize::new(0));
            let store = Store {
                delete: DeleteFromStore::new(RedisStore::new(pool.clone())),
                failures: failures.clone(),
                after_delete: None,
            };
            let layer = OidcLogoutLayer::builder()
                .provider(&metadata)
                .client_id("soak")
                .post_logout_redirect_uri(CALLBACK)
                .state_key(StateKey::generate().unwrap())
                .provider_logout(ProviderLogout::new(Arc::new(index.clone()), store))
                .backchannel_logout(BACKCHANNEL)
                .build()
                .unwrap();
            let app = axum::Router::new().fallback(|| async { "app" }).layer(layer);
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            instances.push((index, RedisStore::new(pool), failures));
        }

        // Users sign in at the mock (code flow, tokens issued to the client), each
        // on one instance; a third sign in twice (a second device).
        let mut sessions = Vec::new(); // (sid, user, app session ID)
        for n in 0..USERS {
            let user = format!("user-{n}");
            for _device in 0..(1 + usize::from(n % 3 == 0)) {
                let known: Vec<String> =
                    provider.hosted_sessions().into_iter().map(|s| s.sid).collect();
                let mut browser = tower_oidc_logout_mock::browser::CookieClient::new();
                let query = [
                    ("client_id", "soak"),
                    ("redirect_uri", redirect_uri),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("state", "s"),
                    ("nonce", "n"),
                ];
                let authorize =
                    url::Url::parse_with_params(&provider.authorize_url(), query).unwrap();
                let form = browser.get(authorize.as_str()).await;
                assert_eq!(form.status, StatusCode::OK, "{}", form.body);
                let mut fields = query.to_vec();
                fields.push(("user", &user));
                let code = browser
                    .send(http::Method::POST, &provider.authorize_url(), Some(&fields))
                    .await;
                let location = code.location().expect("redirected with a code");
                let code =
                    location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
                let exchange = [
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect_uri),
                    ("client_id", "soak"),
                    ("client_secret", "soak-secret"),
                ];
                let tokens =
                    browser.send(http::Method::POST, &provider.token_url(), Some(&exchange)).await;
                assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
                let sid = provider
                    .hosted_sessions()
                    .into_iter()
                    .find(|s| s.user == user && !known.contains(&s.sid))
                    .expect("a new hosted session")
                    .sid;
                let (index, store, _) = &instances[roll(2) as usize];
                let session = Session::new(None, Arc::new(store.clone()), None);
                session.insert("user", &user).await.unwrap();
                session.save().await.unwrap();
                record_sign_in(index, &session, provider.issuer(), Some(&sid), &user)
                    .await
                    .unwrap();
                sessions.push((sid, user.clone(), session.id().unwrap()));
            }
        }

        // Faults at random while the provider sends its logouts.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let faults = {
            let (stop, redis, to_redis, rng) =
                (stop.clone(), redis.clone(), to_redis.clone(), rng.clone());
            let failures: Vec<_> = instances.iter().map(|(_, _, f)| f.clone()).collect();
            tokio::spawn(async move {
                let mut counts = [0usize; 3]; // store failures, Redis cut off, Redis restarted
                while !stop.load(SeqCst) {
                    let (pause, kind, which) = {
                        let mut rng = rng.lock().unwrap();
                        (rng.below(60) + 20, rng.below(3) as usize, rng.below(2) as usize)
                    };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    counts[kind] += 1;
                    match kind {
                        0 => failures[which].store(1, SeqCst),
                        1 => {
                            to_redis.cut();
                            tokio::time::sleep(Duration::from_millis(80)).await;
                            to_redis.restore();
                        }
                        _ => {
                            let mut redis = redis.lock().unwrap();
                            redis.stop();
                            redis.start();
                        }
                    }
                }
                counts
            })
        };

        let mut order: Vec<usize> = (0..sessions.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, roll(i as u64 + 1) as usize);
        }
        let mut ended_sids = std::collections::HashSet::new();
        let (mut deliveries, mut first_time, mut retries) = (0, 0, 0);
        let mut refusals = Vec::new();
        let mut sender = tower_oidc_logout_mock::browser::CookieClient::new();
        for i in order {
            let (sid, user, _) = &sessions[i];
            if !ended_sids.insert(sid.clone()) {
                continue;
            }
            // Now and then the provider ends all of a user's sessions at once.
            let ended = if roll(4) == 0 {
                provider.end_sessions_of(user).await
            } else {
                provider.end_session_by_sid(sid).await
            };
            ended_sids.extend(ended.sessions.iter().map(|s| s.sid.clone()));
            let sent = ended.backchannel;
            for delivery in sent {
                deliveries += 1;
                if delivery.succeeded() {
                    first_time += 1;
                    continue;
                }
                let form = [("logout_token", delivery.logout_token.as_str())];
                let mut done = false;
                for _ in 0..RETRIES {
                    retries += 1;
                    let answer = sender.send(http::Method::POST, &balancer.url, Some(&form)).await;
                    if answer.status == StatusCode::OK || answer.body.contains("replayed") {
                        done = true;
                        break;
                    }
                    if !answer.body.contains("\"server_error\"") {
                        refusals.push(format!("{}: {}", answer.status, answer.body));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                assert!(done || !refusals.is_empty(), "a delivery never succeeded: {delivery:?}");
            }
        }
        stop.store(true, SeqCst);
        let [store_failures, cut_offs, restarts] = faults.await.unwrap();
        to_redis.restore();
        assert!(refusals.is_empty(), "valid deliveries refused: {refusals:?}");

        // Every session the provider ended is gone from the store, and nothing of it is indexed.
        let redis_url = redis.lock().unwrap().url.clone();
        let store = RedisStore::new(app_pool_at(&redis_url).await);
        for (sid, user, id) in &sessions {
            assert!(store.load(id).await.unwrap().is_none(), "{user}'s session of {sid} lives on");
        }
        let client = redis_client(&redis_url).await;
        let left: Vec<String> = keys_under(&client, &prefix)
            .await
            .into_iter()
            .filter(|key| !key.starts_with(&format!("{prefix}jti:")))
            .collect();
        assert!(left.is_empty(), "index entries left for ended sessions: {left:?}");
        let used = keys_under(&client, &format!("{prefix}jti:")).await.len();
        assert_eq!(used, deliveries, "one used token ID per delivery that ended its sessions");
        println!(
            "soak (seed {seed}): {} sign-ins, {deliveries} deliveries ({first_time} answered 200 at once), \
             faults {} (store failures {store_failures}, Redis cut off {cut_offs}, Redis restarted {restarts}), \
             {retries} retries, {} sessions ended",
            sessions.len(),
            store_failures + cut_offs + restarts,
            sessions.len(),
        );
    }
}
