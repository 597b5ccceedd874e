"""`irsa mutate`: the webhook's pod mutation run offline on manifest files.

The JSON Patch printed by the CLI is applied here with an independent RFC 6902 implementation
(a few lines below, `add` only, which is all the planner emits) to check that it is the patch
that produces the pod printed by `--output pod`.
"""

import json
import textwrap
from pathlib import Path

import pytest
import yaml

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: team
  annotations:
    note: no
    eks.amazonaws.com/token-expiration: "3600"
spec:
  serviceAccountName: s3-reader
  initContainers:
  - name: proxy
    image: envoy
    restartPolicy: Always
  containers:
  - name: app
    image: amazonlinux
    env:
    - name: ZIP
      value: "012"
    readinessProbe:
      grpc:
        port: 5000
"""

SA = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: s3-reader
  namespace: team
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/s3-reader
    eks.amazonaws.com/sts-regional-endpoints: "true"
"""

ROLE = "arn:aws:iam::111122223333:role/s3-reader"
TOKEN = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def apply_patch(doc, ops):
    """Minimal RFC 6902 `add` (with `-` append and array insertion)."""
    doc = json.loads(json.dumps(doc))
    for op in ops:
        assert op["op"] == "add", op
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
        target = doc
        for t in tokens[:-1]:
            target = target[int(t)] if isinstance(target, list) else target[t]
        last = tokens[-1]
        if isinstance(target, list):
            target.insert(len(target) if last == "-" else int(last), op["value"])
        else:
            target[last] = op["value"]
    return doc


@pytest.fixture
def files(tmp_path):
    return write(tmp_path, "pod.yaml", POD), write(tmp_path, "sa.yaml", SA)


def test_patch_output_is_granular_and_produces_the_pod_output(irsa, files):
    pod, sa = files
    patch = irsa("mutate", "-f", pod, "--service-account", sa, "--aws-default-region", "eu-west-1")
    assert patch.returncode == 0, patch.stderr
    ops = json.loads(patch.stdout)
    paths = [op["path"] for op in ops]
    assert "/spec/containers" not in paths and "/spec/initContainers" not in paths
    assert paths[0] == "/spec/volumes"
    assert paths.count("/spec/containers/0/env/-") == 5
    assert "/spec/initContainers/0/env" in paths
    assert "sts_web_identity" in patch.stderr

    out = irsa("mutate", "-f", pod, "--service-account", sa, "--aws-default-region", "eu-west-1",
               "--output", "pod")
    assert out.returncode == 0, out.stderr
    mutated = json.loads(out.stdout)
    app = mutated["spec"]["containers"][0]
    assert [e["name"] for e in app["env"]] == [
        "ZIP", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]
    assert app["env"][0]["value"] == "012"
    assert app["env"][4]["value"] == ROLE and app["env"][5]["value"] == TOKEN
    assert app["readinessProbe"] == {"grpc": {"port": 5000}}
    assert mutated["spec"]["initContainers"][0]["restartPolicy"] == "Always"
    assert mutated["metadata"]["annotations"]["note"] == "no"
    token = mutated["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token == {"audience": "sts.amazonaws.com", "expirationSeconds": 3600, "path": "token"}

    # The printed patch, applied to the input pod, is exactly the printed pod.
    as_json = irsa("mutate", "-f", pod, "--output", "pod")  # no SA: unchanged pod, as JSON
    assert as_json.returncode == 0, as_json.stderr
    assert "not given" in as_json.stderr
    assert apply_patch(json.loads(as_json.stdout), ops) == mutated


def test_reinvocation_on_the_mutated_pod_gives_an_empty_patch(irsa, files, tmp_path):
    pod, sa = files
    out = irsa("mutate", "-f", pod, "--service-account", sa, "--output", "pod-yaml")
    assert out.returncode == 0, out.stderr
    again = write(tmp_path, "mutated.yaml", out.stdout)
    second = irsa("mutate", "-f", again, "--service-account", sa)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == []


def test_container_credentials_mode(irsa, files, tmp_path):
    pod, sa = files
    cc = write(tmp_path, "cc.json", '{"identities":[{"namespace":"team","serviceAccount":"s3-reader"}]}')
    out = irsa("mutate", "-f", pod, "--service-account", sa, "--container-credentials-config", cc,
               "--jitter-offset", "0", "--output", "pod")
    assert out.returncode == 0, out.stderr
    mutated = json.loads(out.stdout)
    assert mutated["metadata"]["labels"] == {"eks.amazonaws.com/pod-identity": "enabled"}
    names = [e["name"] for e in mutated["spec"]["containers"][0]["env"]]
    assert names[-2:] == ["AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
    assert "AWS_ROLE_ARN" not in names


def test_config_map_role_with_a_malformed_entry(irsa, files, tmp_path):
    pod, _ = files
    cm = write(tmp_path, "cm.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: pod-identity-webhook
        data:
          config: '{"*/s3-reader": {"RoleARN": "arn:aws:iam::111122223333:role/from-cm"}, "broken": {}}'
        """)
    out = irsa("mutate", "-f", pod, "--config-map", cm, "--output", "pod")
    assert out.returncode == 0, out.stderr
    assert "skipping ConfigMap entry \"broken\"" in out.stderr
    env = mutated_env(json.loads(out.stdout))
    assert env["AWS_ROLE_ARN"] == "arn:aws:iam::111122223333:role/from-cm"


def mutated_env(pod):
    return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("content, message", [
    (None, "cannot read pod file"),
    ("kind: Pod\nspec: [\n", "is not valid YAML"),
    ("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n", "expected kind Pod"),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers: 3\n", "is not a valid Pod"),
])
def test_bad_pod_file_exits_2_naming_the_file(irsa, tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    out = irsa("mutate", "-f", path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "bad.yaml" in out.stderr
    assert out.stdout == ""


def test_service_account_that_is_not_the_pods_exits_2(irsa, files, tmp_path):
    pod, _ = files
    other = write(tmp_path, "other.yaml", SA.replace("name: s3-reader", "name: someone-else"))
    out = irsa("mutate", "-f", pod, "--service-account", other)
    assert out.returncode == 2
    assert "someone-else" in out.stderr and "s3-reader" in out.stderr


FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "webhook").glob("*.yaml"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_cli_reproduces_every_ported_upstream_scenario(irsa, tmp_path, fixture):
    """The same scenarios as the Rust conformance test, through the CLI's flags and files."""
    scenario = yaml.safe_load(fixture.read_text())
    pod = tmp_path / "pod.json"
    pod.write_text(json.dumps(scenario["pod"]))
    args = ["mutate", "-f", pod, "--output", "pod", "--jitter-offset", str(scenario.get("jitterOffset", 0))]
    sa = scenario.get("serviceAccount")
    if sa is not None:
        sa_path = tmp_path / "sa.json"
        sa_path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": scenario["pod"]["spec"].get("serviceAccountName", "default"),
                         "namespace": "default", "annotations": sa.get("annotations") or {}},
        }))
        args += ["--service-account", sa_path]
    for flag, value in (scenario.get("webhook") or {}).items():
        if flag == "container-credentials-identities":
            cc = tmp_path / "cc.json"
            cc.write_text(json.dumps({"identities": value}))
            args += ["--container-credentials-config", cc]
        elif isinstance(value, bool):
            args.append(f"--{flag}={'true' if value else 'false'}")
        else:
            args += [f"--{flag}", str(value)]
    out = irsa(*args)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == scenario["expectedPod"]
