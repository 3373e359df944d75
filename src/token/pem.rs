//! Just enough PEM for key files: find a labelled block, decode its base64.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The DER bytes of the first block labelled `label`. When the file holds a
/// different kind of key, the error says how to convert it.
pub(crate) fn decode(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let labels = block_labels(text);
    let Some(body) = block(text, label) else {
        return Err(match labels.first() {
            None => "is not a PEM file (no -----BEGIN ...----- line)".to_string(),
            Some(found) => wrong_kind(found, label),
        });
    };
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(base64)
        .map_err(|e| format!("has a corrupt {label} block: {e}"))
}

/// PEM-encodes DER bytes, 64 characters a line (tests write key files with it).
#[cfg(test)]
pub(crate) fn encode(der: &[u8], label: &str) -> String {
    let base64 = STANDARD.encode(der);
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    Some(&text[start..stop])
}

fn block_labels(text: &str) -> Vec<&str> {
    text.match_indices("-----BEGIN ")
        .filter_map(|(at, marker)| {
            let rest = &text[at + marker.len()..];
            rest.find("-----").map(|end| &rest[..end])
        })
        .collect()
}

fn wrong_kind(found: &str, wanted: &str) -> String {
    let hint = match found {
        "EC PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PARAMETERS" => {
            "; convert it to PKCS#8 with: openssl pkcs8 -topk8 -nocrypt -in <file> -out <new file>"
        }
        "ENCRYPTED PRIVATE KEY" => {
            "; it must be unencrypted: openssl pkcs8 -topk8 -nocrypt -in <file> -out <new file>"
        }
        "PRIVATE KEY" => {
            "; this is a private key, the public one is made with: openssl pkey -pubout -in <file>"
        }
        "CERTIFICATE" => "; give the public key itself: openssl x509 -pubkey -noout -in <file>",
        _ => "",
    };
    format!("holds a {found}, not a {wanted}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_explains_wrong_kinds() {
        let der: Vec<u8> = (0..=200).collect();
        let pem = encode(&der, "PUBLIC KEY");
        assert!(pem.lines().all(|line| line.len() <= 64));
        assert_eq!(decode(&format!("junk\n{pem}"), "PUBLIC KEY").unwrap(), der);
        let sec1 = "-----BEGIN EC PARAMETERS-----\nBggq\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n";
        assert!(
            decode(sec1, "PRIVATE KEY")
                .unwrap_err()
                .contains("openssl pkcs8 -topk8")
        );
        assert!(
            decode("hello", "PRIVATE KEY")
                .unwrap_err()
                .contains("not a PEM file")
        );
        assert!(
            decode(&pem, "PRIVATE KEY")
                .unwrap_err()
                .contains("holds a PUBLIC KEY")
        );
    }
}
