//! Response bodies: the middleware's own, or the inner service's untouched.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The body of a response the middleware wrote itself: a few bytes of text, or nothing.
#[derive(Debug, Default, Clone)]
pub struct ReplyBody(Option<Bytes>);

impl ReplyBody {
    pub(crate) fn text(text: impl Into<Bytes>) -> Self {
        Self(Some(text.into()))
    }

    pub(crate) fn empty() -> Self {
        Self(None)
    }

    fn next_frame(&mut self) -> Option<Frame<Bytes>> {
        self.0.take().filter(|b| !b.is_empty()).map(Frame::data)
    }

    /// The reply's bytes: `<code>: <message>` as UTF-8 text for a refusal,
    /// nothing for a redirect.
    pub fn into_bytes(self) -> Bytes {
        self.0.unwrap_or_default()
    }
}

/// A response body the middleware can write its own answers in: the
/// redirect to the provider, a refusal.
///
/// The layer answers in the inner service's own body type, so the inner
/// service's responses pass through untouched (not rebuilt around another
/// body, and not boxed again by axum). Every body that is `From<Bytes>` is
/// one: axum's `Body`, `http_body_util::Full<Bytes>`, [`ReplyBody`].
///
/// For any other body (tonic's, a boxed body), add [`WrapBodyLayer`] just
/// inside the logout layer: the inner bodies then travel in a
/// [`ResponseBody`], which is one. A body type of your own can also
/// implement this trait directly.
///
/// # The compile error this answers
///
/// Without either, the service does not build, and the compiler says:
///
/// ```text
/// error[E0277]: the trait bound `tonic::body::Body: FromReply` is not satisfied
///     = the trait `From<tonic::codegen::Bytes>` is not implemented for `tonic::body::Body`
/// // and the same for a boxed body, `UnsyncBoxBody<Bytes, E>: FromReply`
/// ```
///
/// (or, through `ServiceExt`, "the method `ready` exists for struct
/// `OidcLogout<...>`, but its trait bounds were not satisfied").
///
/// # Answering in a boxed body of your own
///
/// An app that boxes its bodies and would rather not add [`WrapBodyLayer`]
/// can box them in a newtype that is `From<Bytes>`:
///
/// ```
/// use std::{pin::Pin, task::{Context, Poll}};
/// use bytes::Bytes;
/// use http_body::{Body, Frame, SizeHint};
/// use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
/// use tower_oidc_logout::BoxError;
///
/// /// The app's response body: any body, boxed.
/// pub struct AppBody(UnsyncBoxBody<Bytes, BoxError>);
///
/// impl AppBody {
///     pub fn new<B>(body: B) -> Self
///     where
///         B: Body<Data = Bytes> + Send + 'static,
///         B::Error: Into<BoxError>,
///     {
///         Self(body.map_err(Into::into).boxed_unsync())
///     }
/// }
///
/// // What makes it a body the layer can answer in.
/// impl From<Bytes> for AppBody {
///     fn from(bytes: Bytes) -> Self {
///         Self::new(Full::new(bytes))
///     }
/// }
///
/// impl Body for AppBody {
///     type Data = Bytes;
///     type Error = BoxError;
///
///     fn poll_frame(
///         mut self: Pin<&mut Self>,
///         cx: &mut Context<'_>,
///     ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
///         Pin::new(&mut self.0).poll_frame(cx)
///     }
///
///     fn is_end_stream(&self) -> bool {
///         self.0.is_end_stream()
///     }
///
///     fn size_hint(&self) -> SizeHint {
///         self.0.size_hint()
///     }
/// }
///
/// fn answers_in<B: tower_oidc_logout::body::FromReply>() {}
/// answers_in::<AppBody>();
/// ```
pub trait FromReply {
    /// The body of a response the middleware wrote.
    fn from_reply(reply: ReplyBody) -> Self;
}

impl<B: From<Bytes>> FromReply for B {
    #[inline]
    fn from_reply(reply: ReplyBody) -> Self {
        B::from(reply.into_bytes())
    }
}

impl From<Bytes> for ReplyBody {
    fn from(bytes: Bytes) -> Self {
        Self(Some(bytes))
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().next_frame().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(Bytes::is_empty)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

pin_project! {
    /// A body of the inner service, or the middleware's own [`ReplyBody`]:
    /// what [`WrapBodyLayer`] makes of any body.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Reply { body: ReplyBody },
    }
}

impl<B> ResponseBody<B> {
    /// Wraps a body of the inner service, so that the middleware can answer
    /// in the same type.
    #[inline]
    pub fn new(body: B) -> Self {
        Self { kind: Kind::Inner { body } }
    }
}

impl<B> FromReply for ResponseBody<B> {
    fn from_reply(body: ReplyBody) -> Self {
        Self { kind: Kind::Reply { body } }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Reply { body } => Poll::Ready(body.next_frame().map(Ok)),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Reply { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Reply { body } => body.size_hint(),
        }
    }
}

/// Wraps the inner service's response bodies in [`ResponseBody`], for a
/// service whose body is not [`FromReply`] (tonic's, a boxed body).
///
/// Add it just inside the logout layer:
///
/// ```
/// # use std::convert::Infallible;
/// # use http::{Request, Response};
/// # use tower_oidc_logout::{OidcLogoutLayer, StateKey, body::WrapBodyLayer};
/// # fn main() -> Result<(), tower_oidc_logout::ConfigError> {
/// # let logout = OidcLogoutLayer::builder().end_session_endpoint("https://op.example/endsession")
/// #     .client_id("c").post_logout_redirect_uri("https://app.example/logout/callback")
/// #     .state_key(StateKey::generate()?).build()?;
/// # let grpc = tower::service_fn(|_: Request<tonic::body::Body>| async {
/// #     Ok::<_, Infallible>(Response::new(tonic::body::Body::empty()))
/// # });
/// let service = tower::ServiceBuilder::new()
///     .layer(logout)
///     .layer(WrapBodyLayer)
///     .service(grpc);
/// # let _ = service;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WrapBodyLayer;

impl<S> Layer<S> for WrapBodyLayer {
    type Service = WrapBody<S>;

    fn layer(&self, inner: S) -> WrapBody<S> {
        WrapBody { inner }
    }
}

/// The service [`WrapBodyLayer`] wraps around the inner service.
#[derive(Debug, Clone)]
pub struct WrapBody<S> {
    inner: S,
}

impl<S, Request, B> Service<Request> for WrapBody<S>
where
    S: Service<Request, Response = Response<B>>,
{
    type Response = Response<ResponseBody<B>>;
    type Error = S::Error;
    type Future = WrapBodyFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        WrapBodyFuture { future: self.inner.call(request) }
    }
}

pin_project! {
    /// Response future of [`WrapBody`].
    #[derive(Debug)]
    pub struct WrapBodyFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F, B, E> Future for WrapBodyFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map_ok(|response| response.map(ResponseBody::new))
    }
}
