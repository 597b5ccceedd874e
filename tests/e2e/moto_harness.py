"""A real moto server for end-to-end tests of `irsa provision` (and anything else that
talks to S3/IAM/STS): free loopback port, isolated recorder file, boto3 clients, and the
request log read back from moto's own recorder, so "no mutating request" is asserted from
the server's side, not from irsa's counters.

`FaultProxy` sits between a client and moto and answers a share of requests with 500,
503 `SlowDown`, 400 `Throttling`, or a dropped connection (before or after moto handled the
request), with a seeded random generator so failures are reproducible.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from conftest import REPO
from local_harness import clean_env, free_port

# moto's default account: credentials that moto does not know map to it.
ACCOUNT = "123456789012"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"

# Reads in the IAM/STS query API and S3's REST API; everything else changes something.
_READ_PREFIXES = ("Get", "List", "Describe", "Head")


@dataclass
class Request:
    method: str
    url: str
    action: str | None  # IAM/STS `Action=`, None for S3 REST calls

    @property
    def mutating(self) -> bool:
        if self.action is not None:
            return not self.action.startswith(_READ_PREFIXES)
        return self.method not in ("GET", "HEAD")


class MotoServer:
    """One `moto_server` on a free loopback port with its request recorder on."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recording = workdir / "moto-recording.jsonl"
        self.log_path = workdir / "moto.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "MotoServer":
        env = clean_env(self.workdir)
        env["MOTO_ENABLE_RECORDING"] = "True"
        env["MOTO_RECORDER_FILEPATH"] = str(self.recording)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=1):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    # --- the recorder ---------------------------------------------------------------------

    def reset_requests(self) -> None:
        urllib.request.urlopen(urllib.request.Request(
            self.url + "/moto-api/recorder/reset-recording", method="POST", data=b""), timeout=10)

    def requests(self) -> list[Request]:
        """Every request moto received since the last reset."""
        with urllib.request.urlopen(self.url + "/moto-api/recorder/download-recording",
                                    timeout=10) as resp:
            text = resp.read().decode()
        out = []
        for line in text.splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            action = None
            if entry["method"] == "POST" and "Action=" in body:
                action = urllib.parse.parse_qs(body).get("Action", [None])[0]
            out.append(Request(entry["method"], entry["url"], action))
        return out

    def mutating_requests(self) -> list[Request]:
        return [r for r in self.requests() if r.mutating]

    # --- clients ----------------------------------------------------------------------------

    def env(self, home: Path, access_key: str = "testing", secret_key: str = "testing") -> dict:
        """A clean environment whose credential chain yields static test credentials."""
        env = clean_env(home)
        env["AWS_ACCESS_KEY_ID"] = access_key
        env["AWS_SECRET_ACCESS_KEY"] = secret_key
        return env

    def endpoint_flags(self, url: str | None = None) -> list[str]:
        url = url or self.url
        return ["--s3-endpoint-url", url, "--iam-endpoint-url", url, "--sts-endpoint-url", url]

    def client(self, service: str, region: str = "eu-west-1", **credentials):
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        creds.update(credentials)
        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            config=Config(s3={"addressing_style": "path"}), **creds)

    def other_account_credentials(self, account: str) -> dict:
        """Credentials of another account: moto maps an assumed role's session to the
        account in the role ARN."""
        sts = self.client("sts")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/other",
                                RoleSessionName="other")["Credentials"]
        return {"aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"]}


@contextlib.contextmanager
def running_moto(workdir: Path):
    server = MotoServer(workdir).start()
    try:
        yield server
    finally:
        server.stop()


class FaultProxy:
    """An HTTP proxy to `target` that fails a share `rate` of requests: 500, 503
    `SlowDown`, 400 `Throttling`, a connection dropped before the request reaches moto, or
    one dropped after moto handled it (the client never learns that it succeeded)."""

    KINDS = ("500", "503", "throttling", "drop-before", "drop-after")

    def __init__(self, target: str, rate: float, seed: int = 7):
        self.target = urllib.parse.urlparse(target)
        self.rate = rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: dict[str, int] = {k: 0 for k in self.KINDS}
        self.forwarded = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._draw()
                if fault == "drop-before":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault in ("500", "503", "throttling"):
                    query_api = self.command == "POST" and b"Action=" in body
                    status, code = {
                        "500": (500, "InternalError"),
                        "503": (503, "ServiceUnavailable"),
                        # IAM/STS throttle with 400 Throttling, S3 with 503 SlowDown.
                        "throttling": (400, "Throttling") if query_api else (503, "SlowDown"),
                    }[fault]
                    error = (f"<Error><Type>Sender</Type><Code>{code}</Code>"
                             f"<Message>injected {fault}</Message></Error>")
                    # The query API wraps errors in ErrorResponse; S3's REST API does not.
                    payload = (f"<ErrorResponse>{error}<RequestId>fault</RequestId></ErrorResponse>"
                               if query_api else error).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port,
                                                  timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                with proxy.lock:
                    proxy.forwarded += 1
                if fault == "drop-after":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    # The client may have given up on this attempt (timeout) meanwhile.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _draw(self) -> str | None:
        with self.lock:
            if self.random.random() >= self.rate:
                return None
            kind = self.random.choice(self.KINDS)
            self.injected[kind] += 1
            return kind

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
