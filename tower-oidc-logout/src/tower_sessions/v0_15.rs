//! tower-sessions 0.15 (feature `tower-sessions-0-15`).

versioned_session!(tower_sessions_0_15);
