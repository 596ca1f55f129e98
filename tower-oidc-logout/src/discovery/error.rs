//! Why discovery failed, each reason saying what to fix.

use std::{io, time::Duration};

use crate::error::BoxError;

/// Why a provider's discovery document could not be fetched or accepted.
///
/// Every message names the issuer or URL concerned and says what to check or
/// change. Nothing in discovery panics: every failure is one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The configured issuer is not a URL discovery may use; no request was made.
    #[error("issuer `{issuer}` is not usable for discovery: {reason}")]
    InvalidIssuer {
        /// The configured issuer.
        issuer: String,
        /// What is wrong with it and how to fix it.
        reason: &'static str,
    },
    /// Discovery was called outside a Tokio runtime.
    #[error(
        "discovery needs a Tokio runtime with IO and time enabled: call it from `#[tokio::main]` or a task it runs"
    )]
    NoTokioRuntime,
    /// An extra root certificate given to [`Discovery::add_root_certificate`](super::Discovery::add_root_certificate) is not a DER certificate.
    #[error(
        "an extra root certificate was refused ({reason}): pass the CA certificate in DER form (PEM without the armour, base64-decoded)"
    )]
    InvalidRootCertificate {
        /// Why rustls refused it.
        reason: String,
    },
    /// The provider's host name could not be resolved.
    #[error("could not resolve `{host}`: check the issuer's host name and this machine's DNS")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// No connection could be opened to the provider.
    #[error(
        "could not connect to fetch `{url}`: check the issuer and that the provider is reachable from here"
    )]
    Connect {
        /// The discovery document's URL.
        url: String,
        /// The last connection error.
        source: io::Error,
    },
    /// Opening the connection (resolution, TCP and TLS handshake) took too long.
    #[error(
        "no connection to fetch `{url}` within {timeout:?}: check that the provider is reachable from here, or raise `connect_timeout`"
    )]
    ConnectTimeout {
        /// The discovery document's URL.
        url: String,
        /// The configured connect timeout.
        timeout: Duration,
    },
    /// The provider's TLS certificate was refused: verification is on.
    #[error(
        "the TLS certificate of `{url}` is not trusted ({reason}): the provider must present a valid certificate for its host name from a public CA, or add its private CA with `add_root_certificate`"
    )]
    UntrustedCertificate {
        /// The discovery document's URL.
        url: String,
        /// What rustls found wrong with the certificate.
        reason: String,
    },
    /// The TLS handshake failed for a reason other than the certificate.
    #[error(
        "TLS handshake with `{url}` failed: the provider must speak TLS 1.2 or 1.3 on this port"
    )]
    Tls {
        /// The discovery document's URL.
        url: String,
        /// The handshake error.
        source: io::Error,
    },
    /// The HTTP exchange failed (connection closed, malformed response...).
    #[error("fetching `{url}` failed at the HTTP level: check that an HTTP server answers there")]
    Http {
        /// The discovery document's URL.
        url: String,
        /// The HTTP client's error.
        source: BoxError,
    },
    /// The whole fetch took longer than the total timeout.
    #[error(
        "`{url}` did not answer in full within {timeout:?}: check the provider, or raise `timeout`"
    )]
    Timeout {
        /// The discovery document's URL.
        url: String,
        /// The configured total timeout.
        timeout: Duration,
    },
    /// The provider answered with a redirect, which discovery does not follow.
    #[error(
        "`{url}` redirects ({status}) to {location:?}: discovery follows no redirect, because the document's `issuer` must equal the configured issuer; configure the provider's real issuer"
    )]
    Redirect {
        /// The discovery document's URL.
        url: String,
        /// The redirect's status code.
        status: u16,
        /// Its `Location` header, if readable.
        location: Option<String>,
    },
    /// The provider answered with a status other than `200 OK`.
    #[error(
        "`{url}` answered {status} instead of 200: check the issuer (it is the URL before `/.well-known/openid-configuration`)"
    )]
    Status {
        /// The discovery document's URL.
        url: String,
        /// The status code received.
        status: u16,
    },
    /// The document is larger than the configured cap.
    #[error(
        "the document at `{url}` is larger than {limit} bytes: check the URL, or raise `max_document_len`"
    )]
    TooLarge {
        /// The discovery document's URL.
        url: String,
        /// The configured cap, in bytes.
        limit: usize,
    },
    /// The document is not JSON.
    #[error(
        "the discovery document of `{issuer}` is not valid JSON ({reason}): check that the issuer is the provider's and that it serves OpenID Connect Discovery"
    )]
    InvalidJson {
        /// The configured issuer.
        issuer: String,
        /// Where and why parsing failed.
        reason: String,
    },
    /// The document is JSON but not an object.
    #[error(
        "the discovery document of `{issuer}` is JSON but not an object: check that the issuer is the provider's"
    )]
    NotAnObject {
        /// The configured issuer.
        issuer: String,
    },
    /// A member the document must have is missing.
    #[error(
        "the discovery document of `{issuer}` has no `{field}`: the provider's metadata is incomplete"
    )]
    MissingField {
        /// The configured issuer.
        issuer: String,
        /// The missing member.
        field: &'static str,
    },
    /// A member has the wrong JSON type.
    #[error(
        "`{field}` in the discovery document of `{issuer}` must be {expected}: the provider's metadata is malformed"
    )]
    WrongType {
        /// The configured issuer.
        issuer: String,
        /// The member.
        field: &'static str,
        /// The JSON type it must have.
        expected: &'static str,
    },
    /// The document's `issuer` differs from the configured issuer.
    #[error(
        "the discovery document names issuer `{document}` but `{configured}` was configured: they must be equal byte for byte (a trailing `/` counts); configure the provider's issuer exactly as its document states, after checking it is the provider you meant"
    )]
    IssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The `issuer` of the document.
        document: String,
    },
    /// An endpoint in the document is not a URL this crate will use.
    #[error("`{field}` `{value}` in the discovery document of `{issuer}` is not usable: {reason}")]
    InvalidEndpoint {
        /// The configured issuer.
        issuer: String,
        /// The member holding the endpoint.
        field: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The provider publishes no `end_session_endpoint`.
    ///
    /// [`ProviderMetadata::discover`](super::ProviderMetadata::discover)
    /// accepts such a document; this is returned by
    /// [`ProviderMetadata::require_end_session_endpoint`](super::ProviderMetadata::require_end_session_endpoint),
    /// for a sign-out that needs one.
    #[error(
        "the discovery document of `{issuer}` has no `end_session_endpoint`: configure it by hand with `end_session_endpoint(url)`, or check that the provider supports RP-Initiated Logout and that this is its issuer"
    )]
    NoEndSessionEndpoint {
        /// The configured issuer.
        issuer: String,
    },
}
