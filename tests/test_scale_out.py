"""Issue 11: two Orthanc nodes on one PostgreSQL index, one Redis queue, workers on both nodes.

Every object is extracted exactly once, whichever node received it, and a node killed with
``kill -9`` mid-ingest and started again (its catch-up replays the change log both nodes share)
loses nothing and extracts nothing twice. Expected SOP Instance UIDs are read from the files
with pydicom; "exactly once" is read from the dose database (one outcome per Orthanc instance,
each rejected object tried once) and from the workers' logs (one outcome line per instance).
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import corpus_files
from scale_out import (
    SENDER_ENVIRONMENT,
    assert_exactly_once,
    distinct_instances,
    fresh_copies,
    make_node,
    outcomes,
    send_in_parallel,
    shared_site,
    skip_without_scale_out,
    storable_by_dcmtk,
    store,
    storescu_command,
    wait_until_every_instance_has_an_outcome,
)

pytestmark = [pytest.mark.orthanc, pytest.mark.postgres]


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    skip_without_scale_out()
    with shared_site() as shared:
        yield shared


def test_each_object_is_extracted_once_whichever_node_received_it(site, tmp_path):
    files = storable_by_dcmtk(corpus_files())
    with make_node(site, tmp_path, "node-a", workers=2) as node_a:
        with make_node(site, tmp_path, "node-b", workers=2) as node_b:
            send_in_parallel((node_a, files[0::2]), (node_b, files[1::2]))
            # Both nodes see every instance: one index.
            assert len(node_b.get_json("/instances")) == len(node_a.get_json("/instances"))
            wait_until_every_instance_has_an_outcome(node_a, site.dose_database, distinct_instances(files))
            # The pages of either node show the same database.
            # One dose database: the node started last set the shared "admin" password.
            password = node_b.dose_browser_password
            status_a = node_a.request("GET", "/rem/api/status", None, node_a.dose_browser_headers(password=password))
            status_b = node_b.request("GET", "/rem/api/status", None, node_b.dose_browser_headers(password=password))
            assert status_a == status_b
        assert_exactly_once(node_a, site.dose_database, files, node_a, node_b)


def test_a_node_killed_mid_ingest_and_restarted_loses_nothing_and_doubles_nothing(site, tmp_path, corpus):
    files = fresh_copies(corpus("CT-RDSR-Siemens-Multi-1.dcm"), 120, tmp_path / "copies")
    halves = [files[0::2], files[1::2]]
    node_a = make_node(site, tmp_path, "node-a", workers=2)
    node_b = make_node(site, tmp_path, "node-b", workers=2)
    with node_a, ThreadPoolExecutor(1) as background:
        node_b.start()
        try:
            sender_a = background.submit(store, node_a, halves[0])
            # Node B stores part of its half, then dies mid-ingest with its workers (kill -9).
            result_b = subprocess.Popen(
                storescu_command(node_b, halves[1]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=SENDER_ENVIRONMENT,
            )
            node_b.wait_until(
                lambda: len(outcomes(site.dose_database)[0]) >= 10, timeout=120, message="no extraction started"
            )
            assert node_b._process is not None
            node_b._process.kill()
            result_b.wait(120)
            killed_at = len(outcomes(site.dose_database)[0])
            node_b.stop()
            # Restarted, it catches up on the shared change log while node A's workers extract.
            node_b.start()
            # The modality resends what failed (here: all of it; Orthanc keeps one copy of each).
            store(node_b, halves[1])
            sender_a.result()
            wait_until_every_instance_has_an_outcome(node_a, site.dose_database, distinct_instances(files))
            print(f"outcomes stored when node B was killed: {killed_at} of {len(files)}")
            assert_exactly_once(node_a, site.dose_database, files, node_a, node_b)
        finally:
            node_b.stop()
