use irsa_core::aws::Region;
use irsa_core::issuer::ClusterId;

use super::*;
use crate::provider::Extras;

const A: &str = "000000000000";
const B: &str = "222222222222";

fn account(a: &str) -> AccountId {
    AccountId::parse(a).unwrap()
}

fn cluster(name: &str, region: &str) -> ClusterIdentity {
    ClusterIdentity {
        account: account(A),
        issuer: ClusterIssuer::s3(
            &account(A),
            &Region::parse(region).unwrap(),
            &ClusterId::parse(name).unwrap(),
        ),
    }
}

fn sa_role(acct: &str, name: &str, c: &ClusterIdentity) -> RoleSpec {
    RoleSpec {
        account: account(acct),
        name: RoleName::parse(name).unwrap(),
        path: IamPath::root(),
        trust: Trust::ServiceAccounts {
            issuer: c.issuer.clone(),
            subjects: vec![SubjectPattern::new("default", name).unwrap()],
        },
        max_session_duration: 3600,
        description: None,
    }
}

fn names(plan: &Plan) -> Vec<&'static str> {
    plan.actions().map(Action::name).collect()
}

/// What a store holds after `desired` was applied.
fn converged(desired: &DesiredIdentities) -> ObservedIdentities {
    ObservedIdentities {
        providers: desired
            .providers
            .iter()
            .map(|p| {
                (
                    p.arn.clone(),
                    ObservedProvider {
                        client_ids: p.client_ids.clone(),
                        thumbprints: p.thumbprints.clone(),
                        tags: p.tags.clone(),
                    },
                )
            })
            .collect(),
        roles: desired
            .roles
            .iter()
            .map(|r| {
                (
                    r.arn.clone(),
                    ObservedRole {
                        arn: r.arn.clone(),
                        trust_policy: r.trust_policy.clone(),
                        max_session_duration: r.max_session_duration,
                        description: r.description.clone(),
                    },
                )
            })
            .collect(),
    }
}

#[test]
fn cross_account_roles_get_the_provider_in_their_account() {
    let alpha = cluster("alpha", "eu-west-1");
    let clusters = [alpha.clone()];
    let same = DesiredRole::new(sa_role(A, "app", &alpha), &clusters).unwrap();
    let cross = DesiredRole::new(sa_role(B, "cross", &alpha), &clusters).unwrap();
    assert_eq!(
        cross.arn.to_string(),
        "arn:aws:iam::222222222222:role/cross"
    );
    assert!(
        cross
            .trust_policy
            .contains("arn:aws:iam::222222222222:oidc-provider/s3.eu-west-1.amazonaws.com/"),
        "{}",
        cross.trust_policy
    );
    let desired = DesiredIdentities::new(&clusters, vec![same, cross]);
    let arns: Vec<String> = desired
        .providers
        .iter()
        .map(|p| p.arn.to_string())
        .collect();
    let host = "s3.eu-west-1.amazonaws.com/000000000000-g8s-alpha-oidc-pod-identity";
    // The cluster's own account once (its own role needs no second one), and B.
    assert_eq!(
        arns,
        vec![
            format!("arn:aws:iam::{A}:oidc-provider/{host}"),
            format!("arn:aws:iam::{B}:oidc-provider/{host}"),
        ]
    );
    let plan = plan_identities(&desired, &ObservedIdentities::default());
    assert_eq!(
        names(&plan),
        [
            "CreateOpenIDConnectProvider",
            "CreateOpenIDConnectProvider",
            "CreateRole",
            "CreateRole"
        ]
    );
    assert!(plan_identities(&desired, &converged(&desired)).is_converged());
}

#[test]
fn china_roles_and_providers_are_in_aws_cn() {
    let cn = cluster("cn", "cn-north-1");
    let role = DesiredRole::new(sa_role(A, "app", &cn), std::slice::from_ref(&cn)).unwrap();
    assert_eq!(
        role.arn.to_string(),
        "arn:aws-cn:iam::000000000000:role/app"
    );
    assert!(role.trust_policy.contains("sts.amazonaws.com.cn"));
    let desired = DesiredIdentities::new(&[cn], vec![role]);
    assert_eq!(desired.providers.len(), 1);
    assert_eq!(desired.providers[0].client_ids, ["sts.amazonaws.com.cn"]);
    assert!(
        desired.providers[0].arn.to_string().starts_with(
            "arn:aws-cn:iam::000000000000:oidc-provider/s3.cn-north-1.amazonaws.com.cn/"
        )
    );
}

#[test]
fn verbatim_documents_name_their_providers_and_partition() {
    let beta = ClusterIdentity {
        account: account(B),
        issuer: ClusterIssuer::from_url("https://oidc.example.com/beta", None).unwrap(),
    };
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":["arn:aws:iam::222222222222:oidc-provider/oidc.example.com/beta","not-an-arn"]},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    let spec = RoleSpec {
        account: account(B),
        name: RoleName::parse("verbatim").unwrap(),
        path: IamPath::parse("/team/").unwrap(),
        trust: Trust::Document(doc.into()),
        max_session_duration: 7200,
        description: Some("d".into()),
    };
    let role = DesiredRole::new(spec.clone(), std::slice::from_ref(&beta)).unwrap();
    assert_eq!(role.trust_policy, doc, "kept byte for byte");
    assert_eq!(
        role.arn.to_string(),
        "arn:aws:iam::222222222222:role/team/verbatim"
    );
    assert_eq!(role.trusted, vec![beta.issuer.provider_arn(&account(B))]);
    // A provider of no declared cluster is someone else's: not planned.
    let other = DesiredRole::new(spec.clone(), &[]).unwrap();
    assert!(other.trusted.is_empty());
    let cn_doc = doc.replace("arn:aws:", "arn:aws-cn:");
    let cn = DesiredRole::new(
        RoleSpec {
            trust: Trust::Document(cn_doc),
            ..spec
        },
        &[],
    )
    .unwrap();
    assert_eq!(cn.arn.partition(), Partition::AwsCn);
}

#[test]
fn local_providers_keep_what_others_added_and_get_the_audience_back() {
    let alpha = cluster("alpha", "eu-west-1");
    let desired = DesiredIdentities::new(std::slice::from_ref(&alpha), Vec::new());
    assert_eq!(desired.providers[0].extras, Extras::Keep);
    let mut observed = converged(&desired);
    let p = observed.providers.values_mut().next().unwrap();
    p.client_ids.push("added-through-iam".into());
    p.tags.push(crate::spec::Tag::new("team", "x"));
    assert!(plan_identities(&desired, &observed).is_converged());
    let p = observed.providers.values_mut().next().unwrap();
    p.client_ids.retain(|c| c != "sts.amazonaws.com");
    let plan = plan_identities(&desired, &observed);
    assert_eq!(
        plan.actions().cloned().collect::<Vec<_>>(),
        vec![Action::AddClientIdToOpenIdConnectProvider {
            arn: desired.providers[0].arn.to_string(),
            client_id: "sts.amazonaws.com".into(),
        }]
    );
}

#[test]
fn roles_are_updated_in_place_or_replaced_when_they_moved() {
    let alpha = cluster("alpha", "eu-west-1");
    let clusters = [alpha.clone()];
    let role = DesiredRole::new(sa_role(A, "app", &alpha), &clusters).unwrap();
    let desired = DesiredIdentities::new(&clusters, vec![role.clone()]);
    let base = converged(&desired);

    let mut o = base.clone();
    let r = o.roles.values_mut().next().unwrap();
    r.trust_policy = "{}".into();
    r.max_session_duration = 7200;
    let plan = plan_identities(&desired, &o);
    assert_eq!(names(&plan), ["UpdateAssumeRolePolicy", "UpdateRole"]);
    let step = plan.steps.last().unwrap();
    assert_eq!(step.step, Step::Role);
    assert_eq!(step.outcome, Outcome::Updated);

    let mut o = base.clone();
    o.roles.values_mut().next().unwrap().description = Some("old".into());
    assert_eq!(names(&plan_identities(&desired, &o)), ["UpdateRole"]);

    let mut o = base;
    let moved = RoleArn::new(
        Partition::Aws,
        account(A),
        IamPath::parse("/old/").unwrap(),
        RoleName::parse("app").unwrap(),
    );
    o.roles.values_mut().next().unwrap().arn = moved.clone();
    let plan = plan_identities(&desired, &o);
    assert_eq!(
        plan.actions().next(),
        Some(&Action::DeleteRole { arn: moved })
    );
    assert_eq!(names(&plan), ["DeleteRole", "CreateRole"]);
}
