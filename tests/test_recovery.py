"""Nothing lost: instances stored while the plugin was away are extracted when it starts
(catch-up over Orthanc's changes), and a task lost by a killed worker is found again
(``orthanc-rem reconcile`` compares Orthanc's instances with the stored outcomes).

Real Orthanc 1.10.1 processes; expected SOP Instance UIDs are read from the files with pydicom.
"""

from __future__ import annotations

import pydicom
import pytest
from sqlalchemy import select

from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc
from orthanc_rem import cli, database, model, recovery
from orthanc_rem.config import load_settings
from orthanc_rem.orthanc_client import OrthancClient
from orthanc_rem.tasks import build_queue

pytestmark = pytest.mark.orthanc

PLUGIN = REPO_ROOT / "plugin" / "orthanc_rem_plugin.py"
DOSE_FILES = ["CT-RDSR-Siemens-Multi-1.dcm", "RF-RDSR-Siemens-Zee.dcm", "DX-Im-GE_XR220-1.dcm"]
UNMATCHED_FILE = "NM-PetIm-GE.dcm"


def _plugin_config(tmp_path, database_url: str, workers: int) -> dict:  # type: ignore[type-arg]
    return {
        "OrthancRem": orthanc_rem_section(tmp_path, database_url, workers=workers),
    }


def _outcomes(url: str) -> tuple[set[str], dict[str, str]]:
    """SOP Instance UIDs processed, and Orthanc ID -> outcome of every rejected object."""
    with database.session_factory(url)() as session:
        processed = set(session.scalars(select(model.ProcessedObject.sop_instance_uid)))
        rejected = {r.orthanc_id: r.outcome for r in session.scalars(select(model.RejectedObject))}
    return processed, rejected


def _post(orthanc, path) -> str:  # type: ignore[no-untyped-def]
    import json

    return json.loads(orthanc.request("POST", "/instances", path.read_bytes()))["ID"]


def test_objects_stored_while_the_plugin_was_not_loaded_are_extracted_when_it_starts(tmp_path, corpus, database_url):
    workdir = tmp_path / "orthanc"
    files = [corpus(name) for name in DOSE_FILES]
    with running_orthanc(workdir) as bare:  # same storage and index, no plugin
        for path in files:
            _post(bare, path)
        changes = bare.get_json("/changes?limit=1000")
    new_instances = [c["Seq"] for c in changes["Changes"] if c["ChangeType"] == "NewInstance"]
    expected = {str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) for path in files}

    with running_orthanc(
        workdir, python_script=PLUGIN, config=_plugin_config(tmp_path, database_url, workers=2)
    ) as orthanc:
        orthanc.wait_until(
            lambda: _outcomes(database_url)[0] == expected, timeout=90, interval=0.25, message="not extracted"
        )
    with database.session_factory(database_url)() as session:
        assert recovery.stored_change_sequence(session) >= max(new_instances)


def test_reconcile_requeues_a_lost_task_and_nothing_else(tmp_path, corpus, database_url, monkeypatch, capsys):
    """huey is at-most-once: a worker killed mid-task loses it. Here the task is taken off the
    queue, as a worker does before it runs it, and never run."""
    config = _plugin_config(tmp_path, database_url, workers=0)  # tasks wait in the queue for us
    with running_orthanc(tmp_path / "orthanc", python_script=PLUGIN, config=config) as orthanc:
        settings = load_settings(config, environ={"ORTHANC_REM_ORTHANC_URL": orthanc.url()})
        queue = build_queue(settings)

        def run_queued_tasks() -> None:
            while (task := queue.huey.dequeue()) is not None:
                queue.huey.execute(task)

        run_queued_tasks()  # the start-up recovery: nothing stored yet
        ids = {name: _post(orthanc, corpus(name)) for name in [*DOSE_FILES, UNMATCHED_FILE]}
        orthanc.wait_until(lambda: queue.huey.pending_count() == len(ids), timeout=30, message="not queued")
        lost = queue.huey.dequeue()  # taken by a worker that was then killed
        lost_id, _sop_class_uid = lost.args  # the plugin read the SOP Class UID too
        run_queued_tasks()
        processed, rejected = _outcomes(database_url)
        assert rejected[ids[UNMATCHED_FILE]] == "unmatched"  # recorded, so never taken for lost
        # The plugin's periodic checkpoint, naming the last instance it queued: the lost task is
        # behind it, so only reconciliation can find it.
        last_id = ids[UNMATCHED_FILE]
        changes = orthanc.get_json("/changes?limit=1000")["Changes"]
        (last_seq,) = [c["Seq"] for c in changes if c["ChangeType"] == "NewInstance" and c["ID"] == last_id]
        sessions = database.session_factory(database_url)
        assert recovery.checkpoint(sessions, OrthancClient(orthanc.url()), last_id, page_size=2) == last_seq
        assert lost_id != last_id

        monkeypatch.setenv("ORTHANC_REM_QUEUE", settings.queue_url)
        assert cli.main(["--database", database_url, "reconcile", "--catch-up", "--orthanc", orthanc.url()]) == 0
        assert "1 queued again" in capsys.readouterr().out
        assert [task.args for task in queue.huey.pending()] == [(lost_id,)]
        run_queued_tasks()

        processed, rejected = _outcomes(database_url)
        expected = {str(pydicom.dcmread(corpus(n), stop_before_pixels=True).SOPInstanceUID) for n in DOSE_FILES}
        assert processed == expected  # the lost one (the first stored, a CT RDSR) too
        # Every instance now has an outcome: another pass, a page of 2 at a time, queues nothing.
        again = recovery.reconcile(
            database.session_factory(database_url),
            OrthancClient(orthanc.url()),
            queue.ingest_orthanc_instance,
            page_size=2,
        )
        assert again == recovery.RecoveryCount(examined=len(ids), queued=0)
