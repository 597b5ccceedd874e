"""Provisioning through a proxy that fails requests: 500, 503 SlowDown, 400 Throttling and
dropped connections (before moto saw the request, and after it handled it). The SDK's
standard retry mode absorbs them; a run that still fails converges on the next run; and
50 provision/deprovision cycles leave nothing behind."""

from __future__ import annotations

from conftest import run_irsa
from moto_harness import ACCOUNT, THUMBPRINT, FaultProxy, running_moto

REGION = "eu-west-1"
CYCLES = int(__import__("os").environ.get("IRSA_FAULT_CYCLES", "50"))
# Runs of one command before giving up: the SDK retries each call 5 times, so a run
# fails only when one call draws five faults in a row.
MAX_RUNS = 5


def run_until_ok(args, env):
    """Runs irsa until it succeeds (an interrupted run must converge on the next one)."""
    failures = []
    for _ in range(MAX_RUNS):
        p = run_irsa(*args, env=env)
        if p.returncode == 0:
            return p, failures
        assert p.returncode == 1, p.stderr  # an AWS failure, never bad usage or a crash
        failures.append(p.stderr.strip().splitlines()[-1])
    raise AssertionError(f"no success in {MAX_RUNS} runs: {failures}")


def test_provisioning_converges_through_faults_and_cycles_leak_nothing(tmp_path):
    with running_moto(tmp_path / "moto") as moto, FaultProxy(moto.url, rate=0.15) as proxy:
        env = moto.env(tmp_path)
        s3, iam = moto.client("s3"), moto.client("iam")
        s3.create_bucket(Bucket="unrelated", CreateBucketConfiguration={"LocationConstraint": REGION})

        def identity(cluster, url):
            return ["--account", ACCOUNT, "--region", REGION, "--cluster", cluster,
                    *moto.endpoint_flags(url)]

        # One cluster through the proxy, then checked directly: converged.
        key_dir = tmp_path / "keys"
        run_until_ok(["provision", *identity("faulty", proxy.url), "--key-dir", key_dir,
                      "--thumbprint", THUMBPRINT], env)
        moto.reset_requests()
        direct = run_irsa("provision", *identity("faulty", moto.url), "--key-dir", key_dir,
                          "--thumbprint", THUMBPRINT, env=env)
        assert direct.returncode == 0, direct.stderr
        assert direct.stdout.splitlines()[-1] == "0 mutating calls: up to date"
        assert moto.mutating_requests() == []
        run_until_ok(["deprovision", *identity("faulty", proxy.url)], env)

        retried_runs = 0
        for i in range(CYCLES):
            cluster = f"cycle{i % 5}"
            _, f1 = run_until_ok(["provision", *identity(cluster, proxy.url),
                                  "--key-dir", tmp_path / cluster, "--thumbprint", THUMBPRINT], env)
            _, f2 = run_until_ok(["deprovision", *identity(cluster, proxy.url)], env)
            retried_runs += bool(f1) + bool(f2)
            for f in f1 + f2:
                print("rerun after:", f)

        assert sum(proxy.injected.values()) > CYCLES, proxy.injected
        assert all(n > 0 for n in proxy.injected.values()), proxy.injected
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["unrelated"]
        assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
        print(f"faults injected: {proxy.injected}; runs that needed a rerun: {retried_runs}")
