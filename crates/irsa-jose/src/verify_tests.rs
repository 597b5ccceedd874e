//! The hostile-token corpus: every token is rejected with its own [`VerifyError`] variant.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::b64url;
use crate::keys::{KeySpec, PrivateKey, RsaBits};
use crate::mint::{MintRequest, Signer, sign_with};

const ISSUER: &str = "https://oidc.example.com/cluster-1";
const AUD: &str = "sts.amazonaws.com";
const NOW: i64 = 1_700_000_000;

struct Fixture {
    rsa: PrivateKey,
    rsa_other: PrivateKey,
    ec: PrivateKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        rsa: PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).expect("rsa"),
        rsa_other: PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).expect("rsa"),
        ec: PrivateKey::generate(KeySpec::EcP256).expect("ec"),
    })
}

fn kid(key: &PrivateKey) -> String {
    key.public_key().expect("public").kid().to_string()
}

/// A verifier trusting the RSA and EC fixture keys (not `rsa_other`).
fn verifier() -> Verifier {
    let f = fixture();
    let keys = [
        f.rsa.public_key().expect("p"),
        f.ec.public_key().expect("p"),
    ];
    let options = VerifyOptions::new(ISSUER, AUD);
    Verifier::from_public_keys(&keys, options).expect("verifier")
}

fn good_claims() -> Value {
    json!({
        "aud": [AUD],
        "exp": NOW + 3600,
        "iat": NOW,
        "nbf": NOW,
        "iss": ISSUER,
        "sub": "system:serviceaccount:default:app",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "u-1"}},
    })
}

/// Signs arbitrary header and payload bytes with `key` for `alg`.
fn sign_raw(key: &PrivateKey, alg: Algorithm, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = sign_with(key, alg, &SystemRandom::new(), input.as_bytes()).expect("sign");
    format!("{input}.{}", b64url(&sig))
}

/// An RS256 token with the fixture key and its kid over `claims`.
fn rs256(claims: &Value) -> String {
    let f = fixture();
    let header = json!({"alg": "RS256", "kid": kid(&f.rsa)});
    sign_raw(
        &f.rsa,
        Algorithm::RS256,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    if let Value::Object(map) = &mut claims {
        map.remove(name);
    }
    claims
}

fn reject(token: &str) -> VerifyError {
    verifier()
        .verify(token, NOW)
        .expect_err("token must be rejected")
}

#[test]
fn a_kube_shaped_token_verifies_with_typed_claims() {
    let token = rs256(&good_claims());
    let ok = verifier().verify(&token, NOW).expect("valid");
    assert_eq!(ok.algorithm, Algorithm::RS256);
    assert_eq!(ok.issuer, ISSUER);
    assert_eq!(ok.subject, "system:serviceaccount:default:app");
    assert_eq!(ok.audiences, vec![AUD.to_string()]);
    assert_eq!(ok.matched_audience, AUD);
    assert_eq!(ok.expires_at, NOW + 3600);
    assert_eq!(ok.issued_at, Some(NOW));
    assert_eq!(ok.not_before, Some(NOW));
    assert_eq!(ok.kid.as_deref(), Some(kid(&fixture().rsa).as_str()));
    assert_eq!(ok.claims["kubernetes.io"]["namespace"], "default");
}

#[test]
fn minted_tokens_verify_for_rsa_and_ec() {
    let f = fixture();
    for key in [&f.rsa, &f.ec] {
        let signer = Signer::new(match key {
            PrivateKey::Rsa(_) => PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).expect("k"),
            PrivateKey::Ec { .. } => PrivateKey::generate(KeySpec::EcP256).expect("k"),
        })
        .expect("signer");
        let mut request = MintRequest::new(ISSUER, "team-a", "app", NOW);
        request.pod = Some(("app-1".into(), "pod-uid".into()));
        request.service_account_uid = Some("sa-uid".into());
        let token = signer.mint(&request).expect("mint");
        let options = VerifyOptions::new(ISSUER, AUD);
        let v = Verifier::from_public_keys(&[signer.public_key().clone()], options).expect("v");
        let ok = v.verify(&token, NOW + 60).expect("verifies");
        assert_eq!(ok.subject, "system:serviceaccount:team-a:app");
        assert_eq!(ok.expires_at, NOW + 86_400);
        assert_eq!(
            ok.header.len(),
            2,
            "header is alg + kid only: {:?}",
            ok.header
        );
        assert_eq!(ok.claims["kubernetes.io"]["pod"]["uid"], "pod-uid");
        assert_eq!(
            ok.claims["kubernetes.io"]["serviceaccount"]["uid"],
            "sa-uid"
        );
        assert_eq!(ok.claims["aud"], json!([AUD]));
        assert!(uuid::Uuid::parse_str(ok.claims["jti"].as_str().expect("jti")).is_ok());
    }
}

#[test]
fn es256_signed_token_verifies() {
    let f = fixture();
    let header = json!({"alg": "ES256", "kid": kid(&f.ec)});
    let token = sign_raw(
        &f.ec,
        Algorithm::ES256,
        header.to_string().as_bytes(),
        good_claims().to_string().as_bytes(),
    );
    assert_eq!(
        verifier().verify(&token, NOW).expect("valid").algorithm,
        Algorithm::ES256
    );
}

#[test]
fn trailing_newline_and_whitespace_are_trimmed() {
    let token = rs256(&good_claims());
    verifier()
        .verify(&format!("{token}\n"), NOW)
        .expect("newline");
    verifier()
        .verify(&format!("{token} \r\n\t"), NOW)
        .expect("whitespace");
}

#[test]
fn alg_none_is_rejected() {
    let token = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none"}"#),
        b64url(good_claims().to_string().as_bytes())
    );
    assert_eq!(reject(&token), VerifyError::AlgNone);
}

#[test]
fn hs256_with_the_public_key_pem_as_secret_is_rejected() {
    let f = fixture();
    let pem = f.rsa.public_key().expect("p").to_pem();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid(&f.rsa));
    let token = jsonwebtoken::encode(
        &header,
        &good_claims(),
        &jsonwebtoken::EncodingKey::from_secret(pem.as_bytes()).expect("key"),
    )
    .expect("hs256");
    assert_eq!(
        reject(&token),
        VerifyError::AlgSymmetric {
            alg: "HS256".into()
        }
    );
}

#[test]
fn ps256_and_other_algs_are_not_allowed() {
    let token = format!("{}.{}.c2ln", b64url(br#"{"alg":"PS256"}"#), b64url(b"{}"));
    assert_eq!(
        reject(&token),
        VerifyError::AlgNotAllowed {
            alg: "PS256".into()
        }
    );
    let token = format!("{}.{}.c2ln", b64url(br#"{"typ":"JWT"}"#), b64url(b"{}"));
    assert_eq!(reject(&token), VerifyError::MissingAlg);
}

#[test]
fn unknown_kid_is_rejected() {
    let f = fixture();
    let signer = Signer::new(PrivateKey::generate(KeySpec::EcP256).expect("k")).expect("s");
    let token = signer
        .mint(&MintRequest::new(ISSUER, "default", "app", NOW))
        .expect("mint");
    assert_eq!(
        reject(&token),
        VerifyError::UnknownKid {
            kid: signer.kid().to_string()
        }
    );
    // also: a token signed by a key outside the set, claiming its own kid
    let header = json!({"alg": "RS256", "kid": kid(&f.rsa_other)});
    let token = sign_raw(
        &f.rsa_other,
        Algorithm::RS256,
        header.to_string().as_bytes(),
        b"{}",
    );
    assert!(matches!(reject(&token), VerifyError::UnknownKid { .. }));
}

#[test]
fn kid_of_another_key_is_rejected() {
    let f = fixture();
    // RS256 token naming the EC key: that key cannot do RS256.
    let header = json!({"alg": "RS256", "kid": kid(&f.ec)});
    let token = sign_raw(
        &f.rsa,
        Algorithm::RS256,
        header.to_string().as_bytes(),
        good_claims().to_string().as_bytes(),
    );
    assert_eq!(
        reject(&token),
        VerifyError::KeyAlgMismatch {
            kid: kid(&f.ec),
            alg: Algorithm::RS256,
            key: "EC P-256".into()
        }
    );
    // ES256 token naming the RSA key.
    let header = json!({"alg": "ES256", "kid": kid(&f.rsa)});
    let token = sign_raw(
        &f.ec,
        Algorithm::ES256,
        header.to_string().as_bytes(),
        good_claims().to_string().as_bytes(),
    );
    assert!(matches!(
        reject(&token),
        VerifyError::KeyAlgMismatch {
            alg: Algorithm::ES256,
            ..
        }
    ));
    // RS256 token signed by another RSA key but naming the trusted one: bad signature.
    let header = json!({"alg": "RS256", "kid": kid(&f.rsa)});
    let token = sign_raw(
        &f.rsa_other,
        Algorithm::RS256,
        header.to_string().as_bytes(),
        good_claims().to_string().as_bytes(),
    );
    assert_eq!(
        reject(&token),
        VerifyError::BadSignature { kid: kid(&f.rsa) }
    );
}

#[test]
fn removed_signature_is_rejected() {
    let token = rs256(&good_claims());
    let stripped = &token[..=token.rfind('.').expect("dot")];
    assert_eq!(reject(stripped), VerifyError::MissingSignature);
}

#[test]
fn payload_changed_after_signing_is_rejected() {
    let token = rs256(&good_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let evil = with(
        good_claims(),
        "sub",
        json!("system:serviceaccount:kube-system:admin"),
    );
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(evil.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        reject(&forged),
        VerifyError::BadSignature {
            kid: kid(&fixture().rsa)
        }
    );
}

/// The signature memo (`crate::signature_memo`) skips only the signature check of a token
/// seen before: every other answer stays the same.
#[test]
fn a_remembered_signature_changes_no_answer() {
    let v = verifier();
    let token = rs256(&good_claims());
    let first = v.verify(&token, NOW).expect("valid");
    assert_eq!(v.remembered_signatures(), 1);
    let again = v.verify(&token, NOW).expect("still valid");
    assert_eq!(again.claims, first.claims);
    assert_eq!(again.kid, first.kid);
    assert_eq!(
        v.remembered_signatures(),
        1,
        "the same check is remembered once"
    );

    // The claims are checked on every call: past `exp` the remembered token is refused.
    let later = NOW + 3600 + 301;
    assert!(matches!(
        v.verify(&token, later),
        Err(VerifyError::Expired { .. })
    ));

    // The same header and payload with another signature is another check, and fails.
    let (input, sig) = token.rsplit_once('.').expect("dot");
    let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
        .expect("base64url");
    bytes[10] ^= 1;
    let tampered = format!("{input}.{}", b64url(&bytes));
    assert_eq!(
        v.verify(&tampered, NOW).expect_err("tampered"),
        VerifyError::BadSignature {
            kid: kid(&fixture().rsa)
        }
    );
    // So does a payload swapped under the remembered signature.
    let evil = with(
        good_claims(),
        "sub",
        json!("system:serviceaccount:kube-system:admin"),
    );
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(evil.to_string().as_bytes()),
        parts[2]
    );
    assert!(matches!(
        v.verify(&forged, NOW),
        Err(VerifyError::BadSignature { .. })
    ));
    assert_eq!(v.remembered_signatures(), 1, "failures are not remembered");

    // Another verifier (another key set) remembers nothing of this one's checks.
    let other = Verifier::from_public_keys(
        &[fixture().rsa_other.public_key().expect("p")],
        VerifyOptions::new(ISSUER, AUD),
    )
    .expect("verifier");
    assert!(other.verify(&token, NOW).is_err());
    assert_eq!(other.remembered_signatures(), 0);
}

#[test]
fn expiry_is_checked_with_leeway() {
    let past = rs256(&with(good_claims(), "exp", json!(NOW - 301)));
    assert_eq!(
        reject(&past),
        VerifyError::Expired {
            exp: NOW - 301,
            now: NOW,
            leeway: 300
        }
    );
    let within = rs256(&with(good_claims(), "exp", json!(NOW - 299)));
    verifier().verify(&within, NOW).expect("within leeway");
    let mut options = VerifyOptions::new(ISSUER, AUD);
    options.leeway_secs = 0;
    let strict =
        Verifier::from_public_keys(&[fixture().rsa.public_key().expect("p")], options).expect("v");
    assert!(matches!(
        strict.verify(&within, NOW),
        Err(VerifyError::Expired { .. })
    ));
}

#[test]
fn the_answer_depends_only_on_the_given_now() {
    // No clock inside: the same token and `now` give the same answer on every call, and
    // moving `now` alone moves the token across its validity edges.
    let token = rs256(&good_claims());
    let v = verifier();
    let first = v.verify(&token, NOW).expect("valid at NOW");
    assert_eq!(v.verify(&token, NOW).expect("again"), first);
    v.verify(&token, NOW + 3600 + 299)
        .expect("inside exp + leeway");
    assert_eq!(
        v.verify(&token, NOW + 3600 + 300),
        Err(VerifyError::Expired {
            exp: NOW + 3600,
            now: NOW + 3600 + 300,
            leeway: 300
        })
    );
    assert_eq!(
        v.verify(&token, NOW - 301),
        Err(VerifyError::NotYetValid {
            nbf: NOW,
            now: NOW - 301,
            leeway: 300
        })
    );
    // A `now` decades away is an answer, not a panic or a wrap.
    assert!(matches!(
        v.verify(&token, i64::MAX),
        Err(VerifyError::Expired { .. })
    ));
    assert!(matches!(
        v.verify(&token, i64::MIN),
        Err(VerifyError::NotYetValid { .. })
    ));
}

#[test]
fn nbf_and_iat_in_the_future_are_rejected() {
    let token = rs256(&with(good_claims(), "nbf", json!(NOW + 301)));
    assert_eq!(
        reject(&token),
        VerifyError::NotYetValid {
            nbf: NOW + 301,
            now: NOW,
            leeway: 300
        }
    );
    let token = rs256(&with(good_claims(), "nbf", json!(NOW + 299)));
    verifier().verify(&token, NOW).expect("nbf within leeway");
    let token = rs256(&with(good_claims(), "iat", json!(NOW + 3000)));
    assert_eq!(
        reject(&token),
        VerifyError::IssuedInFuture {
            iat: NOW + 3000,
            now: NOW,
            leeway: 300
        }
    );
}

#[test]
fn wrong_issuer_and_trailing_slash_are_rejected() {
    let token = rs256(&with(
        good_claims(),
        "iss",
        json!("https://evil.example.com"),
    ));
    assert!(matches!(reject(&token), VerifyError::IssuerMismatch { .. }));
    let token = rs256(&with(good_claims(), "iss", json!(format!("{ISSUER}/"))));
    assert_eq!(
        reject(&token),
        VerifyError::IssuerTrailingSlash {
            found: format!("{ISSUER}/"),
            expected: ISSUER.into()
        }
    );
    let token = rs256(&without(good_claims(), "iss"));
    assert_eq!(reject(&token), VerifyError::MissingIssuer);
}

#[test]
fn audience_missing_empty_and_wrong_are_rejected() {
    assert_eq!(
        reject(&rs256(&without(good_claims(), "aud"))),
        VerifyError::MissingAudience
    );
    assert_eq!(
        reject(&rs256(&with(good_claims(), "aud", json!([])))),
        VerifyError::EmptyAudience
    );
    assert_eq!(
        reject(&rs256(&with(good_claims(), "aud", json!("")))),
        VerifyError::EmptyAudience
    );
    assert!(matches!(
        reject(&rs256(&with(
            good_claims(),
            "aud",
            json!(["https://kubernetes.default.svc"])
        ))),
        VerifyError::AudienceMismatch { .. }
    ));
    // a string aud is accepted
    verifier()
        .verify(&rs256(&with(good_claims(), "aud", json!(AUD))), NOW)
        .expect("string aud");
    assert!(matches!(
        reject(&rs256(&with(good_claims(), "aud", json!([AUD, 7])))),
        VerifyError::ClaimType { claim: "aud", .. }
    ));
}

#[test]
fn subject_missing_is_rejected() {
    assert_eq!(
        reject(&rs256(&without(good_claims(), "sub"))),
        VerifyError::MissingSubject
    );
    assert_eq!(
        reject(&rs256(&with(good_claims(), "sub", json!("")))),
        VerifyError::MissingSubject
    );
}

#[test]
fn float_and_string_dates_are_rejected() {
    assert_eq!(
        reject(&rs256(&with(good_claims(), "exp", json!(1_700_003_600.0)))),
        VerifyError::NonIntegerDate { claim: "exp" }
    );
    assert_eq!(
        reject(&rs256(&with(good_claims(), "iat", json!("1700000000")))),
        VerifyError::NonIntegerDate { claim: "iat" }
    );
    assert_eq!(
        reject(&rs256(&without(good_claims(), "exp"))),
        VerifyError::MissingExpiry
    );
}

#[test]
fn five_segments_are_a_jwe() {
    assert_eq!(reject("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), VerifyError::Jwe);
    assert_eq!(reject("a.b"), VerifyError::SegmentCount { found: 2 });
    assert_eq!(reject("   \n"), VerifyError::Empty);
}

#[test]
fn over_long_tokens_are_rejected_before_decoding() {
    let token = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(reject(&token), VerifyError::TooLong { len: 20_001 });
    // exactly the maximum is decoded (and then fails for another reason)
    assert_eq!(
        reject(&"a".repeat(MAX_TOKEN_LEN)),
        VerifyError::SegmentCount { found: 1 }
    );
}

#[test]
fn header_not_json_is_rejected() {
    let token = format!("{}.{}.c2ln", b64url(b"not json"), b64url(b"{}"));
    assert!(matches!(reject(&token), VerifyError::HeaderNotJson { .. }));
    let token = format!("{}.{}.c2ln", b64url(b"[\"RS256\"]"), b64url(b"{}"));
    assert!(matches!(reject(&token), VerifyError::HeaderNotJson { .. }));
}

#[test]
fn non_base64url_characters_are_rejected() {
    let token = rs256(&good_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let bad = format!("{}.{}+/.{}", parts[0], parts[1], parts[2]);
    assert_eq!(reject(&bad), VerifyError::InvalidBase64 { part: "payload" });
    let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert_eq!(
        reject(&padded),
        VerifyError::InvalidBase64 { part: "header" }
    );
}

#[test]
fn duplicate_members_and_crit_are_rejected() {
    let f = fixture();
    let header = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, kid(&f.rsa));
    let payload = format!(
        r#"{{"iss":"{ISSUER}","sub":"a","sub":"b","aud":"{AUD}","exp":{}}}"#,
        NOW + 60
    );
    let token = sign_raw(
        &f.rsa,
        Algorithm::RS256,
        header.as_bytes(),
        payload.as_bytes(),
    );
    assert_eq!(
        reject(&token),
        VerifyError::DuplicateMember {
            part: "payload",
            name: "sub".into()
        }
    );
    let header = format!(
        r#"{{"alg":"RS256","kid":"{}","crit":["exp"]}}"#,
        kid(&f.rsa)
    );
    let token = sign_raw(
        &f.rsa,
        Algorithm::RS256,
        header.as_bytes(),
        good_claims().to_string().as_bytes(),
    );
    assert_eq!(reject(&token), VerifyError::CriticalHeader);
}

#[test]
fn a_token_without_kid_needs_an_unambiguous_key() {
    let f = fixture();
    let token = sign_raw(
        &f.rsa,
        Algorithm::RS256,
        br#"{"alg":"RS256"}"#,
        good_claims().to_string().as_bytes(),
    );
    // the set has one RSA key (and one EC key): unambiguous
    verifier().verify(&token, NOW).expect("single RSA key");
    let keys = [
        f.rsa.public_key().expect("p"),
        f.rsa_other.public_key().expect("p"),
    ];
    let options = VerifyOptions::new(ISSUER, AUD);
    let two = Verifier::from_public_keys(&keys, options).expect("v");
    assert_eq!(
        two.verify(&token, NOW),
        Err(VerifyError::KidRequired {
            alg: Algorithm::RS256,
            candidates: 2
        })
    );
    let token = sign_raw(&f.ec, Algorithm::ES256, br#"{"alg":"ES384"}"#, b"{}");
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::NoKeyForAlg {
            alg: Algorithm::ES384
        })
    );
}

#[test]
fn corpus_reasons_are_distinct_and_map_to_sts_codes() {
    let f = fixture();
    let good = rs256(&good_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let other_kid = sign_raw(
        &f.rsa,
        Algorithm::RS256,
        json!({"alg": "RS256", "kid": kid(&f.ec)})
            .to_string()
            .as_bytes(),
        good_claims().to_string().as_bytes(),
    );
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good_claims(),
        &jsonwebtoken::EncodingKey::from_secret(f.rsa.public_key().expect("p").to_pem().as_bytes())
            .expect("key"),
    )
    .expect("hs");
    let corpus: Vec<String> = vec![
        format!("{}.{}.", b64url(br#"{"alg":"none"}"#), parts[1]),
        hs,
        Signer::new(PrivateKey::generate(KeySpec::EcP256).expect("k"))
            .expect("s")
            .mint(&MintRequest::new(ISSUER, "default", "app", NOW))
            .expect("mint"),
        other_kid,
        format!("{}.{}.", parts[0], parts[1]),
        format!(
            "{}.{}.{}",
            parts[0],
            b64url(
                with(good_claims(), "sub", json!("x"))
                    .to_string()
                    .as_bytes()
            ),
            parts[2]
        ),
        rs256(&with(good_claims(), "exp", json!(NOW - 400))),
        rs256(&with(good_claims(), "nbf", json!(NOW + 400))),
        rs256(&with(
            good_claims(),
            "iss",
            json!("https://other.example.com"),
        )),
        rs256(&with(good_claims(), "iss", json!(format!("{ISSUER}/")))),
        rs256(&without(good_claims(), "aud")),
        rs256(&with(good_claims(), "aud", json!([]))),
        rs256(&with(good_claims(), "aud", json!(["other"]))),
        rs256(&without(good_claims(), "sub")),
        rs256(&with(good_claims(), "exp", json!(1.7e9))),
        "a.b.c.d.e".to_string(),
        "a".repeat(20_001),
        format!("{}.{}.{}", b64url(b"{nope"), parts[1], parts[2]),
        format!("{}.{}*.{}", parts[0], parts[1], parts[2]),
    ];
    let errors: Vec<VerifyError> = corpus.iter().map(|t| reject(t)).collect();
    for (token, error) in corpus.iter().zip(&errors) {
        assert_eq!(
            verify_once_decoded(token),
            Err(error.clone()),
            "decode + verify_decoded"
        );
    }
    assert_eq!(
        verify_once_decoded(&good),
        verifier().verify(&good, NOW),
        "decode + verify_decoded"
    );
    let reasons: BTreeSet<&str> = errors.iter().map(VerifyError::reason).collect();
    assert_eq!(
        reasons.len(),
        corpus.len(),
        "reasons not distinct: {errors:#?}"
    );
    for error in &errors {
        let expected = match error {
            VerifyError::Expired { .. } => StsErrorCode::ExpiredTokenException,
            VerifyError::TooLong { .. } => StsErrorCode::ValidationError,
            _ => StsErrorCode::InvalidIdentityToken,
        };
        assert_eq!(error.sts_error_code(), expected, "{error}");
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }
    let expired = &errors[6];
    assert_eq!(
        expired.sts_message(),
        format!(
            "Token expired: current date/time {NOW} must be before the expiration date/time {}",
            NOW - 400
        )
    );
    assert_eq!(errors[12].sts_message(), "Incorrect token audience");
    assert_eq!(errors[10].sts_message(), "Missing a required claim: aud");
    assert_eq!(
        errors[8].sts_message(),
        "No OpenIDConnect provider found in your account for https://other.example.com"
    );
    assert!(
        errors[2]
            .sts_message()
            .starts_with("Couldn't retrieve verification key from your identity provider,  please")
    );
}

/// [`decode`] then [`Verifier::verify_decoded`]: must answer exactly what `verify` answers.
fn verify_once_decoded(token: &str) -> Result<VerifiedToken, VerifyError> {
    let decoded = decode(token)?;
    assert_eq!(
        decode_unverified(token).as_ref(),
        Ok(decoded.unverified()),
        "decode and decode_unverified agree"
    );
    verifier().verify_decoded(decoded, NOW)
}

#[test]
fn decode_unverified_reads_claims_without_trusting_them() {
    let token = rs256(&with(
        good_claims(),
        "iss",
        json!("https://elsewhere.example"),
    ));
    let peek = decode_unverified(&token).expect("shape ok");
    assert_eq!(peek.issuer(), Some("https://elsewhere.example"));
    assert!(matches!(
        verifier().verify(&token, NOW),
        Err(VerifyError::IssuerMismatch { .. })
    ));
    assert_eq!(decode_unverified("a.b.c.d.e"), Err(VerifyError::Jwe));
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Delete(usize),
    Insert(usize, u8),
    Truncate(usize),
    FlipBit(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
    ]
}

fn apply(token: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = token.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Replace(i, b) => {
                if let Some(slot) = bytes.get_mut(i % len) {
                    *slot = b;
                }
            }
            Mutation::Delete(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % len);
                }
            }
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::FlipBit(i, bit) => {
                if let Some(slot) = bytes.get_mut(i % len) {
                    *slot ^= 1 << bit;
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_tokens_never_verify_and_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let token = rs256(&good_claims());
        let mutated = apply(&token, &mutations);
        let Ok(text) = String::from_utf8(mutated) else {
            return Ok(()); // not a &str: cannot even be passed in
        };
        let same = text.trim_end_matches(|c: char| c.is_ascii_whitespace()) == token;
        let result = verifier().verify(&text, NOW);
        if let Ok(decoded) = decode(&text) {
            prop_assert_eq!(verifier().verify_decoded(decoded, NOW), result.clone());
        }
        if same {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err(), "mutated token verified: {text}");
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,400}") {
        let _ = verifier().verify(&s, NOW);
        let _ = decode_unverified(&s);
    }
}
