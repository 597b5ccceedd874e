"""`irsa oidc …` and `irsa token …` against an independent JOSE implementation.

PyJWT and `cryptography` are the peers: tokens irsa mints must verify with PyJWT against
irsa's keys.json, tokens PyJWT signs with irsa's sa.key must verify with `irsa token verify`,
and keys written by `cryptography` in every PEM shape kube-apiserver accepts must load.
"""

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import ssl
import stat
import threading
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import run_irsa

ISSUER = "https://oidc.example.com/cluster-1"
AUD = "sts.amazonaws.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def kube_kid(public_key) -> str:
    """kube-apiserver's key ID, computed independently with `cryptography`."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def keygen(tmp_path, *args, name="k"):
    out = tmp_path / name
    proc = run_irsa("oidc", "keygen", "--out", out, *args)
    assert proc.returncode == 0, proc.stderr
    return out


def discovery(tmp_path, *key_files, issuer=ISSUER, name="pub"):
    out = tmp_path / name
    args = []
    for f in key_files:
        args += ["--public-key", f]
    proc = run_irsa("oidc", "discovery", "--issuer", issuer, *args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / ".well-known" / "openid-configuration").read_text())
    jwks = json.loads((out / "keys.json").read_text())
    return out, doc, jwks


def mint(key_file, *args, issuer=ISSUER):
    proc = run_irsa("token", "mint", "--key", key_file, "--issuer", issuer,
                    "--namespace", "default", "--service-account", "app", *args)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.count(".") == 2
    return token


def verify(token, jwks_file, *args, issuer=ISSUER, audience=AUD):
    return run_irsa("token", "verify", token, "--jwks", jwks_file, "--issuer", issuer,
                    "--audience", audience, *args)


def load_private(path):
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


# --- keygen -------------------------------------------------------------------------------

def test_keygen_writes_pkcs8_0600_and_spki_and_refuses_to_overwrite(tmp_path):
    out = keygen(tmp_path)
    key_file, pub_file = out / "sa.key", out / "sa.pub"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pub_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    private = load_private(key_file)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    public = serialization.load_pem_public_key(pub_file.read_bytes())
    assert public.public_numbers() == private.public_key().public_numbers()

    before = key_file.read_bytes()
    again = run_irsa("oidc", "keygen", "--out", out)
    assert again.returncode == 1
    assert "refusing to overwrite" in again.stderr and "sa.key" in again.stderr
    assert key_file.read_bytes() == before

    forced = run_irsa("oidc", "keygen", "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert key_file.read_bytes() != before
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_keygen_es256_and_rsa_sizes(tmp_path):
    es = keygen(tmp_path, "--algorithm", "ES256", name="es")
    private = load_private(es / "sa.key")
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1"
    big = keygen(tmp_path, "--bits", "3072", name="big")
    assert load_private(big / "sa.key").key_size == 3072
    bad = run_irsa("oidc", "keygen", "--out", tmp_path / "x", "--bits", "1024")
    assert bad.returncode == 2
    mixed = run_irsa("oidc", "keygen", "--out", tmp_path / "y", "--algorithm", "ES256",
                     "--bits", "2048")
    assert mixed.returncode == 2 and "--bits" in mixed.stderr


# --- discovery ----------------------------------------------------------------------------

def test_discovery_document_and_jwks_fields(tmp_path):
    rs = keygen(tmp_path, name="rs")
    es = keygen(tmp_path, "--algorithm", "ES256", name="es")
    # a private key file is accepted and reduced to its public half
    _, doc, jwks = discovery(tmp_path, rs / "sa.pub", es / "sa.key", rs / "sa.key")
    assert doc == {
        "issuer": ISSUER,
        "jwks_uri": ISSUER + "/keys.json",
        "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "claims_supported": ["sub", "iss"],
    }
    assert len(jwks["keys"]) == 2, "the same key given twice is published once"
    rsa_jwk, ec_jwk = jwks["keys"]
    assert set(rsa_jwk) == {"kty", "alg", "use", "kid", "n", "e"}
    assert set(ec_jwk) == {"kty", "alg", "use", "kid", "crv", "x", "y"}
    assert rsa_jwk["kid"] == kube_kid(load_private(rs / "sa.key").public_key())
    assert ec_jwk["kid"] == kube_kid(load_private(es / "sa.key").public_key())
    assert (rsa_jwk["use"], rsa_jwk["alg"], ec_jwk["alg"], ec_jwk["crv"]) == \
        ("sig", "RS256", "ES256", "P-256")
    # PyJWT reconstructs the same public keys from the JWKS
    numbers = jwt.PyJWK(rsa_jwk).key.public_numbers()
    assert numbers == load_private(rs / "sa.key").public_key().public_numbers()


def test_discovery_rejects_bad_issuers_and_names_bad_files(tmp_path):
    rs = keygen(tmp_path)
    for issuer in ["http://oidc.example.com", "https://oidc.example.com:8443",
                   "https://oidc.example.com/x?y=1"]:
        proc = run_irsa("oidc", "discovery", "--issuer", issuer, "--public-key", rs / "sa.pub",
                        "--out", tmp_path / "o")
        assert proc.returncode == 2, issuer
        assert "--issuer" in proc.stderr
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    proc = run_irsa("oidc", "discovery", "--issuer", ISSUER, "--public-key", garbage,
                    "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert str(garbage) in proc.stderr and "no PEM block" in proc.stderr
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])).sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    csr_file = tmp_path / "req.pem"
    csr_file.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    proc = run_irsa("oidc", "discovery", "--issuer", ISSUER, "--public-key", csr_file,
                    "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert str(csr_file) in proc.stderr and "CERTIFICATE REQUEST" in proc.stderr


# --- interop: irsa mints, PyJWT verifies ----------------------------------------------------

@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_irsa_minted_tokens_verify_with_pyjwt(tmp_path, algorithm):
    keys = keygen(tmp_path, "--algorithm", algorithm)
    out, _, jwks = discovery(tmp_path, keys / "sa.pub")
    token = mint(keys / "sa.key", "--pod-name", "app-7d9", "--pod-uid", "p-uid",
                 "--service-account-uid", "sa-uid", "--expiration", "3600")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": algorithm, "kid": jwks["keys"][0]["kid"]}, "kube sets no typ"
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(token, key=key, algorithms=[algorithm], audience=AUD, issuer=ISSUER,
                        options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud"]})
    assert claims["sub"] == "system:serviceaccount:default:app"
    assert claims["aud"] == [AUD]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["kubernetes.io"] == {
        "namespace": "default",
        "pod": {"name": "app-7d9", "uid": "p-uid"},
        "serviceaccount": {"name": "app", "uid": "sa-uid"},
    }
    assert len(claims["jti"]) == 36
    # irsa's own verifier agrees
    proc = verify(token, out / "keys.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == claims


def test_minted_audiences_and_fixed_time(tmp_path):
    keys = keygen(tmp_path)
    out, _, jwks = discovery(tmp_path, keys / "sa.pub")
    token = mint(keys / "sa.key", "--audience", "a1", "--audience", "a2", "--now", "1700000000")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == ["a1", "a2"]
    assert (claims["iat"], claims["exp"]) == (1700000000, 1700000000 + 86400)
    assert verify(token, out / "keys.json", "--now", "1700000100", audience="a2").returncode == 0
    late = verify(token, out / "keys.json", "--now", str(1700000000 + 86400 + 301), audience="a2")
    assert late.returncode == 1 and "rejected (expired)" in late.stderr


# --- interop: PyJWT signs with irsa's key, irsa verifies ------------------------------------

@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_pyjwt_signed_tokens_verify_with_irsa(tmp_path, algorithm):
    keys = keygen(tmp_path, "--algorithm", algorithm)
    out, _, jwks = discovery(tmp_path, keys / "sa.pub")
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "system:serviceaccount:ns:sa", "aud": [AUD],
              "iat": now, "nbf": now, "exp": now + 600}
    token = jwt.encode(claims, (keys / "sa.key").read_text(), algorithm=algorithm,
                       headers={"kid": jwks["keys"][0]["kid"]})
    proc = verify(token, out / "keys.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == claims
    # from a file with a trailing newline, as SDKs read it
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    proc = run_irsa("token", "verify", "--token-file", token_file, "--jwks", out / "keys.json",
                    "--issuer", ISSUER, "--audience", AUD)
    assert proc.returncode == 0, proc.stderr


def test_irsa_rejects_tokens_pyjwt_would_sign(tmp_path):
    keys = keygen(tmp_path)
    out, _, jwks = discovery(tmp_path, keys / "sa.pub")
    kid = jwks["keys"][0]["kid"]
    pem = (keys / "sa.key").read_text()
    now = int(time.time())
    good = {"iss": ISSUER, "sub": "system:serviceaccount:ns:sa", "aud": AUD, "exp": now + 600}

    def reason(claims, headers=None, **kw):
        token = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid, **(headers or {})})
        proc = verify(token, out / "keys.json", **kw)
        assert proc.returncode == 1, proc.stdout
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        return proc.stderr.split("rejected (")[1].split(")")[0]

    assert reason({**good, "exp": now - 400}) == "expired"
    assert reason({**good, "iss": ISSUER + "/"}) == "iss_trailing_slash"
    assert reason({**good, "iss": "https://evil.example.com"}) == "iss_mismatch"
    assert reason({**good, "aud": "someone-else"}) == "aud_mismatch"
    assert reason({k: v for k, v in good.items() if k != "sub"}) == "sub_missing"
    assert reason({**good, "nbf": now + 3600}) == "nbf_in_future"
    assert reason({**good, "exp": now + 600.5}) == "date_not_integer"
    assert reason(good, headers={"kid": "not-a-known-kid"}) == "unknown_kid"
    # HS256 keyed with the public key PEM (the classic algorithm-confusion attack): PyJWT
    # refuses to build it, so sign by hand.
    public_pem = (keys / "sa.pub").read_bytes()
    signing_input = (b64url(json.dumps({"alg": "HS256", "kid": kid}).encode()) + "." +
                     b64url(json.dumps(good).encode()))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    proc = verify(signing_input + "." + b64url(mac), out / "keys.json")
    assert proc.returncode == 1 and "rejected (alg_symmetric)" in proc.stderr
    unsigned = b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(good).encode()) + "."
    proc = verify(unsigned, out / "keys.json")
    assert proc.returncode == 1 and "rejected (alg_none)" in proc.stderr


# --- key formats written by `cryptography` --------------------------------------------------

def write_pem(path, data):
    path.write_bytes(data)
    return path


def test_key_formats_kube_apiserver_accepts_load(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    trad = serialization.PrivateFormat.TraditionalOpenSSL
    pem = serialization.Encoding.PEM
    none = serialization.NoEncryption()
    pkcs1_priv = write_pem(tmp_path / "pkcs1.key", rsa_key.private_bytes(pem, trad, none))
    sec1_priv = write_pem(tmp_path / "sec1.key", ec_key.private_bytes(pem, trad, none))
    p384_priv = write_pem(tmp_path / "p384.key", p384.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, none))
    assert pkcs1_priv.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert sec1_priv.read_text().startswith("-----BEGIN EC PRIVATE KEY-----")
    pkcs1_pub = write_pem(tmp_path / "pkcs1.pub", rsa_key.public_key().public_bytes(
        pem, serialization.PublicFormat.PKCS1))
    assert pkcs1_pub.read_text().startswith("-----BEGIN RSA PUBLIC KEY-----")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sa-signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(ec_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2024, 1, 1))
            .not_valid_after(datetime.datetime(2034, 1, 1))
            .sign(ec_key, hashes.SHA256()))
    cert_file = write_pem(tmp_path / "signer.crt", cert.public_bytes(pem))

    out, doc, jwks = discovery(tmp_path, pkcs1_pub, cert_file, p384_priv)
    assert [k["kid"] for k in jwks["keys"]] == [
        kube_kid(rsa_key.public_key()), kube_kid(ec_key.public_key()), kube_kid(p384.public_key())]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256", "ES384"]

    for key_file, key, alg in [(pkcs1_priv, rsa_key, "RS256"), (sec1_priv, ec_key, "ES256"),
                               (p384_priv, p384, "ES384")]:
        token = mint(key_file)
        claims = jwt.decode(token, key.public_key(), algorithms=[alg], audience=AUD,
                            issuer=ISSUER)
        assert claims["sub"] == "system:serviceaccount:default:app"
        assert jwt.get_unverified_header(token)["kid"] == kube_kid(key.public_key())
        assert verify(token, out / "keys.json").returncode == 0


def test_mint_with_a_public_key_names_the_file(tmp_path):
    keys = keygen(tmp_path)
    proc = run_irsa("token", "mint", "--key", keys / "sa.pub", "--issuer", ISSUER,
                    "--namespace", "default", "--service-account", "app")
    assert proc.returncode == 2
    assert str(keys / "sa.pub") in proc.stderr and '"PUBLIC KEY"' in proc.stderr


# --- JWKS over HTTP -------------------------------------------------------------------------

def test_verify_fetches_jwks_from_a_url(tmp_path):
    keys = keygen(tmp_path)
    out, _, _ = discovery(tmp_path, keys / "sa.pub")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(out), **kw)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        token = mint(keys / "sa.key")
        proc = verify(token, base + "/keys.json")
        assert proc.returncode == 0, proc.stderr
        missing = verify(token, base + "/nope.json")
        assert missing.returncode == 1 and "404" in missing.stderr
    finally:
        server.shutdown()
        server.server_close()


# --- apiserver flags ------------------------------------------------------------------------

def test_apiserver_flags_and_sts_audience_warning(tmp_path):
    proc = run_irsa("oidc", "apiserver-flags", "--issuer", "https://new.example.com",
                    "--signing-key", "/etc/kubernetes/pki/sa.key",
                    "--public-key", "/etc/kubernetes/pki/sa.pub",
                    "--public-key", "/etc/kubernetes/pki/old.pub",
                    "--previous-issuer", "https://old.example.com",
                    "--api-audience", "https://kubernetes.default.svc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "--service-account-issuer=https://new.example.com",
        "--service-account-issuer=https://old.example.com",
        "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
        "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
        "--service-account-key-file=/etc/kubernetes/pki/old.pub",
        "--api-audiences=https://kubernetes.default.svc",
    ]
    assert proc.stderr == ""
    warned = run_irsa("oidc", "apiserver-flags", "--issuer", "https://new.example.com",
                      "--signing-key", "sa.key", "--public-key", "sa.pub",
                      "--api-audience", "sts.amazonaws.com")
    assert warned.returncode == 0
    assert "sts.amazonaws.com" in warned.stderr and "warning" in warned.stderr


# --- thumbprint against a Python TLS server ---------------------------------------------------

def make_pki(tmp_path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test root")])
    start, end = datetime.datetime(2024, 1, 1), datetime.datetime(2034, 1, 1)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca


def serve_tls(cert_file, key_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def test_thumbprint_is_sha1_of_the_last_ca_in_the_served_chain(tmp_path):
    ca = make_pki(tmp_path)
    server = serve_tls(tmp_path / "chain.pem", tmp_path / "leaf.key")
    try:
        port = server.server_address[1]
        proc = run_irsa("oidc", "thumbprint", f"https://127.0.0.1:{port}/keys.json",
                        "--ca-file", tmp_path / "ca.pem")
        assert proc.returncode == 0, proc.stderr
        expected = hashlib.sha1(ca.public_bytes(serialization.Encoding.DER)).hexdigest()
        assert proc.stdout.strip() == expected
    finally:
        server.shutdown()
        server.server_close()
    # a server that sends only its leaf: no CA certificate in the chain
    server = serve_tls(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    try:
        port = server.server_address[1]
        proc = run_irsa("oidc", "thumbprint", f"https://127.0.0.1:{port}",
                        "--ca-file", tmp_path / "ca.pem")
        assert proc.returncode == 1
        assert "CA certificate" in proc.stderr
    finally:
        server.shutdown()
        server.server_close()
