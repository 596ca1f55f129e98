//! What the handlers of one running server share: its clients, hosted
//! sessions, codes, keys, clock and records.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;

use crate::{
    client::MockClient,
    codes::AuthorizationCodes,
    hosted::HostedSessions,
    key_ring::KeyRing,
    records::{BackchannelDelivery, EndSessionCall, FrontchannelLogout, RevocationCall},
    tokens::{IssuedTokens, RefreshTokens, RevocationFault},
};

/// The time source: the system clock unless a test injects its own.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What the handlers share: one per running server.
pub(crate) struct Provider {
    pub(crate) issuer: String,
    pub(crate) clients: HashMap<String, MockClient>,
    pub(crate) sessions: HostedSessions,
    pub(crate) codes: AuthorizationCodes,
    pub(crate) keys: KeyRing,
    pub(crate) backchannel_timeout: Duration,
    /// The `max-age` of `/jwks`, if set; `no-store` otherwise.
    pub(crate) jwks_max_age: Option<Duration>,
    /// The logout capabilities the discovery document advertises.
    pub(crate) advertised: Advertised,
    /// A document `/jwks` serves instead of the key ring's public keys.
    pub(crate) jwks_document: Option<String>,
    /// Refresh and access tokens issued at `/token`.
    pub(crate) tokens: IssuedTokens,
    /// When `/token` issues a refresh token.
    pub(crate) refresh_tokens: RefreshTokens,
    /// `true` once the server is shutting down (a hanging `/revoke` answers then).
    pub(crate) stopping: watch::Receiver<bool>,
    clock: Clock,
    revocations: Mutex<Vec<RevocationCall>>,
    /// The fault the next `/revoke` requests get, and how many more get it.
    revocation_fault: Mutex<Option<(RevocationFault, usize)>>,
    calls: Mutex<Vec<EndSessionCall>>,
    deliveries: Mutex<Vec<BackchannelDelivery>>,
    frontchannel: Mutex<Vec<FrontchannelLogout>>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("clients", &self.clients)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider with no hosted sessions, codes or records yet.
    pub(crate) fn new(
        issuer: String,
        clients: HashMap<String, MockClient>,
        keys: KeyRing,
        clock: Clock,
        backchannel_timeout: Duration,
        jwks_max_age: Option<Duration>,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Self {
            issuer,
            clients,
            sessions: HostedSessions::default(),
            codes: AuthorizationCodes::default(),
            keys,
            backchannel_timeout,
            jwks_max_age,
            advertised: Advertised::default(),
            jwks_document: None,
            tokens: IssuedTokens::default(),
            refresh_tokens: RefreshTokens::default(),
            stopping,
            clock,
            revocations: Mutex::default(),
            revocation_fault: Mutex::default(),
            calls: Mutex::default(),
            deliveries: Mutex::default(),
            frontchannel: Mutex::default(),
        }
    }

    /// Now, in seconds since the Unix epoch (0 for a clock set before it).
    pub(crate) fn now(&self) -> u64 {
        (self.clock)().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
    }

    pub(crate) fn record(&self, call: EndSessionCall) {
        lock(&self.calls).push(call);
    }

    pub(crate) fn record_deliveries(&self, deliveries: &[BackchannelDelivery]) {
        lock(&self.deliveries).extend_from_slice(deliveries);
    }

    pub(crate) fn record_frontchannel(&self, logouts: &[FrontchannelLogout]) {
        lock(&self.frontchannel).extend_from_slice(logouts);
    }

    /// Every `/endsession` call so far, oldest first.
    pub(crate) fn end_session_calls(&self) -> Vec<EndSessionCall> {
        lock(&self.calls).clone()
    }

    /// The latest `/endsession` call, if any.
    pub(crate) fn last_end_session_call(&self) -> Option<EndSessionCall> {
        lock(&self.calls).last().cloned()
    }

    /// Every Back-Channel Logout delivery so far, oldest sign-out first.
    pub(crate) fn backchannel_deliveries(&self) -> Vec<BackchannelDelivery> {
        lock(&self.deliveries).clone()
    }

    /// Every Front-Channel Logout iframe rendered so far, oldest first.
    pub(crate) fn frontchannel_logouts(&self) -> Vec<FrontchannelLogout> {
        lock(&self.frontchannel).clone()
    }

    pub(crate) fn record_revocation(&self, call: RevocationCall) {
        lock(&self.revocations).push(call);
    }

    /// Every `/revoke` request so far, in the order they were answered.
    pub(crate) fn revocations(&self) -> Vec<RevocationCall> {
        lock(&self.revocations).clone()
    }

    /// `fault` for the next `times` `/revoke` requests (none if `times` is 0),
    /// replacing any fault still pending.
    pub(crate) fn set_revocation_fault(&self, fault: RevocationFault, times: usize) {
        *lock(&self.revocation_fault) = (times > 0).then_some((fault, times));
    }

    /// The fault this `/revoke` request gets, if any are pending (one used up).
    pub(crate) fn take_revocation_fault(&self) -> Option<RevocationFault> {
        let mut pending = lock(&self.revocation_fault);
        let (fault, left) = pending.as_mut()?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            *pending = None;
        }
        Some(fault)
    }
}

/// The four logout capability flags of the discovery document; all `true` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advertised {
    pub(crate) backchannel: bool,
    pub(crate) backchannel_session: bool,
    pub(crate) frontchannel: bool,
    pub(crate) frontchannel_session: bool,
    /// `revocation_endpoint` and its authentication methods (RFC 8414).
    pub(crate) revocation: bool,
}

impl Default for Advertised {
    fn default() -> Self {
        Self {
            backchannel: true,
            backchannel_session: true,
            frontchannel: true,
            frontchannel_session: true,
            revocation: true,
        }
    }
}

/// A record list; a panic elsewhere cannot leave it half-written, so keep serving.
fn lock<T>(records: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    records.lock().unwrap_or_else(PoisonError::into_inner)
}
