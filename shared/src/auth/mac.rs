//! HMAC and constant-time comparison for webhook and callback signatures.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// `a == b` in time that depends only on the lengths (slices of different lengths are
/// unequal).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length (long keys are hashed first), so this cannot fail.
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA-256 of `message` under `key`, as lowercase hex (64 characters).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    hex::encode(hmac::<Hmac<Sha256>>(key, message))
}

/// HMAC-SHA-512 of `message` under `key`, as lowercase hex (128 characters), as VNPay signs.
pub fn hmac_sha512_hex(key: &[u8], message: &[u8]) -> String {
    hex::encode(hmac::<Hmac<Sha512>>(key, message))
}

fn verify_hex<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    constant_time_eq(&hmac::<M>(key, message), &given)
}

/// Whether `signature_hex` (upper- or lowercase, surrounding whitespace ignored) is the
/// HMAC-SHA-256 of `message` under `key`. Compared in constant time; `false` on bad hex.
pub fn verify_hmac_sha256_hex(key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    verify_hex::<Hmac<Sha256>>(key, message, signature_hex)
}

/// [`verify_hmac_sha256_hex`] with HMAC-SHA-512 (VNPay's `vnp_SecureHash`).
pub fn verify_hmac_sha512_hex(key: &[u8], message: &[u8], signature_hex: &str) -> bool {
    verify_hex::<Hmac<Sha512>>(key, message, signature_hex)
}
