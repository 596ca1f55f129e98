//! Why a provider-logout route refused a request: one typed reason per refusal.

use super::LogoutTokenError;

/// Why a provider-logout route refused a request, in the response
/// extensions; [`code`](Self::code) is the stable, machine-readable part
/// (also at the start of the back-channel's `error_description`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Back-channel: not a `POST` (`405`, `Allow: POST`).
    #[error("use POST")]
    NotPost,
    /// Front-channel: not a `GET` (`405`, `Allow: GET`); `HEAD` too, since here
    /// it would end sessions.
    #[error("use GET")]
    NotGet,
    /// Back-channel: the body is not `application/x-www-form-urlencoded`.
    #[error("the body must be application/x-www-form-urlencoded")]
    NotAForm,
    /// Back-channel: the body could not be read, or is over `max` bytes.
    #[error("the body could not be read or is over {max} bytes")]
    TooLarge {
        /// The largest body read.
        max: usize,
    },
    /// Back-channel: the form has no `logout_token`, or more than one.
    #[error("the form must carry exactly one logout_token")]
    NoLogoutToken,
    /// Back-channel: the logout token failed a check; its code is the
    /// token error's. When the provider's keys could not be fetched, the
    /// message says only that (the cause names internal addresses; it is
    /// logged under the `tracing` feature).
    #[error("{}", token_message(.0))]
    Token(LogoutTokenError),
    /// Back-channel: the token's `jti` was used before.
    #[error("this logout token (its jti) was already used")]
    Replayed,
    /// The token or request was valid but the store or the index failed;
    /// nothing was changed, so a retry can succeed (the cause is logged).
    #[error("the sessions could not be ended; nothing was changed: retry")]
    ServerError,
    /// Front-channel: loaded as something else than a frame or a page
    /// (`Sec-Fetch-Dest`), e.g. an `<img>` or a `fetch()` from any page (`403`).
    #[error("only the provider's page may load this route, in a frame")]
    NotAFrame,
    /// Front-channel: `iss` or `sid` missing, or given twice.
    #[error("iss and sid are required, once each")]
    NoIssOrSid,
    /// Front-channel: `iss` is not the provider's.
    #[error("iss is not this app's provider")]
    WrongIssuer,
}

impl Refusal {
    /// The stable code: `method_not_allowed`, `not_a_form`, `too_large`,
    /// `no_logout_token`, a [`LogoutTokenError::code`], `replayed`,
    /// `server_error`, `not_a_frame`, `no_iss_or_sid` or `wrong_issuer`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotPost | Self::NotGet => "method_not_allowed",
            Self::NotAForm => "not_a_form",
            Self::TooLarge { .. } => "too_large",
            Self::NoLogoutToken => "no_logout_token",
            Self::Token(error) => error.code(),
            Self::Replayed => "replayed",
            Self::ServerError => "server_error",
            Self::NotAFrame => "not_a_frame",
            Self::NoIssOrSid => "no_iss_or_sid",
            Self::WrongIssuer => "wrong_issuer",
        }
    }
}

fn token_message(error: &LogoutTokenError) -> String {
    match error {
        LogoutTokenError::KeysUnavailable { .. } => {
            "the provider's signing keys could not be fetched; retry later".to_owned()
        }
        other => other.to_string(),
    }
}
