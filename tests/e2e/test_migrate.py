"""`irsa migrate kiam`: the guide's "Migration from kiam" done by the binary, and undone.

The transform itself is covered by the golden tests of `crates/irsa-migrate`; these drive the
real binary: stdin, stdout/stderr, exit codes, `--trust-policies` files equal to what
`irsa trust-policy` prints for the same role, and a round trip through `--rollback`.
"""

import json
from pathlib import Path

from conftest import REPO, run_irsa

FIXTURES = REPO / "tests" / "fixtures" / "migrate"
ACCOUNT = "111111111111"


def test_stdin_to_stdout_with_summary_on_stderr():
    text = (FIXTURES / "kiam.yaml").read_text()
    proc = run_irsa("migrate", "kiam", "-f", "-", "--account", ACCOUNT, input=text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (FIXTURES / "kiam.migrated.yaml").read_text()
    assert "iam.amazonaws.com/role:" not in proc.stdout
    assert "5 workload(s) migrated" in proc.stderr
    assert all(line.startswith("irsa migrate kiam: ") for line in proc.stderr.splitlines())

    back = run_irsa("migrate", "kiam", "-f", "-", "--rollback", input=proc.stdout)
    assert back.returncode == 0, back.stderr
    again = run_irsa("migrate", "kiam", "-f", "-", "--account", ACCOUNT, input=back.stdout)
    assert again.stdout == proc.stdout


def test_trust_policies_are_the_ones_irsa_trust_policy_prints(tmp_path: Path):
    out = tmp_path / "policies"
    proc = run_irsa("migrate", "kiam", "-f", FIXTURES / "kiam.yaml", "--account", ACCOUNT,
                    "--trust-policies", out, "--region", "eu-west-1", "--cluster", "abc12")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "cross-account-reports.json", "reportingdb-reader.json", "worker-role.json"]
    expected = run_irsa("trust-policy", "--account", ACCOUNT, "--region", "eu-west-1",
                        "--cluster", "abc12", "--namespace", "reporting",
                        "--service-account", "api", "--service-account", "debug")
    assert json.loads((out / "reportingdb-reader.json").read_text()) == json.loads(expected.stdout)
    cross = run_irsa("trust-policy", "--account", ACCOUNT, "--region", "eu-west-1",
                     "--cluster", "abc12", "--namespace", "reporting",
                     "--service-account", "report", "--role-account", "222222222222")
    assert json.loads((out / "cross-account-reports.json").read_text()) == json.loads(cross.stdout)


def test_conflict_exits_1_naming_both_workloads():
    proc = run_irsa("migrate", "kiam", "-f", FIXTURES / "conflict.yaml", "--account", ACCOUNT)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Deployment shop/reader" in proc.stderr and "Deployment shop/writer" in proc.stderr


def test_bad_usage_exits_2():
    for args in (["--account", "1234"], ["--account", ACCOUNT, "--partition", "aws-cn",
                                         "--region", "eu-west-1"]):
        proc = run_irsa("migrate", "kiam", "-f", FIXTURES / "kiam.yaml", *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
    proc = run_irsa("migrate", "kiam", "-f", "-", "--account", ACCOUNT, input="a: [1, 2\n")
    assert proc.returncode == 2
    assert "not valid YAML" in proc.stderr
    proc = run_irsa("migrate", "kiam", "-f", FIXTURES / "kiam.yaml", "--account", ACCOUNT,
                    "--trust-policies", "x")
    assert proc.returncode == 2, "--trust-policies needs --region and --cluster"
