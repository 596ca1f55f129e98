//! A primary, a replica and one Sentinel started here on free loopback
//! ports (`redis-server --sentinel`, short timeouts), and what sign-outs
//! and provider logouts do when the primary is killed among them.

use crate::{
    cluster::{cli, free_port, kill, saved_session, scratch_dir, spawn_redis, wait_for},
    index::through_the_route::{self, CLIENT},
    server,
};

use std::{
    path::PathBuf,
    process::Child,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use http::StatusCode;
use tokio::task::JoinSet;
use tower_oidc_logout::provider_logout::index::SessionIndex;
use tower_sessions_0_14::SessionStore;
use tower_sessions_redis_store::RedisStore;

/// The Sentinel service name.
const SERVICE: &str = "tower-oidc-logout";

/// A primary, its replica and one Sentinel watching them; all stopped on drop.
pub(crate) struct Sentinel {
    /// `redis-sentinel://127.0.0.1:<sentinel port>/0?sentinelServiceName=...`.
    pub(crate) url: String,
    primary: Child,
    primary_port: u16,
    replica: Child,
    sentinel: Child,
    replica_port: u16,
    sentinel_port: u16,
    dir: PathBuf,
}

impl Sentinel {
    /// Starts them and waits until the Sentinel knows the replica.
    pub(crate) fn start() -> Self {
        let dir = scratch_dir("sentinel");
        let (primary_port, replica_port, sentinel_port) = (free_port(), free_port(), free_port());
        let server = |port: u16| {
            vec![
                "--bind".to_owned(),
                "127.0.0.1".to_owned(),
                "--port".to_owned(),
                port.to_string(),
                "--save".to_owned(),
                String::new(),
                "--appendonly".to_owned(),
                "no".to_owned(),
                // The replica's copy of the primary's data lands here, not in the package.
                "--dir".to_owned(),
                dir.display().to_string(),
            ]
        };
        let args = server(primary_port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let primary = spawn_redis(&args, primary_port);
        let mut args = server(replica_port);
        args.extend(["--replicaof".to_owned(), "127.0.0.1".to_owned(), primary_port.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let replica = spawn_redis(&args, replica_port);
        wait_for("replica in sync", Duration::from_secs(10), || {
            cli(replica_port, &["info", "replication"]).contains("master_link_status:up")
        });

        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 1\n\
                 sentinel down-after-milliseconds {SERVICE} 500\n\
                 sentinel failover-timeout {SERVICE} 2000\n",
                dir.display()
            ),
        )
        .unwrap();
        let sentinel = spawn_redis(&[conf.to_str().unwrap(), "--sentinel"], sentinel_port);
        let sentinel = Self {
            url: format!(
                "redis-sentinel://127.0.0.1:{sentinel_port}/0?sentinelServiceName={SERVICE}"
            ),
            primary,
            primary_port,
            replica,
            sentinel,
            replica_port,
            sentinel_port,
            dir,
        };
        wait_for("the Sentinel knows the replica", Duration::from_secs(20), || {
            cli(sentinel_port, &["sentinel", "replicas", SERVICE])
                .contains(&replica_port.to_string())
        });
        sentinel
    }

    /// The first primary's own `redis://` URL.
    pub(crate) fn primary_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.primary_port)
    }

    /// Kills the primary by its pid, as a crash would.
    pub(crate) fn kill_primary(&mut self) {
        kill(&mut self.primary);
    }

    /// Whether the Sentinel now names the replica as primary.
    pub(crate) fn replica_promoted(&self) -> bool {
        cli(self.sentinel_port, &["sentinel", "get-master-addr-by-name", SERVICE])
            .lines()
            .any(|line| line.trim() == self.replica_port.to_string())
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        for child in [&mut self.sentinel, &mut self.replica, &mut self.primary] {
            kill(child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How long a sign-out or a delivery keeps being retried.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Sessions in Redis behind Sentinel, two instances: a stream of sign-outs
/// and back-channel deliveries (one user every 20 ms over about 3 s), the
/// primary killed by its pid 1 s in. Sentinel promotes the replica; the
/// instances' pools follow it without a restart. A delivery answered 200
/// ended its session; one answered `400 server_error` is retried as the
/// provider would, until 200 (or `replayed`: a retry that raced its own
/// success); a failed sign-out is tried again. Every session is gone at the
/// end, and a sign-in and sign-out after the failover succeed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_killed_among_sign_outs_and_logouts_fails_over_and_nothing_is_lost() {
    const USERS: usize = 150;
    let mut redis = Sentinel::start();
    let provider = through_the_route::provider().await;
    let prefix = "failover:";
    let a = Arc::new(
        through_the_route::instance(&provider, &redis.url, &redis.url, prefix, None).await,
    );
    let b = Arc::new(
        through_the_route::instance(&provider, &redis.url, &redis.url, prefix, None).await,
    );
    let store = RedisStore::new(server::app_pool_at(&redis.url).await);
    let mut ids = Vec::new();
    for i in 0..USERS {
        let (sid, sub) = (format!("sid-{i}"), format!("user-{i}"));
        ids.push(saved_session(&store, &a.index, provider.issuer(), &sid, &sub).await);
    }
    // Everything signed in has reached the replica before the stream starts.
    tokio::time::sleep(Duration::from_millis(100)).await;

    #[derive(Default)]
    struct Counts {
        delivered: AtomicUsize,
        failed: AtomicUsize,
        retried_ok: AtomicUsize,
        replayed: AtomicUsize,
        signed_out: AtomicUsize,
        sign_out_failed: AtomicUsize,
    }
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let mut stream = JoinSet::new();
    for (i, id) in ids.iter().cloned().enumerate() {
        let (a, b, store, provider, counts) =
            (a.clone(), b.clone(), store.clone(), provider.clone(), counts.clone());
        stream.spawn(async move {
            tokio::time::sleep_until((started + Duration::from_millis(20 * i as u64)).into()).await;
            let instance = if i % 4 < 2 { &a } else { &b };
            let deadline = Instant::now() + GIVE_UP;
            if i % 2 == 0 {
                // A sign-out: the store's delete, then the index (FlushSession's order).
                loop {
                    let done = match store.delete(&id).await {
                        Ok(()) => instance.index.forget(&id.to_string()).await.is_ok(),
                        Err(_) => false,
                    };
                    if done {
                        counts.signed_out.fetch_add(1, Relaxed);
                        break;
                    }
                    counts.sign_out_failed.fetch_add(1, Relaxed);
                    assert!(Instant::now() < deadline, "sign-out {i} never succeeded");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            } else {
                let (sid, sub) = (format!("sid-{i}"), format!("user-{i}"));
                let token =
                    provider.logout_token(&provider.logout_token_claims(CLIENT, &sid, &sub));
                let mut retry = false;
                loop {
                    match instance.post(&token).await {
                        (StatusCode::OK, ..) => {
                            let n = if retry { &counts.retried_ok } else { &counts.delivered };
                            n.fetch_add(1, Relaxed);
                            break;
                        }
                        (StatusCode::BAD_REQUEST, Some("server_error"), _) => {
                            counts.failed.fetch_add(1, Relaxed);
                        }
                        (StatusCode::BAD_REQUEST, Some("replayed"), _) if retry => {
                            counts.replayed.fetch_add(1, Relaxed);
                            break;
                        }
                        (status, code, body) => panic!("delivery {i}: {status} {code:?} {body}"),
                    }
                    retry = true;
                    assert!(Instant::now() < deadline, "delivery {i} never succeeded");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
    }

    tokio::time::sleep_until((started + Duration::from_secs(1)).into()).await;
    redis.kill_primary();
    let killed = started.elapsed();
    let redis = tokio::task::spawn_blocking(move || {
        wait_for("the replica promoted", Duration::from_secs(20), || redis.replica_promoted());
        redis
    })
    .await
    .unwrap();
    let promoted = started.elapsed();
    stream.join_all().await;

    let mut lives = Vec::new();
    for id in &ids {
        if store.load(id).await.unwrap().is_some() {
            lives.push(id.to_string());
        }
    }
    assert!(lives.is_empty(), "sessions that outlived their sign-out or logout: {lives:?}");
    // No restart: the same instances sign in and out at once.
    let id = saved_session(&store, &a.index, provider.issuer(), "sid-after", "after").await;
    store.delete(&id).await.unwrap();
    b.index.forget(&id.to_string()).await.unwrap();
    let token = provider.logout_token(&provider.logout_token_claims(CLIENT, "sid-x", "x"));
    assert_eq!(b.post(&token).await.0, StatusCode::OK);
    drop(redis);

    let c = |n: &AtomicUsize| n.load(Relaxed);
    println!(
        "failover (primary killed at {killed:.1?}, replica promoted at {promoted:.1?}): \
         sign-outs {} ok, {} failed attempts tried again; back-channel deliveries {} answered 200, \
         {} answered 400 server_error, {} retried until 200, {} retries found their first success \
         (replayed); sessions ended {}/{USERS}",
        c(&counts.signed_out),
        c(&counts.sign_out_failed),
        c(&counts.delivered),
        c(&counts.failed),
        c(&counts.retried_ok),
        c(&counts.replayed),
        USERS - lives.len(),
    );
}

/// Two demos behind Sentinel (`SESSION_STORE=redis-sentinel://...`): signed
/// in through one, signed out through the other.
#[tokio::test]
async fn behind_sentinel_two_demos_serve_one_user() {
    let sentinel = Sentinel::start();
    crate::instances::two_demos_serve_one_user(&sentinel.url).await;
}

/// Two demos behind Sentinel: a logout token sent to A ends the session on
/// B, and is refused replayed on either.
#[tokio::test]
async fn behind_sentinel_a_logout_token_sent_to_a_ends_the_session_on_b() {
    let sentinel = Sentinel::start();
    crate::instances::logout_token_across_two_demos(&sentinel.url).await;
}
