"""The workers' log file under the data folder: one line per object outcome, tracebacks only at
DEBUG, and several worker processes writing and rotating one file without losing lines."""

from __future__ import annotations

import logging
import multiprocessing

import pytest

from fake_orthanc_http import fake_orthanc
from orthanc_rem import database, worker_log
from orthanc_rem.config import load_settings
from orthanc_rem.tasks import build_queue

X_RAY_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_one_line_per_object_outcome_in_the_data_folder(tmp_path, corpus, restore_logging):
    log_file = worker_log.configure(tmp_path / "data", "INFO")
    url = f"sqlite:///{tmp_path / 'rem.sqlite'}"
    database.upgrade_schema(url)
    routes = {
        "/instances/bad/metadata/SopClassUid": (200, X_RAY_RADIATION_DOSE_SR.encode()),
        "/instances/bad/file": (200, b"not DICOM at all"),
        "/instances/good/metadata/SopClassUid": (200, X_RAY_RADIATION_DOSE_SR.encode()),
        "/instances/good/file": (200, corpus("CT-RDSR-Siemens-Multi-1.dcm").read_bytes()),
        "/instances/pet/metadata/SopClassUid": (200, b"1.2.840.10008.5.1.4.1.1.128"),  # PET Image Storage
    }
    with fake_orthanc(routes) as orthanc_url:
        settings = load_settings(
            {},
            environ={
                "ORTHANC_REM_DATABASE": url,
                "ORTHANC_REM_QUEUE": f"sqlite:///{tmp_path / 'queue.sqlite'}",
                "ORTHANC_REM_ORTHANC_URL": orthanc_url,
            },
        )
        queue = build_queue(settings)
        for orthanc_id in ("bad", "good", "pet"):
            queue.ingest_orthanc_instance(orthanc_id)
        while (task := queue.huey.dequeue()) is not None:
            queue.huey.execute(task)
    lines = log_file.read_text("utf-8").splitlines()
    assert [line.split(": ", 1)[1].split()[0:2] for line in lines] == [
        ["orthanc:bad:", "failed"],
        ["orthanc:good:", "imported"],
        ["orthanc:pet:", "unmatched"],
    ]
    assert " WARNING " in lines[0]


def test_tracebacks_only_at_debug_level(tmp_path, restore_logging):
    for level in ("INFO", "DEBUG"):
        log_file = worker_log.configure(tmp_path / level, level)
        try:
            raise ValueError("a value\nover two lines")
        except ValueError:
            logging.getLogger("orthanc_rem.test").exception("object x failed")
        for handler in list(logging.getLogger().handlers):
            if isinstance(handler, worker_log.SharedRotatingFileHandler):
                logging.getLogger().removeHandler(handler)
                handler.close()
        text = log_file.read_text("utf-8")
        if level == "INFO":
            assert text.count("\n") == 1 and "object x failed (ValueError: a value)" in text
        else:
            assert "Traceback (most recent call last)" in text


def _write_lines(path: str, writer: int, count: int) -> None:
    logger = logging.getLogger(f"writer{writer}")
    logger.propagate = False
    handler = worker_log.SharedRotatingFileHandler(path, max_bytes=20_000, backup_count=1000)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    for number in range(count):
        logger.warning("writer %d line %05d %s", writer, number, "x" * 40)
    handler.close()


def test_several_processes_rotate_one_file_without_losing_a_line(tmp_path):
    path = str(tmp_path / "orthanc-rem.log")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_lines, args=(path, n, 1500)) for n in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    files = list(tmp_path.glob("orthanc-rem.log*"))
    lines = [line for f in files if not f.name.endswith(".lock") for line in f.read_text("utf-8").splitlines()]
    assert len([f for f in files if not f.name.endswith(".lock")]) > 5  # it did rotate
    assert sorted(lines) == sorted(f"writer {w} line {n:05d} {'x' * 40}" for w in range(3) for n in range(1500))
