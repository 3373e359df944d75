//! How revocations are written in Redis: a key with a value (the kind
//! and name in the key, the times in the value) and a pub/sub message.
//! Names (an IdP `sid`, a subject) may hold spaces, so they come last.

use super::Revocation;

/// The key and value a revocation is stored under, and its message.
pub(super) fn encode(prefix: &str, revocation: &Revocation) -> (String, String, String, u64) {
    match revocation {
        Revocation::Session { id, until } => (
            format!("{prefix}rev:s:{id}"),
            until.to_string(),
            format!("s {until} {id}"),
            *until,
        ),
        Revocation::IdpSession { sid, until } => (
            format!("{prefix}rev:i:{sid}"),
            until.to_string(),
            format!("i {until} {sid}"),
            *until,
        ),
        Revocation::Subject {
            subject,
            cutoff,
            until,
        } => (
            format!("{prefix}rev:u:{subject}"),
            format!("{cutoff} {until}"),
            format!("u {until} {cutoff} {subject}"),
            *until,
        ),
    }
}

/// A message from the channel.
pub(super) fn decode_message(text: &str) -> Option<Revocation> {
    let (kind, rest) = text.split_once(' ')?;
    let (until, rest) = rest.split_once(' ')?;
    let until = until.parse().ok()?;
    match kind {
        "s" => Some(Revocation::Session {
            id: rest.to_owned(),
            until,
        }),
        "i" => Some(Revocation::IdpSession {
            sid: rest.to_owned(),
            until,
        }),
        "u" => {
            let (cutoff, subject) = rest.split_once(' ')?;
            Some(Revocation::Subject {
                subject: subject.to_owned(),
                cutoff: cutoff.parse().ok()?,
                until,
            })
        }
        _ => None,
    }
}

/// A stored key and its value.
pub(super) fn decode_key(prefix: &str, key: &str, value: &str) -> Option<Revocation> {
    let rest = key.strip_prefix(prefix)?.strip_prefix("rev:")?;
    let (kind, name) = rest.split_once(':')?;
    match kind {
        "s" | "i" => decode_message(&format!("{kind} {value} {name}")),
        "u" => {
            let (cutoff, until) = value.split_once(' ')?;
            decode_message(&format!("u {until} {cutoff} {name}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_message_and_its_key() {
        let cases = [
            Revocation::Session {
                id: "Zm9v".into(),
                until: 10,
            },
            Revocation::IdpSession {
                sid: "a sid: with spaces".into(),
                until: 20,
            },
            Revocation::Subject {
                subject: "user with spaces@example.com".into(),
                cutoff: 5,
                until: 30,
            },
        ];
        for revocation in cases {
            let (key, value, message, _) = encode("sp:", &revocation);
            assert_eq!(decode_message(&message), Some(revocation.clone()));
            assert_eq!(decode_key("sp:", &key, &value), Some(revocation));
        }
        assert_eq!(decode_message("x 1 y"), None);
        assert_eq!(decode_key("other:", "sp:rev:s:a", "1"), None);
    }
}
