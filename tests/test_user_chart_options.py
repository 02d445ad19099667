"""Chart options per user, stored in the database (manual 6.3 "Chart options"; feature inventory
part 1 §8.3): the manual's defaults, set by the user on the options page or the chart panel, by an
administrator for any user, used by the chart API as its defaults; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import persistence, users
from orthanc_rem.config import Settings
from orthanc_rem.model import DoseBrowserUser, UserChartOptions, UserModalityChartOptions
from test_chart_options import study
from web_clients import PASSWORD, add_user, anonymous_client, client_with_groups, log_in

BASE_URL = "http://orthanc.test/rem/"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)


def named_client(settings: Settings, sessions: sessionmaker[Session], name: str, groups: tuple[str, ...]) -> Any:
    add_user(sessions, name, groups)
    client = anonymous_client(settings, sessions)
    log_in(client, name, PASSWORD)
    return client


def user_id(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        found = session.scalar(select(DoseBrowserUser.id).where(DoseBrowserUser.name == name))
    assert found is not None
    return int(found)


def panel_state(client: Any, modality: str) -> dict[str, Any]:
    response = client.get(f"/api/chart-options/{modality}", base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    state: dict[str, Any] = response.get_json()
    return state


#: The options form as a browser sends it: a ticked box sends "yes" before its hidden "no".
def form(**chosen: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"plot_charts": ["yes", "no"], "histogram": ["yes", "no"], "case_insensitive": "no",
                              "average": "mean", "direction": "desc", "series_per_system": ["yes", "no"],
                              "bins": "20", "normalise": "no", "ct_charts": ["dlp-per-acquisition-protocol"],
                              "ct_sort": "frequency", "ct_period": "month", "dx_sort": "frequency",
                              "dx_period": "month", "rf_sort": "frequency"}  # fmt: skip
    fields.update(chosen)
    return fields


def test_a_new_user_has_the_manuals_defaults(settings, sessions):  # type: ignore[no-untyped-def]
    client = client_with_groups(settings, sessions, [users.VIEW])
    ct = panel_state(client, "ct")
    # Figure 13 (L5336-5340): histograms on, case-sensitive, the mean, descending, a series per
    # system, 20 bins; CT shows DLP per acquisition; months; frequency sorting. Plot charts is off
    # until asked for (OpenREM's profile default, plotCharts False).
    assert ct == {"plot_charts": False, "charts": ["dlp-per-acquisition-protocol"],
                  "options": {"average": "mean", "sort": "frequency", "direction": "desc",
                              "series_per_system": "yes", "case_insensitive": "no", "histogram": "yes",
                              "bins": "20", "normalise": "no", "period": "month"}}  # fmt: skip
    assert panel_state(client, "dx")["charts"] == [
        "dap-per-acquisition-protocol", "dap-per-study-description", "study-frequency",
        "dap-per-requested-procedure", "requested-procedure-frequency",
    ]  # fmt: skip
    assert panel_state(client, "rf")["charts"] == ["dap-per-study-description"]
    assert panel_state(client, "mg")["charts"] == ["agd-vs-thickness"]
    page = client.get("/chart-options", base_url=BASE_URL).get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'value="dlp-per-acquisition-protocol" checked' in page


def test_the_user_saves_own_options_and_the_chart_api_uses_them(settings, sessions):  # type: ignore[no-untyped-def]
    with sessions() as session:
        persistence.store_report(session, study(1, "Head", [100.0, 300.0, 200.0, 400.0], protocol="Even"), "o-1")
    client = named_client(settings, sessions, "physicist", (users.VIEW,))
    chosen = form(average="both", bins="7", direction="asc", ct_charts=["workload", "dlp-over-time"],
                  ct_period="year", ct_sort="name", histogram="no")  # fmt: skip
    reply = client.post("/chart-options", data=chosen, base_url=BASE_URL)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    state = panel_state(client, "ct")
    assert state["plot_charts"] is True and state["charts"] == ["workload", "dlp-over-time"]  # catalogue order
    assert state["options"] | {} == {**state["options"], "average": "both", "bins": "7", "direction": "asc",
                                     "histogram": "no", "period": "year", "sort": "name"}  # fmt: skip
    document = client.get("/api/charts/ct/dlp-per-acquisition-protocol", base_url=BASE_URL).get_json()
    (item,) = document["data"]
    assert (item["n"], item["mean"], item["median"]) == (4, 250.0, 250.0)  # median of 100..400 with "both"
    assert "histogram" not in item
    over_time = client.get("/api/charts/ct/dlp-over-time", base_url=BASE_URL).get_json()
    assert over_time["period"] == "year"
    # A query parameter still wins for one request.
    document = client.get("/api/charts/ct/dlp-per-acquisition-protocol?average=mean&histogram=yes&bins=2",
                          base_url=BASE_URL).get_json()  # fmt: skip
    assert document["data"][0]["median"] is None and document["data"][0]["histogram"]["counts"] == [2, 2]
    # Another user is not affected.
    other = client_with_groups(settings, sessions, [users.VIEW])
    assert panel_state(other, "ct")["options"]["average"] == "mean"


def test_a_bad_value_is_refused_and_nothing_is_stored(settings, sessions):  # type: ignore[no-untyped-def]
    client = named_client(settings, sessions, "careful", (users.VIEW,))
    for bad, message in (({"bins": "41"}, "bins must be between 2 and 40"),
                         ({"average": "mode"}, "average must be one of"),
                         ({"ct_charts": ["no-such-chart"]}, "CT has no chart")):  # fmt: skip
        reply = client.post("/chart-options", data=form(**bad), base_url=BASE_URL)
        assert reply.status_code == 400 and message in reply.get_data(as_text=True)
    with sessions() as session:
        assert session.scalars(select(UserChartOptions)).all() == []


def test_the_chart_panel_saves_its_modality_and_switching_off(settings, sessions):  # type: ignore[no-untyped-def]
    client = named_client(settings, sessions, "radiographer", (users.VIEW,))
    panel = {"chart": ["kvp-per-acquisition-protocol", "workload"], "plot_charts": "yes", "average": "median",
             "sort": "value", "direction": "desc", "series_per_system": "no", "case_insensitive": "yes",
             "histogram": "no", "bins": "12", "normalise": "no", "period": "week"}  # fmt: skip
    reply = client.post("/api/chart-options/dx", data=panel, base_url=BASE_URL)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    dx = panel_state(client, "dx")
    assert dx["plot_charts"] is True and dx["charts"] == ["kvp-per-acquisition-protocol", "workload"]
    assert (dx["options"]["sort"], dx["options"]["period"], dx["options"]["bins"]) == ("value", "week", "12")
    ct = panel_state(client, "ct")  # general options are shared, sorting and period are per modality
    assert (ct["options"]["average"], ct["options"]["case_insensitive"], ct["options"]["sort"]) == (
        "median", "yes", "frequency")  # fmt: skip
    assert client.post("/api/chart-options/dx", data={"chart": ""}, base_url=BASE_URL).status_code == 200
    assert panel_state(client, "dx")["charts"] == []
    page = client.get("/ct/", base_url=BASE_URL).get_data(as_text=True)
    assert 'class="chart-panel" id="chart-panel"' in page and "open>" in page  # plot charts is on
    reply = client.post("/chart-options/off", data={"next": "/ct/"}, base_url=BASE_URL)
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/ct/")
    assert panel_state(client, "ct")["plot_charts"] is False
    assert panel_state(client, "dx")["options"]["sort"] == "value"  # the rest is kept


def test_an_admin_sets_another_users_options_and_others_may_not(settings, sessions):  # type: ignore[no-untyped-def]
    viewer = named_client(settings, sessions, "viewer", (users.VIEW,))
    admin = named_client(settings, sessions, "boss", (users.ADMIN,))
    target = user_id(sessions, "viewer")
    users_page = admin.get("/users", base_url=BASE_URL).get_data(as_text=True)
    assert f"/users/{target}/chart-options" in users_page
    assert admin.get(f"/users/{target}/chart-options", base_url=BASE_URL).status_code == 200
    reply = admin.post(f"/users/{target}/chart-options", data=form(average="median", rf_sort="name"),
                       base_url=BASE_URL)  # fmt: skip
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert panel_state(viewer, "rf")["options"]["average"] == "median"
    assert panel_state(viewer, "rf")["options"]["sort"] == "name"
    assert viewer.get(f"/users/{target}/chart-options", base_url=BASE_URL).status_code == 403
    boss = user_id(sessions, "boss")
    assert viewer.post(f"/users/{boss}/chart-options", data=form(), base_url=BASE_URL).status_code == 403
    assert admin.get("/users/999999/chart-options", base_url=BASE_URL).status_code == 404
    assert admin.get("/chart-options", base_url=BASE_URL).status_code == 403  # own options need view


def test_the_form_needs_its_csrf_token_and_options_go_with_the_user(settings, sessions):  # type: ignore[no-untyped-def]
    client = named_client(settings, sessions, "leaving", (users.VIEW,))
    client.environ_base.pop("HTTP_X_CSRF_TOKEN")
    assert client.post("/chart-options", data=form(), base_url=BASE_URL).status_code == 403
    assert client.post("/api/chart-options/ct", data={"plot_charts": "yes"}, base_url=BASE_URL).status_code == 403
    with sessions() as session:
        assert session.scalars(select(UserChartOptions)).all() == []
    admin = client_with_groups(settings, sessions, [users.ADMIN])
    assert admin.post(f"/users/{user_id(sessions, 'leaving')}/chart-options", data=form(),
                      base_url=BASE_URL).status_code == 302  # fmt: skip
    with sessions() as session:
        users.remove_user(session, "leaving")
        session.commit()
        assert session.scalars(select(UserChartOptions)).all() == []
        assert session.scalars(select(UserModalityChartOptions)).all() == []
