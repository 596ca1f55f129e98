//! Redis Cluster: three primaries started here on free loopback ports
//! (`redis-server --cluster-enabled yes`, joined by `redis-cli --cluster
//! create`), and `RedisIndex`, tower-sessions-redis-store and two demos on it.

use crate::{
    index::{
        ISS, by_sid, by_sub, end, named,
        through_the_route::{self, CLIENT},
    },
    instances, server,
};

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use tokio::task::JoinSet;
use tower_oidc_logout::provider_logout::index::{
    LogoutNotice, Pending, RedisIndex, SessionIndex, SignIn,
};
use tower_sessions_0_14::{Session, SessionStore, session::Id};
use tower_sessions_redis_store::{
    RedisStore,
    fred::{
        prelude::{Client, ClientLike, KeysInterface, Pool},
        types::{ClusterHash, CustomCommand},
    },
};

const HOUR: Duration = Duration::from_secs(3600);
/// The command timeout of the load test's pools.
const LOAD: Duration = Duration::from_secs(5);

/// A free loopback port (free when asked; the server binds it right after).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh directory for one test's servers (their node or sentinel files).
pub(crate) fn scratch_dir(what: &str) -> PathBuf {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir()
        .join(format!("tower-oidc-logout-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `redis-server` with `args`; waits until it listens on `port`.
pub(crate) fn spawn_redis(args: &[&str], port: u16) -> Child {
    let child = Command::new("redis-server").args(args).stdout(Stdio::null()).spawn().expect(
        "`redis-server` (Debian's redis-server package; scripts/redis-tests.sh installs it)",
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "redis-server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// `redis-cli -p <port> <args>`'s output.
pub(crate) fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian's redis-tools, a dependency of redis-server)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `ready` every 50 ms for at most `within`.
pub(crate) fn wait_for(what: &str, within: Duration, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills `child` (by its pid) and reaps it.
pub(crate) fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Three cluster primaries, no replicas; every server stopped on drop.
pub(crate) struct Cluster {
    /// `redis-cluster://127.0.0.1:<port>?node=127.0.0.1:<port>&node=...`.
    pub(crate) url: String,
    ports: Vec<u16>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Cluster {
    pub(crate) fn start() -> Self {
        let dir = scratch_dir("cluster");
        let (mut ports, mut children) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let (port, bus) = (free_port(), free_port());
            let (p, b) = (port.to_string(), bus.to_string());
            let conf = dir.join(format!("nodes-{port}.conf"));
            let args = [
                "--bind",
                "127.0.0.1",
                "--port",
                &p,
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &b,
                "--cluster-config-file",
                conf.to_str().unwrap(),
                "--dir",
                dir.to_str().unwrap(),
                "--save",
                "",
                "--appendonly",
                "no",
            ];
            children.push(spawn_redis(&args, port));
            ports.push(port);
        }
        let mut cluster = Self { url: String::new(), ports, children, dir };
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(nodes.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = cli(cluster.ports[0], &create);
        assert!(out.contains("All 16384 slots covered"), "cluster create: {out}");
        for &port in &cluster.ports {
            wait_for("cluster_state:ok", Duration::from_secs(10), || {
                cli(port, &["cluster", "info"]).contains("cluster_state:ok")
            });
        }
        cluster.url = format!("redis-cluster://{}?node={}&node={}", nodes[0], nodes[1], nodes[2]);
        cluster
    }

    /// Each node's own `redis://` URL.
    pub(crate) fn node_urls(&self) -> Vec<String> {
        self.ports.iter().map(|port| format!("redis://127.0.0.1:{port}")).collect()
    }

    /// A client of each node on its own (to look at the keys each one holds).
    pub(crate) async fn nodes(&self) -> Vec<Client> {
        let mut clients = Vec::new();
        for url in self.node_urls() {
            clients.push(server::redis_client(&url).await);
        }
        clients
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            kill(child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every key under `prefix`, node by node.
pub(crate) async fn keys_by_node(nodes: &[Client], prefix: &str) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for node in nodes {
        let keys = CustomCommand::new_static("KEYS", ClusterHash::FirstKey, false);
        let mut keys: Vec<String> = node.custom(keys, vec![format!("{prefix}*")]).await.unwrap();
        keys.sort();
        all.push(keys);
    }
    all
}

/// A session of `sub` saved in `store` and recorded under (`iss`, `sid`, `sub`).
pub(crate) async fn saved_session(
    store: &RedisStore<Pool>,
    index: &RedisIndex<Pool>,
    iss: &str,
    sid: &str,
    sub: &str,
) -> Id {
    use tower_oidc_logout::tower_sessions::v0_14::record_sign_in;
    let session = Session::new(None, Arc::new(store.clone()), None);
    session.insert("user", sub).await.unwrap();
    session.save().await.unwrap();
    record_sign_in(index, &session, iss, Some(sid), sub).await.unwrap();
    session.id().unwrap()
}

fn sign_in(sub: &str, sid: Option<&str>, session_id: &str, lasts: Duration) -> SignIn {
    let sign_in = SignIn::new(ISS, sub, session_id, SystemTime::now() + lasts);
    match sid {
        Some(sid) => sign_in.sid(sid),
        None => sign_in,
    }
}

/// The index contract of the standalone tests, on a cluster: by sid or sub,
/// pending changes nothing, a session recorded again under another user
/// moves, the bound per user, TTLs on every key, nothing left behind; and
/// users' keys land on more than one node.
#[tokio::test]
async fn on_a_cluster_the_index_keeps_its_contract_and_leaves_nothing_behind() {
    let cluster = Cluster::start();
    let nodes = cluster.nodes().await;
    let prefix = "cluster-contract:";
    let index = RedisIndex::new(server::app_pool_at(&cluster.url).await)
        .prefix(prefix)
        .max_sign_ins_per_subject(3);
    index.record(&sign_in("alice", Some("sid-1"), "a1", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-1"), "a2", HOUR)).await.unwrap();
    index.record(&sign_in("alice", Some("sid-2"), "a3", HOUR)).await.unwrap();
    index.record(&sign_in("bob", Some("sid-9"), "b1", HOUR)).await.unwrap();
    // A sid shared by two users (the index does not assume one user per sid).
    index.record(&sign_in("carol", Some("sid-1"), "c1", HOUR)).await.unwrap();
    // Recorded again under another user: it moves.
    index.record(&sign_in("dave", Some("sid-d"), "moved", HOUR)).await.unwrap();
    index.record(&sign_in("erin", Some("sid-e"), "moved", 2 * HOUR)).await.unwrap();
    assert!(named(&index, &by_sid("sid-d")).await.is_empty(), "left under its old user");
    assert!(named(&index, &by_sub("dave")).await.is_empty(), "left under its old user");
    assert_eq!(named(&index, &by_sub("erin")).await, ["moved"]);

    let spread = keys_by_node(&nodes, prefix).await;
    assert!(spread.iter().filter(|keys| !keys.is_empty()).count() > 1, "one node: {spread:?}");
    for (node, keys) in nodes.iter().zip(&spread) {
        for key in keys {
            let pttl: i64 = node.pttl(key.as_str()).await.unwrap();
            assert!(pttl > 0 && pttl <= 2 * 3_600_000, "{key}: PTTL {pttl}");
        }
    }

    assert_eq!(named(&index, &by_sid("sid-1")).await, ["a1", "a2", "c1"]);
    assert_eq!(named(&index, &by_sid("sid-1")).await, ["a1", "a2", "c1"], "pending changed it");
    let exp = SystemTime::now() + Duration::from_secs(60);
    let token = by_sid("sid-1").token("jti-1", exp);
    assert_eq!(end(&index, &token).await, ["a1", "a2", "c1"]);
    assert_eq!(index.pending(&token).await.unwrap(), Pending::Replayed);
    assert_eq!(named(&index, &by_sub("alice")).await, ["a3"], "ended by sid, left alice's list");
    assert_eq!(end(&index, &LogoutNotice::new(ISS, Some("sid-2"), Some("alice"))).await, ["a3"]);

    // The bound per user: the newest three stay; then sign-outs.
    for n in 0..10u64 {
        let lasts = HOUR + Duration::from_secs(n);
        index.record(&sign_in("mallory", Some("sid-m"), &format!("m{n}"), lasts)).await.unwrap();
    }
    assert_eq!(named(&index, &by_sid("sid-m")).await, ["m7", "m8", "m9"]);
    for id in ["m7", "m8", "m9", "b1", "moved"] {
        index.forget(id).await.unwrap();
    }
    assert!(named(&index, &by_sub("bob")).await.is_empty());
    let left: Vec<String> = keys_by_node(&nodes, prefix).await.concat();
    assert!(
        left.len() == 1 && left[0].starts_with(&format!("{prefix}jti:")),
        "left behind (only the used token is kept): {left:?}"
    );
}

/// A provider logout whose `complete` fails half-way on a Cluster, at each
/// of its steps in turn, then the provider's retry of the same token. The
/// fault is Redis' own: the index's ACL user loses access to one kind of
/// key on every node (the user's slot, the `sid` pointers, the token IDs)
/// between `pending` and `complete` (where the store deletes the sessions).
/// Nothing is consumed (the token is not used, a retry is not refused as a
/// replay) and the retry finishes the job: the sessions leave the index,
/// the token is used once. What a failed clean-up leaves is a pointer that
/// expires with its session.
#[tokio::test]
async fn on_a_cluster_a_logout_failing_half_way_is_finished_by_the_retry() {
    const SECRET: &str = "half-way-secret";
    let cluster = Cluster::start();
    let nodes = cluster.nodes().await; // the default user: sees everything
    let prefix = "half-way:";
    let kinds =
        [("{", "the user's slot"), ("sid-in:", "the sid pointers"), ("jti:", "the token IDs")];
    // The index's user may touch every kind of key but `denied`.
    let allow = |denied: Option<&str>| {
        for &port in &cluster.ports {
            let password = format!(">{SECRET}");
            let mut acl = vec!["ACL", "SETUSER", "app", "reset", "on", &password, "+@all"];
            let patterns: Vec<String> = kinds
                .iter()
                .chain(&[("ses-in:", "the session pointers")])
                .filter(|(kind, _)| Some(*kind) != denied)
                .map(|(kind, _)| format!("~{prefix}{kind}*"))
                .collect();
            acl.extend(patterns.iter().map(String::as_str));
            assert_eq!(cli(port, &acl).trim(), "OK");
        }
    };
    allow(None);
    let url =
        cluster.url.replacen("redis-cluster://", &format!("redis-cluster://app:{SECRET}@"), 1);
    let index = RedisIndex::new(server::app_pool_at(&url).await).prefix(prefix);
    let exp = SystemTime::now() + Duration::from_secs(60);

    for (n, (kind, what)) in kinds.iter().enumerate() {
        let (sub, sid, jti) = (format!("user-{n}"), format!("sid-{n}"), format!("jti-{n}"));
        for id in [format!("{sub}-a"), format!("{sub}-b")] {
            index.record(&sign_in(&sub, Some(&sid), &id, HOUR)).await.unwrap();
        }
        let token = by_sid(&sid).token(&jti, exp);
        let ended = named(&index, &token).await;
        assert_eq!(ended, [format!("{sub}-a"), format!("{sub}-b")]);

        allow(Some(kind));
        let failed = index.complete(&token, &ended).await;
        allow(None);
        assert!(failed.is_err(), "denied {what}, complete still succeeded");

        // The provider's retry of the same token: not a replay.
        let again = named(&index, &token).await;
        if *kind == "{" {
            assert_eq!(again, ended, "failing at its first write, complete changed something");
        }
        index.complete(&token, &again).await.unwrap();
        assert_eq!(index.pending(&token).await.unwrap(), Pending::Replayed, "{what}");
        assert!(named(&index, &by_sid(&sid)).await.is_empty(), "{what}: left in the index");
        assert!(named(&index, &by_sub(&sub)).await.is_empty(), "{what}: left in the index");
    }

    let left = keys_by_node(&nodes, prefix).await;
    let used = left.concat().iter().filter(|key| key.starts_with(&format!("{prefix}jti:"))).count();
    assert_eq!(used, kinds.len(), "each token used once: {left:?}");
    for (node, keys) in nodes.iter().zip(&left) {
        for key in keys {
            let stale_pointer = [&format!("{prefix}ses-in:"), &format!("{prefix}sid-in:")]
                .iter()
                .any(|pointer| key.starts_with(pointer.as_str()));
            assert!(stale_pointer || key.starts_with(&format!("{prefix}jti:")), "left: {key}");
            let pttl: i64 = node.pttl(key.as_str()).await.unwrap();
            assert!(pttl > 0 && pttl <= 3_600_000, "{key}: PTTL {pttl}");
        }
    }
}

/// 400 users signed in on a cluster (sessions in tower-sessions-redis-store,
/// the index in `RedisIndex`, both clustered); then at once 200 sign out
/// (the store's delete, then `forget`, as `FlushSession` does) and 200 are
/// ended by a logout token, delivered alternately to instance A and B. Every
/// session is gone, each token is refused replayed on the other instance,
/// and no node holds anything of the index but the 200 used token IDs.
#[tokio::test]
async fn on_a_cluster_200_sign_outs_and_200_backchannel_logouts_at_once_leave_nothing() {
    const USERS: usize = 400;
    let cluster = Cluster::start();
    let nodes = cluster.nodes().await;
    let provider = through_the_route::provider().await;
    let prefix = "cluster-load:";
    // 400 calls at once on a 2-core machine queue longer than the fault tests' 300 ms.
    let url = cluster.url.as_str();
    let within = |_| through_the_route::instance_within(&provider, url, url, prefix, None, LOAD);
    let (a, b) = (Arc::new(within(()).await), Arc::new(within(()).await));
    let pool = server::app_pool_within(url, LOAD).await;
    let store = RedisStore::new(pool.clone());

    let mut ids = Vec::new();
    for i in 0..USERS {
        let (sid, sub) = (format!("sid-{i}"), format!("user-{i}"));
        ids.push(saved_session(&store, &a.index, provider.issuer(), &sid, &sub).await);
    }
    let mut per_node = BTreeMap::new();
    for (n, keys) in keys_by_node(&nodes, prefix).await.iter().enumerate() {
        per_node.insert(n, keys.len());
    }
    assert!(per_node.values().all(|&n| n > 0), "users not spread over the nodes: {per_node:?}");

    let mut tasks = JoinSet::new();
    for (i, id) in ids.iter().cloned().enumerate() {
        let (a, b, store, provider) = (a.clone(), b.clone(), store.clone(), provider.clone());
        tasks.spawn(async move {
            if i % 2 == 0 {
                store.delete(&id).await.unwrap();
                a.index.forget(&id.to_string()).await.unwrap();
                None
            } else {
                let (sid, sub) = (format!("sid-{i}"), format!("user-{i}"));
                let claims = provider.logout_token_claims(CLIENT, &sid, &sub);
                let token = provider.logout_token(&claims);
                let (to, other) = if i % 4 == 1 { (&a, &b) } else { (&b, &a) };
                let (status, code, body) = to.post(&token).await;
                assert_eq!(status, http::StatusCode::OK, "{code:?} {body}");
                Some((token, other.clone()))
            }
        });
    }
    let replays: Vec<_> = tasks.join_all().await.into_iter().flatten().collect();
    assert_eq!(replays.len(), USERS / 2);
    for id in &ids {
        assert!(store.load(id).await.unwrap().is_none(), "session {id} lives on");
    }
    for (token, other) in replays.iter().take(20) {
        assert_eq!(other.post(token).await.1, Some("replayed"));
    }
    let left = keys_by_node(&nodes, prefix).await.concat();
    let tokens = left.iter().filter(|key| key.starts_with(&format!("{prefix}jti:"))).count();
    assert_eq!(tokens, USERS / 2, "each used token is remembered until it expires");
    assert_eq!(left.len(), tokens, "index keys left: {:?}", &left[..left.len().min(10)]);
}

/// Two demos on the cluster (`SESSION_STORE=redis-cluster://...`): the
/// standalone test's flow, sessions and index in the cluster.
#[tokio::test]
async fn on_a_cluster_a_logout_token_sent_to_a_ends_the_session_on_b_and_is_refused_replayed() {
    let cluster = Cluster::start();
    instances::logout_token_across_two_demos(&cluster.url).await;
}

/// Two demos on the cluster: signed in through one, signed out through the other.
#[tokio::test]
async fn on_a_cluster_two_demos_serve_one_user() {
    let cluster = Cluster::start();
    instances::two_demos_serve_one_user(&cluster.url).await;
}
