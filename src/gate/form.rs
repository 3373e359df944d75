//! Reading the only request bodies stagepass reads itself: the sign-in
//! callback's `form_post` and the guest page's pick.
//!
//! Every check that needs no body comes first (method is the caller's,
//! then `Content-Type` and `Content-Length`), the read has a deadline
//! (`timeouts.requestHeaders`), and
//! only so many reads run at once, so stalled bodies cannot pile up.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::sync::Semaphore;

use super::client_error;
use crate::error::Error;

/// An IdP's form_post carries a code, a state and perhaps an ID token.
pub(super) const MAX_FORM_BYTES: u64 = 16 * 1024;
/// Concurrent form reads in the whole process; sign-ins are rare.
pub(super) const MAX_CONCURRENT_READS: usize = 64;

/// Bounds the form bodies being read at any one time.
pub(super) struct FormReader {
    permits: Semaphore,
    /// `timeouts.requestHeaders`: the client must deliver the form as fast
    /// as a request head.
    deadline: Duration,
}

impl FormReader {
    pub(super) fn new(deadline: Duration) -> Self {
        FormReader {
            permits: Semaphore::new(MAX_CONCURRENT_READS),
            deadline,
        }
    }

    /// The body of a urlencoded form post, or the 4xx/503 that says why not.
    pub(super) async fn read(&self, headers: &HeaderMap, body: Incoming) -> Result<String, Error> {
        check_content_type(headers)?;
        check_content_length(headers)?;
        let _permit = self.permits.try_acquire().map_err(|_| {
            client_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Too many sign-ins are in progress; try again in a moment.",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        })?;
        let limited = Limited::new(body, MAX_FORM_BYTES as usize).collect();
        let bytes: Bytes = match tokio::time::timeout(self.deadline, limited).await {
            Err(_) => {
                return Err(client_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "form_timeout",
                    "The sign-in response did not arrive in time.",
                ));
            }
            Ok(Err(_)) => return Err(too_large()),
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            Error::bad_request(
                "callback_not_utf8",
                "The sign-in response is not valid form data.",
            )
        })
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Error> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match essence {
        Some(t) if t.eq_ignore_ascii_case("application/x-www-form-urlencoded") => Ok(()),
        _ => Err(client_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The sign-in response must be an application/x-www-form-urlencoded form.",
        )),
    }
}

/// Browsers send `Content-Length` with every form post (HTTP/1 and HTTP/2).
fn check_content_length(headers: &HeaderMap) -> Result<(), Error> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        None => Err(client_error(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "The sign-in response must say its length.",
        )),
        Some(n) if n > MAX_FORM_BYTES => Err(too_large()),
        Some(_) => Ok(()),
    }
}

fn too_large() -> Error {
    client_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "callback_too_large",
        "The sign-in response is too large.",
    )
}
