"""The Orthanc adapter with a fake ``orthanc`` module: what it registers and what each event does.

The real plugin is exercised end to end in test_orthanc_ingest.py; here the wiring is checked
without Orthanc (notes §4: a SimpleNamespace stub in ``sys.modules``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import types
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugin"


class FakeOrthanc(types.SimpleNamespace):
    def __init__(self, configuration: dict) -> None:
        super().__init__(
            ChangeType=types.SimpleNamespace(NEW_INSTANCE=3, ORTHANC_STARTED=10, ORTHANC_STOPPED=11, STABLE_STUDY=9),
            rest_callbacks={},
            change_callbacks=[],
            logs=[],
            OrthancException=type("OrthancException", (Exception,), {}),
            # What RestApiGet answers (Orthanc's own REST API, in process); anything else: unknown resource.
            rest_answers={},
        )
        self._configuration = configuration

    def RestApiGet(self, uri: str) -> bytes:  # noqa: N802
        if uri not in self.rest_answers:
            raise self.OrthancException(17, "Unknown resource")
        return self.rest_answers[uri]

    def GetConfiguration(self) -> str:  # noqa: N802 - the SDK's name
        return json.dumps(self._configuration)

    def RegisterRestCallback(self, pattern, callback) -> None:  # noqa: N802
        self.rest_callbacks[pattern] = callback

    def RegisterOnChangeCallback(self, callback) -> None:  # noqa: N802
        self.change_callbacks.append(callback)

    def GenerateRestApiAuthorizationToken(self) -> str:  # noqa: N802
        return "Bearer fake-token"

    def ExtendOrthancExplorer(self, javascript: str) -> None:  # noqa: N802
        self.explorer_javascript = javascript

    def LogWarning(self, message: str) -> None:  # noqa: N802
        self.logs.append(message)

    LogInfo = LogError = LogWarning


@pytest.fixture
def plugin(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    fake = FakeOrthanc(
        {
            "HttpPort": 8999,
            "OrthancRem": {
                "Database": f"sqlite:///{tmp_path / 'rem.sqlite'}",
                "Queue": f"sqlite:///{tmp_path / 'queue.sqlite'}",
                "Workers": 2,
                "WorkerPython": "/opt/venv/bin/python",
            },
        }
    )
    for name in [n for n in list(os.environ) if n.startswith("ORTHANC_REM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setitem(sys.modules, "orthanc", fake)
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    started: list[tuple[list[str], dict[str, str]]] = []

    class RecordingSupervisor:
        def __init__(self, command, environment, log_line) -> None:  # type: ignore[no-untyped-def]
            self.command, self.environment = command, environment
            self.stopped = False

        def start(self) -> None:
            started.append((self.command, self.environment))

        def stop(self) -> None:
            self.stopped = True

    sys.modules.pop("orthanc_rem_plugin", None)
    module = importlib.import_module("orthanc_rem_plugin")
    monkeypatch.setattr(module, "WorkerSupervisor", RecordingSupervisor)
    yield fake, module, started
    sys.modules.pop("orthanc_rem_plugin", None)


def test_registers_the_dose_pages_under_rem_and_one_change_callback(plugin):
    fake, _module, _started = plugin
    assert list(fake.rest_callbacks) == ["/rem(/.*)?"]
    assert len(fake.change_callbacks) == 1


def test_orthanc_explorer_links_to_the_dose_pages(plugin):
    fake, _module, _started = plugin
    assert "href: '../rem/'" in fake.explorer_javascript


def test_new_instance_is_enqueued_not_processed(plugin):
    fake, module, _started = plugin
    fake.change_callbacks[0](fake.ChangeType.NEW_INSTANCE, 3, "0a1b2c3d-instance")
    module.new_instances.flush()  # the batch the background thread would enqueue a few ms later
    assert module.queue.huey.pending_count() == 1
    (task,) = module.queue.huey.pending()
    assert task.args == ("0a1b2c3d-instance", None)  # no SOP Class UID known: the worker asks


def test_the_task_carries_the_sop_class_uid_orthanc_holds(plugin):
    """The worker need not ask Orthanc for it (X-Ray Radiation Dose SR Storage, PS3.4 B.5)."""
    fake, module, _started = plugin
    fake.rest_answers["/instances/0a1b2c3d-instance/metadata/SopClassUid"] = b"1.2.840.10008.5.1.4.1.1.88.67"
    fake.change_callbacks[0](fake.ChangeType.NEW_INSTANCE, 3, "0a1b2c3d-instance")
    module.new_instances.flush()
    (task,) = module.queue.huey.pending()
    assert task.args == ("0a1b2c3d-instance", "1.2.840.10008.5.1.4.1.1.88.67")
    assert module.queue.queued_instance_ids() == {"0a1b2c3d-instance"}


def test_instances_still_buffered_are_enqueued_when_orthanc_stops(plugin):
    """Orthanc delivers ORTHANC_STOPPED after every change queued before it: none may stay in the buffer."""
    fake, module, _started = plugin
    module.new_instances.max_delay_s = 30  # the background thread would not flush during this test
    for orthanc_id in ("first-instance", "second-instance"):
        fake.change_callbacks[0](fake.ChangeType.NEW_INSTANCE, 3, orthanc_id)
    fake.change_callbacks[0](fake.ChangeType.ORTHANC_STOPPED, 4, "")
    assert [task.args[0] for task in module.queue.huey.pending()] == ["first-instance", "second-instance"]


def test_a_stable_study_enqueues_only_the_dose_screen_reader(plugin):
    """Issue 13: the study task decides (no RDSR, a configured system); the callback only enqueues."""
    fake, module, _started = plugin
    fake.change_callbacks[0](fake.ChangeType.STABLE_STUDY, 1, "study")
    (task,) = module.queue.huey.pending()
    assert (task.name, task.args) == ("toshiba_ct_study", ("study",))


def test_workers_start_with_orthanc_and_get_a_token(plugin):
    fake, module, started = plugin
    fake.change_callbacks[0](fake.ChangeType.ORTHANC_STARTED, 4, "")
    ((command, environment),) = started
    assert command == ["/opt/venv/bin/python", "-m", "orthanc_rem.worker"]
    assert environment["ORTHANC_REM_ORTHANC_AUTHORIZATION"] == "Bearer fake-token"
    assert environment["ORTHANC_REM_ORTHANC_URL"] == "http://127.0.0.1:8999"
    assert environment["ORTHANC_REM_DATABASE"].endswith("rem.sqlite")
    fake.change_callbacks[0](fake.ChangeType.ORTHANC_STOPPED, 4, "")
    assert module.supervisor.stopped


def test_start_queues_the_catch_up_and_reconciliation_for_the_workers(plugin):
    """Orthanc's REST API does not answer during the plugin's import: recovery waits for ORTHANC_STARTED."""
    fake, module, _started = plugin
    assert module.queue.huey.pending_count() == 0
    fake.change_callbacks[0](fake.ChangeType.ORTHANC_STARTED, 4, "")
    assert [task.name for task in module.queue.huey.pending()] == ["recover_missed_instances"]


def test_a_change_checkpoint_follows_every_few_hundred_instances(plugin):
    fake, module, _started = plugin
    for number in range(module.CHECKPOINT_EVERY):
        fake.change_callbacks[0](fake.ChangeType.NEW_INSTANCE, 3, f"instance-{number}")
    *_ingests, checkpoint = module.queue.huey.pending()
    assert (checkpoint.name, checkpoint.args) == (
        "record_change_checkpoint",
        (f"instance-{module.CHECKPOINT_EVERY - 1}",),
    )
