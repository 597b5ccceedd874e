"""`irsa local exec --service-account-file` gives the process exactly what the webhook gives a
pod of that ServiceAccount: the same variables (from `irsa mutate --output pod`, the webhook's
planner offline) and a token with the audience and lifetime of the webhook's projected volume.

Regression for the old exec-only annotation parser: `token-expiration: "300"` gave 300 s (the
webhook raises it to 600), `"1h"` was an error (the webhook ignores it), an empty `role-arn`
produced `AWS_ROLE_ARN=""`, and a custom annotation prefix was not supported."""

import json

import jwt
import pytest

from conftest import run_irsa
from local_harness import DEMO_REGION, DEMO_ROLE_ARN, e2e_config, running_local

PRINT = ('for v in AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_REGION AWS_DEFAULT_REGION '
         'AWS_STS_REGIONAL_ENDPOINTS; do eval "x=\\${$v-unset}"; echo "$v=$x"; done; '
         'cat "$AWS_WEB_IDENTITY_TOKEN_FILE" 2>/dev/null || true')

# (annotation prefix, annotations) — each row is one ServiceAccount.
TABLE = [
    ("eks.amazonaws.com", {"eks.amazonaws.com/role-arn": DEMO_ROLE_ARN}),
    ("eks.amazonaws.com", {"eks.amazonaws.com/role-arn": DEMO_ROLE_ARN,
                           "eks.amazonaws.com/token-expiration": "300"}),
    ("eks.amazonaws.com", {"eks.amazonaws.com/role-arn": DEMO_ROLE_ARN,
                           "eks.amazonaws.com/token-expiration": "1h"}),
    ("eks.amazonaws.com", {"eks.amazonaws.com/role-arn": DEMO_ROLE_ARN,
                           "eks.amazonaws.com/token-expiration": "7200",
                           "eks.amazonaws.com/sts-regional-endpoints": "false",
                           "eks.amazonaws.com/audience": "sts.amazonaws.com"}),
    ("eks.amazonaws.com", {"eks.amazonaws.com/role-arn": ""}),
    ("corp.example", {"corp.example/role-arn": DEMO_ROLE_ARN,
                      "corp.example/token-expiration": "900"}),
]


@pytest.fixture(scope="module")
def local():
    with running_local(config=e2e_config()) as server:
        yield server


def write_manifests(tmp_path, annotations):
    sa = tmp_path / "sa.yaml"
    sa.write_text(json.dumps({"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": {"name": "demo-app", "namespace": "default",
                                           "annotations": annotations}}))
    pod = tmp_path / "pod.yaml"
    pod.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": "p", "namespace": "default"},
                               "spec": {"serviceAccountName": "demo-app",
                                        "containers": [{"name": "app", "image": "x"}]}}))
    return sa, pod


@pytest.mark.parametrize("prefix,annotations", TABLE)
def test_exec_gives_what_the_webhook_gives(local, tmp_path, prefix, annotations):
    sa, pod = write_manifests(tmp_path, annotations)
    mutated = run_irsa("mutate", "-f", pod, "--service-account", sa, "--output", "pod",
                       "--annotation-prefix", prefix, "--aws-default-region", DEMO_REGION,
                       "--sts-regional-endpoint")
    assert mutated.returncode == 0, mutated.stderr
    mutated = json.loads(mutated.stdout)
    webhook_env = {e["name"]: e["value"] for e in mutated["spec"]["containers"][0].get("env", [])}

    done = run_irsa("local", "exec", "--endpoint", local.url, "--cluster", "demo",
                    "--service-account-file", sa, "--annotation-prefix", prefix,
                    "--", "sh", "-c", PRINT)
    if "AWS_ROLE_ARN" not in webhook_env:
        # No role for the webhook: no mutation; exec refuses rather than inject AWS_ROLE_ARN="".
        assert done.returncode == 2, done.stdout
        assert "no role to assume" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    exec_env = dict(line.split("=", 1) for line in lines[:5])
    token = lines[5]
    for name in ("AWS_ROLE_ARN", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_STS_REGIONAL_ENDPOINTS"):
        assert exec_env[name] == webhook_env.get(name, "unset"), (name, exec_env, webhook_env)
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in webhook_env

    source = mutated["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == source["expirationSeconds"]
    assert claims["aud"] in (source["audience"], [source["audience"]])
