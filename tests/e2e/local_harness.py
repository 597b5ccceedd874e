"""Runs `irsa local` for end-to-end tests: free port, temp data dir, isolated HOME.

`LocalServer` starts the server, waits until it answers HTTP, and tears it down. It also
knows how to talk to it the way tests need: raw STS requests (so that server-side
validation can be tested past the clients' own checks), tokens minted by the running server,
and a clean environment for the AWS CLI / boto3 / aws-sdk-rust credential chains.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO, irsa_bin

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"

DEMO_ACCOUNT = "000000000000"
DEMO_REGION = "eu-west-1"
DEMO_CLUSTER = "demo"
DEMO_ISSUER = f"https://s3.{DEMO_REGION}.amazonaws.com/{DEMO_ACCOUNT}-g8s-{DEMO_CLUSTER}-oidc-pod-identity"
DEMO_PROVIDER_ARN = (
    f"arn:aws:iam::{DEMO_ACCOUNT}:oidc-provider/"
    f"s3.{DEMO_REGION}.amazonaws.com/{DEMO_ACCOUNT}-g8s-{DEMO_CLUSTER}-oidc-pod-identity"
)
DEMO_ROLE_ARN = f"arn:aws:iam::{DEMO_ACCOUNT}:role/demo-app"

# Root credentials of the emulator's IAM, passed explicitly so tests do not depend on defaults.
ROOT_ACCESS_KEY_ID = "AKIAIRSALOCALTESTING"
ROOT_SECRET_ACCESS_KEY = "irsa-local-e2e-secret-access-key-000000"

# Variables that would let a client pick up ambient credentials or configuration.
_AMBIENT = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_EC2_METADATA_DISABLED", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_CA_BUNDLE",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path) -> dict:
    """The process environment without any AWS setting, with HOME isolated."""
    env = {k: v for k, v in os.environ.items()
           if k not in _AMBIENT and not k.startswith("IRSA_LOCAL_")}
    env["HOME"] = str(home)
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never wait on IMDS in a test
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@dataclass
class StsError:
    status: int
    code: str
    message: str
    type: str
    request_id: str


@dataclass
class StsAnswer:
    status: int
    body: str
    headers: object  # http.client.HTTPMessage: case-insensitive .get()

    def root(self) -> ET.Element:
        return ET.fromstring(self.body)

    def error(self) -> StsError:
        root = self.root()
        assert root.tag == f"{STS_NS}ErrorResponse", self.body
        err = root.find(f"{STS_NS}Error")
        return StsError(
            status=self.status,
            code=err.findtext(f"{STS_NS}Code"),
            message=err.findtext(f"{STS_NS}Message"),
            type=err.findtext(f"{STS_NS}Type"),
            request_id=root.findtext(f"{STS_NS}RequestId"),
        )

    def text(self, path: str) -> str | None:
        """Text of a `/`-separated path under the root, namespace added per element."""
        return self.root().findtext("/".join(STS_NS + p for p in path.split("/")))


class LocalServer:
    """One running `irsa local`."""

    def __init__(self, workdir: Path, config: str | None = None, extra_args: tuple = ()):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.home = workdir / "server-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = None
        if config is not None:
            self.config_path = workdir / "irsa-local.yaml"
            self.config_path.write_text(config)
        self.extra_args = tuple(extra_args)
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen | None = None
        # Run in the child before exec (for example to lower its open-files limit).
        self.preexec_fn = None

    def args(self) -> list:
        args = [irsa_bin(), "local", "--listen", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.data_dir),
                "--access-key-id", ROOT_ACCESS_KEY_ID,
                "--secret-access-key", ROOT_SECRET_ACCESS_KEY]
        if self.config_path is not None:
            args += ["--config", str(self.config_path)]
        return args + list(self.extra_args)

    def start(self, timeout: float = 30.0) -> "LocalServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=clean_env(self.home), start_new_session=True, preexec_fn=self.preexec_fn)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"irsa local exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/_irsa/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"irsa local did not answer on {self.url} within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    # --- tokens -------------------------------------------------------------------------

    def token(self, namespace="default", service_account="demo-app", cluster=DEMO_CLUSTER,
              audience=None, expiration=None, now=None) -> str:
        """A token minted by the running server (`POST /_irsa/token`, what `irsa local
        token` calls)."""
        request = {"cluster": cluster, "namespace": namespace, "serviceAccount": service_account}
        if audience is not None:
            request["audience"] = audience
        if expiration is not None:
            request["expirationSeconds"] = int(expiration)
        if now is not None:
            request["now"] = int(now)
        req = urllib.request.Request(self.url + "/_irsa/token", data=json.dumps(request).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())["token"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"minting failed: {e.code} {e.read().decode()}") from e

    # --- raw STS ------------------------------------------------------------------------

    def sts(self, params: dict, method: str = "POST", headers: dict | None = None) -> StsAnswer:
        """Sends an unsigned STS query request, as the SDKs' web-identity fetchers do."""
        query = urllib.parse.urlencode(params)
        hdrs = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        hdrs.update(headers or {})
        if method == "GET":
            req = urllib.request.Request(f"{self.url}/?{query}", method="GET", headers=hdrs)
        else:
            req = urllib.request.Request(f"{self.url}/", data=query.encode(), method="POST",
                                         headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return StsAnswer(resp.status, resp.read().decode(), resp.headers)
        except urllib.error.HTTPError as e:
            return StsAnswer(e.code, e.read().decode(), e.headers)

    def assume(self, token: str, role_arn: str = DEMO_ROLE_ARN, session: str = "e2e-session",
               **extra) -> StsAnswer:
        params = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                  "RoleArn": role_arn, "RoleSessionName": session, "WebIdentityToken": token}
        params.update({k: str(v) for k, v in extra.items()})
        return self.sts(params)

    # --- client environments ------------------------------------------------------------

    def web_identity_env(self, home: Path, token: str, role_arn: str = DEMO_ROLE_ARN,
                         session: str | None = None, token_suffix: str = "") -> dict:
        """The environment the webhook injects, with STS pointed at this server."""
        home.mkdir(parents=True, exist_ok=True)
        token_file = home / "token"
        token_file.write_text(token + token_suffix)
        env = clean_env(home)
        env.update({
            "AWS_ROLE_ARN": role_arn,
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ENDPOINT_URL_STS": self.url,
            "AWS_REGION": DEMO_REGION,
            "AWS_DEFAULT_REGION": DEMO_REGION,
        })
        if session is not None:
            env["AWS_ROLE_SESSION_NAME"] = session
        return env


@contextlib.contextmanager
def running_local(config: str | None = None, extra_args: tuple = ()):
    """Starts `irsa local` in a fresh temp dir and stops it on exit."""
    with tempfile.TemporaryDirectory(prefix="irsa-local-e2e-") as tmp:
        server = LocalServer(Path(tmp), config=config, extra_args=extra_args).start()
        try:
            yield server
        finally:
            server.stop()


# --- hostile tokens ---------------------------------------------------------------------

def unverified_claims(token: str) -> dict:
    import jwt
    return jwt.decode(token, options={"verify_signature": False})


def unverified_header(token: str) -> dict:
    import jwt
    return jwt.get_unverified_header(token)


def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def forge(claims: dict, key, alg: str = "RS256", kid: str | None = "forged-kid") -> str:
    """A token signed by PyJWT with a key the server does not know (or an HMAC secret)."""
    import jwt
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def unsigned(claims: dict, kid: str | None = None) -> str:
    """An `alg: none` token (empty signature segment)."""
    import base64
    import json

    def b64(obj) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = {"alg": "none", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return f"{b64(header)}.{b64(claims)}."


def tamper_signature(token: str) -> str:
    """Changes one character in the middle of the signature segment."""
    head, payload, sig = token.split(".")
    i = len(sig) // 2
    sig = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
    return f"{head}.{payload}.{sig}"


def tamper_payload(token: str, **changes) -> str:
    """Re-encodes the payload with changed claims, keeping the original signature."""
    import base64
    import json
    head, _payload, sig = token.split(".")
    claims = unverified_claims(token)
    claims.update(changes)
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return f"{head}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{sig}"


# --- the configuration the STS tests run against -------------------------------------------

DENY_ROLE_ARN = f"arn:aws:iam::{DEMO_ACCOUNT}:role/team/deny-app"
LONG_ROLE_ARN = f"arn:aws:iam::{DEMO_ACCOUNT}:role/long-app"
_KEY = DEMO_PROVIDER_ARN.split("oidc-provider/", 1)[1]

DENY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": DEMO_PROVIDER_ARN},
         "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {f"{_KEY}:aud": "sts.amazonaws.com"},
                       "StringLike": {f"{_KEY}:sub": "system:serviceaccount:default:*"}}},
        {"Sid": "NoBlocked", "Effect": "Deny", "Principal": {"Federated": DEMO_PROVIDER_ARN},
         "Action": "sts:AssumeRole*",
         "Condition": {"StringEquals": {f"{_KEY}:sub": "system:serviceaccount:default:blocked"}}},
    ],
}


def e2e_config() -> str:
    """The demo cluster and role, plus a wildcard role with an explicit Deny and a role that
    allows 2-hour sessions (YAML is a superset of JSON: the policy is embedded as JSON)."""
    import json
    return f"""
clusters:
  - name: {DEMO_CLUSTER}
    account: "{DEMO_ACCOUNT}"
    region: {DEMO_REGION}
roles:
  - account: "{DEMO_ACCOUNT}"
    name: demo-app
    cluster: {DEMO_CLUSTER}
    serviceAccounts: ["default/demo-app"]
  - account: "{DEMO_ACCOUNT}"
    name: deny-app
    path: /team/
    assumeRolePolicyDocument: {json.dumps(json.dumps(DENY_POLICY))}
  - account: "{DEMO_ACCOUNT}"
    name: long-app
    cluster: {DEMO_CLUSTER}
    serviceAccounts: ["default/demo-app"]
    maxSessionDuration: 7200
"""
