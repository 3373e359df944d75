//! The JSON log line: tracing-subscriber's JSON format (flattened fields,
//! the current span), written directly for the access line.
//!
//! The access line is the one line every request logs. tracing-subscriber
//! builds it through serde: the timestamp and every `Display` field are
//! first formatted into strings of their own, then escaped into the line.
//! That cost about 12% of the instructions of a signed-in request (callgrind,
//! `CALLGRIND=1 bench/load.sh`); written here field by field, about 6%. An
//! access line outside any span is written here, in the same shape byte for
//! byte (a test holds the two side by side); every other line goes to
//! tracing-subscriber.

mod clock;

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, FormatEvent, FormatFields, Json, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, format};
use tracing_subscriber::registry::LookupSpan;

/// The largest line buffer a thread keeps between lines.
const MAX_KEPT_LINE: usize = 16 * 1024;

/// The target of the access line (`tracing::info!(target: "access", …)`).
pub const ACCESS_TARGET: &str = "access";

pub use clock::Clock;

/// stagepass's JSON lines. Use with `fmt_fields(JsonFields::new())`, which
/// span fields need in this format.
pub struct JsonLines<T = Clock> {
    full: Format<Json, T>,
    timer: T,
}

impl JsonLines {
    pub fn new() -> Self {
        Self::with_timer(Clock)
    }
}

impl Default for JsonLines {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FormatTime + Clone> JsonLines<T> {
    /// With another clock, for tests.
    pub fn with_timer(timer: T) -> Self {
        JsonLines {
            full: format()
                .json()
                .flatten_event(true)
                // `"span":{"id":…}` on the lines of stagepass's own routes.
                .with_current_span(true)
                .with_span_list(false)
                .with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for JsonLines<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let in_span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current())
            .is_some();
        if meta.target() != ACCESS_TARGET || in_span {
            return self.full.format_event(ctx, writer, event);
        }
        // Built in a buffer of this thread's, then written once: every
        // write to `writer` is a dynamic call, and a line has dozens.
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with(|cell| {
            // Were an access line ever formatted while one is (a field
            // that logs as it is written), it gets a buffer of its own.
            let mut own = String::new();
            let mut borrowed = cell.try_borrow_mut();
            let line = match borrowed.as_deref_mut() {
                Ok(line) => line,
                Err(_) => &mut own,
            };
            line.clear();
            self.access_line(line, event)?;
            writer.write_str(line)?;
            // A line with a huge path does not keep its buffer that large.
            if line.capacity() > MAX_KEPT_LINE {
                *line = String::new();
            }
            Ok(())
        })
    }
}

impl<T: FormatTime> JsonLines<T> {
    fn access_line(&self, line: &mut String, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        // RFC 3339 timestamps hold nothing that JSON escapes.
        line.push_str("{\"timestamp\":\"");
        self.timer.format_time(&mut Writer::new(line))?;
        line.push_str("\",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push('"');
        let mut fields = Fields {
            out: line,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        line.push_str(",\"target\":");
        write_str(line, meta.target());
        line.push_str("}\n");
        Ok(())
    }
}

/// Writes each field as `,"name":value`, the way tracing-serde does.
struct Fields<'a> {
    out: &'a mut String,
    result: fmt::Result,
}

impl Fields<'_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut String) -> fmt::Result) {
        if self.result.is_ok() {
            self.out.push(',');
            write_str(self.out, field.name());
            self.out.push(':');
            self.result = value(self.out);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |out| {
            write_str(out, value);
            Ok(())
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's own number format (`0.0`, `4.085`, `1e-7`; NaN is null).
        self.entry(field, |out| match serde_json::Number::from_f64(value) {
            Some(number) => write!(out, "{number}"),
            None => out.write_str("null"),
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |out| {
            out.write_str("\"")?;
            write!(Escaped(out), "{value:?}")?;
            out.write_str("\"")
        });
    }
}

/// A JSON string literal.
fn write_str(out: &mut String, text: &str) {
    out.push('"');
    // Writing to a String cannot fail.
    let _ = Escaped(out).write_str(text);
    out.push('"');
}

/// Escapes what serde_json escapes: `"`, `\` and control characters.
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Nearly always nothing to escape: one pass to check, one write.
        if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            return self.0.write_str(text);
        }
        let mut plain_from = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain_from..at])?;
            match escape {
                "" => write!(self.0, "\\u{byte:04x}")?,
                escape => self.0.write_str(escape)?,
            }
            plain_from = at + 1;
        }
        self.0.write_str(&text[plain_from..])
    }
}

#[cfg(test)]
mod tests;
