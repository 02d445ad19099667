"""``orthanc-rem qr-node`` and ``orthanc-rem qr`` without a PACS: node bookkeeping and the manual's
validation rules (exit code 2 and the rule's words on stderr)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "orthanc_rem.cli"]
NOWHERE = ["--orthanc", "http://127.0.0.1:9"]  # nothing listens on the discard port


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def test_nodes_are_added_listed_changed_and_removed(database_url):
    added = run(
        "--database",
        database_url,
        "qr-node",
        "add",
        "pacs",
        "--aet",
        "PACSAET01",
        "--host",
        "pacs.example",
        "--port",
        "104",
        "--use-modality-in-study-query",
        *NOWHERE,
    )
    assert added.returncode == 0, added.stderr
    assert "it learns the node when a query runs" in added.stdout
    listed = run("--database", database_url, "qr-node", "list")
    assert "pacs\tPACSAET01@pacs.example:104\tcalling AE (Orthanc)\tmodality key yes\tnever echoed" in listed.stdout
    changed = run(
        "--database", database_url, "qr-node", "edit", "pacs", "--port", "11112", "--calling-aet", "DOSE", *NOWHERE
    )
    assert changed.returncode == 0, changed.stderr
    assert (
        "pacs\tPACSAET01@pacs.example:11112\tcalling AE DOSE"
        in run("--database", database_url, "qr-node", "list").stdout
    )
    twice = run(
        "--database", database_url, "qr-node", "add", "pacs", "--aet", "X", "--host", "h", "--port", "1", *NOWHERE
    )
    assert twice.returncode == 2 and "exists already" in twice.stderr
    echo = run("--database", database_url, "qr-node", "echo", "pacs", *NOWHERE)
    assert echo.returncode == 1 and "cannot reach Orthanc" in echo.stderr
    removed = run("--database", database_url, "qr-node", "remove", "pacs", *NOWHERE)
    assert removed.returncode == 0, removed.stderr
    assert run("--database", database_url, "qr-node", "list").stdout == ""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--aet", "A" * 17, "--host", "h", "--port", "104"], "1 to 16 characters"),
        (["--aet", "PACS", "--host", "h", "--port", "70000"], "1 to 65535"),
        (["--aet", "PACS", "--host", "two words", "--port", "104"], "host name or IP"),
    ],
)
def test_a_node_orthanc_could_not_use_is_refused(database_url, arguments, message):
    result = run("--database", database_url, "qr-node", "add", "pacs", *arguments, *NOWHERE)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--modality", "CT", "--sr-only"], "SR-only cannot be used with modality choices"),
        (["--date-from", "2018-03-19"], "at least one modality"),
        (["--modality", "CT", "--date-from", "2018-03-19", "--time-from", "1200"], "need a single date"),
        (["--modality", "CT", "--single-date", "2018-03-19", "--date-until", "2018-03-20"], "single date cannot"),
        (["--modality", "CT", "--date-from", "19/03/2018"], "YYYY-MM-DD"),
        (["--modality", "CT", "--single-date", "2018-03-19", "--time-from", "25h"], "hhmm"),
        (["--modality", "DX", "--wait"], "--wait goes with --retrieve"),
    ],
)
def test_query_options_follow_the_manuals_rules(database_url, arguments, message):
    result = run("--database", database_url, "qr", "--node", "pacs", *arguments)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr


def test_an_unknown_node_is_named(database_url):
    result = run("--database", database_url, "qr", "--node", "nowhere", "--modality", "CT")
    assert result.returncode == 2 and "no node named 'nowhere'" in result.stderr


def test_the_manuals_toshiba_spelling_is_accepted(database_url):
    """``-toshiba`` as in the manual's openrem_qr.py: parsed (the node is what is missing), not refused."""
    result = run("--database", database_url, "qr", "--node", "nowhere", "--modality", "CT", "-toshiba")
    assert "no node named 'nowhere'" in result.stderr and "unrecognized arguments" not in result.stderr
