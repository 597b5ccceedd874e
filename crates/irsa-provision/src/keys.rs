//! The signing key ring: the current key and the public halves of the keys it replaced.
//!
//! Rotation must not break running pods: their projected tokens were signed with the old
//! key and stay valid until they expire (or kube-apiserver stops trusting it). So a
//! rotation publishes *both* public keys in `keys.json` (distinct kids) while signing
//! switches to the new one, and the old one is dropped from `keys.json` only when it is
//! older than `--retire-keys-older-than`. Ages are measured from the moment a key stopped
//! signing (its rotation), passed in by the caller, since the planner has no clock.
//! Generating the new key (randomness) and storing the ring (a key directory, a Secret)
//! are the caller's; this module decides what the ring looks like.

use std::time::Duration;

use irsa_jose::PublicKey;

/// A public key that signed before the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousKey {
    /// The public key.
    pub key: PublicKey,
    /// When it stopped signing, in Unix seconds.
    pub retired_at: i64,
}

/// The current public key and the previous ones, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    /// The public half of the key that signs now.
    pub current: PublicKey,
    /// Keys that signed before, newest first.
    pub previous: Vec<PreviousKey>,
}

impl KeyRing {
    /// A ring with only `current`.
    pub fn new(current: PublicKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Makes `new` the current key; the current one becomes the newest previous key,
    /// retired at `now`. Rotating to the key that already signs changes nothing.
    pub fn rotate(&mut self, new: PublicKey, now: i64) {
        if new.kid() == self.current.kid() {
            return;
        }
        let old = std::mem::replace(&mut self.current, new);
        self.previous
            .retain(|p| p.key.kid() != old.kid() && p.key.kid() != self.current.kid());
        self.previous.insert(
            0,
            PreviousKey {
                key: old,
                retired_at: now,
            },
        );
    }

    /// The keys to publish in `keys.json` and to trust in kube-apiserver, current first:
    /// every previous key unless it was retired more than `retire_older_than` before `now`
    /// (`None` keeps them all). Duplicate kids are published once.
    pub fn published(&self, retire_older_than: Option<Duration>, now: i64) -> Vec<PublicKey> {
        let mut out = vec![self.current.clone()];
        for p in &self.previous {
            let keep = match retire_older_than {
                None => true,
                Some(limit) => {
                    let age = now.saturating_sub(p.retired_at);
                    age <= i64::try_from(limit.as_secs()).unwrap_or(i64::MAX)
                }
            };
            if keep && !out.iter().any(|k| k.kid() == p.key.kid()) {
                out.push(p.key.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use irsa_jose::keys::{KeySpec, PrivateKey};

    use super::*;

    fn key() -> PublicKey {
        PrivateKey::generate(KeySpec::EcP256)
            .and_then(|k| k.public_key())
            .expect("key")
    }

    #[test]
    fn rotation_publishes_both_until_retirement() {
        let (a, b, c) = (key(), key(), key());
        let mut ring = KeyRing::new(a.clone());
        assert_eq!(ring.published(None, 0), vec![a.clone()]);
        ring.rotate(b.clone(), 1_000);
        assert_eq!(ring.published(None, 5_000), vec![b.clone(), a.clone()]);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            ring.published(Some(day), 1_000 + 86_400),
            vec![b.clone(), a.clone()]
        );
        assert_eq!(ring.published(Some(day), 1_000 + 86_401), vec![b.clone()]);
        ring.rotate(c.clone(), 2_000);
        assert_eq!(ring.previous.len(), 2);
        assert_eq!(
            ring.published(Some(Duration::from_secs(500)), 2_100),
            vec![c.clone(), b.clone()]
        );
        assert_eq!(
            ring.published(Some(Duration::ZERO), 2_000),
            vec![c.clone(), b.clone()]
        );
        assert_eq!(ring.published(Some(Duration::ZERO), 2_001), vec![c]);
    }

    #[test]
    fn rotating_to_the_same_key_is_a_no_op_and_kids_stay_distinct() {
        let (a, b) = (key(), key());
        let mut ring = KeyRing::new(a.clone());
        ring.rotate(a.clone(), 10);
        assert!(ring.previous.is_empty());
        ring.rotate(b.clone(), 20);
        ring.rotate(a.clone(), 30);
        // a is current again; b is previous; a appears once.
        let kids: Vec<_> = ring
            .published(None, 40)
            .iter()
            .map(|k| k.kid().to_owned())
            .collect();
        assert_eq!(kids, vec![a.kid().to_owned(), b.kid().to_owned()]);
    }
}
