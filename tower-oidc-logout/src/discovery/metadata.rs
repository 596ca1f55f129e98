//! The provider metadata this crate uses, and every rule a document must pass.

use serde_json::{Map, Value};

use super::{Discovery, DiscoveryError};

/// The suffix OpenID Connect Discovery 1.0 (section 4) appends to the issuer.
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// What a provider's discovery document says that matters for signing out.
///
/// Built by [`discover`](Self::discover) (network) or
/// [`from_json`](Self::from_json) (a document in hand); both apply the same
/// rules: the document's `issuer` equals the configured issuer exactly, and
/// every endpoint is an absolute `https` URL without credentials or
/// fragment; plain `http` only on `localhost`, `127.0.0.1` and `[::1]`, and
/// only when the issuer is itself plain `http` on one of them (a
/// development provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    issuer: String,
    end_session_endpoint: Option<String>,
    jwks_uri: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
    frontchannel_logout_supported: bool,
    frontchannel_logout_session_supported: bool,
}

impl ProviderMetadata {
    /// Fetches and checks `<issuer>/.well-known/openid-configuration` with
    /// the default [`Discovery`] settings.
    ///
    /// A document without `end_session_endpoint` is accepted; see
    /// [`require_end_session_endpoint`](Self::require_end_session_endpoint).
    pub async fn discover(issuer: &str) -> Result<Self, DiscoveryError> {
        Discovery::new().discover(issuer).await
    }

    /// Checks a discovery document already in hand, as
    /// [`discover`](Self::discover) does after fetching it.
    ///
    /// `issuer` is the configured issuer; the document's `issuer` must equal
    /// it byte for byte. A member that is `null` counts as absent; the four
    /// logout capability flags default to `false`.
    pub fn from_json(issuer: &str, document: &[u8]) -> Result<Self, DiscoveryError> {
        configuration_url(issuer)?;
        let value: Value = serde_json::from_slice(document).map_err(|error| {
            DiscoveryError::InvalidJson { issuer: issuer.to_owned(), reason: error.to_string() }
        })?;
        let Value::Object(members) = value else {
            return Err(DiscoveryError::NotAnObject { issuer: issuer.to_owned() });
        };
        let document = Document { issuer, members: &members };

        let stated = document
            .string("issuer")?
            .ok_or(DiscoveryError::MissingField { issuer: issuer.to_owned(), field: "issuer" })?;
        if stated != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                configured: issuer.to_owned(),
                document: stated.to_owned(),
            });
        }

        Ok(Self {
            issuer: issuer.to_owned(),
            end_session_endpoint: document.endpoint("end_session_endpoint")?,
            jwks_uri: document.endpoint("jwks_uri")?,
            authorization_endpoint: document.endpoint("authorization_endpoint")?,
            token_endpoint: document.endpoint("token_endpoint")?,
            revocation_endpoint: document.endpoint("revocation_endpoint")?,
            backchannel_logout_supported: document.flag("backchannel_logout_supported")?,
            backchannel_logout_session_supported: document
                .flag("backchannel_logout_session_supported")?,
            frontchannel_logout_supported: document.flag("frontchannel_logout_supported")?,
            frontchannel_logout_session_supported: document
                .flag("frontchannel_logout_session_supported")?,
        })
    }

    /// The issuer, as configured (and as the document states it).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `end_session_endpoint`: where RP-Initiated Logout sends the browser,
    /// if the provider publishes one.
    #[must_use]
    pub fn end_session_endpoint(&self) -> Option<&str> {
        self.end_session_endpoint.as_deref()
    }

    /// `end_session_endpoint`, or
    /// [`DiscoveryError::NoEndSessionEndpoint`] naming the issuer when the
    /// provider publishes none.
    pub fn require_end_session_endpoint(&self) -> Result<&str, DiscoveryError> {
        self.end_session_endpoint()
            .ok_or_else(|| DiscoveryError::NoEndSessionEndpoint { issuer: self.issuer.clone() })
    }

    /// `jwks_uri`: the provider's signing keys (for back-channel logout tokens).
    #[must_use]
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// `authorization_endpoint`, if published.
    #[must_use]
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.authorization_endpoint.as_deref()
    }

    /// `token_endpoint`, if published.
    #[must_use]
    pub fn token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
    }

    /// `revocation_endpoint` (RFC 8414 / RFC 7009), if published: where
    /// tokens are revoked at sign-out (feature `revocation`).
    #[must_use]
    pub fn revocation_endpoint(&self) -> Option<&str> {
        self.revocation_endpoint.as_deref()
    }

    /// `backchannel_logout_supported` (Back-Channel Logout 1.0); `false` when absent.
    #[must_use]
    pub fn backchannel_logout_supported(&self) -> bool {
        self.backchannel_logout_supported
    }

    /// `backchannel_logout_session_supported`: logout tokens carry `sid`; `false` when absent.
    #[must_use]
    pub fn backchannel_logout_session_supported(&self) -> bool {
        self.backchannel_logout_session_supported
    }

    /// `frontchannel_logout_supported` (Front-Channel Logout 1.0); `false` when absent.
    #[must_use]
    pub fn frontchannel_logout_supported(&self) -> bool {
        self.frontchannel_logout_supported
    }

    /// `frontchannel_logout_session_supported`: front-channel requests carry
    /// `iss` and `sid`; `false` when absent.
    #[must_use]
    pub fn frontchannel_logout_session_supported(&self) -> bool {
        self.frontchannel_logout_session_supported
    }
}

/// The discovery document's URL for `issuer`:
/// `<issuer without a trailing />/.well-known/openid-configuration`.
///
/// Checks the issuer first: an absolute `https` URL (`http` only on
/// `localhost`, `127.0.0.1` and `[::1]`), without credentials, query or
/// fragment. No request is made.
///
/// ```
/// use tower_oidc_logout::discovery::configuration_url;
///
/// let url = configuration_url("https://id.eu.nextreason.com")?;
/// assert_eq!(url, "https://id.eu.nextreason.com/.well-known/openid-configuration");
/// let url = configuration_url("https://kc.example/realms/app/")?;
/// assert_eq!(url, "https://kc.example/realms/app/.well-known/openid-configuration");
/// # Ok::<(), tower_oidc_logout::discovery::DiscoveryError>(())
/// ```
pub fn configuration_url(issuer: &str) -> Result<String, DiscoveryError> {
    let invalid = |reason| DiscoveryError::InvalidIssuer { issuer: issuer.to_owned(), reason };
    let url = crate::https_url::parse(issuer).map_err(invalid)?;
    if url.query().is_some() || issuer.contains('?') {
        return Err(invalid("an issuer has no query: remove the `?...` part"));
    }
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    Ok(format!("{base}{WELL_KNOWN}"))
}

/// Typed access to the document's members, each error naming the issuer.
struct Document<'a> {
    issuer: &'a str,
    members: &'a Map<String, Value>,
}

impl<'a> Document<'a> {
    fn wrong_type(&self, field: &'static str, expected: &'static str) -> DiscoveryError {
        DiscoveryError::WrongType { issuer: self.issuer.to_owned(), field, expected }
    }

    fn string(&self, field: &'static str) -> Result<Option<&'a str>, DiscoveryError> {
        match self.members.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.wrong_type(field, "a string")),
        }
    }

    fn endpoint(&self, field: &'static str) -> Result<Option<String>, DiscoveryError> {
        let Some(value) = self.string(field)? else { return Ok(None) };
        crate::https_url::parse_endpoint(value, self.issuer).map_err(|reason| {
            DiscoveryError::InvalidEndpoint {
                issuer: self.issuer.to_owned(),
                field,
                value: value.to_owned(),
                reason,
            }
        })?;
        Ok(Some(value.to_owned()))
    }

    fn flag(&self, field: &'static str) -> Result<bool, DiscoveryError> {
        match self.members.get(field) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(self.wrong_type(field, "`true` or `false`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://op.example";

    fn parse(document: &str) -> Result<ProviderMetadata, DiscoveryError> {
        ProviderMetadata::from_json(ISSUER, document.as_bytes())
    }

    #[test]
    fn keeps_the_endpoints_and_flags() {
        let metadata = parse(
            r#"{"issuer":"https://op.example",
                "end_session_endpoint":"https://op.example/endsession?tenant=a",
                "jwks_uri":"https://op.example/jwks",
                "authorization_endpoint":"https://op.example/authorize",
                "token_endpoint":"https://op.example/token",
                "revocation_endpoint":"https://op.example/revoke",
                "backchannel_logout_supported":true,
                "backchannel_logout_session_supported":true,
                "frontchannel_logout_supported":false,
                "frontchannel_logout_session_supported":true,
                "response_types_supported":["code"]}"#,
        )
        .unwrap();
        assert_eq!(metadata.issuer(), ISSUER);
        assert_eq!(metadata.end_session_endpoint(), Some("https://op.example/endsession?tenant=a"));
        assert_eq!(
            metadata.require_end_session_endpoint().unwrap(),
            "https://op.example/endsession?tenant=a"
        );
        assert_eq!(metadata.jwks_uri(), Some("https://op.example/jwks"));
        assert_eq!(metadata.authorization_endpoint(), Some("https://op.example/authorize"));
        assert_eq!(metadata.revocation_endpoint(), Some("https://op.example/revoke"));
        assert_eq!(metadata.token_endpoint(), Some("https://op.example/token"));
        assert!(metadata.backchannel_logout_supported());
        assert!(metadata.backchannel_logout_session_supported());
        assert!(!metadata.frontchannel_logout_supported());
        assert!(metadata.frontchannel_logout_session_supported());
    }

    #[test]
    fn absent_or_null_members_are_none_and_flags_false() {
        let metadata =
            parse(r#"{"issuer":"https://op.example","jwks_uri":null,"frontchannel_logout_supported":null}"#)
                .unwrap();
        assert_eq!(metadata.end_session_endpoint(), None);
        assert_eq!(metadata.jwks_uri(), None);
        assert_eq!(metadata.authorization_endpoint(), None);
        assert_eq!(metadata.token_endpoint(), None);
        assert!(!metadata.backchannel_logout_supported());
        assert!(!metadata.backchannel_logout_session_supported());
        assert!(!metadata.frontchannel_logout_supported());
        assert!(!metadata.frontchannel_logout_session_supported());
        let err = metadata.require_end_session_endpoint().unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::NoEndSessionEndpoint { issuer } if issuer == ISSUER)
        );
        let message = err.to_string();
        assert!(
            message.contains(ISSUER) && message.contains("end_session_endpoint(url)"),
            "{message}"
        );
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        for stated in [
            "https://op.example/",
            "https://OP.example",
            "https://op.example:443",
            "https://evil.example",
        ] {
            let err = parse(&format!(r#"{{"issuer":"{stated}"}}"#)).unwrap_err();
            assert!(
                matches!(&err, DiscoveryError::IssuerMismatch { configured, document }
                    if configured == ISSUER && document == stated),
                "{stated}: {err}"
            );
            let message = err.to_string();
            assert!(message.contains(ISSUER) && message.contains(stated), "{message}");
        }
        // A configured trailing slash is kept, and must be in the document too.
        let with_slash = ProviderMetadata::from_json(
            "https://op.example/",
            br#"{"issuer":"https://op.example/"}"#,
        );
        assert_eq!(with_slash.unwrap().issuer(), "https://op.example/");
        let err = ProviderMetadata::from_json(
            "https://op.example/",
            br#"{"issuer":"https://op.example"}"#,
        )
        .unwrap_err();
        assert!(matches!(err, DiscoveryError::IssuerMismatch { .. }), "{err}");
    }

    #[test]
    fn endpoints_must_be_https_except_on_loopback() {
        for bad in [
            "http://op.example/endsession",
            "ftp://op.example/endsession",
            "/endsession",
            "https://user:pw@op.example/endsession",
            "https://op.example/endsession#x",
            " https://op.example/endsession",
        ] {
            let err = parse(&format!(
                r#"{{"issuer":"https://op.example","end_session_endpoint":"{bad}"}}"#
            ))
            .unwrap_err();
            assert!(
                matches!(&err, DiscoveryError::InvalidEndpoint { field: "end_session_endpoint", value, .. } if value == bad),
                "{bad}: {err}"
            );
        }
        let err = parse(
            r#"{"issuer":"https://op.example","revocation_endpoint":"http://127.0.0.1/revoke"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::InvalidEndpoint { field: "revocation_endpoint", .. }),
            "tokens never go to plain http beside an https issuer: {err}"
        );
        let err = parse(r#"{"issuer":"https://op.example","jwks_uri":"http://op.example/jwks"}"#)
            .unwrap_err();
        assert!(matches!(err, DiscoveryError::InvalidEndpoint { field: "jwks_uri", .. }), "{err}");
        for ok in ["http://localhost:8080/end", "http://127.0.0.1/end", "http://[::1]:9/end"] {
            let local = "http://127.0.0.1:8080";
            let metadata = ProviderMetadata::from_json(
                local,
                format!(r#"{{"issuer":"{local}","end_session_endpoint":"{ok}"}}"#).as_bytes(),
            )
            .unwrap();
            assert_eq!(metadata.end_session_endpoint(), Some(ok));
        }
    }

    /// An `https` provider's document naming a plain-`http` loopback endpoint
    /// would let a forged `kid` make the app GET a local URL.
    #[test]
    fn an_https_issuers_endpoints_are_never_plain_http_loopback() {
        for field in
            ["end_session_endpoint", "jwks_uri", "authorization_endpoint", "token_endpoint"]
        {
            for local in ["http://127.0.0.1:6379/jwks", "http://localhost/x", "http://[::1]:9/x"] {
                let err =
                    parse(&format!(r#"{{"issuer":"https://op.example","{field}":"{local}"}}"#))
                        .unwrap_err();
                assert!(
                    matches!(&err, DiscoveryError::InvalidEndpoint { field: f, value, .. }
                        if *f == field && value == local),
                    "{field} {local}: {err}"
                );
                assert!(err.to_string().contains("issuer is itself plain `http`"), "{err}");
            }
        }
    }

    #[test]
    fn malformed_documents_are_typed() {
        assert!(matches!(parse("<html>"), Err(DiscoveryError::InvalidJson { .. })));
        assert!(matches!(parse(""), Err(DiscoveryError::InvalidJson { .. })));
        assert!(matches!(
            parse(r#"["https://op.example"]"#),
            Err(DiscoveryError::NotAnObject { .. })
        ));
        assert!(matches!(
            parse(r#""https://op.example""#),
            Err(DiscoveryError::NotAnObject { .. })
        ));
        assert!(matches!(parse("{}"), Err(DiscoveryError::MissingField { field: "issuer", .. })));
        assert!(matches!(
            parse(r#"{"issuer":42}"#),
            Err(DiscoveryError::WrongType { field: "issuer", .. })
        ));
        assert!(matches!(
            parse(
                r#"{"issuer":"https://op.example","end_session_endpoint":["https://op.example/e"]}"#
            ),
            Err(DiscoveryError::WrongType {
                field: "end_session_endpoint",
                expected: "a string",
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"issuer":"https://op.example","backchannel_logout_supported":"true"}"#),
            Err(DiscoveryError::WrongType { field: "backchannel_logout_supported", .. })
        ));
    }

    #[test]
    fn the_configured_issuer_is_checked() {
        for bad in [
            "http://op.example",
            "op.example",
            "https://op.example?tenant=a",
            "https://op.example#x",
            "https://u:p@op.example",
            "https://op.example ",
        ] {
            let err = ProviderMetadata::from_json(bad, br#"{"issuer":"x"}"#).unwrap_err();
            assert!(
                matches!(&err, DiscoveryError::InvalidIssuer { issuer, .. } if issuer == bad),
                "{bad}: {err}"
            );
            assert!(configuration_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_configuration_url_strips_one_trailing_slash() {
        assert_eq!(
            configuration_url("https://op.example/").unwrap(),
            "https://op.example/.well-known/openid-configuration"
        );
        assert_eq!(
            configuration_url("https://op.example/tenant").unwrap(),
            "https://op.example/tenant/.well-known/openid-configuration"
        );
        assert_eq!(
            configuration_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/.well-known/openid-configuration"
        );
    }
}
