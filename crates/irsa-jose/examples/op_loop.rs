//! Runs one JOSE operation N times, for instruction counting under valgrind (the shared
//! machine's wall-clock numbers swing ±30 % with other builds; instruction counts do not).
//!
//! ```text
//! cargo build --release -p irsa-jose --example op_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/op_loop verify_rs 300
//! ```
//! Subtract the `setup_rs`/`setup_es` run (N = 0: key load, one mint, aws-lc's one-time
//! entropy initialisation) and divide by N. Keys are cached in the temp dir so every run
//! uses the same key.

use std::hint::black_box;

use aws_lc_rs::signature::{self, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine as _;
use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits};
use irsa_jose::{MintRequest, Signer, Verifier, VerifyOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().expect("usage: op_loop MODE N");
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: op_loop MODE N");
    let ec = mode.ends_with("_es");
    let path = std::env::temp_dir().join(if ec {
        "irsa-op-loop-es.key"
    } else {
        "irsa-op-loop-rs.key"
    });
    if !path.exists() {
        let spec = if ec {
            KeySpec::EcP256
        } else {
            KeySpec::Rsa(RsaBits::B2048)
        };
        let pem = PrivateKey::generate(spec)
            .expect("key")
            .to_pkcs8_pem()
            .expect("pem");
        std::fs::write(&path, pem).expect("write key");
    }
    let signer = Signer::from_pem("key", &std::fs::read(&path).expect("read key")).expect("signer");
    let issuer = "https://s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity";
    let mut request = MintRequest::new(issuer, "default", "s3-access", 1_700_000_000);
    request.pod = Some((
        "s3-access-7d9f8b6c5d-x2x7q".into(),
        "c8f6c2a4-3c1e-4b5e-9f1e-1f2d3c4b5a69".into(),
    ));
    request.service_account_uid = Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into());
    let token = signer.mint(&request).expect("mint");
    let options = VerifyOptions::new(issuer, "sts.amazonaws.com");
    let verifier =
        Verifier::from_public_keys(&[signer.public_key().clone()], options).expect("verifier");
    let dot = token.rfind('.').expect("dot");
    let input = token.as_bytes()[..dot].to_vec();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token[dot + 1..])
        .expect("signature");
    let spki = signer.public_key().spki_der().to_vec();
    let alg: &'static dyn signature::VerificationAlgorithm = if ec {
        &signature::ECDSA_P256_SHA256_FIXED
    } else {
        &signature::RSA_PKCS1_2048_8192_SHA256
    };
    let parsed = ParsedPublicKey::new(alg, &spki).expect("parsed key");
    let unparsed = UnparsedPublicKey::new(alg, &spki);
    for _ in 0..n {
        match mode.as_str() {
            "setup_rs" | "setup_es" => {}
            "raw_parsed_rs" | "raw_parsed_es" => parsed
                .verify_sig(black_box(&input), black_box(&sig))
                .expect("raw verify"),
            "raw_unparsed_rs" | "raw_unparsed_es" => unparsed
                .verify(black_box(&input), black_box(&sig))
                .expect("raw verify"),
            "verify_rs" | "verify_es" => {
                // The full check: no remembered signature.
                verifier.forget_signatures();
                black_box(
                    verifier
                        .verify(black_box(&token), 1_700_000_010)
                        .expect("verify"),
                );
            }
            "verify_remembered_rs" | "verify_remembered_es" => {
                black_box(
                    verifier
                        .verify(black_box(&token), 1_700_000_010)
                        .expect("verify"),
                );
            }
            "decode_rs" => {
                black_box(irsa_jose::verify::decode_unverified(black_box(&token)).expect("decode"));
            }
            "mint_rs" | "mint_es" => {
                black_box(signer.mint(black_box(&request)).expect("mint"));
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
