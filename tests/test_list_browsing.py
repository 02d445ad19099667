"""Working through a study list: deleting a study from it, sorting by a column header, and paging
by keyset ("next" / "previous" links and the API's ``next`` cursor) as well as by page number.

Studies are built here (``test_web.ct_report``), so the values asserted are the test's own inputs.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model
from orthanc_rem.config import Settings
from orthanc_rem.extraction import records
from orthanc_rem.users import VIEW
from orthanc_rem_web.list_sorting import header_sort
from test_web import ct_report, event
from web_clients import client_with_groups, dose_browser_client, served_dose_browser

BASE_URL = "http://orthanc.test/rem/"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=10)


@pytest.fixture
def client(settings: Settings, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return dose_browser_client(settings, sessions)



def page_text(client, path: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(path, base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return str(response.get_data(as_text=True))


def shown_accessions(text: str) -> list[str]:
    return re.findall(r'<span class="sub">(ACC\d{4})</span>', text)


def link(text: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', text)
    return html.unescape(found.group(1)).removeprefix("/rem") if found else None


# --- Delete column -------------------------------------------------------------------------------------


def test_admins_delete_a_study_from_the_list_and_return_to_the_filtered_list(client, store, sessions):  # type: ignore[no-untyped-def]
    keep, gone = store(ct_report(1, description="Chest")), store(ct_report(2, description="Chest"))
    listing = "/ct/?study_description=chest&order_by=-total_dlp"
    text = page_text(client, listing)
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]*/delete\?next=[^"]*)"', text)]
    assert sorted(urlsplit(h).path for h in hrefs) == sorted(f"/rem/admin/study/{n}/delete" for n in (keep, gone))
    (target,) = {parse_qs(urlsplit(h).query)["next"][0] for h in hrefs}
    assert target == "/rem" + listing
    confirm = page_text(client, f"/admin/study/{gone}/delete?next={quote(target)}")
    assert f'name="next" value="{html.escape(target)}"' in confirm
    answer = client.post(f"/admin/study/{gone}/delete", data={"next": target}, base_url=BASE_URL)
    assert answer.status_code == 303 and answer.headers["Location"] == target
    with sessions() as session:
        assert list(session.scalars(select(model.Study.id))) == [keep]


def test_viewers_see_no_delete_column(settings, sessions, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    viewer = client_with_groups(settings, sessions, [VIEW])
    text = page_text(viewer, "/ct/")
    assert "ACC0001" in text and "/delete" not in text and ">Delete<" not in text


# --- sortable headers ------------------------------------------------------------------------------------


def test_header_links_sort_by_their_column_and_turn_the_direction_round(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, dlp_total=300.0, description="Chest one"))
    store(ct_report(2, dlp_total=100.0, description="Chest two"))
    store(ct_report(3, dlp_total=200.0, description="Chest three"))
    text = page_text(client, "/ct/?study_description=chest&per_page=25")
    first = re.search(r'<a class="sort" href="([^"]*)"[^>]*>Total DLP \(mGy.cm\)</a>', text)
    assert first is not None
    query = parse_qs(urlsplit(html.unescape(first.group(1))).query)
    assert query == {"study_description": ["chest"], "per_page": ["25"], "order_by": ["-total_dlp"]}
    sorted_down = page_text(client, html.unescape(first.group(1)).removeprefix("/rem"))
    assert shown_accessions(sorted_down) == ["ACC0001", "ACC0003", "ACC0002"]
    again = re.search(
        r'<a class="sort" href="([^"]*)" aria-current="true" data-sort="descending">Total DLP', sorted_down
    )
    assert again is not None and "order_by=total_dlp" in again.group(1)
    assert shown_accessions(page_text(client, html.unescape(again.group(1)).removeprefix("/rem"))) == [
        "ACC0002", "ACC0003", "ACC0001"]  # fmt: skip


def test_first_click_sorts_numbers_down_and_text_up() -> None:
    assert header_sort("-study_date", "total_dlp").order_by == "-total_dlp"
    assert header_sort("-study_date", "study_description").order_by == "study_description"
    assert header_sort("-study_date", "study_date") == header_sort("-study_date", "study_date")
    assert header_sort("-study_date", "study_date").order_by == "study_date"
    assert header_sort("study_date", "study_date").order_by is None  # back to the default order
    assert header_sort("hospital", "hospital").state == "ascending"


# --- keyset pages -----------------------------------------------------------------------------------------


def awkward_studies(store) -> None:  # type: ignore[no-untyped-def]
    """Studies whose sort keys repeat and are missing: equal dates and DLPs, no time, no date, no DLP."""
    for n in range(1, 24):
        date = None if n % 7 == 0 else dt.date(2024, 1, 1 + n % 3)
        time = None if n % 5 == 0 else dt.time(8 + n % 2)
        events = (event(f"1.2.3.{n}.1", "A", None, None),) if n % 6 == 0 else None
        description = None if n % 4 == 0 else ["beta", "Alpha", "gamma"][n % 3]
        store(ct_report(n, study_date=date, study_time=time, events=events, dlp_total=[100.0, 200.0][n % 2] if
                        events is None else None, description=description))  # fmt: skip


def api_walk(client, order_by: str, per_page: int, direction: str = "next", start: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """Every study of the list, following the API's cursors from ``start``."""
    listed: list[str] = []
    query = f"/api/studies?modality=CT&order_by={order_by}&per_page={per_page}{start}"
    for _ in range(100):
        answer = client.get(query, base_url=BASE_URL)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        page = [s["accession_number"] for s in body["studies"]]
        listed = listed + page if direction == "next" else page + listed
        if body[direction] is None:
            return listed
        key = "after" if direction == "next" else "before"
        query = f"/api/studies?modality=CT&order_by={order_by}&per_page={per_page}&{key}={body[direction]}"
    raise AssertionError("the cursors never ended")


@pytest.mark.parametrize("order_by", ["-study_date", "study_date", "-total_dlp", "total_dlp", "study_description",
                                      "-study_description"])  # fmt: skip
def test_cursors_walk_the_same_list_as_page_numbers(client, store, order_by: str):  # type: ignore[no-untyped-def]
    awkward_studies(store)
    everything = client.get(f"/api/studies?modality=CT&order_by={order_by}&per_page=1000", base_url=BASE_URL)
    expected = [s["accession_number"] for s in everything.get_json()["studies"]]
    assert len(expected) == 23
    assert api_walk(client, order_by, 4) == expected
    assert api_walk(client, order_by, 1) == expected
    # and back: from the last page (reached by page number) through the "previous" cursors
    last = client.get(f"/api/studies?modality=CT&order_by={order_by}&per_page=4&page=6", base_url=BASE_URL).get_json()
    assert last["next"] is None and [s["accession_number"] for s in last["studies"]] == expected[20:]
    assert api_walk(client, order_by, 4, "previous", f"&before={last['previous']}") == expected[:20]


def expected_by_date(descending: bool) -> list[str]:
    """``awkward_studies`` in date order from their inputs: date, then time, then the study (stored
    in the order of n), empty values last in both directions."""
    keys = []
    for n in range(1, 24):
        date = None if n % 7 == 0 else dt.date(2024, 1, 1 + n % 3)
        time = None if n % 5 == 0 else dt.time(8 + n % 2)
        keys.append((date, time, n))

    def sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        flip = -1 if descending else 1
        date, time, n = key
        return (date is None, flip * (date.toordinal() if date else 0), time is None,
                flip * (time.hour if time else 0), flip * n)  # fmt: skip

    return [f"ACC{n:04d}" for *_, n in sorted(keys, key=sort_key)]


@pytest.mark.parametrize("order_by", ["-study_date", "study_date", "-total_dlp", "total_dlp", "-study_description",
                                      "hospital", "-display_name"])  # fmt: skip
def test_page_numbers_step_over_the_same_rows_as_cursors(client, store, order_by: str):  # type: ignore[no-untyped-def]
    """Pages by number find their studies' ids first, then read those studies (a deferred join):
    the same list, in the same order, as the keyset cursors walk."""
    awkward_studies(store)
    by_number: list[str] = []
    for page in range(1, 8):
        query = f"/api/studies?modality=CT&order_by={order_by}&per_page=4&page={page}"
        body = client.get(query, base_url=BASE_URL).get_json()
        by_number += [s["accession_number"] for s in body["studies"]]
        assert body["has_next"] == (page < 6)
    assert by_number == api_walk(client, order_by, 5)
    if order_by.endswith("study_date"):
        assert by_number == expected_by_date(order_by.startswith("-"))


def test_the_pages_next_and_previous_links_carry_the_cursor_and_the_page_number(client, store):  # type: ignore[no-untyped-def]
    awkward_studies(store)
    by_number = [shown_accessions(page_text(client, f"/ct/?study_description=a&page={n}")) for n in (1, 2)]
    first = page_text(client, "/ct/?study_description=a")
    following = link(first, "next")
    assert following is not None
    query = parse_qs(urlsplit(following).query)
    assert query["page"] == ["2"] and query["study_description"] == ["a"] and "after" in query
    second = page_text(client, following)
    assert shown_accessions(second) == by_number[1]
    assert "<strong>2</strong>" in second
    back = link(second, "prev")
    assert back is not None and "before=" in back and "page=" not in back
    assert shown_accessions(page_text(client, back)) == by_number[0]


def test_a_cursor_that_is_not_ours_is_a_400(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    good = client.get("/api/studies?modality=CT&per_page=1", base_url=BASE_URL).get_json()
    assert good["next"] is None
    store(ct_report(2))
    cursor = client.get("/api/studies?modality=CT&per_page=1", base_url=BASE_URL).get_json()["next"]
    month_13 = "WyItc3R1ZHlfZGF0ZSIsIjIwMjQtMTMtMDEiLCIxMDowMDowMCIsMV0"  # ["-study_date","2024-13-01",...]
    for bad in ("x", "bm90IGpzb24", "WzEsMl0", cursor + "A" * 5000, month_13):
        answer = client.get(f"/api/studies?modality=CT&after={bad}", base_url=BASE_URL)
        assert answer.status_code == 400 and "after is not a position" in answer.get_json()["error"], bad
    assert client.get(f"/ct/?order_by=-total_dlp&after={cursor}", base_url=BASE_URL).status_code == 400
    by_description = client.get("/api/studies?modality=CT&per_page=1&order_by=study_description", base_url=BASE_URL)
    other_order = by_description.get_json()["next"]  # same key count and type as "procedure": still refused
    assert client.get(f"/ct/?order_by=procedure&after={other_order}", base_url=BASE_URL).status_code == 400
    assert client.get(f"/ct/?after={cursor}&before={cursor}", base_url=BASE_URL).status_code == 400


# --- client-side sort of the small tables -------------------------------------------------------------------


@pytest.fixture
def served(settings, sessions) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with served_dose_browser(settings, sessions) as url:
        yield url


def with_station(report: records.CtDoseReport, station: str) -> records.CtDoseReport:
    return replace(report, equipment=replace(report.equipment, station_name=station))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_home_tables_sort_in_chromium_by_a_click_on_a_header(served: str, store) -> None:  # type: ignore[no-untyped-def]
    from browser_session import chromium_page

    for n, station in enumerate(["B-ROOM"] * 3 + ["A-ROOM"] * 1 + ["C-ROOM"] * 2, start=1):
        store(with_station(ct_report(n, study_date=dt.date(2024, 1, n)), station))
    with chromium_page() as page:
        page.goto(f"{served}/")
        table = page.locator("#systems-ct")

        def names() -> list[str]:
            return [text.strip() for text in table.locator("tbody tr td:first-child").all_inner_texts()]

        def ordered_by(label: str) -> list[str]:
            table.get_by_role("button", name=label).click()
            return names()

        shown = names()
        a_room = next(name for name in shown if "A-ROOM" in name)
        b_room = next(name for name in shown if "B-ROOM" in name)
        c_room = next(name for name in shown if "C-ROOM" in name)
        assert ordered_by("Total number of studies") == [a_room, c_room, b_room]
        assert ordered_by("Total number of studies") == [b_room, c_room, a_room]
        assert ordered_by("Latest study") == [b_room, a_room, c_room]  # 3 Jan, 4 Jan, 6 Jan
        assert table.locator("th[aria-sort=ascending]").inner_text().startswith("Latest study")
        assert ordered_by("System name") == sorted(shown, key=str.casefold)


def test_display_name_tables_sort_by_click_except_the_selection_and_review_columns(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    text = page_text(client, "/admin/display-names")
    assert 'document.querySelectorAll("table.systems")' in text
    assert '<th class="nosort"><span class="visually-hidden">Select</span></th>' in text
    assert '<th class="nosort">Review</th>' in text
    assert '<th class="num">Studies</th>' in text  # sorted as numbers
