//! tower-sessions 0.14 (feature `tower-sessions-0-14`).

versioned_session!(tower_sessions_0_14);
