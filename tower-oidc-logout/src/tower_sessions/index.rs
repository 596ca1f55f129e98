//! The session index for tower-sessions: recording a `Session` at sign-in,
//! deleting sessions from a store. Written once, generated per version.

/// Generates `record_sign_in` and `DeleteFromStore` for one tower-sessions version.
macro_rules! session_index {
    ($tower_sessions:ident, $version:literal) => {
        use std::{str::FromStr, sync::Arc, time::SystemTime};

        use $tower_sessions::{Session, SessionStore, session::Id};

        use crate::{
            error::BoxError,
            provider_logout::index::{
                EndSessions, EndSessionsError, EndSessionsFuture, RECORDED_SESSION_ID_KEY,
                RecordSignInError, SessionIndex, SessionsEnded, SignIn,
            },
        };

        #[doc = concat!("Records a sign-in from a tower-sessions ", $version, " `Session`: its ID, and its expiry")]
        /// (`Session::expiry_date`), under the validated ID token's `iss`,
        /// `sid` and `sub`.
        ///
        /// Call it in the sign-in handler once the ID token is validated and
        /// the session **has an ID**, i.e. after `session.save()` (a new
        /// session gets its ID when first saved; after `cycle_id()`, save
        /// again): otherwise it fails with [`RecordSignInError::NoSessionId`].
        /// After any later `cycle_id()`, call it again: the ID it recorded
        /// is kept in the session under [`RECORDED_SESSION_ID_KEY`], so the
        /// old ID is then forgotten and the new one recorded. The session's
        /// expiry is read now: if it is extended later
        /// (`Expiry::OnInactivity`), record again to extend the entry.
        ///
        /// If it fails (the index's store is down), do not let the session
        /// sign anyone in: flush it and answer an error. A session the index
        /// does not know is one no Back- or Front-Channel Logout can end.
        pub async fn record_sign_in(
            index: &(impl SessionIndex + ?Sized),
            session: &Session,
            iss: &str,
            sid: Option<&str>,
            sub: &str,
        ) -> Result<(), RecordSignInError> {
            let id = session.id().ok_or(RecordSignInError::NoSessionId)?.to_string();
            // A value that cannot be read names no ID to forget.
            let recorded = session.get::<String>(RECORDED_SESSION_ID_KEY).await.ok().flatten();
            if let Some(old) = recorded.filter(|old| *old != id) {
                index.forget(&old).await?;
            }
            let mut sign_in =
                SignIn::new(iss, sub, id.clone(), SystemTime::from(session.expiry_date()));
            sign_in.sid = sid.map(str::to_owned);
            index.record(&sign_in).await?;
            session
                .insert(RECORDED_SESSION_ID_KEY, id)
                .await
                .map_err(|e| RecordSignInError::Session(Box::new(e)))?;
            Ok(())
        }

        #[doc = concat!("[`EndSessions`] for any tower-sessions ", $version, " store: `SessionStore::delete` for each ID.")]
        ///
        /// IDs are parsed from their string form (the one [`record_sign_in`]
        /// records); one that does not parse is skipped and listed in
        /// [`SessionsEnded::malformed`]. With a `CachingSessionStore`, give it
        /// the caching store, and read the
        /// [caching-store caveat](crate::provider_logout::index#a-caching-store-in-front-cachingsessionstore).
        #[derive(Debug)]
        pub struct DeleteFromStore<S>(Arc<S>);

        impl<S> Clone for DeleteFromStore<S> {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }
        }

        impl<S: SessionStore> DeleteFromStore<S> {
            /// Deletes sessions from `store`.
            pub fn new(store: S) -> Self {
                Self(Arc::new(store))
            }

            /// Deletes sessions from a store already shared (e.g. with the `SessionManagerLayer`).
            pub fn from_arc(store: Arc<S>) -> Self {
                Self(store)
            }
        }

        impl<S: SessionStore> EndSessions for DeleteFromStore<S> {
            fn end_sessions<'a>(&'a self, session_ids: &'a [String]) -> EndSessionsFuture<'a> {
                Box::pin(async move {
                    let mut ended = SessionsEnded::default();
                    let mut failed = Vec::new();
                    let mut first_error: Option<BoxError> = None;
                    for session_id in session_ids {
                        let Ok(id) = Id::from_str(session_id) else {
                            ended.malformed.push(session_id.clone());
                            continue;
                        };
                        match self.0.delete(&id).await {
                            Ok(()) => ended.deleted.push(session_id.clone()),
                            Err(error) => {
                                failed.push(session_id.clone());
                                first_error.get_or_insert_with(|| Box::new(error));
                            }
                        }
                    }
                    match first_error {
                        None => Ok(ended),
                        Some(source) => Err(EndSessionsError::Store { ended, failed, source }),
                    }
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    //! Each version: sign-in recorded from a `Session`, taken by `sid`, deleted from a `MemoryStore`.

    /// The same test for one version's `MemoryStore`.
    macro_rules! recorded_then_ended {
        ($name:ident, $tower_sessions:ident, $index:ident) => {
            #[tokio::test]
            async fn $name() {
                use std::{str::FromStr, sync::Arc};

                use $tower_sessions::{MemoryStore, Session, SessionStore, session::Id};

                use crate::{
                    provider_logout::index::{
                        EndSessions, LogoutNotice, MemoryIndex, Pending, RecordSignInError,
                        SessionIndex,
                    },
                    tower_sessions::$index::{DeleteFromStore, record_sign_in},
                };

                const ISS: &str = "https://op.example";
                let store = Arc::new(MemoryStore::default());
                let index = MemoryIndex::new();

                let unsaved = Session::new(None, store.clone(), None);
                let error = record_sign_in(&index, &unsaved, ISS, Some("sid-1"), "alice").await;
                assert!(matches!(error, Err(RecordSignInError::NoSessionId)), "{error:?}");

                let mut ids = Vec::new();
                for user in ["alice", "alice", "bob"] {
                    let session = Session::new(None, store.clone(), None);
                    session.insert("user", user).await.unwrap();
                    session.save().await.unwrap();
                    let sid = if ids.is_empty() { "sid-1" } else { "sid-2" };
                    record_sign_in(&index, &session, ISS, Some(sid), user).await.unwrap();
                    ids.push(session.id().unwrap());
                }

                let notice = LogoutNotice::new(ISS, Some("sid-1"), None);
                let Pending::Sessions(mut ended) = index.pending(&notice).await.unwrap() else {
                    panic!("replayed")
                };
                assert_eq!(ended, [ids[0].to_string()]);
                ended.push("not-an-id".to_owned());
                let report =
                    DeleteFromStore::from_arc(store.clone()).end_sessions(&ended).await.unwrap();
                assert_eq!(report.deleted, [ids[0].to_string()]);
                assert_eq!(report.malformed, ["not-an-id"]);
                let id = Id::from_str(&ids[0].to_string()).unwrap();
                assert!(store.load(&id).await.unwrap().is_none(), "ended session still stored");
                for other in &ids[1..] {
                    assert!(store.load(other).await.unwrap().is_some(), "another session ended");
                }
            }
        };
    }

    /// Recording again after `cycle_id()` forgets the old ID; the sign-out hook forgets the session.
    macro_rules! cycled_then_signed_out {
        ($name:ident, $tower_sessions:ident, $index:ident) => {
            #[tokio::test]
            async fn $name() {
                use std::sync::Arc;

                use $tower_sessions::{MemoryStore, Session};

                use crate::{
                    hook::EndSessionHook,
                    provider_logout::index::{LogoutNotice, MemoryIndex, Pending, SessionIndex},
                    tower_sessions::{FlushSession, $index::record_sign_in},
                };

                const ISS: &str = "https://op.example";
                let store = Arc::new(MemoryStore::default());
                let index = Arc::new(MemoryIndex::new());
                let session = Session::new(None, store.clone(), None);
                session.save().await.unwrap();
                record_sign_in(&*index, &session, ISS, Some("sid-1"), "alice").await.unwrap();
                let first = session.id().unwrap().to_string();

                session.cycle_id().await.unwrap();
                session.save().await.unwrap();
                record_sign_in(&*index, &session, ISS, Some("sid-1"), "alice").await.unwrap();
                let second = session.id().unwrap().to_string();
                assert_ne!(first, second);
                let named = |notice| {
                    let index = index.clone();
                    async move { index.pending(&notice).await.unwrap() }
                };
                let by_sid = LogoutNotice::new(ISS, Some("sid-1"), None);
                assert_eq!(named(by_sid).await, Pending::Sessions(vec![second]), "old ID kept");

                let mut request = http::Request::new(());
                request.extensions_mut().insert(session);
                let hook = FlushSession::new().session_index(index.clone());
                hook.end_session(&request.into_parts().0).await.unwrap();
                assert!(index.is_empty(), "the signed-out session left in the index");
            }
        };
    }

    #[cfg(feature = "tower-sessions-0-14")]
    cycled_then_signed_out!(
        a_0_14_session_cycled_then_signed_out_leaves_nothing,
        tower_sessions_0_14,
        v0_14
    );
    #[cfg(feature = "tower-sessions-0-15")]
    cycled_then_signed_out!(
        a_0_15_session_cycled_then_signed_out_leaves_nothing,
        tower_sessions_0_15,
        v0_15
    );

    #[cfg(feature = "tower-sessions-0-14")]
    recorded_then_ended!(
        a_0_14_session_recorded_taken_by_sid_and_deleted,
        tower_sessions_0_14,
        v0_14
    );
    #[cfg(feature = "tower-sessions-0-15")]
    recorded_then_ended!(
        a_0_15_session_recorded_taken_by_sid_and_deleted,
        tower_sessions_0_15,
        v0_15
    );
}
