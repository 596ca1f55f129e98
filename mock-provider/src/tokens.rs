//! Refresh and access tokens issued at `/token`: whether each is still
//! active, and their revocation (RFC 7009).

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use crate::random::random_hex;

/// When `/token` issues a refresh token; [`MockProviderBuilder::refresh_tokens`](crate::MockProviderBuilder::refresh_tokens) sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefreshTokens {
    /// With every authorization code exchanged.
    Always,
    /// When the authorization request's `scope` had `offline_access`
    /// (OpenID Connect Core 1.0, section 11). The default.
    #[default]
    WithOfflineAccess,
    /// Never: `/token` answers no `refresh_token`.
    Never,
}

impl RefreshTokens {
    /// Whether a code granted with `scope` (space-separated) gets a refresh token.
    pub(crate) fn issued_for(self, scope: &str) -> bool {
        match self {
            Self::Always => true,
            Self::WithOfflineAccess => scope.split(' ').any(|s| s == "offline_access"),
            Self::Never => false,
        }
    }
}

/// A failure `/revoke` answers instead of revoking, for a relying party's
/// failure tests; [`MockProvider::fail_revocations`](crate::MockProvider::fail_revocations) sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationFault {
    /// `503 Service Unavailable` (RFC 7009 2.2.1), with `Retry-After: <seconds>` if given.
    ServiceUnavailable {
        /// The `Retry-After` header's seconds, if any.
        retry_after: Option<u64>,
    },
    /// `400 {"error":"unsupported_token_type"}` (RFC 7009 2.2.1).
    UnsupportedTokenType,
    /// No answer until the provider shuts down (then `503`): for a relying
    /// party's timeout. The connection stays open meanwhile.
    Hang,
}

/// What a refresh token stands for: the authentication it was issued after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    /// The scope granted, as the authorization request gave it.
    pub(crate) scope: String,
    /// The ID token's `sub`, `sid` and `auth_time` at the original sign-in.
    pub(crate) sub: String,
    pub(crate) sid: String,
    pub(crate) auth_time: u64,
}

/// Why a refresh token gets no new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// Unknown, revoked or another client's.
    InvalidGrant,
    /// A scope wider than the one granted.
    InvalidScope,
}

#[derive(Debug)]
enum Kind {
    Refresh(RefreshGrant),
    /// An access token, with the refresh token it was issued with (if any).
    Access {
        expires_at: u64,
        refresh_token: Option<String>,
    },
}

#[derive(Debug)]
struct Entry {
    client_id: String,
    kind: Kind,
    revoked: bool,
}

/// Every token issued, revoked ones included (so a second revocation finds
/// nothing left to revoke); expired access tokens are dropped as new ones are issued.
#[derive(Debug, Default)]
pub(crate) struct IssuedTokens(Mutex<HashMap<String, Entry>>);

impl IssuedTokens {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every change is one insert or flag: a panic elsewhere leaves it whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new refresh token for `grant`; `None` if the OS has no randomness.
    pub(crate) fn issue_refresh(&self, grant: RefreshGrant) -> Option<String> {
        let token = random_hex(32)?;
        let entry = Entry {
            client_id: grant.client_id.clone(),
            kind: Kind::Refresh(grant),
            revoked: false,
        };
        self.map().insert(token.clone(), entry);
        Some(token)
    }

    /// A new access token for `client_id`, valid until `expires_at`, issued
    /// with `refresh_token` (if any); `None` if the OS has no randomness.
    pub(crate) fn issue_access(
        &self,
        client_id: &str,
        expires_at: u64,
        refresh_token: Option<&str>,
        now: u64,
    ) -> Option<String> {
        let token = random_hex(32)?;
        let entry = Entry {
            client_id: client_id.to_owned(),
            kind: Kind::Access { expires_at, refresh_token: refresh_token.map(str::to_owned) },
            revoked: false,
        };
        let mut map = self.map();
        map.retain(
            |_, entry| !matches!(entry.kind, Kind::Access { expires_at, .. } if expires_at < now),
        );
        map.insert(token.clone(), entry);
        Some(token)
    }

    /// The grant of the active refresh token `token` issued to `client_id`,
    /// and a new access token issued with it (valid until `expires_at`), in
    /// one lock: a concurrent revocation of the refresh token revokes the new
    /// access token too, or comes after it. `None` if the refresh token is not
    /// active or another client's, or `scope` (if asked) is wider than the
    /// granted one; `Some(_, None)` if the OS has no randomness.
    pub(crate) fn refresh(
        &self,
        token: &str,
        client_id: &str,
        expires_at: u64,
        scope: Option<&str>,
    ) -> Result<(RefreshGrant, Option<String>), RefreshRefusal> {
        let access = random_hex(32);
        let mut map = self.map();
        let grant = match map.get(token) {
            Some(Entry { client_id: owner, kind: Kind::Refresh(grant), revoked: false })
                if owner == client_id =>
            {
                grant.clone()
            }
            _ => return Err(RefreshRefusal::InvalidGrant),
        };
        // A narrower scope may be asked for, never a wider one (RFC 6749 6).
        if let Some(scope) = scope
            && !scope.split(' ').all(|asked| grant.scope.split(' ').any(|granted| granted == asked))
        {
            return Err(RefreshRefusal::InvalidScope);
        }
        if let Some(access) = &access {
            let entry = Entry {
                client_id: client_id.to_owned(),
                kind: Kind::Access { expires_at, refresh_token: Some(token.to_owned()) },
                revoked: false,
            };
            map.insert(access.clone(), entry);
        }
        Ok((grant, access))
    }

    /// Whether `token` is a refresh token not revoked, or an access token
    /// neither revoked nor expired at `now`.
    pub(crate) fn is_active(&self, token: &str, now: u64) -> bool {
        match self.map().get(token) {
            Some(Entry { revoked: false, kind: Kind::Refresh(_), .. }) => true,
            Some(Entry { revoked: false, kind: Kind::Access { expires_at, .. }, .. }) => {
                now <= *expires_at
            }
            _ => false,
        }
    }

    /// Revokes `token` if it is active and was issued to `client_id`, with
    /// the access tokens issued with it when it is a refresh token (RFC 7009
    /// 2.1); whether it was revoked now. One lock: of many concurrent
    /// revocations of a token, exactly one revokes it.
    pub(crate) fn revoke(&self, token: &str, client_id: &str) -> bool {
        let mut map = self.map();
        let Some(entry) = map.get_mut(token) else { return false };
        if entry.revoked || entry.client_id != client_id {
            return false;
        }
        entry.revoked = true;
        if matches!(entry.kind, Kind::Refresh(_)) {
            for entry in map.values_mut() {
                if matches!(&entry.kind, Kind::Access { refresh_token: Some(parent), .. } if parent == token)
                {
                    entry.revoked = true;
                }
            }
        }
        true
    }

    /// The refresh tokens issued for `sub`: how many are active, how many revoked.
    pub(crate) fn refresh_tokens_of(&self, sub: &str) -> (usize, usize) {
        let map = self.map();
        let mine = map
            .values()
            .filter(|entry| matches!(&entry.kind, Kind::Refresh(grant) if grant.sub == sub));
        mine.fold(
            (0, 0),
            |(active, revoked), entry| {
                if entry.revoked { (active, revoked + 1) } else { (active + 1, revoked) }
            },
        )
    }

    /// How many refresh tokens were issued.
    pub(crate) fn refresh_tokens_issued(&self) -> usize {
        self.map().values().filter(|entry| matches!(entry.kind, Kind::Refresh(_))).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client_id: &str) -> RefreshGrant {
        RefreshGrant {
            client_id: client_id.into(),
            scope: "openid offline_access".into(),
            sub: "alice".into(),
            sid: "sid".into(),
            auth_time: 1_000,
        }
    }

    #[test]
    fn revoking_a_refresh_token_revokes_its_access_tokens_once() {
        let tokens = IssuedTokens::default();
        let refresh = tokens.issue_refresh(grant("c")).unwrap();
        let access = tokens.issue_access("c", 2_000, Some(&refresh), 1_000).unwrap();
        let other = tokens.issue_access("c", 2_000, None, 1_000).unwrap();
        assert!(tokens.is_active(&access, 2_000));
        assert!(!tokens.is_active(&access, 2_001), "expired");
        assert!(!tokens.revoke(&refresh, "d"), "another client's");
        assert_eq!(tokens.refresh(&refresh, "d", 2_000, None), Err(RefreshRefusal::InvalidGrant));
        assert_eq!(
            tokens.refresh(&refresh, "c", 2_000, Some("openid email")),
            Err(RefreshRefusal::InvalidScope)
        );
        let (refreshed, new_access) = tokens.refresh(&refresh, "c", 2_000, Some("openid")).unwrap();
        assert_eq!(refreshed, grant("c"));
        let new_access = new_access.unwrap();
        assert!(tokens.is_active(&new_access, 1_000));
        assert!(tokens.revoke(&refresh, "c"));
        assert!(!tokens.revoke(&refresh, "c"), "once");
        assert!(!tokens.is_active(&refresh, 1_000));
        assert!(!tokens.is_active(&access, 1_000));
        assert!(!tokens.is_active(&new_access, 1_000));
        assert!(tokens.is_active(&other, 1_000));
        assert_eq!(tokens.refresh(&refresh, "c", 2_000, None), Err(RefreshRefusal::InvalidGrant));
        assert_eq!(tokens.refresh_tokens_issued(), 1);
    }

    #[test]
    fn revoking_an_access_token_keeps_its_refresh_token_and_expired_ones_are_dropped() {
        let tokens = IssuedTokens::default();
        let refresh = tokens.issue_refresh(grant("c")).unwrap();
        let access = tokens.issue_access("c", 2_000, Some(&refresh), 1_000).unwrap();
        assert!(tokens.revoke(&access, "c"));
        assert!(tokens.is_active(&refresh, 1_000));
        let _later = tokens.issue_access("c", 5_000, None, 3_000).unwrap();
        assert!(!tokens.revoke(&access, "c"), "dropped once expired");
        assert!(tokens.is_active(&refresh, 3_000), "refresh tokens do not expire");
    }
}
