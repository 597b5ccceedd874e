"""`irsa doctor` from the outside: exit statuses and the JSON document.

The checks themselves are covered by the golden cases of `crates/irsa-cli/tests/doctor_golden.rs`
over `tests/fixtures/doctor/`.
"""

import json

from conftest import REPO, run_irsa

FIXTURES = REPO / "tests" / "fixtures" / "doctor"
COMMON = ["--account", "111111111111", "--region", "eu-west-1", "--cluster", "abc12",
          "--now", "1764000600", "--jwks", "shared/keys.json", "--provider-url",
          "https://s3.eu-west-1.amazonaws.com/111111111111-g8s-abc12-oidc-pod-identity"]


def doctor(*args):
    return run_irsa("doctor", *args, cwd=FIXTURES)


def test_healthy_json_allows_and_exits_0():
    proc = doctor("--pod", "shared/pod.yaml", "--service-account", "shared/sa.yaml",
                  "--trust-policy", "shared/get-role.json", "--token", "shared/token",
                  "--output", "json", *COMMON)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    decision = next(c for c in report["checks"] if c["id"] == "trust.decision")
    assert decision["status"] == "PASS" and decision["evidence"].startswith("ALLOW")


def test_guide_cross_account_policy_is_denied_and_exits_1():
    proc = doctor("--trust-policy", "shared/trust-policy-guide-cross-account.json",
                  "--role-arn", "arn:aws:iam::222222222222:role/reports",
                  "--token", "shared/token", "--output", "json", *COMMON)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    status = {c["id"]: c["status"] for c in report["checks"]}
    assert status["trust.federated"] == "FAIL"
    assert status["trust.decision"] == "FAIL"


def test_bad_usage_exits_2():
    for args in (["--account", "1234"], ["--pod", "missing.yaml"], ["--role-arn", "app"],
                 ["--cluster", "abc12"]):
        proc = doctor(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stdout == ""
