//! What the browser tests stand on: chromedriver as a child process, one
//! headless Chromium session with a fresh profile, the demo on ephemeral
//! ports, and bounded waits.

use std::{
    future::Future,
    io::{Read as _, Write as _},
    net::TcpStream as StdTcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Condvar, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::{
    client::legacy::{Client as LegacyClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::app;

/// What to install when the browser or its driver is missing.
const INSTALL: &str = "the browser tests need Debian's Chromium and its WebDriver: run \
     `apt-get update && apt-get install -y chromium chromium-driver` (or scripts/browser-tests.sh), \
     or point CHROMIUM and CHROMEDRIVER at the binaries";

/// Chromium flags these machines need (no sandbox as root, no GPU, nothing
/// fetched from the network behind the tests' back).
const CHROMIUM_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
];

/// At most this many browsers at once (2 cores, shared).
const MAX_BROWSERS: usize = 2;
/// How long chromedriver may take to say it is ready.
const DRIVER_READY: Duration = Duration::from_secs(15);
/// How long a page or a state of the page may take to show up.
pub(crate) const PAGE_WAIT: Duration = Duration::from_secs(15);
/// How long Chromium may take to start (the first start on a machine is the slowest).
const SESSION_START: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// The path of `what`: `$env`, else `default`; fails saying what to install.
fn binary(what: &str, env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{what} not found at {} (set {env} to use another path): {INSTALL}",
        path.display()
    );
    path
}

/// A scratch directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "tower-oidc-logout-browser-{}-{}-{nanos}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One of [`MAX_BROWSERS`] places; waits for one to be free.
struct Slot;

static TAKEN: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

impl Slot {
    fn take() -> Self {
        let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
        while *taken >= MAX_BROWSERS {
            taken = FREED.wait(taken).unwrap_or_else(PoisonError::into_inner);
        }
        *taken += 1;
        Self
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *TAKEN.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        FREED.notify_one();
    }
}

/// chromedriver, on a free loopback port; shut down and killed on drop.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Driver {
    async fn start(dir: &Path) -> Self {
        let chromedriver = binary("chromedriver", "CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = free_port().await;
        let log = dir.join("chromedriver.log");
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", chromedriver.display()));
        let mut driver = Self { child, port, log };
        driver.wait_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `/status` until it says `ready`, for at most [`DRIVER_READY`].
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + DRIVER_READY;
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start ({status}); log:\n{}", self.log_tail());
            }
            match http_get(self.port, "/status").await {
                Ok(body) if body.contains("\"ready\":true") => return,
                Ok(body) => last = body,
                Err(e) => last = e,
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("chromedriver not ready within {DRIVER_READY:?} (last: {last}); log:\n{}", {
            self.log_tail()
        });
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(8000);
        log.get(start..).unwrap_or(&log).to_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // `/shutdown` quits every session, so no Chromium outlives a failed test;
        // then the process goes, gently or not.
        if let Ok(mut stream) = StdTcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = write!(
                stream,
                "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A GET on loopback, bounded; the body.
async fn http_get(port: u16, path: &str) -> Result<String, String> {
    let client = LegacyClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://127.0.0.1:{port}{path}").parse().map_err(|e| format!("{e}"))?;
    let exchange = async {
        let response = client.get(uri).await.map_err(|e| e.to_string())?;
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err("timed out".to_owned()))
}

/// A headless Chromium with a fresh profile, driven over WebDriver.
///
/// Fields drop in order: the session's client, then chromedriver (which
/// quits the browser), then the profile directory, then the slot.
pub(crate) struct Browser {
    pub(crate) client: Client,
    _driver: Driver,
    _dir: ScratchDir,
    _slot: Slot,
}

impl Browser {
    pub(crate) async fn launch() -> Self {
        // Fail before waiting for a slot when nothing is installed.
        let chromium = binary("Chromium", "CHROMIUM", "/usr/bin/chromium");
        binary("chromedriver", "CHROMEDRIVER", "/usr/bin/chromedriver");
        let slot = Slot::take();
        let dir = ScratchDir::new();
        let driver = Driver::start(&dir.0).await;

        let profile = dir.0.join("profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "implicit": 0, "pageLoad": 20_000, "script": 10_000 },
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let driver_url = driver.url();
        let session = builder.connect(&driver_url);
        let client = match tokio::time::timeout(SESSION_START, session).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "Chromium did not start under chromedriver: {e}; {INSTALL}; log:\n{}",
                driver.log_tail()
            ),
            Err(_) => {
                panic!("no browser session within {SESSION_START:?}; log:\n{}", driver.log_tail())
            }
        };
        Self { client, _driver: driver, _dir: dir, _slot: slot }
    }

    /// Ends the session (the drop would too, less politely).
    pub(crate) async fn quit(self) {
        let _ = self.client.clone().close().await;
        drop(self);
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs a script in the page; its result.
    pub(crate) async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// The text of the first element `css` matches, if any.
    pub(crate) async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// The cookies the browser holds for the page it shows (HttpOnly ones too), by name.
    pub(crate) async fn cookies(&self) -> Vec<(String, String)> {
        let mut cookies: Vec<_> = self
            .client
            .get_all_cookies()
            .await
            .expect("cookies")
            .into_iter()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect();
        cookies.sort();
        cookies
    }

    pub(crate) async fn cookie_names(&self) -> Vec<String> {
        self.cookies().await.into_iter().map(|(name, _)| name).collect()
    }

    /// Waits until `check` gives something, polling, for at most [`PAGE_WAIT`].
    pub(crate) async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            if let Some(found) = check().await {
                return found;
            }
            if Instant::now() >= deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let source = self.client.source().await.unwrap_or_default();
                panic!("timed out after {PAGE_WAIT:?} waiting for {what}; at {url:?}:\n{source}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a page at `path` that has `css`; the element's text.
    ///
    /// The other outcome (the demo's error page, `#error`, where a page with
    /// `#status` was expected, or the other way round) fails at once.
    pub(crate) async fn page_at(&self, path: &str, css: &str) -> String {
        let other = if css == "#error" { "#status" } else { "#error" };
        let shown = self
            .until(&format!("{css} on {path}"), || async {
                let url = self.client.current_url().await.ok()?;
                if url.path() != path {
                    return None;
                }
                if let Some(text) = self.text(css).await {
                    return Some(Ok(text));
                }
                let shown = self.text(other).await?;
                Some(Err((url, shown)))
            })
            .await;
        match shown {
            Ok(text) => text,
            Err((url, shown)) => {
                let source = self.client.source().await.unwrap_or_default();
                panic!("expected {css} at {url}, the page shows {other}: {shown}\n{source}")
            }
        }
    }
}

/// The demo on ephemeral ports: the app at `http://127.0.0.1:<port>`, the mock
/// provider at `http://localhost:<port>` (another site: the way back from the
/// provider is a cross-site navigation).
pub(crate) async fn demo() -> app::Demo {
    let rp = TcpListener::bind("127.0.0.1:0").await.expect("app port");
    let mock = TcpListener::bind("127.0.0.1:0").await.expect("mock port");
    let rp_url = format!("http://127.0.0.1:{}", rp.local_addr().expect("app address").port());
    let mock_url = format!("http://localhost:{}", mock.local_addr().expect("mock address").port());
    let settings = app::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "MOCK_PROVIDER_URL" => Some(mock_url.clone()),
        _ => None,
    })
    .expect("demo settings");
    app::start(settings, Some(rp), Some(mock)).await.expect("the demo starts")
}
