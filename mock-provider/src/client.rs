//! What the mock knows of a registered client (relying party).

/// A client registered at the mock provider.
///
/// Every URI is compared as an exact string, byte for byte, as OpenID
/// Connect and Next Identity require: `https://app.example/cb` and
/// `https://app.example/cb/` are different.
///
/// ```
/// use tower_oidc_logout_mock::MockClient;
///
/// let client = MockClient::new("web-app")
///     .redirect_uri("https://app.example/auth/callback")
///     .post_logout_redirect_uri("https://app.example/logout/callback")
///     .secret("s3cret") // confidential; without it the client is public and must use PKCE
///     .backchannel_logout_uri("https://app.example/logout/backchannel");
/// assert!(client.is_confidential());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct MockClient {
    id: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    secret: Option<String>,
    backchannel_logout_uri: Option<String>,
    frontchannel_logout_uri: Option<String>,
}

impl std::fmt::Debug for MockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClient")
            .field("id", &self.id)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("backchannel_logout_uri", &self.backchannel_logout_uri)
            .field("frontchannel_logout_uri", &self.frontchannel_logout_uri)
            .finish()
    }
}

impl MockClient {
    /// A public client (no secret) with the ID `id` and no URIs yet.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            secret: None,
            backchannel_logout_uri: None,
            frontchannel_logout_uri: None,
        }
    }

    /// Adds a redirect URI that `/authorize` may send codes to.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Adds a URI to the allow-list of `/endsession`'s `post_logout_redirect_uri`.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// Makes the client confidential: at `/token` it authenticates with this
    /// secret (`client_secret_basic` or `client_secret_post`).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Its Back-Channel Logout endpoint: when a hosted session it received
    /// tokens for ends, the mock POSTs a Logout Token there (plain `http` only).
    pub fn backchannel_logout_uri(mut self, uri: impl Into<String>) -> Self {
        self.backchannel_logout_uri = Some(uri.into());
        self
    }

    /// Its Front-Channel Logout endpoint: when a hosted session it received
    /// tokens for ends in a browser, the mock's logged-out page loads it in
    /// an iframe, with `iss` and `sid`.
    pub fn frontchannel_logout_uri(mut self, uri: impl Into<String>) -> Self {
        self.frontchannel_logout_uri = Some(uri.into());
        self
    }

    /// The client ID.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The registered redirect URIs, in the order added.
    #[must_use]
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// The allow-listed post-logout redirect URIs, in the order added.
    #[must_use]
    pub fn post_logout_redirect_uris(&self) -> &[String] {
        &self.post_logout_redirect_uris
    }

    /// Whether the client has a secret (confidential) or not (public).
    #[must_use]
    pub fn is_confidential(&self) -> bool {
        self.secret.is_some()
    }

    /// Its Back-Channel Logout endpoint, if registered.
    #[must_use]
    pub fn registered_backchannel_logout_uri(&self) -> Option<&str> {
        self.backchannel_logout_uri.as_deref()
    }

    /// Its Front-Channel Logout endpoint, if registered.
    #[must_use]
    pub fn registered_frontchannel_logout_uri(&self) -> Option<&str> {
        self.frontchannel_logout_uri.as_deref()
    }

    pub(super) fn secret_value(&self) -> Option<&str> {
        self.secret.as_deref()
    }

    pub(super) fn add_post_logout_redirect_uris(&mut self, uris: impl IntoIterator<Item = String>) {
        self.post_logout_redirect_uris.extend(uris);
    }
}
