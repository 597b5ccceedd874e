"""`irsa trust-policy`: the guide's "IAM role" and "IAM role cross account" policies, done right.

Each test runs the real binary and compares its stdout, parsed as JSON, with the policy the
guide documents (placeholders filled in) plus the `:aud` condition.
"""

import json

from conftest import run_irsa

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
GUIDE_ARGS = ["--account", ACCOUNT, "--region", "eu-west-1", "--cluster", "abc12",
              "--namespace", "default", "--service-account", "s3-access"]


def host_path(account=ACCOUNT, region="eu-west-1", cluster="abc12", suffix="amazonaws.com"):
    return f"s3.{region}.{suffix}/{account}-g8s-{cluster}-oidc-pod-identity"


def policy(*args):
    proc = run_irsa("trust-policy", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def guide_policy(account, region, cluster, namespace, sa):
    """The guide's "IAM role" trust policy with its placeholders replaced."""
    text = """{
"Version": "2012-10-17",
"Statement": [
{
"Effect": "Allow",
"Principal": {
"Federated": "arn:aws:iam::AWS_ACCOUNT:oidc-provider/s3.REGION.amazonaws.com/AWS_ACCOUNT-g8s-CLUSTER_ID-oidc-pod-identity"
},
"Action": "sts:AssumeRoleWithWebIdentity",
"Condition": {
"StringEquals": {
"s3.REGION.amazonaws.com/AWS_ACCOUNT-g8s-CLUSTER_ID-oidc-pod-identity:sub": "system:serviceaccount:NAMESPACE:SA_NAME"
}
}
}
]
}"""
    for placeholder, value in [("AWS_ACCOUNT", account), ("REGION", region),
                               ("CLUSTER_ID", cluster), ("NAMESPACE", namespace),
                               ("SA_NAME", sa)]:
        text = text.replace(placeholder, value)
    return json.loads(text)


def test_guide_example_equals_guide_policy_plus_audience():
    expected = guide_policy(ACCOUNT, "eu-west-1", "abc12", "default", "s3-access")
    expected["Statement"][0]["Condition"]["StringEquals"][f"{host_path()}:aud"] = "sts.amazonaws.com"
    proc = run_irsa("trust-policy", *GUIDE_ARGS)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
    # Pretty by default, keys in IAM's usual order.
    assert proc.stdout.count("\n") > 5
    assert proc.stdout.index('"Version"') < proc.stdout.index('"Statement"')


def test_compact_is_one_line_and_same_document():
    proc = run_irsa("trust-policy", *GUIDE_ARGS, "--compact")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().count("\n") == 0
    assert json.loads(proc.stdout) == policy(*GUIDE_ARGS)


def test_cross_account_uses_role_account_and_cluster_region():
    doc = policy("--account", ACCOUNT, "--region", "eu-central-1", "--cluster", "abc12",
                 "--namespace", "default", "--service-account", "s3-access",
                 "--role-account", OTHER_ACCOUNT)
    hp = host_path(region="eu-central-1")
    statement = doc["Statement"][0]
    # The provider lives in the role's account, but its URL is the cluster's issuer,
    # which carries the cluster's account and region (not the guide's ROLE_REGION).
    assert statement["Principal"]["Federated"] == f"arn:aws:iam::{OTHER_ACCOUNT}:oidc-provider/{hp}"
    assert statement["Condition"] == {"StringEquals": {
        f"{hp}:aud": "sts.amazonaws.com",
        f"{hp}:sub": "system:serviceaccount:default:s3-access",
    }}


def test_china_partition_and_dns_suffix():
    doc = policy("--account", ACCOUNT, "--region", "cn-north-1", "--cluster", "abc12",
                 "--namespace", "default", "--service-account", "s3-access")
    hp = host_path(region="cn-north-1", suffix="amazonaws.com.cn")
    statement = doc["Statement"][0]
    assert statement["Principal"]["Federated"] == f"arn:aws-cn:iam::{ACCOUNT}:oidc-provider/{hp}"
    assert set(statement["Condition"]["StringEquals"]) == {f"{hp}:aud", f"{hp}:sub"}
    # The one China audience, as irsa local's providers and tokens use it.
    assert statement["Condition"]["StringEquals"][f"{hp}:aud"] == "sts.amazonaws.com.cn"


def test_wildcards_use_string_like_for_sub_only():
    doc = policy("--account", ACCOUNT, "--region", "eu-west-1", "--cluster", "abc12",
                 "--namespace", "*", "--service-account", "app-*")
    hp = host_path()
    assert doc["Statement"][0]["Condition"] == {
        "StringEquals": {f"{hp}:aud": "sts.amazonaws.com"},
        "StringLike": {f"{hp}:sub": "system:serviceaccount:*:app-*"},
    }


def test_several_service_accounts_give_one_list():
    doc = policy("--account", ACCOUNT, "--region", "eu-west-1", "--cluster", "abc12",
                 "--namespace", "team", "--service-account", "a", "--service-account", "b",
                 "--service-account", "c")
    assert doc["Statement"][0]["Condition"]["StringEquals"][f"{host_path()}:sub"] == [
        "system:serviceaccount:team:a", "system:serviceaccount:team:b",
        "system:serviceaccount:team:c",
    ]


def test_explicit_issuer_and_audience():
    doc = policy("--account", ACCOUNT, "--issuer", "https://irsa.abc12.example.com",
                 "--namespace", "default", "--service-account", "s3-access",
                 "--audience", "my-audience")
    statement = doc["Statement"][0]
    assert statement["Principal"]["Federated"] == \
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/irsa.abc12.example.com"
    assert statement["Condition"]["StringEquals"] == {
        "irsa.abc12.example.com:aud": "my-audience",
        "irsa.abc12.example.com:sub": "system:serviceaccount:default:s3-access",
    }


def test_too_large_exits_1_with_size_and_hint():
    sas = []
    for i in range(80):
        sas += ["--service-account", f"service-account-{i}"]
    proc = run_irsa("trust-policy", "--account", ACCOUNT, "--region", "eu-west-1",
                    "--cluster", "abc12", "--namespace", "default", *sas)
    assert proc.returncode == 1
    assert proc.stdout == ""
    message = proc.stderr.strip()
    assert "\n" not in message
    assert "2048" in message and "wildcard" in message
    # The reported size is IAM's count (no whitespace) of the policy that would have been printed.
    hp = host_path()
    would_be = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{hp}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{hp}:aud": "sts.amazonaws.com",
                f"{hp}:sub": [f"system:serviceaccount:default:service-account-{i}"
                              for i in range(80)],
            }},
        }],
    }
    size = len("".join(json.dumps(would_be).split()))
    assert size > 2048
    assert f"{size} characters" in message


def test_bad_account_exits_2_naming_the_flag():
    proc = run_irsa("trust-policy", "--account", "1234", "--region", "eu-west-1",
                    "--cluster", "abc12", "--namespace", "default",
                    "--service-account", "s3-access")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "--account must be 12 digits, got '1234'\n"


def test_other_bad_inputs_exit_2_naming_their_flag():
    base = {"--account": ACCOUNT, "--region": "eu-west-1", "--cluster": "abc12",
            "--namespace": "default", "--service-account": "s3-access"}
    for flag, value in [("--region", "eu-west"), ("--cluster", "ABC"),
                        ("--namespace", "Default"), ("--service-account", "s3_access"),
                        ("--role-account", "12"), ("--issuer", "http://irsa.example.com"),
                        ("--issuer", "https://irsa.example.com/"),
                        ("--issuer", "https://irsa.example.com:8443"),
                        ("--audience", "has space")]:
        args = dict(base, **{flag: value})
        argv = [x for kv in args.items() for x in kv]
        proc = run_irsa("trust-policy", *argv)
        assert proc.returncode == 2, (flag, value, proc.stdout)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{flag} "), (flag, value, proc.stderr)
        assert value in lines[0]


def test_missing_flags_are_usage_errors():
    proc = run_irsa("trust-policy", "--account", ACCOUNT, "--namespace", "default",
                    "--service-account", "x")
    assert proc.returncode == 2
    assert "--region" in proc.stderr and "--cluster" in proc.stderr
