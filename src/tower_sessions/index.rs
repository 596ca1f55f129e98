//! The session index for tower-sessions: recording a `Session` at sign-in,
//! deleting sessions from a store. Written once, generated per version.

/// Generates `record_sign_in` and `DeleteFromStore` for one tower-sessions version.
macro_rules! session_index {
    ($tower_sessions:ident, $version:literal) => {
        use std::{str::FromStr, sync::Arc, time::SystemTime};

        use $tower_sessions::{Session, SessionStore, session::Id};

        use crate::{
            BoxError,
            index::{
                EndSessions, EndSessionsError, EndSessionsFuture, RecordSignInError, SessionIndex,
                SessionsEnded, SignIn,
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
        /// After any later `cycle_id()`, call it again: the index still names
        /// the old ID. The session's expiry is read now: if it is extended
        /// later (`Expiry::OnInactivity`), record again to extend the entry.
        pub async fn record_sign_in(
            index: &(impl SessionIndex + ?Sized),
            session: &Session,
            iss: &str,
            sid: Option<&str>,
            sub: &str,
        ) -> Result<(), RecordSignInError> {
            let id = session.id().ok_or(RecordSignInError::NoSessionId)?;
            let mut sign_in =
                SignIn::new(iss, sub, id.to_string(), SystemTime::from(session.expiry_date()));
            sign_in.sid = sid.map(str::to_owned);
            index.record(&sign_in).await?;
            Ok(())
        }

        #[doc = concat!("[`EndSessions`] for any tower-sessions ", $version, " store: `SessionStore::delete` for each ID.")]
        ///
        /// IDs are parsed from their string form (the one [`record_sign_in`]
        /// records); one that does not parse is skipped and listed in
        /// [`SessionsEnded::malformed`]. With a `CachingSessionStore`, give it
        /// the caching store, and read the
        /// [caching-store caveat](crate::index#a-caching-store-in-front-cachingsessionstore).
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
