//! The response future of the layered service.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderValue, Response, header::SET_COOKIE};
use pin_project_lite::pin_project;

use crate::{
    body::{FromReply, ReplyBody},
    logout::LogoutFuture,
    reply,
};

pin_project! {
    /// Response future of [`OidcLogout`](crate::OidcLogout) and
    /// [`CallbackService`](crate::CallbackService).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        // Any other route: the inner service's response, untouched.
        Inner { #[pin] future: F },
        // A valid callback: the inner service's response, plus the state
        // cookie's removal.
        Callback { #[pin] future: F, state_removal: Option<HeaderValue> },
        Reply { response: Option<Response<ReplyBody>> },
        SignOut { #[pin] future: LogoutFuture },
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    pub(crate) fn pass_through(future: F) -> Self {
        Self { kind: Kind::Inner { future } }
    }

    /// The inner service's future, with the state cookie's removal at a
    /// valid callback.
    #[inline]
    pub(crate) fn inner(future: F, state_removal: Option<HeaderValue>) -> Self {
        match state_removal {
            None => Self::pass_through(future),
            removal @ Some(_) => Self { kind: Kind::Callback { future, state_removal: removal } },
        }
    }

    pub(crate) fn reply(response: Response<ReplyBody>) -> Self {
        Self { kind: Kind::Reply { response: Some(response) } }
    }

    pub(crate) fn sign_out(future: LogoutFuture) -> Self {
        Self { kind: Kind::SignOut { future } }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: FromReply,
{
    type Output = Result<Response<B>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match self.project().kind.project() {
            KindProj::Inner { future } => {
                return future.poll(cx);
            }
            KindProj::Callback { future, state_removal } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(removal) = state_removal.take() {
                    reply::no_store(&mut response);
                    response.headers_mut().append(SET_COOKIE, removal);
                }
                return Poll::Ready(Ok(response));
            }
            KindProj::Reply { response } => response.take().unwrap_or_else(reply::polled_again),
            KindProj::SignOut { future } => match ready!(future.poll(cx)) {
                Ok(response) => response,
            },
        };
        Poll::Ready(Ok(response.map(B::from_reply)))
    }
}
