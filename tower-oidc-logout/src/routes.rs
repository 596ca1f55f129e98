//! The two routes as services of their own, for routers that dispatch by
//! path themselves: [`OidcLogoutLayer::logout_service`](crate::OidcLogoutLayer::logout_service)
//! and [`OidcLogoutLayer::callback_service`](crate::OidcLogoutLayer::callback_service).

pub use crate::callback::CallbackService;
pub use crate::logout::{LogoutFuture, LogoutService};
