"""IAM of `irsa local` through the real AWS CLI, plus the `irsa local` commands themselves.

Each test runs its own server (fresh data dir, free port) and an isolated HOME, and calls
`aws iam … --endpoint-url` with the server's root credentials. Error cases assert the error
code the CLI prints, which is what a script would see.
"""

import json
import os
import stat
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import jwt
import pytest

from conftest import run_irsa
from local_harness import (DEMO_ISSUER, DEMO_PROVIDER_ARN, DEMO_ROLE_ARN, ROOT_ACCESS_KEY_ID,
                           ROOT_SECRET_ACCESS_KEY, LocalServer, clean_env, running_local)

PROVIDER_URL = "https://oidc.example.com/e2e"
PROVIDER_ARN = "arn:aws:iam::000000000000:oidc-provider/oidc.example.com/e2e"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def trust_policy(sub: str = "system:serviceaccount:default:app") -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"oidc.example.com/e2e:sub": sub}},
        }],
    })


@pytest.fixture
def local():
    with running_local() as server:
        yield server


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def aws_iam(server, home, *args, check=True):
    """Runs `aws iam ARGS --endpoint-url URL --output json` as the local root."""
    env = clean_env(home)
    env.update({"AWS_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
                "AWS_DEFAULT_REGION": "us-east-1"})
    proc = subprocess.run(["aws", "iam", *args, "--endpoint-url", server.url, "--output", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc


def assert_error(proc, code: str, message: str | None = None):
    assert proc.returncode != 0, proc.stdout
    assert f"An error occurred ({code})" in proc.stderr, proc.stderr
    if message is not None:
        assert message in proc.stderr, proc.stderr


def test_providers_with_aws_cli(local, home):
    created = aws_iam(local, home, "create-open-id-connect-provider", "--url", PROVIDER_URL,
                      "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", THUMB,
                      "--tags", "Key=team,Value=a")
    assert created["OpenIDConnectProviderArn"] == PROVIDER_ARN
    got = aws_iam(local, home, "get-open-id-connect-provider",
                  "--open-id-connect-provider-arn", PROVIDER_ARN)
    assert got["Url"] == "oidc.example.com/e2e"
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]
    listed = aws_iam(local, home, "list-open-id-connect-providers")
    arns = {p["Arn"] for p in listed["OpenIDConnectProviderList"]}
    assert arns == {PROVIDER_ARN, DEMO_PROVIDER_ARN}

    aws_iam(local, home, "add-client-id-to-open-id-connect-provider",
            "--open-id-connect-provider-arn", PROVIDER_ARN, "--client-id", "extra")
    aws_iam(local, home, "update-open-id-connect-provider-thumbprint",
            "--open-id-connect-provider-arn", PROVIDER_ARN, "--thumbprint-list", "A" * 40)
    got = aws_iam(local, home, "get-open-id-connect-provider",
                  "--open-id-connect-provider-arn", PROVIDER_ARN)
    assert got["ClientIDList"] == ["sts.amazonaws.com", "extra"]
    assert got["ThumbprintList"] == ["a" * 40]

    aws_iam(local, home, "delete-open-id-connect-provider",
            "--open-id-connect-provider-arn", PROVIDER_ARN)
    proc = aws_iam(local, home, "get-open-id-connect-provider",
                   "--open-id-connect-provider-arn", PROVIDER_ARN, check=False)
    assert_error(proc, "NoSuchEntity", f"OpenIDConnect Provider not found for arn {PROVIDER_ARN}")


@pytest.mark.parametrize("args, code, message", [
    (["--url", "http://oidc.example.com"], "InvalidInput",
     "The URL must begin with https://."),
    (["--url", "https://oidc.example.com:8443"], "InvalidInput",
     "Invalid Open ID Connect Provider URL."),
    (["--url", "https://oidc.example.com/?x=1"], "InvalidInput",
     "Invalid Open ID Connect Provider URL."),
    (["--url", "https://six.example.com", "--thumbprint-list", *(["a" * 40] * 6)], "InvalidInput",
     "Thumbprint list must contain fewer than 5 entries."),
    (["--url", "https://short.example.com", "--thumbprint-list", "a" * 41], "ValidationError",
     "at 'thumbprintList' failed to satisfy constraint"),
    (["--url", "https://many.example.com", "--client-id-list", *[f"c{i}" for i in range(101)]],
     "LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100"),
])
def test_provider_validation_errors(local, home, args, code, message):
    proc = aws_iam(local, home, "create-open-id-connect-provider", *args, check=False)
    assert_error(proc, code, message)


def test_duplicate_provider(local, home):
    aws_iam(local, home, "create-open-id-connect-provider", "--url", PROVIDER_URL)
    proc = aws_iam(local, home, "create-open-id-connect-provider", "--url", PROVIDER_URL,
                   check=False)
    assert_error(proc, "EntityAlreadyExists", f"Provider with url {PROVIDER_URL} already exists.")


def test_roles_with_aws_cli(local, home):
    policy = trust_policy()
    created = aws_iam(local, home, "create-role", "--role-name", "App", "--path", "/irsa/",
                      "--assume-role-policy-document", policy)["Role"]
    assert created["Arn"] == "arn:aws:iam::000000000000:role/irsa/App"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    # botocore URL-decodes and parses the document: proves it was URL-encoded JSON.
    assert created["AssumeRolePolicyDocument"] == json.loads(policy)
    got = aws_iam(local, home, "get-role", "--role-name", "app")["Role"]
    assert got["RoleName"] == "App" and got["MaxSessionDuration"] == 3600

    aws_iam(local, home, "update-role", "--role-name", "App", "--max-session-duration", "7200")
    other = trust_policy("system:serviceaccount:default:other")
    aws_iam(local, home, "update-assume-role-policy", "--role-name", "App",
            "--policy-document", other)
    got = aws_iam(local, home, "get-role", "--role-name", "App")["Role"]
    assert got["MaxSessionDuration"] == 7200
    assert got["AssumeRolePolicyDocument"] == json.loads(other)

    names = {r["RoleName"] for r in aws_iam(local, home, "list-roles")["Roles"]}
    assert names == {"App", "demo-app"}
    # The CLI paginates with MaxItems/Marker on its own.
    paged = aws_iam(local, home, "list-roles", "--page-size", "1")["Roles"]
    assert {r["RoleName"] for r in paged} == names

    aws_iam(local, home, "delete-role", "--role-name", "App")
    proc = aws_iam(local, home, "get-role", "--role-name", "App", check=False)
    assert_error(proc, "NoSuchEntity", "The role with name App cannot be found.")


@pytest.mark.parametrize("args, code, message", [
    (["--role-name", "demo-APP", "--assume-role-policy-document", trust_policy()],
     "EntityAlreadyExists", "Role with name demo-app already exists."),
    (["--role-name", "bad/name", "--assume-role-policy-document", trust_policy()],
     "ValidationError", "Member must satisfy regular expression pattern: [\\w+=,.@-]+"),
    (["--role-name", "json", "--assume-role-policy-document", "{nope"],
     "MalformedPolicyDocument", None),
    (["--role-name", "big", "--assume-role-policy-document",
      trust_policy("x" * 2100)], "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048"),
    (["--role-name", "long", "--assume-role-policy-document", trust_policy(),
      "--max-session-duration", "43201"], "ValidationError",
     "Member must have value less than or equal to 43200"),
])
def test_role_validation_errors(local, home, args, code, message):
    proc = aws_iam(local, home, "create-role", *args, check=False)
    assert_error(proc, code, message)


def test_wrong_secret_is_rejected(local, home):
    env = clean_env(home)
    env.update({"AWS_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": "wrong",
                "AWS_DEFAULT_REGION": "us-east-1"})
    proc = subprocess.run(["aws", "iam", "list-roles", "--endpoint-url", local.url],
                          capture_output=True, text=True, env=env, timeout=60)
    assert_error(proc, "SignatureDoesNotMatch")
    env["AWS_ACCESS_KEY_ID"] = "AKIANOTKNOWN"
    proc = subprocess.run(["aws", "iam", "list-roles", "--endpoint-url", local.url],
                          capture_output=True, text=True, env=env, timeout=60)
    assert_error(proc, "InvalidClientTokenId")


CONFIG = """
clusters:
  - name: alpha
    account: 000000000000
    region: eu-central-1
  - name: beta
    account: "111111111111"
    region: us-east-1
    issuer: https://oidc.example.com/beta
roles:
  - account: 000000000000
    name: app
    cluster: alpha
    serviceAccounts: ["default/app", "jobs/*"]
    maxSessionDuration: 7200
  - account: "222222222222"
    name: cross
    cluster: alpha
    serviceAccounts: ["default/cross"]
"""


def jwks(server, prefix):
    with urllib.request.urlopen(f"{server.url}{prefix}/keys.json", timeout=10) as r:
        return json.loads(r.read())


def test_config_is_applied_idempotently_across_restarts(home):
    with tempfile.TemporaryDirectory(prefix="irsa-local-config-") as tmp:
        server = LocalServer(Path(tmp), config=CONFIG).start()
        try:
            banner = server.log()
            assert "https://s3.eu-central-1.amazonaws.com/000000000000-g8s-alpha-oidc-pod-identity" in banner
            assert "arn:aws:iam::222222222222:role/cross" in banner
            role = aws_iam(server, home, "get-role", "--role-name", "app")["Role"]
            assert role["MaxSessionDuration"] == 7200
            doc = role["AssumeRolePolicyDocument"]
            assert doc["Statement"][0]["Condition"]["StringLike"]
            keys = jwks(server, "/000000000000-g8s-alpha-oidc-pod-identity")
            # No demo when a config is given.
            names = {r["RoleName"] for r in aws_iam(server, home, "list-roles")["Roles"]}
            assert names == {"app"}
        finally:
            server.stop()
        server = LocalServer(Path(tmp), config=CONFIG).start()
        try:
            again = aws_iam(server, home, "get-role", "--role-name", "app")["Role"]
            assert again["RoleId"] == role["RoleId"]
            assert again["CreateDate"] == role["CreateDate"]
            assert jwks(server, "/000000000000-g8s-alpha-oidc-pod-identity") == keys
            # The custom issuer's documents are served under its path.
            assert jwks(server, "/beta")["keys"]
        finally:
            server.stop()


def test_bad_config_is_reported(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("clusters:\n  - name: x\n    account: '12'\n    region: eu-west-1\n")
    proc = run_irsa("local", "--listen", "127.0.0.1:0", "--data-dir", tmp_path / "d",
                    "--config", cfg)
    assert proc.returncode != 0
    assert "clusters[0] x" in proc.stderr, proc.stderr


def test_token_command_mints_verifiable_tokens(local):
    proc = run_irsa("local", "token", "--endpoint", local.url, "--cluster", "demo",
                    "--namespace", "default", "--service-account", "demo-app",
                    "--expiration", "600")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    keyset = jwt.PyJWKSet.from_dict(jwks(local, "/000000000000-g8s-demo-oidc-pod-identity"))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keyset.keys if k.key_id == kid)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="sts.amazonaws.com",
                        issuer=DEMO_ISSUER)
    assert claims["sub"] == "system:serviceaccount:default:demo-app"
    assert claims["exp"] - claims["iat"] == 600

    proc = run_irsa("local", "token", "--endpoint", local.url, "--cluster", "demo",
                    "--namespace", "default", "--service-account", "demo-app",
                    "--now", "1700000000", "--expiration", "3600")
    assert proc.returncode == 0, proc.stderr
    claims = jwt.decode(proc.stdout.strip(), options={"verify_signature": False})
    assert claims["iat"] == 1700000000 and claims["exp"] == 1700003600

    proc = run_irsa("local", "token", "--endpoint", local.url, "--cluster", "nope",
                    "--namespace", "default", "--service-account", "demo-app")
    assert proc.returncode == 1
    assert "no cluster named \"nope\"" in proc.stderr


def test_token_command_without_server():
    proc = run_irsa("local", "token", "--endpoint", "http://127.0.0.1:9", "--cluster", "demo",
                    "--namespace", "default", "--service-account", "demo-app")
    assert proc.returncode == 1
    assert "is `irsa local` running?" in proc.stderr


def test_exec_injects_the_webhook_environment(local, tmp_path):
    script = ('printf "%s\\n" "$AWS_ROLE_ARN" "$AWS_REGION" "$AWS_DEFAULT_REGION" '
              '"$AWS_STS_REGIONAL_ENDPOINTS" "$AWS_ENDPOINT_URL_STS" "$AWS_ENDPOINT_URL_IAM" '
              '"${AWS_ACCESS_KEY_ID:-unset}" "${AWS_PROFILE:-unset}" "$AWS_WEB_IDENTITY_TOKEN_FILE"; '
              'stat -c %a "$AWS_WEB_IDENTITY_TOKEN_FILE"; head -c 3 "$AWS_WEB_IDENTITY_TOKEN_FILE"; '
              'echo; exit 3')
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAAMBIENT", AWS_SECRET_ACCESS_KEY="x",
               AWS_PROFILE="dev")
    proc = run_irsa("local", "exec", "--endpoint", local.url, "--cluster", "demo",
                    "--namespace", "default", "--service-account", "demo-app",
                    "--role-arn", DEMO_ROLE_ARN, "--", "sh", "-c", script, env=env)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:8] == [DEMO_ROLE_ARN, "eu-west-1", "eu-west-1", "regional", local.url,
                         local.url, "unset", "unset"]
    token_file = Path(lines[8])
    assert lines[9] == "600"
    assert lines[10] == "eyJ"  # a JWS header
    assert not token_file.exists(), "token file left behind"


def test_exec_with_service_account_manifest(local, tmp_path):
    manifest = tmp_path / "sa.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: demo-app\n  namespace: default\n"
        "  annotations:\n    eks.amazonaws.com/role-arn: " + DEMO_ROLE_ARN + "\n"
        "    eks.amazonaws.com/token-expiration: '7200'\n")
    proc = run_irsa("local", "exec", "--endpoint", local.url, "--cluster", "demo",
                    "--service-account-file", manifest, "--",
                    "sh", "-c", 'echo "$AWS_ROLE_ARN"; cat "$AWS_WEB_IDENTITY_TOKEN_FILE"')
    assert proc.returncode == 0, proc.stderr
    role_arn, token = proc.stdout.splitlines()
    assert role_arn == DEMO_ROLE_ARN
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "system:serviceaccount:default:demo-app"
    assert claims["exp"] - claims["iat"] == 7200


def test_exec_full_chain_with_aws_cli(local, tmp_path):
    """The README's walk-through: exec → AssumeRoleWithWebIdentity → GetCallerIdentity."""
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    proc = run_irsa("local", "exec", "--endpoint", local.url, "--cluster", "demo",
                    "--namespace", "default", "--service-account", "demo-app",
                    "--role-arn", DEMO_ROLE_ARN, "--",
                    "aws", "sts", "get-caller-identity", "--output", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    identity = json.loads(proc.stdout)
    assert identity["Arn"].startswith("arn:aws:sts::000000000000:assumed-role/demo-app/")
    assert identity["Account"] == "000000000000"


def test_sigterm_stops_cleanly(tmp_path):
    server = LocalServer(tmp_path).start()
    server.stop()
    assert server.process.returncode == 0, server.log()
    assert "irsa local stopped" in server.log()


def test_exec_cleans_up_when_terminated(local):
    """SIGTERM to `irsa local exec` kills the child and still removes the token."""
    import signal
    from conftest import irsa_bin
    proc = subprocess.Popen(
        [irsa_bin(), "local", "exec", "--endpoint", local.url, "--cluster", "demo",
         "--namespace", "default", "--service-account", "demo-app", "--role-arn", DEMO_ROLE_ARN,
         "--", "sh", "-c", 'echo "$AWS_WEB_IDENTITY_TOKEN_FILE"; exec sleep 30'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        token_file = Path(proc.stdout.readline().strip())
        assert token_file.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGKILL
        assert not token_file.exists(), "token left behind after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
