//! Token verify and mint throughput, with raw aws-lc-rs verification as the baseline.
//!
//! Targets (one core): ≥ 40,000 RS256 verifications/s, ≥ 20,000 ES256 verifications/s,
//! ≥ 3,000 RS256 mints/s. The `raw_*` benches measure the signature check alone, so the
//! ratio `verify / raw` is what parsing and claim checks cost.

use std::hint::black_box;

use aws_lc_rs::signature::{self, ParsedPublicKey, UnparsedPublicKey};
use base64::Engine as _;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits};
use irsa_jose::{MintRequest, Signer, Verifier, VerifyOptions};

const ISSUER: &str = "https://s3.eu-west-1.amazonaws.com/123456789012-g8s-abc12-oidc-pod-identity";
const NOW: i64 = 1_700_000_000;

struct Case {
    signer: Signer,
    token: String,
    verifier: Verifier,
}

fn case(spec: KeySpec) -> Case {
    let signer = Signer::new(PrivateKey::generate(spec).expect("key")).expect("signer");
    let token = signer.mint(&request()).expect("mint");
    let options = VerifyOptions::new(ISSUER, "sts.amazonaws.com");
    let verifier =
        Verifier::from_public_keys(&[signer.public_key().clone()], options).expect("verifier");
    verifier.verify(&token, NOW + 10).expect("token verifies");
    Case {
        signer,
        token,
        verifier,
    }
}

fn request() -> MintRequest {
    let mut request = MintRequest::new(ISSUER, "default", "s3-access", NOW);
    request.pod = Some((
        "s3-access-7d9f8b6c5d-x2x7q".into(),
        "c8f6c2a4-3c1e-4b5e-9f1e-1f2d3c4b5a69".into(),
    ));
    request.service_account_uid = Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into());
    request
}

fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    let dot = token.rfind('.').expect("dot");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token[dot + 1..])
        .expect("b64");
    (token.as_bytes()[..dot].to_vec(), sig)
}

/// `NAME`: the full check (the signature memo emptied before every verification);
/// `NAME_remembered`: the same token again, its signature remembered, as an SDK's repeated
/// calls find it.
fn bench_verify(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, case: &Case) {
    group.bench_function(name, |b| {
        b.iter(|| {
            case.verifier.forget_signatures();
            case.verifier
                .verify(black_box(&case.token), NOW + 10)
                .expect("ok")
        })
    });
    group.bench_function(format!("{name}_remembered"), |b| {
        b.iter(|| {
            case.verifier
                .verify(black_box(&case.token), NOW + 10)
                .expect("ok")
        })
    });
}

fn benches(c: &mut Criterion) {
    let rs = case(KeySpec::Rsa(RsaBits::B2048));
    let es = case(KeySpec::EcP256);
    let mut group = c.benchmark_group("jose");
    group.throughput(Throughput::Elements(1));

    let (rs_input, rs_sig) = split(&rs.token);
    let rs_spki = rs.signer.public_key().spki_der().to_vec();
    let rs_parsed =
        ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &rs_spki).expect("parsed");
    group.bench_function("raw_rs256_unparsed_key", |b| {
        let key = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &rs_spki);
        b.iter(|| {
            key.verify(black_box(&rs_input), black_box(&rs_sig))
                .expect("ok")
        })
    });
    group.bench_function("raw_rs256_parsed_key", |b| {
        b.iter(|| {
            rs_parsed
                .verify_sig(black_box(&rs_input), black_box(&rs_sig))
                .expect("ok")
        })
    });
    group.bench_function("decode_unverified_rs256", |b| {
        b.iter(|| irsa_jose::verify::decode_unverified(black_box(&rs.token)).expect("ok"))
    });
    bench_verify(&mut group, "verify_rs256", &rs);

    let (es_input, es_sig) = split(&es.token);
    let es_spki = es.signer.public_key().spki_der().to_vec();
    let es_parsed =
        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &es_spki).expect("parsed");
    group.bench_function("raw_es256_parsed_key", |b| {
        b.iter(|| {
            es_parsed
                .verify_sig(black_box(&es_input), black_box(&es_sig))
                .expect("ok")
        })
    });
    bench_verify(&mut group, "verify_es256", &es);

    let req = request();
    group.bench_function("mint_rs256", |b| {
        b.iter(|| rs.signer.mint(black_box(&req)).expect("ok"))
    });
    group.bench_function("mint_es256", |b| {
        b.iter(|| es.signer.mint(black_box(&req)).expect("ok"))
    });
    group.finish();
}

criterion_group!(jose, benches);
criterion_main!(jose);
