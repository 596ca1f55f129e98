//! Ending the app sessions a logout names: deleting them from the app's store.

use std::{future::Future, pin::Pin};

use crate::error::BoxError;

/// The future of [`EndSessions::end_sessions`].
pub type EndSessionsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SessionsEnded, EndSessionsError>> + Send + 'a>>;

/// Deletes app sessions, by ID, from the app's session store.
///
/// Ready for tower-sessions stores: `DeleteFromStore` in
/// [`tower_sessions_0_14`](crate::tower_sessions::v0_14) and
/// [`tower_sessions_0_15`](crate::tower_sessions::v0_15). Object safe.
pub trait EndSessions: Send + Sync {
    /// Deletes each of `session_ids`. An ID that names no session (already
    /// ended or expired) counts as deleted; one the store cannot parse is
    /// skipped and listed in [`SessionsEnded::malformed`]. Every ID is
    /// tried even when the store fails on some.
    fn end_sessions<'a>(&'a self, session_ids: &'a [String]) -> EndSessionsFuture<'a>;
}

/// What [`EndSessions::end_sessions`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionsEnded {
    /// The IDs deleted from the store (or already absent there).
    pub deleted: Vec<String>,
    /// The IDs that are not session IDs of this store, skipped.
    pub malformed: Vec<String>,
}

/// The store failed to delete some sessions; the others were deleted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndSessionsError {
    /// The store failed for the IDs in `failed`; `source` is the first failure.
    #[error("the session store failed to delete {} session(s): {source}", failed.len())]
    Store {
        /// What was done for the other IDs.
        ended: SessionsEnded,
        /// The IDs still in the store (or in an unknown state).
        failed: Vec<String>,
        /// The first failure.
        #[source]
        source: BoxError,
    },
}
