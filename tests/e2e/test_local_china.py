"""A China cluster (`cn-north-1`, partition `aws-cn`) through the whole `irsa local` chain.

Regression for the bug where the store hard-coded `arn:aws:` for providers and roles: the
startup banner listed `arn:aws:iam::…`, and `AssumeRoleWithWebIdentity` for the cluster's own
role answered `AccessDenied`, because the trust policy's principal `arn:aws-cn:…` never equalled
the provider's `arn:aws:…`. Every ARN must carry `aws-cn`, and the one China audience
(`sts.amazonaws.com.cn`) must be the providers' client ID, the trust policy's `:aud` and the
default audience of `irsa local token`."""

import json
import subprocess

import boto3
import pytest
from botocore.config import Config

from conftest import REPO
from local_harness import (DEMO_ACCOUNT, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, clean_env,
                           irsa_bin, running_local, unverified_claims)

REGION = "cn-north-1"
CLUSTER = "cnprod"
BUCKET = f"{DEMO_ACCOUNT}-g8s-{CLUSTER}-oidc-pod-identity"
ISSUER = f"https://s3.{REGION}.amazonaws.com.cn/{BUCKET}"
HOST_PATH = ISSUER.removeprefix("https://")
PROVIDER_ARN = f"arn:aws-cn:iam::{DEMO_ACCOUNT}:oidc-provider/{HOST_PATH}"
ROLE_ARN = f"arn:aws-cn:iam::{DEMO_ACCOUNT}:role/cn-app"
AUDIENCE = "sts.amazonaws.com.cn"

CONFIG = f"""
clusters:
  - name: {CLUSTER}
    account: "{DEMO_ACCOUNT}"
    region: {REGION}
roles:
  - account: "{DEMO_ACCOUNT}"
    name: cn-app
    cluster: {CLUSTER}
    serviceAccounts: ["default/app"]
"""


@pytest.fixture(scope="module")
def local():
    with running_local(config=CONFIG) as server:
        yield server


def cli_token(local, tmp_path, *extra) -> str:
    done = subprocess.run(
        [irsa_bin(), "local", "token", "--endpoint", local.url, "--cluster", CLUSTER,
         "--namespace", "default", "--service-account", "app", *extra],
        capture_output=True, text=True, env=clean_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def root_client(local, service):
    session = boto3.session.Session(region_name=REGION, aws_access_key_id=ROOT_ACCESS_KEY_ID,
                                    aws_secret_access_key=ROOT_SECRET_ACCESS_KEY)
    return session.client(service, endpoint_url=local.url,
                          config=Config(retries={"max_attempts": 1}))


def test_banner_lists_china_arns(local):
    log = local.log()
    assert f"provider   {PROVIDER_ARN}" in log, log
    assert f"  {ROLE_ARN}\n" in log, log
    assert "arn:aws:iam::" not in log, log


def test_token_defaults_to_the_china_audience(local, tmp_path):
    claims = unverified_claims(cli_token(local, tmp_path))
    assert claims["iss"] == ISSUER
    assert claims["aud"] == [AUDIENCE] or claims["aud"] == AUDIENCE


def test_boto3_chain_in_cn_north_1(local, tmp_path):
    """The reproduction of the issue: the cluster's own token, its own role, region cn-north-1,
    through boto3's web-identity provider, then a SigV4 call with the session."""
    env = local.web_identity_env(tmp_path / "home", cli_token(local, tmp_path),
                                 role_arn=ROLE_ARN, session="cn-session")
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = REGION
    program = ("import boto3, json; print(json.dumps(boto3.client('sts')"
               ".get_caller_identity()))")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-c", program],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    identity = json.loads(done.stdout)
    assert identity["Arn"] == f"arn:aws-cn:sts::{DEMO_ACCOUNT}:assumed-role/cn-app/cn-session"
    assert identity["Account"] == DEMO_ACCOUNT


def test_direct_assume_answers_china_provider_and_audience(local, tmp_path):
    sts = boto3.session.Session(region_name=REGION).client(
        "sts", endpoint_url=local.url,
        config=Config(signature_version=__import__("botocore").UNSIGNED,
                      retries={"max_attempts": 1}))
    out = sts.assume_role_with_web_identity(RoleArn=ROLE_ARN, RoleSessionName="direct",
                                            WebIdentityToken=cli_token(local, tmp_path))
    assert out["Provider"] == PROVIDER_ARN
    assert out["Audience"] == AUDIENCE
    assert out["AssumedRoleUser"]["Arn"] == \
        f"arn:aws-cn:sts::{DEMO_ACCOUNT}:assumed-role/cn-app/direct"
    # The same account in the commercial partition is another account: the provider was
    # registered in aws-cn only.
    with pytest.raises(sts.exceptions.ClientError) as info:
        sts.assume_role_with_web_identity(
            RoleArn=ROLE_ARN.replace("arn:aws-cn:", "arn:aws:"), RoleSessionName="direct",
            WebIdentityToken=cli_token(local, tmp_path))
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidIdentityToken"
    assert error["Message"].startswith("No OpenIDConnect provider found in your account for")


def test_iam_and_trust_policy_command_agree(local, tmp_path):
    """`irsa trust-policy` for the same cluster writes exactly the role's stored policy, and
    IAM answers in the partition of the region it is called in."""
    iam = root_client(local, "iam")
    role = iam.get_role(RoleName="cn-app")["Role"]
    assert role["Arn"] == ROLE_ARN
    done = subprocess.run(
        [irsa_bin(), "trust-policy", "--account", DEMO_ACCOUNT, "--region", REGION,
         "--cluster", CLUSTER, "--namespace", "default", "--service-account", "app"],
        capture_output=True, text=True, env=clean_env(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert role["AssumeRolePolicyDocument"] == json.loads(done.stdout)
    condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
    assert condition[f"{HOST_PATH}:aud"] == AUDIENCE

    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert provider["ClientIDList"] == [AUDIENCE]
    created = iam.create_open_id_connect_provider(
        Url="https://oidc.example.cn/cluster", ClientIDList=[AUDIENCE])
    assert created["OpenIDConnectProviderArn"] == \
        f"arn:aws-cn:iam::{DEMO_ACCOUNT}:oidc-provider/oidc.example.cn/cluster"
    assert root_client(local, "sts").get_caller_identity()["Arn"] == \
        f"arn:aws-cn:iam::{DEMO_ACCOUNT}:root"
