"""Issue 11: ``docker/docker-compose.yml`` brought up as a site would, here: PostgreSQL (the dose
database, and Orthanc's index and storage through orthanc-postgresql), Redis, the migrate job,
Orthanc with the plugin and two worker containers, on the project's own network, with its
healthchecks, volumes and file secrets. ``docker/docker-compose.local.yml`` selects the images
built from the debootstrapped Debian base (no registry here); Orthanc is published on free
loopback ports.

Run by ``scripts/test-containers``, which builds the three images and names the compose command;
the normal suite skips it (loudly). It prints how long the stack took to become healthy.
Expected Study Instance UIDs are read from the corpus files with pydicom.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from docker_cli import assert_runs_as, docker
from http_node import HttpNode

from conftest import corpus_files
from orthanc_harness import REPO_ROOT, free_ports
from scale_out import distinct_instances, storable_by_dcmtk, store

IMAGES = {
    "ORTHANC_REM_IMAGE": os.environ.get("ORTHANC_REM_CONTAINER_IMAGE", ""),
    "ORTHANC_REM_POSTGRES_IMAGE": os.environ.get("ORTHANC_REM_POSTGRES_IMAGE", ""),
    "ORTHANC_REM_REDIS_IMAGE": os.environ.get("ORTHANC_REM_REDIS_IMAGE", ""),
}
COMPOSE = shlex.split(os.environ.get("ORTHANC_REM_COMPOSE", ""))
COMPOSE_FILES = ("-f", f"{REPO_ROOT}/docker/docker-compose.yml", "-f", f"{REPO_ROOT}/docker/docker-compose.local.yml")
SECRETS = ("postgres-password", "dose-db-password", "orthanc-index-password", "admin-password", "worker-password")

pytestmark = [pytest.mark.orthanc]


class ComposeSite:
    """One compose project of the stack, under a name of its own; ``down -v`` removes it all."""

    def __init__(self, workdir: Path) -> None:
        self.project = f"orthanc-rem-compose-{uuid.uuid4().hex[:8]}"
        folder = workdir / "secrets"
        folder.mkdir(mode=0o700)
        self.passwords = {name: secrets.token_urlsafe(18) for name in SECRETS}
        for name, password in self.passwords.items():
            (folder / name).write_text(password)
            (folder / name).chmod(0o600)  # as docker/make-secrets writes them
        http_port, dicom_port = free_ports(2)
        self.environment = {
            **os.environ,
            **IMAGES,
            "ORTHANC_REM_SECRETS": str(folder),
            # Orthanc's ports published on free loopback ports; PostgreSQL and Redis stay on the
            # project's network (the host's own hold 5432 and 6379).
            "ORTHANC_REM_HTTP_PUBLISH": f"127.0.0.1:{http_port}",
            "ORTHANC_REM_DICOM_PUBLISH": f"127.0.0.1:{dicom_port}",
        }
        self.orthanc = HttpNode(
            f"{self.project} orthanc", http_port, dicom_port, self.passwords["admin-password"], workdir, self.logs
        )

    def compose(self, *arguments: str, timeout: float = 600) -> str:
        command = [*COMPOSE, *COMPOSE_FILES, "--project-name", self.project, *arguments]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.environment)
        if result.returncode != 0:
            raise RuntimeError(f"{shlex.join(command)} failed:\n{result.stdout}\n{result.stderr}\n{self.logs()}")
        return result.stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).split()[0]

    def health(self, service: str) -> str:
        return docker("inspect", "--format", "{{.State.Health.Status}}", self.container(service))

    def logs(self) -> str:
        result = subprocess.run(
            [*COMPOSE, *COMPOSE_FILES, "--project-name", self.project] + ["logs", "--no-color", "--tail", "30"],
            capture_output=True,
            text=True,
            env=self.environment,
        )
        return result.stdout + result.stderr


def study_instance_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)


@pytest.fixture
def compose_site(tmp_path: Path) -> Iterator[ComposeSite]:
    if not all(IMAGES.values()) or not COMPOSE:
        message = (
            "compose stack test SKIPPED: it builds PostgreSQL, Redis and orthanc-rem images and takes "
            "minutes; run it with scripts/test-containers"
        )
        print(f"\n{'#' * 80}\n## {message}\n{'#' * 80}", file=sys.stderr)
        pytest.skip(message)
    site = ComposeSite(tmp_path)
    try:
        yield site
    finally:
        stopping = time.monotonic()
        site.compose("down", "--volumes", "--timeout", "20")
        print(f"compose stack: down (containers and volumes removed) in {time.monotonic() - stopping:.1f} s")


def test_compose_brings_up_a_site_that_extracts_what_modalities_send(compose_site):
    site = compose_site
    starting = time.monotonic()
    # compose waits for each dependency's health (PostgreSQL, Redis, then Orthanc for the workers)
    # and for the migrate job to finish before starting what depends on it.
    site.compose("up", "--detach", "--scale", "worker=2")
    site.orthanc.wait_until(lambda: site.health("orthanc") == "healthy", 300, 1.0, "Orthanc's healthcheck never passed")
    healthy_after = time.monotonic() - starting
    assert {site.health("postgres"), site.health("redis")} == {"healthy"}
    workers = site.compose("ps", "-q", "worker").split()
    assert len(workers) == 2
    for container in (site.container("orthanc"), *workers):
        assert_runs_as(container, "orthanc")
    assert_runs_as(site.container("postgres"), "postgres")
    assert_runs_as(site.container("redis"), "redis")
    print(f"compose stack: up and healthy {healthy_after:.1f} s after `up` (images built beforehand)")

    files = storable_by_dcmtk(corpus_files())
    store(site.orthanc, files)
    instances = distinct_instances(files)

    def every_object_has_an_outcome() -> bool:
        status = site.orthanc.get_json("/rem/api/status")
        outcomes = status["processed_objects"] + status["not_imported_objects"] + status["unmatched_objects"]
        return outcomes == instances

    message = f"not every one of {instances} objects has an outcome"
    site.orthanc.wait_until(every_object_has_an_outcome, 600, 1.0, message)
    extracted_after = time.monotonic() - starting - healthy_after
    print(f"compose stack: {instances} corpus objects sent and extracted {extracted_after:.1f} s after healthy")

    studies = site.orthanc.get_json("/rem/api/studies?per_page=1000")["studies"]
    listed = {study["study_instance_uid"] for study in studies}
    sent = {study_instance_uid(path) for path in files}
    ct_reports = {study_instance_uid(path) for path in files if path.name.startswith("CT-RDSR-")}
    assert ct_reports <= listed
    assert listed <= sent
