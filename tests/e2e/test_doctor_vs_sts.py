"""`irsa doctor` never disagrees with STS.

One `irsa local` serves the issuers, IAM and the strict STS. For a matrix of tokens, roles and
providers, the same inputs go to boto3's `AssumeRoleWithWebIdentity` and to `irsa doctor`, and
doctor's verdict (ALLOW, or DENY with the AWS error code) must be STS's. Doctor runs twice per
case:

- from files, as a user has them: the trust policy as `aws iam get-role` prints it (the AWS
  CLI against the local IAM), the account's providers as `--provider-url URL#CLIENT_IDS`
  (read with boto3), the issuer's keys as `--jwks URL` of the running issuer;
- live with `--aws`: the role and the providers read by doctor itself through the AWS SDK,
  IAM's endpoint given as `AWS_ENDPOINT_URL_IAM` (or `--iam-endpoint-url`).

A DENY must also make doctor exit 1 and an ALLOW exit 0: no other check may contradict the
decision.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore
import botocore.config
import pytest

from conftest import run_irsa
from local_harness import (DEMO_ACCOUNT, DEMO_ISSUER, DEMO_REGION, ROOT_SECRET_ACCESS_KEY,
                           clean_env, forge, rsa_key, running_local, unverified_claims,
                           unverified_header)

CROSS_ACCOUNT = "222222222222"
LONELY_ACCOUNT = "333333333333"
DEMO_HP = DEMO_ISSUER.removeprefix("https://")
LONELY_HP = f"s3.{DEMO_REGION}.amazonaws.com/{LONELY_ACCOUNT}-g8s-lonely-oidc-pod-identity"
# An extra client ID registered on the demo provider in the demo account: tokens with this
# audience pass the audience check and are then judged by the trust policy's `:aud`.
EXTRA_CLIENT_ID = "custom-audience"


def arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def provider_arn(account: str, host_path: str) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{host_path}"


WILD_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": provider_arn(DEMO_ACCOUNT, DEMO_HP)},
         "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {f"{DEMO_HP}:aud": "sts.amazonaws.com"},
                       "StringLike": {f"{DEMO_HP}:sub": "system:serviceaccount:apps:*"}}},
        {"Sid": "NoBlocked", "Effect": "Deny",
         "Principal": {"Federated": provider_arn(DEMO_ACCOUNT, DEMO_HP)},
         "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {f"{DEMO_HP}:sub": "system:serviceaccount:apps:blocked"}}},
    ],
}

# The guide's cross-account example: the provider ARN with the role's region, the condition
# keys with the cluster's.
GUIDE_HP = DEMO_HP.replace(f"s3.{DEMO_REGION}.", "s3.us-east-1.")
GUIDE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn(CROSS_ACCOUNT, GUIDE_HP)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{DEMO_HP}:sub": "system:serviceaccount:default:writer"}},
    }],
}

LONELY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn(DEMO_ACCOUNT, LONELY_HP)},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{LONELY_HP}:sub": "system:serviceaccount:default:app"}},
    }],
}

CONFIG = f"""
clusters:
  - name: demo
    account: "{DEMO_ACCOUNT}"
    region: {DEMO_REGION}
  - name: lonely
    account: "{LONELY_ACCOUNT}"
    region: {DEMO_REGION}
roles:
  - account: "{DEMO_ACCOUNT}"
    name: demo-app
    cluster: demo
    serviceAccounts: ["default/demo-app"]
  - account: "{DEMO_ACCOUNT}"
    name: wild-app
    path: /team/
    assumeRolePolicyDocument: {json.dumps(json.dumps(WILD_POLICY))}
  - account: "{CROSS_ACCOUNT}"
    name: shared-writer
    cluster: demo
    serviceAccounts: ["default/writer"]
"""


@dataclass
class Case:
    name: str
    role_arn: str
    token: str
    # Whether `aws iam get-role` finds the role, so the file mode can run.
    role_exists: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]


class World:
    """The running server, its clients per account, and the cases."""

    def __init__(self, local, tmp: Path):
        self.local = local
        self.tmp = tmp
        self.now = int(time.time())

    def session(self, account: str) -> boto3.session.Session:
        # A 12-digit access key ID with the root secret acts as that account's root.
        key = "AKIAIRSALOCALTESTING" if account == DEMO_ACCOUNT else account
        return boto3.session.Session(aws_access_key_id=key,
                                     aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
                                     region_name=DEMO_REGION)

    def iam(self, account: str):
        return self.session(account).client("iam", endpoint_url=self.local.url)

    def env(self, account: str, home: Path) -> dict:
        env = clean_env(home)
        env.update({
            "AWS_ACCESS_KEY_ID": "AKIAIRSALOCALTESTING" if account == DEMO_ACCOUNT else account,
            "AWS_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
            "AWS_REGION": DEMO_REGION,
            "AWS_DEFAULT_REGION": DEMO_REGION,
        })
        return env

    def setup(self):
        demo = self.iam(DEMO_ACCOUNT)
        demo.add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn=provider_arn(DEMO_ACCOUNT, DEMO_HP), ClientID=EXTRA_CLIENT_ID)
        demo.create_role(RoleName="lonely-app", AssumeRolePolicyDocument=json.dumps(LONELY_POLICY))
        self.iam(CROSS_ACCOUNT).create_role(RoleName="guide-cross",
                                             AssumeRolePolicyDocument=json.dumps(GUIDE_POLICY))

    def sts(self, case: Case) -> tuple[str, str | None]:
        client = boto3.session.Session(region_name=DEMO_REGION).client(
            "sts", endpoint_url=self.local.url,
            config=botocore.config.Config(signature_version=botocore.UNSIGNED,
                                          retries={"max_attempts": 1}))
        try:
            client.assume_role_with_web_identity(RoleArn=case.role_arn,
                                                 RoleSessionName="irsa-doctor",
                                                 WebIdentityToken=case.token)
        except botocore.exceptions.ClientError as e:
            return "DENY", e.response["Error"]["Code"]
        return "ALLOW", None

    def jwks_url(self, token: str) -> str:
        """The running issuer's keys for the token's issuer, at the bucket's path (its
        discovery document names the real S3 URL, which a test must not reach)."""
        path = unverified_claims(token)["iss"].split("/", 3)[3]
        return f"{self.local.url}/{path}/keys.json"

    def files(self, case: Case) -> list:
        """Doctor's arguments from files, as a user gathers them."""
        d = self.tmp / case.name
        d.mkdir(parents=True, exist_ok=True)
        (d / "token").write_text(case.token)
        role_name = case.role_arn.rsplit("/", 1)[1]
        got = subprocess.run(
            ["aws", "iam", "get-role", "--role-name", role_name, "--endpoint-url",
             self.local.url, "--output", "json"],
            env=self.env(case.account, d / "home"), capture_output=True, text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        (d / "get-role.json").write_text(got.stdout)
        args = ["--token", d / "token", "--trust-policy", d / "get-role.json",
                "--role-arn", case.role_arn, "--now", self.now,
                "--jwks", self.jwks_url(case.token)]
        iam = self.iam(case.account)
        for entry in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
            p = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=entry["Arn"])
            args += ["--provider-url", f"https://{p['Url']}#{','.join(p['ClientIDList'])}"]
        return args

    def doctor(self, case: Case, args: list, env: dict | None = None) -> dict:
        proc = run_irsa("doctor", "--output", "json", *args, env=env)
        assert proc.returncode in (0, 1) and proc.stdout, (case.name, proc.returncode,
                                                           proc.stderr)
        report = json.loads(proc.stdout)
        decision = report["decision"]
        assert decision is not None, (case.name, proc.stdout)
        # The exit status follows the decision: no other check contradicts STS.
        failed = [c for c in report["checks"] if c["status"] == "FAIL"]
        assert (proc.returncode == 0) == (decision["verdict"] == "ALLOW"), (case.name, failed)
        return decision

    def doctor_files(self, case: Case) -> tuple[str, str | None]:
        decision = self.doctor(case, self.files(case))
        return decision["verdict"], decision["code"]

    def doctor_aws(self, case: Case, endpoint_flag: bool) -> tuple[str, str | None]:
        d = self.tmp / f"{case.name}-aws"
        d.mkdir(parents=True, exist_ok=True)
        (d / "token").write_text(case.token)
        env = self.env(case.account, d / "home")
        args = ["--aws", "--role-arn", case.role_arn, "--token", d / "token", "--now", self.now,
                "--jwks", self.jwks_url(case.token)]
        if endpoint_flag:
            args += ["--iam-endpoint-url", self.local.url]
        else:
            env["AWS_ENDPOINT_URL_IAM"] = self.local.url
        decision = self.doctor(case, args, env=env)
        return decision["verdict"], decision["code"]


def cases(world: World) -> list:
    local = world.local
    demo = arn(DEMO_ACCOUNT, "demo-app")
    wild = arn(DEMO_ACCOUNT, "team/wild-app")
    good = local.token()
    claims = unverified_claims(good)
    kid = unverified_header(good)["kid"]
    key = rsa_key()
    return [
        Case("matching-role", demo, good),
        Case("wrong-namespace", demo, local.token(namespace="other")),
        Case("wrong-service-account", demo, local.token(service_account="intruder")),
        Case("wrong-audience", demo, local.token(audience="not-a-client-id")),
        Case("registered-client-id-not-in-policy", demo, local.token(audience=EXTRA_CLIENT_ID)),
        Case("expired", demo, local.token(now=world.now - 7200, expiration=3600)),
        Case("provider-not-registered", arn(DEMO_ACCOUNT, "lonely-app"),
             local.token(cluster="lonely", service_account="app")),
        Case("signed-by-another-key", demo, forge(claims, key)),
        Case("signed-by-another-key-same-kid", demo, forge(claims, key, kid=kid)),
        Case("role-missing", arn(DEMO_ACCOUNT, "no-such-role"), good, role_exists=False),
        Case("wildcard-allows", wild, local.token(namespace="apps", service_account="worker")),
        Case("wildcard-explicit-deny", wild,
             local.token(namespace="apps", service_account="blocked")),
        Case("wildcard-other-namespace", wild,
             local.token(namespace="default", service_account="worker")),
        Case("cross-account-role", arn(CROSS_ACCOUNT, "shared-writer"),
             local.token(service_account="writer")),
        Case("cross-account-other-service-account", arn(CROSS_ACCOUNT, "shared-writer"), good),
        Case("cross-account-guide-mistake", arn(CROSS_ACCOUNT, "guide-cross"),
             local.token(service_account="writer")),
    ]


# What STS must answer per case: the matrix covers each kind of outcome, so a doctor that
# agreed with an STS gone wrong would still be caught.
EXPECTED = {
    "matching-role": ("ALLOW", None),
    "wrong-namespace": ("DENY", "AccessDenied"),
    "wrong-service-account": ("DENY", "AccessDenied"),
    "wrong-audience": ("DENY", "InvalidIdentityToken"),
    "registered-client-id-not-in-policy": ("DENY", "AccessDenied"),
    "expired": ("DENY", "ExpiredTokenException"),
    "provider-not-registered": ("DENY", "InvalidIdentityToken"),
    "signed-by-another-key": ("DENY", "InvalidIdentityToken"),
    "signed-by-another-key-same-kid": ("DENY", "InvalidIdentityToken"),
    "role-missing": ("DENY", "AccessDenied"),
    "wildcard-allows": ("ALLOW", None),
    "wildcard-explicit-deny": ("DENY", "AccessDenied"),
    "wildcard-other-namespace": ("DENY", "AccessDenied"),
    "cross-account-role": ("ALLOW", None),
    "cross-account-other-service-account": ("DENY", "AccessDenied"),
    "cross-account-guide-mistake": ("DENY", "AccessDenied"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_local(config=CONFIG) as local:
        w = World(local, tmp_path_factory.mktemp("doctor-vs-sts"))
        w.setup()
        yield w


@pytest.fixture(scope="module")
def matrix(world):
    return cases(world)


def test_the_matrix_covers_every_expected_case(matrix):
    assert sorted(c.name for c in matrix) == sorted(EXPECTED)


def test_sts_answers_as_expected(world, matrix):
    answers = {c.name: world.sts(c) for c in matrix}
    assert answers == EXPECTED


def test_doctor_from_files_agrees_with_sts(world, matrix):
    disagreements = {}
    for case in matrix:
        if not case.role_exists:
            continue  # `aws iam get-role` has nothing to print; the --aws test covers it
        sts, doctor = world.sts(case), world.doctor_files(case)
        if sts != doctor:
            disagreements[case.name] = {"sts": sts, "doctor": doctor}
    assert disagreements == {}


@pytest.mark.parametrize("endpoint_flag", [False, True], ids=["env-endpoint", "flag-endpoint"])
def test_doctor_aws_mode_agrees_with_sts(world, matrix, endpoint_flag):
    disagreements = {}
    for case in matrix:
        sts, doctor = world.sts(case), world.doctor_aws(case, endpoint_flag)
        if sts != doctor:
            disagreements[case.name] = {"sts": sts, "doctor": doctor}
    assert disagreements == {}


def test_client_ids_decide_the_audience_check(world, matrix):
    """A token for a client ID the provider lists gets past the audience check: with the
    provider's client IDs doctor agrees with STS; without them it must assume the webhook's
    audience and would answer "Incorrect token audience" instead."""
    case = next(c for c in matrix if c.name == "registered-client-id-not-in-policy")
    files = world.files(case)
    bare = []
    for i, a in enumerate(files):
        prev = files[i - 1] if i else None
        bare.append(a.split("#", 1)[0] if prev == "--provider-url" else a)
    proc = run_irsa("doctor", "--output", "json", *bare)
    assert json.loads(proc.stdout)["decision"]["code"] == "InvalidIdentityToken"
    # `--client-id` lists them for every --provider-url.
    flagged = bare + ["--client-id", "sts.amazonaws.com", "--client-id", EXTRA_CLIENT_ID]
    proc = run_irsa("doctor", "--output", "json", *flagged)
    assert json.loads(proc.stdout)["decision"]["code"] == "AccessDenied", proc.stdout
    assert world.sts(case) == ("DENY", "AccessDenied")


def test_role_missing_is_reported_in_aws_mode(world, matrix):
    case = next(c for c in matrix if c.name == "role-missing")
    d = world.tmp / "role-missing-text"
    d.mkdir(exist_ok=True)
    (d / "token").write_text(case.token)
    env = world.env(case.account, d / "home")
    env["AWS_ENDPOINT_URL_IAM"] = world.local.url
    proc = run_irsa("doctor", "--aws", "--role-arn", case.role_arn, "--token", d / "token",
                    "--jwks", world.jwks_url(case.token), env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no-such-role does not exist" in proc.stdout
    assert "DENY: AccessDenied" in proc.stdout
