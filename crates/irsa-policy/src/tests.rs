//! Whole-policy tests: grammar errors as IAM reports them, and decisions for the trust policies
//! IRSA uses (fixtures under `tests/fixtures/`), including the policy-engine rows of the
//! conformance matrix (sts-behaviour.md §9, row 8).

use super::*;
use proptest::prelude::*;

const CANONICAL: &str = include_str!("../tests/fixtures/canonical-irsa.json");
const GIANTSWARM: &str = include_str!("../tests/fixtures/giantswarm-s3-issuer.json");
const NAMESPACE_WITH_DENY: &str =
    include_str!("../tests/fixtures/namespace-wildcard-with-deny.json");

const EKS_URL: &str = "oidc.eks.us-west-2.amazonaws.com/id/624A";
const EKS_ARN: &str =
    "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/624A";
const C1_URL: &str = "issuer.example.com/c1";
const C1_ARN: &str = "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/c1";

fn parse(doc: &str) -> Policy {
    match Policy::parse_trust_policy(doc) {
        Ok(p) => p,
        Err(e) => panic!("policy should parse: {e}\n{doc}"),
    }
}

fn parse_err(doc: &str) -> PolicyError {
    match Policy::parse_trust_policy(doc) {
        Ok(p) => panic!("policy should be rejected: {p:?}\n{doc}"),
        Err(e) => e,
    }
}

/// A one-statement trust policy around `extra` statement fields.
fn trust(extra: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{C1_ARN}"}},"Action":"sts:AssumeRoleWithWebIdentity"{extra}}}]}}"#
    )
}

fn c1(sub: &str) -> RequestContext {
    RequestContext::web_identity(C1_ARN, C1_URL, sub, "sts.amazonaws.com")
}

// ---------------------------------------------------------------- decisions

#[test]
fn canonical_irsa_policy_allows_its_service_account_only() {
    let policy = parse(CANONICAL);
    let ok = RequestContext::web_identity(
        EKS_ARN,
        &format!("https://{EKS_URL}"),
        "system:serviceaccount:default:my-sa",
        "sts.amazonaws.com",
    );
    assert_eq!(policy.evaluate(&ok), Decision::Allow);

    let wrong_sa = RequestContext::web_identity(
        EKS_ARN,
        EKS_URL,
        "system:serviceaccount:default:other",
        "sts.amazonaws.com",
    );
    assert_eq!(policy.evaluate(&wrong_sa), Decision::ImplicitDeny);

    let wrong_aud = RequestContext::web_identity(
        EKS_ARN,
        EKS_URL,
        "system:serviceaccount:default:my-sa",
        "other",
    );
    assert_eq!(policy.evaluate(&wrong_aud), Decision::ImplicitDeny);

    let wrong_provider = RequestContext::web_identity(
        "arn:aws:iam::111122223333:oidc-provider/evil.example.com",
        EKS_URL,
        "system:serviceaccount:default:my-sa",
        "sts.amazonaws.com",
    );
    assert_eq!(policy.evaluate(&wrong_provider), Decision::ImplicitDeny);

    let wrong_action = RequestContext::new("sts:AssumeRole")
        .with_principal(PrincipalType::Federated, EKS_ARN)
        .with_value(
            format!("{EKS_URL}:sub"),
            "system:serviceaccount:default:my-sa",
        )
        .with_value(format!("{EKS_URL}:aud"), "sts.amazonaws.com");
    assert_eq!(policy.evaluate(&wrong_action), Decision::ImplicitDeny);
}

#[test]
fn guide_policy_with_s3_issuer() {
    let policy = parse(GIANTSWARM);
    let arn = "arn:aws:iam::000000000000:oidc-provider/s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity";
    let url = "s3.eu-west-1.amazonaws.com/000000000000-g8s-demo-oidc-pod-identity";
    let ok = RequestContext::web_identity(
        arn,
        url,
        "system:serviceaccount:default:demo-app",
        "sts.amazonaws.com",
    );
    assert!(policy.evaluate(&ok).is_allowed());
    let no = RequestContext::web_identity(
        arn,
        url,
        "system:serviceaccount:default:demo-app2",
        "sts.amazonaws.com",
    );
    assert!(!policy.evaluate(&no).is_allowed());
}

#[test]
fn string_like_namespace_wildcard_and_explicit_deny() {
    let policy = parse(NAMESPACE_WITH_DENY);
    assert_eq!(
        policy.evaluate(&c1("system:serviceaccount:team-a:web")),
        Decision::Allow
    );
    assert_eq!(
        policy.evaluate(&c1("system:serviceaccount:team-b:web")),
        Decision::ImplicitDeny
    );
    // Matrix row 8: explicit Deny wins over a matching Allow.
    assert_eq!(
        policy.evaluate(&c1("system:serviceaccount:team-a:debug")),
        Decision::ExplicitDeny
    );
    let why = policy.evaluate_explained(&c1("system:serviceaccount:team-a:debug"));
    assert_eq!(why.decision, Decision::ExplicitDeny);
    assert_eq!(
        why.applied(Effect::Deny)
            .map(|s| s.index)
            .collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(why.to_string(), "explicitly denied by Statement[1]");
}

#[test]
fn deny_order_does_not_matter() {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}},
          {{"Effect":"Allow","Principal":{{"Federated":"{C1_ARN}"}},"Action":"sts:*"}}]}}"#
    );
    assert_eq!(parse(&doc).evaluate(&c1("x")), Decision::ExplicitDeny);
}

#[test]
fn not_action_inverts() {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{C1_ARN}"}},"NotAction":"sts:AssumeRoleWithSAML"}}]}}"#
    );
    let p = parse(&doc);
    assert_eq!(p.evaluate(&c1("x")), Decision::Allow);
    let saml = RequestContext::new("sts:AssumeRoleWithSAML")
        .with_principal(PrincipalType::Federated, C1_ARN);
    assert_eq!(p.evaluate(&saml), Decision::ImplicitDeny);
    let why = p.evaluate_explained(&saml);
    assert_eq!(
        why.statements[0].result,
        StatementResult::ActionNotMatched {
            action: "sts:AssumeRoleWithSAML".into()
        }
    );
}

#[test]
fn action_matching_is_case_insensitive_with_wildcards() {
    for action in [
        "STS:assumerolewithwebidentity",
        "sts:AssumeRole*",
        "sts:*",
        "*",
        "sts:AssumeRoleWith?ebIdentity",
    ] {
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"Federated":"{C1_ARN}"}},"Action":"{action}"}}}}"#
        );
        assert_eq!(parse(&doc).evaluate(&c1("x")), Decision::Allow, "{action}");
    }
    let doc = format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":{{"Federated":"{C1_ARN}"}},"Action":"sts:AssumeRole"}}}}"#
    );
    assert_eq!(
        parse(&doc).evaluate(&c1("x")),
        Decision::ImplicitDeny,
        "AssumeRole is not AssumeRoleWithWebIdentity"
    );
}

#[test]
fn condition_key_names_are_case_insensitive() {
    let doc = trust(
        r#","Condition":{"StringEquals":{"ISSUER.EXAMPLE.COM/c1:SUB":"system:serviceaccount:a:b"}}"#,
    );
    let p = parse(&doc);
    assert_eq!(
        p.evaluate(&c1("system:serviceaccount:a:b")),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate(&c1("SYSTEM:serviceaccount:a:b")),
        Decision::ImplicitDeny,
        "values stay case-sensitive"
    );
}

#[test]
fn principal_matching() {
    let star = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}}"#;
    assert_eq!(parse(star).evaluate(&c1("x")), Decision::Allow);
    let aws_star = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRoleWithWebIdentity"}}"#;
    assert_eq!(
        parse(aws_star).evaluate(&c1("x")),
        Decision::ImplicitDeny,
        "AWS:* does not cover a federated caller"
    );
    let list = format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":{{"Federated":["arn:aws:iam::1:oidc-provider/other","{C1_ARN}"],"AWS":"123456789012"}},"Action":"sts:AssumeRoleWithWebIdentity"}}}}"#
    );
    assert_eq!(parse(&list).evaluate(&c1("x")), Decision::Allow);
    let case = format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":{{"Federated":"{}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}}}"#,
        C1_ARN.to_uppercase()
    );
    assert_eq!(
        parse(&case).evaluate(&c1("x")),
        Decision::ImplicitDeny,
        "provider ARNs compare exactly"
    );
}

#[test]
fn not_principal_parses_generically_and_excludes() {
    let doc = format!(
        r#"{{"Statement":{{"Effect":"Deny","NotPrincipal":{{"Federated":"{C1_ARN}"}},"Action":"sts:*"}}}}"#
    );
    let p = match Policy::parse(&doc) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(p.evaluate(&c1("x")), Decision::ImplicitDeny);
    let other = RequestContext::new("sts:AssumeRoleWithWebIdentity")
        .with_principal(PrincipalType::Federated, "arn:aws:iam::1:oidc-provider/x");
    assert_eq!(p.evaluate(&other), Decision::ExplicitDeny);
}

#[test]
fn matrix_row_8_missing_key_semantics() {
    // StringNotEquals on a missing key is true.
    let p = parse(&trust(
        r#","Condition":{"StringNotEquals":{"issuer.example.com/c1:email":"evil@example.com"}}"#,
    ));
    assert_eq!(p.evaluate(&c1("x")), Decision::Allow);
    // ForAllValues on an absent key is true.
    let p = parse(&trust(
        r#","Condition":{"ForAllValues:StringEquals":{"issuer.example.com/c1:amr":"authenticated"}}"#,
    ));
    assert_eq!(p.evaluate(&c1("x")), Decision::Allow);
    // ForAnyValue on an absent key is false, present and matching is true.
    let p = parse(&trust(
        r#","Condition":{"ForAnyValue:StringEquals":{"issuer.example.com/c1:amr":"authenticated"}}"#,
    ));
    assert_eq!(p.evaluate(&c1("x")), Decision::ImplicitDeny);
    let amr = c1("x").with_values(
        "issuer.example.com/c1:amr",
        ["unauthenticated", "authenticated"],
    );
    assert_eq!(p.evaluate(&amr), Decision::Allow);
}

#[test]
fn policy_variables_only_under_2012_version() {
    let cond = r#""Condition":{"StringEquals":{"issuer.example.com/c1:sub":"system:serviceaccount:default:${sts:RoleSessionName}"}}"#;
    let v2012 = trust(&format!(",{cond}"));
    let ctx = c1("system:serviceaccount:default:app").with_value("sts:RoleSessionName", "app");
    assert_eq!(parse(&v2012).evaluate(&ctx), Decision::Allow);
    assert_eq!(
        parse(&v2012).evaluate(&c1("system:serviceaccount:default:app")),
        Decision::ImplicitDeny,
        "unresolved variable"
    );
    let v2008 = v2012.replace("2012-10-17", "2008-10-17");
    assert_eq!(parse(&v2008).version(), Version::V2008_10_17);
    assert_eq!(parse(&v2008).evaluate(&ctx), Decision::ImplicitDeny);
    let literal = c1("system:serviceaccount:default:${sts:RoleSessionName}");
    assert_eq!(parse(&v2008).evaluate(&literal), Decision::Allow);
    let no_version = v2012.replace(r#""Version":"2012-10-17","#, "");
    let p = parse(&no_version);
    assert!(!p.has_explicit_version());
    assert_eq!(p.evaluate(&literal), Decision::Allow);
}

#[test]
fn explanation_names_statement_operator_key_and_values() {
    let p = parse(CANONICAL);
    let ctx = RequestContext::web_identity(
        EKS_ARN,
        EKS_URL,
        "system:serviceaccount:default:nope",
        "sts.amazonaws.com",
    );
    let why = p.evaluate_explained(&ctx);
    assert_eq!(why.decision, Decision::ImplicitDeny);
    assert_eq!(
        why.statements[0].result,
        StatementResult::ConditionFailed {
            operator: "StringEquals".into(),
            key: format!("{EKS_URL}:sub"),
            policy_values: vec!["system:serviceaccount:default:my-sa".into()],
            request_values: Some(vec!["system:serviceaccount:default:nope".into()]),
            reason: FailureReason::NoValueMatched {
                request_value: "system:serviceaccount:default:nope".into()
            },
        }
    );
    let text = why.to_string();
    assert!(text.starts_with("implicitly denied"), "{text}");
    assert!(text.contains(":sub"), "{text}");
    assert!(
        text.contains("system:serviceaccount:default:nope"),
        "{text}"
    );

    let p = parse(&trust(
        r#","Condition":{"StringEquals":{"issuer.example.com/c1:email":"a@b"}}"#,
    ));
    let why = p.evaluate_explained(&c1("x"));
    match &why.statements[0].result {
        StatementResult::ConditionFailed {
            reason,
            request_values,
            ..
        } => {
            assert_eq!(reason, &FailureReason::KeyMissing);
            assert_eq!(request_values, &None);
        }
        other => panic!("unexpected {other:?}"),
    }
    let wrong_principal = RequestContext::new("sts:AssumeRoleWithWebIdentity");
    let why = p.evaluate_explained(&wrong_principal);
    assert_eq!(
        why.statements[0].result,
        StatementResult::PrincipalNotMatched {
            caller: "(none)".into()
        }
    );
}

#[test]
fn explained_and_fast_paths_agree_on_fixtures() {
    for doc in [CANONICAL, GIANTSWARM, NAMESPACE_WITH_DENY] {
        let p = parse(doc);
        for sub in [
            "system:serviceaccount:default:my-sa",
            "system:serviceaccount:team-a:debug",
            "system:serviceaccount:team-a:x",
            "x",
        ] {
            for (arn, url) in [(EKS_ARN, EKS_URL), (C1_ARN, C1_URL)] {
                let ctx = RequestContext::web_identity(arn, url, sub, "sts.amazonaws.com");
                assert_eq!(p.evaluate(&ctx), p.evaluate_explained(&ctx).decision);
            }
        }
    }
}

#[test]
fn resource_is_evaluated_for_generic_policies() {
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}}"#;
    let p = match Policy::parse(doc) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let ctx = RequestContext::new("s3:GetObject");
    assert_eq!(
        p.evaluate(&ctx.clone().with_resource("arn:aws:s3:::bucket/k")),
        Decision::Allow
    );
    assert_eq!(
        p.evaluate(&ctx.with_resource("arn:aws:s3:::other/k")),
        Decision::ImplicitDeny
    );
}

// ---------------------------------------------------------------- validation

#[test]
fn duplicate_keys_are_invalid_json_at_every_depth() {
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/example.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"example.com:sub":"system:serviceaccount:a:b"}}}]}"#;
    Policy::parse_trust_policy(allow).expect("the base document is valid");
    for (from, to) in [
        (r#""Effect":"Allow""#, r#""Effect":"Deny","Effect":"Allow""#),
        (r#"{"Version""#, r#"{"Version":"2012-10-17","Version""#),
        (r#""Federated""#, r#""Federated":"x","Federated""#),
        (r#""StringEquals""#, r#""StringEquals":{},"StringEquals""#),
        (
            r#""example.com:sub""#,
            r#""example.com:sub":"x","example.com:sub""#,
        ),
    ] {
        let doc = allow.replacen(from, to, 1);
        assert_ne!(doc, allow);
        let e = parse_err(&doc);
        assert!(matches!(e, PolicyError::InvalidJson { .. }), "{doc}: {e:?}");
        assert!(e.to_string().contains("duplicate key"), "{e}");
        assert!(Policy::parse_trust_policy(&doc).is_err(), "{doc}");
    }
}

#[test]
fn invalid_json() {
    let e = parse_err("{\"Version\": ");
    assert!(matches!(e, PolicyError::InvalidJson { .. }));
    assert_eq!(e.aws_message(), "This policy contains invalid Json");
    assert!(matches!(parse_err("[]"), PolicyError::Syntax { .. }));
}

fn assert_syntax(doc: &str, path: &str) {
    match parse_err(doc) {
        PolicyError::Syntax { path: p, .. } => assert_eq!(p, path, "{doc}"),
        other => panic!("expected a syntax error at {path}, got {other:?} for {doc}"),
    }
}

#[test]
fn grammar_errors_name_the_field() {
    assert_syntax(r#"{"Statement":[],"Version":"2012-10-17"}"#, "Statement");
    assert_syntax(r#"{"Version":"2012-10-17"}"#, "Statement");
    assert_syntax(r#"{"Version":"2013-01-01","Statement":[]}"#, "Version");
    assert_syntax(r#"{"Version":"2012-10-17","Statment":[]}"#, "Statment");
    assert_syntax(r#"{"Id":5,"Statement":[]}"#, "Id");
    assert_syntax(r#"{"Statement":"x"}"#, "Statement");
    assert_syntax(r#"{"Statement":["x"]}"#, "Statement[0]");
    assert_syntax(&trust(r#","Resources":"*""#), "Statement[0].Resources");
    assert_syntax(
        r#"{"Statement":{"Principal":"*","Action":"sts:AssumeRole"}}"#,
        "Statement.Effect",
    );
    assert_syntax(
        r#"{"Statement":{"Effect":"Permit","Principal":"*","Action":"sts:AssumeRole"}}"#,
        "Statement.Effect",
    );
    assert_syntax(&trust(r#","NotAction":"sts:AssumeRole""#), "Statement[0]");
    assert_syntax(
        &trust(r#","Condition":{"StringEqualz":{"a:b":"c"}}"#),
        "Statement[0].Condition.StringEqualz",
    );
    assert_syntax(&trust(r#","Condition":[]"#), "Statement[0].Condition");
    assert_syntax(&trust(r#","Sid":7"#), "Statement[0].Sid");
    assert_syntax(
        r#"{"Statement":{"Effect":"Allow","Principal":{"Federated":"x"},"Action":["sts:AssumeRole",5]}}"#,
        "Statement.Action[1]",
    );
    assert_syntax(
        r#"{"Statement":{"Effect":"Allow","Principal":{"Fed":"x"},"Action":"sts:AssumeRole"}}"#,
        "Statement.Principal.Fed",
    );
    assert_syntax(
        r#"{"Statement":{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"sts:AssumeRole"}}"#,
        "Statement.Principal",
    );
    assert_eq!(
        parse_err(r#"{"Statement":[]}"#).aws_message(),
        "Syntax errors in policy."
    );
}

#[test]
fn legacy_effect_case() {
    let e =
        parse_err(r#"{"Statement":{"Effect":"allow","Principal":"*","Action":"sts:AssumeRole"}}"#);
    assert_eq!(
        e,
        PolicyError::EffectCase {
            path: "Statement.Effect".into(),
            value: "allow".into()
        }
    );
    assert_eq!(e.aws_message(), "The policy failed legacy parsing");
}

#[test]
fn sid_rules() {
    let doc = r#"{"Statement":[
        {"Sid":"A","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
        {"Sid":"A","Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}"#;
    let e = parse_err(doc);
    assert_eq!(
        e,
        PolicyError::DuplicateSid {
            sid: "A".into(),
            first: 0,
            second: 1
        }
    );
    assert_eq!(
        e.aws_message(),
        "Statement IDs (SID) in a single policy must be unique."
    );
    let empty_sids = doc.replace("\"A\"", "\"\"");
    assert!(
        Policy::parse_trust_policy(&empty_sids).is_ok(),
        "empty Sids may repeat"
    );
    assert!(matches!(
        parse_err(&trust(r#","Sid":"has-dash""#)),
        PolicyError::SidNotAlphanumeric { .. }
    ));
}

#[test]
fn action_rules() {
    let e = parse_err(r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#);
    assert_eq!(
        e,
        PolicyError::MissingActions {
            path: "Statement".into()
        }
    );
    assert_eq!(e.aws_message(), "Policy statement must contain actions.");
    assert!(matches!(
        parse_err(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":[]}}"#),
        PolicyError::MissingActions { .. }
    ));
    let e = parse_err(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"AssumeRole"}}"#);
    assert!(matches!(e, PolicyError::ActionWithoutVendor { .. }));
    assert_eq!(
        e.aws_message(),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
    let e = parse_err(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:a:b"}}"#);
    assert_eq!(
        e.aws_message(),
        "Actions/Condition can contain only one colon."
    );
    let e =
        parse_err(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"st s:AssumeRole"}}"#);
    assert_eq!(e.aws_message(), "Vendor st s is not valid");
    let e =
        parse_err(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#);
    assert_eq!(
        e,
        PolicyError::TrustPolicyAction {
            path: "Statement.Action[0]".into(),
            action: "s3:GetObject".into()
        }
    );
    assert!(
        e.aws_message()
            .starts_with("Trust Policy statement actions can only be sts:AssumeRole")
    );
    assert!(
        Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}}"#
        )
        .is_ok(),
        "fine outside trust policies"
    );
}

#[test]
fn trust_policy_rules() {
    let e = parse_err(&trust(r#","Resource":"*""#));
    assert_eq!(
        e,
        PolicyError::ProhibitedField {
            path: "Statement[0]".into(),
            field: "Resource"
        }
    );
    assert_eq!(e.aws_message(), "Has prohibited field Resource");
    let e = parse_err(&trust(r#","NotResource":"*""#));
    assert_eq!(e.aws_message(), "Has prohibited field NotResource");
    let e = parse_err(r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#);
    assert_eq!(
        e,
        PolicyError::MissingPrincipal {
            path: "Statement".into()
        }
    );
    assert!(
        e.aws_message()
            .contains("The passed in policy has a statement with no principals!")
    );
    let e =
        parse_err(r#"{"Statement":{"Effect":"Allow","Principal":{},"Action":"sts:AssumeRole"}}"#);
    assert!(matches!(e, PolicyError::MissingPrincipal { .. }));
    let e = parse_err(
        r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}"#,
    );
    assert_eq!(e.aws_message(), "Has prohibited field NotPrincipal");
    let e = parse_err(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}"#,
    );
    assert_eq!(
        e.aws_message(),
        "Invalid principal in policy: \"AWS\":\"bob\""
    );
    assert!(e.to_string().contains("Statement.Principal.AWS[0]"));
    assert!(matches!(
        parse_err(
            r#"{"Statement":{"Effect":"Allow","Principal":{"Federated":""},"Action":"sts:AssumeRole"}}"#
        ),
        PolicyError::InvalidPrincipal { .. }
    ));
    // Resource is fine in the generic grammar.
    assert!(Policy::parse(&trust(r#","Resource":"*""#)).is_ok());
}

#[test]
fn accepted_shapes() {
    // Statement as an object, Action as a list, Condition values as bool/number/list, Id.
    let doc = format!(
        r#"{{"Version":"2008-10-17","Id":"x","Statement":{{"Sid":"S1","Effect":"Allow",
        "Principal":{{"Federated":["{C1_ARN}"],"Service":"ec2.amazonaws.com","AWS":["*","123456789012","arn:aws:iam::123456789012:root"]}},
        "Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],
        "Condition":{{"Bool":{{"aws:SecureTransport":true}},"NumericLessThan":{{"k:n":[1,2.5]}},"Null":{{"k:x":"true"}}}}}}}}"#
    );
    let p = parse(&doc);
    assert_eq!(p.id(), Some("x"));
    assert_eq!(p.statements().len(), 1);
    assert_eq!(p.statements()[0].sid(), Some("S1"));
    assert_eq!(p.statements()[0].conditions().len(), 3);
}

#[test]
fn size_quota_ignores_whitespace() {
    assert_eq!(non_whitespace_len(" { \"a\" :\n\t1 } "), 7);
    let padded = format!("{}{}", CANONICAL, " ".repeat(5000));
    assert!(validate_trust_policy(&padded, DEFAULT_TRUST_POLICY_QUOTA).is_ok());
    let long_sid = trust(&format!(r#","Sid":"{}""#, "a".repeat(2048)));
    let e = match validate_trust_policy(&long_sid, DEFAULT_TRUST_POLICY_QUOTA) {
        Err(e) => e,
        Ok(_) => panic!("should be over quota"),
    };
    assert_eq!(e.aws_code(), "LimitExceeded");
    assert_eq!(
        e.aws_message(),
        "Cannot exceed quota for ACLSizePerRole: 2048"
    );
    assert!(
        matches!(e, PolicyError::TooLarge { len, quota: 2048 } if len == non_whitespace_len(&long_sid))
    );
    assert!(validate_trust_policy(&long_sid, 4096).is_ok());
}

// ---------------------------------------------------------------- properties

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("Allow".to_owned()),
            Just("Deny".to_owned()),
            Just("*".to_owned()),
            Just("sts:AssumeRoleWithWebIdentity".to_owned()),
            Just("${a:b}".to_owned()),
            ".{0,8}"
        ]
        .prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("Version".to_owned()),
        Just("Statement".to_owned()),
        Just("Effect".to_owned()),
        Just("Principal".to_owned()),
        Just("Federated".to_owned()),
        Just("Action".to_owned()),
        Just("NotAction".to_owned()),
        Just("Condition".to_owned()),
        Just("StringLike".to_owned()),
        Just("ForAllValues:StringEquals".to_owned()),
        Just("Null".to_owned()),
        "[a-z:]{1,6}",
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Structurally valid trust policies with random operators, qualifiers, keys and values, so the
/// evaluator (not just the parser) sees odd inputs.
fn valid_policy() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        Just("StringEquals"),
        Just("StringNotEquals"),
        Just("StringEqualsIgnoreCase"),
        Just("StringNotEqualsIgnoreCase"),
        Just("StringLike"),
        Just("StringNotLike"),
        Just("NumericLessThan"),
        Just("DateGreaterThan"),
        Just("Bool"),
        Just("IpAddress"),
        Just("ArnLike"),
        Just("ArnNotEquals"),
        Just("BinaryEquals"),
        Just("Null"),
    ];
    let qualifier = prop_oneof![Just(""), Just("ForAnyValue:"), Just("ForAllValues:")];
    let if_exists = any::<bool>();
    let key = prop_oneof![
        Just("issuer.example.com/c1:sub"),
        Just("issuer.example.com/c1:amr"),
        Just("a:b"),
        Just("k:missing")
    ];
    let value = prop_oneof![
        Just("x".to_owned()),
        Just("${a:b}".to_owned()),
        Just("${*}".to_owned()),
        "[a-z*?:${}]{0,8}"
    ];
    let condition = (
        qualifier,
        op,
        if_exists,
        key,
        prop::collection::vec(value, 1..3),
    )
        .prop_map(|(q, op, ie, key, values)| {
            let suffix = if ie && op != "Null" { "IfExists" } else { "" };
            format!(
                r#""{q}{op}{suffix}":{{"{key}":{}}}"#,
                serde_json::Value::from(values)
            )
        });
    let statement = (any::<bool>(), prop::collection::vec(condition, 0..3), any::<bool>()).prop_map(
        move |(deny, conds, star)| {
            let effect = if deny { "Deny" } else { "Allow" };
            let principal = if star { r#""*""#.to_owned() } else { format!(r#"{{"Federated":"{C1_ARN}"}}"#) };
            // Duplicate operator names in one block would be merged by JSON; keep the first.
            let mut seen = std::collections::BTreeSet::new();
            let conds: Vec<String> = conds
                .into_iter()
                .filter(|c| seen.insert(c.split("\":{").next().unwrap_or_default().to_owned()))
                .collect();
            format!(
                r#"{{"Effect":"{effect}","Principal":{principal},"Action":"sts:AssumeRole*","Condition":{{{}}}}}"#,
                conds.join(",")
            )
        },
    );
    prop::collection::vec(statement, 1..4).prop_map(|sts| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            sts.join(",")
        )
    })
}

proptest! {
    #[test]
    fn parser_never_panics_on_strings(s in any::<String>()) {
        let result = Policy::parse_trust_policy(&s);
        // Arbitrary text is essentially never a policy; when it is rejected the error has a message.
        if let Err(e) = result {
            prop_assert!(!e.aws_message().is_empty());
        }
    }

    #[test]
    fn parser_and_evaluator_never_panic_on_json(v in json_value(), sub in ".{0,12}") {
        let doc = v.to_string();
        if let Ok(p) = Policy::parse(&doc) {
            let ctx = c1(&sub).with_values("a:b", [sub.clone(), "x".into()]);
            prop_assert_eq!(p.evaluate(&ctx), p.evaluate_explained(&ctx).decision);
        }
    }

    #[test]
    fn evaluator_is_total_and_paths_agree_on_valid_policies(
        doc in valid_policy(),
        sub in "[a-z:${}*]{0,10}",
        amr in prop::collection::vec("[a-z]{0,3}", 0..3),
        ab in prop::option::of("[a-z*]{0,3}"),
    ) {
        let p = match Policy::parse_trust_policy(&doc) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("generated policy rejected: {e}\n{doc}"))),
        };
        let mut ctx = c1(&sub).with_values("issuer.example.com/c1:amr", amr);
        if let Some(ab) = ab {
            ctx = ctx.with_value("A:B", ab);
        }
        let explained = p.evaluate_explained(&ctx);
        prop_assert_eq!(p.evaluate(&ctx), explained.decision);
        prop_assert!(!explained.to_string().is_empty());
    }

    #[test]
    fn generated_string_equals_policy_allows_exactly_its_subject(
        ns in "[a-z0-9-]{1,12}",
        sa in "[a-z0-9-]{1,12}",
        other in "[a-z0-9:-]{1,30}",
    ) {
        let subject = format!("system:serviceaccount:{ns}:{sa}");
        let doc = trust(&format!(
            r#","Condition":{{"StringEquals":{{"{C1_URL}:sub":"{subject}","{C1_URL}:aud":"sts.amazonaws.com"}}}}"#
        ));
        let p = parse(&doc);
        prop_assert_eq!(p.evaluate(&c1(&subject)), Decision::Allow);
        prop_assert_eq!(p.evaluate(&c1(&other)).is_allowed(), other == subject);
    }

    #[test]
    fn generated_namespace_wildcard_allows_exactly_that_namespace(
        ns in "[a-z0-9-]{1,12}",
        other_ns in "[a-z0-9-]{1,12}",
        sa in "[a-z0-9-]{1,12}",
    ) {
        let doc = trust(&format!(
            r#","Condition":{{"StringLike":{{"{C1_URL}:sub":"system:serviceaccount:{ns}:*"}}}}"#
        ));
        let p = parse(&doc);
        let sub = format!("system:serviceaccount:{other_ns}:{sa}");
        prop_assert_eq!(p.evaluate(&c1(&sub)).is_allowed(), other_ns == ns);
    }
}
