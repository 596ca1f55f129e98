//! The figures in BENCHMARKS.md (ignored: run on purpose, in release):
//! Redis commands per sign-out and per back-channel logout, and back-channel
//! logouts per second with the app on one core (a current-thread runtime),
//! on one Redis, a 3-primary Cluster and a primary + replica behind Sentinel.
//!
//! ```sh
//! cargo test --release -p tower-oidc-logout-demo --features redis-tests --test redis \
//!     -- --ignored measure --nocapture --test-threads 1
//! ```

use crate::{
    cluster::{Cluster, saved_session},
    index::through_the_route::{self, CLIENT},
    sentinel::Sentinel,
    server::{self, Redis},
};

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::Instant,
};

use http::StatusCode;
use tower_oidc_logout::provider_logout::index::SessionIndex;
use tower_sessions_0_14::SessionStore;
use tower_sessions_redis_store::{
    RedisStore,
    fred::{prelude::ClientLike, types::InfoKind},
};

/// Commands run on `nodes` (by `INFO commandstats`), `info` itself left out.
async fn commands(nodes: &[String]) -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    for url in nodes {
        let client = server::redis_client(url).await;
        let info: String = client.info(Some(InfoKind::CommandStats)).await.unwrap();
        for line in info.lines() {
            let Some((name, stats)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':'))
            else {
                continue;
            };
            let calls = stats.split(',').find_map(|kv| kv.strip_prefix("calls="));
            if let Some(calls) = calls.and_then(|c| c.parse::<u64>().ok()) {
                *all.entry(name.to_owned()).or_insert(0) += calls;
            }
        }
    }
    all.remove("info");
    all
}

fn evals(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after.get("eval").copied().unwrap_or(0) - before.get("eval").copied().unwrap_or(0)
}

/// EVALs per sign-out and per back-channel logout, and back-channel logouts
/// per second, on the Redis at `url` whose data nodes are `nodes`.
async fn measure(name: &str, url: &str, nodes: &[String]) {
    const USERS: usize = 2_000;
    const IN_FLIGHT: usize = 32;
    let provider = through_the_route::provider().await;
    let app = Arc::new(through_the_route::instance(&provider, url, url, "measure:", None).await);
    let store = RedisStore::new(server::app_pool_at(url).await);

    let mut ids = Vec::new();
    for i in 0..=USERS {
        let (sid, sub) = (format!("sid-{i}"), format!("user-{i}"));
        ids.push(saved_session(&store, &app.index, provider.issuer(), &sid, &sub).await);
    }
    let token = |i: usize| {
        let (sid, sub) = (format!("sid-{i}"), format!("user-{i}"));
        provider.logout_token(&provider.logout_token_claims(CLIENT, &sid, &sub))
    };
    let tokens: Arc<Vec<String>> = Arc::new((0..USERS).map(token).collect());

    // One sign-out (the index's part: forget) and one back-channel logout, counted.
    let before = commands(nodes).await;
    app.index.forget(&ids[USERS].to_string()).await.unwrap();
    let after = commands(nodes).await;
    let per_sign_out = evals(&before, &after);
    let before = after;
    assert_eq!(app.post(&tokens[0]).await.0, StatusCode::OK);
    let after = commands(nodes).await;
    let per_logout = evals(&before, &after);

    let started = Instant::now();
    // IN_FLIGHT workers on the test's one thread, each taking the next token.
    let next = Arc::new(AtomicUsize::new(1));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (app, tokens, next) = (app.clone(), tokens.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let (status, code, body) = app.post(token).await;
                assert_eq!(status, StatusCode::OK, "{code:?} {body}");
            }
        });
    }
    workers.join_all().await;
    let took = started.elapsed();
    for id in &ids[..USERS] {
        assert!(store.load(id).await.unwrap().is_none());
    }
    let per_second = (USERS - 1) as f64 / took.as_secs_f64();
    println!(
        "measure {name}: EVALs per sign-out {per_sign_out}, per back-channel logout {per_logout}; \
         {} back-channel logouts in {took:.2?} ({IN_FLIGHT} in flight, app on one core): \
         {per_second:.0}/s",
        USERS - 1
    );
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "measures (BENCHMARKS.md); run in release with --ignored"]
async fn measure_standalone() {
    let redis = Redis::own();
    measure("standalone", &redis.url, std::slice::from_ref(&redis.url)).await;
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "measures (BENCHMARKS.md); run in release with --ignored"]
async fn measure_cluster() {
    let cluster = Cluster::start();
    measure("cluster", &cluster.url, &cluster.node_urls()).await;
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "measures (BENCHMARKS.md); run in release with --ignored"]
async fn measure_sentinel() {
    let sentinel = Sentinel::start();
    measure("sentinel", &sentinel.url, &[sentinel.primary_url()]).await;
}
