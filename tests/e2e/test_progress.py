"""Progress is drawn on stderr only when stderr is a terminal.

`irsa local` applying a large config (a key generation per cluster) is the long operation
driven here, twice: with stderr a pipe, as in CI, `kubectl logs` or `2> file`, where it must
leave no trace (no carriage returns, no escape sequences, no progress text), and with stderr
a pseudo-terminal, where the same run must show it. stdout carries the banner only, in both.
"""

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

from local_harness import LocalServer, clean_env

CLUSTERS = 12
ROLES_PER_CLUSTER = 4


def large_config() -> str:
    lines = ["clusters:"]
    for i in range(CLUSTERS):
        lines += [f"  - name: c{i:02d}", '    account: "000000000000"', "    region: eu-west-1"]
    lines.append("roles:")
    for i in range(CLUSTERS):
        for j in range(ROLES_PER_CLUSTER):
            lines += ['  - account: "000000000000"', f"    name: app-{i:02d}-{j}",
                      f"    cluster: c{i:02d}", f'    serviceAccounts: ["ns{j}/app"]']
    return "\n".join(lines) + "\n"


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    """Reads `fd` until `needle` appears (or EOF, or the timeout, which fails the caller)."""
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # a pty reports EIO once the child side is closed
                break
            if not chunk:
                break
            data += chunk
    return data


def run_local(tmp_path: Path, stderr_tty: bool) -> tuple[bytes, bytes]:
    """Starts `irsa local` on the large config, waits for its banner, stops it; returns
    (stdout, stderr) as bytes."""
    server = LocalServer(tmp_path, config=large_config())
    if stderr_tty:
        master, slave = pty.openpty()
        stderr = slave
    else:
        stderr = subprocess.PIPE
    process = subprocess.Popen(server.args(), stdout=subprocess.PIPE, stderr=stderr,
                               stdin=subprocess.DEVNULL, env=clean_env(server.home))
    try:
        if stderr_tty:
            os.close(slave)
        stdout = read_until(process.stdout.fileno(), b"\n", 120)
        assert stdout, "irsa local printed no banner"
        err_fd = master if stderr_tty else process.stderr.fileno()
        process.send_signal(signal.SIGTERM)
        stderr_bytes = read_until(err_fd, b"\0never\0", 30)
        process.wait(timeout=30)
        stdout += process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if stderr_tty:
            os.close(master)
    return stdout, stderr_bytes


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    stdout, stderr = run_local(tmp_path, stderr_tty=False)
    assert b"listening" in stdout or b"http://127.0.0.1" in stdout, stdout
    for noise in (b"\r", b"\x1b", b"applying the config"):
        assert noise not in stderr, (noise, stderr[-2000:])
        assert noise not in stdout, (noise, stdout)


def test_progress_is_drawn_when_stderr_is_a_terminal(tmp_path):
    stdout, stderr = run_local(tmp_path, stderr_tty=True)
    assert b"applying the config" in stderr, stderr[-2000:]
    # Progress never goes to stdout, even on a terminal.
    assert b"applying the config" not in stdout and b"\x1b" not in stdout, stdout
