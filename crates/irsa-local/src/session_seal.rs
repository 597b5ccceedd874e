//! Self-contained STS session credentials, sealed with a key kept in the store.
//!
//! AWS's session tokens carry the session inside them, encrypted; the service that
//! receives a signed request opens the token instead of looking the session up. irsa does
//! the same, for the same reason: `AssumeRoleWithWebIdentity` then writes nothing, so it is
//! not bound by the disk's `fsync` latency, and the credentials still outlive a restart
//! (or a `kill -9`) because the sealing key is durable in the store before the server
//! answers its first request.
//!
//! - The session token is `IQoJ` (the prefix of AWS's tokens) followed by base64url of a
//!   random 96-bit nonce and the AES-256-GCM encryption of the session's JSON.
//! - The secret access key is not stored anywhere: it is derived from the token with
//!   HMAC-SHA256 under a second key, so only this server can produce it, and a client that
//!   alters the token gets a different secret and a failed signature.
//! - The access key ID is inside the sealed session; a token presented with another
//!   access key ID does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError, Write};

/// Temporary credentials issued by STS and the identity behind them: what a session
/// token carries, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The 40-character secret. Never logged.
    pub secret_access_key: String,
    /// The opaque session token. Never logged.
    pub session_token: String,
    /// The account of the assumed role.
    pub account: String,
    /// The assumed role's ARN (with path).
    pub role_arn: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`.
    pub assumed_role_arn: String,
    /// `ROLEID:SESSION`.
    pub assumed_role_id: String,
    /// The session name.
    pub session_name: String,
    /// The `sub` of the web identity token.
    pub subject: String,
    /// The provider ARN that vouched for the token.
    pub provider_arn: String,
    /// The matched audience.
    pub audience: String,
    /// Expiry, UNIX seconds.
    pub expiration: i64,
}

/// The name of the sealing key in the store's secrets table.
const SECRET_NAME: &str = "sts-session-sealing-key";
/// 32 bytes of AES-256 key, then 32 bytes of HMAC key.
const KEY_MATERIAL_LEN: usize = 64;
/// Prefix of sealed tokens (AWS's tokens start the same way).
const TOKEN_PREFIX: &str = "IQoJ";
/// A sealed session's JSON is a few hundred bytes; the AEAD tag is appended in place.
const SEALED_JSON_CAPACITY: usize = 1024;
/// Longest token we try to open (AWS accepts session tokens of a few KB).
const MAX_TOKEN_LEN: usize = 8192;

/// Seals and opens session credentials.
pub struct SessionSealer {
    aead: LessSafeKey,
    mac: hmac::Key,
}

impl std::fmt::Debug for SessionSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSealer(..)")
    }
}

/// Why the sealing key could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored key has the wrong size (a damaged or foreign data directory).
    #[error(
        "the session-sealing key in the data directory has {0} bytes, expected {KEY_MATERIAL_LEN}"
    )]
    BadKey(usize),
    /// The system random generator failed.
    #[error("cannot generate a session-sealing key: the system random generator failed")]
    Random,
}

impl SessionSealer {
    /// Loads the sealing key from `store`, creating it (durably) on first use.
    pub async fn load_or_create(store: &Store) -> Result<Self, SealError> {
        let material = match store.get_secret(SECRET_NAME) {
            Some(bytes) => bytes,
            None => {
                let mut bytes = vec![0u8; KEY_MATERIAL_LEN];
                aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealError::Random)?;
                store
                    .commit(vec![Write::PutSecret {
                        name: SECRET_NAME.to_string(),
                        value: bytes.clone(),
                    }])
                    .await?;
                bytes
            }
        };
        Self::from_material(&material)
    }

    fn from_material(material: &[u8]) -> Result<Self, SealError> {
        if material.len() != KEY_MATERIAL_LEN {
            return Err(SealError::BadKey(material.len()));
        }
        let (enc, mac) = material.split_at(32);
        let unbound =
            UnboundKey::new(&AES_256_GCM, enc).map_err(|_| SealError::BadKey(material.len()))?;
        Ok(Self {
            aead: LessSafeKey::new(unbound),
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac),
        })
    }

    /// Seals `session` (its `session_token` and `secret_access_key` fields are ignored) and
    /// returns it with both filled in.
    pub fn seal(&self, mut session: Session) -> Result<Session, SealError> {
        session.session_token = String::new();
        session.secret_access_key = String::new();
        // Room for the JSON and the tag: one allocation, no regrowth while serialising.
        let mut buf = Vec::with_capacity(SEALED_JSON_CAPACITY);
        serde_json::to_writer(&mut buf, &session).map_err(|_| SealError::Random)?;
        // A fresh random nonce per token, from `rand`'s thread-local CSPRNG (ChaCha12 seeded
        // from the OS), as the credentials' IDs: aws-lc's generator costs more per call.
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(TOKEN_PREFIX.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + buf.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&buf);
        let mut token = String::with_capacity(TOKEN_PREFIX.len() + sealed.len().div_ceil(3) * 4);
        token.push_str(TOKEN_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&sealed, &mut token);
        session.secret_access_key = self.secret_for(&token);
        session.session_token = token;
        Ok(session)
    }

    /// Opens a session token presented with `access_key_id`; `None` when it was not sealed
    /// by this server, was altered, or belongs to another access key.
    pub fn open(&self, access_key_id: &str, token: &str) -> Option<Session> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let body = token.strip_prefix(TOKEN_PREFIX)?;
        let sealed = URL_SAFE_NO_PAD.decode(body).ok()?;
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(TOKEN_PREFIX.as_bytes()), &mut buf)
            .ok()?;
        let mut session: Session = serde_json::from_slice(plain).ok()?;
        if session.access_key_id != access_key_id {
            return None;
        }
        session.secret_access_key = self.secret_for(token);
        session.session_token = token.to_string();
        Some(session)
    }

    /// The 40-character secret access key that belongs to `token`.
    fn secret_for(&self, token: &str) -> String {
        let tag = hmac::sign(&self.mac, token.as_bytes());
        let mut secret = STANDARD.encode(tag.as_ref());
        secret.truncate(40);
        secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            access_key_id: "ASIAAAAAAAAAAAAAAAAA".into(),
            secret_access_key: String::new(),
            session_token: String::new(),
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/demo-app".into(),
            assumed_role_arn: "arn:aws:sts::000000000000:assumed-role/demo-app/s".into(),
            assumed_role_id: "AROAAAAAAAAAAAAAAAAAA:s".into(),
            session_name: "s".into(),
            subject: "system:serviceaccount:default:demo-app".into(),
            provider_arn: "arn:aws:iam::000000000000:oidc-provider/x".into(),
            audience: "sts.amazonaws.com".into(),
            expiration: 1_900_000_000,
        }
    }

    #[tokio::test]
    async fn sealed_sessions_open_after_reopening_the_store_and_reject_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sealed = {
            let store = Store::open(dir.path()).expect("open");
            let sealer = SessionSealer::load_or_create(&store).await.expect("sealer");
            let sealed = sealer.seal(session()).expect("seal");
            store.close();
            sealed
        };
        assert!(sealed.session_token.starts_with("IQoJ"));
        assert_eq!(sealed.secret_access_key.len(), 40);
        assert!(
            !sealed.session_token.contains("demo-app"),
            "token is encrypted"
        );

        let store = Store::open(dir.path()).expect("reopen");
        let sealer = SessionSealer::load_or_create(&store).await.expect("sealer");
        let opened = sealer
            .open(&sealed.access_key_id, &sealed.session_token)
            .expect("opens after restart");
        assert_eq!(opened, sealed);

        // Another access key, a flipped character, or a foreign prefix: nothing opens.
        assert!(
            sealer
                .open("ASIABBBBBBBBBBBBBBBB", &sealed.session_token)
                .is_none()
        );
        let mut tampered = sealed.session_token.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(sealer.open(&sealed.access_key_id, &tampered).is_none());
        assert!(sealer.open(&sealed.access_key_id, "not-a-token").is_none());
    }

    #[tokio::test]
    async fn another_data_directory_cannot_open_the_token() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let sa = SessionSealer::load_or_create(&Store::open(a.path()).expect("open"))
            .await
            .expect("sealer");
        let sb = SessionSealer::load_or_create(&Store::open(b.path()).expect("open"))
            .await
            .expect("sealer");
        let sealed = sa.seal(session()).expect("seal");
        assert!(
            sb.open(&sealed.access_key_id, &sealed.session_token)
                .is_none()
        );
    }
}
