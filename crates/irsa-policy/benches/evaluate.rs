//! Trust-policy evaluation cost: the canonical IRSA policy is parsed once (when a role is stored)
//! and evaluated on every AssumeRoleWithWebIdentity, so evaluation is the number that matters.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use irsa_policy::{Policy, RequestContext};

const CANONICAL: &str = include_str!("../tests/fixtures/canonical-irsa.json");
const NAMESPACE_WITH_DENY: &str =
    include_str!("../tests/fixtures/namespace-wildcard-with-deny.json");
const EKS_ARN: &str =
    "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/624A";
const EKS_URL: &str = "oidc.eks.us-west-2.amazonaws.com/id/624A";
const C1_ARN: &str = "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/c1";

fn bench(c: &mut Criterion) {
    let Ok(canonical) = Policy::parse_trust_policy(CANONICAL) else {
        return;
    };
    let Ok(with_deny) = Policy::parse_trust_policy(NAMESPACE_WITH_DENY) else {
        return;
    };
    let allow = RequestContext::web_identity(
        EKS_ARN,
        EKS_URL,
        "system:serviceaccount:default:my-sa",
        "sts.amazonaws.com",
    );
    let deny = RequestContext::web_identity(
        EKS_ARN,
        EKS_URL,
        "system:serviceaccount:default:other",
        "sts.amazonaws.com",
    );
    let team = RequestContext::web_identity(
        C1_ARN,
        "issuer.example.com/c1",
        "system:serviceaccount:team-a:web",
        "sts.amazonaws.com",
    );
    c.bench_function("evaluate canonical (allow)", |b| {
        b.iter(|| black_box(&canonical).evaluate(black_box(&allow)))
    });
    c.bench_function("evaluate canonical (implicit deny)", |b| {
        b.iter(|| black_box(&canonical).evaluate(black_box(&deny)))
    });
    c.bench_function("evaluate StringLike + Deny statement (allow)", |b| {
        b.iter(|| black_box(&with_deny).evaluate(black_box(&team)))
    });
    c.bench_function("evaluate_explained canonical (implicit deny)", |b| {
        b.iter(|| black_box(&canonical).evaluate_explained(black_box(&deny)))
    });
    c.bench_function("parse canonical", |b| {
        b.iter(|| Policy::parse_trust_policy(black_box(CANONICAL)))
    });
    c.bench_function("build web-identity context", |b| {
        b.iter(|| {
            RequestContext::web_identity(
                black_box(EKS_ARN),
                black_box(EKS_URL),
                black_box("system:serviceaccount:default:my-sa"),
                black_box("sts.amazonaws.com"),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
