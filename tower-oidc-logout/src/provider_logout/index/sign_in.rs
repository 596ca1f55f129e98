//! What the app records at sign-in.

use std::time::SystemTime;

/// One sign-in, as the app records it in a [`SessionIndex`](super::SessionIndex).
///
/// `iss`, `sid` and `sub` are the validated ID token's claims (`sid` is
/// optional: not every provider sends it); `session_id` is the app's own
/// session ID, in the string form its session store parses back;
/// `expires_at` is when that session expires, so the entry goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignIn {
    /// The issuer (`iss`), exactly as in the ID token.
    pub iss: String,
    /// The provider's session ID (`sid`), if the ID token has one.
    pub sid: Option<String>,
    /// The user at that issuer (`sub`).
    pub sub: String,
    /// The app's session ID.
    pub session_id: String,
    /// When the app's session expires.
    pub expires_at: SystemTime,
}

impl SignIn {
    /// A sign-in without `sid`; add it with [`sid`](Self::sid).
    #[must_use]
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        session_id: impl Into<String>,
        expires_at: SystemTime,
    ) -> Self {
        Self {
            iss: iss.into(),
            sid: None,
            sub: sub.into(),
            session_id: session_id.into(),
            expires_at,
        }
    }

    /// The provider's session ID (`sid`) from the ID token.
    #[must_use]
    pub fn sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }
}

/// A provider's logout, as the index reads it: which issuer, which provider
/// session (`sid`) or user (`sub`), and for a Back-Channel logout token its
/// `jti`, remembered until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutNotice<'a> {
    /// The issuer (`iss`).
    pub iss: &'a str,
    /// The provider session that ended (`sid`), if named.
    pub sid: Option<&'a str>,
    /// The user whose sessions ended (`sub`), if named.
    pub sub: Option<&'a str>,
    /// The logout token's `jti` and until when to remember it; `None` for a
    /// Front-Channel logout, which has no token.
    pub token: Option<(&'a str, SystemTime)>,
}

impl<'a> LogoutNotice<'a> {
    /// A logout of (`iss`, `sid`), or of every session of (`iss`, `sub`)
    /// without a `sid`; without a token (add it with [`token`](Self::token)).
    #[must_use]
    pub fn new(iss: &'a str, sid: Option<&'a str>, sub: Option<&'a str>) -> Self {
        Self { iss, sid, sub, token: None }
    }

    /// The logout token's `jti`, used once, remembered until `until`.
    #[must_use]
    pub fn token(mut self, jti: &'a str, until: SystemTime) -> Self {
        self.token = Some((jti, until));
        self
    }
}

/// What [`SessionIndex::pending`](super::SessionIndex::pending) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// The logout token's `jti` was already used: refuse it, end nothing.
    Replayed,
    /// The app session IDs the logout names (maybe none), ascending.
    Sessions(Vec<String>),
}
