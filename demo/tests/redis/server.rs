//! A `redis-server` of the test's own on a free loopback port, without
//! persistence, killed on drop; or the Redis at `REDIS_URL` when it is set.

use std::{
    io::ErrorKind,
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use tower_sessions_redis_store::fred::prelude::{
    Builder, Client, ClientLike, Config, Pool, ReconnectPolicy,
};

/// How long a command or a connection may take before it fails: short, so
/// that a stopped Redis fails a sign-out in well under a second.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(300);

/// The Redis the tests use.
#[derive(Debug)]
pub(crate) struct Redis {
    pub(crate) url: String,
    port: Option<u16>,
    /// The server this test started (none with `REDIS_URL`).
    child: Option<Child>,
    /// With [`own_durable`](Self::own_durable): where its append-only file lives.
    dir: Option<std::path::PathBuf>,
}

impl Redis {
    /// The Redis at `REDIS_URL`, else a `redis-server` started here.
    pub(crate) fn shared_or_own() -> Self {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Self { url, port: None, child: None, dir: None },
            _ => Self::own(),
        }
    }

    /// A `redis-server` started here, which the test may stop and start again.
    pub(crate) fn own() -> Self {
        Self::own_in(None)
    }

    /// A `redis-server` started here that writes every command to an
    /// append-only file before answering, so a restart keeps what it held.
    pub(crate) fn own_durable() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tower-oidc-logout-redis-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self::own_in(Some(dir))
    }

    fn own_in(dir: Option<std::path::PathBuf>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("redis://127.0.0.1:{port}/0");
        let mut redis = Self { url, port: Some(port), child: None, dir };
        redis.start();
        redis
    }

    /// Whether this test started the server (and so may empty or stop it).
    pub(crate) fn is_own(&self) -> bool {
        self.port.is_some()
    }

    /// Starts the server again on the same port.
    pub(crate) fn start(&mut self) {
        let port = self.port.expect("only a Redis started here can be started");
        assert!(self.child.is_none(), "already running");
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", ""]);
        match &self.dir {
            None => command.args(["--appendonly", "no"]),
            Some(dir) => {
                command.args(["--appendonly", "yes", "--appendfsync", "always", "--dir"]).arg(dir)
            }
        };
        let spawned = command.stdout(Stdio::null()).spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "`redis-server` is not installed: install Debian's `redis-server` package \
                 (apt-get install -y redis-server), or run scripts/redis-tests.sh, which does; \
                 or set REDIS_URL to a Redis to use"
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(5), "redis-server did not listen");
            sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (as a crash would).
    pub(crate) fn stop(&mut self) {
        let mut child = self.child.take().expect("a running redis-server started here");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// A pool for an app instance: short timeouts, reconnecting every 50 ms.
    pub(crate) async fn app_pool(&self) -> Pool {
        app_pool_at(&self.url).await
    }

    /// The address of the server this test started.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        let port = self.port.expect("only a Redis started here has a known address");
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The test's own client, to look at records without going through an app.
    pub(crate) async fn client(&self) -> Client {
        redis_client(&self.url).await
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A pool for an app instance on the Redis at `url`: short timeouts, reconnecting every 50 ms.
pub(crate) async fn app_pool_at(url: &str) -> Pool {
    app_pool_within(url, TIMEOUT).await
}

/// [`app_pool_at`] with `timeout` for commands and connections (a load test
/// on a busy machine queues commands for longer than [`TIMEOUT`]).
pub(crate) async fn app_pool_within(url: &str, timeout: Duration) -> Pool {
    let pool = Builder::from_config(Config::from_url(url).unwrap())
        .with_connection_config(|c| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
        })
        .with_performance_config(|p| p.default_command_timeout = timeout)
        .set_policy(ReconnectPolicy::new_constant(0, 50))
        .build_pool(2)
        .unwrap();
    pool.init().await.unwrap();
    pool
}

/// The test's own client of the Redis at `url`, to look at records without going through an app.
pub(crate) async fn redis_client(url: &str) -> Client {
    let client = Builder::from_config(Config::from_url(url).unwrap())
        .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(2))
        .build()
        .unwrap();
    client.init().await.unwrap();
    client
}
