"""Every query parameter a user can type is checked: a bad one is a 400 with a message, never a 500.

Hostile values a browser, a script or a scanner sends: digits that are not ASCII (``²`` is a digit
to ``str.isdigit`` but not to ``int``), numbers past 64-bit integers (SQL ``OFFSET`` overflows),
negative and empty values, NUL (PostgreSQL cannot hold it in text).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import persistence
from orthanc_rem.config import Settings
from test_web import ct_report
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"

#: (path, is the API) for every list; pages answer with HTML, the API with JSON.
LISTS = [("/ct/", False), ("/rf/", False), ("/dx/", False), ("/mg/", False), ("/rejected", False)]
LISTS += [("/api/studies", True), ("/api/rejected", True)]

NOT_WHOLE_NUMBERS = [
    "²",  # SUPERSCRIPT TWO: str.isdigit() is True, int() fails
    "٣",  # ARABIC-INDIC DIGIT THREE: int() reads it as 3
    "１",  # FULLWIDTH DIGIT ONE
    "-1",
    "0",
    "+5",
    "1e3",
    "0x10",
    "1.5",
    "\x00",
    "1\x00",
    str(2**63),
    str(2**64 + 1),
    "9" * 400,
]
NOT_DATES = ["２０２４-01-01", "٢٠٢٤-٠١-٠١", "2024-1-1", "-2024-01-01", "0000-01-01", "2024-01-01\x00", "\x00"]


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    with sessions() as session:
        persistence.store_report(session, ct_report(1))
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def answers(client, path: str, name: str, value: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    response = client.get(path, base_url=BASE_URL, query_string={name: value})
    return response.status_code, response.mimetype


@pytest.mark.parametrize("path, is_api", LISTS)
@pytest.mark.parametrize("name", ["page", "per_page"])
def test_a_bad_page_number_is_a_400(client, path, is_api, name):  # type: ignore[no-untyped-def]
    wrong = {value: answers(client, path, name, value) for value in NOT_WHOLE_NUMBERS}
    expected = (400, "application/json" if is_api else "text/html")
    assert {value: got for value, got in wrong.items() if got != expected} == {}


@pytest.mark.parametrize("path, is_api", [(p, a) for p, a in LISTS if "rejected" not in p])
def test_a_bad_date_is_a_400(client, path, is_api):  # type: ignore[no-untyped-def]
    for name in ("date_from", "date_until"):
        wrong = {value: answers(client, path, name, value) for value in NOT_DATES}
        assert {value: status for value, (status, _) in wrong.items() if status != 400} == {}, name


@pytest.mark.parametrize("path, is_api", [(p, a) for p, a in LISTS if "rejected" not in p])
def test_any_display_name_is_a_search_but_nul_is_a_400(client, path, is_api):  # type: ignore[no-untyped-def]
    for value in ("²", "'; DROP TABLE study; --", "Ω" * 2000, "%", "_"):
        assert answers(client, path, "display_name", value)[0] == 200, value
    assert answers(client, path, "display_name", "CT1\x00")[0] == 400


def test_a_bad_modality_is_a_400(client):  # type: ignore[no-untyped-def]
    for value in ("ＣＴ", "CT\x00", "ct ", "XA", "-1"):
        status, _ = answers(client, "/api/studies", "modality", value)
        assert status == (200 if value == "ct " else 400), value


def test_an_empty_parameter_means_not_given(client):  # type: ignore[no-untyped-def]
    for path, _ in LISTS:
        for name in ("page", "per_page", "date_from", "date_until", "display_name", "modality"):
            assert answers(client, path, name, "")[0] == 200, (path, name)


@pytest.mark.parametrize("path", ["/api/studies/{}", "/ct/{}", "/rf/{}", "/dx/{}", "/mg/{}"])
def test_a_study_id_past_64_bit_integers_is_not_found(client, path):  # type: ignore[no-untyped-def]
    for study_id in (str(2**63), "9" * 40):
        assert client.get(path.format(study_id), base_url=BASE_URL).status_code == 404, study_id
