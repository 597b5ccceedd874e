//! Fuzzes the strict verifier and the unverified decoder with arbitrary token text.
//!
//! Invariants: never panics; a token that verifies was signed by the fixed key (the fuzzer
//! cannot forge one), so any success must be the seed token modulo trailing whitespace.
#![no_main]

use std::sync::OnceLock;

use irsa_jose::keys::{KeySpec, PrivateKey};
use irsa_jose::verify::decode_unverified;
use irsa_jose::{MintRequest, Signer, Verifier, VerifyOptions};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://oidc.example.com/fuzz";
const NOW: i64 = 1_700_000_000;

struct Fixture {
    verifier: Verifier,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let signer =
            Signer::new(PrivateKey::generate(KeySpec::EcP256).expect("key")).expect("signer");
        let token = signer
            .mint(&MintRequest::new(ISSUER, "default", "app", NOW))
            .expect("mint");
        let options = VerifyOptions::new(ISSUER, "sts.amazonaws.com");
        let verifier =
            Verifier::from_public_keys(&[signer.public_key().clone()], options).expect("verifier");
        Fixture { verifier, token }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let _ = decode_unverified(text);
    if let Ok(ok) = f.verifier.verify(text, NOW) {
        assert_eq!(
            text.trim_end_matches(|c: char| c.is_ascii_whitespace()),
            f.token
        );
        assert_eq!(ok.issuer, ISSUER);
    }
    // Also splice the input into the payload position of the real token.
    let mut parts = f.token.splitn(3, '.');
    if let (Some(h), Some(_), Some(s)) = (parts.next(), parts.next(), parts.next()) {
        let spliced = format!("{h}.{text}.{s}");
        assert!(f.verifier.verify(&spliced, NOW).is_err() || spliced.trim_end() == f.token);
    }
});
