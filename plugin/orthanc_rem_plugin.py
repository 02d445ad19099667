"""The Orthanc adapter: the only module that imports ``orthanc``.

Orthanc loads this file (``"PythonScript"`` in orthanc.json). It only translates Orthanc events
into plain calls and back, following orthanc-notes §0:

* NEW_INSTANCE change events enqueue the instance for extraction (buffered, and put on the queue
  in batches by a background thread, which adds the instance's SOP Class UID; never in the
  C-STORE path);
* STABLE_STUDY enqueues the study for the legacy CT dose-screen reader (``orthanc_rem.toshiba_ct``);
* ORTHANC_STARTED queues the catch-up and reconciliation (``orthanc_rem.recovery``) and starts
  the extraction worker processes, ORTHANC_STOPPED stops them;
* the Flask dose browser answers under ``/rem`` through our WSGI bridge.
"""

from __future__ import annotations

import json
import logging
import os
import sys

import orthanc
from huey.api import Task

from orthanc_rem import database, users, worker_access
from orthanc_rem.config import load_settings
from orthanc_rem.enqueue import BatchedEnqueue
from orthanc_rem.supervisor import WorkerSupervisor
from orthanc_rem.tasks import build_queue
from orthanc_rem_web import admin_pages
from orthanc_rem_web.app import EXPLORER_LOGIN_CONFIG, create_app
from orthanc_rem_web.wsgi_bridge import make_rest_callback, route_pattern


class _OrthancLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        if record.levelno >= logging.ERROR:
            orthanc.LogError(message)
        elif record.levelno >= logging.WARNING:
            orthanc.LogWarning(message)
        else:
            orthanc.LogInfo(message)


logging.getLogger("orthanc_rem").addHandler(_OrthancLogHandler())
logging.getLogger("orthanc_rem").setLevel(logging.INFO)

configuration = json.loads(orthanc.GetConfiguration())
settings = load_settings(configuration)
try:
    # Our own database, not Orthanc's: allowed during plugin initialisation.
    database.upgrade_schema(settings.database_url)
    # ORTHANC_REM_ADMIN_PASSWORD (scripts/serve) creates or resets the dose browser's "admin".
    with database.session_factory(settings.database_url)() as accounts:
        users.ensure_admin_from_environment(accounts, os.environ)
except Exception as exc:  # noqa: BLE001 - Orthanc must still start; the pages will show the error
    orthanc.LogError(f"orthanc-rem: cannot prepare the dose database {database.describe(settings.database_url)}: {exc}")

queue = build_queue(settings)


def ingest_task(orthanc_id: str) -> Task:
    """The extraction task of a new instance, with its SOP Class UID from Orthanc's metadata.

    Called by the enqueue thread, not by the change callback (the SDK call holds the GIL). In
    process this costs Orthanc less than the worker's HTTP request for it did; without it (the
    instance is gone already, or the call failed) the worker asks Orthanc itself.
    """
    try:
        sop_class_uid = orthanc.RestApiGet(f"/instances/{orthanc_id}/metadata/SopClassUid").decode().strip()
    except Exception:  # noqa: BLE001 - gone already, Orthanc stopping...: never keep an instance off the queue
        sop_class_uid = ""
    return queue.ingest_orthanc_instance.s(orthanc_id, sop_class_uid or None)


# NEW_INSTANCE events are enqueued in batches by a background thread (enqueue.py).
new_instances = BatchedEnqueue(queue.huey, ingest_task)
supervisor: WorkerSupervisor | None = None

app = create_app(settings)
app.extensions[admin_pages.QUEUE_EXTENSION] = queue  # retries and size imports go to the workers
orthanc.RegisterRestCallback(route_pattern(settings.url_prefix), make_rest_callback(app, settings.url_prefix))

worker_user = worker_access.account_user(settings.orthanc_authorization)
# One incoming-HTTP filter (worker_access.py): narrows the workers' account and, with Orthanc's own
# authentication off, checks Orthanc's accounts everywhere but under our prefix (issue 7).
http_access = worker_access.HttpAccess.from_configuration(configuration, settings.url_prefix, worker_user)
if http_access.needed:
    # This filter costs every HTTP request the GIL (and, with plugin 4.0, a little memory).
    _METHODS = {getattr(orthanc.HttpMethod, name): name for name in ("GET", "POST", "PUT", "DELETE")}

    def filter_requests(uri: str, method: int, ip: str, headers: dict[str, str], **_: object) -> bool:
        try:
            return http_access.allows(_METHODS.get(method, "?"), uri, headers)
        except Exception as exc:  # noqa: BLE001 - an exception here would answer 500 to every request
            orthanc.LogError(f"orthanc-rem: HTTP filter failed, request refused: {exc!r}")
            return False

    orthanc.RegisterIncomingHttpRequestFilter(filter_requests)
if http_access.orthanc_accounts is not None:

    def explorer_login(output: orthanc.RestOutput, uri: str, **request: object) -> None:
        """Ask the browser for an Orthanc account, then open Orthanc Explorer (worker_access.py)."""
        headers = request.get("headers") or {}
        if http_access.orthanc_account(headers) in (None, worker_user):  # type: ignore[arg-type]
            output.SendUnauthorized("Orthanc Secure Area")
        else:
            output.Redirect(worker_access.explorer_target(request.get("get") or {}))  # type: ignore[arg-type]

    orthanc.RegisterRestCallback(worker_access.EXPLORER_LOGIN, explorer_login)
    app.config[EXPLORER_LOGIN_CONFIG] = True  # the dose pages' Explorer links go through it


def _start_workers() -> None:
    global supervisor
    worker_settings = settings
    if not settings.orthanc_authorization:
        # A token valid for this Orthanc process; the workers live and die with it.
        from dataclasses import replace

        worker_settings = replace(settings, orthanc_authorization=orthanc.GenerateRestApiAuthorizationToken())
    supervisor = WorkerSupervisor(
        [settings.worker_python, "-m", "orthanc_rem.worker"],
        worker_settings.worker_environment(),
        log_line=orthanc.LogWarning,
    )
    supervisor.start()


#: Every this many queued instances, the workers record how far Orthanc's changes were handed
#: over, so that the catch-up at the next start replays little (orthanc_rem.recovery).
CHECKPOINT_EVERY = 500
_queued_since_checkpoint = 0


def on_change(change_type: int, _level: int, resource_id: str) -> None:
    global _queued_since_checkpoint
    if change_type == orthanc.ChangeType.NEW_INSTANCE:
        new_instances.add(resource_id)
        _queued_since_checkpoint += 1
        if _queued_since_checkpoint >= CHECKPOINT_EVERY:
            _queued_since_checkpoint = 0
            new_instances.flush()  # the checkpoint must not pass instances still in the buffer
            queue.record_change_checkpoint(resource_id)
    elif change_type == orthanc.ChangeType.STABLE_STUDY and queue.toshiba_ct_study is not None:
        queue.toshiba_ct_study(resource_id)  # a legacy CT dose screen, read by a worker (toshiba_ct)
    elif change_type == orthanc.ChangeType.ORTHANC_STARTED:
        # Orthanc's REST API answers from now on (not during import): the workers, wherever they
        # run, replay what was stored while we were away and re-queue what a killed worker lost.
        queue.recover_missed_instances()
        if settings.workers > 0:
            _start_workers()
        orthanc.LogWarning(f"orthanc-rem: dose pages at {settings.url_prefix}/ on Orthanc's HTTP port")
    elif change_type == orthanc.ChangeType.ORTHANC_STOPPED:
        new_instances.stop()  # what is still buffered goes on the queue before the workers stop
        if supervisor is not None:
            supervisor.stop()


orthanc.RegisterOnChangeCallback(on_change)

# Buttons in Orthanc Explorer (1 only): on the start page, the dose pages; on a study's page, that
# study's dose page (found by its Study Instance UID, orthanc_rem_web.explorer_links).
EXPLORER_BUTTON = """
$('#lookup').live('pagebeforeshow', function() {
  $('#orthanc-rem-dose-pages').remove();
  $('<a>', {id: 'orthanc-rem-dose-pages', href: '..PREFIX/', 'data-role': 'button', 'data-icon': 'info',
            'data-theme': 'e', rel: 'external', target: '_blank'})
    .text('Radiation dose monitoring').insertBefore($('#lookup form').first()).button();
});
$('#study').live('pagebeforeshow', function() {
  $('#orthanc-rem-study-dose').remove();
  var button = $('<a>', {id: 'orthanc-rem-study-dose', href: '#', 'data-role': 'button', 'data-icon': 'info',
                         'data-theme': 'e'}).text('Radiation dose');
  button.insertBefore($('#study-delete').parent().parent()).button();
  button.click(function(event) {
    event.preventDefault();
    $.getJSON('../studies/' + $.mobile.pageData.uuid, function(study) {
      window.open('..PREFIX/study-by-uid/' + encodeURIComponent(study.MainDicomTags.StudyInstanceUID), '_blank');
    });
  });
});
"""
orthanc.ExtendOrthancExplorer(EXPLORER_BUTTON.replace("PREFIX", settings.url_prefix))
orthanc.LogWarning(
    f"orthanc-rem loaded (Python {sys.version.split()[0]}), database {database.describe(settings.database_url)}"
)
