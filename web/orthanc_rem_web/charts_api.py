"""Chart data as JSON: ``GET /api/charts/<modality>/<chart>`` with the list filters (the names of
``/api/studies``) and the chart options as query parameters (absent ones: the user's stored
chart options, ``charts.user_options``). The pages draw their plots from the
same endpoint; dashboards and scripts can use it too. Chart names: README, "Charts".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request, url_for

from orthanc_rem import charts
from orthanc_rem.study_filters import MODALITIES, parse_study_filter
from orthanc_rem_web import chart_options_pages, permissions
from orthanc_rem_web.db import dose_session

blueprint = Blueprint("charts_api", __name__)
#: The list page each modality's drill-down links lead to.
_LIST_PAGES = {"CT": "pages.ct_list", "RF": "pages.rf_list", "DX": "pages.dx_list", "MG": "pages.mg_list"}


@blueprint.get("/charts/<modality>/")
@permissions.require(permissions.VIEW)
def chart_names(modality: str) -> dict[str, Any]:
    """The charts of one modality: name, title, kind, unit and whether the manual shows it by default."""
    chosen = _modality(modality)
    defaults = charts.DEFAULT_CHARTS[chosen]
    return {
        "modality": chosen,
        "charts": [{"chart": c.name, "title": c.title, "kind": c.kind, "unit": c.unit, "default": c.name in defaults}
                   for c in charts.charts_of(chosen)],
    }  # fmt: skip


@blueprint.get("/charts/<modality>/<name>")
@permissions.require(permissions.VIEW)
def chart(modality: str, name: str) -> dict[str, Any]:
    chosen = _modality(modality)
    found = charts.chart(chosen, name)
    if found is None:
        names = ", ".join(c.name for c in charts.charts_of(chosen))
        abort(404, description=f"{chosen} has no chart {name!r}; its charts are: {names}.")
    args = request.args.to_dict()
    study_filter = parse_study_filter(args, for_modality=chosen, may_see_patient_data=permissions.may(permissions.PID))
    # The user's stored chart options are the defaults; a query parameter wins for this request.
    stored = chart_options_pages.my_options().options(chosen)
    document = charts.chart_data(dose_session(), found, study_filter, charts.parse_chart_options(args, stored))
    for item in document["data"]:
        if "filter" in item:
            item["url"] = _list_url(chosen, item["filter"])
        if "histogram" in item:
            item["histogram"]["urls"] = [_list_url(chosen, f) for f in item["histogram"]["filters"]]
    return document


def _modality(text: str) -> str:
    if text.upper() not in MODALITIES:
        abort(404, description=f"There are charts for {', '.join(m.lower() for m in MODALITIES)}, not {text[:40]!r}.")
    return text.upper()


def _list_url(modality: str, parameters: dict[str, str] | None) -> str | None:
    """The list page showing the studies behind a bar, slice or bin (the list's own URL names the modality)."""
    if parameters is None:
        return None
    values: dict[str, Any] = {key: value for key, value in parameters.items() if key != "modality"}
    return url_for(_LIST_PAGES[modality], **values)
