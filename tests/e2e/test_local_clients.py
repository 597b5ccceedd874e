"""Real, unmodified clients against `irsa local`: the AWS CLI and boto3 credential chains
(web-identity environment → AssumeRoleWithWebIdentity → SigV4 GetCallerIdentity), direct
calls, and the negative matrix of sts-behaviour.md §9 as each client reports it."""

import json
import subprocess
import time

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_harness import (DEMO_ACCOUNT, DEMO_ISSUER, DEMO_REGION, DEMO_ROLE_ARN, DENY_ROLE_ARN,
                           ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, clean_env, e2e_config,
                           forge, rsa_key, running_local, tamper_signature, unsigned,
                           unverified_claims, unverified_header)

ASSUMED = f"arn:aws:sts::{DEMO_ACCOUNT}:assumed-role/demo-app/"


@pytest.fixture(scope="module")
def local():
    with running_local(config=e2e_config()) as server:
        yield server


def aws(env, *args, timeout=120):
    return subprocess.run(["aws", *args], capture_output=True, text=True, env=env, timeout=timeout)


def sts_client(local, **kwargs):
    """A boto3 STS client that talks to the emulator; unsigned unless credentials are given."""
    session = boto3.session.Session(region_name=DEMO_REGION, **kwargs)
    config = Config(retries={"max_attempts": 1})
    if not kwargs:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return session.client("sts", endpoint_url=local.url, config=config)


# --- the full chain ---------------------------------------------------------------------

def test_aws_cli_chain_prints_the_assumed_role(local, tmp_path):
    env = local.web_identity_env(tmp_path / "home", local.token(), session="cli-session")
    done = aws(env, "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    identity = json.loads(done.stdout)
    print(identity["Arn"])
    assert identity["Arn"] == ASSUMED + "cli-session"
    assert identity["Account"] == DEMO_ACCOUNT
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(":cli-session")


def test_aws_cli_chain_with_default_session_name_and_trailing_newline(local, tmp_path):
    env = local.web_identity_env(tmp_path / "home", local.token(), token_suffix="\n")
    done = aws(env, "sts", "get-caller-identity", "--query", "Arn", "--output", "text")
    assert done.returncode == 0, done.stderr
    arn = done.stdout.strip()
    print(arn)
    assert arn.startswith(ASSUMED + "botocore-session-"), arn


def test_boto3_chain_prints_the_assumed_role(local, tmp_path):
    env = local.web_identity_env(tmp_path / "home", local.token(), session="boto3-session")
    program = ("import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])")
    done = subprocess.run([str(local_python()), "-c", program], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    print(done.stdout.strip())
    assert done.stdout.strip() == ASSUMED + "boto3-session"


def local_python():
    from conftest import REPO
    return REPO / ".venv" / "bin" / "python"


def test_boto3_direct_assume_then_signed_call(local):
    out = sts_client(local).assume_role_with_web_identity(
        RoleArn=DEMO_ROLE_ARN, RoleSessionName="boto3-direct", WebIdentityToken=local.token(),
        DurationSeconds=900)
    assert out["AssumedRoleUser"]["Arn"] == ASSUMED + "boto3-direct"
    assert out["Provider"].startswith(f"arn:aws:iam::{DEMO_ACCOUNT}:oidc-provider/")
    assert out["Audience"] == "sts.amazonaws.com"
    assert out["SubjectFromWebIdentityToken"] == "system:serviceaccount:default:demo-app"
    remaining = out["Credentials"]["Expiration"].timestamp() - time.time()
    assert 880 < remaining <= 905
    creds = out["Credentials"]
    signed = sts_client(local, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])
    identity = signed.get_caller_identity()
    print(identity["Arn"])
    assert identity["Arn"] == ASSUMED + "boto3-direct"
    assert identity["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]


def test_aws_cli_direct_assume(local, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(local.token() + "\n")
    env = clean_env(tmp_path)
    env["AWS_DEFAULT_REGION"] = DEMO_REGION
    done = aws(env, "sts", "assume-role-with-web-identity", "--endpoint-url", local.url,
               "--no-sign-request", "--role-arn", DEMO_ROLE_ARN, "--role-session-name", "cli-direct",
               "--web-identity-token", f"file://{token_file}", "--duration-seconds", "900")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["AssumedRoleUser"]["Arn"] == ASSUMED + "cli-direct"


# --- GetCallerIdentity: SigV4 -------------------------------------------------------------

def session_credentials(local, session="sigv4"):
    return sts_client(local).assume_role_with_web_identity(
        RoleArn=DEMO_ROLE_ARN, RoleSessionName=session, WebIdentityToken=local.token())["Credentials"]


def client_error(call):
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_root_credentials_are_the_account_root(local):
    identity = sts_client(local, aws_access_key_id=ROOT_ACCESS_KEY_ID,
                          aws_secret_access_key=ROOT_SECRET_ACCESS_KEY).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{DEMO_ACCOUNT}:root"
    assert identity["Account"] == DEMO_ACCOUNT


def test_wrong_secret_is_signature_does_not_match(local):
    creds = session_credentials(local)
    resp = client_error(sts_client(local, aws_access_key_id=creds["AccessKeyId"],
                                   aws_secret_access_key="x" * 40,
                                   aws_session_token=creds["SessionToken"]).get_caller_identity)
    assert resp["Error"]["Code"] == "SignatureDoesNotMatch"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_invalid_client_token_id(local):
    resp = client_error(sts_client(local, aws_access_key_id="ASIAAAAAAAAAAAAAAAAA",
                                   aws_secret_access_key="x" * 40,
                                   aws_session_token="nope").get_caller_identity)
    assert resp["Error"]["Code"] == "InvalidClientTokenId"
    assert resp["Error"]["Message"] == "The security token included in the request is invalid."


def test_session_key_without_its_token_is_invalid_client_token_id(local):
    creds = session_credentials(local)
    resp = client_error(sts_client(local, aws_access_key_id=creds["AccessKeyId"],
                                   aws_secret_access_key=creds["SecretAccessKey"]).get_caller_identity)
    assert resp["Error"]["Code"] == "InvalidClientTokenId"


def test_unsigned_get_caller_identity_is_missing_authentication(local):
    resp = client_error(sts_client(local).get_caller_identity)
    assert resp["Error"]["Code"] == "MissingAuthenticationToken"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403


# --- the negative matrix, as clients see it ------------------------------------------------

def hostile_cases(local):
    """(name, token, role ARN, extra parameters, expected code) of sts-behaviour.md §9."""
    good = local.token()
    claims = unverified_claims(good)
    kid = unverified_header(good)["kid"]
    now = int(time.time())
    return [
        ("wrong audience", local.token(audience="not-sts"), DEMO_ROLE_ARN, {}, "InvalidIdentityToken"),
        ("unknown issuer", forge({**claims, "iss": "https://idp.unknown.example/x"}, rsa_key()),
         DEMO_ROLE_ARN, {}, "InvalidIdentityToken"),
        ("trailing-slash issuer", forge({**claims, "iss": DEMO_ISSUER + "/"}, rsa_key()),
         DEMO_ROLE_ARN, {}, "InvalidIdentityToken"),
        ("expired", local.token(expiration=3600, now=now - 3600 - 360), DEMO_ROLE_ARN, {},
         "ExpiredTokenException"),
        ("bad signature", tamper_signature(good), DEMO_ROLE_ARN, {}, "InvalidIdentityToken"),
        ("unknown kid", forge(claims, rsa_key(), kid="unknown"), DEMO_ROLE_ARN, {},
         "InvalidIdentityToken"),
        ("HS256", forge(claims, "a-shared-secret-that-is-long-enough-for-hs256", alg="HS256", kid=kid),
         DEMO_ROLE_ARN, {}, "InvalidIdentityToken"),
        ("none", unsigned(claims, kid=kid), DEMO_ROLE_ARN, {}, "InvalidIdentityToken"),
        ("wrong subject", local.token(service_account="intruder"), DEMO_ROLE_ARN, {}, "AccessDenied"),
        ("explicit deny", local.token(service_account="blocked"), DENY_ROLE_ARN, {}, "AccessDenied"),
        ("missing role", good, f"arn:aws:iam::{DEMO_ACCOUNT}:role/nope", {}, "AccessDenied"),
        ("bad session name", good, DEMO_ROLE_ARN, {"RoleSessionName": "bad:name"}, "ValidationError"),
        ("duration over role maximum", good, DEMO_ROLE_ARN, {"DurationSeconds": 7200},
         "ValidationError"),
    ]


def test_negative_matrix_with_boto3(local):
    client = sts_client(local)
    seen = {}
    for name, token, role, extra, expected in hostile_cases(local):
        params = {"RoleArn": role, "RoleSessionName": "matrix", "WebIdentityToken": token, **extra}
        try:
            client.assume_role_with_web_identity(**params)
            seen[name] = "success"
        except ClientError as e:
            seen[name] = e.response["Error"]["Code"]
    expected = {name: code for name, _, _, _, code in hostile_cases(local)}
    assert seen == expected


def test_within_leeway_passes_with_boto3(local):
    token = local.token(expiration=3600, now=int(time.time()) - 3600 - 240)
    out = sts_client(local).assume_role_with_web_identity(
        RoleArn=DEMO_ROLE_ARN, RoleSessionName="leeway", WebIdentityToken=token)
    assert out["AssumedRoleUser"]["Arn"] == ASSUMED + "leeway"


@pytest.mark.parametrize("case", ["wrong audience", "expired", "unknown kid", "wrong subject",
                                  "missing role", "bad session name"])
def test_negative_matrix_with_the_aws_cli_chain(local, tmp_path, case):
    _name, token, role, extra, expected = next(c for c in hostile_cases(local) if c[0] == case)
    env = local.web_identity_env(tmp_path / "home", token, role_arn=role,
                                 session=extra.get("RoleSessionName"))
    done = aws(env, "sts", "get-caller-identity")
    assert done.returncode == 255, (done.returncode, done.stderr)
    assert f"An error occurred ({expected}) when calling the AssumeRoleWithWebIdentity operation" \
        in done.stderr, done.stderr
