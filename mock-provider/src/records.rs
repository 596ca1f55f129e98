//! What the mock records of its sign-outs, for tests to inspect through
//! [`MockProvider`](crate::MockProvider).

/// One request the mock's `/endsession` received, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndSessionCall {
    /// The query parameters, decoded, in order.
    pub params: Vec<(String, String)>,
    /// The status code of the answer: 302 on success, or 200 when the
    /// logged-out page loads front-channel iframes first.
    pub status: u16,
    /// Whether a hosted session was ended.
    pub ended_hosted_session: bool,
    /// The `id_token_hint` parameter, as received (also in `params`).
    pub id_token_hint: Option<String>,
    /// The `sid` claim of the `id_token_hint`, if the mock accepted the hint
    /// (signed by its key, issued to the `client_id`).
    pub id_token_hint_sid: Option<String>,
}

impl EndSessionCall {
    /// The first value of the query parameter `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One Logout Token the mock POSTed to a client's `backchannel_logout_uri`, and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackchannelDelivery {
    /// The client notified.
    pub client_id: String,
    /// Its `backchannel_logout_uri`, where the token was POSTed.
    pub uri: String,
    /// The ended hosted session's `sid` (also in the token).
    pub sid: String,
    /// The session's user, the token's `sub`.
    pub sub: String,
    /// The Logout Token sent (compact JWS), the body's `logout_token`.
    pub logout_token: String,
    /// The HTTP status the client answered, if it answered.
    pub status: Option<u16>,
    /// Why there is no status: unsupported URI, connection refused, timeout, HTTP error.
    pub error: Option<String>,
}

impl BackchannelDelivery {
    /// Whether the client acknowledged the logout: `200 OK`, or `204 No Content`
    /// which section 2.8 notes some frameworks answer instead.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200 | 204))
    }
}

/// One iframe a logged-out page of the mock rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrontchannelLogout {
    /// The client whose `frontchannel_logout_uri` was loaded.
    pub client_id: String,
    /// The ended hosted session's `sid`.
    pub sid: String,
    /// The iframe's `src`: the client's `frontchannel_logout_uri` with `iss`
    /// and `sid` appended to its query (before any fragment), unescaped.
    pub uri: String,
}

/// One request the mock's `/revoke` received (RFC 7009), and what it answered.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationCall {
    /// The client, as it authenticated; `None` if it did not (a `401`, or a
    /// fault answered before authentication).
    pub client_id: Option<String>,
    /// The `token` parameter, if given. A bearer secret: [`Debug`] redacts it.
    pub token: Option<String>,
    /// The `token_type_hint` parameter, if given, as given.
    pub token_type_hint: Option<String>,
    /// Whether this request revoked a token (an active one, of this client).
    /// A token revoked again, unknown or another client's is `false` (and answered `200`).
    pub revoked: bool,
    /// The status answered: `200`, or the error's.
    pub status: u16,
}

impl std::fmt::Debug for RevocationCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationCall")
            .field("client_id", &self.client_id)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_type_hint", &self.token_type_hint)
            .field("revoked", &self.revoked)
            .field("status", &self.status)
            .finish()
    }
}
