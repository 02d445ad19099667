"""The container engine as the container tests drive it: Debian's ``docker`` client (the one
``scripts/test-containers`` names in ``ORTHANC_REM_DOCKER``) on the engine it started."""

from __future__ import annotations

import os
import subprocess

DOCKER = os.environ.get("ORTHANC_REM_DOCKER", "/usr/bin/docker")


def docker(*arguments: str, check: bool = True) -> str:
    result = subprocess.run([DOCKER, *arguments], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def assert_runs_as(container: str, user: str) -> None:
    """The container's main process (each role execs into it: Orthanc, the workers' supervisor,
    PostgreSQL, Redis) runs as ``user`` of its image, never as root; real, effective, saved and
    file-system uids alike."""
    status = docker("exec", container, "cat", "/proc/1/status")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    expected = docker("exec", container, "id", "-u", user)
    assert expected != "0"
    assert set(uids) == {expected}, status
