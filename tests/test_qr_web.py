"""Query-retrieve pages in the Flask test client: node administration, the query form with the
command line's validation, live progress as JSON, the Retrieve button, scheduled queries. The
work itself is only queued here (a worker does it); the queue is a real huey SQLite queue."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from orthanc_rem import model
from orthanc_rem.config import Settings
from orthanc_rem.qr import schedules, store
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.tasks import build_queue
from web_clients import dose_browser_client


@pytest.fixture
def settings(tmp_path, database_url):  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'queue.sqlite'}")


@pytest.fixture
def client(settings, sessions):  # type: ignore[no-untyped-def]
    return dose_browser_client(settings, sessions)


def queued(settings) -> list[tuple[str, tuple]]:  # type: ignore[no-untyped-def]
    return [(task.name, task.args) for task in build_queue(settings).huey.pending()]


@pytest.fixture
def node_id(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        return store.add_node(session, "pacs", "PACSAET01", "pacs.example", 104).id


def test_nodes_are_administered_from_the_page(client, sessions, settings):
    page = client.get("/qr/nodes")
    assert page.status_code == 200 and "Add a node" in page.text
    assert ("qr_echo_all", ()) in queued(settings)  # the page asks the workers for fresh C-ECHOs
    added = client.post(
        "/qr/nodes",
        data={"name": "pacs", "aet": "PACSAET01", "host": "10.0.0.5", "port": "104", "use_modality_tag": "1"},
    )
    assert added.status_code == 303
    with sessions() as session:
        (node,) = store.nodes(session)
        assert (node.aet, node.host, node.port, node.use_modality_tag) == ("PACSAET01", "10.0.0.5", 104, True)
    refused = client.post("/qr/nodes", data={"name": "bad", "aet": "A" * 17, "host": "h", "port": "104"})
    assert refused.status_code == 400 and "1 to 16 characters" in refused.text
    edited = client.post(f"/qr/nodes/{node.id}", data={"aet": "PACS2", "host": "10.0.0.6", "port": "11112"})
    assert edited.status_code == 303
    with sessions() as session:
        node = store.nodes(session)[0]
        assert (node.aet, node.port, node.use_modality_tag) == ("PACS2", 11112, False)
    assert client.post(f"/qr/nodes/{node.id}/remove").status_code == 303
    assert ("qr_forget_node", ("pacs",)) in queued(settings)
    with sessions() as session:
        assert store.nodes(session) == []


def test_the_query_form_follows_the_command_lines_rules(client, node_id):
    page = client.get("/qr/")
    assert page.status_code == 200 and 'name="modality_CT"' in page.text
    clash = client.post("/qr/", data={"node": node_id, "modality_CT": "1", "sr_only": "1"})
    assert clash.status_code == 400 and "SR-only cannot be used with modality choices" in clash.text
    times = client.post(
        "/qr/", data={"node": node_id, "modality_CT": "1", "date_from": "2018-03-19", "time_from": "1200"}
    )
    assert times.status_code == 400 and "need a single date" in times.text


def test_a_query_is_queued_and_its_progress_read_as_json(client, sessions, settings, node_id):
    posted = client.post(
        "/qr/",
        data={
            "node": node_id,
            "modality_DX": "1",
            "date_from": "2010-04-05",
            "date_until": "2010-04-06",
            "desc_exclude": "Imported",
            "remove_duplicates": "1",
        },
    )
    assert posted.status_code == 303
    query_id = int(posted.headers["Location"].rsplit("/", 1)[1])
    assert ("qr_query", (query_id,)) in queued(settings)
    state = client.get(f"/qr/api/queries/{query_id}").json
    assert state["status"] == "queued"
    assert state["options"]["modalities"] == ["DX"] and state["options"]["desc_exclude"] == ["imported"]
    progress = store.QueryProgress(sessions, query_id)
    progress.log("Currently querying for DX studies...")
    progress.log("Currently querying for CR studies...")
    first = client.get(f"/qr/api/queries/{query_id}").json["log"]
    assert [line["line"] for line in first] == [
        "Currently querying for DX studies...",
        "Currently querying for CR studies...",
    ]
    later = client.get(f"/qr/api/queries/{query_id}?after={first[0]['id']}").json["log"]
    assert [line["line"] for line in later] == ["Currently querying for CR studies..."]
    detail = client.get(f"/qr/queries/{query_id}")
    assert "Currently querying for CR studies..." in detail.text


def test_retrieve_button_queues_the_retrieve_of_a_completed_query(client, sessions, settings, node_id):
    with sessions.begin() as session:
        node = session.get(model.QrNode, node_id)
        query = store.create_query(session, node, QueryOptions(modalities=("CT",)), retrieve=False)
        query_id = query.id
    assert client.post(f"/qr/queries/{query_id}/retrieve").status_code == 409  # still queued
    with sessions.begin() as session:
        session.get(model.QrQuery, query_id).status = store.QUERIED
        session.get(model.QrQuery, query_id).counts = json.dumps({"CT": 3})
    page = client.get(f"/qr/queries/{query_id}")
    assert "CT: 3" in page.text and '<button type="submit">Retrieve</button>' in page.text
    assert client.post(f"/qr/queries/{query_id}/retrieve").status_code == 303
    assert ("qr_retrieve", (query_id,)) in queued(settings)
    assert client.get(f"/qr/api/queries/{query_id}").json["status"] == "retrieving"


def test_a_form_posted_from_another_site_is_refused(client, sessions):
    answer = client.post(
        "/qr/nodes",
        data={"name": "x", "aet": "X", "host": "h", "port": "1"},
        headers={"Origin": "http://elsewhere.example"},
    )
    assert answer.status_code == 403
    with sessions() as session:
        assert store.nodes(session) == []


def test_scheduled_queries_are_saved_and_run_when_due(client, sessions, node_id):
    saved = client.post(
        "/qr/schedules",
        data={
            "name": "hourly DX",
            "node": node_id,
            "modality_DX": "1",
            "desc_exclude": "imported",
            "every_minutes": "60",
            "look_back_minutes": "60",
            "retrieve": "1",
        },
    )
    assert saved.status_code == 303
    assert "hourly DX" in client.get("/qr/nodes").text
    now = dt.datetime(2016, 5, 4, 0, 30)
    (query_id,) = schedules.due_queries(sessions, now)
    assert schedules.due_queries(sessions, now + dt.timedelta(minutes=59)) == []  # not due again yet
    with sessions() as session:
        query = session.get(model.QrQuery, query_id)
        options = json.loads(query.options)
    # the manual's cron script: the date one hour ago (here yesterday, just after midnight) until today
    assert (options["date_from"], options["date_until"]) == ("2016-05-03", "2016-05-04")
    assert options["desc_exclude"] == ["imported"] and query.retrieve


def test_a_query_whose_worker_is_gone_is_failed_with_the_reason(client, sessions, node_id, settings):
    """On the worker's host, its process gone and its heartbeat missed twice (``job_liveness``)."""
    import subprocess
    import sys

    from orthanc_rem.job_liveness import GONE_AFTER_BEATS

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with sessions.begin() as session:
        query = store.create_query(session, session.get(model.QrNode, node_id), QueryOptions(modalities=("CT",)), False)
        query_id = query.id
    store.QueryProgress(sessions, query_id).status(store.QUERYING)
    with sessions.begin() as session:
        query = session.get(model.QrQuery, query_id)
        query.worker_pid = int(gone.stdout)
        query.heartbeat_at -= dt.timedelta(seconds=(GONE_AFTER_BEATS + 1) * settings.job_heartbeat_s)
        last_seen, host = query.heartbeat_at, query.worker_host
    state = client.get(f"/qr/api/queries/{query_id}").json
    assert state["status"] == "failed"
    last = f"last seen {last_seen:%Y-%m-%d %H:%M:%S} UTC on {host}, process {int(gone.stdout)}"
    assert state["reason"] == f"worker stopped ({last})"
    store.QueryProgress(sessions, query_id).status(store.QUERYING)  # this process: alive
    assert client.get(f"/qr/api/queries/{query_id}").json["status"] == "querying"
