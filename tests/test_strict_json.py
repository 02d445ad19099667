"""The API and ``orthanc-rem dump`` write strict JSON (RFC 8259) whatever the database holds.

An old row may hold ``inf`` or ``nan`` (stored before non-finite numbers were refused); Python's
``json`` would write the tokens ``Infinity``/``NaN``, which strict parsers (JavaScript's
``JSON.parse``, jq, Go, PostgreSQL's json) reject for the whole document.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model, persistence
from orthanc_rem.config import Settings
from test_web import ct_report
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"


def strict_loads(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def study_with_non_finite_values(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        result = persistence.store_report(session, ct_report(1, dlp_total=800.0))
        assert result.study_id is not None
        session.execute(update(model.CtRadiationDose).values(dlp_total_mgycm=float("inf")))
        session.execute(update(model.CtIrradiationEvent).values(mean_ctdivol_mgy=float("-inf")))
        session.execute(update(model.Patient).values(weight_kg=float("nan")))
        session.commit()
        return result.study_id


def test_the_api_writes_null_for_numbers_that_are_not_finite(
    study_with_non_finite_values: int, tmp_path: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")
    client = dose_browser_client(settings, sessions)
    listing = strict_loads(client.get("/api/studies", base_url=BASE_URL).get_data(as_text=True))
    assert [study["id"] for study in listing["studies"]] == [study_with_non_finite_values]
    answer = client.get(f"/api/studies/{study_with_non_finite_values}", base_url=BASE_URL)
    document = strict_loads(answer.get_data(as_text=True))
    (dose,) = document["ct_radiation_doses"]
    assert dose["dlp_total_mgycm"]["value"] is None
    assert dose["events"][0]["mean_ctdivol_mgy"]["value"] is None
    assert document["patient"]["weight_kg"]["value"] is None


def test_dump_writes_null_for_numbers_that_are_not_finite(study_with_non_finite_values: int, database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orthanc_rem.cli", "--database", database_url, "dump"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (document,) = strict_loads(result.stdout)
    assert document["id"] == study_with_non_finite_values
    assert document["ct_radiation_doses"][0]["dlp_total_mgycm"]["value"] is None
    assert document["ct_radiation_doses"][0]["events"][0]["mean_ctdivol_mgy"]["value"] is None
