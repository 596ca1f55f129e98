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
