"""Chart options per user (manual 6.3): the chart options page (own options, ``view``), the same
form for any user from the users page (``admin``), "Switch charts off", and what the list pages'
chart panel reads and saves (``/api/chart-options``). The options live in the database
(``orthanc_rem.charts.user_options``); the chart API uses them as its defaults.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from sqlalchemy import select

from orthanc_rem import charts
from orthanc_rem.charts import options as chart_options
from orthanc_rem.charts import user_options
from orthanc_rem.model import DoseBrowserUser
from orthanc_rem.request_parameters import MODALITIES, BadParameter, yes_or_no
from orthanc_rem_web import db, permissions
from orthanc_rem_web.auth import current_user, safe_next
from orthanc_rem_web.db import dose_session

blueprint = Blueprint("chart_options", __name__)
#: The manual's option panels: sorting for CT, radiography and fluoroscopy; a time period for CT and radiography.
SORTED = ("CT", "DX", "RF")
OVER_TIME = ("CT", "DX")
MODALITY_TITLES = {"CT": "CT", "DX": "Radiography", "RF": "Fluoroscopy", "MG": "Mammography"}


def register(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.add_template_global(chart_panel_state)


def my_options() -> user_options.UserChartOptions:
    """The request's user's stored options (the defaults for nobody or a new user)."""
    user = current_user()
    return user_options.UserChartOptions() if user is None else user_options.load_by_name(dose_session(), user.name)


def chart_panel_state(modality: str) -> dict[str, Any]:
    """What the chart panel starts from (``templates/chart_panel.html``): charts on or off, the
    charts shown and the options, under the API's parameter names."""
    chosen = my_options()
    options = chosen.options(modality)
    return {
        "plot_charts": chosen.plot_charts,
        "charts": list(chosen.charts(modality)),
        "options": {
            "average": options.average, "sort": options.sort, "direction": "desc" if options.descending else "asc",
            "series_per_system": _yes(options.series_per_system), "case_insensitive": _yes(options.case_insensitive),
            "histogram": _yes(options.histogram), "bins": str(options.bins), "normalise": _yes(options.normalise),
            "period": options.period,
        },
    }  # fmt: skip


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _user_row(accounts: Any, user_id: int) -> DoseBrowserUser:
    row = accounts.get(DoseBrowserUser, user_id)
    if row is None:
        abort(404, description=f"There is no user with id {user_id}.")
    return row


def _form_page(user_id: int, user_name: str, chosen: user_options.UserChartOptions, action: str,
               error: str | None = None, status: int = 200) -> Any:  # fmt: skip
    page = render_template(
        "chart_options.html", user_name=user_name, own=action == url_for("chart_options.own_options"),
        chosen=chosen, action=action, error=error, messages=get_flashed_messages(),
        modalities=MODALITIES, titles=MODALITY_TITLES, catalogue={m: charts.charts_of(m) for m in MODALITIES},
        sorted_modalities=SORTED, over_time=OVER_TIME, averages=chart_options.AVERAGES, sorts=chart_options.SORTS,
        periods=chart_options.PERIODS, bins=chart_options.BINS,
    )  # fmt: skip
    return page, status


def _save_form(user_id: int, user_name: str, action: str) -> Any:
    chosen_charts = {m: request.form.getlist(m.lower() + "_charts") for m in MODALITIES}
    try:
        chosen = user_options.parse_form(request.form, chosen_charts)
    except BadParameter as exc:
        stored = user_options.load(dose_session(), user_id)
        return _form_page(user_id, user_name, stored, action, str(exc), 400)
    with db.writer_session() as accounts:
        user_options.save(accounts, user_id, chosen)
    flash(f"Chart options of {user_name} saved.")
    return redirect(action)


def _me() -> tuple[int, str]:
    user = current_user()
    assert user is not None
    user_id = dose_session().scalar(_id_of(user.name))
    if user_id is None:
        abort(404, description="Your user is no longer stored.")
    return int(user_id), user.name


def _id_of(name: str) -> Any:
    return select(DoseBrowserUser.id).where(DoseBrowserUser.name == name)


@blueprint.get("/chart-options")
@permissions.require(permissions.VIEW)
def own_options() -> Any:
    user_id, name = _me()
    chosen = user_options.load(dose_session(), user_id)
    return _form_page(user_id, name, chosen, url_for("chart_options.own_options"))


@blueprint.post("/chart-options")
@permissions.require(permissions.VIEW)
def save_own_options() -> Any:
    user_id, name = _me()
    return _save_form(user_id, name, url_for("chart_options.own_options"))


@blueprint.post("/chart-options/off")
@permissions.require(permissions.VIEW)
def switch_charts_off() -> Any:
    """The manual's "Switch charts off" (menu of every page): back to the page it was clicked on."""
    user_id, _name = _me()
    with db.writer_session() as accounts:
        chosen = user_options.load(accounts, user_id)
        user_options.save(accounts, user_id, user_options.UserChartOptions(False, chosen.general, chosen.modalities))
    target = safe_next(request.form.get("next"))
    return redirect(request.script_root + target if target else url_for("pages.home"))


@blueprint.get("/users/<int:user_id>/chart-options")
@permissions.require(permissions.ADMIN)
def user_options_page(user_id: int) -> Any:
    accounts = dose_session()
    name = _user_row(accounts, user_id).name
    chosen = user_options.load(accounts, user_id)
    return _form_page(user_id, name, chosen, url_for("chart_options.user_options_page", user_id=user_id))


@blueprint.post("/users/<int:user_id>/chart-options")
@permissions.require(permissions.ADMIN)
def save_user_options(user_id: int) -> Any:
    name = _user_row(dose_session(), user_id).name
    return _save_form(user_id, name, url_for("chart_options.user_options_page", user_id=user_id))


@blueprint.get("/api/chart-options/<modality>")
@permissions.require(permissions.VIEW)
def panel_options(modality: str) -> dict[str, Any]:
    """The request's user's options for one modality's charts, as the chart panel starts from them."""
    return chart_panel_state(_modality(modality))


@blueprint.post("/api/chart-options/<modality>")
@permissions.require(permissions.VIEW)
def save_panel_options(modality: str) -> dict[str, Any]:
    """The chart panel's choices become the user's options (manual: CT and radiographic options
    "can also be set from their respective summary pages"): the options under the chart API's
    names, ``chart`` once per chart shown, ``plot_charts`` yes or no."""
    chosen_modality = _modality(modality)
    form = request.form.to_dict()
    user_id, _name = _me()
    with db.writer_session() as accounts:
        stored = user_options.load(accounts, user_id)
        options = charts.parse_chart_options(form, stored.options(chosen_modality))
        plot = yes_or_no(form, "plot_charts", stored.plot_charts)
        # ``chart`` once per chart shown; sent empty when none is.
        names = request.form.getlist("chart") if "chart" in request.form else list(stored.charts(chosen_modality))
        names = [name for name in names if name]
        updated = stored.with_modality(chosen_modality, options, tuple(names), plot)
        user_options.save(accounts, user_id, updated)
    return chart_panel_state(chosen_modality)


def _modality(text: str) -> str:
    if text.upper() not in MODALITIES:
        abort(404, description=f"There are charts for {', '.join(m.lower() for m in MODALITIES)}, not {text[:40]!r}.")
    return text.upper()
