"""Crash safety of `irsa local`: every acknowledged write survives `kill -9`.

Several client threads stream CreateRole calls (boto3, SigV4-signed) while the server is
killed with SIGKILL mid-stream. After a restart on the same data directory, every role
whose CreateRole got a 200 must exist; roles whose call failed may or may not exist (the
crash can come between the commit and the response), but nothing else may appear.
"""

import tempfile
import threading
import time
from pathlib import Path

import boto3
import botocore.config
from local_harness import ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, LocalServer

POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":'
    '"arn:aws:iam::000000000000:oidc-provider/s3.eu-west-1.amazonaws.com/'
    '000000000000-g8s-demo-oidc-pod-identity"},"Action":"sts:AssumeRoleWithWebIdentity"}]}'
)


def iam_client(url: str):
    return boto3.client(
        "iam", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=ROOT_ACCESS_KEY_ID, aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2,
                                      read_timeout=5))


def all_role_names(client) -> set:
    names = set()
    for page in client.get_paginator("list_roles").paginate():
        names.update(r["RoleName"] for r in page["Roles"])
    return names


def stream_writes(url: str, prefix: str, threads: int, stop: threading.Event):
    """Starts `threads` writers; returns (acknowledged, attempted, thread list)."""
    acknowledged, attempted = set(), set()
    lock = threading.Lock()

    def writer(t: int):
        client = iam_client(url)
        i = 0
        while not stop.is_set():
            name = f"{prefix}-{t}-{i}"
            i += 1
            with lock:
                attempted.add(name)
            try:
                client.create_role(RoleName=name, AssumeRolePolicyDocument=POLICY)
            except Exception:  # noqa: BLE001 - the server is being killed; any failure is expected
                if stop.is_set():
                    return
                time.sleep(0.01)
                continue
            with lock:
                acknowledged.add(name)

    workers = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    return acknowledged, attempted, lock, workers


ROUNDS = 3


def test_kill_9_loses_no_acknowledged_write():
    with tempfile.TemporaryDirectory(prefix="irsa-local-crash-") as tmp:
        server = LocalServer(Path(tmp)).start()
        expected = set()
        try:
            for round_no in range(ROUNDS):
                stop = threading.Event()
                acknowledged, attempted, lock, workers = stream_writes(
                    server.url, f"crash{round_no}", threads=4, stop=stop)
                # Let some writes land, then kill in the middle of the stream.
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with lock:
                        if len(acknowledged) >= 40:
                            break
                    time.sleep(0.01)
                server.process.kill()  # SIGKILL: no shutdown, no flush
                server.process.wait(timeout=10)
                stop.set()
                for w in workers:
                    w.join(timeout=15)
                with lock:
                    acked = set(acknowledged)
                    tried = set(attempted)
                assert len(acked) >= 40, f"only {len(acked)} writes acknowledged before the kill"

                server = LocalServer(Path(tmp)).start()  # new port, same data dir
                present = all_role_names(iam_client(server.url))
                lost = acked - present
                assert not lost, f"acknowledged but lost after kill -9: {sorted(lost)[:10]}"
                expected |= acked
                assert expected <= present
                # Nothing that was never attempted shows up.
                ours = {n for n in present if n.startswith(f"crash{round_no}-")}
                assert ours <= tried
        finally:
            server.stop()
