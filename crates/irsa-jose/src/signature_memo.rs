//! Signatures a [`Verifier`](crate::Verifier) has already checked and found valid.
//!
//! Why: a workload's SDK presents the same projected token on every
//! `AssumeRoleWithWebIdentity` call until the kubelet rotates the token file (hourly, or at
//! 80 % of its life), and the RSA check of that token is the largest single cost of an STS
//! call (about a third of the local STS's CPU time per call; see `docs/benchmarks.md`).
//! Whether a signature verifies is a pure function of the key, the signing input and the
//! signature, so remembering the answer changes no answer. kube-apiserver does the same for
//! the same tokens: its token authenticators sit behind a cache of successful
//! authentications.
//!
//! What makes it safe:
//! - **Per key set.** The memo lives inside the verifier, which holds the parsed keys: a
//!   rotated key set means a new verifier and an empty memo. The key is chosen from the
//!   header, which is part of the signing input, and key selection still runs on every
//!   call, with its own errors.
//! - **Only successes, only the signature.** A signature that fails is checked again next
//!   time. Everything after the signature (the payload, `iss`, `aud`, `exp`, `nbf`, `iat`,
//!   `sub`) is checked on every call, so an expired token is refused even when its signature
//!   is remembered.
//! - **Digests, not tokens.** An entry is SHA-256 over the signing input's length, the
//!   signing input and the signature: the memo holds no bearer credential, and a different
//!   token (or the same one with another signature) is a different digest. Finding a second
//!   input with a remembered digest is finding a SHA-256 collision.
//! - **Bounded.** At [`MAX_REMEMBERED`] entries the memo is emptied: the next calls pay for
//!   their signature checks again, nothing else changes. Only tokens signed by a trusted key
//!   are ever added, so the memo cannot be filled by someone without the signing key.
//!
//! No clock and no randomness: the table is keyed by the digest's own first bytes.

use std::sync::{Mutex, PoisonError};

use aws_lc_rs::digest;
use hashbrown::HashTable;

/// Most signatures one verifier remembers (32 bytes each, about 200 KiB with the table).
pub const MAX_REMEMBERED: usize = 4096;

/// The memo's key for one signature check.
pub(crate) type CheckDigest = [u8; 32];

/// The digest that names one (signing input, signature) pair.
pub(crate) fn check_digest(signing_input: &[u8], signature: &[u8]) -> CheckDigest {
    let mut context = digest::Context::new(&digest::SHA256);
    // The length first, so no split of the same bytes into input and signature collides.
    context.update(&(signing_input.len() as u64).to_be_bytes());
    context.update(signing_input);
    context.update(signature);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The table's hash of a digest: its first eight bytes (already uniformly distributed).
fn table_hash(digest: &CheckDigest) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The remembered valid signatures of one verifier.
#[derive(Default)]
pub(crate) struct SignatureMemo {
    valid: Mutex<HashTable<CheckDigest>>,
}

impl SignatureMemo {
    /// Whether `digest`'s signature was found valid before.
    pub(crate) fn is_known_valid(&self, digest: &CheckDigest) -> bool {
        let table = self.valid.lock().unwrap_or_else(PoisonError::into_inner);
        table.find(table_hash(digest), |d| d == digest).is_some()
    }

    /// Remembers that `digest`'s signature verified.
    pub(crate) fn remember_valid(&self, digest: CheckDigest) {
        let mut table = self.valid.lock().unwrap_or_else(PoisonError::into_inner);
        if table.find(table_hash(&digest), |d| *d == digest).is_some() {
            return;
        }
        if table.len() >= MAX_REMEMBERED {
            table.clear();
        }
        table.insert_unique(table_hash(&digest), digest, table_hash);
    }

    /// Forgets every remembered signature.
    pub(crate) fn clear(&self) {
        self.valid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many signatures are remembered.
    pub(crate) fn len(&self) -> usize {
        self.valid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_separate_input_from_signature() {
        // The same bytes split differently between input and signature are different checks.
        assert_ne!(check_digest(b"ab", b"c"), check_digest(b"a", b"bc"));
        assert_eq!(check_digest(b"ab", b"c"), check_digest(b"ab", b"c"));
        assert_ne!(check_digest(b"ab", b"c"), check_digest(b"ab", b"d"));
    }

    #[test]
    fn remembers_what_it_is_told_and_nothing_else() {
        let memo = SignatureMemo::default();
        let a = check_digest(b"header.payload", b"signature-a");
        let b = check_digest(b"header.payload", b"signature-b");
        assert!(!memo.is_known_valid(&a));
        memo.remember_valid(a);
        memo.remember_valid(a);
        assert!(memo.is_known_valid(&a));
        assert!(!memo.is_known_valid(&b));
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn stays_within_its_bound() {
        let memo = SignatureMemo::default();
        for i in 0..(MAX_REMEMBERED as u32 + 10) {
            memo.remember_valid(check_digest(b"input", &i.to_be_bytes()));
            assert!(memo.len() <= MAX_REMEMBERED);
        }
        // Emptied at the bound, then refilled with the last ten.
        assert_eq!(memo.len(), 10);
        let last = check_digest(b"input", &(MAX_REMEMBERED as u32 + 9).to_be_bytes());
        assert!(memo.is_known_valid(&last));
    }
}
