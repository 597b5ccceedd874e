"""`irsa token verify --jwks URL` fetches with the STS's rules (irsa-issuer-client).

The same client serves the STS's remote issuers, so what the STS refuses, `token verify`
refuses too: documents over 1 MiB, a discovery document whose `issuer` is not the expected
one, and plain http:// to anything but a loopback host.
"""

import http.server
import json
import threading

from conftest import run_irsa
from test_oidc_jose import AUD, ISSUER, discovery, keygen, mint, verify


class Served:
    """A loopback HTTP server for the files of one directory."""

    def __init__(self, directory):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(directory), **kw)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def write_discovery(out, base, issuer):
    """Rewrites the discovery document so its `jwks_uri` is on the loopback server."""
    path = out / ".well-known" / "openid-configuration"
    doc = json.loads(path.read_text())
    doc["issuer"] = issuer
    doc["jwks_uri"] = base + "/keys.json"
    path.write_text(json.dumps(doc))


def test_oversized_jwks_is_refused(tmp_path):
    keys = keygen(tmp_path)
    out, _, jwks = discovery(tmp_path, keys / "sa.pub")
    padded = json.dumps(jwks) + " " * (1024 * 1024)
    (out / "big.json").write_text(padded)
    token = mint(keys / "sa.key")
    with Served(out) as served:
        assert verify(token, served.base + "/keys.json").returncode == 0
        proc = verify(token, served.base + "/big.json")
    assert proc.returncode == 1, proc.stderr
    assert "larger than 1048576 bytes" in proc.stderr
    assert "big.json" in proc.stderr


def test_discovery_document_must_name_the_expected_issuer(tmp_path):
    keys = keygen(tmp_path)
    out, _, _ = discovery(tmp_path, keys / "sa.pub")
    token = mint(keys / "sa.key")
    with Served(out) as served:
        url = served.base + "/.well-known/openid-configuration"
        write_discovery(out, served.base, ISSUER)
        ok = verify(token, url)
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["iss"] == ISSUER

        write_discovery(out, served.base, "https://someone-else.example.com")
        proc = verify(token, url)
    assert proc.returncode == 1
    assert "someone-else.example.com" in proc.stderr and "must be equal" in proc.stderr


def test_plain_http_is_refused_except_to_loopback(tmp_path):
    keys = keygen(tmp_path)
    token = mint(keys / "sa.key")
    proc = verify(token, "http://oidc.example.com/cluster-1/keys.json")
    assert proc.returncode == 2
    assert "loopback" in proc.stderr and "https://" in proc.stderr
    # A discovery document may not send the verifier to plain http elsewhere either.
    out, _, _ = discovery(tmp_path, keys / "sa.pub")
    with Served(out) as served:
        write_discovery(out, "http://oidc.example.com/cluster-1", ISSUER)
        proc = verify(token, served.base + "/.well-known/openid-configuration")
    assert proc.returncode == 1
    assert "jwks_uri" in proc.stderr and "loopback" in proc.stderr


def test_https_jwks_needs_a_trusted_certificate(tmp_path):
    """`--ca-file` that is not PEM is the caller's error (exit 2), named in the message."""
    keys = keygen(tmp_path)
    token = mint(keys / "sa.key")
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    proc = run_irsa("token", "verify", token, "--jwks", "https://127.0.0.1:1/keys.json",
                    "--issuer", ISSUER, "--audience", AUD, "--ca-file", bad)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr
