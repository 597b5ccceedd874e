"""`irsa provision` / `irsa deprovision` against a real moto server, read back with boto3.

Every assertion about what exists is made with boto3 (an independent client), and every
"no mutating request" with moto's own request recorder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import run_irsa
from moto_harness import ACCOUNT, THUMBPRINT, running_moto

CLUSTER = "abc12"
REGION = "eu-west-1"
BUCKET = f"{ACCOUNT}-g8s-{CLUSTER}-oidc-pod-identity"
ISSUER = f"https://s3.{REGION}.amazonaws.com/{BUCKET}"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/s3.{REGION}.amazonaws.com/{BUCKET}"


@pytest.fixture
def moto(tmp_path):
    with running_moto(tmp_path / "moto") as server:
        yield server


def kid_of(pub_pem: bytes) -> str:
    key = serialization.load_pem_public_key(pub_pem)
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class Cli:
    """Runs irsa against one moto server with a clean environment and a key directory."""

    def __init__(self, moto, tmp_path: Path, region=REGION, cluster=CLUSTER, endpoint=None):
        self.moto = moto
        self.key_dir = tmp_path / f"keys-{cluster}"
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        self.region = region
        self.cluster = cluster
        self.endpoint = endpoint

    def identity(self):
        return ["--account", ACCOUNT, "--region", self.region, "--cluster", self.cluster,
                *self.moto.endpoint_flags(self.endpoint)]

    def provision(self, *extra, thumbprint=True, **kwargs):
        args = ["provision", *self.identity(), "--key-dir", self.key_dir]
        if thumbprint:
            args += ["--thumbprint", THUMBPRINT]
        return run_irsa(*args, *extra, env=self.moto.env(self.home), **kwargs)

    def deprovision(self, *extra, **kwargs):
        return run_irsa("deprovision", *self.identity(), *extra, env=self.moto.env(self.home),
                        **kwargs)


def ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def test_provision_publishes_everything_boto3_can_read_back(moto, tmp_path):
    cli = Cli(moto, tmp_path)
    p = ok(cli.provision("--client-id", "extra-audience", "--tag", "team=platform"))
    s3, iam = moto.client("s3"), moto.client("iam")

    # stdout: issuer, provider ARN, apiserver flags, roll note, closing line.
    assert f"issuer: {ISSUER}" in p.stdout
    assert f"provider: {PROVIDER_ARN}" in p.stdout
    assert f"--service-account-issuer={ISSUER}" in p.stdout.splitlines()
    assert f"--service-account-signing-key-file={cli.key_dir / 'sa.key'}" in p.stdout.splitlines()
    assert f"--service-account-key-file={cli.key_dir / 'sa.pub'}" in p.stdout.splitlines()
    assert "masters must roll" in p.stdout or "master) nodes must roll" in p.stdout
    assert p.stdout.splitlines()[-1].startswith("8 mutating calls")
    # stderr: one progress line per step.
    assert f"bucket {BUCKET} created" in p.stderr
    assert f"keys.json s3://{BUCKET}/keys.json uploaded" in p.stderr
    assert f"provider {PROVIDER_ARN} created" in p.stderr

    # Key directory: PKCS#8 sa.key mode 0600, SPKI sa.pub.
    assert (cli.key_dir / "sa.key").stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in (cli.key_dir / "sa.key").read_bytes()
    pub = (cli.key_dir / "sa.pub").read_bytes()
    assert b"BEGIN PUBLIC KEY" in pub

    # Bucket.
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    rules = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert pab["BlockPublicAcls"] is False and pab["IgnorePublicAcls"] is False
    enc = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"irsa.io/cluster": CLUSTER, "team": "platform"}

    # Objects: content type, public-read ACL, content.
    for key in (".well-known/openid-configuration", "keys.json"):
        obj = s3.get_object(Bucket=BUCKET, Key=key)
        assert obj["ContentType"] == "application/json"
        grants = s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
        assert any(g["Grantee"].get("URI") == "http://acs.amazonaws.com/groups/global/AllUsers"
                   and g["Permission"] == "READ" for g in grants), grants
    discovery = json.loads(s3.get_object(Bucket=BUCKET, Key=".well-known/openid-configuration")["Body"].read())
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == f"{ISSUER}/keys.json"
    assert discovery["response_types_supported"] == ["id_token"]
    assert discovery["subject_types_supported"] == ["public"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert discovery["claims_supported"] == ["sub", "iss"]
    jwks = json.loads(s3.get_object(Bucket=BUCKET, Key="keys.json")["Body"].read())
    assert [k["kid"] for k in jwks["keys"]] == [kid_of(pub)]
    assert jwks["keys"][0]["kty"] == "RSA" and jwks["keys"][0]["alg"] == "RS256"
    assert jwks["keys"][0]["use"] == "sig"

    # Provider.
    prov = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert prov["Url"].removeprefix("https://") == f"s3.{REGION}.amazonaws.com/{BUCKET}"
    assert sorted(prov["ClientIDList"]) == ["extra-audience", "sts.amazonaws.com"]
    assert prov["ThumbprintList"] == [THUMBPRINT]
    ptags = {t["Key"]: t["Value"] for t in prov["Tags"]}
    assert ptags == {"irsa.io/cluster": CLUSTER, f"kubernetes.io/cluster/{CLUSTER}": "owned",
                     "team": "platform"}


def test_second_run_makes_zero_mutating_requests_seen_by_moto(moto, tmp_path):
    cli = Cli(moto, tmp_path)
    ok(cli.provision("--tag", "team=platform"))
    assert moto.mutating_requests(), "the recorder sees the first run's writes"
    moto.reset_requests()
    p = ok(cli.provision("--tag", "team=platform"))
    assert moto.mutating_requests() == []
    reads = moto.requests()
    assert 0 < len(reads) <= 6, reads
    assert p.stdout.splitlines()[-1] == "0 mutating calls: up to date"
    for step in (f"bucket {BUCKET} up to date", "keys.json", f"provider {PROVIDER_ARN} up to date"):
        assert step in p.stderr
    assert "keys.json s3://" in p.stderr and "up to date" in p.stderr
    assert "must roll" not in p.stdout


def test_drift_is_corrected_by_the_next_run(moto, tmp_path):
    cli = Cli(moto, tmp_path)
    ok(cli.provision("--tag", "team=platform"))
    s3, iam = moto.client("s3"), moto.client("iam")
    # Someone removes a bucket tag, replaces the thumbprint, changes a provider tag value
    # and overwrites keys.json. (moto has no Add/RemoveClientID: client-ID drift is tested
    # against irsa local's IAM below.)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "irsa.io/cluster", "Value": CLUSTER}]})
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=PROVIDER_ARN,
                                                   ThumbprintList=["0" * 40])
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN,
                                     Tags=[{"Key": "team", "Value": "someone-else"}])
    s3.put_object(Bucket=BUCKET, Key="keys.json", Body=b'{"keys":[]}', ContentType="application/json")
    moto.reset_requests()
    p = ok(cli.provision("--tag", "team=platform"))
    actions = sorted(r.action or f"{r.method} {r.url.split('?')[-1]}" for r in moto.mutating_requests())
    assert "UpdateOpenIDConnectProviderThumbprint" in actions
    assert "TagOpenIDConnectProvider" in actions
    assert "PUT /" + BUCKET + "/keys.json" in {f"{r.method} {r.url.split('?')[0].split(':' + str(moto.port))[-1]}" for r in moto.mutating_requests()}
    assert not p.stdout.splitlines()[-1].startswith("0 ")
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["team"] == "platform"
    prov = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
    assert prov["ThumbprintList"] == [THUMBPRINT]
    assert {t["Key"]: t["Value"] for t in prov["Tags"]}["team"] == "platform"
    jwks = json.loads(s3.get_object(Bucket=BUCKET, Key="keys.json")["Body"].read())
    assert [k["kid"] for k in jwks["keys"]] == [kid_of((cli.key_dir / "sa.pub").read_bytes())]
    moto.reset_requests()
    ok(cli.provision("--tag", "team=platform"))
    assert moto.mutating_requests() == []


def test_deprovision_removes_ours_and_keeps_unrelated_resources(moto, tmp_path):
    s3, iam = moto.client("s3"), moto.client("iam")
    s3.create_bucket(Bucket="unrelated-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    other = iam.create_open_id_connect_provider(Url="https://unrelated.example.com",
                                                ClientIDList=["sts.amazonaws.com"],
                                                ThumbprintList=[THUMBPRINT])["OpenIDConnectProviderArn"]
    cli = Cli(moto, tmp_path)
    ok(cli.provision())
    d = ok(cli.deprovision())
    assert f"provider {PROVIDER_ARN} deleted" in d.stderr
    assert f"bucket {BUCKET} deleted" in d.stderr
    assert d.stdout.splitlines()[-1].startswith("4 mutating calls")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert buckets == ["unrelated-bucket"]
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert arns == [other]
    # Idempotent: nothing left is not an error.
    moto.reset_requests()
    again = ok(cli.deprovision())
    assert again.stdout.splitlines()[-1] == "0 mutating calls: up to date"
    assert moto.mutating_requests() == []
    # The key directory stays (kube-apiserver may still sign with it).
    assert (cli.key_dir / "sa.key").exists()


def test_deprovision_touches_only_resources_tagged_as_ours(moto, tmp_path):
    s3, iam = moto.client("s3"), moto.client("iam")
    # Same names, created by hand without our tag.
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    iam.create_open_id_connect_provider(Url=ISSUER, ClientIDList=["sts.amazonaws.com"],
                                        ThumbprintList=[THUMBPRINT])
    d = ok(Cli(moto, tmp_path).deprovision())
    assert "kept (not tagged irsa.io/cluster=abc12)" in d.stderr
    assert d.stdout.splitlines()[-1] == "0 mutating calls: up to date"
    assert BUCKET in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1


def test_bucket_owned_by_another_account_fails_clearly(moto, tmp_path):
    other = moto.client("s3", **moto.other_account_credentials("210987654321"))
    other.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    p = Cli(moto, tmp_path).provision()
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert BUCKET in last and "another AWS account" in last and "BucketAlreadyExists" in last
    # Nothing was published into it, and no provider was created.
    assert "Contents" not in other.list_objects_v2(Bucket=BUCKET)
    assert moto.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_an_untagged_bucket_of_our_own_account_is_claimed(moto, tmp_path):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    p = ok(Cli(moto, tmp_path).provision())
    assert "claimed" in p.stderr
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"irsa.io/cluster": CLUSTER}


def test_china_region(moto, tmp_path):
    region = "cn-north-1"
    cli = Cli(moto, tmp_path, region=region)
    p = ok(cli.provision())
    issuer = f"https://s3.{region}.amazonaws.com.cn/{BUCKET}"
    arn = f"arn:aws-cn:iam::{ACCOUNT}:oidc-provider/s3.{region}.amazonaws.com.cn/{BUCKET}"
    assert f"issuer: {issuer}" in p.stdout
    assert f"provider: {arn}" in p.stdout
    s3, iam = moto.client("s3", region=region), moto.client("iam", region=region)
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == region
    discovery = json.loads(s3.get_object(Bucket=BUCKET, Key=".well-known/openid-configuration")["Body"].read())
    assert discovery["issuer"] == issuer
    prov = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert prov["ClientIDList"] == ["sts.amazonaws.com.cn"]
    moto.reset_requests()
    ok(cli.provision())
    assert moto.mutating_requests() == []
    ok(cli.deprovision())
    assert s3.list_buckets()["Buckets"] == []


def test_rotation_publishes_two_kids_then_one_after_retirement(moto, tmp_path):
    cli = Cli(moto, tmp_path)
    s3 = moto.client("s3")

    def kids():
        return [k["kid"] for k in json.loads(s3.get_object(Bucket=BUCKET, Key="keys.json")["Body"].read())["keys"]]

    ok(cli.provision())
    old = kid_of((cli.key_dir / "sa.pub").read_bytes())
    r = ok(cli.provision("--rotate-key"))
    new = kid_of((cli.key_dir / "sa.pub").read_bytes())
    assert new != old
    assert kids() == [new, old]
    assert "rotated" in r.stderr
    key_files = [l for l in r.stdout.splitlines() if l.startswith("--service-account-key-file=")]
    assert len(key_files) == 2 and key_files[0].endswith("sa.pub")
    previous = list((cli.key_dir / "previous").glob("*.pub"))
    assert len(previous) == 1 and kid_of(previous[0].read_bytes()) == old
    assert "must roll" in r.stdout
    # Still published without the flag; gone once older than the limit.
    ok(cli.provision())
    assert kids() == [new, old]
    time.sleep(1.1)
    r = ok(cli.provision("--retire-keys-older-than", "1ms"))
    assert kids() == [new]
    assert len([l for l in r.stdout.splitlines() if l.startswith("--service-account-key-file=")]) == 1
    assert previous[0].exists(), "retired keys stay in the key directory"
    assert ok(cli.provision("--retire-keys-older-than", "1ms")).stdout.splitlines()[-1] == "0 mutating calls: up to date"


def test_dry_run_prints_the_plan_and_changes_nothing(moto, tmp_path):
    cli = Cli(moto, tmp_path)
    moto.reset_requests()
    p = ok(cli.provision("--dry-run"))
    assert moto.mutating_requests() == []
    assert "s3:CreateBucket" in p.stdout and "iam:CreateOpenIDConnectProvider" in p.stdout
    assert p.stdout.splitlines()[-1].startswith("0 mutating calls (dry run): 8 planned")
    assert not cli.key_dir.exists()
    assert moto.client("s3").list_buckets()["Buckets"] == []
    ok(cli.provision())
    moto.reset_requests()
    d = ok(cli.deprovision("--dry-run"))
    assert "iam:DeleteOpenIDConnectProvider" in d.stdout
    assert moto.mutating_requests() == []


def test_json_output(moto, tmp_path):
    cli = Cli(moto, tmp_path)
    p = ok(cli.provision("--output", "json"))
    doc = json.loads(p.stdout)
    assert doc["issuer"] == ISSUER and doc["providerArn"] == PROVIDER_ARN
    assert doc["mutatingCalls"] == 8 and doc["mastersMustRoll"] is True
    assert f"--service-account-issuer={ISSUER}" in doc["apiserverFlags"]
    actions = {(c["service"], c["action"]) for c in doc["calls"] if c["kind"] == "write"}
    assert ("iam", "CreateOpenIDConnectProvider") in actions
    doc = json.loads(ok(cli.provision("--output", "json")).stdout)
    assert doc["mutatingCalls"] == 0 and doc["readCalls"] <= 6
    assert all(s["outcome"] == "up-to-date" for s in doc["plan"]["steps"])


def test_print_iam_policy():
    p = ok(run_irsa("provision", "--print-iam-policy"))
    policy = json.loads(p.stdout)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    for guide in ("iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
                  "iam:ListOpenIDConnectProviderTags", "iam:TagOpenIDConnectProvider",
                  "iam:UntagOpenIDConnectProvider", "s3:PutObjectAcl", "s3:CreateBucket",
                  "s3:PutBucketTagging", "s3:PutEncryptionConfiguration"):
        assert guide in actions
    assert "arn:aws:s3:::*-g8s-*" in {s["Resource"] for s in policy["Statement"]}
    scoped = json.loads(ok(run_irsa("provision", "--print-iam-policy", "--account", ACCOUNT)).stdout)
    resources = {s["Resource"] for s in scoped["Statement"]}
    assert f"arn:aws:s3:::{ACCOUNT}-g8s-*" in resources
    assert f"arn:aws:iam::{ACCOUNT}:oidc-provider/*" in resources


@pytest.mark.parametrize("args,needle", [
    (["--account", "1234", "--region", REGION, "--cluster", CLUSTER], "--account"),
    (["--account", ACCOUNT, "--region", "nowhere", "--cluster", CLUSTER], "--region"),
    (["--account", ACCOUNT, "--region", REGION, "--cluster", "Bad_Name"], "--cluster"),
    (["--account", ACCOUNT, "--region", REGION], "--cluster"),
    (["--account", ACCOUNT, "--region", REGION, "--cluster", CLUSTER, "--tag", "novalue"], "--tag"),
    (["--account", ACCOUNT, "--region", REGION, "--cluster", CLUSTER, "--thumbprint", "abc"], "--thumbprint"),
    (["--account", ACCOUNT, "--region", REGION, "--cluster", CLUSTER, "--issuer", "http://x.example"], "--issuer"),
    (["--account", ACCOUNT, "--region", REGION, "--cluster", CLUSTER, "--retire-keys-older-than", "soon"], "--retire-keys-older-than"),
    (["--account", ACCOUNT, "--region", REGION, "--cluster", CLUSTER, "--output", "yaml"], "--output"),
])
def test_bad_usage_exits_2_naming_the_flag(tmp_path, args, needle):
    p = run_irsa("provision", *args, "--key-dir", tmp_path / "k", "--s3-endpoint-url", "http://127.0.0.1:9")
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr
    assert not (tmp_path / "k").exists()


def test_aws_failure_exits_1_with_step_code_and_message(moto, tmp_path):
    # An issuer whose S3 bucket name S3 rejects (too short): CreateBucket fails.
    p = Cli(moto, tmp_path).provision("--issuer", f"https://s3.{REGION}.amazonaws.com/ab")
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("irsa provision: bucket: s3:CreateBucket failed: InvalidBucketName: "), last


def test_client_id_drift_is_corrected_against_irsa_locals_iam(moto, tmp_path):
    """moto has no Add/RemoveClientID; irsa local's IAM has, so it is the IAM peer here."""
    from local_harness import ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, running_local
    import boto3
    account = "000000000000"
    with running_local(config="clusters: []\n") as local:
        env = moto.env(tmp_path, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY)
        args = ["provision", "--account", account, "--region", REGION, "--cluster", CLUSTER,
                "--key-dir", tmp_path / "k", "--thumbprint", THUMBPRINT,
                "--s3-endpoint-url", moto.url, "--iam-endpoint-url", local.url,
                "--sts-endpoint-url", local.url, "--client-id", "wanted"]
        ok(run_irsa(*args, env=env))
        iam = boto3.client("iam", region_name="us-east-1", endpoint_url=local.url,
                           aws_access_key_id=ROOT_ACCESS_KEY_ID,
                           aws_secret_access_key=ROOT_SECRET_ACCESS_KEY)
        bucket = f"{account}-g8s-{CLUSTER}-oidc-pod-identity"
        arn = f"arn:aws:iam::{account}:oidc-provider/s3.{REGION}.amazonaws.com/{bucket}"
        assert sorted(iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"]) == ["sts.amazonaws.com", "wanted"]
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="stranger")
        iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="wanted")
        p = ok(run_irsa(*args, env=env))
        assert "client IDs" in p.stderr
        assert sorted(iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"]) == ["sts.amazonaws.com", "wanted"]
        assert ok(run_irsa(*args, env=env)).stdout.splitlines()[-1] == "0 mutating calls: up to date"
