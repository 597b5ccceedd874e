"""The strict STS of `irsa local` on the wire: raw HTTP requests, so that the server's own
validation is tested past the clients' checks, with the exact codes, statuses and texts of
the reference (sts-behaviour.md §1.3, §1.4, §1.6, §2 and the matrix of §9)."""

import re
import time
from datetime import datetime, timezone

import pytest

from local_harness import (DEMO_ACCOUNT, DEMO_ISSUER, DEMO_PROVIDER_ARN, DEMO_ROLE_ARN,
                           DENY_ROLE_ARN, LONG_ROLE_ARN, STS_NS, e2e_config, forge, rsa_key,
                           running_local, tamper_payload, tamper_signature, unsigned,
                           unverified_claims, unverified_header)

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
NO_KEY = ("Couldn't retrieve verification key from your identity provider,  please reference "
          "AssumeRoleWithWebIdentity documentation for requirements")


@pytest.fixture(scope="module")
def local():
    with running_local(config=e2e_config()) as server:
        yield server


@pytest.fixture(scope="module")
def good_token(local):
    return local.token()


def valid_claims(local, **changes) -> dict:
    claims = unverified_claims(local.token())
    claims.update(changes)
    return claims


def assert_error(answer, status, code, message=None):
    err = answer.error()
    assert (err.status, err.code) == (status, code), answer.body
    assert err.type == ("Sender" if status < 500 else "Receiver")
    assert re.fullmatch(r"[0-9a-f-]{36}", err.request_id), err.request_id
    if message is not None:
        assert err.message == message, err.message
    return err


# --- the success response ------------------------------------------------------------------

def test_success_response_has_the_aws_shape(local, good_token):
    before = int(time.time())
    answer = local.assume(good_token, session="shape-check")
    assert answer.status == 200, answer.body
    assert answer.headers.get("Content-Type", "").startswith("text/xml")
    root = answer.root()
    assert root.tag == f"{STS_NS}AssumeRoleWithWebIdentityResponse"
    assert root[0].tag == f"{STS_NS}AssumeRoleWithWebIdentityResult"
    r = "AssumeRoleWithWebIdentityResult/"
    assert answer.text(r + "Audience") == "sts.amazonaws.com"
    assert answer.text(r + "Provider") == DEMO_PROVIDER_ARN
    assert answer.text(r + "SubjectFromWebIdentityToken") == "system:serviceaccount:default:demo-app"
    assert answer.text(r + "AssumedRoleUser/Arn") == \
        f"arn:aws:sts::{DEMO_ACCOUNT}:assumed-role/demo-app/shape-check"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}:shape-check", answer.text(r + "AssumedRoleUser/AssumedRoleId"))
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", answer.text(r + "Credentials/AccessKeyId"))
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", answer.text(r + "Credentials/SecretAccessKey"))
    assert len(answer.text(r + "Credentials/SessionToken")) >= 100
    expiration = answer.text(r + "Credentials/Expiration")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", expiration), expiration
    expires = datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before + 3600 - 5 <= expires.timestamp() <= time.time() + 3600 + 5
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.text("ResponseMetadata/RequestId"))
    assert answer.headers.get("x-amzn-RequestId") == answer.text("ResponseMetadata/RequestId")


def test_get_query_form_and_trailing_newline_are_accepted(local, good_token):
    answer = local.sts({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                        "RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "via-get",
                        "WebIdentityToken": good_token + "\n"}, method="GET")
    assert answer.status == 200, answer.body
    assert answer.text("AssumeRoleWithWebIdentityResult/AssumedRoleUser/Arn").endswith("/via-get")


def test_each_call_issues_fresh_credentials(local, good_token):
    a = local.assume(good_token).text("AssumeRoleWithWebIdentityResult/Credentials/AccessKeyId")
    b = local.assume(good_token).text("AssumeRoleWithWebIdentityResult/Credentials/AccessKeyId")
    assert a and b and a != b


def test_duration_within_the_role_maximum_sets_expiration(local, good_token):
    answer = local.assume(good_token, role_arn=LONG_ROLE_ARN, DurationSeconds=7200)
    assert answer.status == 200, answer.body
    expiration = answer.text("AssumeRoleWithWebIdentityResult/Credentials/Expiration")
    expires = datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(expires.timestamp() - (time.time() + 7200)) < 10


def test_role_path_is_dropped_from_the_assumed_role_arn(local):
    answer = local.assume(local.token(service_account="anything"), role_arn=DENY_ROLE_ARN,
                          session="pathless")
    assert answer.status == 200, answer.body
    assert answer.text("AssumeRoleWithWebIdentityResult/AssumedRoleUser/Arn") == \
        f"arn:aws:sts::{DEMO_ACCOUNT}:assumed-role/deny-app/pathless"


# --- parameter validation (§1.3), before any token work --------------------------------------

@pytest.mark.parametrize("session, message", [
    ("a:b", "1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
    ("x" * 65, "1 validation error detected: Value '" + "x" * 65 + "' at 'roleSessionName' failed "
               "to satisfy constraint: Member must have length less than or equal to 64"),
    ("a", "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy "
          "constraint: Member must have length greater than or equal to 2"),
    ("with space", "1 validation error detected: Value 'with space' at 'roleSessionName' failed "
                   "to satisfy constraint: Member must satisfy regular expression pattern: "
                   "[\\w+=,.@-]*"),
])
def test_bad_session_names(local, good_token, session, message):
    assert_error(local.assume(good_token, session=session), 400, "ValidationError", message)


def test_session_name_edge_characters_are_accepted(local, good_token):
    answer = local.assume(good_token, session="a_Z9+=,.@-" + "x" * 54)
    assert answer.status == 200, answer.body


@pytest.mark.parametrize("duration, message", [
    ("899", "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value greater than or equal to 900"),
    ("43201", "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy "
              "constraint: Member must have value less than or equal to 43200"),
])
def test_duration_out_of_range(local, good_token, duration, message):
    assert_error(local.assume(good_token, DurationSeconds=duration), 400, "ValidationError",
                 message)


def test_duration_over_the_role_maximum(local, good_token):
    assert_error(local.assume(good_token, DurationSeconds=7200), 400, "ValidationError",
                 "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    assert_error(local.assume(good_token, role_arn=LONG_ROLE_ARN, DurationSeconds=7201), 400,
                 "ValidationError",
                 "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")


def test_missing_parameters_and_several_violations(local, good_token):
    answer = local.sts({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                        "RoleArn": DEMO_ROLE_ARN, "WebIdentityToken": good_token})
    assert_error(answer, 400, "ValidationError",
                 "1 validation error detected: Value null at 'roleSessionName' failed to satisfy "
                 "constraint: Member must not be null")
    answer = local.sts({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                        "RoleArn": DEMO_ROLE_ARN, "RoleSessionName": "a:b", "DurationSeconds": "50000",
                        "WebIdentityToken": good_token})
    err = assert_error(answer, 400, "ValidationError")
    assert err.message.startswith("2 validation errors detected: "), err.message
    assert "'roleSessionName'" in err.message and "'durationSeconds'" in err.message


def test_malformed_role_arn(local, good_token):
    assert_error(local.assume(good_token, role_arn="nothing-valid-in-here"), 400,
                 "ValidationError", "nothing-valid-in-here is invalid")


def test_token_too_short_or_long(local):
    err = assert_error(local.assume("abc"), 400, "ValidationError")
    assert "'webIdentityToken'" in err.message and "greater than or equal to 4" in err.message
    err = assert_error(local.assume("a" * 20001), 400, "ValidationError")
    assert "less than or equal to 20000" in err.message


def test_unknown_action_and_version(local):
    assert_error(local.sts({"Action": "Frobnicate", "Version": "2011-06-15"}), 400, "InvalidAction")


# --- the token (§2, matrix §9) ----------------------------------------------------------------

def test_wrong_audience(local):
    assert_error(local.assume(local.token(audience="not-sts")), 400, "InvalidIdentityToken",
                 "Incorrect token audience")


def test_unknown_issuer(local):
    token = forge(valid_claims(local, iss="https://idp.unknown.example/cluster"), rsa_key())
    assert_error(local.assume(token), 400, "InvalidIdentityToken",
                 "No OpenIDConnect provider found in your account for "
                 "https://idp.unknown.example/cluster")


def test_trailing_slash_issuer_is_another_issuer(local):
    token = forge(valid_claims(local, iss=DEMO_ISSUER + "/"), rsa_key())
    assert_error(local.assume(token), 400, "InvalidIdentityToken",
                 f"No OpenIDConnect provider found in your account for {DEMO_ISSUER}/")


def test_expired_beyond_leeway(local):
    now = int(time.time())
    token = local.token(expiration=3600, now=now - 3600 - 360)
    err = assert_error(local.assume(token), 400, "ExpiredTokenException")
    exp = unverified_claims(token)["exp"]
    m = re.fullmatch(r"Token expired: current date/time (\d+) must be before the expiration "
                     r"date/time (\d+)", err.message)
    assert m, err.message
    assert abs(int(m.group(1)) - time.time()) < 10 and int(m.group(2)) == exp


def test_expired_within_leeway_passes(local):
    token = local.token(expiration=3600, now=int(time.time()) - 3600 - 240)
    answer = local.assume(token)
    assert answer.status == 200, answer.body


def test_bad_signature(local, good_token):
    assert_error(local.assume(tamper_signature(good_token)), 400, "InvalidIdentityToken")


def test_changed_payload_keeps_no_signature(local, good_token):
    token = tamper_payload(good_token, sub="system:serviceaccount:kube-system:admin")
    assert_error(local.assume(token), 400, "InvalidIdentityToken")


def test_unknown_kid(local):
    token = forge(valid_claims(local), rsa_key(), kid="not-a-key-of-this-issuer")
    assert_error(local.assume(token), 400, "InvalidIdentityToken", NO_KEY)


def test_right_kid_wrong_key(local, good_token):
    kid = unverified_header(good_token)["kid"]
    token = forge(valid_claims(local), rsa_key(), kid=kid)
    assert_error(local.assume(token), 400, "InvalidIdentityToken")


def test_hs256_is_rejected(local, good_token):
    kid = unverified_header(good_token)["kid"]
    token = forge(valid_claims(local), "a-shared-secret-that-is-long-enough-for-hs256", alg="HS256",
                  kid=kid)
    assert_error(local.assume(token), 400, "InvalidIdentityToken")


def test_alg_none_is_rejected(local, good_token):
    token = unsigned(valid_claims(local), kid=unverified_header(good_token)["kid"])
    assert_error(local.assume(token), 400, "InvalidIdentityToken")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c.d.e", "eyJ.eyJ.sig"])
def test_not_a_jwt(local, token):
    assert_error(local.assume(token), 400, "InvalidIdentityToken",
                 "The ID Token provided is not a valid JWT. (You may see this error if you sent an "
                 "Access Token)")


# --- the trust policy (§3) ---------------------------------------------------------------------

def test_wrong_subject_for_the_trust_policy(local):
    assert_error(local.assume(local.token(service_account="intruder")), 403, "AccessDenied",
                 NOT_AUTHORIZED)


def test_wrong_namespace_for_the_trust_policy(local):
    assert_error(local.assume(local.token(namespace="other")), 403, "AccessDenied", NOT_AUTHORIZED)


def test_wildcard_allows_and_explicit_deny_wins(local):
    ok = local.assume(local.token(service_account="any-app"), role_arn=DENY_ROLE_ARN)
    assert ok.status == 200, ok.body
    denied = local.assume(local.token(service_account="blocked"), role_arn=DENY_ROLE_ARN)
    assert_error(denied, 403, "AccessDenied", NOT_AUTHORIZED)


def test_missing_role_answers_like_a_denied_trust_policy(local, good_token):
    missing = local.assume(good_token, role_arn=f"arn:aws:iam::{DEMO_ACCOUNT}:role/does-not-exist")
    denied = local.assume(local.token(service_account="intruder"))
    a, b = assert_error(missing, 403, "AccessDenied"), assert_error(denied, 403, "AccessDenied")
    assert (a.message, a.type) == (b.message, b.type) == (NOT_AUTHORIZED, "Sender")


def test_role_in_another_account_has_no_provider(local, good_token):
    answer = local.assume(good_token, role_arn="arn:aws:iam::111122223333:role/demo-app")
    # The provider is looked up in the role's account, where there is none.
    assert_error(answer, 400, "InvalidIdentityToken",
                 f"No OpenIDConnect provider found in your account for {DEMO_ISSUER}")
