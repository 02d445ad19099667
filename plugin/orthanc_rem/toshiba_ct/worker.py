"""The huey task behind the adapter's STABLE_STUDY: one study, read once (``study_task``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import RetryTask

from orthanc_rem import database
from orthanc_rem.config import Settings
from orthanc_rem.ingest import DATABASE_UNAVAILABLE
from orthanc_rem.orthanc_client import OrthancClient, OrthancUnavailable
from orthanc_rem.toshiba_ct.study_task import ToshibaCtConfig, process_study

log = logging.getLogger(__name__)

RETRY_DELAY_S = 10
#: Faults of the moment (Orthanc or the database down): the study is tried again, not quarantined.
POSTPONING: tuple[type[Exception], ...] = (OrthancUnavailable, *DATABASE_UNAVAILABLE)


def register_toshiba_ct_task(huey: Huey, settings: Settings, client: Callable[[], OrthancClient]) -> TaskWrapper:
    config = ToshibaCtConfig(systems=settings.toshiba_ct_systems)

    @huey.task(name="toshiba_ct_study")
    def toshiba_ct_study(orthanc_study_id: str) -> str:
        sessions = database.session_factory(settings.database_url, retried=True)
        try:
            result = process_study(sessions, client(), orthanc_study_id, config)
        except POSTPONING as exc:
            log.info("study %s: dose screen postponed (%s)", orthanc_study_id, exc)
            raise RetryTask(delay=RETRY_DELAY_S) from exc
        level = logging.WARNING if result.outcome == "failed" else logging.INFO
        log.log(level, "orthanc study %s: dose screen %s: %s", orthanc_study_id, result.outcome, result.reason)
        return result.outcome

    return toshiba_ct_study
