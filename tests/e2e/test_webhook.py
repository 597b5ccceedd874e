"""`irsa webhook` as a process: upstream-style flags, TLS, a fake Kubernetes API, SIGTERM.

The fake API is a stdlib HTTP server answering the metadata list/watch of ServiceAccounts
and the ConfigMap list/watch; the serving certificate comes from `cryptography`.
"""

import base64
import datetime
import ipaddress
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import irsa_bin

ROLE = "arn:aws:iam::111122223333:role/e2e-reader"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "irsa-webhook")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


class FakeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service_accounts = {("team", "app"): {"eks.amazonaws.com/role-arn": ROLE}}

    def log_message(self, *args):
        pass

    def _json(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if "watch=true" in self.path or "watch=1" in self.path:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            time.sleep(30)
            return
        if self.path.startswith("/api/v1/serviceaccounts"):
            items = [{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                      "metadata": {"namespace": ns, "name": name, "resourceVersion": "3",
                                   "annotations": ann}}
                     for (ns, name), ann in self.service_accounts.items()]
            self._json({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                        "metadata": {"resourceVersion": "3"}, "items": items})
        elif "/configmaps" in self.path:
            self._json({"apiVersion": "v1", "kind": "ConfigMapList",
                        "metadata": {"resourceVersion": "3"}, "items": []})
        else:
            self._json({"kind": "Status", "code": 404, "reason": "NotFound"}, 404)


@pytest.fixture
def webhook(tmp_path):
    make_certs(tmp_path)
    ThreadingHTTPServer.daemon_threads = True
    api = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: f\n  cluster:\n"
        f"    server: http://127.0.0.1:{api.server_address[1]}\n"
        "users:\n- name: u\n  user: {}\ncontexts:\n- name: f\n  context: {cluster: f, user: u}\n"
        "current-context: f\n")
    port, metrics_port = free_port(), free_port()
    proc = subprocess.Popen(
        [irsa_bin(), "webhook", "--in-cluster=false", "--namespace=irsa-system",
         "--annotation-prefix=eks.amazonaws.com", "--token-audience=sts.amazonaws.com",
         "--logtostderr", "--v=2", "--watch-config-map", "--sts-regional-endpoint",
         "--aws-default-region=eu-west-1", "--bind-address=127.0.0.1",
         f"--port={port}", f"--metrics-port={metrics_port}",
         f"--kubeconfig={tmp_path / 'kubeconfig'}",
         f"--tls-cert={tmp_path / 'tls.crt'}", f"--tls-key={tmp_path / 'tls.key'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    base = f"https://127.0.0.1:{port}"
    deadline = time.time() + 20
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", context=ctx, timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError(f"webhook never became ready: {proc.communicate()[1]}")
        time.sleep(0.1)
    yield {"proc": proc, "base": base, "ctx": ctx, "metrics": f"http://127.0.0.1:{metrics_port}"}
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    api.shutdown()


def post(hook, body: bytes, content_type="application/json"):
    req = urllib.request.Request(hook["base"] + "/mutate", data=body, method="POST",
                                 headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(req, context=hook["ctx"], timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_v1_review_gets_base64_patch_with_region_and_sts(webhook):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"serviceAccountName": "app",
                    "containers": [{"name": "c", "image": "busybox"}]}}
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": "e2e-1", "namespace": "team", "operation": "CREATE",
                          "object": pod}}
    status, body = post(webhook, json.dumps(review).encode())
    assert status == 200
    out = json.loads(body)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == "e2e-1" and out["response"]["allowed"] is True
    assert out["response"]["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(out["response"]["patch"]))
    env_values = {}
    for op in ops:
        value = op.get("value")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and "name" in item and "value" in item:
                env_values[item["name"]] = item["value"]
            for e in (item.get("env", []) if isinstance(item, dict) else []):
                env_values[e["name"]] = e.get("value")
    assert env_values["AWS_ROLE_ARN"] == ROLE
    assert env_values["AWS_REGION"] == "eu-west-1"
    assert env_values["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"


def test_bad_content_type_and_metrics_names(webhook):
    status, body = post(webhook, b"{}", content_type="application/xml")
    assert status == 415
    assert body == b"Invalid Content-Type, expected `application/json`\n"
    status, body = post(webhook, b"{}")
    assert status == 200 and json.loads(body)["response"]["allowed"] is False
    with urllib.request.urlopen(webhook["metrics"] + "/metrics", timeout=5) as r:
        text = r.read().decode()
    assert 'http_request_count{verb="POST",path="/mutate",code="415"} 1' in text
    assert "http_request_latencies_bucket" in text
    assert "# TYPE pod_identity_webhook_missing_sa_count counter" in text


def test_sigterm_shuts_down_cleanly(webhook):
    proc = webhook["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert "shutting down" in proc.stderr.read()
