//! The demo's settings, read from the environment (README.md has the table),
//! and what they name: the addresses to listen on, the Redis to connect to.

use std::{fmt, time::Duration};

use tokio::net::TcpListener;
use tower_oidc_logout::{ConfigError, StateKey};
use tower_sessions_redis_store::fred::prelude::{
    Builder, ClientLike, Config as RedisConfig, Pool, ReconnectPolicy,
};
use url::Url;

use crate::signin::LOGIN_CALLBACK_PATH;

/// The sign-out callback path, under `RP_URL` (the post-logout redirect URI).
pub const CALLBACK_PATH: &str = "/logout/callback";
/// Back-Channel Logout: the provider POSTs a logout token here, under `RP_URL`.
pub const BACKCHANNEL_PATH: &str = "/logout/backchannel";
/// Front-Channel Logout: the provider's page loads this in an iframe, under `RP_URL`.
pub const FRONTCHANNEL_PATH: &str = "/logout/frontchannel";

/// The demo's settings, read from the environment by [`Settings::from_lookup`].
///
/// Every field holds a checked value: [`start`](crate::start) refuses only what
/// needs the network (discovery, Redis, the listeners) or the layer's own checks.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The app's public base URL, without trailing slash (`RP_URL`); also where it listens.
    pub rp_url: String,
    /// The client ID at the provider (`CLIENT_ID`, default `demo-client`).
    pub client_id: String,
    /// The client's secret at the token endpoint (`CLIENT_SECRET`); `None`: a
    /// public client (PKCE only).
    pub client_secret: Option<String>,
    /// Which provider the app signs in with and out of.
    pub provider: Provider,
    /// The key sealing the logout state (`STATE_KEY`); `None`: one generated at start.
    pub state_key: Option<StateKey>,
    /// How long a sign-out may take at the provider (`LOGOUT_STATE_TTL_SECS`);
    /// `None`: the layer's default.
    pub state_ttl: Option<Duration>,
    /// Where the server-side sessions live (`SESSION_STORE`).
    pub session_store: SessionBackend,
}

/// The `SESSION_STORE` URL schemes of Redis, as fred reads them: one server
/// (`redis://host:port/db`), a Cluster (`redis-cluster://host:port?node=host:port&...`,
/// any known nodes) or a primary behind Sentinel
/// (`redis-sentinel://sentinel:port/db?sentinelServiceName=name&node=sentinel:port&...`).
const REDIS_SCHEMES: [&str; 3] = ["redis://", "redis-cluster://", "redis-sentinel://"];

/// Where the server-side sessions live: two demo processes with the same
/// `STATE_KEY` and one Redis serve one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionBackend {
    /// In this process only (tower-sessions' `MemoryStore`).
    Memory,
    /// In Redis (tower-sessions-redis-store), with the session index beside them.
    Redis {
        /// The URL, as given: `redis://host:port/db`, `redis-cluster://host:port?node=...`
        /// or `redis-sentinel://host:port/db?sentinelServiceName=...`.
        url: String,
    },
}

/// Which provider the app signs in with and out of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// The embedded mock (the default: neither `PROVIDER_ISSUER` nor
    /// `PROVIDER_END_SESSION_URL` set).
    Mock {
        /// Its base URL, without trailing slash (`MOCK_PROVIDER_URL`), which is also its issuer.
        url: String,
    },
    /// An external provider, configured by discovery from its issuer.
    Issuer {
        /// The issuer (`PROVIDER_ISSUER`), as given.
        issuer: String,
    },
    /// An external provider's end-session endpoint only: sign-out, no sign-in.
    External {
        /// The end-session endpoint (`PROVIDER_END_SESSION_URL`), as given.
        end_session_url: String,
    },
}

/// A bad setting: which one, and why. The demo does not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The environment variable at fault, e.g. `RP_URL`.
    pub name: &'static str,
    /// Why, for a person to read.
    pub reason: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)
    }
}

impl std::error::Error for SettingsError {}

/// The setting `name` is bad, because of `reason`.
pub(crate) fn bad(name: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError { name, reason: reason.into() }
}

impl Settings {
    /// Reads the settings through `var` (the environment in `main`); an unset
    /// or blank variable takes its default.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let rp_url =
            base_url("RP_URL", var("RP_URL").as_deref().unwrap_or("http://127.0.0.1:3000"))?;
        let client_id = var("CLIENT_ID").unwrap_or_else(|| "demo-client".to_owned());
        if client_id.trim() != client_id {
            return Err(bad("CLIENT_ID", "it has leading or trailing spaces"));
        }
        let client_secret = var("CLIENT_SECRET");
        let provider = match (var("PROVIDER_ISSUER"), var("PROVIDER_END_SESSION_URL")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "PROVIDER_END_SESSION_URL",
                    "set PROVIDER_ISSUER (sign-in and sign-out, by discovery) or \
                     PROVIDER_END_SESSION_URL (sign-out only), not both",
                ));
            }
            (Some(issuer), None) => {
                let url = Url::parse(&issuer).map_err(|e| {
                    bad("PROVIDER_ISSUER", format!("`{issuer}` is not an absolute URL ({e})"))
                })?;
                if !matches!(url.scheme(), "http" | "https")
                    || url.query().is_some()
                    || url.fragment().is_some()
                {
                    return Err(bad(
                        "PROVIDER_ISSUER",
                        format!("`{issuer}` must be an https URL without query or fragment"),
                    ));
                }
                Provider::Issuer { issuer }
            }
            (None, Some(end_session_url)) => {
                if client_secret.is_some() {
                    return Err(bad(
                        "CLIENT_SECRET",
                        "it is used for sign-in only, which PROVIDER_END_SESSION_URL does not do \
                         (set PROVIDER_ISSUER instead)",
                    ));
                }
                Url::parse(&end_session_url).map_err(|e| {
                    bad(
                        "PROVIDER_END_SESSION_URL",
                        format!("`{end_session_url}` is not an absolute URL ({e})"),
                    )
                })?;
                Provider::External { end_session_url }
            }
            (None, None) => {
                let url = base_url(
                    "MOCK_PROVIDER_URL",
                    var("MOCK_PROVIDER_URL").as_deref().unwrap_or("http://localhost:3001"),
                )?;
                if url.starts_with("https:") {
                    return Err(bad(
                        "MOCK_PROVIDER_URL",
                        "the embedded mock serves plain http only",
                    ));
                }
                if listen_addr(&url) == listen_addr(&rp_url) {
                    return Err(bad(
                        "MOCK_PROVIDER_URL",
                        "it must listen on another port than RP_URL",
                    ));
                }
                Provider::Mock { url }
            }
        };
        let state_key = var("STATE_KEY")
            .map(|key| StateKey::from_base64(&key).map_err(|e| bad("STATE_KEY", e.to_string())))
            .transpose()?;
        let state_ttl = var("LOGOUT_STATE_TTL_SECS")
            .map(|secs| {
                secs.trim().parse::<u64>().map(Duration::from_secs).map_err(|_| {
                    bad(
                        "LOGOUT_STATE_TTL_SECS",
                        format!("`{secs}` is not a whole number of seconds"),
                    )
                })
            })
            .transpose()?;
        let session_store = match var("SESSION_STORE") {
            None => SessionBackend::Memory,
            Some(value) if value.trim() == "memory" => SessionBackend::Memory,
            Some(url) if REDIS_SCHEMES.iter().any(|scheme| url.starts_with(scheme)) => {
                RedisConfig::from_url(&url).map_err(|e| {
                    bad("SESSION_STORE", format!("`{url}` is not a usable Redis URL ({e})"))
                })?;
                SessionBackend::Redis { url }
            }
            Some(value) => {
                return Err(bad(
                    "SESSION_STORE",
                    format!(
                        "`{value}` is neither `memory` nor a Redis URL like redis://127.0.0.1:6379/0, \
                         redis-cluster://127.0.0.1:7000?node=127.0.0.1:7001 or \
                         redis-sentinel://127.0.0.1:26379/0?sentinelServiceName=mymaster"
                    ),
                ));
            }
        };
        Ok(Self { rp_url, client_id, client_secret, provider, state_key, state_ttl, session_store })
    }

    /// The post-logout redirect URI registered with the provider: [`CALLBACK_PATH`] under `RP_URL`.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.rp_url)
    }

    /// The sign-in redirect URI registered with the provider:
    /// [`LOGIN_CALLBACK_PATH`] under `RP_URL`.
    pub fn redirect_uri(&self) -> String {
        format!("{}{LOGIN_CALLBACK_PATH}", self.rp_url)
    }

    /// The Back-Channel Logout URI registered with the provider: [`BACKCHANNEL_PATH`] under `RP_URL`.
    pub fn backchannel_logout_uri(&self) -> String {
        format!("{}{BACKCHANNEL_PATH}", self.rp_url)
    }

    /// The Front-Channel Logout URI registered with the provider: [`FRONTCHANNEL_PATH`] under `RP_URL`.
    pub fn frontchannel_logout_uri(&self) -> String {
        format!("{}{FRONTCHANNEL_PATH}", self.rp_url)
    }
}

/// An `http(s)://host[:port]` URL without path, query or fragment; returned without trailing slash.
fn base_url(name: &'static str, text: &str) -> Result<String, SettingsError> {
    let url = Url::parse(text)
        .map_err(|e| bad(name, format!("`{text}` is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            name,
            format!("`{text}` must be an http(s) URL like http://127.0.0.1:3000"),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            name,
            format!("`{text}` must be a scheme, host and port only, with no path"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Where to listen for a base URL: its host and port (`localhost` as 127.0.0.1).
fn listen_addr(base_url: &str) -> Option<(String, u16)> {
    let url = Url::parse(base_url).ok()?;
    let host = match url.host_str()? {
        "localhost" => "127.0.0.1",
        host => host.trim_start_matches('[').trim_end_matches(']'),
    };
    Some((host.to_owned(), url.port_or_known_default()?))
}

/// Listens where the base URL of setting `name` points.
pub(crate) async fn bind(name: &'static str, base_url: &str) -> Result<TcpListener, SettingsError> {
    let (host, port) = listen_addr(base_url).ok_or_else(|| bad(name, "no host or port"))?;
    TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| bad(name, format!("cannot listen on {host}:{port}: {e}")))
}

/// Connects to the Redis of `SESSION_STORE`; a Redis that does not answer stops the demo.
pub(crate) async fn redis_pool(url: &str) -> Result<Pool, SettingsError> {
    let cannot = |e: &dyn fmt::Display| bad("SESSION_STORE", format!("Redis at `{url}`: {e}"));
    let config = RedisConfig::from_url(url).map_err(|e| cannot(&e))?;
    let pool = Builder::from_config(config)
        // A Redis that stops answering fails a sign-out in a second, rather than hanging it.
        .with_connection_config(|c| c.connection_timeout = Duration::from_secs(1))
        .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(1))
        .set_policy(ReconnectPolicy::new_constant(0, 200))
        .build_pool(2)
        .map_err(|e| cannot(&e))?;
    match tokio::time::timeout(Duration::from_secs(3), pool.init()).await {
        Ok(Ok(_)) => Ok(pool),
        Ok(Err(e)) => Err(cannot(&e)),
        Err(_) => Err(cannot(&"no answer within 3 s")),
    }
}

/// The layer refused its configuration: named after the setting behind it.
pub(crate) fn layer_refused(error: &ConfigError) -> SettingsError {
    let name = match error {
        ConfigError::NoEndSessionEndpoint { .. } => "PROVIDER_ISSUER",
        ConfigError::InvalidUrl { what: "end-session endpoint", .. }
        | ConfigError::MissingEndSessionEndpoint
        | ConfigError::UrlCapTooSmall { .. } => "PROVIDER_END_SESSION_URL",
        ConfigError::MissingClientId => "CLIENT_ID",
        ConfigError::InvalidStateTtl { .. } => "LOGOUT_STATE_TTL_SECS",
        ConfigError::MissingStateKey
        | ConfigError::WeakStateKey(_)
        | ConfigError::StateKeyNotBase64 => "STATE_KEY",
        _ => "RP_URL",
    };
    bad(name, error.to_string())
}
