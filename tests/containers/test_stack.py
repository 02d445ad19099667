"""Issue 11, in containers: the Debian 12 image (docker/Dockerfile.debian) run as a site of two
Orthanc nodes on one PostgreSQL index, worker containers on one Redis queue, host networking
on free loopback ports.

Run by ``scripts/test-containers``, which starts a container engine, builds the image from the
cached debootstrapped base and sets ``ORTHANC_REM_CONTAINER_IMAGE``; the normal suite skips it
(loudly): it builds images and takes minutes. PostgreSQL and Redis are the machine's own
(127.0.0.1:5432 and :6379, scratch database and queue names), as no registry image can be pulled.
Expected SOP Instance UIDs are read from the files with pydicom.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_cli import assert_runs_as, docker
from http_node import HttpNode

from conftest import corpus_files
from orthanc_harness import free_ports
from scale_out import (
    SENDER_ENVIRONMENT,
    Site,
    assert_exactly_once,
    distinct_instances,
    fresh_copies,
    outcomes,
    send_in_parallel,
    shared_site,
    skip_without_scale_out,
    storable_by_dcmtk,
    store,
    storescu_command,
    wait_until_every_instance_has_an_outcome,
)

IMAGE = os.environ.get("ORTHANC_REM_CONTAINER_IMAGE")
ADMIN_PASSWORD = uuid.uuid4().hex
WORKER_PASSWORD = uuid.uuid4().hex

pytestmark = [pytest.mark.orthanc, pytest.mark.postgres]


class Containers:
    """Every container of one run, named with a prefix of its own; all removed at the end."""

    def __init__(self, workdir: Path) -> None:
        self.prefix = f"orthanc-rem-test-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.secrets = workdir / "secrets"
        self.secrets.mkdir(parents=True)
        for name, password in (("admin-password", ADMIN_PASSWORD), ("worker-password", WORKER_PASSWORD)):
            (self.secrets / name).write_text(password)
            (self.secrets / name).chmod(0o600)  # as docker/make-secrets leaves them: root reads them
        self.names: list[str] = []

    def run(self, name: str, role: str, environment: dict[str, str], data: Path, detach: bool = True) -> str:
        """A container of the image in ``role``; its data folder (workers' log) is ``data``."""
        data.mkdir(parents=True, exist_ok=True)
        full_name = f"{self.prefix}-{name}"
        arguments = ["run", "--name", full_name, "--network", "host", "-v", f"{self.secrets}:/run/secrets:ro"]
        arguments += ["-v", f"{data}:/var/lib/orthanc/orthanc-rem"]
        for key, value in environment.items():
            arguments += ["-e", f"{key}={value}"]
        self.names.append(full_name)
        if detach:
            arguments.append("-d")
        docker(*arguments, IMAGE or "", role)
        return full_name

    def logs(self) -> str:
        return "\n".join(
            f"----- {name} -----\n{docker('logs', '--tail', '40', name, check=False)}" for name in self.names
        )

    def remove(self) -> None:
        for name in self.names:
            docker("rm", "--force", "--volumes", name, check=False)  # and its anonymous data volume


def dose_environment(site: Site) -> dict[str, str]:
    return {"ORTHANC_REM_DATABASE": site.dose_database, "ORTHANC_REM_QUEUE": site.queue}


class OrthancContainer(HttpNode):
    """An Orthanc node in a container, with what the scale-out checks need (``scale_out.Node``)."""

    def __init__(self, containers: Containers, site: Site, name: str) -> None:
        http_port, dicom_port = free_ports(2)
        full_name = f"{containers.prefix}-{name}"
        super().__init__(full_name, http_port, dicom_port, ADMIN_PASSWORD, containers.workdir / name, containers.logs)
        index = {
            "EnableIndex": True,
            "EnableStorage": True,
            "Host": "127.0.0.1",
            "Port": 5432,
            "Database": site.orthanc_index,
            "Username": "postgres",
            "Password": "",
            "Lock": False,
            "IndexConnectionsCount": 5,
        }
        environment = {
            **dose_environment(site),
            "ORTHANC__NAME": name,
            "ORTHANC__HTTP_PORT": str(self.http_port),
            "ORTHANC__DICOM_PORT": str(self.dicom_port),
            "ORTHANC__POSTGRESQL": json.dumps(index),
            "ORTHANC_REM_WORKERS": "0",  # the workers run in containers of their own
            "ORTHANC_REM_ADMIN_PASSWORD_FILE": "/run/secrets/admin-password",
            "ORTHANC_REM_WORKER_PASSWORD_FILE": "/run/secrets/worker-password",
        }
        containers.run(name, "orthanc", environment, self.workdir / "rem-data")


@pytest.fixture
def site() -> Iterator[Site]:
    if not IMAGE:
        message = (
            "container stack test SKIPPED: it builds the Debian image and takes minutes; "
            "run it with scripts/test-containers"
        )
        print(f"\n{'#' * 80}\n## {message}\n{'#' * 80}", file=sys.stderr)
        pytest.skip(message)
    skip_without_scale_out()
    with shared_site() as shared:
        yield shared


@pytest.fixture
def containers(tmp_path: Path) -> Iterator[Containers]:
    running = Containers(tmp_path)
    try:
        yield running
    finally:
        print(running.logs())
        running.remove()


def test_the_stack_extracts_everything_once_and_survives_a_killed_worker_and_node(site, containers, tmp_path):
    # A new version starts with its migrate job; the plugins and workers then find the schema at head.
    containers.run("migrate", "migrate", dose_environment(site), tmp_path / "migrate", detach=False)
    node_a = OrthancContainer(containers, site, "node-a")
    node_a.wait_until_up()  # the first node creates Orthanc's index schema alone
    node_b = OrthancContainer(containers, site, "node-b")
    node_b.wait_until_up()
    workers = []
    for name, node in (("worker-1", node_a), ("worker-2", node_b)):
        environment = {
            **dose_environment(site),
            "ORTHANC_REM_WORKERS": "2",
            "ORTHANC_REM_ORTHANC_URL": node.url(),
            "ORTHANC_REM_WORKER_PASSWORD_FILE": "/run/secrets/worker-password",
        }
        workers.append(containers.run(name, "worker", environment, node.workdir / "rem-data"))

    for container in (node_a.name, node_b.name, *workers):
        assert_runs_as(container, "orthanc")

    # 1. The corpus, half to each node: one outcome per object, the same on either node's API.
    files = storable_by_dcmtk(corpus_files())
    send_in_parallel((node_a, files[0::2]), (node_b, files[1::2]))
    wait_until_every_instance_has_an_outcome(node_a, site.dose_database, distinct_instances(files))
    assert_exactly_once(node_a, site.dose_database, files, node_a, node_b)
    rows, _attempts = outcomes(site.dose_database)
    status = node_a.get_json("/rem/api/status")
    assert status == node_b.get_json("/rem/api/status")
    assert status["processed_objects"] + status["not_imported_objects"] + status["unmatched_objects"] == len(rows)
    studies = node_b.get_json("/rem/api/studies?per_page=1000")
    assert studies["total"] > 0

    # 2. Mid-ingest, a worker container and an Orthanc node are killed (SIGKILL), then started.
    copies = fresh_copies(corpus_files()[0].parent / "CT-RDSR-Siemens-Multi-1.dcm", 120, tmp_path / "copies")
    halves = [copies[0::2], copies[1::2]]
    sender_b = subprocess.Popen(
        storescu_command(node_b, halves[1]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=SENDER_ENVIRONMENT,
    )
    store(node_a, halves[0][:20])
    docker("kill", workers[0])
    docker("kill", node_b.name)
    sender_b.wait(120)
    done_when_killed = len(outcomes(site.dose_database)[0]) - len(rows)
    docker("start", node_b.name)
    docker("start", workers[0])
    node_b.wait_until_up()
    store(node_a, halves[0][20:])
    store(node_b, halves[1])  # the modality resends what failed; Orthanc keeps one copy of each
    everything = files + copies
    wait_until_every_instance_has_an_outcome(node_a, site.dose_database, distinct_instances(everything))
    print(f"new objects with an outcome when the worker and node B were killed: {done_when_killed} of {len(copies)}")
    assert_exactly_once(node_a, site.dose_database, everything, node_a, node_b)
