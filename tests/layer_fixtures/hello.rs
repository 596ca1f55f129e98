//! The app behind the layer in the benchmarks and the allocation test:
//! answers at once and allocates nothing, so what is measured is the layer.
//! (Included by path from benches/common/mod.rs and tests/allocations.rs.)

use std::{
    convert::Infallible,
    future::{Ready, ready},
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::Service;

/// Answers every request with `hello`, from a static buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hello;

impl Service<Request<Full<Bytes>>> for Hello {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello")))))
    }
}
