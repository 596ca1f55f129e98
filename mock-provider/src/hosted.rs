//! The mock's hosted sessions: who is signed in at the provider, by its own cookie.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, MutexGuard, PoisonError},
};

use axum::http::{HeaderMap, HeaderValue, header::COOKIE};

use crate::random::random_hex;

/// Name of the cookie that holds the mock provider's hosted session.
///
/// Its value is a bearer secret (whoever holds it is signed in); it never
/// appears in a token. Tokens carry the session's public [`HostedSession::sid`].
pub const HOSTED_SESSION_COOKIE: &str = "nid_session";

/// A hosted session at the mock provider, as tests can inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostedSession {
    /// The signed-in user's name; also the `sub` of the ID tokens issued for it.
    pub user: String,
    /// The session's public ID, the `sid` claim of its ID tokens (random, not the cookie's value).
    pub sid: String,
    /// When the user signed in, in seconds since the Unix epoch (the `auth_time` claim).
    pub auth_time: u64,
    /// The clients that received tokens for this session, sorted (for Back- and
    /// Front-Channel Logout, which notify them).
    pub clients: Vec<String>,
}

#[derive(Debug)]
struct Entry {
    user: String,
    sid: String,
    auth_time: u64,
    clients: BTreeSet<String>,
}

impl Entry {
    fn public(&self) -> HostedSession {
        HostedSession {
            user: self.user.clone(),
            sid: self.sid.clone(),
            auth_time: self.auth_time,
            clients: self.clients.iter().cloned().collect(),
        }
    }
}

/// Cookie value (random, hex) to the hosted session it opens.
#[derive(Debug, Default)]
pub(super) struct HostedSessions(Mutex<HashMap<String, Entry>>);

impl HostedSessions {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere cannot leave the map half-written: keep serving.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a hosted session for `user` signed in at `auth_time`; its cookie
    /// value, or `None` if the OS has no randomness.
    pub(super) fn start(&self, user: &str, auth_time: u64) -> Option<String> {
        let (id, sid) = (random_hex(16)?, random_hex(16)?);
        let entry = Entry { user: user.to_owned(), sid, auth_time, clients: BTreeSet::new() };
        self.map().insert(id.clone(), entry);
        Some(id)
    }

    /// The user of the hosted session the request's cookie names, if any.
    pub(super) fn user(&self, headers: &HeaderMap) -> Option<String> {
        self.find(headers).map(|(_, session)| session.user)
    }

    /// The cookie value and the hosted session the request's cookie names, if any.
    pub(super) fn find(&self, headers: &HeaderMap) -> Option<(String, HostedSession)> {
        let map = self.map();
        session_ids(headers).find_map(|id| map.get(id).map(|entry| (id.to_owned(), entry.public())))
    }

    /// Records that `client_id` received tokens for the session `id` (a cookie
    /// value); the session, or `None` if it has ended.
    pub(super) fn add_client(&self, id: &str, client_id: &str) -> Option<HostedSession> {
        let mut map = self.map();
        let entry = map.get_mut(id)?;
        entry.clients.insert(client_id.to_owned());
        Some(entry.public())
    }

    /// Ends every hosted session the request's cookie names; the ended ones.
    pub(super) fn end(&self, headers: &HeaderMap) -> Vec<HostedSession> {
        let mut map = self.map();
        session_ids(headers).filter_map(|id| map.remove(id)).map(|entry| entry.public()).collect()
    }

    /// Ends the hosted session whose public ID is `sid`; the ended ones (none or one).
    pub(super) fn end_by_sid(&self, sid: &str) -> Vec<HostedSession> {
        self.end_where(|entry| entry.sid == sid)
    }

    /// Ends every hosted session of `user`; the ended ones.
    pub(super) fn end_of_user(&self, user: &str) -> Vec<HostedSession> {
        self.end_where(|entry| entry.user == user)
    }

    fn end_where(&self, ends: impl Fn(&Entry) -> bool) -> Vec<HostedSession> {
        let mut map = self.map();
        let ids: Vec<String> =
            map.iter().filter(|(_, entry)| ends(entry)).map(|(id, _)| id.clone()).collect();
        let mut ended: Vec<HostedSession> =
            ids.iter().filter_map(|id| map.remove(id)).map(|entry| entry.public()).collect();
        ended.sort_by(|a, b| (a.auth_time, &a.sid).cmp(&(b.auth_time, &b.sid)));
        ended
    }

    pub(super) fn count(&self) -> usize {
        self.map().len()
    }

    pub(super) fn has_user(&self, user: &str) -> bool {
        self.map().values().any(|entry| entry.user == user)
    }

    /// Every hosted session, sorted by user, then sign-in time, then `sid`.
    pub(super) fn all(&self) -> Vec<HostedSession> {
        let mut all: Vec<HostedSession> = self.map().values().map(Entry::public).collect();
        all.sort_by(|a, b| (&a.user, a.auth_time, &a.sid).cmp(&(&b.user, b.auth_time, &b.sid)));
        all
    }
}

/// The values of every hosted-session cookie in the request.
///
/// Parsed from the raw bytes: browsers send every cookie of the host in one
/// header, UTF-8 values as they are, so one cookie that is not ASCII (or not
/// even UTF-8) must not hide the hosted-session cookie beside it. Session IDs
/// are hex, so a value that is not UTF-8 names no session and is skipped.
fn session_ids(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let at = pair.iter().position(|&b| b == b'=')?;
            Some((trim(&pair[..at]), trim(&pair[at + 1..])))
        })
        .filter(|(name, _)| *name == HOSTED_SESSION_COOKIE.as_bytes())
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
}

/// `bytes` without leading and trailing spaces and tabs.
fn trim(bytes: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_blank(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !is_blank(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// `Set-Cookie` that starts the hosted session `id` (hex only, so always valid).
pub(super) fn set_cookie(id: &str) -> HeaderValue {
    HeaderValue::try_from(format!("{HOSTED_SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the hosted-session cookie.
pub(super) fn removal_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "nid_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::try_from(value).unwrap());
        headers
    }

    #[test]
    fn sessions_start_and_end_by_cookie() {
        let sessions = HostedSessions::default();
        let id = sessions.start("alice", 1_000).unwrap();
        assert_eq!(id.len(), 32);
        let headers = cookie_header(&format!("other=1; {HOSTED_SESSION_COOKIE}={id}"));
        assert_eq!(sessions.user(&headers).as_deref(), Some("alice"));
        assert!(sessions.has_user("alice"));
        assert_eq!(sessions.end(&headers).len(), 1);
        assert!(sessions.end(&headers).is_empty(), "ending twice is a no-op");
        assert_eq!(sessions.count(), 0);
        assert_eq!(sessions.user(&headers), None);
    }

    #[test]
    fn a_session_has_a_public_sid_and_records_its_clients() {
        let sessions = HostedSessions::default();
        let id = sessions.start("alice", 1_000).unwrap();
        let (found, session) =
            sessions.find(&cookie_header(&format!("{HOSTED_SESSION_COOKIE}={id}"))).unwrap();
        assert_eq!(found, id);
        assert_eq!(session.sid.len(), 32);
        assert_ne!(session.sid, id, "the sid is not the cookie's secret value");
        assert_eq!(session.auth_time, 1_000);
        assert!(session.clients.is_empty());
        sessions.add_client(&id, "web").unwrap();
        sessions.add_client(&id, "spa").unwrap();
        let session = sessions.add_client(&id, "web").unwrap();
        assert_eq!(session.clients, ["spa", "web"], "sorted, each once");
        assert_eq!(sessions.all(), [session]);
        assert_eq!(sessions.add_client("ended", "web"), None);
    }

    #[test]
    fn unknown_or_absent_cookies_name_no_session() {
        let sessions = HostedSessions::default();
        sessions.start("alice", 1_000).unwrap();
        assert_eq!(sessions.user(&HeaderMap::new()), None);
        let forged = cookie_header(&format!("{HOSTED_SESSION_COOKIE}=00"));
        assert_eq!(sessions.user(&forged), None);
        assert!(sessions.end(&forged).is_empty());
        assert_eq!(sessions.count(), 1);
    }

    #[test]
    fn an_odd_cookie_beside_it_does_not_hide_the_session() {
        let sessions = HostedSessions::default();
        let id = sessions.start("alice", 1_000).unwrap();
        // A UTF-8 value as browsers send it, and bytes that are not UTF-8 at all.
        let mut line = b"lang=fran\xc3\xa7ais; x=\xff;\t".to_vec();
        line.extend_from_slice(format!("{HOSTED_SESSION_COOKIE} = {id} ;novalue").as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_bytes(&line).unwrap());
        assert!(headers[COOKIE].to_str().is_err(), "the header is not visible ASCII");
        assert_eq!(sessions.user(&headers).as_deref(), Some("alice"));
        assert_eq!(sessions.end(&headers)[0].user, "alice");
        assert_eq!(sessions.count(), 0);
    }

    #[test]
    fn sessions_end_by_sid_or_by_user() {
        let sessions = HostedSessions::default();
        let a1 = sessions.start("alice", 1).unwrap();
        sessions.start("alice", 2).unwrap();
        sessions.start("bob", 3).unwrap();
        let sid = sessions.add_client(&a1, "web").unwrap().sid;
        assert!(sessions.end_by_sid("no-such-sid").is_empty());
        let ended = sessions.end_by_sid(&sid);
        assert_eq!((ended.len(), ended[0].clients.as_slice()), (1, ["web".to_owned()].as_slice()));
        assert!(sessions.end_by_sid(&sid).is_empty());
        let ended = sessions.end_of_user("alice");
        assert_eq!(ended.iter().map(|s| s.auth_time).collect::<Vec<_>>(), [2]);
        assert!(sessions.has_user("bob") && !sessions.has_user("alice"));
    }

    #[test]
    fn the_name_is_compared_whole_and_as_bytes() {
        let sessions = HostedSessions::default();
        let id = sessions.start("alice", 1_000).unwrap();
        for line in [
            format!("x{HOSTED_SESSION_COOKIE}={id}"),
            format!("{HOSTED_SESSION_COOKIE}x={id}"),
            format!("NID_SESSION={id}"),
            format!("other={HOSTED_SESSION_COOKIE}={id}"),
        ] {
            assert_eq!(sessions.user(&cookie_header(&line)), None, "{line}");
        }
        assert_eq!(trim(b" \t a b\t "), b"a b");
        assert_eq!(trim(b" \t "), b"");
    }

    #[test]
    fn removal_names_the_cookie() {
        let removal = removal_cookie();
        assert!(removal.to_str().unwrap().starts_with(&format!("{HOSTED_SESSION_COOKIE}=;")));
        assert!(removal.to_str().unwrap().contains("Max-Age=0"));
    }
}
