"""Issuers that `irsa local` does not host: discovery and JWKS fetched over HTTPS from an
identity provider served here with a self-signed CA (`irsa local --ca-file`), the discovery
`issuer` checked, the key set cached and re-fetched on an unknown `kid`, and an unreachable
provider answered with `IDPCommunicationError` (sts-behaviour.md §2 steps 8-9, §9.7)."""

import datetime
import http.server
import json
import ssl
import threading
import time

import boto3
import botocore
import jwt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local_harness import (DEMO_REGION, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, free_port,
                           running_local)

ACCOUNT = "000000000000"


def make_ca_and_cert(tmp):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "irsa e2e test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp / "server.pem").write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    (tmp / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp / "ca.pem"


def public_jwk(private_key, kid):
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return jwk


class Idp:
    """An HTTPS identity provider with two tenants: `good` and `liar` (whose discovery
    document names another issuer)."""

    def __init__(self, tmp):
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.keys = {"k1": ec.generate_private_key(ec.SECP256R1())}
        self.published = ["k1"]
        self.requests = []
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                idp.requests.append(self.path)
                for tenant in ("good", "liar"):
                    issuer = f"{idp.base}/{tenant}"
                    if self.path == f"/{tenant}/.well-known/openid-configuration":
                        claimed = issuer if tenant == "good" else issuer + "/"
                        return self.reply({"issuer": claimed, "jwks_uri": f"{issuer}/keys.json",
                                           "response_types_supported": ["id_token"],
                                           "subject_types_supported": ["public"],
                                           "id_token_signing_alg_values_supported": ["ES256"]})
                    if self.path == f"/{tenant}/keys.json":
                        return self.reply({"keys": [public_jwk(idp.keys[k], k)
                                                    for k in idp.published]})
                self.send_error(404)

            def reply(self, obj):
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / "server.pem", tmp / "server.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def issuer(self, tenant="good"):
        return f"{self.base}/{tenant}"

    def token(self, tenant="good", kid="k1", sub="system:serviceaccount:default:remote-app",
              **changes):
        now = int(time.time())
        claims = {"iss": self.issuer(tenant), "sub": sub, "aud": ["sts.amazonaws.com"],
                  "iat": now, "nbf": now, "exp": now + 3600}
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="ES256", headers={"kid": kid})

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def trust_policy(issuer):
    host_path = issuer.removeprefix("https://")
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host_path}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host_path}:aud": "sts.amazonaws.com"},
                      "StringLike": {f"{host_path}:sub": "system:serviceaccount:default:*"}}}]})


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("idp")
    ca = make_ca_and_cert(tmp)
    idp = Idp(tmp)
    with running_local(extra_args=("--ca-file", str(ca))) as local:
        iam = boto3.client("iam", endpoint_url=local.url, region_name=DEMO_REGION,
                           aws_access_key_id=ROOT_ACCESS_KEY_ID,
                           aws_secret_access_key=ROOT_SECRET_ACCESS_KEY)
        for tenant in ("good", "liar"):
            iam.create_open_id_connect_provider(Url=idp.issuer(tenant),
                                                ClientIDList=["sts.amazonaws.com"],
                                                ThumbprintList=["0" * 40])
            iam.create_role(RoleName=f"remote-{tenant}",
                            AssumeRolePolicyDocument=trust_policy(idp.issuer(tenant)))
        # A provider whose host answers nothing.
        dead = f"https://127.0.0.1:{free_port()}/dead"
        iam.create_open_id_connect_provider(Url=dead, ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["0" * 40])
        iam.create_role(RoleName="remote-dead", AssumeRolePolicyDocument=trust_policy(dead))
        yield local, idp, dead
    idp.stop()


def assume(local, role, token):
    sts = boto3.client("sts", endpoint_url=local.url, region_name=DEMO_REGION,
                       config=Config(signature_version=botocore.UNSIGNED,
                                     retries={"max_attempts": 1}))
    return sts.assume_role_with_web_identity(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                             RoleSessionName="remote", WebIdentityToken=token)


def error_of(call):
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]


def test_remote_es256_issuer_is_fetched_verified_and_cached(env):
    local, idp, _dead = env
    out = assume(local, "remote-good", idp.token())
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/remote-good/remote"
    assert out["Provider"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/127.0.0.1:{idp.port}/good"
    fetched = len(idp.requests)
    assert idp.requests[-2:] == ["/good/.well-known/openid-configuration", "/good/keys.json"]
    assume(local, "remote-good", idp.token(sub="system:serviceaccount:default:other"))
    assert len(idp.requests) == fetched, "second call served from the cache"


@pytest.mark.parametrize("changes, code, message", [
    ({"aud": None}, "InvalidIdentityToken", "Missing a required claim: aud"),
    ({"aud": "someone-else"}, "InvalidIdentityToken", "Incorrect token audience"),
    ({"sub": None}, "InvalidIdentityToken", "Missing a required claim: sub"),
    ({"exp": int(time.time()) - 400}, "ExpiredTokenException", None),
    ({"exp": float(int(time.time()) + 600)}, "InvalidIdentityToken", None),
    ({"nbf": int(time.time()) + 3600}, "InvalidIdentityToken", "Token not yet valid"),
])
def test_claims_of_a_correctly_signed_token(env, changes, code, message):
    local, idp, _dead = env
    err = error_of(lambda: assume(local, "remote-good", idp.token(**changes)))
    assert err["Code"] == code, err
    if message is not None:
        assert err["Message"] == message, err


def test_a_forged_token_for_a_remote_issuer_is_rejected(env):
    local, idp, _dead = env
    stranger = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    token = jwt.encode({"iss": idp.issuer(), "sub": "system:serviceaccount:default:x",
                        "aud": "sts.amazonaws.com", "iat": now, "exp": now + 600},
                       stranger, algorithm="ES256", headers={"kid": "k1"})
    assert error_of(lambda: assume(local, "remote-good", token))["Code"] == "InvalidIdentityToken"


def test_unknown_kid_refetches_the_key_set_rate_limited(env):
    local, idp, _dead = env
    assume(local, "remote-good", idp.token())  # make sure the set is cached
    idp.keys["k2"] = ec.generate_private_key(ec.SECP256R1())
    idp.published = ["k1", "k2"]
    deadline = time.monotonic() + 30
    attempts = 0
    while True:
        attempts += 1
        try:
            assume(local, "remote-good", idp.token(kid="k2"))
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidIdentityToken"
            assert time.monotonic() < deadline, "rotated key never picked up"
            time.sleep(1)
    jwks_gets = [r for r in idp.requests if r == "/good/keys.json"]
    # One re-fetch picked up k2; the failed attempts in between did not each hit the IdP.
    assert len(jwks_gets) <= 3, (attempts, idp.requests)


def test_discovery_issuer_must_equal_the_token_issuer(env):
    local, idp, _dead = env
    err = error_of(lambda: assume(local, "remote-liar", idp.token(tenant="liar")))
    assert err["Code"] == "InvalidIdentityToken"
    assert err["Message"].startswith("Couldn't retrieve verification key")


def test_unreachable_provider_is_idp_communication_error(env):
    local, idp, dead = env
    now = int(time.time())
    token = jwt.encode({"iss": dead, "sub": "system:serviceaccount:default:x",
                        "aud": ["sts.amazonaws.com"], "iat": now, "exp": now + 600},
                       idp.keys["k1"], algorithm="ES256", headers={"kid": "k1"})
    err = error_of(lambda: assume(local, "remote-dead", token))
    assert err["Code"] == "IDPCommunicationError"
