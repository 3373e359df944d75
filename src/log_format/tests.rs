//! The access line written directly must be the line tracing-subscriber's
//! JSON format writes, byte for byte.

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::FormatTime;

use super::*;

#[derive(Clone)]
struct Fixed;

impl FormatTime for Fixed {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        w.write_str("2026-12-03T22:36:46.685649Z")
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Every kind of line stagepass logs, access lines with awkward values.
fn log_everything() {
    let peer = IpAddr::V6(Ipv6Addr::LOCALHOST);
    for (path, ms) in [
        ("/x", 0.189),
        ("/quote\"back\\slash", 0.0),
        ("/ctl\u{1}\u{8}\u{c}\n\r\t\u{1f}/é/🙂", 5.0),
        ("/big", 12_345.678),
        ("/tiny", 0.000_001),
        ("/nan", f64::NAN),
    ] {
        tracing::info!(
            target: "access",
            method = http::Method::GET.as_str(),
            path,
            status = 200u16,
            ms,
            peer = %peer,
            id = "aa4503f200001132",
        );
    }
    tracing::warn!(target: "access", signed = -3i64, ok = true, why = ?"debug \"quoted\"");
    let span = tracing::info_span!("request", id = "in-a-span");
    span.in_scope(|| tracing::info!(target: "access", status = 302u16, "in a span"));
    tracing::info!(subject = "alice", "an ordinary line");
}

#[test]
fn the_direct_access_line_is_tracing_subscribers_json_line() {
    let theirs = Captured::default();
    let reference = tracing_subscriber::fmt()
        .with_writer(theirs.clone())
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_timer(Fixed)
        .finish();
    tracing::subscriber::with_default(reference, log_everything);

    let ours = Captured::default();
    let direct = tracing_subscriber::fmt()
        .with_writer(ours.clone())
        .fmt_fields(JsonFields::new())
        .event_format(JsonLines::with_timer(Fixed))
        .finish();
    tracing::subscriber::with_default(direct, log_everything);

    assert_eq!(theirs.text().lines().count(), 9);
    for (theirs, ours) in theirs.text().lines().zip(ours.text().lines()) {
        assert_eq!(ours, theirs);
    }
    assert_eq!(ours.text(), theirs.text());
}
