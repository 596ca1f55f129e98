//! Authorization codes between `/authorize` and `/token`: single use, short-lived.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use crate::random::random_hex;

/// How long an authorization code can be exchanged at `/token` after `/authorize` issued it.
pub const AUTHORIZATION_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Grant {
    pub(super) client_id: String,
    /// Exactly as in the authorization request; `/token` must repeat it.
    pub(super) redirect_uri: String,
    /// The S256 PKCE challenge, if the request had one.
    pub(super) code_challenge: Option<String>,
    pub(super) nonce: Option<String>,
    /// The `scope` of the authorization request, as given (space-separated).
    pub(super) scope: String,
    /// The hosted session's cookie value (the key of the hosted sessions, never sent out).
    pub(super) session: String,
    /// Seconds since the Unix epoch after which the code is refused.
    pub(super) expires_at: u64,
}

/// Codes issued and not yet exchanged.
#[derive(Debug, Default)]
pub(super) struct AuthorizationCodes(Mutex<HashMap<String, Grant>>);

impl AuthorizationCodes {
    /// A new code for `grant`, issued at `now`; `None` if the OS has no randomness.
    pub(super) fn issue(&self, mut grant: Grant, now: u64) -> Option<String> {
        let code = random_hex(32)?;
        grant.expires_at = now.saturating_add(AUTHORIZATION_CODE_LIFETIME.as_secs());
        let mut codes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Codes never exchanged do not pile up.
        codes.retain(|_, grant| grant.expires_at >= now);
        codes.insert(code.clone(), grant);
        Some(code)
    }

    /// The grant of `code`, removed: a code is good for one exchange at most,
    /// whether or not that exchange succeeds.
    pub(super) fn take(&self, code: &str) -> Option<Grant> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_taken_once_and_expired_ones_are_dropped() {
        let codes = AuthorizationCodes::default();
        let grant = Grant {
            client_id: "c".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: None,
            nonce: None,
            scope: "openid".into(),
            session: "s".into(),
            expires_at: 0,
        };
        let code = codes.issue(grant.clone(), 1_000).unwrap();
        assert_eq!(code.len(), 64);
        let taken = codes.take(&code).unwrap();
        assert_eq!(taken.expires_at, 1_000 + AUTHORIZATION_CODE_LIFETIME.as_secs());
        assert_eq!(codes.take(&code), None);

        let old = codes.issue(grant.clone(), 1_000).unwrap();
        let _new = codes.issue(grant, 1_000 + AUTHORIZATION_CODE_LIFETIME.as_secs() + 1).unwrap();
        assert_eq!(codes.take(&old), None, "pruned when a later code was issued");
    }
}
