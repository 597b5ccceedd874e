"""Shared fixtures for the end-to-end tests: the irsa binary and scratch directories."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def irsa_bin() -> str:
    """Path of the irsa binary under test (scripts/test exports IRSA_BIN)."""
    path = os.environ.get("IRSA_BIN") or str(REPO / "target" / "debug" / "irsa")
    if not Path(path).exists():
        raise RuntimeError(f"irsa binary not found at {path}; run scripts/test or cargo build")
    return path


def run_irsa(*args, check=False, **kwargs) -> subprocess.CompletedProcess:
    """Runs `irsa ARGS…` and returns the completed process (text mode)."""
    return subprocess.run([irsa_bin(), *map(str, args)], capture_output=True, text=True,
                          check=check, timeout=120, **kwargs)


@pytest.fixture
def irsa():
    return run_irsa
