"""scripts/image: the OCI image deploy/webhook and deploy/operator run.

What this builds: the image of the binary under test (IRSA_BIN, the debug build scripts/test
already made), through `scripts/image --binary`, so CI pays for no release build; the
script strips debug info either way, and the release image's size is measured in
docs/benchmarks.md. CARGO_TARGET_DIR points at a scratch directory, so the archive lands in
its `oci/` and a release archive in target/oci is left alone.

The archive is unpacked with plain tar following the OCI layout (index.json -> manifest ->
config and layers, every blob checked against its digest), and the root filesystem is run
with chroot as user 65532: `irsa --version` and a key generation prove no file is missing.
Skipped only when buildah cannot run here (the reason is in the skip message).
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import REPO, irsa_bin

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox", "fish", "csh", "tcsh"}


def buildah_unusable(tmp: Path) -> str | None:
    """Why buildah cannot build an image here, or None when it can."""
    if shutil.which("buildah") is None:
        if os.geteuid() != 0:
            return "buildah is not installed and installing it needs root (apt-get install buildah)"
        return None  # scripts/image installs it
    probe = subprocess.run(
        ["buildah", "--root", str(tmp / "probe"), "--runroot", str(tmp / "probe-run"),
         "--storage-driver", "vfs", "from", "--quiet", "scratch"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "BUILDAH_ISOLATION": "chroot"})
    if probe.returncode != 0:
        return f"buildah cannot create a container here: {probe.stderr.strip()}"
    return None


def blob(layout: Path, descriptor: dict) -> bytes:
    algorithm, digest = descriptor["digest"].split(":")
    data = (layout / "blobs" / algorithm / digest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest, descriptor
    assert len(data) == descriptor["size"], descriptor
    return data


def unpack(archive: Path, dest: Path) -> tuple[dict, dict, Path]:
    """Unpacks an oci-archive: returns the manifest, the config and the root filesystem."""
    layout = dest / "layout"
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="tar")
    assert json.loads((layout / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"
    index = json.loads((layout / "index.json").read_text())
    assert len(index["manifests"]) == 1, index
    manifest = json.loads(blob(layout, index["manifests"][0]))
    config = json.loads(blob(layout, manifest["config"]))
    rootfs = dest / "rootfs"
    rootfs.mkdir()
    diff_ids = []
    for layer in manifest["layers"]:
        data = blob(layout, layer)
        if layer["mediaType"].endswith("+gzip"):
            data = gzip.decompress(data)
        else:
            assert layer["mediaType"].endswith(".tar"), layer
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
        (dest / "layer.tar").write_bytes(data)
        with tarfile.open(dest / "layer.tar") as tar:
            assert not [m.name for m in tar if ".wh." in m.name], "a scratch image has no whiteouts"
            # As root this keeps the numeric owners, so the chroot sees what a container would.
            tar.extractall(rootfs, filter="fully_trusted", numeric_owner=True)
    assert config["rootfs"]["diff_ids"] == diff_ids
    return manifest, config, rootfs


def in_chroot(rootfs: Path, *args: str) -> subprocess.CompletedProcess:
    """Runs ARGS inside the root filesystem as a container would: as 65532 (root maps to
    nothing more than the caller's own user without privileges), with an empty environment."""
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if os.geteuid() == 0:
        command = [chroot, "--userspec=65532:65532", str(rootfs), *args]
    else:
        command = [shutil.which("unshare") or "unshare", "-r", chroot, str(rootfs), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={})


def test_image_runs_as_nonroot_from_scratch_with_everything_it_needs(tmp_path):
    reason = buildah_unusable(tmp_path)
    if reason:
        pytest.skip(reason)
    target = tmp_path / "target"
    binary = irsa_bin()
    host_version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                  check=True).stdout.strip()
    match = re.fullmatch(r"irsa (\S+) \((.+)\)", host_version)
    assert match, host_version
    version, revision = match.groups()

    built = subprocess.run([str(REPO / "scripts" / "image"), "--binary", binary],
                           capture_output=True, text=True, timeout=900, cwd=tmp_path,
                           env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    assert built.returncode == 0, built.stderr
    archive = Path(built.stdout.strip().splitlines()[-1])
    assert archive == target / "oci" / f"irsa-{version}.tar"

    manifest, config, rootfs = unpack(archive, tmp_path / "unpacked")

    # Config: entrypoint and user, no shell anywhere in how it starts, the OCI labels.
    assert config["os"] == "linux"
    run = config["config"]
    assert run["User"] == "65532"
    assert run["Entrypoint"] == ["/irsa"]
    assert not run.get("Cmd"), run
    assert all("/bin/sh" not in h.get("created_by", "") for h in config.get("history", []))
    labels = run["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"]

    # Contents: the binary, libraries and loader, CA bundle, passwd and group; no shell.
    files = sorted(str(p.relative_to(rootfs)) for p in rootfs.rglob("*") if not p.is_dir())
    assert not [f for f in files if Path(f).name in SHELLS], files
    assert not (rootfs / "bin").exists() and not (rootfs / "usr" / "bin").exists(), files
    for required in ["irsa", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt"]:
        assert required in files, files
    unexpected = [f for f in files if not re.match(
        r"^(irsa|etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt)"
        r"|(usr/)?lib(64|/x86_64-linux-gnu|/aarch64-linux-gnu)?/[^/]+\.so[.0-9]*)$", f)]
    assert not unexpected, unexpected
    assert "BEGIN CERTIFICATE" in (rootfs / "etc/ssl/certs/ca-certificates.crt").read_text()
    passwd = (rootfs / "etc/passwd").read_text().splitlines()
    assert "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin" in passwd
    assert "nonroot:x:65532:" in (rootfs / "etc/group").read_text().splitlines()
    assert (rootfs / "home/nonroot").stat().st_uid == 65532

    # It runs: every library is there, as the non-root user, with no environment.
    ran = in_chroot(rootfs, "/irsa", "--version")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == host_version
    keys = in_chroot(rootfs, "/irsa", "oidc", "keygen", "--out", "/tmp/keys")
    assert keys.returncode == 0, keys.stderr
    assert (rootfs / "tmp/keys/sa.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    no_shell = in_chroot(rootfs, "/bin/sh", "-c", "true")
    assert no_shell.returncode != 0

    layer_bytes = sum(layer["size"] for layer in manifest["layers"])
    unpacked = sum(p.stat().st_size for p in rootfs.rglob("*") if p.is_file())
    print(f"\nimage {archive}: archive {archive.stat().st_size} B, layers {layer_bytes} B, "
          f"rootfs {unpacked} B")
