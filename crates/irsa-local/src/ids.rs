//! Identifiers in AWS's formats: role IDs (`AROA…`), access keys (`ASIA…`), secrets.
//!
//! Clients treat these as opaque, but some check shapes (length, prefix), and humans
//! recognise them; matching AWS's formats keeps both happy. All come from `rand`'s thread-local CSPRNG (ChaCha12, seeded from the OS).

use rand::Rng;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// `prefix` followed by random base32 characters up to `total` characters.
pub fn prefixed_id(prefix: &str, total: usize) -> String {
    let mut id = String::with_capacity(total);
    id.push_str(prefix);
    id.push_str(&random_from(BASE32, total.saturating_sub(prefix.len())));
    id
}

/// A role ID: `AROA` + 17 base32 characters (21 in total), as IAM issues them.
pub fn role_id() -> String {
    prefixed_id("AROA", 21)
}

/// A temporary access key ID: `ASIA` + 16 base32 characters (20 in total).
pub fn session_access_key_id() -> String {
    prefixed_id("ASIA", 20)
}

/// A 40-character secret access key from `[A-Za-z0-9+/]`.
pub fn secret_access_key() -> String {
    random_from(SECRET_CHARS, 40)
}

/// An opaque session token: `IQoJb3JpZ2luX2Vj` (the prefix of current AWS tokens) and
/// 256 random base64 characters.
pub fn session_token() -> String {
    let mut token = String::from("IQoJb3JpZ2luX2Vj");
    token.push_str(&random_from(SECRET_CHARS, 256));
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_aws() {
        let role = role_id();
        assert_eq!(role.len(), 21);
        assert!(role.starts_with("AROA"));
        assert!(role[4..].bytes().all(|b| BASE32.contains(&b)));
        let key = session_access_key_id();
        assert_eq!(key.len(), 20);
        assert!(key.starts_with("ASIA"));
        let secret = secret_access_key();
        assert_eq!(secret.len(), 40);
        assert!(secret.bytes().all(|b| SECRET_CHARS.contains(&b)));
        assert_ne!(secret, secret_access_key());
        assert!(session_token().len() > 256);
    }
}
