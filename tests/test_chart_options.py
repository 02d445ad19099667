"""Chart statistics and options on CT studies built here, whose values the test sets: medians of
odd and even counts, blank and zero doses, "Blank" names, series per system, case-insensitive
categories, sorting, histograms (and their drill-down), time periods; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import equipment_admin, model
from orthanc_rem.charts import statistics as chart_statistics
from orthanc_rem.config import Settings
from orthanc_rem.extraction import records
from test_web import TOPOGRAM, ct_report, event
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
ONE_SERIES = "series_per_system=no&average=both"  # both: these tests check medians too


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)



def study(number: int, description: str | None, dlps: list[float | None], **fields: Any) -> records.CtDoseReport:
    """A study of one event per DLP (protocol ``protocol``, default "Helical"), its total their sum."""
    protocol = fields.pop("protocol", "Helical")
    events = tuple(event(f"1.2.3.{number}.{i}", protocol, 10.0, dlp)
                   for i, dlp in enumerate(dlps, start=1))  # fmt: skip
    total = sum(d for d in dlps if d) or None
    return ct_report(number, description=description, events=events, dlp_total=total, **fields)


def chart(client: Any, path: str) -> dict[str, Any]:
    response = client.get(f"/api/charts/ct/{path}", base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    document: dict[str, Any] = response.get_json()
    return document


def by_category(document: dict[str, Any]) -> dict[str, Any]:
    return {item["category"]: item for item in document["data"]}


def test_median_of_odd_and_even_counts_without_blank_or_zero_doses(client, store):  # type: ignore[no-untyped-def]
    store(study(1, "Head", [100.0, 0.0, None, 300.0, 200.0], protocol="Odd"))  # 100, 200, 300
    store(study(2, "Head", [10.0, 40.0, 20.0, 30.0], protocol="Even"))  # 10, 20, 30, 40
    data = by_category(chart(client, f"dlp-per-acquisition-protocol?{ONE_SERIES}"))
    assert (data["Odd"]["n"], data["Odd"]["mean"], data["Odd"]["median"]) == (3, 200.0, 200.0)
    assert (data["Even"]["n"], data["Even"]["mean"], data["Even"]["median"]) == (4, 25.0, 25.0)
    mean_only = by_category(chart(client, "dlp-per-acquisition-protocol?series_per_system=no&average=mean"))
    assert (mean_only["Odd"]["mean"], mean_only["Odd"]["median"]) == (200.0, None)  # the sort is skipped


def test_medians_are_exact_when_postgresql_counts_buckets_first(client, store, monkeypatch):  # type: ignore[no-untyped-def]
    """PostgreSQL finds the middle values through counts per bucket of ln(value) (1.6 % wide) when a
    chart has many values; forced here for a few: middle values in one bucket, in two, with ties."""
    monkeypatch.setattr(chart_statistics, "BUCKETED_FROM", 0)
    store(study(1, "Head", [100.0, 100.5, 101.0, 300.0, 1000.0], protocol="Odd"))  # 101
    store(study(2, "Head", [10.0, 10.01, 10.02, 10.03], protocol="Same bucket"))  # (10.01 + 10.02) / 2
    store(study(3, "Head", [10.0, 1000.0], protocol="Far apart"))  # 505
    store(study(4, "Head", [7.0, 7.0, 7.0, 2.0], protocol="Ties"))  # 7
    store(study(5, "Head", [42.0], protocol="One"))
    data = by_category(chart(client, f"dlp-per-acquisition-protocol?{ONE_SERIES}"))
    medians = {category: item["median"] for category, item in data.items()}
    assert medians == {"Odd": 101.0, "Same bucket": pytest.approx(10.015), "Far apart": 505.0, "Ties": 7.0,
                       "One": 42.0}  # fmt: skip
    assert (data["Odd"]["n"], data["Odd"]["mean"]) == (5, pytest.approx(320.3))


@pytest.mark.parametrize("bucketed_from", [0, 200_000])
def test_groups_of_one_name_merge_with_their_medians(client, store, sessions, monkeypatch,
                                                     bucketed_from):  # type: ignore[no-untyped-def]  # fmt: skip
    """The CT acquisition charts group by the stored protocol and equipment id and name the groups
    afterwards: protocols that differ only by surrounding spaces or by case (case-insensitive
    option) and systems given one display name must count as one category and series, with the
    median of all their values (not of the parts' medians). Forced through PostgreSQL's bucketed
    median (0) and through the median of the named rows (default threshold)."""
    monkeypatch.setattr(chart_statistics, "BUCKETED_FROM", bucketed_from)
    store(study(1, "Head", [10.0, 20.0, 30.0], protocol="Spiral", institution="North"))  # median 20
    store(study(2, "Head", [1.0, 2.0], protocol=" Spiral  ", institution="South"))  # median 1.5
    store(study(3, "Head", [1000.0], protocol="SPIRAL", institution="North"))
    store(study(4, "Head", [5.0], protocol=None, institution="North"))
    store(study(5, "Head", [7.0], protocol="   ", institution="South"))
    with sessions() as session:
        ids = list(session.execute(select(model.Equipment.id)).scalars())
        assert len(ids) == 2
        equipment_admin.set_display_name(session, ids, "Shared room")
    per_system = "dlp-per-acquisition-protocol?series_per_system=yes&average=both"
    data = {(i["category"], i["series"]): (i["n"], i["mean"], i["median"]) for i in chart(client, per_system)["data"]}
    # Spiral: 1, 2, 10, 20, 30 (the median of the parts' medians would be 10.75); Blank: 5, 7.
    assert data == {("Spiral", "Shared room"): (5, pytest.approx(12.6), 10.0),
                    ("SPIRAL", "Shared room"): (1, 1000.0, 1000.0),
                    ("Blank", "Shared room"): (2, 6.0, 6.0)}  # fmt: skip
    folded = chart(client, f"dlp-per-acquisition-protocol?{ONE_SERIES}&case_insensitive=yes")["data"]
    assert {i["category"]: (i["n"], i["median"]) for i in folded} == {"spiral": (6, 15.0), "Blank": (2, 6.0)}
    counts = chart(client, "acquisition-frequency?series_per_system=yes")["data"]
    assert {(i["category"], i["series"]): i["n"] for i in counts} == {
        ("Spiral", "Shared room"): 5, ("SPIRAL", "Shared room"): 1, ("Blank", "Shared room"): 2}  # fmt: skip


@pytest.mark.parametrize("series", ["yes", "no"])
def test_medians_of_filtered_studies_when_postgresql_counts_buckets_first(client, store, monkeypatch,
                                                                          series):  # type: ignore[no-untyped-def]  # fmt: skip
    """The middle values are read back from the (protocol, system, value) indexes with the list's
    filters: dates (tested on the indexes' included columns) and any other filter (through the
    studies); a blank protocol and CTDIvol too. Forced through PostgreSQL's bucketed median."""
    monkeypatch.setattr(chart_statistics, "BUCKETED_FROM", 0)
    year = dt.date(2023, 5, 1)
    store(study(1, "Chest", [10.0, 40.0, 20.0], protocol="Helical", study_date=year, institution="North"))
    store(study(2, "Head", [30.0], protocol="Helical", study_date=year, institution="South"))
    store(study(3, "Head", [1000.0, 2000.0], protocol="Helical", study_date=dt.date(2022, 5, 1)))
    store(study(4, "Head", [3.0, 1.0, 2.0], protocol=None, study_date=year))
    options = f"series_per_system={series}&average=both"

    def medians(path: str) -> dict[str, Any]:
        return {item["category"]: (item["n"], item["median"]) for item in chart(client, f"{path}&{options}")["data"]}

    # Helical: 10, 20, 30, 40, 1000, 2000 (the systems merged without a series per system).
    everything = medians("dlp-per-acquisition-protocol?")
    assert everything["Blank"] == (3, 2.0)
    if series == "no":
        assert everything["Helical"] == (6, 35.0)
    one_year = medians("dlp-per-acquisition-protocol?date_from=2023-01-01&date_until=2023-12-31")
    assert one_year["Blank"] == (3, 2.0)
    if series == "no":
        assert one_year["Helical"] == (4, 25.0)  # 10, 20, 30, 40
    assert medians("dlp-per-acquisition-protocol?study_description=chest") == {"Helical": (3, 20.0)}
    # Every event of study() has a CTDIvol of 10 mGy.
    assert medians("ctdivol-per-acquisition-protocol?date_from=2023-01-01")["Blank"] == (3, 10.0)


def test_blank_names_are_blank_and_localisers_are_left_out(client, store):  # type: ignore[no-untyped-def]
    topogram = event("1.2.3.9.1", "Topogram", 1.0, 5.0, ct_acquisition_type=TOPOGRAM)
    store(ct_report(9, description="  ", events=(topogram, event("1.2.3.9.2", " ", 10.0, 70.0))))
    protocols = by_category(chart(client, f"dlp-per-acquisition-protocol?{ONE_SERIES}"))
    assert set(protocols) == {"Blank"}
    assert protocols["Blank"]["filter"] is None  # "Blank" cannot be searched for
    descriptions = by_category(chart(client, f"ctdivol-per-study-description?{ONE_SERIES}"))
    assert set(descriptions) == {"Blank"} and descriptions["Blank"]["n"] == 1


def test_series_per_system_and_case_insensitive_categories(client, store):  # type: ignore[no-untyped-def]
    store(study(1, "Head", [100.0], institution="North"))
    store(study(2, "HEAD", [300.0], institution="South"))
    per_system = chart(client, "dlp-per-study-description")
    assert {(i["category"], i["series"], i["mean"]) for i in per_system["data"]} == {
        ("Head", "North CT1", 100.0), ("HEAD", "South CT1", 300.0)
    }  # fmt: skip
    merged = chart(client, f"dlp-per-study-description?{ONE_SERIES}&case_insensitive=yes")
    assert [(i["category"], i["n"], i["mean"], i["median"]) for i in merged["data"]] == [("head", 2, 200.0, 200.0)]


def test_sorting_by_value_frequency_and_name_either_way(client, store):  # type: ignore[no-untyped-def]
    store(study(1, "Alpha", [500.0]))
    store(study(2, "beta", [100.0]))
    store(study(3, "beta", [150.0]))
    store(study(4, "Gamma", [300.0]))

    def order(query: str) -> list[str]:
        return [i["category"] for i in chart(client, f"dlp-per-study-description?series_per_system=no&{query}")["data"]]

    assert order("sort=value&direction=desc&average=mean") == ["Alpha", "Gamma", "beta"]
    assert order("sort=value&direction=asc&average=mean") == ["beta", "Gamma", "Alpha"]
    assert order("sort=frequency&direction=desc")[0] == "beta"
    assert order("sort=name&direction=asc") == ["Alpha", "beta", "Gamma"]
    assert order("sort=name&direction=desc") == ["Gamma", "beta", "Alpha"]


def test_histogram_bins_count_every_value_and_drill_down_to_their_studies(client, store):  # type: ignore[no-untyped-def]
    for number, dlp in enumerate([100.0, 110.0, 150.0, 200.0], start=1):
        store(study(number, "Chest", [dlp]))
    document = chart(client, f"dlp-per-study-description?{ONE_SERIES}&histogram=yes&bins=4")
    histogram = document["data"][0]["histogram"]
    assert histogram["edges"] == [100.0, 125.0, 150.0, 175.0, 200.0]
    assert histogram["counts"] == [2, 0, 1, 1]
    for i, parameters in enumerate(histogram["filters"]):
        response = client.get("/api/studies", query_string={"modality": "CT", **parameters}, base_url=BASE_URL)
        dlps = sorted(s["total_dlp"]["value"] for s in response.get_json()["studies"])
        low, high = histogram["edges"][i], histogram["edges"][i + 1]
        assert dlps == [d for d in [100.0, 110.0, 150.0, 200.0] if low <= d <= high]
    normalised = chart(client, f"dlp-per-study-description?{ONE_SERIES}&histogram=yes&bins=4&normalise=yes")
    assert normalised["data"][0]["histogram"]["counts"] == [0.5, 0, 0.25, 0.25]


def test_study_dlp_over_time_per_month_and_week(client, store):  # type: ignore[no-untyped-def]
    store(study(1, "Head", [100.0], study_date=dt.date(2024, 3, 6)))  # a Wednesday
    store(study(2, "Head", [300.0], study_date=dt.date(2024, 3, 10)))  # the Sunday of that week
    store(study(3, "Head", [50.0], study_date=dt.date(2024, 4, 1)))
    months = chart(client, "dlp-over-time?period=month")
    expected = [("2024-03-01", 2, 200.0), ("2024-04-01", 1, 50.0)]
    assert [(i["period"], i["n"], i["mean"]) for i in months["data"]] == expected
    weeks = chart(client, "dlp-over-time?period=week")
    assert [i["period"] for i in weeks["data"]] == ["2024-03-04", "2024-04-01"]
    years = chart(client, "dlp-over-time?period=year&average=median")
    assert [(i["period"], i["n"], i["median"]) for i in years["data"]] == [("2024-01-01", 3, 100.0)]


def test_bad_options_and_unknown_charts_are_clear_errors(client):  # type: ignore[no-untyped-def]
    bad = {"bins=41": "bins must be between 2 and 40", "sort=size": "sort must be one of",
           "average=mode": "average must be one of", "dap_from=1": "CT studies have no DAP"}  # fmt: skip
    for query, expected in bad.items():
        response = client.get(f"/api/charts/ct/dlp-per-study-description?{query}", base_url=BASE_URL)
        assert response.status_code == 400 and expected in response.get_json()["error"]
    assert client.get("/api/charts/ct/no-such-chart", base_url=BASE_URL).status_code == 404
    assert client.get("/api/charts/xx/workload", base_url=BASE_URL).status_code == 404


def test_charts_are_of_the_filtered_studies_only(client, store):  # type: ignore[no-untyped-def]
    store(study(1, "Head", [100.0], protocol="Brain"))
    store(study(2, "Chest", [300.0], protocol="Lung"))
    store(study(3, "Chest", [500.0], protocol="Lung low dose", study_date=dt.date(2023, 1, 1)))
    by_protocol = chart(client, f"dlp-per-study-description?{ONE_SERIES}&acquisition_protocol=lung")
    assert [(i["category"], i["n"], i["mean"]) for i in by_protocol["data"]] == [("Chest", 2, 400.0)]
    by_date = chart(client, f"dlp-per-acquisition-protocol?{ONE_SERIES}&date_from=2024-01-01")
    assert {i["category"] for i in by_date["data"]} == {"Brain", "Lung"}
    workload = chart(client, "workload?study_description=chest")
    assert sum(day["n"] for day in workload["data"]) == 2
