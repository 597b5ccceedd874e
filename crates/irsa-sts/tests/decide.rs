//! The decision on every step's failure and on success, with the explanation it gives.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use irsa_core::aws::RoleArn;
use irsa_jose::keys::{KeySpec, RsaBits};
use irsa_jose::{JwkSet, MintRequest, PrivateKey, Signer};
use irsa_policy::{Policy, StatementResult};
use irsa_sts::{
    Denial, Explanation, IssuerKeys, NO_KEY, NOT_AUTHORIZED, Outcome, RegisteredProvider, Request,
    RoleFacts, TrustPolicy, decide, request_context,
};

const NOW: i64 = 1_764_365_789;
const ISSUER: &str = "https://oidc.example.com/cluster";
const URL: &str = "oidc.example.com/cluster";
const PROVIDER_ARN: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster";

fn policy(sub: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "App",
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{URL}:aud"): "sts.amazonaws.com",
                format!("{URL}:sub"): sub,
            }}
        }]
    })
    .to_string()
}

struct Fixture {
    signer: Signer,
    jwks: JwkSet,
    role_arn: RoleArn,
    providers: Vec<RegisteredProvider>,
}

fn fixture() -> Fixture {
    let signer = Signer::new(PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048)).unwrap()).unwrap();
    let jwks = JwkSet::from_keys(std::slice::from_ref(signer.public_key()));
    Fixture {
        signer,
        jwks,
        role_arn: RoleArn::parse("arn:aws:iam::111122223333:role/app").unwrap(),
        providers: vec![RegisteredProvider {
            arn: PROVIDER_ARN.into(),
            url: URL.into(),
            client_ids: vec!["sts.amazonaws.com".into()],
        }],
    }
}

impl Fixture {
    fn token(&self, sa: &str, audience: &str, issued: i64) -> String {
        let mut request = MintRequest::new(ISSUER, "default", sa, issued);
        request.audiences = vec![audience.into()];
        request.expiration_secs = 3600;
        self.signer.mint(&request).unwrap()
    }

    fn decide(&self, token: &str, document: Option<&str>, duration: u32) -> irsa_sts::Decision {
        decide(
            &Request {
                role_arn: &self.role_arn,
                role: document.map(|d| RoleFacts {
                    trust_policy: TrustPolicy::Document(d),
                    max_session_duration: 3600,
                }),
                providers: &self.providers,
                token,
                session_name: "s",
                duration_seconds: duration,
                now: NOW,
            },
            IssuerKeys::Jwks(&self.jwks),
        )
    }
}

fn denial(decision: &irsa_sts::Decision) -> &Denial {
    match &decision.outcome {
        Outcome::Deny(d) => d,
        Outcome::Allow(a) => panic!("allowed: {a:?}"),
    }
}

#[test]
fn allows_the_trusted_service_account() {
    let f = fixture();
    let doc = policy("system:serviceaccount:default:app");
    let decision = f.decide(&f.token("app", "sts.amazonaws.com", NOW), Some(&doc), 3600);
    let Outcome::Allow(allowed) = &decision.outcome else {
        panic!("{decision:?}");
    };
    assert_eq!(allowed.subject, "system:serviceaccount:default:app");
    assert_eq!(allowed.audience, "sts.amazonaws.com");
    assert_eq!(allowed.provider_arn, PROVIDER_ARN);
    let Explanation::TrustPolicy(evaluation) = &decision.explanation else {
        panic!("{:?}", decision.explanation);
    };
    assert!(evaluation.decision.is_allowed());
}

#[test]
fn a_denied_subject_names_the_statement_condition_and_value() {
    let f = fixture();
    let doc = policy("system:serviceaccount:default:app");
    let decision = f.decide(
        &f.token("intruder", "sts.amazonaws.com", NOW),
        Some(&doc),
        3600,
    );
    assert_eq!(denial(&decision), &Denial::access_denied());
    assert_eq!(denial(&decision).message, NOT_AUTHORIZED);
    let Explanation::TrustPolicy(evaluation) = &decision.explanation else {
        panic!("{:?}", decision.explanation);
    };
    let statement = &evaluation.statements[0];
    assert_eq!(statement.sid.as_deref(), Some("App"));
    let StatementResult::ConditionFailed {
        key,
        request_values,
        ..
    } = &statement.result
    else {
        panic!("{statement:?}");
    };
    assert_eq!(key, &format!("{URL}:sub"));
    assert_eq!(
        request_values.as_deref(),
        Some(&["system:serviceaccount:default:intruder".to_owned()][..])
    );
    assert!(decision.explanation.to_string().contains("intruder"));
}

#[test]
fn a_missing_role_is_the_same_access_denied() {
    let f = fixture();
    let decision = f.decide(&f.token("app", "sts.amazonaws.com", NOW), None, 3600);
    assert_eq!(denial(&decision), &Denial::access_denied());
    assert_eq!(decision.explanation, Explanation::NoRole);
}

#[test]
fn no_provider_for_the_issuer() {
    let mut f = fixture();
    f.providers[0].url = format!("{URL}/");
    let doc = policy("system:serviceaccount:default:app");
    let decision = f.decide(&f.token("app", "sts.amazonaws.com", NOW), Some(&doc), 3600);
    let d = denial(&decision);
    assert_eq!((d.status, d.code), (400, "InvalidIdentityToken"));
    assert_eq!(
        d.message,
        format!("No OpenIDConnect provider found in your account for {ISSUER}")
    );
    assert!(matches!(
        decision.explanation,
        Explanation::NoProvider { .. }
    ));
}

#[test]
fn token_failures_use_the_verifiers_codes() {
    let f = fixture();
    let doc = policy("system:serviceaccount:default:app");
    let wrong_aud = f.decide(&f.token("app", "other", NOW), Some(&doc), 3600);
    assert_eq!(denial(&wrong_aud).message, "Incorrect token audience");
    let expired = f.decide(
        &f.token("app", "sts.amazonaws.com", NOW - 3600 - 301),
        Some(&doc),
        3600,
    );
    assert_eq!(denial(&expired).code, "ExpiredTokenException");
    let garbage = f.decide("not-a-token", Some(&doc), 3600);
    assert_eq!(denial(&garbage).code, "InvalidIdentityToken");
    assert!(matches!(garbage.explanation, Explanation::Token(_)));
}

#[test]
fn keys_duration_and_unparseable_policies() {
    let f = fixture();
    let doc = policy("system:serviceaccount:default:app");
    let token = f.token("app", "sts.amazonaws.com", NOW);
    let unavailable = Denial::idp_communication(ISSUER);
    let decision = decide(
        &Request {
            role_arn: &f.role_arn,
            role: None,
            providers: &f.providers,
            token: &token,
            session_name: "s",
            duration_seconds: 3600,
            now: NOW,
        },
        IssuerKeys::Unavailable(&unavailable),
    );
    assert_eq!(denial(&decision), &unavailable);
    let empty = JwkSet { keys: vec![] };
    let decision = decide(
        &Request {
            role_arn: &f.role_arn,
            role: None,
            providers: &f.providers,
            token: &token,
            session_name: "s",
            duration_seconds: 3600,
            now: NOW,
        },
        IssuerKeys::Jwks(&empty),
    );
    assert_eq!(denial(&decision).message, NO_KEY);

    let long = f.decide(&token, Some(&doc), 3601);
    assert_eq!(denial(&long).code, "ValidationError");
    assert_eq!(
        long.explanation,
        Explanation::DurationOverMaximum {
            requested: 3601,
            maximum: 3600
        }
    );
    let broken = f.decide(&token, Some("{not json"), 3600);
    assert_eq!(denial(&broken), &Denial::access_denied());
    assert!(matches!(
        broken.explanation,
        Explanation::UnparseableTrustPolicy(_)
    ));
}

#[test]
fn a_parsed_policy_decides_like_its_document() {
    let f = fixture();
    let doc = policy("system:serviceaccount:default:app");
    let parsed = Policy::parse_trust_policy(&doc).unwrap();
    for sa in ["app", "intruder"] {
        let token = f.token(sa, "sts.amazonaws.com", NOW);
        let from_parsed = decide(
            &Request {
                role_arn: &f.role_arn,
                role: Some(RoleFacts {
                    trust_policy: TrustPolicy::Parsed(&parsed),
                    max_session_duration: 3600,
                }),
                providers: &f.providers,
                token: &token,
                session_name: "s",
                duration_seconds: 3600,
                now: NOW,
            },
            IssuerKeys::PublicKeys(std::slice::from_ref(f.signer.public_key())),
        );
        assert_eq!(from_parsed, f.decide(&token, Some(&doc), 3600), "{sa}");
    }
}

#[test]
fn amr_azp_and_session_name_are_condition_keys() {
    let f = fixture();
    let verified = irsa_jose::VerifiedToken {
        algorithm: irsa_jose::Algorithm::RS256,
        kid: None,
        header: serde_json::Map::new(),
        claims: serde_json::json!({"amr": ["authenticated", "mfa"], "azp": "client"})
            .as_object()
            .unwrap()
            .clone(),
        issuer: ISSUER.into(),
        subject: "system:serviceaccount:default:app".into(),
        audiences: vec!["sts.amazonaws.com".into()],
        matched_audience: "sts.amazonaws.com".into(),
        expires_at: NOW + 60,
        not_before: None,
        issued_at: None,
    };
    let ctx = request_context(&f.providers[0], &verified, "sess", NOW);
    assert_eq!(
        ctx.values(&format!("{URL}:AMR")).unwrap(),
        ["authenticated".to_owned(), "mfa".to_owned()]
    );
    assert_eq!(
        ctx.values(&format!("{URL}:azp")).unwrap(),
        ["client".to_owned()]
    );
    assert_eq!(
        ctx.values("sts:RoleSessionName").unwrap(),
        ["sess".to_owned()]
    );
    assert_eq!(
        ctx.values("aws:FederatedProvider").unwrap(),
        [PROVIDER_ARN.to_owned()]
    );
    assert_eq!(
        ctx.values("aws:CurrentTime").unwrap(),
        ["2025-11-28T21:36:29Z".to_owned()]
    );
}
