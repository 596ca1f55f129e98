//! The preflight: at start-up, does the provider accept this app's sign-out?
//!
//! See [`Preflight`].

use std::{fmt, time::Duration};

use http::StatusCode;
use url::Url;

use super::{Discovery, ProviderMetadata};
use crate::https_url;

/// Longest provider error text kept in a report, in characters.
const MAX_ANSWER_CHARS: usize = 200;

/// Checks, once at start-up, that the provider will accept this app's
/// sign-out: its `client_id` and `post_logout_redirect_uri` at the
/// end-session endpoint and, with the provider's discovery metadata, the
/// logout capabilities and keys the app's routes rely on.
///
/// Build it with [`OidcLogoutLayer::preflight`](crate::OidcLogoutLayer::preflight)
/// (the layer's own configuration) or [`Preflight::new`], then
/// [`run`](Self::run) it: the [`PreflightReport`] lists each [`Check`] as
/// passed, failed (what the provider answered, what to do) or unknown (why).
///
/// # End-session registration: a heuristic
///
/// One server-side `GET <end-session endpoint>?client_id=...&post_logout_redirect_uri=...`
/// with nothing else: no cookie, no `id_token_hint`, no `state`, so it names
/// no user and ends no session. No redirect is followed, and the answer is
/// bounded in time and size by the [`Discovery`] settings. A provider answers
/// it as it would answer a browser whose session has already ended; Next
/// Identity's integration guide documents the answers read here:
///
/// | Answer | [`ClientId`](CheckId::ClientId) | [`PostLogoutRedirectUri`](CheckId::PostLogoutRedirectUri) |
/// |---|---|---|
/// | `3xx` to the post-logout redirect URI (query parameters may be added) | passed | passed |
/// | `2xx` (a "signed out" page) | passed | passed |
/// | `403` with `"error":"http_exception"` (Next Identity: unknown `client_id`) | **failed** | unknown |
/// | another `4xx` (Next Identity: the URI is not on the client's allow-list) | passed | **failed**, with the provider's error text |
/// | `3xx` elsewhere (an error page, a confirmation step, a sign-in page) | unknown | unknown |
/// | `5xx`, no answer within the timeout, a body over the size cap | unknown | unknown |
///
/// It is a heuristic: a provider that answers every request with the same
/// page, or that checks the URI only when a session exists, passes here and
/// may still refuse a real sign-out; one that wants `id_token_hint` may
/// answer `4xx` here although a real sign-out (which sends it) is accepted.
/// A `3xx` elsewhere is reported as unknown, not failed: it is how some
/// providers show a confirmation page. Treat a failure as "the provider said
/// no" and an unknown as "look at it by hand".
///
/// # Discovery (with [`metadata`](Self::metadata))
///
/// - [`Issuer`](CheckId::Issuer): the document's `issuer` is the configured
///   one (always true of a [`ProviderMetadata`], which refuses any other).
/// - [`EndSessionEndpoint`](CheckId::EndSessionEndpoint): the document
///   publishes `end_session_endpoint`, and it is the one checked above.
/// - With [`backchannel(true)`](Self::backchannel):
///   `backchannel_logout_supported`, `backchannel_logout_session_supported`
///   (without it logout tokens carry no `sid`, so every back-channel logout
///   ends all of the user's sessions at this app, on every device) and
///   (feature `provider-logout`) the `jwks_uri`: fetched once, it must hold
///   at least one key the logout-token validator can use
///   ([`KeySet::from_jwks`](crate::provider_logout::KeySet::from_jwks)).
/// - With [`frontchannel(true)`](Self::frontchannel):
///   `frontchannel_logout_supported` and `frontchannel_logout_session_supported`
///   (the front-channel route needs `iss` and `sid`; without them every
///   request to it is refused).
///
/// - With [`revocation(true)`](Self::revocation): `revocation_endpoint`
///   (without it, tokens are not revoked at sign-out).
///
/// Without metadata those checks are reported as unknown when their route
/// is on, and left out when it is off.
///
/// # Bounds
///
/// At most two requests (the end-session `GET`, then the key set), one after
/// the other, each within the [`Discovery`] total timeout: the whole run
/// takes at most [`bound`](Self::bound).
#[must_use]
#[derive(Debug, Clone)]
pub struct Preflight {
    end_session_endpoint: String,
    client_id: String,
    post_logout_redirect_uri: String,
    metadata: Option<ProviderMetadata>,
    backchannel: bool,
    frontchannel: bool,
    revocation: bool,
    fetcher: Discovery,
}

impl Preflight {
    /// A preflight of the end-session registration: the endpoint the layer
    /// sends browsers to (without the parameters it adds), the `client_id`
    /// and the `post_logout_redirect_uri`, each exactly as configured.
    pub fn new(
        end_session_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        post_logout_redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            end_session_endpoint: end_session_endpoint.into(),
            client_id: client_id.into(),
            post_logout_redirect_uri: post_logout_redirect_uri.into(),
            metadata: None,
            backchannel: false,
            frontchannel: false,
            revocation: false,
            fetcher: Discovery::new(),
        }
    }

    /// Also checks the provider's discovery metadata.
    pub fn metadata(mut self, metadata: &ProviderMetadata) -> Self {
        self.metadata = Some(metadata.clone());
        self
    }

    /// Whether the app serves Back-Channel Logout (checks the provider's
    /// back-channel flags and, feature `provider-logout`, its keys).
    pub fn backchannel(mut self, on: bool) -> Self {
        self.backchannel = on;
        self
    }

    /// Whether the app serves Front-Channel Logout (checks the provider's
    /// front-channel flags).
    pub fn frontchannel(mut self, on: bool) -> Self {
        self.frontchannel = on;
        self
    }

    /// Whether the app revokes tokens at sign-out (feature `revocation`):
    /// checks that the provider publishes `revocation_endpoint`.
    pub fn revocation(mut self, on: bool) -> Self {
        self.revocation = on;
        self
    }

    /// The HTTP settings: timeouts, size cap, extra root certificates
    /// ([`Discovery::new`]'s defaults otherwise: 5 s to connect, 10 s in
    /// all, 64 KiB).
    pub fn fetcher(mut self, fetcher: Discovery) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// The longest [`run`](Self::run) takes: the total timeout once per
    /// request it makes (one, or two when it fetches the key set).
    #[must_use]
    pub fn bound(&self) -> Duration {
        let requests = if self.fetches_keys() { 2 } else { 1 };
        self.fetcher.total_timeout() * requests
    }

    fn fetches_keys(&self) -> bool {
        cfg!(feature = "provider-logout")
            && self.backchannel
            && self.metadata.as_ref().is_some_and(|m| m.jwks_uri().is_some())
    }

    /// Runs every check; never fails, never panics: what could not be
    /// checked is reported as [`Outcome::Unknown`].
    pub async fn run(&self) -> PreflightReport {
        let mut checks = Vec::new();
        self.end_session(&mut checks).await;
        if let Some(metadata) = &self.metadata {
            checks.push(Check::passed(
                CheckId::Issuer,
                format!("the discovery document names issuer `{}`", metadata.issuer()),
            ));
            checks.push(self.end_session_endpoint_check(metadata));
        }
        if self.backchannel {
            self.backchannel_checks(&mut checks).await;
        }
        if self.frontchannel {
            self.frontchannel_checks(&mut checks);
        }
        if self.revocation {
            checks.push(self.revocation_check());
        }
        PreflightReport { checks }
    }

    async fn end_session(&self, checks: &mut Vec<Check>) {
        let mut push_both = |client: Outcome, uri: Outcome| {
            checks.push(Check { id: CheckId::ClientId, outcome: client });
            checks.push(Check { id: CheckId::PostLogoutRedirectUri, outcome: uri });
        };
        let endpoint = match https_url::parse(&self.end_session_endpoint) {
            Ok(url) => url,
            Err(reason) => {
                let why = format!(
                    "the end-session endpoint `{}` is not usable: {reason}",
                    self.end_session_endpoint
                );
                push_both(Outcome::unknown(&why), Outcome::unknown(&why));
                return;
            }
        };
        let mut url = endpoint.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("post_logout_redirect_uri", &self.post_logout_redirect_uri);
        let probed = match self.fetcher.probe(&url).await {
            Ok(probed) => probed,
            Err(error) => {
                let why =
                    format!("the end-session endpoint could not be asked: {}", error.reason());
                push_both(Outcome::unknown(&why), Outcome::unknown(&why));
                return;
            }
        };
        let status = probed.status;
        let text = provider_text(&probed.body);
        let answered = |what: &str| {
            if text.is_empty() {
                format!("{status}{what}")
            } else {
                format!("{status}{what}: {text}")
            }
        };
        if status == StatusCode::FORBIDDEN && is_http_exception(&probed.body) {
            push_both(
                Outcome::failed(
                    answered(""),
                    format!(
                        "the provider does not know client_id `{}` (Next Identity's answer to an \
                         incorrect client_id): check the CLIENT_ID setting against the client \
                         registered at the provider",
                        self.client_id
                    ),
                ),
                Outcome::unknown("not checked: the provider refused the client first"),
            );
        } else if status.is_client_error() {
            push_both(
                Outcome::passed(format!(
                    "`{}` was not refused as an unknown client (no 403 http_exception)",
                    self.client_id
                )),
                Outcome::failed(
                    answered(""),
                    format!(
                        "add `{}` exactly as written to the client's allow-list of post-logout \
                         redirect URIs (Next Identity: ask your Next Reason consultant), or \
                         change the app's URL to one on it; with a provider other than Next \
                         Identity, also check the client_id",
                        self.post_logout_redirect_uri
                    ),
                ),
            );
        } else if status.is_success() {
            let detail = format!("the end-session endpoint answered {status} (a page)");
            push_both(Outcome::passed(&detail), Outcome::passed(detail));
        } else if status.is_redirection() {
            let target = probed.location.as_deref().and_then(|to| endpoint.join(to).ok());
            match target {
                Some(target) if returns_to(&target, &self.post_logout_redirect_uri) => {
                    let detail = format!("the provider redirects to `{target}`");
                    push_both(Outcome::passed(&detail), Outcome::passed(detail));
                }
                Some(target) => {
                    let why = format!(
                        "the provider answered {status} to `{}`, not to the post-logout \
                         redirect URI (an error page, or a confirmation step): open the \
                         end-session URL in a browser to see which",
                        printable(target.as_str())
                    );
                    push_both(Outcome::unknown(&why), Outcome::unknown(why));
                }
                None => {
                    let why = format!("the provider answered {status} without a usable Location");
                    push_both(Outcome::unknown(&why), Outcome::unknown(why));
                }
            }
        } else {
            let why = if status.is_server_error() {
                answered(" (a server error: try again later)")
            } else {
                answered(" (not an answer this check reads)")
            };
            push_both(Outcome::unknown(&why), Outcome::unknown(why));
        }
    }

    fn end_session_endpoint_check(&self, metadata: &ProviderMetadata) -> Check {
        let id = CheckId::EndSessionEndpoint;
        match metadata.end_session_endpoint() {
            None => Check::failed(
                id,
                "the discovery document has no end_session_endpoint",
                "the provider does not advertise RP-Initiated Logout: configure the end-session \
                 endpoint the provider documents by hand, or ask the provider to publish it",
            ),
            Some(published) if published != self.end_session_endpoint => Check::failed(
                id,
                format!("the discovery document publishes end_session_endpoint `{published}`"),
                format!(
                    "the app sends browsers to `{}`: configure the published endpoint instead",
                    self.end_session_endpoint
                ),
            ),
            Some(published) => Check::passed(id, format!("published: `{published}`")),
        }
    }

    async fn backchannel_checks(&self, checks: &mut Vec<Check>) {
        let Some(metadata) = &self.metadata else {
            let why = "no discovery metadata was given to check the back-channel capabilities";
            checks.push(Check::unknown(CheckId::BackchannelLogoutSupported, why));
            checks.push(Check::unknown(CheckId::BackchannelLogoutSessionSupported, why));
            #[cfg(feature = "provider-logout")]
            checks.push(Check::unknown(CheckId::Jwks, why));
            return;
        };
        checks.push(flag(
            CheckId::BackchannelLogoutSupported,
            metadata.backchannel_logout_supported(),
            "backchannel_logout_supported",
            "the provider does not advertise Back-Channel Logout: sessions at this app will not \
             end when the user signs out elsewhere; ask the provider to enable it for the client \
             (with this app's back-channel logout URI), or turn the route off",
        ));
        checks.push(flag(
            CheckId::BackchannelLogoutSessionSupported,
            metadata.backchannel_logout_session_supported(),
            "backchannel_logout_session_supported",
            "logout tokens will carry no `sid`: every back-channel logout ends all of the user's \
             sessions at this app (every device), not only the one signed out; ask the provider \
             to send `sid`, or accept that",
        ));
        #[cfg(feature = "provider-logout")]
        checks.push(self.jwks_check(metadata).await);
    }

    #[cfg(feature = "provider-logout")]
    async fn jwks_check(&self, metadata: &ProviderMetadata) -> Check {
        use crate::provider_logout::{KeySet, KeySetError};

        let id = CheckId::Jwks;
        let Some(jwks_uri) = metadata.jwks_uri() else {
            return Check::failed(
                id,
                "the discovery document has no jwks_uri",
                "logout tokens cannot be verified without the provider's keys: ask the provider \
                 to publish jwks_uri, or turn Back-Channel Logout off",
            );
        };
        let Ok(url) = Url::parse(jwks_uri) else {
            return Check::failed(
                id,
                format!("jwks_uri `{jwks_uri}` is not a URL"),
                "fix the provider's discovery document",
            );
        };
        let fetched = match self.fetcher.probe(&url).await {
            Ok(fetched) => fetched,
            Err(error) => {
                return Check::unknown(
                    id,
                    format!("the key set at `{jwks_uri}` could not be fetched: {}", error.reason()),
                );
            }
        };
        let status = fetched.status;
        if status.is_server_error() {
            return Check::unknown(id, format!("`{jwks_uri}` answered {status}: try again later"));
        }
        if status != StatusCode::OK {
            let to =
                fetched.location.map(|to| format!(" to `{}`", printable(&to))).unwrap_or_default();
            return Check::failed(
                id,
                format!("`{jwks_uri}` answered {status}{to}"),
                "the validator fetches the key set from jwks_uri with a GET that must answer 200 \
                 (no redirect is followed): fix the provider's jwks_uri",
            );
        }
        match KeySet::from_jwks(&fetched.body) {
            Ok(keys) => Check::passed(
                id,
                format!(
                    "`{jwks_uri}` holds {} usable key(s) ({} skipped)",
                    keys.len(),
                    keys.skipped()
                ),
            ),
            Err(error @ KeySetError::NoUsableKey { .. }) => Check::failed(
                id,
                format!("`{jwks_uri}`: {error}"),
                "logout tokens could not be verified: the provider must publish its signing key \
                 (EC P-256/P-384, RSA of 2048 bits or more, or Ed25519)",
            ),
            Err(error) => Check::failed(
                id,
                format!("`{jwks_uri}`: {error}"),
                "the provider's jwks_uri must serve a JWK Set (`{\"keys\":[...]}`)",
            ),
        }
    }

    fn frontchannel_checks(&self, checks: &mut Vec<Check>) {
        let Some(metadata) = &self.metadata else {
            let why = "no discovery metadata was given to check the front-channel capabilities";
            checks.push(Check::unknown(CheckId::FrontchannelLogoutSupported, why));
            checks.push(Check::unknown(CheckId::FrontchannelLogoutSessionSupported, why));
            return;
        };
        checks.push(flag(
            CheckId::FrontchannelLogoutSupported,
            metadata.frontchannel_logout_supported(),
            "frontchannel_logout_supported",
            "the provider does not advertise Front-Channel Logout: it will not frame this app's \
             front-channel logout URI; ask the provider to enable it, or turn the route off",
        ));
        checks.push(flag(
            CheckId::FrontchannelLogoutSessionSupported,
            metadata.frontchannel_logout_session_supported(),
            "frontchannel_logout_session_supported",
            "front-channel requests will carry no `iss` and `sid`, and the front-channel route \
             refuses every request without them: ask the provider to send them, or turn the \
             route off",
        ));
    }
}

impl Preflight {
    fn revocation_check(&self) -> Check {
        let id = CheckId::RevocationEndpoint;
        match self.metadata.as_ref().map(ProviderMetadata::revocation_endpoint) {
            None => Check::unknown(id, "no discovery metadata was given to look for it"),
            Some(Some(endpoint)) => Check::passed(id, format!("published: `{endpoint}`")),
            Some(None) => Check::failed(
                id,
                "the discovery document has no revocation_endpoint",
                "tokens are not revoked at sign-out (refresh tokens stay valid until they \
                 expire): give the provider's documented endpoint by hand \
                 (`TokenRevoker::new`), or ask the provider to publish it",
            ),
        }
    }
}

/// A capability flag of the discovery document as a check.
fn flag(id: CheckId, advertised: bool, name: &str, fix: &str) -> Check {
    if advertised {
        Check::passed(id, "true")
    } else {
        Check::failed(id, format!("the discovery document does not set {name} to true"), fix)
    }
}

/// Whether `target` is `configured` with, at most, query parameters added
/// (Next Identity appends `logout`, and `state` when one is sent).
fn returns_to(target: &Url, configured: &str) -> bool {
    let Ok(configured) = Url::parse(configured) else { return false };
    let bare = |url: &Url| {
        let mut url = url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url
    };
    if bare(target) != bare(&configured) {
        return false;
    }
    let sent: Vec<_> = target.query_pairs().collect();
    configured.query_pairs().all(|pair| sent.contains(&pair))
}

/// Next Identity's answer to an unknown `client_id`: `{"error":"http_exception",...}`.
fn is_http_exception(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|value| value.get("error").and_then(|e| e.as_str()) == Some("http_exception"))
}

/// The provider's error text: from a JSON error (`error_details.message`,
/// `error_description`, `error`) or the body itself, printable and bounded.
fn provider_text(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let text =
            |pointer: &str| value.pointer(pointer).and_then(|v| v.as_str()).map(str::to_owned);
        let error = text("/error");
        let message = text("/error_details/message").or_else(|| text("/error_description"));
        let joined = match (error, message) {
            (Some(error), Some(message)) => format!("{error}: {message}"),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => value.to_string(),
        };
        return printable(&joined);
    }
    printable(&String::from_utf8_lossy(body))
}

/// `text` with every run of control characters and whitespace made one
/// space, cut to [`MAX_ANSWER_CHARS`] characters (with `…` when cut).
fn printable(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if chars >= MAX_ANSWER_CHARS {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// What a check is about; a [`PreflightReport`] holds each at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckId {
    /// The end-session endpoint does not refuse the `client_id`.
    ClientId,
    /// The end-session endpoint accepts the `post_logout_redirect_uri`.
    PostLogoutRedirectUri,
    /// The discovery document's `issuer` is the configured one.
    Issuer,
    /// The discovery document publishes the end-session endpoint the app uses.
    EndSessionEndpoint,
    /// `backchannel_logout_supported` is `true`.
    BackchannelLogoutSupported,
    /// `backchannel_logout_session_supported` is `true` (logout tokens carry `sid`).
    BackchannelLogoutSessionSupported,
    /// `jwks_uri` serves at least one key the logout-token validator can use.
    Jwks,
    /// `frontchannel_logout_supported` is `true`.
    FrontchannelLogoutSupported,
    /// `frontchannel_logout_session_supported` is `true` (requests carry `iss` and `sid`).
    FrontchannelLogoutSessionSupported,
    /// The discovery document publishes `revocation_endpoint` (RFC 7009).
    RevocationEndpoint,
}

impl CheckId {
    /// A short title, as the checklist shows it.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::ClientId => "end session: client_id known",
            Self::PostLogoutRedirectUri => "end session: post_logout_redirect_uri allowed",
            Self::Issuer => "discovery: issuer",
            Self::EndSessionEndpoint => "discovery: end_session_endpoint",
            Self::BackchannelLogoutSupported => "back-channel: backchannel_logout_supported",
            Self::BackchannelLogoutSessionSupported => {
                "back-channel: backchannel_logout_session_supported (sid)"
            }
            Self::Jwks => "back-channel: jwks_uri holds a usable key",
            Self::FrontchannelLogoutSupported => "front-channel: frontchannel_logout_supported",
            Self::FrontchannelLogoutSessionSupported => {
                "front-channel: frontchannel_logout_session_supported (iss, sid)"
            }
            Self::RevocationEndpoint => "revocation: revocation_endpoint",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// How a check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The provider's answer is what a working sign-out needs.
    Passed {
        /// What was seen.
        detail: String,
    },
    /// The provider said no.
    Failed {
        /// What the provider answered (its error text printable and cut to 200 characters).
        answer: String,
        /// What to do about it.
        fix: String,
    },
    /// The check could not tell.
    Unknown {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    fn passed(detail: impl Into<String>) -> Self {
        Self::Passed { detail: detail.into() }
    }

    fn failed(answer: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::Failed { answer: answer.into(), fix: fix.into() }
    }

    fn unknown(reason: impl Into<String>) -> Self {
        Self::Unknown { reason: reason.into() }
    }
}

/// One check of a [`PreflightReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// What it checks.
    pub id: CheckId,
    /// How it came out.
    pub outcome: Outcome,
}

impl Check {
    fn passed(id: CheckId, detail: impl Into<String>) -> Self {
        Self { id, outcome: Outcome::passed(detail) }
    }

    fn failed(id: CheckId, answer: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { id, outcome: Outcome::failed(answer, fix) }
    }

    fn unknown(id: CheckId, reason: impl Into<String>) -> Self {
        Self { id, outcome: Outcome::unknown(reason) }
    }

    /// Whether it passed.
    #[must_use]
    pub fn is_passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed { .. })
    }
}

/// What [`Preflight::run`] found: each [`Check`] in order; `Display` is a checklist.
///
/// ```text
/// [ok]   end session: client_id known: the provider redirects to `https://app.example/`
/// [FAIL] end session: post_logout_redirect_uri allowed
///        provider answered: 400 Bad Request: invalid_request: post_logout_redirect_uri is not on ...
///        to do: add `https://app.example/` exactly as written to the client's allow-list ...
/// [?]    back-channel: jwks_uri holds a usable key: ... no answer within 10s
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightReport {
    checks: Vec<Check>,
}

impl PreflightReport {
    /// Every check, in the order run.
    #[must_use]
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The check `id`, if it was run.
    #[must_use]
    pub fn get(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|check| check.id == id)
    }

    /// Whether every check passed: nothing failed and nothing is unknown.
    /// The strict test for failing start-up; see [`has_failures`](Self::has_failures)
    /// for a lenient one.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.checks.iter().all(Check::is_passed)
    }

    /// Whether a check failed (the provider said no), unknowns aside: a
    /// provider that is down at start-up does not make this `true`.
    #[must_use]
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|check| matches!(check.outcome, Outcome::Failed { .. }))
    }
}

impl fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            match &check.outcome {
                Outcome::Passed { detail } => writeln!(f, "[ok]   {}: {detail}", check.id)?,
                Outcome::Failed { answer, fix } => {
                    writeln!(f, "[FAIL] {}", check.id)?;
                    writeln!(f, "       provider answered: {answer}")?;
                    writeln!(f, "       to do: {fix}")?;
                }
                Outcome::Unknown { reason } => writeln!(f, "[?]    {}: {reason}", check.id)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_back_may_add_query_parameters_only() {
        let to = |s: &str| Url::parse(s).unwrap();
        let uri = "https://app.example/cb?a=1";
        assert!(returns_to(&to("https://app.example/cb?a=1"), uri));
        assert!(returns_to(&to("https://app.example/cb?a=1&logout=success"), uri));
        assert!(returns_to(&to("https://app.example/cb?logout=success&a=1"), uri));
        assert!(!returns_to(&to("https://app.example/cb?logout=success"), uri));
        assert!(!returns_to(&to("https://app.example/cb/?a=1"), uri));
        assert!(!returns_to(&to("https://evil.example/cb?a=1"), uri));
        assert!(!returns_to(&to("http://app.example/cb?a=1"), uri));
    }

    #[test]
    fn provider_text_is_printable_and_bounded() {
        let nested =
            br#"{"error":"invalid_request","error_details":{"message":"not\u0007 listed"}}"#;
        assert_eq!(provider_text(nested), "invalid_request: not listed");
        assert_eq!(provider_text(b"  bad\r\n\x1b[31mred  "), "bad [31mred");
        let long = "x".repeat(1000);
        let cut = provider_text(long.as_bytes());
        assert_eq!(cut.chars().count(), MAX_ANSWER_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert!(is_http_exception(
            br#"{"error":"http_exception","error_details":{"message":"Forbidden"}}"#
        ));
        assert!(!is_http_exception(br#"{"error":"invalid_request"}"#));
    }
}
