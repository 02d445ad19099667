"""Query-retrieve end to end between real peers: a second Orthanc on loopback is the hospital PACS,
filled with whole studies (images and dose reports); our Orthanc, with the plugin and its
workers, queries and retrieves through Orthanc's own DICOM client, driven by ``orthanc-rem qr``.

The right objects and only those arrive and are extracted; a second run fetches nothing; a newer
cumulative RDSR of a known study is fetched. Expected UIDs are read from the DICOM files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import func, select

import sr_facts
from browser_session import chromium_page, log_in
from orthanc_harness import REPO_ROOT, OrthancProcess, free_ports, orthanc_rem_section, running_orthanc, storescu
from orthanc_rem import database, model
from qr_studies import images_for, newer_cumulative_report

pytestmark = pytest.mark.orthanc

CLI = [sys.executable, "-m", "orthanc_rem.cli"]
ADMIN = ("admin", "admin-secret")
WORKER = ("orthanc-rem-worker", "worker-secret")


def uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


@pytest.fixture
def peers(tmp_path, database_url):  # type: ignore[no-untyped-def]
    """(our Orthanc, the PACS Orthanc, our configuration file): the PACS knows our AE for C-MOVE;
    our workers use a least-privilege account, so the plugin's HTTP filter is in the path."""
    ours = OrthancProcess(
        tmp_path / "ours",
        aet="REMTEST",
        python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py",
        config={
            "AuthenticationEnabled": True,
            "RegisteredUsers": dict([ADMIN, WORKER]),
            "OrthancRem": orthanc_rem_section(tmp_path, database_url, OrthancAuthorization=":".join(WORKER)),
        },
    )
    with running_orthanc(
        tmp_path / "pacs",
        name="pacs",
        aet="PACS",
        config={"DicomModalities": {"rem": ["REMTEST", "127.0.0.1", ours.dicom_port]}},
    ) as pacs:
        ours.start()
        try:
            yield ours, pacs
        finally:
            ours.stop()
            print(ours.log_tail(120))
        assert not ours.python_errors(), ours.python_errors()


def cli(ours: OrthancProcess, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--config", str(ours.config_path), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_query_retrieve_from_a_pacs_orthanc_fetches_only_dose_objects_once(peers, corpus, tmp_path, database_url):
    ours, pacs = peers
    made = tmp_path / "made"
    ct_rdsr = corpus("CT-RDSR-Siemens-Multi-1.dcm")
    philips = corpus("CT-SC-Philips_Brilliance16P.dcm")
    rf_rdsr = corpus("RF-RDSR-Siemens-Zee.dcm")
    dx_images = [corpus(f"DX-Im-GE_XR220-{n}.dcm") for n in (1, 2, 3)]
    left_behind = [
        *images_for(ct_rdsr, "CT", 8, made / "ct", "Thorax 5mm"),
        *images_for(philips, "CT", 8, made / "philips", "Abdomen 5mm"),
        *images_for(rf_rdsr, "RF", 6, made / "rf", "Runs"),
        corpus("NM-PetIm-GE.dcm"),  # a modality not asked for
        corpus("ESR_non-dose.dcm"),  # an SR-only study: not found by modality queries
    ]
    wanted = [ct_rdsr, philips, rf_rdsr, *dx_images]
    storescu(pacs.dicom_port, pacs.aet, [*wanted, *left_behind])

    added = cli(
        ours, "qr-node", "add", "pacs", "--aet", pacs.aet, "--host", "127.0.0.1", "--port", str(pacs.dicom_port)
    )
    assert added.returncode == 0, added.stderr
    echo = cli(ours, "qr-node", "echo", "pacs")
    assert echo.returncode == 0 and "responding to DICOM echo" in echo.stdout, echo.stdout + echo.stderr

    query = [
        "qr",
        "--node",
        "pacs",
        "--modality",
        "CT",
        "--modality",
        "DX",
        "--modality",
        "FL",
        "--date-from",
        "1990-01-01",
        "--date-until",
        "2030-12-31",
        "--retrieve",
        "--wait",
        "--timeout",
        "240",
    ]
    first = cli(ours, *query)
    print(first.stdout)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "studies per type: CT 2, DX 1, FL 1" in first.stdout
    assert "Requesting move: modality CT" in first.stdout
    received = {i["MainDicomTags"]["SOPInstanceUID"] for i in ours.get_json("/instances?expand")}
    assert received == {uid(path) for path in wanted}
    sessions = database.session_factory(database_url)
    with sessions() as session:
        processed = set(session.scalars(select(model.ProcessedObject.sop_instance_uid)))
    assert processed == {uid(path) for path in wanted}

    second = cli(ours, *query)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "studies per type: none" in second.stdout
    assert len(ours.get_json("/instances")) == len(wanted)

    newer = newer_cumulative_report(ct_rdsr, corpus("CT-RDSR-Siemens-Multi-2.dcm"), made / "newer")
    storescu(pacs.dicom_port, pacs.aet, [newer])
    third = cli(ours, *query)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "studies per type: CT 1" in third.stdout
    received_now = {i["MainDicomTags"]["SOPInstanceUID"] for i in ours.get_json("/instances?expand")}
    assert received_now - received == {uid(newer)}
    study_uid = str(sr_facts.read(ct_rdsr).StudyInstanceUID)
    with sessions() as session:
        study = session.scalar(select(model.Study).where(model.Study.study_instance_uid == study_uid))
        assert study is not None
        events = {e.irradiation_event_uid for d in study.ct_radiation_doses for e in d.events}
        log_lines = session.scalar(select(func.count()).select_from(model.QrLogLine))
    assert events == sr_facts.event_uids(sr_facts.read(newer))  # the cumulative report replaced the first
    assert log_lines and log_lines > 10

    (closed_port,) = free_ports(1)
    cli(ours, "qr-node", "add", "down", "--aet", "NOBODY", "--host", "127.0.0.1", "--port", str(closed_port))
    failed = cli(ours, "qr", "--node", "down", "--modality", "CT", "--retrieve", "--wait", "--timeout", "120")
    assert failed.returncode == 1
    assert "does not answer C-ECHO" in failed.stderr


def web(ours: OrthancProcess, path: str, form: dict[str, str] | None = None) -> tuple[str, str]:
    """(final URL, page) of a GET, or of a form POST after its redirect, as the logged-in admin."""
    import base64
    import urllib.parse
    import urllib.request

    body = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(ours.url(path), data=body, method="POST" if form is not None else "GET")
    # Orthanc's own authentication is on here: its account first, then our login's session.
    request.add_header("Authorization", "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode())
    for header, value in ours.dose_browser_headers().items():
        request.add_header(header, value)
    if form is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.geturl(), response.read().decode()


def test_query_and_retrieve_from_the_pages_served_by_orthanc(peers, corpus):
    ours, pacs = peers
    wanted = [corpus("RF-RDSR-Siemens-Zee.dcm")]
    storescu(pacs.dicom_port, pacs.aet, [*wanted, corpus("NM-PetIm-GE.dcm")])

    web(ours, "/rem/qr/nodes", {"name": "pacs", "aet": pacs.aet, "host": "127.0.0.1", "port": str(pacs.dicom_port)})

    def echoed():  # type: ignore[no-untyped-def]
        web(ours, "/rem/qr/nodes")  # each visit asks the workers for fresh C-ECHOs
        state = json.loads(web(ours, "/rem/qr/api/echo")[1])
        return state["own_store"] and state["own_store"]["ok"] and state["nodes"][0]["ok"] and state

    state = ours.wait_until(echoed, timeout=60, interval=1, message="no C-ECHO answer recorded")
    assert state["nodes"][0]["message"] == "responding to DICOM echo"

    url, _ = web(ours, "/rem/qr/", {"node": "1", "sr_only": "1", "date_from": "2016-05-01", "remove_duplicates": "1"})
    query_id = int(url.rstrip("/").rsplit("/", 1)[1])
    api = f"/rem/qr/api/queries/{query_id}"
    ours.wait_until(
        lambda: json.loads(web(ours, api)[1])["status"] == "queried", timeout=60, interval=0.5, message="not queried"
    )
    assert json.loads(web(ours, api)[1])["counts"] == {"SR": 1}  # a store of dose reports alone: the SR-only query
    _, page = web(ours, f"/rem/qr/queries/{query_id}")
    assert "SR: 1" in page and "Currently querying for SR studies..." in page and ">Retrieve</button>" in page

    web(ours, f"/rem/qr/queries/{query_id}/retrieve", {})

    def extracted():  # type: ignore[no-untyped-def]
        state = json.loads(web(ours, api)[1])
        return state["status"] == "retrieved" and state["extraction"]["extracted"] == len(wanted) and state

    state = ours.wait_until(extracted, timeout=120, interval=0.5, message="not retrieved and extracted")
    assert state["retrieve"] == {"series_moved": 1, "series_total": 1}
    received = {i["MainDicomTags"]["SOPInstanceUID"] for i in ours.get_json("/instances?expand")}
    assert received == {uid(path) for path in wanted}
    # as a browser shows it: headless Chromium loads the page served by Orthanc
    with chromium_page() as first:  # Orthanc's own authentication is on: the browser holds its account
        credentials = {"username": ADMIN[0], "password": ADMIN[1], "send": "always"}
        browser_page = first.context.browser.new_context(http_credentials=credentials).new_page()
        log_in(browser_page, ours, f"/rem/qr/queries/{query_id}")
        page = browser_page.content()
    assert "SR: 1" in page and "1 of 1 series moved" in page and "Move complete: 1 series of 1 studies" in page


def test_a_scheduled_query_is_run_by_the_workers(peers, corpus, database_url):
    """The manual's hourly cron script as a saved query: the workers' periodic task runs it."""
    ours, pacs = peers
    report = corpus("DX-RDSR-Canon_CXDI.dcm")
    storescu(pacs.dicom_port, pacs.aet, [report])
    web(ours, "/rem/qr/nodes", {"name": "pacs", "aet": pacs.aet, "host": "127.0.0.1", "port": str(pacs.dicom_port)})
    thirty_years = str(30 * 366 * 24 * 60)
    web(
        ours,
        "/rem/qr/schedules",
        {
            "name": "dose reports",
            "node": "1",
            "sr_only": "1",
            "every_minutes": "60",
            "look_back_minutes": thirty_years,
            "retrieve": "1",
        },
    )
    sessions = database.session_factory(database_url)

    def extracted() -> bool:
        with sessions() as session:
            return uid(report) in set(session.scalars(select(model.ProcessedObject.sop_instance_uid)))

    ours.wait_until(extracted, timeout=180, interval=1, message="the scheduled query did not run")
    with sessions() as session:
        (query,) = session.scalars(select(model.QrQuery))
        assert query.schedule_fk is not None and query.status == "retrieved"
