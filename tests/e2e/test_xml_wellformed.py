"""Characters XML 1.0 cannot carry never reach an `irsa local` answer (issue 9, item 3).

NUL, the other C0 controls except tab/LF/CR, U+FFFE and U+FFFF used to be echoed raw into
responses (error messages quoting RoleSessionName, Action, a token's unverified `iss`, IAM
parameters) or stored (a role description, a tag, a client ID) and then written into every
later `ListRoles`. boto3 then raised `ResponseParserError` instead of the AWS error, and a
stored one broke the listing for every caller, even after a restart.

Each test drives the running server with boto3 (whose parser is expat: strict XML 1.0) and
asserts the AWS error code it parses, so a malformed answer fails the test.
"""

import base64
import json
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_harness import (DEMO_REGION, DEMO_ROLE_ARN, ROOT_ACCESS_KEY_ID,
                           ROOT_SECRET_ACCESS_KEY, running_local)

POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::000000000000:oidc-provider/oidc.example.com/x"},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }],
})
PROVIDER_ARN = "arn:aws:iam::000000000000:oidc-provider/oidc.example.com/x"

# Every character class the writer must keep out: NUL, another C0 control, DEL's neighbour
# U+001F, and the two non-characters XML excludes.
HOSTILE = ["\x00", "\x01", "\x1f", "\ufffe", "\uffff"]


@pytest.fixture
def local():
    with running_local() as server:
        yield server


def client(local, service, signed=True):
    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    session = boto3.session.Session(
        region_name=DEMO_REGION,
        aws_access_key_id=ROOT_ACCESS_KEY_ID,
        aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
    )
    return session.client(service, endpoint_url=local.url, config=config)


def error_code(call, **params) -> str:
    """The AWS error code boto3 parsed from the answer (a ResponseParserError fails)."""
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value.response["Error"]["Code"]


def token_with_issuer(issuer: str) -> str:
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"iss": issuer, "sub": "system:serviceaccount:default:demo-app",
              "aud": "sts.amazonaws.com", "iat": now, "exp": now + 3600}
    return f"{b64({'alg': 'RS256', 'kid': 'k'})}.{b64(claims)}.c2ln"


# --- STS ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", HOSTILE)
def test_session_name_with_a_control_character_is_a_validation_error(local, bad):
    sts = client(local, "sts", signed=False)
    code = error_code(sts.assume_role_with_web_identity, RoleArn=DEMO_ROLE_ARN,
                      RoleSessionName=f"a{bad}b", WebIdentityToken=local.token())
    assert code == "ValidationError"


def test_unverified_issuer_with_nul_is_an_invalid_token(local):
    sts = client(local, "sts", signed=False)
    code = error_code(sts.assume_role_with_web_identity, RoleArn=DEMO_ROLE_ARN,
                      RoleSessionName="s1",
                      WebIdentityToken=token_with_issuer("https://issuer.example\x00/x"))
    assert code == "InvalidIdentityToken"


def test_action_with_nul_is_a_parseable_invalid_action(local):
    """Raw, because no client sends an Action it does not know; parsed with expat."""
    req = urllib.request.Request(
        local.url + "/", data=b"Action=Get%00CallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30)
    assert info.value.code == 400
    body = info.value.read()
    assert b"\x00" not in body
    root = ET.fromstring(body)
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    assert root.findtext(f"{ns}Error/{ns}Code") == "InvalidAction"
    assert "Get\\u0000CallerIdentity" in root.findtext(f"{ns}Error/{ns}Message")


# --- IAM ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_description_is_refused_and_not_stored(local, bad):
    iam = client(local, "iam")
    code = error_code(iam.create_role, RoleName="desc", AssumeRolePolicyDocument=POLICY,
                      Description=f"a{bad}b")
    assert code == "ValidationError"
    assert error_code(iam.get_role, RoleName="desc") == "NoSuchEntity"
    names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert "desc" not in names


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_tags_are_refused(local, bad):
    iam = client(local, "iam")
    for tag in ({"Key": f"k{bad}", "Value": "v"}, {"Key": "k", "Value": f"v{bad}"}):
        code = error_code(iam.create_role, RoleName="tagged", AssumeRolePolicyDocument=POLICY,
                          Tags=[tag])
        assert code == "ValidationError", tag
    assert error_code(iam.get_role, RoleName="tagged") == "NoSuchEntity"


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_client_ids_are_refused(local, bad):
    iam = client(local, "iam")
    code = error_code(iam.create_open_id_connect_provider, Url="https://oidc.example.com/x",
                      ClientIDList=[f"sts{bad}amazonaws.com"],
                      ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    assert code == "ValidationError"
    iam.create_open_id_connect_provider(Url="https://oidc.example.com/x",
                                        ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    code = error_code(iam.add_client_id_to_open_id_connect_provider,
                      OpenIDConnectProviderArn=PROVIDER_ARN, ClientID=f"a{bad}")
    assert code == "ValidationError"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert got["ClientIDList"] == ["sts.amazonaws.com"]


def test_iam_echoes_of_hostile_parameters_parse(local):
    iam = client(local, "iam")
    assert error_code(iam.get_role, RoleName="a\x00b") == "ValidationError"
    assert error_code(iam.delete_role, RoleName="a\x01b") == "ValidationError"
    # parameter_validation=False lets botocore send MaxItems as the string it is given.
    assert error_code(iam.list_roles, MaxItems="1\x00") == "ValidationError"
    assert error_code(iam.list_roles, PathPrefix="/\x00") == "ValidationError"
    assert error_code(iam.get_open_id_connect_provider,
                      OpenIDConnectProviderArn=PROVIDER_ARN + "\x00") == "ValidationError"


def test_listing_stays_parseable_across_a_restart(local):
    iam = client(local, "iam")
    with pytest.raises(ClientError):
        iam.create_role(RoleName="desc", AssumeRolePolicyDocument=POLICY, Description="a\x01b")
    iam.create_role(RoleName="fine", AssumeRolePolicyDocument=POLICY,
                    Description="tab\tline\ncr\r latin-1 \u00e9")
    local.stop()
    local.start()
    iam = client(local, "iam")
    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"]}
    assert "desc" not in roles
    assert roles["fine"]["Description"] == "tab\tline\ncr\r latin-1 \u00e9"
