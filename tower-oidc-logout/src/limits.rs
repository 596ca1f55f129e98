//! Every bound the crate enforces, and the names it reads: one place to look them up.

pub use crate::end_session::DEFAULT_MAX_END_SESSION_URL_LEN;
pub use crate::logout::{MAX_PENDING_STATES, RETURN_TO_PARAM};
pub use crate::state::{DEFAULT_STATE_TTL, MAX_STATE_TTL, MIN_STATE_TTL};
pub use crate::target::MAX_RETURN_TARGET_LEN;
