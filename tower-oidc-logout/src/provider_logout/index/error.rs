//! What can go wrong with the index.

use crate::error::BoxError;

/// Why a [`SessionIndex`](super::SessionIndex) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A [`MemoryIndex`](super::MemoryIndex) holds its maximum number of
    /// sign-ins, none expired: this one is not recorded (so a provider's
    /// logout would not reach its session).
    #[error(
        "the session index is full ({capacity} sign-ins, none expired): this sign-in is not recorded"
    )]
    Full {
        /// The configured maximum.
        capacity: usize,
    },
    /// A [`MemoryIndex`](super::MemoryIndex) holds its maximum number of
    /// logout-token IDs, none expired: the token cannot be checked for replay.
    #[error("the logout-token replay set is full ({capacity} token IDs, none expired)")]
    ReplaySetFull {
        /// The configured maximum.
        capacity: usize,
    },
    /// The store behind the index (e.g. Redis) failed; the source says why.
    #[error("the session index store failed: {0}")]
    Store(#[source] BoxError),
}

/// Why a sign-in could not be recorded from a tower-sessions `Session`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordSignInError {
    /// The session has no ID yet: tower-sessions assigns it when the session
    /// is first saved. Call `session.save()` (or `cycle_id()` then `save()`)
    /// before recording.
    #[error("the session has no ID yet: call `session.save()` before recording the sign-in")]
    NoSessionId,
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The session could not keep the recorded ID (its data failed to
    /// serialize); the sign-in is recorded in the index.
    #[error("the session could not keep the recorded session ID: {0}")]
    Session(#[source] BoxError),
}
