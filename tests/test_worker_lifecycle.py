"""The extraction workers' life: how many start, what they are given, and that they die with Orthanc."""

from __future__ import annotations

from orthanc_rem.config import load_settings


def test_zero_workers_in_orthanc_json_starts_none():
    """README: ``"Workers": 0`` means the workers run elsewhere (another host, a container)."""
    assert load_settings({"OrthancRem": {"Workers": 0}}, environ={}).workers == 0
    assert load_settings({}, environ={"ORTHANC_REM_WORKERS": "0"}).workers == 0


def test_workers_default_to_two_when_not_configured():
    assert load_settings({"OrthancRem": {}}, environ={}).workers == 2
