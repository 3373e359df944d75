//! The one body type that flows through stagepass, in both directions.
//!
//! Bodies are streamed, never collected: an upstream body is handed to the
//! client frame by frame, and stagepass's own small pages are `Full` bodies
//! boxed into the same type. hyper's own bodies (a client's upload, an
//! upstream's response) are carried as they are: boxing them cost two
//! allocations on every proxied request.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming body. `Unsync` because hyper's `Incoming` need not be `Sync`,
/// and nothing shares a body between threads.
pub struct Body(Kind);

enum Kind {
    Incoming(Incoming),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    boxed(Full::new(bytes.into()))
}

pub fn empty() -> Body {
    boxed(Empty::new())
}

/// hyper's body, streamed as it arrives, without buffering or boxing.
pub fn incoming(body: Incoming) -> Body {
    Body(Kind::Incoming(body))
}

fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static,
{
    Body(Kind::Boxed(
        body.map_err(|never| match never {}).boxed_unsync(),
    ))
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Kind::Incoming(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(Into::into))),
            Kind::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Incoming(body) => body.is_end_stream(),
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Incoming(body) => body.size_hint(),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Body")
    }
}
