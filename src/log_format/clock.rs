//! The log lines' timestamp: tracing-subscriber's own format (RFC 3339 in
//! UTC with microseconds, `2026-12-04T01:02:03.456789Z`), with the part up
//! to the second formatted once per second per thread.
//!
//! tracing-subscriber formats the whole date and time through `write!` on
//! every line: about 2,000 instructions, a fortieth of a signed-in request
//! (callgrind). Here a line copies the cached second and writes six digits.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The wall clock, formatted as described above.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write_timestamp(w, SystemTime::now())
    }
}

/// Writes `at` as `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`.
pub fn write_timestamp(out: &mut impl fmt::Write, at: SystemTime) -> fmt::Result {
    // A clock set before 1970 is not worth a cache: written in full.
    let Ok(since_epoch) = at.duration_since(UNIX_EPOCH) else {
        let at = chrono::DateTime::<chrono::Utc>::from(at);
        return write!(out, "{}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    };
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let second = since_epoch.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second || cached.1.is_empty() {
            *cached = (second, second_text(second));
        }
        out.write_str(&cached.1)
    })?;
    let mut fraction = *b".000000Z";
    let mut micros = since_epoch.subsec_micros();
    for digit in fraction[1..7].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    out.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

fn second_text(second: u64) -> String {
    let mut text = String::with_capacity(20);
    let at = i64::try_from(second)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_default();
    let _ = write!(text, "{}", at.format("%Y-%m-%dT%H:%M:%S"));
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn written(at: SystemTime) -> String {
        let mut out = String::new();
        write_timestamp(&mut out, at).unwrap();
        out
    }

    #[test]
    fn timestamps_read_as_rfc_3339_with_microseconds() {
        let instants = [
            0,
            951_782_399_999_999,   // 2000-02-28T23:59:59.999999
            1_709_251_199_000_001, // 2024-02-29T23:59:59.000001
            1_796_342_400_123_456,
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
        ];
        for micros in instants {
            let at = UNIX_EPOCH + Duration::from_micros(micros);
            let expected = chrono::DateTime::<chrono::Utc>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            // Twice: once formatting the second, once from the cache.
            assert_eq!(written(at), expected);
            assert_eq!(written(at), expected);
        }
        assert_eq!(
            written(UNIX_EPOCH + Duration::from_nanos(1_999)),
            "1970-01-01T00:00:00.000001Z"
        );
    }

    #[test]
    fn the_cached_second_moves_on() {
        let at = UNIX_EPOCH + Duration::from_micros(1_796_342_400_999_999);
        assert_eq!(written(at), "2026-12-04T00:00:00.999999Z");
        let next = at + Duration::from_micros(1);
        assert_eq!(written(next), "2026-12-04T00:00:01.000000Z");
        assert_eq!(written(at), "2026-12-04T00:00:00.999999Z");
    }

    /// The same text as tracing-subscriber's own clock, which the text
    /// format used before: read at one instant, the two agree to the second
    /// (tried again when a second boundary fell between the two reads).
    #[test]
    fn the_format_is_tracing_subscribers() {
        let theirs_and_ours = || {
            let mut theirs = String::new();
            tracing_subscriber::fmt::time::SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .unwrap();
            let mut ours = String::new();
            Clock.format_time(&mut Writer::new(&mut ours)).unwrap();
            (theirs, ours)
        };
        let agree = (0..3).map(|_| theirs_and_ours()).any(|(theirs, ours)| {
            theirs.len() == ours.len() && theirs[..19] == ours[..19] && ours.ends_with('Z')
        });
        assert!(agree, "{:?}", theirs_and_ours());
    }
}
