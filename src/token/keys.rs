//! Signing keys: loaded from Backstage's static key store files (PKCS#8
//! private key, SPKI public key, both PEM) or generated at start-up.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::pem;
use crate::config::{Algorithm, StaticKey};

/// The aws-lc-rs ECDSA algorithm and JWK curve name for `alg`, or `None` for RSA.
fn ecdsa(alg: Algorithm) -> Option<(&'static EcdsaSigningAlgorithm, &'static str)> {
    match alg {
        Algorithm::ES256 => Some((&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256")),
        Algorithm::ES384 => Some((&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384")),
        Algorithm::RS256 => None,
    }
}

enum Pair {
    Ec {
        pair: EcdsaKeyPair,
        curve: &'static str,
    },
    Rsa(RsaKeyPair),
}

pub(crate) struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: Pair,
}

impl SigningKey {
    /// A fresh ES256 key with a random key id, for when no key store is set.
    pub fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("aws-lc-rs generates P-256 keys");
        SigningKey {
            kid: random_uuid(),
            alg: Algorithm::ES256,
            pair: Pair::Ec {
                pair,
                curve: "P-256",
            },
        }
    }

    /// Loads a key pair and checks that the public key file belongs to the
    /// private key: a mismatch would publish a key that verifies nothing.
    pub fn load(key: &StaticKey) -> Result<Self, String> {
        let private = read_pem(&key.private_key_file, "PRIVATE KEY")?;
        let public = read_pem(&key.public_key_file, "PUBLIC KEY")?;
        let at = |file: &std::path::Path, e: String| format!("{}: {e}", file.display());
        let pair = Self::pair_from_pkcs8(key.algorithm, &private)
            .map_err(|e| at(&key.private_key_file, e))?;
        let signing = SigningKey {
            kid: key.key_id.clone(),
            alg: key.algorithm,
            pair,
        };
        if signing.public_key_der() != public {
            return Err(at(
                &key.public_key_file,
                format!(
                    "is not the public key of {}",
                    key.private_key_file.display()
                ),
            ));
        }
        Ok(signing)
    }

    #[cfg(test)]
    pub fn from_pkcs8(kid: &str, alg: Algorithm, der: &[u8]) -> Result<Self, String> {
        Ok(SigningKey {
            kid: kid.to_string(),
            alg,
            pair: Self::pair_from_pkcs8(alg, der)?,
        })
    }

    fn pair_from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Pair, String> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            format!("is not a PKCS#8 {} private key ({e})", alg.name())
        };
        Ok(match ecdsa(alg) {
            Some((signing, curve)) => Pair::Ec {
                pair: EcdsaKeyPair::from_pkcs8(signing, der).map_err(rejected)?,
                curve,
            },
            None => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
                if pair.public_modulus_len() < 256 {
                    return Err("is an RSA key shorter than 2048 bits".into());
                }
                Pair::Rsa(pair)
            }
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The JWS signature of `message`: raw `r || s` for ECDSA, PKCS#1 v1.5 for RSA.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec { pair, .. } => pair
                .sign(&rng, message)
                .expect("ECDSA signing with a loaded key")
                .as_ref()
                .to_vec(),
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .expect("RSA signing with a loaded key");
                signature
            }
        }
    }

    /// Whether `signature` is this key's over `message`: for tokens
    /// stagepass minted and a client now presents.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use signature::VerificationAlgorithm;
        let (alg, public): (&dyn VerificationAlgorithm, &[u8]) = match &self.pair {
            Pair::Ec { pair, .. } => match self.alg {
                Algorithm::ES384 => (
                    &signature::ECDSA_P384_SHA384_FIXED,
                    pair.public_key().as_ref(),
                ),
                _ => (
                    &signature::ECDSA_P256_SHA256_FIXED,
                    pair.public_key().as_ref(),
                ),
            },
            Pair::Rsa(pair) => (
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            ),
        };
        alg.verify_sig(public, message, signature).is_ok()
    }

    /// The public key as a JWK, in the shape Backstage publishes.
    pub fn jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let mut jwk = match &self.pair {
            Pair::Ec { pair, curve } => {
                // Uncompressed point: 0x04 || x || y, coordinates of equal length.
                let point = &pair.public_key().as_ref()[1..];
                let (x, y) = point.split_at(point.len() / 2);
                json!({"kty": "EC", "crv": curve, "x": b64(x), "y": b64(y)})
            }
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                let n = public.modulus();
                let e = public.exponent();
                json!({"kty": "RSA", "n": b64(n.big_endian_without_leading_zero()), "e": b64(e.big_endian_without_leading_zero())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg.name());
        jwk["use"] = json!("sig");
        jwk
    }

    /// SPKI DER of the public key, as a `PUBLIC KEY` PEM file holds it.
    pub fn public_key_der(&self) -> Vec<u8> {
        let der: Result<PublicKeyX509Der<'static>, _> = match &self.pair {
            Pair::Ec { pair, .. } => pair.public_key().as_der(),
            Pair::Rsa(pair) => pair.public_key().as_der(),
        };
        der.expect("aws-lc-rs encodes public keys")
            .as_ref()
            .to_vec()
    }
}

/// Test helpers: make Backstage-format key files.
#[cfg(test)]
pub(crate) fn generate_pem_pair(alg: Algorithm) -> (String, String) {
    let pkcs8 = match ecdsa(alg) {
        Some((signing, _)) => EcdsaKeyPair::generate(signing)
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec(),
        None => RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .unwrap()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
    };
    let key = SigningKey::from_pkcs8("k", alg, &pkcs8).unwrap();
    (
        pem::encode(&pkcs8, "PRIVATE KEY"),
        pem::encode(&key.public_key_der(), "PUBLIC KEY"),
    )
}

fn read_pem(path: &std::path::Path, label: &str) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    pem::decode(&text, label).map_err(|e| format!("{}: {e}", path.display()))
}

/// A version-4 UUID, the form Backstage gives generated keys.
fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_uuid_kids_and_p256_jwks() {
        let key = SigningKey::generate();
        assert_eq!(key.kid().len(), 36);
        assert_eq!(&key.kid()[14..15], "4");
        assert_ne!(key.kid(), SigningKey::generate().kid());
        let jwk = key.jwk();
        assert_eq!(
            (
                jwk["kty"].as_str(),
                jwk["crv"].as_str(),
                jwk["alg"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn rsa_keys_publish_modulus_and_exponent() {
        let (private, _) = generate_pem_pair(Algorithm::RS256);
        let der = pem::decode(&private, "PRIVATE KEY").unwrap();
        let jwk = SigningKey::from_pkcs8("r", Algorithm::RS256, &der)
            .unwrap()
            .jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["n"].as_str().unwrap())
                .unwrap()
                .len(),
            256
        );
    }

    #[test]
    fn a_key_of_another_algorithm_is_refused() {
        let (private, _) = generate_pem_pair(Algorithm::ES384);
        let der = pem::decode(&private, "PRIVATE KEY").unwrap();
        let err = SigningKey::from_pkcs8("k", Algorithm::ES256, &der)
            .err()
            .unwrap();
        assert!(err.contains("ES256"), "{err}");
    }
}
