"""Hostile HTTP clients against both servers as processes (issue 9, items 4 to 8).

Every test here is a client holding a resource the server used to give it forever: a
partial header, a body shorter than its Content-Length, an unterminated chunked body, an
idle TLS connection, all of the process's file descriptors, or a shutdown. The bounds are
the defaults of `irsa_runtime::ServeLimits` (10 s header, 15 s request, 20 s idle, 10 s
drain); each wait below is a liveness bound well above them, not a performance assertion.
"""

import contextlib
import resource
import select
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import irsa_bin
from local_harness import LocalServer
from test_webhook import FakeApi, free_port, make_certs

# Longer than every server-side bound (header 10 s, request 15 s, idle 20 s), shorter than
# the 30 s an API server waits for a webhook.
RELEASED_WITHIN = 28


def raise_own_fd_limit(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def limit_fds(n: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def partial_header(port: int, text: bytes = b"POST / HTTP/1.1\r\nHost: x\r\nContent-") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(text)
    return s


def wait_closed(socks: list, within: float) -> list:
    """Reads from every socket until each reports EOF or an error; returns those still open."""
    pending = {s: b"" for s in socks}
    deadline = time.monotonic() + within
    while pending and time.monotonic() < deadline:
        readable, _, _ = select.select(list(pending), [], [], 0.5)
        for s in readable:
            try:
                chunk = s.recv(4096)
            except (ConnectionError, OSError, ssl.SSLError):
                chunk = b""
            if chunk:
                pending[s] += chunk
            else:
                del pending[s]
    return list(pending)


@contextlib.contextmanager
def local(preexec_fn=None):
    with tempfile.TemporaryDirectory(prefix="irsa-hostile-") as tmp:
        server = LocalServer(Path(tmp))
        server.preexec_fn = preexec_fn
        server.start()
        try:
            yield server
        finally:
            server.stop()


# --- irsa local ----------------------------------------------------------------------------

def test_local_answers_413_in_the_aws_xml_error_envelope():
    """A body over the 1 MiB limit gets AWS's XML error envelope, like every other error,
    whether the limit is seen in Content-Length or while streaming a chunked body."""
    body = b"Action=GetCallerIdentity&Version=2011-06-15&Pad=" + b"a" * (2 * 1024 * 1024)

    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    with local() as server:
        for data in (body, chunks()):
            req = urllib.request.Request(server.url + "/", data=data, method="POST", headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=10)
            assert err.value.code == 413
            assert err.value.headers["Content-Type"].startswith("text/xml")
            root = ET.fromstring(err.value.read())
            ns = {"a": root.tag[1:].split("}")[0]}
            assert root.tag.endswith("ErrorResponse")
            assert root.findtext("a:Error/a:Code", namespaces=ns) == "RequestEntityTooLarge"
            assert root.findtext("a:Error/a:Type", namespaces=ns) == "Sender"
            assert root.findtext("a:RequestId", namespaces=ns)


def test_local_releases_partial_headers_and_slowloris():
    with local() as server:
        socks = [partial_header(server.port) for _ in range(50)]
        # Slowloris: one byte every second keeps a connection busy but never finishes a header.
        slow = partial_header(server.port, b"G")
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                try:
                    slow.send(b"E")
                except OSError:
                    return
                time.sleep(1)

        threading.Thread(target=trickle, daemon=True).start()
        try:
            still_open = wait_closed(socks + [slow], RELEASED_WITHIN)
        finally:
            stop.set()
        assert not still_open, f"{len(still_open)} of 51 connections still held:\n{server.log()}"
        # The server is healthy afterwards.
        with urllib.request.urlopen(server.url + "/_irsa/health", timeout=5) as r:
            assert r.status == 200
        for s in socks + [slow]:
            s.close()


def test_local_answers_health_checks_when_partial_headers_exceed_the_fd_limit():
    raise_own_fd_limit(4096)
    with local(preexec_fn=limit_fds(256)) as server:
        socks = [partial_header(server.port) for _ in range(300)]
        try:
            with urllib.request.urlopen(server.url + "/_irsa/health",
                                        timeout=RELEASED_WITHIN) as r:
                assert r.status == 200
        finally:
            for s in socks:
                s.close()
        # Accept errors (if any) are rate-limited, not logged in a loop.
        assert server.log().count("accept failed") <= 30, server.log()


def test_local_sigterm_finishes_while_a_client_holds_a_partial_header():
    with local() as server:
        held = partial_header(server.port)
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=RELEASED_WITHIN)
        finally:
            held.close()
        assert code == 0, server.log()


# --- irsa webhook --------------------------------------------------------------------------

@contextlib.contextmanager
def webhook(tmp_path, preexec_fn=None):
    from http.server import ThreadingHTTPServer
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
    log = open(tmp_path / "webhook.log", "wb")
    proc = subprocess.Popen(
        [irsa_bin(), "webhook", "--bind-address=127.0.0.1", f"--port={port}",
         f"--metrics-port={metrics_port}", f"--kubeconfig={tmp_path / 'kubeconfig'}",
         f"--tls-cert={tmp_path / 'tls.crt'}", f"--tls-key={tmp_path / 'tls.key'}"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
    log.close()
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    base = f"https://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", context=ctx, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise AssertionError((tmp_path / "webhook.log").read_text())
        time.sleep(0.1)
    hook = {"proc": proc, "port": port, "metrics_port": metrics_port, "base": base,
            "ctx": ctx, "log": lambda: (tmp_path / "webhook.log").read_text(errors="replace")}
    try:
        yield hook
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        api.shutdown()


def tls_socket(hook, timeout=5.0) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", hook["port"]), timeout=timeout)
    return hook["ctx"].wrap_socket(raw, server_hostname="127.0.0.1")


REVIEW = (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":'
          b'{"uid":"u-1","namespace":"team","object":{"metadata":{"name":"p"},'
          b'"spec":{"serviceAccountName":"app","containers":[{"name":"a"}]}}}}')


def test_webhook_answers_incomplete_bodies_below_the_api_server_timeout(tmp_path):
    with webhook(tmp_path) as hook:
        short = tls_socket(hook)
        short.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n" + REVIEW[:10])
        chunked = tls_socket(hook)
        chunked.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
        for s in (short, chunked):
            s.settimeout(RELEASED_WITHIN)
            answer = s.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            s.close()


def test_webhook_closes_idle_tls_connections(tmp_path):
    with webhook(tmp_path) as hook:
        idle = [tls_socket(hook) for _ in range(5)]
        # One more that was used once and then left idle on keep-alive.
        used = tls_socket(hook)
        used.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert used.recv(4096).startswith(b"HTTP/1.1 200")
        still_open = wait_closed(idle + [used], RELEASED_WITHIN)
        assert not still_open, f"{len(still_open)} idle connections still open"


def test_webhook_serves_good_requests_when_idle_connections_exceed_the_fd_limit(tmp_path):
    raise_own_fd_limit(4096)
    with webhook(tmp_path, preexec_fn=limit_fds(128)) as hook:
        raws = [socket.create_connection(("127.0.0.1", hook["port"]), timeout=5)
                for _ in range(116)]
        held = []

        def handshake(raw):
            try:
                held.append(hook["ctx"].wrap_socket(raw, server_hostname="127.0.0.1"))
            except OSError:
                pass

        threads = [threading.Thread(target=handshake, args=(r,)) for r in raws]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        try:
            req = urllib.request.Request(hook["base"] + "/mutate", data=REVIEW, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, context=hook["ctx"], timeout=RELEASED_WITHIN) as r:
                assert r.status == 200
        finally:
            for s in held + raws:
                s.close()


def test_webhook_sigterm_finishes_while_clients_hold_partial_requests(tmp_path):
    with webhook(tmp_path) as hook:
        on_metrics = partial_header(hook["metrics_port"], b"GET /metrics HTTP/1.1\r\nHost:")
        on_admission = tls_socket(hook)
        on_admission.sendall(b"POST /mutate HTTP/1.1\r\nHost:")
        hook["proc"].send_signal(signal.SIGTERM)
        try:
            code = hook["proc"].wait(timeout=RELEASED_WITHIN)
        finally:
            on_metrics.close()
            on_admission.close()
        assert code == 0, hook["log"]()


def test_webhook_invented_methods_do_not_grow_metrics(tmp_path):
    with webhook(tmp_path) as hook:
        for i in range(20):
            method = "X" * 4096 + str(i)
            s = tls_socket(hook)
            s.sendall(f"{method} /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n".encode())
            s.settimeout(10)
            answer = s.recv(4096)
            s.close()
            assert answer.startswith(b"HTTP/1.1 405"), answer[:200]
        with urllib.request.urlopen(f"http://127.0.0.1:{hook['metrics_port']}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
        assert "XXXX" not in text
        assert 'verb="OTHER",path="/mutate",code="405"} 20' in text, text
