"""The dose pages' links to Orthanc Explorer go through ``/orthanc-explorer-login`` where the plugin
checks Orthanc's accounts itself: Explorer needs one, and our login gives none (README, "Users and
permissions"). Orthanc ids are SHA-1 digests in five groups of eight hex digits (Orthanc Book,
"Orthanc identifiers").
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urljoin

import pytest

from orthanc_rem import persistence
from orthanc_rem.config import Settings
from orthanc_rem.worker_access import explorer_target
from orthanc_rem_web.app import EXPLORER_LOGIN_CONFIG
from test_web import ct_report
from web_clients import dose_browser_client

#: An Orthanc identifier: the SHA-1 of a DICOM identifier, hex, cut into 5 groups of 8.
DIGEST = hashlib.sha1(b"1.2.3.4").hexdigest()
ORTHANC_ID = "-".join(DIGEST[i : i + 8] for i in range(0, 40, 8))


def test_the_login_sends_the_browser_to_the_resource_it_was_asked_for() -> None:
    assert explorer_target({"instance": ORTHANC_ID}) == f"app/explorer.html#instance?uuid={ORTHANC_ID}"
    assert explorer_target({"study": ORTHANC_ID}) == f"app/explorer.html#study?uuid={ORTHANC_ID}"
    assert explorer_target({}) == "app/explorer.html"


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/", "//evil.example", ORTHANC_ID + "#x", ORTHANC_ID.upper() + "<script>", ""]
)
def test_anything_but_an_orthanc_id_opens_explorers_start(hostile: str) -> None:
    assert explorer_target({"instance": hostile}) == "app/explorer.html"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pages_link_through_the_explorer_login_when_orthanc_serves_it(tmp_path: Path, database_url, sessions) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")
    client = dose_browser_client(settings, sessions)
    with sessions() as session:
        report = ct_report(5)
        study_id = persistence.store_report(session, report, orthanc_id=ORTHANC_ID).study_id
    base = "http://orthanc.test/rem/"
    direct = client.get(f"/ct/{study_id}", base_url=base).get_data(as_text=True)
    assert f'href="../../app/explorer.html#instance?uuid={ORTHANC_ID}"' in direct
    client.application.config[EXPLORER_LOGIN_CONFIG] = True
    through_login = client.get(f"/ct/{study_id}", base_url=base).get_data(as_text=True)
    href = f"../../orthanc-explorer-login?instance={ORTHANC_ID}"
    assert f'href="{href}"' in through_login
    assert urljoin(f"{base}ct/{study_id}", href) == f"http://orthanc.test/orthanc-explorer-login?instance={ORTHANC_ID}"
